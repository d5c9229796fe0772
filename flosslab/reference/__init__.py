"""The numpy + autograd reference: the method written to be read, every step in plain numpy.

model (the tanh RNN, its stable slope and Jacobian action), qr (reduced QR as an autograd primitive
with its derivative), lyapunov (spectra by repeated QR, the sum rule), diagnostics (gradient norms
through time, singular values and condition number of the long-term Jacobian), flossing (the
flossing loss and loop), training (BPTT with flossing schedules). The torch engine,
:mod:`flosslab.engine`, mirrors these modules name for name.
"""
