"""Figures of the course: pure functions that take arrays and return figures and artists.

No mathematics here: every number plotted is computed elsewhere (:mod:`flosslab.course.demos` and
the reference) and handed in. The look (colours, schedule names, figure construction, PNG output,
presentation mode) is :mod:`flosslab.core.style`, shared with the reproduction's figures. A figure
ending a notebook cell shows as a picture in every frontend (see
:class:`flosslab.core.style.CourseFigure`).

Each ``*_figure`` function returns ``(fig, artists)``; the matching ``update_*`` function changes
the data of those artists in place (the dashboards never rebuild a figure).
"""
from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Normalize

from ..core.style import (AFTER, BEFORE, SCHEDULE_COLOURS, SCHEDULE_LABELS, new_figure,
                          render_png)


def freeze_layout(fig, label_offset: float = -0.15):
    """Lay the figure out once (constrained layout), then keep the axes where they are: a
    dashboard's later redraws skip the layout solver (about a third of a redraw's time).

    The y labels are pinned at ``label_offset`` (axes fraction) so that wider tick labels after an
    update cannot push them out of the frozen layout.
    """
    for ax in fig.axes:
        ax.yaxis.set_label_coords(label_offset, 0.5)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return fig


def set_line(line, x, y):
    """Replace a line's data."""
    line.set_data(np.asarray(x), np.asarray(y))


def rescale(ax, x_margin: float = 0.0):
    """Autoscale ``ax`` to the data its artists now hold."""
    ax.relim()
    ax.autoscale_view()
    if x_margin:
        ax.margins(x=x_margin)


def _gain_colours(gains):
    cmap = mpl.colormaps["viridis"]
    norm = Normalize(vmin=min(gains), vmax=max(gains) + 1e-9)
    return [cmap(norm(g)) for g in gains]


# --- notebook 01: gradient norms through time ------------------------------------------------------

def gradient_norm_figure(times, norms, gains):
    """||dL/dh_t|| against t (log axis), one line per gain. norms: (n_gains, T)."""
    fig, (ax,) = new_figure(width=8.0, height=3.6)
    lines = [ax.semilogy([], [], lw=2)[0] for _ in gains]
    ax.set_xlabel("time step t (the loss is at the last step)")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$")
    ax.set_title("Backpropagated gradient norm against time")
    artists = {"ax": ax, "lines": lines}
    update_gradient_norms(artists, times, norms, gains)
    return fig, artists


def update_gradient_norms(artists, times, norms, gains):
    for line, y, g, colour in zip(artists["lines"], norms, gains, _gain_colours(gains)):
        set_line(line, times, y)
        line.set_color(colour)
        line.set_label(f"g = {g:.2f}")
    artists["ax"].legend(loc="lower right", fontsize="small")
    rescale(artists["ax"])


# --- notebook 02: spectra ---------------------------------------------------------------------------

def spectrum_figure(exponents, steps, estimates, n_shown: int = 5):
    """Left: lambda_i against i. Right: running estimates of the first ``n_shown`` exponents."""
    fig, (ax_s, ax_c) = new_figure(ncols=2, width=9.5, height=3.4)
    (points,) = ax_s.plot([], [], "o-", ms=3, lw=1, color="tab:blue")
    ax_s.axhline(0.0, color="k", lw=0.8)
    ax_s.set_xlabel("index i")
    ax_s.set_ylabel(r"$\lambda_i$ (per step)")
    ax_s.set_title("Lyapunov spectrum")
    text = ax_s.text(0.98, 0.95, "", transform=ax_s.transAxes, ha="right", va="top",
                     fontsize="small")
    conv = [ax_c.plot([], [], lw=1.5, label=fr"$\lambda_{i + 1}$")[0] for i in range(n_shown)]
    ax_c.axhline(0.0, color="k", lw=0.8)
    ax_c.set_xlabel("steps accumulated")
    ax_c.set_ylabel("running estimate")
    ax_c.set_title("Convergence")
    artists = {"ax_spectrum": ax_s, "ax_convergence": ax_c, "spectrum": points,
               "convergence": conv, "text": text}
    update_spectrum(artists, exponents, steps, estimates)
    return fig, artists


