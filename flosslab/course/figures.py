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


# --- notebook 00: the lecturer's guide ----------------------------------------------------------------

def key_result_figure(results):
    """The course's key result from shipped data (a :func:`demos.key_results` dict): final accuracy
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
    axes[-1].legend(loc="lower left")
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


# --- notebook 01: gradient norms through time ------------------------------------------------------

#: log10 of the smallest normal float64 (2.2e-308) and of its square root (1.5e-154): below the
#: first the entries of delta underflow, below the second sqrt(sum delta^2) reads 0.
LOG10_TINY = float(np.log10(np.finfo(np.float64).tiny))
LOG10_SQRT_TINY = LOG10_TINY / 2


def gradient_norm_figure(data):
    """log10 ||delta_t|| against t, one line per gain (a :class:`demos.GradientNorms`); a cross
    where plain float64 backprop's norm first reads 0, a dotted line at 1e-154 and 2.2e-308 when
    the curves reach them."""
    fig, (ax,) = new_figure(width=8.5, height=3.8)
    lines = [ax.plot([], [], lw=2)[0] for _ in data.gains]
    marks = [ax.plot([], [], "x", ms=10, mew=2.5)[0] for _ in data.gains]
    ref_sqrt = ax.axhline(LOG10_SQRT_TINY, color="0.5", ls=":", lw=1.2)
    ref_tiny = ax.axhline(LOG10_TINY, color="0.3", ls="--", lw=1.2)
    text_sqrt = ax.text(0.01, LOG10_SQRT_TINY, r" $10^{-154}$: $\sqrt{\sum\delta^2}$ underflows",
                        transform=ax.get_yaxis_transform(), va="bottom", color="0.4")
    text_tiny = ax.text(0.01, LOG10_TINY, r" $2\times10^{-308}$: $\delta$ itself underflows",
                        transform=ax.get_yaxis_transform(), va="bottom", color="0.2")
    ax.set_xlabel("time step t (the loss is at the last step T)")
    ax.set_ylabel(r"$\log_{10}\,\|\delta_t\|$")
    ax.set_title(r"Backpropagated error $\delta_t = \partial L/\partial h_t$ (exact logs; "
                 r"$\times$: plain float64 reads 0)")
    artists = {"ax": ax, "lines": lines, "marks": marks, "refs": (ref_sqrt, ref_tiny),
               "texts": (text_sqrt, text_tiny)}
    update_gradient_norms(artists, data)
    return fig, artists


def update_gradient_norms(artists, data):
    ax = artists["ax"]
    colours = _gain_colours(data.gains)
    for line, mark, y, plain, g, colour, t0 in zip(artists["lines"], artists["marks"],
                                                   data.log10_norms, data.float64_norms,
                                                   data.gains, colours, data.norm_reads_zero):
        set_line(line, data.times, y)
        line.set_color(colour)
        line.set_label(f"g = {g:.2f}")
        mark.set_color(colour)
        set_line(mark, [t0] if t0 else [], [y[t0 - 1]] if t0 else [])
    finite = data.log10_norms[np.isfinite(data.log10_norms)]
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.06 * max(hi - lo, 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(0, data.times[-1] + 1)
    for ref, text, level in zip(artists["refs"], artists["texts"], (LOG10_SQRT_TINY, LOG10_TINY)):
        ref.set_visible(lo - pad < level)
        text.set_visible(lo - pad < level)
    ax.legend(loc="lower right", ncols=2 if len(data.gains) > 3 else 1)


def rate_figure(result, gain_index: int = 0):
    """Left: ln ||delta_t|| against t for every seed at one gain, with the fitted lines (the fit
    ignores the first ``skip`` steps back from the loss, shaded). Right: fitted rate against
    lambda_1 for every gain and seed, the chosen gain highlighted."""
    fig, (ax_n, ax_r) = new_figure(ncols=2, width=10.0, height=3.8)
    n_seeds = len(result.seeds)
    colours = [mpl.colormaps["tab10"](i) for i in range(n_seeds)]
    curves = [ax_n.plot([], [], lw=1.6, color=c)[0] for c in colours]
    fits = [ax_n.plot([], [], "--", lw=1.4, color="k")[0] for _ in range(n_seeds)]
    fits[0].set_label("fitted line")
    shade = ax_n.axvspan(0, 1, color="0.85", zorder=0, label="not fitted")
    ax_n.set(xlabel="time step t", ylabel=r"$\ln\,\|\delta_t\|$")
    (everything,) = ax_r.plot([], [], "o", color="0.7", ms=5, label="all gains")
    (chosen,) = ax_r.plot([], [], "o", color="tab:red", ms=7)
    (diagonal,) = ax_r.plot([], [], "-", color="k", lw=0.8, label="rate = $\\lambda_1$")
    ax_r.set(xlabel=r"$\lambda_1$ (QR, per step)", ylabel="fitted rate (per step)",
             title="Growth rate of the gradient against $\\lambda_1$")
    art = {"ax_norms": ax_n, "ax_rates": ax_r, "curves": curves, "fits": fits, "shade": shade,
           "everything": everything, "chosen": chosen, "diagonal": diagonal}
    update_rate(art, result, gain_index)
    return fig, art


def update_rate(art, result, gain_index: int):
    ax_n, ax_r = art["ax_norms"], art["ax_rates"]
    logs = result.log_norms[gain_index]
    seq_len = logs.shape[-1]
    t = np.arange(1, seq_len + 1)
    fitted = t <= seq_len - result.skip
    for curve, fit, y, rate in zip(art["curves"], art["fits"], logs, result.rates[gain_index]):
        set_line(curve, t, y)
        anchor = np.mean(y[fitted] - rate * (seq_len - t[fitted]))
        set_line(fit, t[fitted], anchor + rate * (seq_len - t[fitted]))
    art["shade"].set_x(seq_len - result.skip + 0.5)
    art["shade"].set_width(result.skip + 1)
    ax_n.set_title(f"g = {result.gains[gain_index]:.2f}: {len(result.seeds)} seeds, T = {seq_len}")
    ax_n.legend(loc="best")
    ax_n.set_xlim(0, seq_len + 1)
    set_line(art["everything"], result.exponents.ravel(), result.rates.ravel())
    set_line(art["chosen"], result.exponents[gain_index], result.rates[gain_index])
    art["chosen"].set_label(f"g = {result.gains[gain_index]:.2f}")
    both = np.concatenate([result.exponents.ravel(), result.rates.ravel()])
    lo, hi = float(both.min()), float(both.max())
    pad = 0.05 * max(hi - lo, 0.1)
    set_line(art["diagonal"], [lo - pad, hi + pad], [lo - pad, hi + pad])
    ax_r.legend(loc="upper left")
    rescale(ax_n)
    ax_n.set_xlim(0, seq_len + 1)
    rescale(ax_r)


def driven_figure(driven, autonomous_result, labels=("driven", "autonomous")):
    """Left: lambda_1 against g, median over seeds and the range (band), for a driven network and
    the autonomous one; dotted: where each median reaches 0. Right: the mean slope tanh'(a)."""
    fig, (ax_l, ax_s) = new_figure(ncols=2, width=10.5, height=3.8)
    art = {"ax_lambda": ax_l, "ax_slope": ax_s, "lam": [], "slope": [], "bands": [],
           "slope_bands": [], "cross": []}
    for colour in ("tab:blue", "0.45"):
        art["lam"].append(ax_l.plot([], [], "o-", ms=4, color=colour)[0])
        art["slope"].append(ax_s.plot([], [], "o-", ms=4, color=colour)[0])
        art["cross"].append(ax_l.axvline(1.0, color=colour, ls=":", lw=1.6))
        art["bands"].append(None)
        art["slope_bands"].append(None)
    ax_l.axhline(0.0, color="k", lw=0.8)
    ax_l.set(xlabel="gain g", ylabel=r"$\lambda_1$ (per step)",
             title=r"$\lambda_1$: median and range over seeds")
    ax_s.set(xlabel="gain g", ylabel=r"mean $\tanh'(a_t)$ over units and steps",
             title="How far from saturation: 1 = linear, 0 = saturated")
    ax_s.set_ylim(0.0, 1.05)
    update_driven(art, driven, autonomous_result, labels)
    return fig, art


