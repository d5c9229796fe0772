"""What the course notebooks import: one module per notebook (``lessonNN_*``: its sizes,
computations, figures, dashboards and checkers) and the few modules several lessons share: setup
(the first cell), checking (checker machinery), dashboard_machinery (widgets, worker thread),
display (plotting and label helpers) and training_runs (training on several seeds, cached).
A lesson module imports shared modules only, never another lesson.
"""
