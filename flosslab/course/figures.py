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

ROUND_OFF = float(np.finfo(float).eps)


def light_log_axis(ax):
    """A log y axis whose labels are plain text ("1e-05"), without minor labels: drawing mathtext
    tick labels is a large part of a dashboard's redraw."""
    from matplotlib.ticker import LogFormatter, NullFormatter
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def integer_ticks(ax):
    """Whole-number ticks on the x axis (steps, indices)."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def skip_layout_pass(fig):
    """Drop the placeholder layout engine that a frozen layout leaves behind: with it, every
    ``savefig`` draws the figure twice (a layout pass, then the picture). A figure still being
    laid out (constrained) is left alone."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)


def vjp_check_figure(vjp, fd, eps_grid, errors, eps):
    """Left: finite-difference against VJP entries at ``eps``. Right: error against eps (log-log),
    with the best point marked and the two regimes' slopes (eps^2 truncation, 1/eps round-off)."""
    fig, (ax_s, ax_e) = new_figure(ncols=2, width=10.0, height=3.6)
    (scatter,) = ax_s.plot([], [], "o", ms=4, color="tab:blue")
    (diag,) = ax_s.plot([], [], "-", lw=0.8, color="k")
    ax_s.set_xlabel("entry of the VJP")
    ax_s.set_ylabel("same entry by central difference")
    ax_s.set_title("Gradient entries (on the line: they agree)")
    (curve,) = ax_e.loglog([], [], "o-", ms=3, color="tab:gray", label="relative error")
    (marker,) = ax_e.loglog([], [], "o", color="tab:red", ms=9, label=r"the slider's $\epsilon$")
    (best,) = ax_e.loglog([], [], "*", color="k", ms=12, label="best")
    (trunc,) = ax_e.loglog([], [], ":", color="tab:green", lw=1.5, label=r"$\propto\epsilon^2$")
    (roundoff,) = ax_e.loglog([], [], ":", color="tab:purple", lw=1.5,
                              label=r"$\propto 10^{-16}/\epsilon$")
    ax_e.set_xlabel(r"finite-difference step $\epsilon$")
    ax_e.set_ylabel(r"$\|\mathrm{FD} - \mathrm{VJP}\| / \|\mathrm{VJP}\|$")
    ax_e.set_title("Truncation against round-off")
    ax_e.legend(loc="upper center", ncols=2, fontsize="small")
    artists = {"ax_scatter": ax_s, "ax_error": ax_e, "scatter": scatter, "diagonal": diag,
               "curve": curve, "marker": marker, "best": best, "trunc": trunc,
               "roundoff": roundoff, "fig": fig}
    update_vjp_check(artists, vjp, fd, eps_grid, errors, eps)
    return fig, artists


def update_vjp_check(artists, vjp, fd, eps_grid, errors, eps):
    skip_layout_pass(artists["fig"])
    vjp, fd = np.ravel(vjp), np.ravel(fd)
    set_line(artists["scatter"], vjp, fd)
    lo, hi = float(min(vjp.min(), fd.min())), float(max(vjp.max(), fd.max()))
    set_line(artists["diagonal"], [lo, hi], [lo, hi])
    eps_grid, errors = np.asarray(eps_grid), np.asarray(errors)
    set_line(artists["curve"], eps_grid, errors)
    err_at = np.interp(np.log(eps), np.log(eps_grid), np.log(errors))
    set_line(artists["marker"], [eps], [np.exp(err_at)])
    i = int(np.argmin(errors))
    set_line(artists["best"], [eps_grid[i]], [errors[i]])
    big = eps_grid >= 1e-3                      # truncation regime: anchored at the largest eps
    set_line(artists["trunc"], eps_grid[big], errors[-1] * (eps_grid[big] / eps_grid[-1]) ** 2)
    small = eps_grid <= 1e-8                    # round-off regime
    set_line(artists["roundoff"], eps_grid[small], errors[0] * eps_grid[0] / eps_grid[small])
    rescale(artists["ax_scatter"])
    rescale(artists["ax_error"])
    artists["ax_error"].set_ylim(top=max(errors.max(), 1e-2) * 1e3)


