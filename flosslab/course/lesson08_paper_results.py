"""Notebook 08 (the paper's results): its sizes, computations, figures, dashboards and checkers, in
that order."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import ipywidgets as W
import numpy as np

from ..core.conventions import random_bits
from ..core.errors import FlosslabError
from ..core.settings import fast_or_full
from ..core.style import AFTER, BEFORE, SCHEDULE_COLOURS, SCHEDULE_LABELS, SCHEDULE_MARKERS, new_figure
from ..core.trainconfig import flossed_k_label  # noqa: F401 (the notebook's row names)
from ..core.validate import check_choice, check_n_exponents, check_real
from ..paper import report, results
from ..paper.stats import (
    bootstrap_draws,
    bootstrap_horizon,
    describe_horizon,  # noqa: F401 (the notebook prints horizons in words)
)
from .checking import Answer, call, checker, close, run, to_array, to_tuple
from .dashboard_machinery import Dashboard, slider
from .display import rescale
from .training_runs import TRAIN_SIZES, describe_spread, keep_run, kept_run, seed_spread, training_configs

# --- sizes -----------------------------------------------------------------------------------------


#: Sizes of the live small-scale reruns next to the paper's results (notebook 08).
LIVE = {"delays": {"copy": (10, 20, 30), "xor": (8, 14, 20)},
        "seeds": fast_or_full((0, 1), (0, 1, 2)), "parity_order": 3, "parity_delay": 12,
        "parity_ks": (1, 4, 24),
        "condition_units": 32, "condition_window": 120}


#: Choices of the small live condition-number demo (notebook 08), all computed at once.
LIVE_CONDITION_KS = fast_or_full((8, 16), (8, 16, 32))


LIVE_CONDITION_STEPS = fast_or_full((20, 80), (20, 40, 80))


# --- computations ----------------------------------------------------------------------------------


def paper_summary(name: str = "default"):
    """(summary dict, None) from the shipped results (:func:`flosslab.paper.results.load`), or
    (None, the reason) when that summary is not shipped (yet)."""
    try:
        return results.load(name), None
    except FlosslabError as err:
        return None, str(err)


def shipped_accuracy(summary: dict, task: str) -> dict:
    """{schedule: (delays (n_d,), final accuracies (n_d, n_seeds))} of one task's delay sweep."""
    sweeps = summary["c_delay"]
    check_choice("the task", task, tuple(sweeps))
    out = {}
    for schedule, by_delay in sweeps[task]["accuracy"].items():
        delays = sorted(int(d) for d in by_delay)
        out[schedule] = (np.asarray(delays), np.asarray([by_delay[str(d)] for d in delays]))
    return out


def shipped_horizons(summary: dict, level: float = 0.9, coverage: float = 0.9,
                     n_boot: int = 2000) -> dict:
    """{(task, schedule): {"horizon", "low", "high", "below_range", "shipped", "shipped_interval",
    "delays"}}: the horizon at ``level`` with a ``coverage`` bootstrap interval over seeds
    (:func:`flosslab.paper.stats.bootstrap_horizon` on the per-seed accuracies), next to the shipped
    ``horizon_0.9`` and ``horizon_0.9_interval`` where the summary has them."""
    level = check_real("the accuracy level", level, minimum=0.5, maximum=1.0)
    coverage = check_real("the coverage", coverage, minimum=0.5, maximum=0.99)
    out = {}
    for task, sweep in summary["c_delay"].items():
        for schedule, by_delay in sweep["accuracy"].items():
            boot = bootstrap_horizon(by_delay, level, n_boot, coverage)
            boot["shipped"] = sweep.get("horizon_0.9", {}).get(schedule)
            boot["shipped_interval"] = sweep.get("horizon_0.9_interval", {}).get(schedule)
            boot["delays"] = sorted(int(d) for d in by_delay)
            out[task, schedule] = boot
    return out


def paper_runs_tables(delay: int = 70):
    """The author's budget, every run shipped (d = 70 and the ablations at d = 64 included), as
    three Markdown tables: the delay ``delay``, the horizons, the ablations."""
    from IPython.display import Markdown
    runs = report.shipped_accuracies()
    return (Markdown(report.delay_table(runs, delay)), Markdown(report.horizon_table(runs)),
            Markdown(report.ablation_table(runs, report.shipped_ablations(), 64)))


def author_table(delay: int = 70):
    """The author's own training (budget variant ``author``) against the budget itself at
    ``delay``, every schedule: seeds, median [90 % interval], seeds >= 0.9 and >= 0.8, Fisher's p
    (a Markdown table from the shipped runs, as ``docs/results.md`` prints it)."""
    from IPython.display import Markdown
    return Markdown(report.comparison_table(report.shipped_accuracies(),
                                            report.shipped_accuracies("author"), delay,
                                            "the author's own training"))


def horizon_ratio(horizons: dict, task: str, schedule: str):
    """The horizon of ``schedule`` over that of no flossing (None when either is None)."""
    a, b = horizons[task, schedule]["horizon"], horizons[task, "none"]["horizon"]
    return None if a is None or b is None else a / b


