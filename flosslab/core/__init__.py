"""The backend-free core: what the numpy reference and the torch engine share (numpy only).

errors (exceptions and shared messages), settings (fast mode, threads), validate (argument checks),
conventions (random network, frame, state, bits; transient; windows), records (histories),
measures (effective rank, condition number), schedule (when to take a QR), tasks (delayed copy, XOR,
parity), trainconfig (training configuration and flossing schedules), style (the look of every
figure).
"""

__version__ = "0.2.0"