def conditioning_figure(curve, sigma: float):
    """Left: ||d(sum log|R_ii|)/dA|| against sigma_min, with 1/sigma_min. Right: relative errors
    of the VJP and of the closed form against sigma_min, with 1e-16/sigma and 1e-16/sigma^2."""
    fig, (ax_n, ax_e) = new_figure(ncols=2, width=10.0, height=3.6)
    art = {"axes": (ax_n, ax_e), "fig": fig}
    art["norm"], = ax_n.loglog([], [], "o-", ms=3, color="tab:blue", label="VJP")
    art["inverse"], = ax_n.loglog([], [], ":", color="k", label=r"$1/\sigma_{min}$")
    art["norm_marker"], = ax_n.loglog([], [], "o", ms=9, color="tab:red")
    ax_n.set(xlabel=r"smallest singular value $\sigma_{min}$ of $A$ (largest: 1)",
             ylabel=r"$\|\partial\, \Sigma_i \log|R_{ii}|\, / \partial A\|$", title="Size of the gradient")
    ax_n.legend(loc="upper right")
    art["err_vjp"], = ax_e.loglog([], [], "o-", ms=3, color="tab:blue", label="VJP (through qr)")
    art["err_closed"], = ax_e.loglog([], [], "s-", ms=3, color="tab:orange",
                                     label="your closed form")
    art["guide1"], = ax_e.loglog([], [], ":", color="tab:blue", label=r"$10^{-16}/\sigma_{min}$")
    art["guide2"], = ax_e.loglog([], [], ":", color="tab:orange",
                                 label=r"$10^{-16}/\sigma_{min}^2$")
    art["err_marker"], = ax_e.loglog([], [], "o", ms=9, color="tab:red")
    ax_e.set(xlabel=r"$\sigma_{min}$", ylabel=r"relative error against $U S^{-1} V^\top$",
             title="Accuracy of the two gradients")
    ax_e.legend(loc="lower left", fontsize="small")
    update_conditioning(art, curve, sigma)
    return fig, art


def update_conditioning(art, curve, sigma: float, closed_label: str = "your closed form"):
    skip_layout_pass(art["fig"])
    s = np.asarray(curve.sigma_min)
    set_line(art["norm"], s, curve.norm_vjp)
    set_line(art["inverse"], s, 1.0 / s)
    i = int(np.argmin(np.abs(np.log(s) - np.log(sigma))))
    set_line(art["norm_marker"], [s[i]], [curve.norm_vjp[i]])
    floor = ROUND_OFF / 10
    set_line(art["err_vjp"], s, np.maximum(curve.err_vjp, floor))
    ok = np.isfinite(curve.err_closed)
    set_line(art["err_closed"], s[ok], np.maximum(curve.err_closed[ok], floor))
    art["err_closed"].set_label(closed_label)
    set_line(art["guide1"], s, np.minimum(1e-16 / s, 1.0))
    set_line(art["guide2"], s, np.minimum(1e-16 / s ** 2, 1.0))
    y = curve.err_closed[i] if ok[i] else curve.err_vjp[i]
    set_line(art["err_marker"], [s[i]], [max(y, floor)])
    art["axes"][1].legend(loc="lower left", fontsize="small")
    for ax in art["axes"]:
        rescale(ax)
    art["axes"][1].set_ylim(floor / 2, 10.0)


def linear_network_figure(result):
    """Left: directional derivatives of sum_{i<=k} lambda_i, autograd through every QR against
    central differences (and, for k = N, entries of autograd against the closed form). Right: the
    running estimate of sum_{i<=k} lambda_i against the steps, and log|det W|."""
    fig, (ax_s, ax_r) = new_figure(ncols=2, width=10.0, height=3.6)
    art = {"axes": (ax_s, ax_r), "fig": fig}
    art["dirs"], = ax_s.plot([], [], "o", ms=6, color="tab:blue",
                             label="random directions: FD")
    art["closed"], = ax_s.plot([], [], "x", ms=5, color="tab:red",
                               label=r"entries: closed form $W^{-\top}$")
    art["diag"], = ax_s.plot([], [], "-", lw=0.8, color="k")
    ax_s.set(xlabel="autograd through all the QRs", ylabel="finite differences / closed form",
             title=r"Gradient of $\Sigma_{i \leq k}\,\lambda_i$ with respect to $W$")
    art["running"], = ax_r.plot([], [], "-", color="tab:blue",
                                label=r"running $\Sigma_{i \leq k}\,\lambda_i$")
    art["logdet"] = ax_r.axhline(0.0, color="tab:red", ls="--", label=r"$\log|\det W|$")
    ax_r.set(xlabel="steps accumulated", ylabel="per step", title="The QR algorithm on D_t = W")
    update_linear_network(art, result)
    return fig, art


