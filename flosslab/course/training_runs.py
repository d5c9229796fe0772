"""Training on several seeds at once (notebooks 05, 06 and 08): sizes, configurations, the runs,
their cache and how they spread over seeds."""
from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from ..core.settings import fast_or_full
from ..core.tasks import task_lags
from ..core.trainconfig import TrainConfig
from ..core.validate import check_choice
from ..paper.stats import quartiles
from . import cache as disk_cache

# --- sizes -----------------------------------------------------------------------------------------


#: Sizes of one training click on the torch engine. "small" trains in a few seconds (3 seeds at once,
#: as one ensemble); "larger" is closer to the reproduction's budget (5 seeds, N = 64; tens of
#: seconds). Sequences hold the longest lag plus ``seq_extra`` scored steps.
TRAIN_SIZES = {
    "small": {"n_units": 32, "n_epochs": fast_or_full(100, 250), "n_seeds": 3, "seq_extra": 20,
              "lr": 0.01, "n_exponents": 24, "floss_steps": 60, "floss_lr": 0.01,
              "eval_every": 25, "eval_batch": 128},
    "larger": {"n_units": 64, "n_epochs": fast_or_full(200, 500), "n_seeds": 5, "seq_extra": 50,
               "lr": 3e-3, "n_exponents": 48, "floss_steps": 100, "floss_lr": 0.01,
               "eval_every": 50, "eval_batch": 256},
}


# --- computations ----------------------------------------------------------------------------------


def training_configs(task: str, delay: int, schedule: str, n_exponents: int | None = None,
                     size: str = "small", order: int | None = None, seeds=None) -> list:
    """The :class:`TrainConfig` of each seed of one click (``seeds`` default 0..n_seeds-1)."""
    check_choice("the size", size, tuple(TRAIN_SIZES))
    s = TRAIN_SIZES[size]
    seeds = range(s["n_seeds"]) if seeds is None else seeds
    longest = task_lags(task, delay, order)[-1]
    return [TrainConfig(task=task, delay=delay, order=order if task == "parity" else None,
                        n_units=s["n_units"], n_epochs=s["n_epochs"],
                        seq_len=longest + s["seq_extra"], lr=s["lr"], flossing=schedule,
                        n_exponents=s["n_exponents"] if n_exponents is None else n_exponents,
                        floss_steps=s["floss_steps"], floss_lr=s["floss_lr"],
                        eval_every=s["eval_every"], eval_batch=s["eval_batch"], seed=int(seed))
            for seed in seeds]


class SeedRuns(NamedTuple):
    """One schedule trained on several seeds (arrays have one row per seed)."""
    schedule: str
    seeds: tuple
    eval_epochs: np.ndarray     # (n_eval,)
    accuracy: np.ndarray        # (E, n_eval) on fresh sequences
    loss: np.ndarray            # (E, n_epochs) task loss per epoch
    lam1: np.ndarray            # (E, n_eval) largest exponent at each evaluation
    lamk: np.ndarray            # (E, n_eval) k-th exponent
    grad_rank: np.ndarray       # (E, n_eval) effective rank of dL/dW
    floss_start: np.ndarray     # (E,) flossing loss at the first and last step of the first
    floss_end: np.ndarray       #      episode (NaN without episodes)
    seconds: float              # wall time of the ensemble this schedule was trained in

    @property
    def final(self) -> np.ndarray:
        """Final accuracy of each seed."""
        return self.accuracy[:, -1]


#: Finished training runs by their settings, so that a click on settings trained before shows them
#: at once (a :class:`flosslab.course.cache.Store`: bounded, locked; ``RUNS.clear()`` forgets them).
#: Each run is also kept in the course's disk cache under the same key (its code version and the
#: mode are part of the disk key), so that it survives the kernel.
RUNS = disk_cache.Store("training runs", max_items=256)


def kept_run(key):
    """The run kept under ``key`` (in memory, else in the disk cache), or None."""
    run = RUNS.get(key)
    if run is None:
        run = disk_cache.recall(("training_runs", key))
        if run is not None:
            RUNS.put(key, run)
    return run


def keep_run(key, run):
    """Keep ``run`` under ``key`` in memory (:data:`RUNS`) and in the disk cache; returns it."""
    RUNS.put(key, run)
    disk_cache.remember(("training_runs", key), run)
    return run


def _seed_runs(schedule, configs, histories, seconds) -> SeedRuns:
    def episode(h, i):
        return h.floss_losses[0][i] if h.floss_losses and len(h.floss_losses[0]) else np.nan
    spectra = [np.asarray(h.spectra) for h in histories]
    return SeedRuns(schedule, tuple(c.seed for c in configs), np.asarray(histories[0].eval_epochs),
                    np.asarray([h.accuracy for h in histories]),
                    np.asarray([h.loss for h in histories]),
                    np.asarray([s[:, 0] for s in spectra]), np.asarray([s[:, -1] for s in spectra]),
                    np.asarray([h.grad_rank for h in histories]),
                    np.asarray([episode(h, 0) for h in histories]),
                    np.asarray([episode(h, -1) for h in histories]), seconds)


def train_seeds(task: str = "copy", delay: int = 20, schedules=("none", "pre"),
                n_exponents: int | None = None, size: str = "small", order: int | None = None,
                seeds=None, progress=False) -> dict:
    """Train every schedule on every seed as ONE ensemble on the torch engine; {schedule:
    :class:`SeedRuns`}. Each member follows exactly its lone run, so results are cached per
    schedule: only schedules not trained before with the same settings are trained."""
    from ..engine.training import train_members
    schedules = (schedules,) if isinstance(schedules, str) else tuple(schedules)
    per = {s: training_configs(task, delay, s, n_exponents, size, order, seeds) for s in schedules}
    def key(s):
        return (task, delay, order if task == "parity" else None, s,
                         per[s][0].n_exponents, size, tuple(c.seed for c in per[s]))
    runs = {s: kept_run(key(s)) for s in schedules}
    todo = [s for s in schedules if runs[s] is None]
    if todo:
        configs = [c for s in todo for c in per[s]]
        start = time.perf_counter()
        _, histories = train_members(configs, progress=progress)
        seconds = time.perf_counter() - start
        for j, s in enumerate(todo):
            e = len(per[s])
            runs[s] = keep_run(key(s), _seed_runs(s, per[s], histories[j * e:(j + 1) * e],
                                                  seconds))
    return runs


def seed_spread(values) -> tuple:
    """(median, 25th percentile, 75th percentile) over seeds
    (:func:`flosslab.paper.stats.quartiles`)."""
    q = quartiles(values)
    return q["median"], q["q25"], q["q75"]


def describe_spread(values, spread: str = "quartiles", digits: int = 2, every: bool = True) -> str:
    """The course's one way to print a spread over seeds, its meaning in its label:
    "median 0.98, quartiles 0.97-0.99 (3 seeds: 0.97, 0.98, 0.99)", or with ``spread="range"``
    "median 0.98, range 0.97-0.99 (3 seeds: ...)"."""
    values = np.asarray(values, dtype=float)
    if spread == "quartiles":
        med, lo, hi = seed_spread(values)
    elif spread == "range":
        med, lo, hi = float(np.median(values)), float(values.min()), float(values.max())
    else:
        raise ValueError(f"spread is 'quartiles' or 'range', got {spread!r}")
    def f(v):
        return f"{v:.{digits}g}" if digits > 2 else f"{v:.{digits}f}"
    text = f"median {f(med)}, {spread} {f(lo)} to {f(hi)}"
    if not every:
        return text
    return f"{text} ({values.size} seeds: " + ", ".join(f(v) for v in values) + ")"
