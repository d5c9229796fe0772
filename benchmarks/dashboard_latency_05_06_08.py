"""Update times of the dashboards of notebooks 05, 06 and 08 (full mode unless FLOSSLAB_FAST=1).

    python benchmarks/dashboard_latency_05_06_08.py [--quick]

Each dashboard is built as in its notebook (its precomputation timed separately), then every control
is moved over its range, one value at a time; ``dash.seconds`` records each update (compute +
artists + PNG render; synchronous, as outside a live kernel). Targets: median <= 1 s, max <= 2 s.
The training buttons (notebook 05) are timed per click, next to one lone run of the old path (the
numpy/autograd reference, N = 32, 400 epochs, one seed) on the same machine, for a relative
comparison. Not a test: timings depend on the machine and its load.
"""
import statistics
import sys
import time

import numpy as np

from flosslab.core.settings import set_threads
from flosslab.course import dashboards, demos


def sweep(dash, moves):
    """Apply every (control, value) in turn; return the update times (seconds)."""
    before = len(dash.seconds)
    for name, value in moves:
        dash.controls[name].value = value
        dash.wait()
    return dash.seconds[before:]


def report(name, seconds, built=None):
    med, top = statistics.median(seconds), max(seconds)
    flag = "" if med <= 1.0 and top <= 2.0 else "  <-- over target"
    extra = f", built in {built:.1f} s" if built is not None else ""
    print(f"{name:<26} {len(seconds):3} updates: median {med:.3f} s, max {top:.3f} s{extra}{flag}",
          flush=True)


def timed(build):
    start = time.perf_counter()
    dash = build()
    return dash, time.perf_counter() - start


def main(quick: bool = False):
    set_threads(1)
    dash, built = timed(dashboards.task_dashboard)
    moves = [("t_selected", t) for t in range(24)] + [("task", "parity")] + \
        [("delay", d) for d in range(3, 23)] + [("order", p) for p in range(1, 7)] + \
        [("task", "copy"), ("task", "xor")]
    report("05 task", sweep(dash, moves), built)

    dash, built = timed(dashboards.delay_gradient_dashboard)
    moves = [("delay", d) for d in range(1, 80, 3)] + [("n_exponents", k) for k in (1, 8, 24)]
    report("05 delay gradient", sweep(dash, moves), built)

    dash, built = timed(dashboards.condition_dashboard)
    moves = [("gain", round(g, 1)) for g in np.arange(0.5, 2.01, 0.1)] + \
        [("n_exponents", k) for k in range(2, 33, 1 if not quick else 5)]
    report("06 condition number", sweep(dash, moves), built)

    start = time.perf_counter()
    checkpoints = demos.flossing_checkpoints_seeds(demos.CHECKPOINT_KS, **demos.checkpoint_sizes())
    built = time.perf_counter() - start
    dash = dashboards.why_dashboard(checkpoints=checkpoints)
    n = len(checkpoints[16].steps)
    moves = [(name, v) for k in demos.CHECKPOINT_KS for name, v in
             [("n_exponents", k)] + [("checkpoint", i) for i in range(n)]]
    report("06 flossing checkpoints", sweep(dash, moves), built)

    start = time.perf_counter()
    runs = demos.schedule_comparison()
    built = time.perf_counter() - start
    dash = dashboards.schedules_dashboard(runs)
    moves = [("shown", s) for s in (("none",), ("none", "pre"), ("pre", "inter"),
                                    ("none", "pre", "inter", "penalty"))] + \
        [("seeds", False), ("seeds", True)]
    report("06 schedules", sweep(dash, moves), built)

    dash, built = timed(dashboards.paper_delay_dashboard)
    moves = [("delay", d) for d in (12, 16, 20, 24, 28, 32, 40, 48)] + [("task", "copy")] + \
        [("delay", d) for d in (10, 20, 30, 40, 50, 60)] + [("shown", ("none", "pre"))]
    report("08 accuracy vs delay", sweep(dash, moves), built)

    dash, built = timed(dashboards.horizon_dashboard)
    moves = [("level", round(v, 2)) for v in np.arange(0.6, 0.991, 0.03)] + \
        [("coverage", round(v, 2)) for v in np.arange(0.5, 0.951, 0.05)]
    report("08 horizons", sweep(dash, moves), built)

    dash, built = timed(dashboards.live_condition_dashboard)
    moves = [(name, v) for k in demos.LIVE_CONDITION_KS for name, v in
             [("n_exponents", k)] + [("floss_steps", s) for s in demos.LIVE_CONDITION_STEPS]]
    report("08 live condition", sweep(dash, moves), built)

    if quick:
        return
    # training clicks: several seeds as one ensemble on the engine
    train = dashboards.training_dashboard(background=False)
    for values in ({"schedule": "none"}, {"schedule": "pre"}, {"schedule": "inter"},
                   {"schedule": "penalty"}, {"task": "xor", "delay": 16, "schedule": "pre"},
                   {"task": "parity", "delay": 9, "schedule": "pre"}):
        train.set(**values).run()
        print(f"05 training click {str(values):<50} {train.seconds[-1]:5.1f} s "
              f"({demos.TRAIN_SIZES['small']['n_seeds']} seeds)", flush=True)
    # the old path, for comparison: one seed on the numpy/autograd reference
    import flosslab as fl
    config = fl.TrainConfig(task="copy", delay=25, n_units=32, n_epochs=400, flossing="pre",
                            n_exponents=8, floss_steps=80, floss_lr=0.01, eval_every=33,
                            eval_batch=128)
    start = time.perf_counter()
    fl.train(config)
    print(f"old path (reference, 1 seed, N = 32, 400 epochs, preflossing): "
          f"{time.perf_counter() - start:5.1f} s", flush=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