def update_linear_network(art, result):
    skip_layout_pass(art["fig"])
    ax_s, ax_r = art["axes"]
    set_line(art["dirs"], result.directions_autograd, result.directions_fd)
    xs = [result.directions_autograd]
    if result.closed is not None:
        set_line(art["closed"], np.ravel(result.autograd), np.ravel(result.closed))
        xs.append(np.ravel(result.autograd))
    else:
        set_line(art["closed"], [], [])
    art["closed"].set_visible(result.closed is not None)
    allx = np.concatenate(xs)
    set_line(art["diag"], [allx.min(), allx.max()], [allx.min(), allx.max()])
    handles = [art["dirs"]] + ([art["closed"]] if result.closed is not None else [])
    ax_s.legend(handles=handles, loc="upper left", fontsize="small")
    set_line(art["running"], result.steps, result.running)
    art["logdet"].set_ydata([result.log_det] * 2)
    ax_r.legend(loc="lower right", fontsize="small")
    ax_r.set_title(fr"The QR algorithm on $D_t = W$, $k = {result.n_exponents}$ of "
                   fr"$N = {result.w.shape[0]}$")
    rescale(ax_s)
    rescale(ax_r)
    lo, hi = ax_r.get_ylim()
    ax_r.set_ylim(min(lo, result.log_det - 0.2), max(hi, result.log_det + 0.2))


# --- notebook 04: flossing ---------------------------------------------------------------------------

LN10 = float(np.log(10.0))


def flossing_figure(result):
    """Four panels from a :class:`flosslab.course.demos.FlossingResult`: spectrum, loss, gradient
    norm through time, condition number of the long-term Jacobian (measured, and the prediction
    (lambda_1 - lambda_k) t / ln 10 dashed)."""
    fig, axes = new_figure(ncols=2, nrows=2, width=10.0, height=6.4)
    ax_s, ax_l, ax_g, ax_c = axes
    art = {"axes": axes}
    art["spec_before"], = ax_s.plot([], [], "o-", ms=3, lw=1, color=BEFORE, label="before")
    art["spec_after"], = ax_s.plot([], [], "o-", ms=3, lw=1, color=AFTER, label="after")
    art["k_line"] = ax_s.axvline(1, color="k", ls=":", lw=1)
    art["target_line"] = ax_s.axhline(0, color="k", lw=0.8, ls="--", label="target")
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)",
             title=r"Spectrum (dotted: the $k$ flossed)")
    ax_s.legend(loc="lower left")
    art["loss"], = ax_l.semilogy([], [], color=AFTER, lw=0.8, alpha=0.6, label="each step")
    art["loss_median"], = ax_l.semilogy([], [], color="k", lw=1.8, label="running median")
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Flossing loss")
    ax_l.legend(loc="upper right")
    art["fig"] = fig
    art["grad_before"], = ax_g.semilogy([], [], color=BEFORE, label="before")
    art["grad_after"], = ax_g.semilogy([], [], color=AFTER, label="after")
    art["grad_text"] = ax_g.text(0.02, 0.04, "", transform=ax_g.transAxes, fontsize="small")
    ax_g.set(xlabel="time step t (loss at the last step)",
             ylabel=r"$\|\partial L/\partial h_t\|$", title="Gradient norm through time")
    ax_g.legend(loc="best")
    art["cond_before"], = ax_c.plot([], [], "o-", ms=4, color=BEFORE, label="before")
    art["cond_after"], = ax_c.plot([], [], "o-", ms=4, color=AFTER, label="after")
    art["pred_before"], = ax_c.plot([], [], "--", lw=1.2, color=BEFORE,
                                    label=r"$(\lambda_1-\lambda_k)\,t/\ln 10$")
    art["pred_after"], = ax_c.plot([], [], "--", lw=1.2, color=AFTER)
    art["cond_text"] = ax_c.text(0.5, 0.5, "", transform=ax_c.transAxes, ha="center",
                                 va="center")
    ax_c.set(xlabel="window length t", ylabel=r"$\log_{10}\,\kappa(J_t)$",
             title=r"Condition number of $J_t$ (first $k$ singular values)")
    art["cond_legend"] = ax_c.legend(loc="upper left")
    light_log_axis(ax_l)
    light_log_axis(ax_g)
    for ax in (ax_s, ax_l, ax_g):
        integer_ticks(ax)
    update_flossing(art, result)
    return fig, art