def update_spectrum(artists, exponents, steps, estimates, note: str = ""):
    exponents = np.asarray(exponents)
    set_line(artists["spectrum"], np.arange(1, exponents.size + 1), exponents)
    for i, line in enumerate(artists["convergence"]):
        if i < exponents.size:
            set_line(line, steps, np.asarray(estimates)[:, i])
            line.set_visible(True)
        else:
            set_line(line, [], [])
            line.set_visible(False)
    artists["ax_convergence"].legend(loc="lower right", fontsize="x-small", ncols=2)
    artists["text"].set_text(note)
    rescale(artists["ax_spectrum"])
    rescale(artists["ax_convergence"])


def spectrum_vs_gain_figure(gains, spectra, n_shown: int = 5):
    """lambda_1..lambda_n against the gain g (spectra: (n_gains, >= n_shown))."""
    fig, (ax,) = new_figure(width=6.5, height=3.4)
    spectra = np.asarray(spectra)
    for i in range(min(n_shown, spectra.shape[1])):
        ax.plot(gains, spectra[:, i], "o-", ms=3, label=fr"$\lambda_{i + 1}$")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel("gain g")
    ax.set_ylabel("exponent (per step)")
    ax.set_title("Transition to chaos")
    ax.legend(fontsize="small")
    return fig, {"ax": ax}


# --- notebook 03: QR gradient ------------------------------------------------------------------------

def vjp_check_figure(vjp, fd, eps_grid, errors, eps):
    """Left: finite-difference against VJP entries at ``eps``. Right: error against eps (log-log)."""
    fig, (ax_s, ax_e) = new_figure(ncols=2, width=9.5, height=3.4)
    (scatter,) = ax_s.plot([], [], ".", ms=4, color="tab:blue")
    (diag,) = ax_s.plot([], [], "-", lw=0.8, color="k")
    ax_s.set_xlabel("VJP (autograd, through qr)")
    ax_s.set_ylabel("finite difference")
    ax_s.set_title("Gradient entries")
    (curve,) = ax_e.loglog([], [], "-", color="tab:gray")
    (marker,) = ax_e.loglog([], [], "o", color="tab:red", ms=8)
    ax_e.set_xlabel(r"finite-difference step $\epsilon$")
    ax_e.set_ylabel("relative error")
    ax_e.set_title("Truncation vs round-off")
    artists = {"ax_scatter": ax_s, "ax_error": ax_e, "scatter": scatter, "diagonal": diag,
               "curve": curve, "marker": marker}
    update_vjp_check(artists, vjp, fd, eps_grid, errors, eps)
    return fig, artists


def update_vjp_check(artists, vjp, fd, eps_grid, errors, eps):
    vjp, fd = np.ravel(vjp), np.ravel(fd)
    set_line(artists["scatter"], vjp, fd)
    lo, hi = float(min(vjp.min(), fd.min())), float(max(vjp.max(), fd.max()))
    set_line(artists["diagonal"], [lo, hi], [lo, hi])
    set_line(artists["curve"], eps_grid, errors)
    err_at = np.interp(np.log(eps), np.log(eps_grid), np.log(errors))
    set_line(artists["marker"], [eps], [np.exp(err_at)])
    rescale(artists["ax_scatter"])
    rescale(artists["ax_error"])


# --- notebook 04: flossing ---------------------------------------------------------------------------

