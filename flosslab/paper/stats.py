"""Summaries over seeds: quartiles, the trainable horizon and its bootstrap interval.

The *horizon* of a schedule at level 0.9 is the longest delay whose median accuracy over seeds
reaches 0.9 (None if no delay does). Its uncertainty comes from the seeds: resampling the seeds of
every delay with replacement (a nonparametric bootstrap over seeds) and recomputing the horizon
gives its sampling distribution, from which a central interval is read.
"""
from __future__ import annotations

import numpy as onp


def quartiles(values) -> dict:
    """Median, quartiles and every value (for tables and figures)."""
    values = [float(v) for v in values]
    q25, q50, q75 = onp.percentile(values, [25, 50, 75])
    return {"median": float(q50), "q25": float(q25), "q75": float(q75), "all": values}


def horizon(summary: dict, level: float = 0.9):
    """Longest delay whose median accuracy reaches ``level``; ``summary`` maps delay (int or str)
    to a dict with a ``"median"`` (as :func:`quartiles` returns). None if no delay does."""
    ok = [int(d) for d, q in summary.items() if q["median"] >= level]
    return max(ok) if ok else None


def bootstrap_draws(sizes, n_boot: int, seed: int = 0) -> list:
    """Indices of ``n_boot`` resamples with replacement of each group, one (n_boot, size) array per
    group of ``sizes`` in order, all from one generator seeded with ``seed``."""
    rng = onp.random.default_rng(seed)
    return [rng.integers(0, n, size=(n_boot, n)) for n in sizes]


def describe_horizon(h: dict, lowest_delay: int, level: float = 0.9) -> str:
    """A :func:`bootstrap_horizon` result in words, never "None": "24 [20, 28]", "below 32 [below
    32, 40]", or "below 32 (no swept delay reaches 0.9)" (``lowest_delay``: the smallest delay
    swept)."""
    if h["horizon"] is None and h["high"] is None:
        return f"below {lowest_delay} (no swept delay reaches {level:g})"
    fmt = lambda x: f"below {lowest_delay}" if x is None else str(x)          # noqa: E731
    return f"{fmt(h['horizon'])} [{fmt(h['low'])}, {fmt(h['high'])}]"


def bootstrap_horizon(accuracy_by_delay: dict, level: float = 0.9, n_boot: int = 2000,
                      coverage: float = 0.9, seed: int = 0) -> dict:
    """The horizon and a ``coverage`` bootstrap interval over seeds.

    ``accuracy_by_delay`` maps each delay to the final accuracies of its seeds. Returns
    ``{"horizon", "low", "high", "coverage", "n_seeds", "below_range"}``, where ``low``/``high`` are
    None when that end of the interval lies below the smallest delay swept (no delay reached
    ``level`` in that share of the resamples) and ``below_range`` is the share of resamples in which
    no delay reached ``level``.
    """
    delays = sorted(int(d) for d in accuracy_by_delay)
    values = [onp.asarray(accuracy_by_delay[d] if d in accuracy_by_delay
                          else accuracy_by_delay[str(d)], dtype=float) for d in delays]
    point = horizon({d: {"median": float(onp.median(v))} for d, v in zip(delays, values)}, level)
    # -1 stands for "no delay reached the level" (below the swept range)
    boot = onp.full(n_boot, -1)
    draws = bootstrap_draws([len(v) for v in values], n_boot, seed)
    medians = onp.stack([onp.median(v[i], axis=1)
                         for v, i in zip(values, draws)])         # (n_delays, n_boot)
    reached = medians >= level
    for j, d in enumerate(delays):
        boot[reached[j]] = d                 # delays ascend: the last one reached wins
    tail = (1.0 - coverage) / 2
    low, high = onp.quantile(boot, [tail, 1.0 - tail], method="inverted_cdf")
    def as_delay(x):
        return None if x < 0 else int(x)
    return {"horizon": point, "low": as_delay(low), "high": as_delay(high), "coverage": coverage,
            "n_seeds": min(len(v) for v in values), "below_range": float(onp.mean(boot < 0))}