def running_median(y, width: int = 9) -> np.ndarray:
    """Median of each window of ``width`` values (for display: the loss is noisy)."""
    y = np.asarray(y, dtype=float)
    half = width // 2
    return np.asarray([np.median(y[max(0, i - half):i + half + 1]) for i in range(y.size)])


def update_flossing(art, result):
    skip_layout_pass(art["fig"])
    k = result.n_exponents
    n = len(result.spectrum_before)
    idx = np.arange(1, n + 1)
    set_line(art["spec_before"], idx, result.spectrum_before)
    set_line(art["spec_after"], idx, result.spectrum_after)
    art["k_line"].set_xdata([k + 0.5] * 2)
    art["target_line"].set_ydata([result.target] * 2)
    steps = np.arange(1, len(result.losses) + 1)
    set_line(art["loss"], steps, result.losses)
    set_line(art["loss_median"], steps, running_median(result.losses))
    notes = []
    for key, values in (("grad_before", result.grad_before), ("grad_after", result.grad_after)):
        values = np.asarray(values, dtype=float)
        shown = values > 0
        set_line(art[key], result.grad_times[shown], values[shown])
        if not shown.all():
            notes.append(f"{key[5:]}: norm underflows to 0 (< 1e-308) for "
                         f"t <= {result.grad_times[~shown].max()}")
    art["grad_text"].set_text("\n".join(notes))
    ax_c = art["axes"][3]
    if result.cond_before is None:
        for key in ("cond_before", "cond_after", "pred_before", "pred_after"):
            set_line(art[key], [], [])
        art["cond_text"].set_text(r"$\kappa = \sigma_1/\sigma_k$ needs $k \geq 2$" + "\n"
                                  r"(with $k = 1$ there is one singular value)")
        art["cond_legend"].set_visible(False)
        ax_c.set_xlim(0, result.cond_times[-1] + 5)
        ax_c.set_ylim(0, 1)
    else:
        art["cond_text"].set_text("")
        art["cond_legend"].set_visible(True)
        ax_c.set_autoscale_on(True)
        t = np.asarray(result.cond_times)
        set_line(art["cond_before"], t, result.cond_before)
        set_line(art["cond_after"], t, result.cond_after)
        for key, spec in (("pred_before", result.spectrum_before),
                          ("pred_after", result.spectrum_after)):
            set_line(art[key], t, (spec[0] - spec[k - 1]) * t / LN10)
    for ax in art["axes"][:3]:
        rescale(ax)
    if result.cond_before is not None:
        rescale(ax_c)
        ax_c.set_ylim(bottom=0)


def flossing_history_figure(losses, window_exponents, target: float, label: str = "",
                            reference=None, reference_label: str = ""):
    """Left: the loss per flossing step (with its running median; ``reference`` another loss
    curve, its running median in grey). Right: the k exponents each step's loss was made of
    (running medians) and the target."""
    fig, (ax_l, ax_e) = new_figure(ncols=2, width=10.0, height=3.5)
    art = {"axes": (ax_l, ax_e)}
    if reference is not None:
        ax_l.semilogy(np.arange(1, len(reference) + 1), running_median(reference), color=BEFORE,
                      lw=1.8, label=reference_label)
    art["loss"], = ax_l.semilogy([], [], color=AFTER, lw=0.8, alpha=0.5)
    art["loss_median"], = ax_l.semilogy([], [], color=AFTER, lw=1.8)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Flossing loss")
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    integer_ticks(ax_e)
    art["exponents"] = []
    art["target"] = ax_e.axhline(target, color="k", ls="--", lw=1, label="target")
    ax_e.set(xlabel="flossing step", ylabel="exponent per step (running median)",
             title="The exponents each step saw (55-step windows)")
    update_flossing_history(art, losses, window_exponents, label or "running median")
    return fig, art