def flossing_figure(result):
    """Four panels from a :class:`flosslab.experiments.FlossingResult`."""
    fig, axes = new_figure(ncols=2, nrows=2, width=9.5, height=5.6)
    ax_s, ax_l, ax_g, ax_c = axes
    art = {"axes": axes}
    art["spec_before"], = ax_s.plot([], [], "o-", ms=3, lw=1, color=BEFORE, label="before")
    art["spec_after"], = ax_s.plot([], [], "o-", ms=3, lw=1, color=AFTER, label="after")
    art["k_line"] = ax_s.axvline(1, color="k", ls=":", lw=0.8)
    art["target_line"] = ax_s.axhline(0, color="k", lw=0.8)
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$", title="Spectrum (dotted: k)")
    ax_s.legend(fontsize="small")
    art["loss"], = ax_l.semilogy([], [], color=AFTER, lw=1)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Flossing loss")
    art["grad_before"], = ax_g.semilogy([], [], color=BEFORE, label="before")
    art["grad_after"], = ax_g.semilogy([], [], color=AFTER, label="after")
    ax_g.set(xlabel="time step t", ylabel=r"$\|\partial L/\partial h_t\|$",
             title="Gradient norm through time")
    ax_g.legend(fontsize="small")
    art["cond_before"], = ax_c.plot([], [], "o-", ms=3, color=BEFORE, label="before")
    art["cond_after"], = ax_c.plot([], [], "o-", ms=3, color=AFTER, label="after")
    ax_c.set(xlabel="window length t", ylabel=r"$\log_{10}\,\kappa(T_t)$",
             title="Condition number, long-term Jacobian")
    ax_c.legend(fontsize="small")
    update_flossing(art, result)
    return fig, art


def update_flossing(art, result):
    n = len(result.spectrum_before)
    idx = np.arange(1, n + 1)
    set_line(art["spec_before"], idx, result.spectrum_before)
    set_line(art["spec_after"], idx, result.spectrum_after)
    art["k_line"].set_xdata([result.n_exponents + 0.5] * 2)
    art["target_line"].set_ydata([result.target] * 2)
    set_line(art["loss"], np.arange(1, len(result.losses) + 1), result.losses)
    set_line(art["grad_before"], result.grad_times, result.grad_before)
    set_line(art["grad_after"], result.grad_times, result.grad_after)
    set_line(art["cond_before"], result.cond_times, result.cond_before)
    set_line(art["cond_after"], result.cond_times, result.cond_after)
    for ax in art["axes"]:
        rescale(ax)


# --- notebook 05: training -----------------------------------------------------------------------

def learning_curves_figure():
    """Empty accuracy and loss panels; runs are added with :func:`add_learning_curve`."""
    fig, (ax_a, ax_l) = new_figure(ncols=2, width=9.5, height=3.4)
    ax_a.axhline(0.5, color="k", lw=0.8, ls=":")
    ax_a.set(xlabel="epoch", ylabel="accuracy (fresh sequences)", title="Accuracy", ylim=(0.4, 1.02))
    ax_l.set(xlabel="epoch", ylabel="task loss (BCE)", title="Loss")
    return fig, {"ax_accuracy": ax_a, "ax_loss": ax_l, "runs": []}


def smooth(y, width: int = 10):
    """Running mean for display (not analysis): keeps the curve readable."""
    y = np.asarray(y, dtype=float)
    if y.size < width:
        return y
    return np.convolve(y, np.ones(width) / width, mode="valid")


def add_learning_curve(art, label, eval_epochs, accuracy, loss, colour=None):
    """Add one run (accuracy at eval epochs, smoothed loss per epoch) and return its lines."""
    (acc_line,) = art["ax_accuracy"].plot(eval_epochs, accuracy, "o-", ms=3, color=colour,
                                          label=label)
    y = smooth(loss)
    (loss_line,) = art["ax_loss"].plot(np.arange(1, y.size + 1) + (len(loss) - y.size),
                                       y, color=acc_line.get_color(), label=label)
    art["runs"].append((acc_line, loss_line))
    art["ax_accuracy"].legend(fontsize="x-small", loc="lower right")
    rescale(art["ax_loss"])
    return acc_line, loss_line