def live_delay_sweep(task: str = "copy", delays=None, schedules=("none", "pre"), seeds=None,
                     size: str = "small", progress=False) -> dict:
    """The small-scale version of the delay sweep: {schedule: (delays, accuracies (n_d, n_seeds))},
    every (delay, schedule, seed) trained together as one ensemble on the torch engine."""
    from ..engine.training import train_members
    delays = tuple(LIVE["delays"][task] if delays is None else delays)
    seeds = tuple(LIVE["seeds"] if seeds is None else seeds)
    key = ("sweep", task, delays, tuple(schedules), seeds, size)
    sweep = kept_run(key)
    if sweep is None:
        configs = [c for s in schedules for d in delays
                   for c in training_configs(task, d, s, size=size, seeds=seeds)]
        _, hist = train_members(configs, progress=progress)
        acc = np.asarray([h.final_accuracy for h in hist]).reshape(len(schedules), len(delays), -1)
        sweep = keep_run(key, {s: (np.asarray(delays), acc[i]) for i, s in enumerate(schedules)})
    return sweep


def live_parity_k(ks=None, order: int | None = None, delay: int | None = None, seeds=None,
                  size: str = "small", progress=False):
    """The small-scale version of accuracy against k on parity: (ks, {"none": (n_seeds,),
    k: (n_seeds,) final accuracies}), all members as one ensemble (preflossing)."""
    from ..engine.training import train_members
    ks = tuple(LIVE["parity_ks"] if ks is None else ks)
    order = LIVE["parity_order"] if order is None else order
    delay = LIVE["parity_delay"] if delay is None else delay
    seeds = tuple(LIVE["seeds"] if seeds is None else seeds)
    key = ("parity", ks, order, delay, seeds, size)
    by_k = kept_run(key)
    if by_k is None:
        runs = [("none", None)] + [("pre", k) for k in ks]
        configs = [c for s, k in runs for c in training_configs("parity", delay, s, k, size,
                                                                   order, seeds)]
        _, hist = train_members(configs, progress=progress)
        acc = np.asarray([h.final_accuracy for h in hist]).reshape(len(runs), -1)
        by_k = keep_run(key, {("none" if s == "none" else k): acc[i]
                              for i, (s, k) in enumerate(runs)})
    return ks, by_k


class ConditionCollapse(NamedTuple):
    times: np.ndarray
    before: np.ndarray          # log10 kappa(J_t), first k singular values
    after: np.ndarray
    n_units: int
    n_exponents: int
    floss_steps: int


@lru_cache(maxsize=4)
def live_condition_grid(ks: tuple = LIVE_CONDITION_KS, steps: tuple = LIVE_CONDITION_STEPS,
                        n_units: int | None = None, window: int | None = None,
                        seed: int = 0) -> dict:
    """The small-scale version of the condition-number collapse for every (k, flossing steps):
    {(k, steps): :class:`ConditionCollapse`}, log10 kappa(J_t) against t before and after flossing
    k of N exponents of one network (g = 1). All flossing runs as one ensemble on the torch engine
    (a member with fewer steps stops early and equals the shorter lone run)."""
    from .. import engine
    n = LIVE["condition_units"] if n_units is None else n_units
    window = LIVE["condition_window"] if window is None else window
    ks = tuple(check_n_exponents(k, n) for k in ks)
    members = [(k, s) for k in ks for s in steps]
    before = engine.init_rnn(n, 1.0, seed=seed)
    stacked = engine.init_ensemble(n, 1.0, seeds=[seed] * len(members))
    after, _ = engine.floss(stacked, [s for _, s in members], [k for k, _ in members], 0.0, 0.01,
                            seed=[seed] * len(members))
    bits = random_bits(40 + window, 1, [seed, 15])
    times = np.unique(np.linspace(1, window, 7).astype(int))

    def curve(params, k):
        return engine.condition_number_curve(params, bits, n_values=k, times=times, transient=40,
                                             n_passes=2, seed=seed)[1]

    first = {k: curve(before, k) for k in ks}
    return {(k, s): ConditionCollapse(times, first[k],
                                      curve({name: v[i] for name, v in after.items()}, k), n, k, s)
            for i, (k, s) in enumerate(members)}


# --- figures ---------------------------------------------------------------------------------------


def _seed_points(ax, x, values, colour, width: float, marker: str = "o"):
    """Each seed as a point, spread sideways by ``width`` so equal values stay visible."""
    values = np.asarray(values, dtype=float)
    offsets = np.linspace(-width, width, values.shape[-1]) if values.shape[-1] > 1 else [0.0]
    out = []
    for xi, row in zip(x, values):
        out += ax.plot(xi + np.asarray(offsets), row, marker, ms=4, alpha=0.55, color=colour,
                       mec="none")
    return out


def accuracy_vs_delay_panel(ax, by_schedule: dict, shown=None, highlight=None, points=True):
    """Median (line), quartiles (bar) and each seed (points) of the final accuracy against the
    delay, one colour per schedule. Returns the artists drawn."""
    out = []
    shown = list(by_schedule) if shown is None else [s for s in by_schedule if s in shown]
    for j, s in enumerate(shown):
        delays, acc = by_schedule[s]
        delays = np.asarray(delays, dtype=float)
        colour = SCHEDULE_COLOURS.get(s)
        q25, q50, q75 = np.percentile(np.asarray(acc, dtype=float), [25, 50, 75], axis=1)
        out += ax.plot(delays, q50, "-", marker=SCHEDULE_MARKERS.get(s, "o"), ms=7, lw=2.4,
                       color=colour, label=SCHEDULE_LABELS.get(s, s))
        step = np.min(np.diff(delays)) if delays.size > 1 else 1.0
        at = delays + (j - (len(shown) - 1) / 2) * 0.12 * step     # schedules side by side
        # quartiles as bars at the swept delays: a band between them would invent values
        out.append(ax.vlines(at, q25, q75, color=colour, lw=6, alpha=0.25))
        if points:
            out += _seed_points(ax, at, acc, colour, 0.04 * step, SCHEDULE_MARKERS.get(s, "o"))
    if highlight is not None:
        out.append(ax.axvline(highlight, color="k", ls=":", lw=1.2))
    out.append(ax.axhline(0.5, color="0.5", ls=":", lw=1))
    out.append(ax.axhline(0.9, color="0.5", ls="--", lw=0.8))
    swept = np.unique(np.concatenate([np.asarray(d, dtype=float) for d, _ in by_schedule.values()]))
    margin = 0.6 * (np.min(np.diff(swept)) if swept.size > 1 else 1.0)
    ax.set_xlim(swept[0] - margin, swept[-1] + margin)    # redrawn for another task or budget
    ax.set_ylim(0.4, 1.03)
    return out