def update_flossing_history(art, losses, window_exponents, label: str):
    ax_l, ax_e = art["axes"]
    steps = np.arange(1, len(losses) + 1)
    set_line(art["loss"], steps, losses)
    set_line(art["loss_median"], steps, running_median(losses))
    art["loss_median"].set_label(label)
    ax_l.legend(loc="upper right")
    window_exponents = np.asarray(window_exponents)
    k = window_exponents.shape[1]
    while len(art["exponents"]) < k:
        i = len(art["exponents"])
        art["exponents"].append(ax_e.plot([], [], lw=1.2, label=fr"$\lambda_{{{i + 1}}}$"
                                          if i < 6 else None)[0])
    for i, line in enumerate(art["exponents"]):
        set_line(line, steps[:len(window_exponents)] if i < k else [],
                 running_median(window_exponents[:, i]) if i < k else [])
    ax_e.legend(loc="lower right", ncols=2)
    rescale(ax_l)
    rescale(ax_e)


def condition_collapse_figure(shipped: dict, live: tuple, live_label: str):
    """Left: the reproduction's log10 kappa(J_t) over 300 steps (N = 80, k = 75) before and after
    flossing (shipped results). Right: the same measurement live on a small network; ``live`` is
    (times, before, after)."""
    fig, (ax_p, ax_l) = new_figure(ncols=2, width=10.0, height=3.6)
    art = {"axes": (ax_p, ax_l)}
    for ax, key in ((ax_p, "shipped"), (ax_l, "live")):
        art[key + "_before"], = ax.plot([], [], "o-", ms=3, color=BEFORE, label="before flossing")
        art[key + "_after"], = ax.plot([], [], "o-", ms=3, color=AFTER, label="after flossing")
        art[key + "_text_before"] = ax.annotate("", (0, 0), textcoords="offset points",
                                                xytext=(-12, 0), ha="right", va="center",
                                                color=BEFORE, bbox=dict(fc="white", ec="none",
                                                                        pad=1))
        art[key + "_text_after"] = ax.annotate("", (0, 0), textcoords="offset points",
                                               xytext=(-4, 8), ha="right", color=AFTER)
        ax.set(xlabel="window length t", ylabel=r"$\log_{10}\,\kappa(J_t)$")
        ax.legend(loc="upper left")
    ax_p.set_title(f"shipped: N = {shipped['n']}, k = {shipped['k']}, "
                   f"{shipped['floss_steps']} flossing steps")
    _set_collapse(art, "shipped", (shipped["times"], shipped["before"], shipped["after"]))
    update_condition_collapse(art, live, live_label)
    return fig, art


def _set_collapse(art, key, data):
    times, before, after = (np.asarray(x, dtype=float) for x in data)
    set_line(art[key + "_before"], times, before)
    set_line(art[key + "_after"], times, after)
    art[key + "_text_before"].set_text(f"{before[-1]:.1f}")
    art[key + "_text_before"].xy = (times[-1], before[-1])
    art[key + "_text_after"].set_text(f"{after[-1]:.1f}")
    art[key + "_text_after"].xy = (times[-1], after[-1])
    ax = art["axes"][0 if key == "shipped" else 1]
    rescale(ax)
    ax.set_ylim(0, max(before.max(), after.max()) * 1.08)


def update_condition_collapse(art, live, live_label: str):
    _set_collapse(art, "live", live)
    art["axes"][1].set_title(live_label)


def flossing_loop_figure(result, reference_losses, n_exponents: int, target: float):
    """Demo 1: the loss of the student's loop against the reference loop's (left), and the
    leading exponents before and after (right; dotted: k)."""
    fig, (ax_l, ax_s) = new_figure(ncols=2, width=10.0, height=3.5)
    steps = np.arange(1, len(result.losses) + 1)
    ax_l.semilogy(steps, reference_losses, "-", color=BEFORE, lw=3, alpha=0.6,
                  label="reference loop")
    ax_l.semilogy(steps, result.losses, "o-", ms=3, color=AFTER, lw=1, label="your loop")
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    integer_ticks(ax_s)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Loss, step by step")
    ax_l.legend(loc="upper right")
    idx = np.arange(1, len(result.spectrum_before) + 1)
    ax_s.plot(idx, result.spectrum_before, "o-", ms=4, color=BEFORE, label="before")
    ax_s.plot(idx, result.spectrum_after, "o-", ms=4, color=AFTER, label="after")
    ax_s.axvline(n_exponents + 0.5, color="k", ls=":", lw=1)
    ax_s.axhline(target, color="k", ls="--", lw=0.8, label="target")
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step, 600 fresh bits)",
             title=r"Leading exponents (dotted: the $k$ flossed)")
    ax_s.legend(loc="lower left")
    return fig, {"axes": (ax_l, ax_s)}


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