def update_driven(art, driven, autonomous_result, labels=("driven", "autonomous")):
    ax_l, ax_s = art["ax_lambda"], art["ax_slope"]
    for i, (res, label) in enumerate(zip((driven, autonomous_result), labels)):
        colour = art["lam"][i].get_color()
        med = np.median(res.lam1, axis=1)
        set_line(art["lam"][i], res.gains, med)
        cross = np.nanmedian(res.crossing) if np.isfinite(res.crossing).any() else np.nan
        art["lam"][i].set_label(f"{label}: " + (f"reaches 0 at g = {cross:.2f}"
                                                 if np.isfinite(cross) else "never reaches 0"))
        art["cross"][i].set_xdata([cross if np.isfinite(cross) else np.nan] * 2)
        set_line(art["slope"][i], res.gains, np.median(res.slope, axis=1))
        art["slope"][i].set_label(label)
        for key, ax, values in (("bands", ax_l, res.lam1), ("slope_bands", ax_s, res.slope)):
            if art[key][i] is not None:
                art[key][i].remove()
            art[key][i] = ax.fill_between(res.gains, values.min(axis=1), values.max(axis=1),
                                          color=colour, alpha=0.2, lw=0)
    ax_l.legend(loc="lower right")
    ax_s.legend(loc="upper right")
    rescale(ax_l)
    ax_s.set_xlim(ax_l.get_xlim())


