"""Figures of the reproduction (:mod:`flosslab.paper.reproduce`): each takes the dict that goes into
``results.json`` and writes one PNG, so a figure shows exactly the numbers that are stored. The look
(colours and names of the schedules, figure construction) is the course's, from
:mod:`flosslab.core.style`."""
from __future__ import annotations

import matplotlib as mpl
import numpy as onp

from ..core.style import (
    AFTER,
    BEFORE,
    SCHEDULE_COLOURS as COLORS,
    SCHEDULE_LABELS as LABELS,
    new_figure,
    save_png,
)


def _save(fig, path):
    save_png(fig, path)


def spectra(data: dict, path) -> None:
    gains = sorted({r["gain"] for r in data["runs"]})
    fig, axes = new_figure(ncols=len(gains), width=5 * len(gains), height=3.8)
    for ax, g in zip(axes, gains):
        runs = [r for r in data["runs"] if r["gain"] == g]
        i = onp.arange(1, data["n"] + 1)
        ax.plot(i, runs[0]["before"], color=BEFORE, lw=2, label="before flossing")
        for r, c in zip(runs, mpl.colormaps["viridis"](onp.linspace(0.15, 0.85, len(runs)))):
            ax.plot(i, r["after"], color=c, label=f"after flossing k={r['k']}")
            ax.axvline(r["k"], color=c, ls=":", lw=1)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set(title=f"g = {g}, N = {data['n']}", xlabel="index i", ylabel="lambda_i (per step)")
        ax.legend(fontsize=8)
    _save(fig, path)


def condition(data: dict, path) -> None:
    fig, (a1, a2) = new_figure(ncols=2, width=10, height=3.8)
    for label, color in (("before", BEFORE), ("after", AFTER)):
        d = data[label]
        a1.plot(d["times"], d["log10_condition"], "o-", color=color, label=f"{label} flossing")
        a2.semilogy(onp.arange(1, len(d["grad_norm"]) + 1), d["grad_norm"], color=color,
                    label=f"{label} flossing")
    a1.set(xlabel="t (steps)", ylabel="log10 condition number of T_t",
           title=f"long-term Jacobian, first k={data['k']} of N={data['n']}")
    a2.set(xlabel="t (steps)", ylabel="||dL/dh_t||", title="gradient norm (loss at the last step)")
    a1.legend()
    a2.legend()
    _save(fig, path)


def accuracy_vs_delay(sweeps: dict, path) -> None:
    fig, axes = new_figure(ncols=len(sweeps), width=5.5 * len(sweeps), height=3.8)
    for ax, (task, sweep) in zip(axes, sweeps.items()):
        for s, summary in sweep["accuracy"].items():
            d = [int(x) for x in summary]
            med = [q["median"] for q in summary.values()]
            lo = [q["q25"] for q in summary.values()]
            hi = [q["q75"] for q in summary.values()]
            ax.plot(d, med, "o-", color=COLORS[s], label=LABELS[s])
            # quartiles as bars at the swept delays (a band between them would invent values)
            ax.vlines(d, lo, hi, color=COLORS[s], lw=7, alpha=0.25)
            for x, q in zip(d, summary.values()):
                ax.plot([x] * len(q["all"]), q["all"], ".", color=COLORS[s], alpha=0.4, ms=4)
        ax.axhline(0.5, color="0.6", ls=":", lw=1)
        counts = sorted({len(q["all"]) for summary in sweep["accuracy"].values()
                         for q in summary.values()})
        seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        ax.set(title=f"delayed {task}: N={sweep['n']}, k={sweep['k']}, {seeds} seeds",
               xlabel="delay d (longest lag, steps)", ylabel="final accuracy", ylim=(0.4, 1.02))
    # one legend under the panels: inside, it hides seeds at some delay of some sweep
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3,
               fontsize=8, frameon=False)
    _save(fig, path)


def effective_rank(sweep: dict, path) -> None:
    """Median effective rank over training, a panel per delay: of the clipped dL/dW and, where the
    runs recorded it, of Adam's step on W (a second row: what the author's ``svdvals(gs[J])``
    measures after Flux's update has overwritten the gradient with the step)."""
    rows = [("grad_rank", "effective rank of dL/dW (median)")]
    if "step_rank" in sweep:
        rows.append(("step_rank", "effective rank of Adam's step (median)"))
    n = len(sweep["delays"])
    fig, axes = new_figure(ncols=n, nrows=len(rows), width=3.2 * n + (1.5 if n == 1 else 0),
                           height=3.2 * len(rows), sharey="row")
    for row, (key, ylabel) in enumerate(rows):
        for ax, d in zip(axes[row * n:(row + 1) * n], sweep["delays"]):
            for s, by_delay in sweep[key].items():
                ax.plot(sweep["eval_epochs"], by_delay[str(d)], "o-", ms=3, color=COLORS[s],
                        label=LABELS[s])
            ax.set(title=f"{sweep['task']} d={d}", xlabel="epoch")
        axes[row * n].set_ylabel(ylabel)
    axes[0].legend(fontsize=7)
    _save(fig, path)


def accuracy_vs_k(data: dict, path) -> None:
    fig, (ax,) = new_figure(width=5, height=3.8)
    ks = data["ks"]
    med = [data["accuracy"][str(k)]["median"] for k in ks]
    lo = [data["accuracy"][str(k)]["q25"] for k in ks]
    hi = [data["accuracy"][str(k)]["q75"] for k in ks]
    ax.plot(ks, med, "o-", color=COLORS["pre"], label="preflossing k exponents")
    ax.fill_between(ks, lo, hi, color=COLORS["pre"], alpha=0.2)
    for k in ks:
        a = data["accuracy"][str(k)]["all"]
        ax.plot([k] * len(a), a, ".", color=COLORS["pre"], alpha=0.4)
    ax.axhline(data["accuracy"]["none"]["median"], color=COLORS["none"], ls="--",
               label="no flossing (median)")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="number of flossed exponents k", ylabel="final accuracy", ylim=(0.4, 1.02),
           title=f"parity of order 3, d={data['delay']}, N={data['n']}")
    ax.legend(fontsize=8)
    _save(fig, path)


def cost(data: dict, path) -> None:
    fig, (a1, a2) = new_figure(ncols=2, width=10, height=3.6)
    n = [r["n"] for r in data["by_n"]]
    a1.loglog(n, [r["ms"] for r in data["by_n"]], "o-")
    a1.set(xlabel="N (k = N/2)", ylabel="ms per flossing step",
           title=f"slope {data['loglog_slope_n_at_k_n_over_2']:.2f} (O(N k^2) = 3 asymptotically)")
    k = [r["k"] for r in data["by_k"]]
    a2.loglog(k, [r["ms"] for r in data["by_k"]], "o-")
    a2.set(xlabel=f"k (N = {data['by_k'][0]['n']})", ylabel="ms per flossing step",
           title=f"slope {data['loglog_slope_k']:.2f}")
    _save(fig, path)