def agreement_figure(agreement):
    """Left: max_i |h_numpy - h_torch| against t, with 1e-16 e^{lambda_1 t}. Right: the exponents
    of each computation (reference and engine, same Jacobians or separate trajectories)."""
    fig, (ax_d, ax_e) = new_figure(ncols=2, width=10.0, height=3.6)
    art = {"axes": (ax_d, ax_e), "fig": fig}
    art["div"], = ax_d.semilogy([], [], color="tab:blue", label="numpy state - torch state")
    art["pred"], = ax_d.semilogy([], [], ":", color="k", label=r"$10^{-16}\,e^{\lambda_1 t}$")
    ax_d.set(xlabel="step t", ylabel=r"$\max_i |h_{t,i}^{numpy} - h_{t,i}^{torch}|$",
             title="Two integrations of the same network")
    ax_d.legend(loc="upper left")
    light_log_axis(ax_d)
    art["sep_ref"], = ax_e.plot([], [], "o", ms=8, mfc="none", color=BEFORE,
                                label="reference, own trajectory")
    art["sep_eng"], = ax_e.plot([], [], "x", ms=8, color=AFTER, label="engine, own trajectory")
    art["same_eng"], = ax_e.plot([], [], ".", ms=6, color="tab:blue",
                                 label="engine, the reference's Jacobians")
    ax_e.axhline(0.0, color="k", lw=0.8)
    ax_e.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Exponents")
    ax_e.legend(loc="lower left", fontsize="small")
    integer_ticks(ax_e)
    update_agreement(art, agreement)
    return fig, art


def update_agreement(art, a):
    skip_layout_pass(art["fig"])
    ax_d, ax_e = art["axes"]
    div = np.maximum(a.divergence, 1e-17)
    set_line(art["div"], a.times, div)
    lam1 = a.separate_reference[0]
    pred = 1e-16 * np.exp(lam1 * a.times)
    shown = pred <= 10
    set_line(art["pred"], a.times[shown], pred[shown])
    idx = np.arange(1, a.separate_reference.size + 1)
    set_line(art["sep_ref"], idx, a.separate_reference)
    set_line(art["sep_eng"], idx, a.separate_engine)
    set_line(art["same_eng"], idx, a.same_engine)
    ax_d.set_title(f"Two integrations of the same network, g = {a.gain:.2f}")
    rescale(ax_d)
    ax_d.set_ylim(1e-17, 1e2)
    rescale(ax_e)


def ensemble_figure(gains, spectra, n_shown: int = 4):
    """lambda_1..lambda_n of each member against its gain (spectra (E, k)): one batched call."""
    fig, (ax,) = new_figure(width=7.0, height=3.6)
    art = {"ax": ax, "fig": fig, "lines": [ax.plot([], [], "o-", ms=4,
                                                   label=fr"$\lambda_{i + 1}$")[0]
                                           for i in range(n_shown)]}
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="gain g of the member", ylabel="exponent (per step)",
           title="An ensemble's spectra (driven by random bits), one batched call")
    ax.legend(loc="lower right")
    update_ensemble(art, gains, spectra)
    return fig, art


def update_ensemble(art, gains, spectra):
    skip_layout_pass(art["fig"])
    spectra = np.asarray(spectra)
    for i, line in enumerate(art["lines"]):
        set_line(line, gains, spectra[:, i])
    rescale(art["ax"])


def ensemble_flossing_figure(result):
    """Each member's leading exponents before (first step's window) and after flossing (last five
    windows), against its gain; and every member's loss per step."""
    fig, (ax_e, ax_l) = new_figure(ncols=2, width=10.0, height=3.6)
    k = result.exponents_before.shape[1]
    for i in range(k):
        ax_e.plot(result.gains, result.exponents_before[:, i], "o--", ms=4, color=BEFORE,
                  alpha=0.4 + 0.6 * (i == 0), label="before" if i == 0 else None)
        ax_e.plot(result.gains, result.exponents_after[:, i], "o-", ms=4, color=AFTER,
                  alpha=0.4 + 0.6 * (i == 0), label="after" if i == 0 else None)
    ax_e.axhline(0.0, color="k", lw=0.8)
    ax_e.set(xlabel="gain g of the member", ylabel=r"$\lambda_1 \dots \lambda_k$ (per step)",
             title=r"Flossed together (dark: $\lambda_1$)")
    ax_e.legend(loc="lower left")
    steps = np.arange(1, result.losses.shape[0] + 1)
    for j, g in enumerate(result.gains):
        ax_l.semilogy(steps, result.losses[:, j], lw=1.2, label=f"g = {g:.1f}")
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$ of each member", title="Losses")
    ax_l.legend(loc="upper right", ncols=2, fontsize="small")
    return fig, {"axes": (ax_e, ax_l)}