def schedule_legend(fig, ax, old=None):
    """One legend for the figure, below its panels (never over the data), from ``ax``'s labelled
    lines; ``old`` (a previous legend) is removed first. Returns the legend (None without lines)."""
    if old is not None:
        old.remove()
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    return fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))


def delay_sweeps_figure(sweeps: dict, title: str = ""):
    """One panel per task: final accuracy against delay (see :func:`accuracy_vs_delay_panel`),
    one legend below the panels."""
    fig, axes = new_figure(ncols=len(sweeps), width=5.4 * len(sweeps), height=4.2)
    for ax, (task, by_schedule) in zip(axes, sweeps.items()):
        accuracy_vs_delay_panel(ax, by_schedule)
        n_seeds = np.asarray(next(iter(by_schedule.values()))[1]).shape[1]
        ax.set(xlabel="delay d (longest lag, steps)", ylabel="final accuracy",
               title=f"delayed {task}{title}, {n_seeds} seeds")
    legend = schedule_legend(fig, axes[0])
    return fig, {"axes": axes, "legend": legend}


def delay_explorer_figure(by_schedule: dict, task: str, shown, highlight: int, title: str = ""):
    """Left: accuracy against delay; right: every seed at the highlighted delay, per schedule."""
    fig, (ax, ax_d) = new_figure(ncols=2, width=10.5, height=4.2, width_ratios=(2.2, 1))
    art = {"axes": (ax, ax_d), "lines": [], "legend": None}
    update_delay_explorer(art, by_schedule, task, shown, highlight, title)
    return fig, art


def update_delay_explorer(art, by_schedule: dict, task: str, shown, highlight: int,
                          title: str = ""):
    ax, ax_d = art["axes"]
    for a in art["lines"]:
        a.remove()
    art["lines"] = accuracy_vs_delay_panel(ax, by_schedule, shown, highlight)
    ax.set(xlabel="delay d (longest lag, steps)", ylabel="final accuracy",
           title=f"delayed {task}{title}")
    art["legend"] = schedule_legend(ax.figure, ax, art.get("legend"))
    shown = [s for s in by_schedule if s in shown]
    for j, s in enumerate(shown):
        delays, acc = by_schedule[s]
        i = int(np.argmin(np.abs(np.asarray(delays) - highlight)))
        values = np.asarray(acc)[i]
        colour = SCHEDULE_COLOURS.get(s)
        art["lines"] += ax_d.plot(j + np.linspace(-0.15, 0.15, values.size), values,
                                  SCHEDULE_MARKERS.get(s, "o"), ms=8, color=colour, alpha=0.8)
        art["lines"] += ax_d.plot([j - 0.3, j + 0.3], [np.median(values)] * 2, "-", lw=3,
                                  color=colour)
    ax_d.set_xticks(range(len(shown)), [SCHEDULE_LABELS.get(s, s).replace(" + ", "\n+ ")
                                        for s in shown], fontsize="small")
    ax_d.set_xlim(-0.6, max(len(shown), 1) - 0.4)
    ax_d.set(ylim=(0.4, 1.03), ylabel="final accuracy", title=f"every seed at d = {highlight}")


def horizons_figure(horizons: dict, level: float, coverage: float, title: str = ""):
    """The trainable horizon of each task and schedule (point) with its bootstrap interval over
    seeds (bar); an interval reaching below the smallest delay swept ends in an arrow."""
    tasks = list(dict.fromkeys(t for t, _ in horizons))
    fig, axes = new_figure(ncols=len(tasks), width=5.2 * len(tasks), height=3.0)
    art = {"axes": axes, "lines": []}
    update_horizons(art, horizons, level, coverage, title)
    return fig, art


