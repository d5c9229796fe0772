"""What the course notebooks import: one module per notebook (``lessonNN_*``: its sizes,
computations, figures, dashboards and checkers, in that order) and the few modules several lessons
share: setup (the first cell), checking (checker machinery), dashboard_machinery (widgets, worker
thread, run button), display (plot and label helpers), loss_curves (is a noisy loss still falling)
and training_runs (training on several seeds, cached). A lesson imports shared modules only, never
another lesson. torch and the engine are imported inside the functions that use them, so that a
notebook without them starts without loading torch.
"""