def cell_spectra_figure(spectra: dict):
    """One spectrum per named cell, sorted in descending order for display."""
    fig, (ax,) = new_figure(width=7.0, height=3.4)
    for name, lam in spectra.items():
        lam = np.sort(np.asarray(lam))[::-1]
        ax.plot(np.arange(1, lam.size + 1), lam, "o-", ms=3, label=f"{name} ({lam.size})")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Spectra of torch cells")
    integer_ticks(ax)
    ax.legend(loc="lower left")
    return fig, {"ax": ax}


def cell_spectrum_figure(mine, reference, label: str):
    """A cell's full spectrum from the student's Jacobians (dots) and the engine's (circles)."""
    fig, (ax,) = new_figure(width=7.0, height=3.4)
    art = {"ax": ax, "fig": fig}
    art["ref"], = ax.plot([], [], "o", ms=9, mfc="none", color=BEFORE, label="engine (vmap, jacrev)")
    art["mine"], = ax.plot([], [], ".-", ms=6, color=AFTER, label="your cell_jacobian")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)")
    ax.legend(loc="lower left")
    integer_ticks(ax)
    update_cell_spectrum(art, mine, reference, label)
    return fig, art


def update_cell_spectrum(art, mine, reference, label: str):
    skip_layout_pass(art["fig"])
    idx = np.arange(1, len(mine) + 1)
    set_line(art["mine"], idx, mine)
    set_line(art["ref"], idx, reference)
    art["ax"].set_title(label)
    rescale(art["ax"])


def flossed_cells_figure(results):
    """For each flossed cell: its first k exponents before and after (left), its loss (right)."""
    fig, (ax_e, ax_l) = new_figure(ncols=2, width=10.0, height=3.5)
    markers = ("o", "s", "^")
    for r, marker in zip(results, markers):
        idx = np.arange(1, r.before.size + 1)
        ax_e.plot(idx, r.before, marker + "--", ms=5, color=BEFORE, label=f"{r.name} before")
        ax_e.plot(idx, r.after, marker + "-", ms=5, color=AFTER, label=f"{r.name} after")
        ax_l.semilogy(np.arange(1, r.losses.size + 1), r.losses, marker + "-", ms=3, lw=1,
                      label=r.name)
    ax_e.axhline(0.0, color="k", lw=0.8)
    ax_e.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step, 300 fresh bits)",
             title="Flossing torch cells: floss_cell")
    ax_e.legend(loc="lower left", ncols=2, fontsize="small")
    integer_ticks(ax_e)
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Loss")
    ax_l.legend(loc="upper right")
    return fig, {"axes": (ax_e, ax_l)}


def cost_figure(sizes, seconds, xlabel: str, model=None, label: str = "measured"):
    """Measured seconds per flossing step against a size (log-log); ``model`` (sizes, seconds)
    the fitted c0 + c1 T (N^2 k + N k^2), dashed."""
    fig, (ax,) = new_figure(width=7.0, height=3.6)
    art = {"ax": ax, "fig": fig}
    art["line"], = ax.loglog([], [], "o-", label=label)
    art["model"], = ax.loglog([], [], "--", color="k",
                              label=r"fit: $c_0 + c_1 T (N^2 k + N k^2)$")
    art["overhead"] = ax.axhline(np.nan, color="tab:gray", ls=":", label=r"overhead $c_0$")
    ax.set(xlabel=xlabel, ylabel="seconds per flossing step", title="Measured cost")
    ax.legend(loc="upper left", fontsize="small")
    update_cost(art, sizes, seconds, xlabel, model)
    return fig, art


def update_cost(art, sizes, seconds, xlabel: str, model=None, overhead=None, label=None):
    skip_layout_pass(art["fig"])
    set_line(art["line"], sizes, seconds)
    if label:
        art["line"].set_label(label)
    if model is not None:
        set_line(art["model"], *model)
    art["overhead"].set_ydata([overhead if overhead else np.nan] * 2)
    art["ax"].set_xlabel(xlabel)
    art["ax"].legend(loc="upper left", fontsize="small")
    rescale(art["ax"])
