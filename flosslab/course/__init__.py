"""What the course notebooks import: one module per notebook (``lessonNN_*``: its sizes,
computations, figures, dashboards and checkers, in that order) and the few modules several lessons
share: setup (the first cell), checking (checker machinery), dashboard_machinery (the one
``Dashboard``: widgets, worker thread, run button), cache (the disk cache and the one in-memory
store), display (plot and label helpers), loss_curves (is a noisy loss still falling) and
training_runs (training on several seeds, kept); warm and editions serve the command line. A lesson
imports shared modules only, never another lesson, and only the public names (``__all__``) of the
engine and the reference. torch and the engine are imported inside the functions that use them, so
that a notebook without them starts without loading torch.
"""