# --- notebook 02: spectra ---------------------------------------------------------------------------

def spectrum_figure(exponents, steps, estimates, n_shown: int = 5):
    """Left: lambda_i against i. Right: running estimates of the first ``n_shown`` exponents."""
    fig, (ax_s, ax_c) = new_figure(ncols=2, width=10.0, height=3.8)
    (points,) = ax_s.plot([], [], "o-", ms=3, lw=1, color="tab:blue")
    ax_s.axhline(0.0, color="k", lw=0.8)
    ax_s.set_xlabel("index i")
    ax_s.set_ylabel(r"$\lambda_i$ (per step)")
    ax_s.set_title("Lyapunov spectrum")
    text = ax_s.text(0.97, 0.95, "", transform=ax_s.transAxes, ha="right", va="top",
                     bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9})
    conv = [ax_c.plot([], [], lw=1.5, label=fr"$\lambda_{i + 1}$")[0] for i in range(n_shown)]
    ax_c.axhline(0.0, color="k", lw=0.8)
    ax_c.set_xlabel("steps accumulated (after the transient)")
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
            line.set_label(fr"$\lambda_{i + 1}$")
        else:
            set_line(line, [], [])
            line.set_visible(False)
            line.set_label("_hidden")
    artists["ax_convergence"].legend(loc="lower right", ncols=2)
    artists["text"].set_text(note)
    artists["text"].set_visible(bool(note))
    rescale(artists["ax_spectrum"])
    rescale(artists["ax_convergence"])


def spectrum_vs_gain_figure(gains, spectra, n_shown: int = 5):
    """lambda_1..lambda_n against the gain g (spectra: (n_gains, >= n_shown)), one seed."""
    fig, (ax,) = new_figure(width=6.5, height=3.4)
    spectra = np.asarray(spectra)
    for i in range(min(n_shown, spectra.shape[1])):
        ax.plot(gains, spectra[:, i], "o-", ms=3, label=fr"$\lambda_{i + 1}$")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel("gain g")
    ax.set_ylabel("exponent (per step)")
    ax.set_title("Transition to chaos")
    ax.legend()
    return fig, {"ax": ax}


def spectrum_vs_gain_seeds_figure(gains, spectra, n_shown: int = 3, max_shown: int = 5):
    """lambda_1..lambda_n against g: the median over seeds (line) and their range (band).
    spectra: (n_gains, n_seeds, k); dotted: g = 1 and the curve log g."""
    fig, (ax,) = new_figure(width=8.0, height=3.8)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    (log_g,) = ax.plot([], [], ":", color="0.3", lw=1.5, label=r"$\log g$")
    lines = [ax.plot([], [], "o-", ms=4, color=mpl.colormaps["tab10"](i))[0]
             for i in range(max_shown)]
    ax.set(xlabel="gain g", ylabel="exponent (per step)",
           title="Autonomous network: median and range over seeds")
    art = {"ax": ax, "lines": lines, "bands": [None] * max_shown, "log_g": log_g}
    update_spectrum_vs_gain_seeds(art, gains, spectra, n_shown)
    return fig, art