def clear_learning_curves(art):
    for acc_line, loss_line in art["runs"]:
        acc_line.remove()
        loss_line.remove()
    art["runs"].clear()
    legend = art["ax_accuracy"].get_legend()
    if legend is not None:
        legend.remove()


# --- notebook 06: why it works --------------------------------------------------------------------

def checkpoints_figure(steps, cond, eff_rank, log_sv, selected: int = 0):
    """Condition number and effective rank against flossing steps, and the selected singular values."""
    fig, (ax_c, ax_r, ax_s) = new_figure(ncols=3, width=10.0, height=3.3)
    art = {"axes": (ax_c, ax_r, ax_s)}
    art["cond"], = ax_c.plot([], [], "o-", ms=3, color="tab:blue")
    art["cond_marker"], = ax_c.plot([], [], "o", ms=9, color="tab:red")
    ax_c.set(xlabel="flossing steps", ylabel=r"$\log_{10}\,\kappa(T_t)$", title="Condition number")
    art["rank"], = ax_r.plot([], [], "o-", ms=3, color="tab:green")
    art["rank_marker"], = ax_r.plot([], [], "o", ms=9, color="tab:red")
    ax_r.set(xlabel="flossing steps", ylabel="effective rank", title=r"Rank of $\partial L/\partial W$")
    art["sv"], = ax_s.plot([], [], "o-", ms=3, color="tab:red")
    ax_s.set(xlabel="index i", ylabel=r"$\log_{10}\,\sigma_i(T_t)$", title="Singular values")
    update_checkpoints(art, steps, cond, eff_rank, log_sv, selected)
    return fig, art


def update_checkpoints(art, steps, cond, eff_rank, log_sv, selected):
    set_line(art["cond"], steps, cond)
    set_line(art["cond_marker"], [steps[selected]], [cond[selected]])
    set_line(art["rank"], steps, eff_rank)
    set_line(art["rank_marker"], [steps[selected]], [eff_rank[selected]])
    sv = np.asarray(log_sv[selected]) / np.log(10.0)
    set_line(art["sv"], np.arange(1, sv.size + 1), sv)
    for ax in art["axes"]:
        rescale(ax)


def exponents_over_training_figure(runs):
    """lambda_1 and lambda_k at the evaluation epochs, one colour per schedule.

    runs: {schedule: (eval_epochs, spectra (n_eval, k))}.
    """
    fig, (ax,) = new_figure(width=7.0, height=3.4)
    for name, (epochs, spectra) in runs.items():
        spectra = np.asarray(spectra)
        colour = SCHEDULE_COLOURS.get(name)
        ax.plot(epochs, spectra[:, 0], "o-", ms=3, color=colour, label=fr"{name}: $\lambda_1$")
        ax.plot(epochs, spectra[:, -1], "s--", ms=3, color=colour, label=fr"{name}: $\lambda_k$")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="epoch", ylabel="exponent (per step)", title="Exponents during training")
    ax.legend(fontsize="x-small", ncols=2)
    return fig, {"ax": ax}


# --- notebook 07: cells and cost ---------------------------------------------------------------

def cell_spectra_figure(spectra: dict):
    """One spectrum per named cell, sorted in descending order for display."""
    fig, (ax,) = new_figure(width=6.5, height=3.2)
    for name, lam in spectra.items():
        lam = np.sort(np.asarray(lam))[::-1]
        ax.plot(np.arange(1, lam.size + 1), lam, "o-", ms=3, label=f"{name} ({lam.size})")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Spectra of torch cells")
    ax.legend(fontsize="small")
    return fig, {"ax": ax}


# --- notebook 07: cost -----------------------------------------------------------------------------

def cost_figure(sizes, seconds, xlabel: str, label: str = ""):
    """Measured seconds per call against a size (log-log)."""
    fig, (ax,) = new_figure(width=6.5, height=3.4)
    (line,) = ax.loglog(sizes, seconds, "o-", label=label)
    ax.set(xlabel=xlabel, ylabel="seconds per call", title="Measured cost")
    return fig, {"ax": ax, "line": line}