def update_horizons(art, horizons: dict, level: float, coverage: float, title: str = ""):
    for a in art["lines"]:
        a.remove()
    art["lines"] = []
    tasks = list(dict.fromkeys(t for t, _ in horizons))
    for j, ax in enumerate(art["axes"]):         # a budget may have swept fewer tasks
        ax.set_visible(j < len(tasks))
    for ax, task in zip(art["axes"], tasks):
        schedules = [s for t, s in horizons if t == task]
        delays = horizons[task, schedules[0]]["delays"]
        floor = delays[0] - 0.5 * (delays[1] - delays[0] if len(delays) > 1 else 1)
        for j, s in enumerate(schedules):
            h = horizons[task, s]
            colour = SCHEDULE_COLOURS.get(s)
            low = floor if h["low"] is None else h["low"]
            high = floor if h["high"] is None else h["high"]
            art["lines"] += ax.plot([low, high], [j, j], "-", lw=6, alpha=0.35, color=colour,
                                    solid_capstyle="butt")
            if h["low"] is None:
                art["lines"].append(ax.annotate("", xy=(floor - 0.4 * (delays[1] - delays[0]), j),
                                                xytext=(floor, j),
                                                arrowprops=dict(arrowstyle="->", color=colour)))
            point = floor if h["horizon"] is None else h["horizon"]
            art["lines"] += ax.plot([point], [j], "D" if h["horizon"] is not None else "x",
                                    ms=9, color=colour)
        labels = []
        for s in schedules:
            h = horizons[task, s]
            if h["horizon"] is None and h["high"] is None:
                text = f"below {delays[0]}"              # no resample reached the level
            else:
                text = f"{_end(h['horizon'], delays)} [{_end(h['low'], delays)}, " \
                       f"{_end(h['high'], delays)}]"
            labels.append(f"{SCHEDULE_LABELS.get(s, s)}\n{text}")
        ax.set_yticks(range(len(schedules)), labels, fontsize="small")
        ax.set_ylim(-0.6, len(schedules) - 0.4)
        ax.set_xticks(delays)
        ax.set_xlim(floor - 0.6 * (delays[1] - delays[0]), delays[-1] + 0.6 * (delays[-1] - delays[-2]))
        ax.grid(axis="x", alpha=0.3)
        ax.set(xlabel="delay d (steps)",
               title=f"{task}: horizon at {level:.2f}, {coverage:.0%} interval{title}")


def _end(x, delays):
    """A horizon or an interval's end: a delay, or "below" the shortest one swept."""
    return f"below {delays[0]}" if x is None else str(x)