def update_spectrum_vs_gain_seeds(art, gains, spectra, n_shown: int):
    spectra = np.asarray(spectra)
    gains = np.asarray(gains, dtype=float)
    ax = art["ax"]
    for i, line in enumerate(art["lines"]):
        if art["bands"][i] is not None:
            art["bands"][i].remove()
            art["bands"][i] = None
        if i < min(n_shown, spectra.shape[2]):
            set_line(line, gains, np.median(spectra[:, :, i], axis=1))
            line.set_visible(True)
            line.set_label(fr"$\lambda_{i + 1}$")
            art["bands"][i] = ax.fill_between(gains, spectra[:, :, i].min(axis=1),
                                              spectra[:, :, i].max(axis=1),
                                              color=line.get_color(), alpha=0.2, lw=0)
        else:
            set_line(line, [], [])
            line.set_visible(False)
            line.set_label("_hidden")
    below = gains[gains <= 1.0]
    set_line(art["log_g"], below, np.log(below))
    ax.legend(loc="lower right", ncols=2)
    rescale(ax)
    lo = float(np.nanmin(spectra[:, :, :n_shown]))
    ax.set_ylim(min(lo, 0.0) - 0.1, max(float(np.nanmax(spectra[:, :, 0])), 0.0) + 0.1)


#: Errors below this are drawn at it (a log axis cannot show 0).
ERROR_FLOOR = 1e-16
#: The round-off panel's x axis ends here: beyond it every error is of order 1 (the lost columns).
EXPOSURE_SHOWN = 60.0


def interval_errors_figure(result, selected: int, rule: float = 15.0):
    """Left: the spectrum with a QR every step and every m steps. Right: the error of every
    exponent for every m against m (lambda_1 - lambda_i), the selected m highlighted; dotted: the
    rule of thumb m (lambda_1 - lambda_k) = ``rule``."""
    fig, (ax_s, ax_e) = new_figure(ncols=2, width=10.5, height=3.8)
    (ref,) = ax_s.plot([], [], "-", lw=2.2, color="0.5", label="QR every step (m = 1)")
    (sel,) = ax_s.plot([], [], "o", ms=4, color="tab:red")
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Spectrum")
    (cloud,) = ax_e.plot([], [], ".", ms=5, color="0.65", label="all m")
    (chosen,) = ax_e.plot([], [], "o", ms=6, color="tab:red")
    ax_e.axvline(rule, color="k", ls=":", lw=1.2, label=f"m$(\\lambda_1-\\lambda_i)$ = {rule:g}")
    ax_e.set_yscale("log")
    ax_e.set(xlabel=r"m $(\lambda_1 - \lambda_i)$",
             ylabel=r"$|\lambda_i(m) - \lambda_i(1)|$", title="Round-off error of each exponent")
    art = {"ax_spectrum": ax_s, "ax_error": ax_e, "reference": ref, "selected": sel,
           "cloud": cloud, "chosen": chosen}
    update_interval_errors(art, result, selected)
    return fig, art


def update_interval_errors(art, result, selected: int):
    i = np.arange(1, result.reference.size + 1)
    m = int(result.intervals[selected])
    set_line(art["reference"], i, result.reference)
    set_line(art["selected"], i, result.exponents[selected])
    art["selected"].set_label(f"QR every m = {m} steps")
    others = result.intervals > 1
    errors = np.maximum(result.errors, ERROR_FLOOR)
    set_line(art["cloud"], result.exposure[others].ravel(), errors[others].ravel())
    set_line(art["chosen"], result.exposure[selected], errors[selected])
    art["chosen"].set_label(f"m = {m}")
    top = float(result.exposure.max())
    art["cloud"].set_label("all m" + (f" (x > {EXPOSURE_SHOWN:g} not shown)"
                                      if top > EXPOSURE_SHOWN else ""))
    art["ax_spectrum"].legend(loc="lower left")
    art["ax_error"].legend(loc="lower right")
    rescale(art["ax_spectrum"])
    art["ax_error"].set_xlim(0, min(max(top, 20.0) * 1.03, EXPOSURE_SHOWN))
    art["ax_error"].set_ylim(ERROR_FLOOR / 3, max(float(errors.max()) * 3, 1e-6))


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
