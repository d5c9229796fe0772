"""Notebook 00 (the lecturer's guide): its computations and figures, in that order."""
from __future__ import annotations

import matplotlib as mpl
import numpy as np

from ..core.style import AFTER, BEFORE, SCHEDULE_COLOURS, SCHEDULE_LABELS, new_figure
from ..paper.results import load

# --- computations ----------------------------------------------------------------------------------


def key_results(name: str = "default") -> dict:
    """The course's key result from the shipped reproduction (:func:`flosslab.paper.results.load`):
    per task, the delays, the final accuracy of every seed per schedule (n_delays, n_seeds), and the
    longest delay whose median accuracy is >= 0.9 (the "horizon")."""
    summary = load(name)
    out = {}
    for task, sweep in summary["c_delay"].items():
        delays = [int(d) for d in sweep["delays"]]
        accuracy = {s: np.asarray([by_delay[str(d)] for d in delays])
                    for s, by_delay in sweep["accuracy"].items()}
        out[task] = {"delays": delays, "accuracy": accuracy, "n": sweep["n"], "k": sweep["k"],
                     "n_seeds": len(sweep["seeds"]), "horizon": dict(sweep["horizon_0.9"]),
                     "epochs": sweep["epochs"]}
    return out


# --- figures ---------------------------------------------------------------------------------------


def key_result_figure(results):
    """The course's key result from shipped data (a :func:`key_results` dict): final accuracy
    against the delay d for each task and flossing schedule, median over seeds (line) and every
    seed (dots)."""
    tasks = list(results)
    fig, axes = new_figure(ncols=len(tasks), width=5.2 * len(tasks), height=3.8, sharey=True)
    for ax, task in zip(axes, tasks):
        r = results[task]
        for schedule, per_seed in r["accuracy"].items():
            colour = SCHEDULE_COLOURS[schedule]
            ax.plot(r["delays"], np.median(per_seed, axis=1), "o-", color=colour,
                    label=SCHEDULE_LABELS[schedule])
            for d, seeds in zip(r["delays"], per_seed):
                ax.plot([d] * len(seeds), seeds, ".", color=colour, alpha=0.45, ms=6)
        ax.axhline(0.5, color="0.5", ls=":", lw=1.2)
        ax.set(xlabel="delay d (longest lag, steps)", title=f"delayed {task}: N = {r['n']}, "
               f"k = {r['k']}, {r['n_seeds']} seeds", ylim=(0.4, 1.03))
    axes[0].set_ylabel("final accuracy (chance 0.5)")
    # under the panels: inside, the legend covers seeds at chance level
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False)
    return fig, {"axes": axes}


def projector_test_figure():
    """A test card for the projector: the schedule and before/after colours at the course's line
    widths, and sample text at the sizes the figures use (title, label, legend, ticks)."""
    fig, (ax_c, ax_t) = new_figure(ncols=2, width=11.0, height=3.8, width_ratios=(1.4, 1.0))
    x = np.linspace(0.0, 1.0, 50)
    for i, (name, colour) in enumerate(SCHEDULE_COLOURS.items()):
        ax_c.plot(x, 0.2 * i + 0.05 * np.sin(6 * x), color=colour, label=SCHEDULE_LABELS[name])
    ax_c.plot(x, 0.85 + 0 * x, color=BEFORE, ls="--", label="before flossing")
    ax_c.plot(x, 0.95 + 0 * x, color=AFTER, ls="--", label="after flossing")
    for lw, y in ((0.8, -0.15), (1.5, -0.25), (2.2, -0.35)):
        ax_c.plot(x, y + 0 * x, color="k", lw=lw)
        ax_c.text(1.02, y, f"lw {lw}", va="center")
    ax_c.set(title="Colours and line widths", xlabel="axis label",
             ylabel="axis label", xlim=(0, 2.3), xticks=(0.0, 0.5, 1.0))
    ax_c.legend(loc="upper right")
    rc = mpl.rcParams
    rows = [("title", rc["axes.titlesize"]), ("axis label", rc["axes.labelsize"]),
            ("legend", rc["legend.fontsize"]), ("tick label", rc["xtick.labelsize"]),
            ("smallest text in a figure", "small")]
    for i, (what, size) in enumerate(rows):
        ax_t.text(0.02, 0.9 - 0.18 * i, f"{what} ({size}): sample λ₁, g, N = 64",
                  fontsize=size, transform=ax_t.transAxes, va="center")
    ax_t.set_axis_off()
    ax_t.set_title("Can the back row read every line?")
    return fig, {"axes": (ax_c, ax_t)}