def accuracy_vs_k_panel(ax, ks, by_k: dict, none, title: str = ""):
    """Final accuracy against the number k of flossed exponents (median, quartiles, each seed),
    with no flossing as a grey band (its quartiles) and line (its median)."""
    ks = np.asarray(ks, dtype=float)
    acc = np.asarray([by_k[k] for k in by_k], dtype=float)
    q25, q50, q75 = np.percentile(acc, [25, 50, 75], axis=1)
    colour = SCHEDULE_COLOURS["pre"]
    ax.plot(ks, q50, "o-", lw=2.4, color=colour, label="preflossing k exponents (median; bars: quartiles)")
    ax.vlines(ks, q25, q75, color=colour, lw=6, alpha=0.25)    # quartiles at the swept k only
    for k, row in zip(ks, acc):
        ax.plot(k * np.exp(np.linspace(-0.08, 0.08, row.size)), row, "o", ms=5, alpha=0.6,
                color=colour, mec="none")
    n25, n50, n75 = np.percentile(np.asarray(none, dtype=float), [25, 50, 75])
    ax.axhspan(n25, n75, color=SCHEDULE_COLOURS["none"], alpha=0.2, lw=0)
    ax.axhline(n50, color=SCHEDULE_COLOURS["none"], ls="--",
               label="no flossing (median; band: quartiles)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(int(k)) for k in ks])
    ax.minorticks_off()
    ax.set(xlabel="number of flossed exponents k", ylabel="final accuracy", ylim=(0.4, 1.03),
           title=title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)


def accuracy_vs_k_figure(ks, by_k: dict, none, title: str = ""):
    """See :func:`accuracy_vs_k_panel`."""
    fig, (ax,) = new_figure(width=6.5, height=4.2)
    accuracy_vs_k_panel(ax, ks, by_k, none, title)
    return fig, {"ax": ax}


def paper_condition_figure(before: dict, after: dict, title: str = ""):
    """log10 kappa(J_t) against t before and after flossing; with gradient norms (``grad_norm`` in
    the dicts) a second panel shows ||dL/dh_t|| against t."""
    with_grad = "grad_norm" in before
    fig, axes = new_figure(ncols=2 if with_grad else 1, width=10.0 if with_grad else 6.0,
                           height=3.5)
    ax = axes[0]
    for label, d, colour in (("before flossing", before, BEFORE), ("after flossing", after, AFTER)):
        ax.plot(d["times"], d["log10_condition"], "o-", ms=4, color=colour, label=label)
    ax.set(xlabel="window length t (steps)", ylabel=r"$\log_{10}\kappa(J_t)$", title=title)
    ax.legend(fontsize="small", loc="upper left")
    if with_grad:
        for label, d, colour in (("before flossing", before, BEFORE),
                                 ("after flossing", after, AFTER)):
            g = np.asarray(d["grad_norm"], dtype=float)
            axes[1].semilogy(np.arange(1, g.size + 1), g, color=colour, label=label)
        axes[1].set(xlabel="time step t (loss at the last step)",
                    ylabel=r"$\|\partial L/\partial h_t\|$", title="Gradient norm through time")
        axes[1].legend(fontsize="small", loc="lower right")
    return fig, {"axes": axes}


# --- dashboards ------------------------------------------------------------------------------------


def available_summaries() -> dict:
    """{name: summary} of the shipped results that load here ("default", and "paper" once it is
    shipped)."""
    out = {}
    for name in ("default", "paper"):
        summary, _ = paper_summary(name)
        if summary is not None:
            out[name] = summary
    return out


def _dataset_control(summaries: dict, value: str = "default"):
    names = list(summaries)
    return W.Dropdown(options=names, value=value if value in names else names[0],
                      description="budget", disabled=len(names) < 2,
                      tooltip="" if len(names) > 1 else "the paper budget is not shipped yet")


def paper_delay_dashboard(task="xor", dataset="default", highlight=None):
    """Budget, task, schedules and a delay -> the shipped final accuracies against delay (median,
    quartiles, each seed) and every seed at the chosen delay."""
    summaries = available_summaries()
    sweeps = {name: {t: shipped_accuracy(s, t) for t in s["c_delay"]}
              for name, s in summaries.items()}
    first = sweeps[next(iter(sweeps))][task]
    delays = [int(d) for d in next(iter(first.values()))[0]]
    controls = {
        "dataset": _dataset_control(summaries, dataset),
        "task": W.Dropdown(options=list(sweeps[next(iter(sweeps))]), value=task,
                           description="task"),
        "shown": W.SelectMultiple(options=[(SCHEDULE_LABELS.get(s, s), s) for s in first],
                                  value=tuple(first), rows=len(first), description="schedules"),
        "delay": W.SelectionSlider(options=delays, value=highlight or delays[len(delays) // 2],
                                   description="delay d", continuous_update=True,
                                   style={"description_width": "initial"}),
    }

    def retarget(change):           # the swept tasks and delays differ between budgets
        tasks = list(sweeps[controls["dataset"].value])
        if list(controls["task"].options) != tasks:
            keep = controls["task"].value
            controls["task"].options = tasks
            controls["task"].value = keep if keep in tasks else tasks[-1]
        controls["task"].disabled = len(tasks) == 1      # one task swept: nothing to choose
        ds = [int(d) for d in next(iter(sweeps[controls["dataset"].value][
            controls["task"].value].values()))[0]]
        old = controls["delay"].value
        controls["delay"].options = ds
        controls["delay"].value = min(ds, key=lambda d: abs(d - old))

    controls["task"].observe(retarget, names="value")
    controls["dataset"].observe(retarget, names="value")

    def compute(dataset, task, shown, delay):
        by_schedule = sweeps[dataset][task]
        title = f" ({dataset} budget, N={summaries[dataset]['c_delay'][task]['n']})"
        return by_schedule, task, shown, delay, title

    def note(data, values):
        by_schedule, task, shown, delay, _ = data
        parts = []
        for s in shown:
            delays, acc = by_schedule[s]
            row = np.asarray(acc)[list(delays).index(delay)] if delay in delays else None
            if row is not None:
                med, lo, hi = seed_spread(row)
                parts.append(f"{SCHEDULE_LABELS.get(s, s)}: median {med:.2f} "
                             f"[{lo:.2f}-{hi:.2f}], {int(np.sum(row >= 0.9))} of {row.size} "
                             "seeds &ge; 0.9")
        return f"d = {delay}: " + "; ".join(parts)

    return Dashboard(controls, compute, lambda d, v: delay_explorer_figure(*d),
                     lambda art, d, v: update_delay_explorer(art, *d), height="380px", note=note)


def horizon_dashboard(dataset="default", level=0.9, coverage=0.9):
    """Budget, accuracy level and coverage -> the trainable horizon of each task and schedule with
    its bootstrap interval over seeds (2000 resamples: milliseconds)."""
    summaries = available_summaries()
    controls = {
        "dataset": _dataset_control(summaries, dataset),
        "level": slider(W.FloatSlider, "accuracy level", level, 0.6, 0.99, 0.01),
        "coverage": slider(W.FloatSlider, "interval coverage", coverage, 0.5, 0.95, 0.05),
    }

    def compute(dataset, level, coverage):
        return (shipped_horizons(summaries[dataset], round(level, 2), round(coverage, 2)),
                round(level, 2), round(coverage, 2), f" ({dataset})")

    def note(data, values):
        h = data[0]
        parts = []
        for task in dict.fromkeys(t for t, _ in h):
            for s in ("pre", "inter"):
                if (task, s) in h:
                    r = horizon_ratio(h, task, s)
                    parts.append(f"{task} {SCHEDULE_LABELS[s]} / {SCHEDULE_LABELS['none']}: "
                                 + ("undefined (a horizon below the swept range)" if r is None
                                    else f"{r:.1f}x"))
        return "; ".join(parts)

    return Dashboard(controls, compute, lambda d, v: horizons_figure(*d),
                     lambda art, d, v: update_horizons(art, *d), height="300px", note=note)


def live_delay_dashboard(task="copy", size="small"):
    """A button reruns the delay sweep small: no flossing and preflossing, three delays, the seeds
    of ``LIVE``, all as one ensemble on the torch engine; the figure has the shipped figure's form."""
    controls = {"task": W.Dropdown(options=["copy", "xor"], value=task, description="task")}

    def compute(task, progress=None):
        return live_delay_sweep(task, progress=progress, size=size), task

    def make(data, values):
        fig, (ax,) = new_figure(width=6.5, height=3.6)
        ax.set(xlabel="delay d (longest lag, steps)", ylabel="final accuracy", ylim=(0.4, 1.03),
               title="small rerun: press the button")
        return fig, {"ax": ax, "lines": [], "legend": None}

    def draw(art, data, values):
        sweep, task = data
        for a in art["lines"]:
            a.remove()
        art["lines"] = accuracy_vs_delay_panel(art["ax"], sweep)
        art["legend"] = schedule_legend(art["ax"].figure, art["ax"], art["legend"])
        s = TRAIN_SIZES[size]
        art["ax"].set_title(f"small rerun: {task}, N = {s['n_units']}, {s['n_epochs']} epochs, "
                            f"{len(LIVE['seeds'])} seeds")
        art["ax"].set_xticks(sweep["none"][0])

    def note(data, values):
        sweep, task = data
        return "; ".join(f"{SCHEDULE_LABELS[s]}: medians " + ", ".join(
            f"d={d} {m:.2f}" for d, m in zip(dl, np.median(acc, axis=1)))
            for s, (dl, acc) in sweep.items())

    return Dashboard(controls, compute, make, draw, note, height="360px", button="Rerun small",
                     ready=lambda v: f"ready: {_n_delay_members(v)} networks at once",
                     stale="this task")


def _n_delay_members(values) -> int:
    return 2 * len(LIVE["delays"][values["task"]]) * len(LIVE["seeds"])


def live_parity_dashboard(size="small"):
    """A button reruns accuracy against k small: parity of order p at a short delay, no flossing
    and preflossing with each k, on the seeds of ``LIVE``, all as one ensemble."""
    controls = {"order": slider(W.IntSlider, "parity order p", LIVE["parity_order"], 2, 4),
                "delay": slider(W.IntSlider, "delay d", LIVE["parity_delay"], 4, 16)}

    def compute(order, delay, progress=None):
        ks, acc = live_parity_k(order=order, delay=delay, size=size, progress=progress)
        return ks, acc, {"order": order, "delay": delay}

    def make(data, values):
        fig, (ax,) = new_figure(width=6.5, height=3.6)
        ax.set(title="small rerun: press the button", xlabel="k", ylabel="final accuracy")
        return fig, {"fig": fig, "ax": ax}

    def draw(art, data, values):
        ks, acc, v = data
        art["ax"].clear()
        accuracy_vs_k_panel(art["ax"], ks, {k: acc[k] for k in ks}, acc["none"],
                                  f"small rerun: parity p={v['order']}, d={v['delay']}, N=32")

    def note(data, values):
        ks, acc, _ = data
        return "; ".join(f"{'no flossing' if k == 'none' else 'k=' + str(k)}: "
                         f"{describe_spread(acc[k])}" for k in ["none", *ks])

    return Dashboard(controls, compute, make, draw, note, height="360px", button="Rerun small",
                     ready=lambda v: f"ready: {(len(LIVE['parity_ks']) + 1) * len(LIVE['seeds'])}"
                                     " networks at once",
                     stale="these settings")


def live_condition_dashboard(n_exponents=16, floss_steps=80, grid: dict | None = None):
    """k and the number of flossing steps -> log10 kappa(J_t) against t before and after flossing
    a small network. Every choice is computed up front (one ensemble,
    :func:`live_condition_grid`): a change only redraws."""
    grid = live_condition_grid() if grid is None else grid
    ks = sorted({k for k, _ in grid})
    steps = sorted({s for _, s in grid})
    nearest = lambda options, v: min(options, key=lambda o: abs(o - v))      # noqa: E731
    n_exponents, floss_steps = nearest(ks, n_exponents), nearest(steps, floss_steps)
    controls = {
        "n_exponents": W.ToggleButtons(options=ks, value=n_exponents, description="flossed k",
                                       style={"button_width": "50px"}),
        "floss_steps": W.ToggleButtons(options=steps, value=floss_steps,
                                       description="flossing steps",
                                       style={"button_width": "50px"}),
    }

    def compute(n_exponents, floss_steps):
        return grid[n_exponents, floss_steps]

    def make(c, values):
        return paper_condition_figure(
            {"times": c.times, "log10_condition": c.before},
            {"times": c.times, "log10_condition": c.after}, _live_title(c))

    def draw(art, c, values):
        ax = art["axes"][0]
        ax.lines[0].set_data(c.times, c.before)
        ax.lines[1].set_data(c.times, c.after)
        ax.set_title(_live_title(c))
        rescale(ax)

    def note(c, values):
        return (f"over t = {c.times[-1]} steps: log<sub>10</sub>&kappa; {c.before[-1]:.1f} before, "
                f"{c.after[-1]:.1f} after {c.floss_steps} flossing steps "
                f"({c.before[-1] - c.after[-1]:.1f} orders of magnitude less)")

    return Dashboard(controls, compute, make, draw, height="330px", note=note)


def _live_title(c):
    return f"small rerun: N = {c.n_units}, k = {c.n_exponents}, {c.floss_steps} flossing steps"


# --- checkers --------------------------------------------------------------------------------------


def reference_seed_summary(values):
    """(median, 25th percentile, 75th percentile) of ``values`` (numpy's linear interpolation)."""
    q25, q50, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(q50), float(q25), float(q75)


@checker(reference_seed_summary)
def check_seed_summary(func) -> bool:
    """``func(values)`` -> (median, 25th percentile, 75th percentile) of the values over seeds
    (numpy's default linear interpolation between order statistics)."""
    name = "seed_summary"

    def cases():
        rng = np.random.default_rng(800)
        tests = [rng.uniform(0.45, 1.0, size=n) for n in (5, 3, 4, 10)]
        tests.append(np.array([0.5, 0.5, 1.0, 0.5, 0.99]))
        for values in tests:
            want = np.percentile(values, [50, 25, 75])
            got = to_tuple(name, call(name, func, values), 3, "three numbers: (median, q25, q75)")
            got = np.array([to_array(name, g, (), "each of (median, q25, q75)") for g in got])
            if close(got, want):
                continue
            if close(got[0], np.mean(values)):
                raise Answer("the median, not the mean: one seed at chance pulls a mean down, "
                             "not a median.")
            if close(got, np.percentile(values, [50, 75, 25])):
                raise Answer("the order is (median, q25, q75).")
            for method in ("nearest", "lower", "higher", "midpoint", "hazen", "weibull",
                           "median_unbiased", "normal_unbiased", "inverted_cdf"):
                if close(got, np.percentile(values, [50, 25, 75], method=method)):
                    raise Answer(f"that is method='{method}': use numpy's default, linear "
                                 "interpolation (np.percentile(values, [25, 75]) with no method), "
                                 "which the course's tables use.")
            if close(got[1:], [values.min(), values.max()]):
                raise Answer("the quartiles are the 25th and 75th percentiles, not the min and max.")
            if close(got[0], want[0]):
                raise Answer("use np.percentile(values, [25, 75]) (linear interpolation, numpy's "
                             f"default); with {values.size} seeds your quartiles differ.")
            raise Answer("np.median(values), np.percentile(values, 25), np.percentile(values, 75).")
    return run(name, cases)


def reference_horizon(delays, medians, level: float = 0.9):
    """The longest delay whose median reaches ``level``; None if none does."""
    ok = [int(d) for d, m in zip(delays, medians) if m >= level]
    return max(ok) if ok else None


@checker(reference_horizon)
def check_horizon(func) -> bool:
    """``func(delays, medians, level)`` -> the longest delay whose median accuracy is >= level,
    or None when no delay reaches it."""
    name = "horizon"
    tests = [([10, 20, 30, 40], [1.0, 0.95, 0.6, 0.5], 0.9),
             ([12, 16, 20, 24, 28], [1.0, 0.99, 0.5, 0.93, 0.5], 0.9),   # not monotone
             ([10, 20, 30], [0.7, 0.6, 0.5], 0.9),                       # none reaches it
             ([10, 20, 30], [1.0, 0.9, 0.89], 0.9),                      # exactly the level
             ([5, 10, 15], [0.8, 0.75, 0.5], 0.7),
             ([40, 10, 30, 20], [0.95, 1.0, 0.5, 0.99], 0.9),            # delays not sorted
             ([10, 20, 30], [0.97, 0.96, 0.95], 0.955)]                  # another level

    def cases():
        for delays, medians, level in tests:
            want = reference_horizon(delays, medians, level)
            got = call(name, func, np.asarray(delays), np.asarray(medians), level)
            if got is None and want is not None and level != 0.9 \
                    and reference_horizon(delays, medians, 0.9) is None:
                raise Answer(f"use the `level` argument (here {level}), not a fixed 0.9.")
            if want is None:
                if got is None:
                    continue
                raise Answer("when no delay reaches the level, return None (the horizon lies "
                             f"below the swept delays); got {got!r}.")
            if got is None:
                raise Answer(f"a delay reaches the level here (delays {delays}, medians "
                             f"{medians}, level {level}), but you returned None.")
            got = to_array(name, got, (), "the horizon (one delay)")
            if close(got, want):
                continue
            if 0 <= got < len(delays) and int(got) == list(delays).index(want):
                raise Answer("return the delay itself, not its index.")
            passed = [m >= level for m in medians]
            first_fail = passed.index(False) if False in passed else len(passed)
            if level != 0.9 and close(got, reference_horizon(delays, medians, 0.9) or -1):
                raise Answer(f"use the `level` argument (here {level}), not a fixed 0.9.")
            if close(got, [d for d, m in zip(delays, medians) if m >= level][-1]):
                raise Answer("the delays need not be sorted: return the LONGEST delay that "
                             "reaches the level (max), not the last one in the list.")
            if first_fail and close(got, delays[first_fail - 1]):
                raise Answer("the horizon is the LONGEST delay that reaches the level, even if a "
                             "shorter one failed (medians need not fall monotonically).")
            if close(got, reference_horizon(delays, medians, level + 1e-9) or -1):
                raise Answer("'reaches' includes equality: median >= level.")
            raise Answer("max of the delays whose median is >= level.")
    return run(name, cases)


def reference_bootstrap_horizons(acc, delays, idx, level: float = 0.9) -> np.ndarray:
    """The horizon of each bootstrap resample: for delay j and resample b the median of
    acc[j, idx[j, b]]; the longest delay whose median reaches ``level``, 0 where none does."""
    return _bootstrap_variant(acc, delays, idx, level)


def _bootstrap_variant(acc, delays, idx, level, statistic=None, strict=False, in_order=False):
    """:func:`reference_bootstrap_horizons`, or a mistake in it: another ``statistic`` of each
    resample than the median, ``>`` for ``>=``, or the last delay in the given order that reaches
    the level instead of the longest."""
    statistic = statistic or (lambda x: np.median(x, axis=1))
    acc, idx, delays = np.asarray(acc, dtype=float), np.asarray(idx), np.asarray(delays)
    medians = np.stack([statistic(acc[j][idx[j]]) for j in range(len(delays))])
    out = np.zeros(idx.shape[1], dtype=int)
    for j in (range(len(delays)) if in_order else np.argsort(delays, kind="stable")):
        out[(medians[j] > level) if strict else (medians[j] >= level)] = delays[j]
    return out


def bootstrap_indices(n_delays: int, n_seeds: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """Resampled seed indices (n_delays, n_boot, n_seeds), the draws of
    :func:`flosslab.paper.stats.bootstrap_horizon` (:func:`flosslab.paper.stats.bootstrap_draws`)."""
    return np.stack(bootstrap_draws([n_seeds] * n_delays, n_boot, seed))


def _bootstrap_cases():
    """(acc, delays, idx, level, what) for the bootstrap checker: the shipped runs' shape (5 seeds,
    level 0.9, sorted delays), and each of the demos' ranges: an even number of seeds and of draws
    (the bonus cell draws 10, 20, 80 from the shipped seeds), accuracies exactly at the level
    (accuracies are fractions of scored bits), another level, delays not sorted."""
    out = []
    for case in range(7):
        rng = np.random.default_rng(820 + case)
        delays = np.array([10, 20, 30, 40, 50])
        n_seeds, n_draws, level = [5, 5, 5, 4, 5, 6, 5][case], [5, 5, 5, 4, 10, 6, 5][case], 0.9
        ok = rng.uniform(0.9, 1.0, size=(5, n_seeds))
        fail = rng.uniform(0.48, 0.55, size=(5, n_seeds))
        p_ok = np.array([[1.0, 0.8, 0.6, 0.4, 0.1], [0.5, 0.4, 0.6, 0.3, 0.1],
                         [0.9, 0.9, 0.5, 0.5, 0.2], [0.9, 0.7, 0.6, 0.5, 0.4],
                         [0.9, 0.7, 0.6, 0.5, 0.4], [1.0, 0.9, 0.7, 0.6, 0.5],
                         [1.0, 0.8, 0.7, 0.5, 0.3]][case])[:, None]
        acc = np.where(rng.uniform(size=(5, n_seeds)) < p_ok, ok, fail)
        what = f"{n_seeds} seeds, {n_draws} draws per resample, level {level}"
        if case == 5:                       # fractions of 20 scored bits: 0.9 itself is common
            acc = np.round(acc * 20) / 20
            acc[:, :2] = 0.9
            what += ", accuracies exactly 0.9"
        if case == 6:                       # medians between 0.75 and 0.9 as well
            acc = np.where(acc > 0.6, rng.uniform(0.7, 1.0, size=acc.shape), acc)
            level, what = 0.75, f"{n_seeds} seeds, level 0.75"
        idx = rng.integers(0, n_seeds, size=(5, 200, n_draws)) if n_draws != n_seeds \
            else bootstrap_indices(len(delays), n_seeds, 200, seed=case)
        if case in (3, 6):                  # the delays in another order (rows moved with them)
            order = rng.permutation(5)
            delays, acc, idx = delays[order], acc[order], idx[order]
            what += f", delays in the order {delays.tolist()}"
        out.append((acc, delays, idx, level, what))
    return out


@checker(reference_bootstrap_horizons)
def check_bootstrap_horizons(func) -> bool:
    """``func(acc, delays, idx, level)`` -> (n_boot,) horizons of the bootstrap resamples; acc
    (n_delays, n_seeds) final accuracies, idx (n_delays, n_boot, n_seeds) resampled seed
    indices, 0 where no delay reaches the level."""
    name = "bootstrap_horizons"

    def cases():
        for acc, delays, idx, level, what in _bootstrap_cases():
            want = reference_bootstrap_horizons(acc, delays, idx, level)
            raw = call(name, func, acc, delays, idx, level)
            if raw is not None and np.asarray(raw, dtype=object).dtype == object \
                    and any(v is None for v in np.ravel(np.asarray(raw, dtype=object))):
                raise Answer("use 0 (not None) for a resample in which no delay reaches the level, "
                             "so that the result is an array of numbers.")
            got = to_array(name, raw, want.shape, "one horizon per resample (n_boot,)")
            if close(got, want):
                continue
            if close(np.where(got < 0, 0, got), want):
                raise Answer("use 0, not -1, where no delay reaches the level.")
            same = np.broadcast_to(idx[0], idx.shape)
            if close(got, reference_bootstrap_horizons(acc, delays, same, level)):
                raise Answer("resample each delay with its own indices idx[j] (the seeds of "
                             "different delays are different networks).")
            mistakes = {
                "take the MEDIAN of each resample, as for the horizon itself":
                    dict(statistic=lambda x: np.mean(x, axis=1)),
                "with an even number of draws the median is the MEAN of the two middle values "
                "(np.median), not the upper one":
                    dict(statistic=lambda x: np.sort(x, axis=1)[:, x.shape[1] // 2]),
                "with an even number of draws the median is the MEAN of the two middle values "
                "(np.median), not the lower one":
                    dict(statistic=lambda x: np.sort(x, axis=1)[:, (x.shape[1] - 1) // 2]),
                "'reaches' includes equality: median >= level": dict(strict=True),
                "the delays need not be sorted: per resample take the LONGEST delay that reaches "
                "the level, not the last one in the array's order": dict(in_order=True),
            }
            for hint, mistake in mistakes.items():
                if close(got, _bootstrap_variant(acc, delays, idx, level, **mistake)):
                    raise Answer(f"{hint} (case: {what}).")
            if level != 0.9 and close(got, reference_bootstrap_horizons(acc, delays, idx, 0.9)):
                raise Answer(f"use the `level` argument (here {level}), not a fixed 0.9.")
            raise Answer("for each delay j: medians = np.median(acc[j][idx[j]], axis=1) (one per "
                         "resample); then per resample the longest delay whose median >= level, "
                         "0 if none.")
    return run(name, cases)
