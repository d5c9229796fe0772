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

from ..core.style import AFTER, BEFORE, SCHEDULE_COLOURS, SCHEDULE_LABELS, new_figure


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


# --- notebook 05: delayed tasks and training -------------------------------------------------------

def task_figure(bits, targets, scored, lags, t_selected: int, title: str = ""):
    """Inputs x_t and targets z_t as two rows of cells; the unscored steps t < d are greyed; arrows
    join z_t at the selected step to the inputs x_{t - lag} it is the XOR of."""
    fig, (ax,) = new_figure(width=9.5, height=2.6)
    art = {"ax": ax, "arrows": [], "texts": []}
    art["image"] = ax.imshow(np.zeros((2, len(bits))), cmap="Greys", vmin=0, vmax=1.6,
                             aspect="auto", interpolation="nearest")
    art["shade"] = ax.axvspan(-0.5, -0.5, color="tab:orange", alpha=0.18, lw=0)
    art["target_box"], = ax.plot([], [], "s", ms=16, mfc="none", mec="tab:red", mew=2.5)
    art["input_boxes"], = ax.plot([], [], "s", ms=16, mfc="none", mec="tab:blue", mew=2.5)
    ax.set_yticks([0, 1], ["input $x_t$", "target $z_t$"])
    ax.set_xlabel("time step t (shaded: t < d, not scored)")
    update_task(art, bits, targets, scored, lags, t_selected, title)
    return fig, art


def update_task(art, bits, targets, scored, lags, t_selected: int, title: str = ""):
    ax = art["ax"]
    bits, targets = np.asarray(bits), np.asarray(targets)
    t_len = len(bits)
    art["image"].set_data(np.stack([bits, np.where(scored, targets, 0)]).astype(float))
    art["image"].set_extent((-0.5, t_len - 0.5, 1.5, -0.5))
    first = int(np.argmax(scored)) if np.any(scored) else t_len
    art["shade"].set_x(-0.5)
    art["shade"].set_width(first)
    for old in art["arrows"] + art["texts"]:
        old.remove()
    art["arrows"], art["texts"] = [], []
    for t in range(t_len):
        art["texts"].append(ax.text(t, 0, str(bits[t]), ha="center", va="center", fontsize=9,
                                    color="w" if bits[t] else "k"))
        if scored[t]:
            art["texts"].append(ax.text(t, 1, str(targets[t]), ha="center", va="center",
                                        fontsize=9, color="w" if targets[t] else "k"))
    t = int(np.clip(t_selected, 0, t_len - 1))
    if scored[t]:
        sources = [t - lag for lag in lags]
        set_line(art["target_box"], [t], [1])
        set_line(art["input_boxes"], sources, [0] * len(sources))
        for s in sources:
            art["arrows"].append(ax.annotate("", xy=(t, 0.72), xytext=(s, 0.28),
                                             arrowprops=dict(arrowstyle="->", color="tab:red",
                                                             lw=1.5)))
    else:
        set_line(art["target_box"], [], [])
        set_line(art["input_boxes"], [], [])
    ax.set_xlim(-0.5, t_len - 0.5)
    ax.set_title(title)


def delay_gradient_figure(result, delay: int):
    """||dL/dh_{T-l}|| / ||dL/dh_T|| against the lag l before and after preflossing (log axis), with
    the decay exp(lambda_1 l) the largest exponent predicts (dashed) and the delay d marked."""
    fig, (ax,) = new_figure(width=8.0, height=3.5)
    art = {"ax": ax}
    art["before"], = ax.semilogy([], [], color=BEFORE, lw=2, label="before flossing")
    art["after"], = ax.semilogy([], [], color=AFTER, lw=2, label="after preflossing")
    art["pred_before"], = ax.semilogy([], [], "--", color=BEFORE, lw=1.2,
                                      label=r"$e^{\lambda_1 l}$ (before)")
    art["pred_after"], = ax.semilogy([], [], "--", color=AFTER, lw=1.2,
                                     label=r"$e^{\lambda_1 l}$ (after)")
    art["delay"] = ax.axvline(delay, color="k", ls=":", lw=1)
    art["marks"], = ax.semilogy([], [], "o", color="k", ms=7)
    ax.set(xlabel="lag l (steps back from the loss at the last step)",
           ylabel=r"$\|\delta_{T-l}\| \,/\, \|\delta_T\|$",
           title="How much of the error signal reaches l steps back")
    ax.legend(loc="lower left", fontsize="small")
    update_delay_gradient(art, result, delay)
    return fig, art


def update_delay_gradient(art, result, delay: int):
    lags = np.asarray(result.lags)
    set_line(art["before"], lags, result.before)
    set_line(art["after"], lags, result.after)
    set_line(art["pred_before"], lags, np.exp(result.lam1_before * lags))
    set_line(art["pred_after"], lags, np.exp(result.lam1_after * lags))
    d = int(np.clip(delay, 0, lags[-1]))
    art["delay"].set_xdata([d, d])
    set_line(art["marks"], [d, d], [result.before[d], result.after[d]])
    art["ax"].set_title(f"Error signal reaching l steps back (k = {result.n_exponents} flossed)")
    rescale(art["ax"])


def smooth(y, width: int = 10):
    """Running mean for display (not analysis): keeps a noisy loss curve readable."""
    y = np.asarray(y, dtype=float)
    if y.size < width:
        return y
    return np.convolve(y, np.ones(width) / width, mode="valid")


def seed_curves_figure():
    """Empty accuracy and loss panels; runs on several seeds are added with :func:`add_seed_runs`."""
    fig, (ax_a, ax_l) = new_figure(ncols=2, width=10.0, height=3.6)
    ax_a.axhline(0.5, color="k", lw=0.8, ls=":")
    ax_a.set(xlabel="epoch", ylabel="accuracy (fresh sequences)", ylim=(0.4, 1.02),
             title="Accuracy: median (thick), each seed (thin)")
    ax_l.set(xlabel="epoch", ylabel="task loss (BCE), smoothed", title="Loss (median over seeds)")
    return fig, {"ax_accuracy": ax_a, "ax_loss": ax_l, "runs": [], "legend": None}


def add_seed_runs(art, runs, label: str, colour=None):
    """Add one schedule trained on several seeds (a :class:`~flosslab.course.demos.SeedRuns`):
    thin lines per seed, the median thick, the band between the lowest and highest seed."""
    ax_a, ax_l = art["ax_accuracy"], art["ax_loss"]
    acc = np.asarray(runs.accuracy)
    (median,) = ax_a.plot(runs.eval_epochs, np.median(acc, axis=0), "o-", ms=4, lw=2.4,
                          color=colour, label=label)
    colour = median.get_color()
    artists = [median]
    artists.append(ax_a.fill_between(runs.eval_epochs, acc.min(0), acc.max(0), color=colour,
                                     alpha=0.15, lw=0))
    for row in acc:
        artists += ax_a.plot(runs.eval_epochs, row, "-", lw=0.8, alpha=0.6, color=colour)
    loss = np.median(np.asarray(runs.loss), axis=0)
    y = smooth(loss)
    artists += ax_l.plot(np.arange(1, y.size + 1) + (loss.size - y.size), y, color=colour, lw=2,
                         label=label)
    art["runs"].append(artists)
    _outside_legend(art)
    rescale(ax_l)
    return artists


def _outside_legend(art):
    """One legend for both panels, below them, so it never hides a curve."""
    fig = art["ax_accuracy"].figure
    if art.get("legend") is not None:
        art["legend"].remove()
        art["legend"] = None
    handles, labels = art["ax_accuracy"].get_legend_handles_labels()
    if handles:
        art["legend"] = fig.legend(handles, labels, loc="outside lower center", ncols=3,
                                   fontsize="small")


def clear_seed_runs(art):
    for artists in art["runs"]:
        for a in artists:
            a.remove()
    art["runs"].clear()
    _outside_legend(art)


# --- notebook 06: why it works --------------------------------------------------------------------

def condition_window_figure(curve, gain: float):
    """log10 kappa(J_t) against the window t: measured (points) and (lambda_1 - lambda_k) t / ln 10
    (line); right: the exponents lambda_1..lambda_k."""
    fig, (ax, ax_s) = new_figure(ncols=2, width=10.0, height=3.5)
    art = {"axes": (ax, ax_s)}
    art["measured"], = ax.plot([], [], "o", ms=7, color="tab:blue", label="measured (SVD of $J_t$)")
    art["predicted"], = ax.plot([], [], "-", color="tab:red",
                                label=r"$(\lambda_1-\lambda_k)\,t\,/\ln 10$")
    ax.set(xlabel="window length t (steps)", ylabel=r"$\log_{10}\kappa(J_t)$",
           title="Condition number of the long-term Jacobian")
    ax.legend(fontsize="small", loc="upper left")
    art["spectrum"], = ax_s.plot([], [], "o-", ms=4, color="tab:blue")
    art["ends"], = ax_s.plot([], [], "o", ms=9, mfc="none", mec="tab:red", mew=2)
    ax_s.axhline(0.0, color="k", lw=0.8)
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Exponents")
    ax_s.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    update_condition_window(art, curve, gain)
    return fig, art


def update_condition_window(art, curve, gain: float):
    ax, ax_s = art["axes"]
    set_line(art["measured"], curve.times, curve.measured)
    t = np.linspace(0, curve.times[-1], 50)
    set_line(art["predicted"], t, (curve.exponents[0] - curve.exponents[-1]) * t / np.log(10))
    lam = np.asarray(curve.exponents)
    set_line(art["spectrum"], np.arange(1, lam.size + 1), lam)
    set_line(art["ends"], [1, lam.size], [lam[0], lam[-1]])
    ax_s.set_title(rf"Exponents at g = {gain:.2f}: $\lambda_1-\lambda_k$ = {lam[0] - lam[-1]:.3f}")
    rescale(ax)
    ax.set_ylim(bottom=0)
    rescale(ax_s)


def _band(ax, x, values, colour, label=None, seeds=True):
    """Median (thick), interquartile band and (optionally) each row of ``values`` (thin)."""
    values = np.asarray(values, dtype=float)
    q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=0)
    out = ax.plot(x, q50, "o-", ms=4, lw=2.4, color=colour, label=label)
    out.append(ax.fill_between(x, q25, q75, color=colour, alpha=0.2, lw=0))
    if seeds:
        for row in values:
            out += ax.plot(x, row, "-", lw=0.8, alpha=0.5, color=colour)
    return out


def seed_checkpoints_figure(ckpt, selected: int = 0):
    """log10 kappa(J_t) and the effective rank of dL/dW against flossing steps (median, quartiles,
    each seed), and the singular values of J_t at the selected checkpoint (median over seeds)."""
    fig, axes = new_figure(ncols=3, width=11.0, height=3.5)
    art = {"axes": axes, "lines": []}
    axes[0].set(xlabel="flossing steps", ylabel=r"$\log_{10}\kappa(J_t)$", title="Condition number")
    axes[1].set(xlabel="flossing steps", ylabel="effective rank",
                title=r"Effective rank of $\partial L/\partial W$")
    axes[2].set(xlabel="index i", ylabel=r"$\log_{10}\sigma_i(J_t)$",
                title="Singular values (median)")
    update_seed_checkpoints(art, ckpt, selected)
    return fig, art


def update_seed_checkpoints(art, ckpt, selected: int):
    ax_c, ax_r, ax_s = art["axes"]
    for a in art["lines"]:
        a.remove()
    art["lines"] = []
    steps = np.asarray(ckpt.steps)
    art["lines"] += _band(ax_c, steps, ckpt.cond, "tab:blue")
    art["lines"] += _band(ax_r, steps, ckpt.eff_rank, "tab:green")
    i = int(selected)
    art["lines"] += ax_c.plot([steps[i]], [np.median(ckpt.cond[:, i])], "o", ms=11, color="tab:red")
    art["lines"] += ax_r.plot([steps[i]], [np.median(ckpt.eff_rank[:, i])], "o", ms=11,
                              color="tab:red")
    sv = np.asarray(ckpt.log_sv)[:, i, :] / np.log(10.0)
    idx = np.arange(1, sv.shape[1] + 1)
    art["lines"] += _band(ax_s, idx, sv, "tab:red", seeds=False)
    if i:
        art["lines"] += ax_s.plot(idx, np.median(np.asarray(ckpt.log_sv)[:, 0, :], 0) / np.log(10),
                                  "--", color=BEFORE, lw=1.5, label="before flossing")
        ax_s.legend(fontsize="small", loc="lower left")
    elif ax_s.get_legend() is not None:
        ax_s.get_legend().remove()
    ax_s.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax_s.set_title(f"Singular values after {steps[i]} steps (median)")
    ax_c.set_title(f"Condition number, k = {ckpt.n_exponents}, t = {ckpt.window}")
    for ax in art["axes"]:
        rescale(ax)


def schedules_figure(runs: dict, shown=None, seeds: bool = True):
    """Several schedules on several seeds: accuracy, lambda_1 and the effective rank of dL/dW over
    training (median, quartiles, each seed), and the final accuracy of every seed."""
    fig, axes = new_figure(ncols=2, nrows=2, width=10.5, height=6.4)
    art = {"axes": axes, "lines": []}
    axes[0].set(xlabel="epoch", ylabel="accuracy", title="Accuracy (fresh sequences)",
                ylim=(0.4, 1.02))
    axes[1].set(ylabel="final accuracy", title="Final accuracy, every seed", ylim=(0.4, 1.02))
    axes[2].set(xlabel="epoch", ylabel=r"$\lambda_1$ (per step)", title=r"Largest exponent $\lambda_1$")
    axes[3].set(xlabel="epoch", ylabel="effective rank",
                title=r"Effective rank of $\partial L/\partial W$")
    update_schedules(art, runs, shown, seeds)
    return fig, art


def update_schedules(art, runs: dict, shown=None, seeds: bool = True):
    ax_a, ax_f, ax_l, ax_r = art["axes"]
    for a in art["lines"]:
        a.remove()
    art["lines"] = []
    shown = list(runs) if shown is None else [s for s in runs if s in shown]
    for j, s in enumerate(shown):
        r, colour = runs[s], SCHEDULE_COLOURS.get(s)
        label = SCHEDULE_LABELS.get(s, s)
        art["lines"] += _band(ax_a, r.eval_epochs, r.accuracy, colour, label, seeds)
        art["lines"] += _band(ax_l, r.eval_epochs, r.lam1, colour, None, seeds)
        art["lines"] += _band(ax_r, r.eval_epochs, r.grad_rank, colour, None, seeds)
        final = np.asarray(r.final)
        jitter = np.linspace(-0.15, 0.15, final.size)
        art["lines"] += ax_f.plot(j + jitter, final, "o", ms=7, color=colour, alpha=0.8)
        art["lines"] += ax_f.plot([j - 0.3, j + 0.3], [np.median(final)] * 2, "-", lw=3,
                                  color=colour)
    ax_f.set_xticks(range(len(shown)), [SCHEDULE_LABELS.get(s, s).replace(" + ", "\n+ ")
                                        for s in shown], fontsize="small")
    ax_f.set_xlim(-0.6, max(len(shown), 1) - 0.4)
    art["lines"].append(ax_l.axhline(0.0, color="k", lw=0.8))
    if art.get("legend") is not None:
        art["legend"].remove()
        art["legend"] = None
    handles, labels = ax_a.get_legend_handles_labels()
    if handles:
        art["legend"] = ax_a.figure.legend(handles, labels, loc="outside lower center",
                                           ncols=len(handles), fontsize="small")
    for ax in (ax_a, ax_l, ax_r):
        rescale(ax)
    ax_a.set_ylim(0.4, 1.02)


def gradient_sv_figure(sv_before, sv_after, rank_before: float, rank_after: float):
    """The effective-rank weights pi_i = s_i / sum s of dL/dW before and after flossing."""
    fig, (ax,) = new_figure(width=6.5, height=3.4)
    for sv, colour, label, rank in ((sv_before, BEFORE, "before flossing", rank_before),
                                    (sv_after, AFTER, "after flossing", rank_after)):
        sv = np.sort(np.asarray(sv, dtype=float))[::-1]
        ax.semilogy(np.arange(1, sv.size + 1), sv / sv.sum(), "o-", ms=4, color=colour,
                    label=f"{label}: effective rank {rank:.1f}")
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="index i", ylabel=r"$\pi_i = s_i / \sum_j s_j$",
           title=r"Singular values of $\partial L/\partial W$ (normalised)")
    ax.legend(fontsize="small", loc="lower left")
    return fig, {"ax": ax}


def rank_vs_condition_figure(checkpoints: dict):
    """Effective rank of dL/dW against log10 kappa(J_t) at every checkpoint of every seed, one
    colour per k."""
    fig, (ax,) = new_figure(width=6.5, height=3.6)
    colours = mpl.colormaps["viridis"](np.linspace(0.1, 0.85, len(checkpoints)))
    for (k, c), colour in zip(checkpoints.items(), colours):
        ax.plot(np.ravel(c.cond), np.ravel(c.eff_rank), "o", ms=5, alpha=0.7, color=colour,
                label=f"k = {k}")
    ax.set(xlabel=r"$\log_{10}\kappa(J_t)$", ylabel=r"effective rank of $\partial L/\partial W$",
           title="Every checkpoint of every seed")
    ax.legend(fontsize="small")
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


# --- notebook 08: the paper's results -----------------------------------------------------------------

def _seed_points(ax, x, values, colour, width: float):
    """Each seed as a point, spread sideways by ``width`` so equal values stay visible."""
    values = np.asarray(values, dtype=float)
    offsets = np.linspace(-width, width, values.shape[-1]) if values.shape[-1] > 1 else [0.0]
    out = []
    for xi, row in zip(x, values):
        out += ax.plot(xi + np.asarray(offsets), row, "o", ms=4, alpha=0.55, color=colour,
                       mec="none")
    return out


def accuracy_vs_delay_panel(ax, by_schedule: dict, shown=None, highlight=None, points=True):
    """Median (line), quartiles (band) and each seed (points) of the final accuracy against the
    delay, one colour per schedule. Returns the artists drawn."""
    out = []
    shown = list(by_schedule) if shown is None else [s for s in by_schedule if s in shown]
    for j, s in enumerate(shown):
        delays, acc = by_schedule[s]
        delays = np.asarray(delays, dtype=float)
        colour = SCHEDULE_COLOURS.get(s)
        q25, q50, q75 = np.percentile(np.asarray(acc, dtype=float), [25, 50, 75], axis=1)
        out += ax.plot(delays, q50, "-", lw=2.4, color=colour, label=SCHEDULE_LABELS.get(s, s))
        out.append(ax.fill_between(delays, q25, q75, color=colour, alpha=0.2, lw=0))
        if points:
            step = np.min(np.diff(delays)) if delays.size > 1 else 1.0
            out += _seed_points(ax, delays + (j - (len(shown) - 1) / 2) * 0.12 * step, acc,
                                colour, 0.04 * step)
    if highlight is not None:
        out.append(ax.axvline(highlight, color="k", ls=":", lw=1.2))
    out.append(ax.axhline(0.5, color="0.5", ls=":", lw=1))
    out.append(ax.axhline(0.9, color="0.5", ls="--", lw=0.8))
    if shown:
        out.append(ax.legend(fontsize="small", loc="best"))
    swept = np.unique(np.concatenate([np.asarray(d, dtype=float) for d, _ in by_schedule.values()]))
    margin = 0.6 * (np.min(np.diff(swept)) if swept.size > 1 else 1.0)
    ax.set_xlim(swept[0] - margin, swept[-1] + margin)    # redrawn for another task or budget
    ax.set_ylim(0.4, 1.03)
    return out


def delay_sweeps_figure(sweeps: dict, title: str = ""):
    """One panel per task: final accuracy against delay (see :func:`accuracy_vs_delay_panel`)."""
    fig, axes = new_figure(ncols=len(sweeps), width=5.4 * len(sweeps), height=3.8)
    for ax, (task, by_schedule) in zip(axes, sweeps.items()):
        accuracy_vs_delay_panel(ax, by_schedule)
        n_seeds = np.asarray(next(iter(by_schedule.values()))[1]).shape[1]
        ax.set(xlabel="delay d (longest lag, steps)", ylabel="final accuracy",
               title=f"delayed {task}{title}, {n_seeds} seeds")
    return fig, {"axes": axes}


def delay_explorer_figure(by_schedule: dict, task: str, shown, highlight: int, title: str = ""):
    """Left: accuracy against delay; right: every seed at the highlighted delay, per schedule."""
    fig, (ax, ax_d) = new_figure(ncols=2, width=10.5, height=3.8, width_ratios=(2.2, 1))
    art = {"axes": (ax, ax_d), "lines": []}
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
    shown = [s for s in by_schedule if s in shown]
    for j, s in enumerate(shown):
        delays, acc = by_schedule[s]
        i = int(np.argmin(np.abs(np.asarray(delays) - highlight)))
        values = np.asarray(acc)[i]
        colour = SCHEDULE_COLOURS.get(s)
        art["lines"] += ax_d.plot(j + np.linspace(-0.15, 0.15, values.size), values, "o", ms=8,
                                  color=colour, alpha=0.8)
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
            point = "below" if h["horizon"] is None else str(h["horizon"])
            labels.append(f"{SCHEDULE_LABELS.get(s, s)}\n{point} [{_end(h['low'])}, "
                          f"{_end(h['high'])}]")
        ax.set_yticks(range(len(schedules)), labels, fontsize="small")
        ax.set_ylim(-0.6, len(schedules) - 0.4)
        ax.set_xticks(delays)
        ax.set_xlim(floor - 0.6 * (delays[1] - delays[0]), delays[-1] + 0.6 * (delays[-1] - delays[-2]))
        ax.grid(axis="x", alpha=0.3)
        ax.set(xlabel="delay d (steps)",
               title=f"{task}: horizon at {level:.2f}, {coverage:.0%} interval{title}")


def _end(x):
    return "below" if x is None else str(x)


def accuracy_vs_k_panel(ax, ks, by_k: dict, none, title: str = ""):
    """Final accuracy against the number k of flossed exponents (median, quartiles, each seed),
    with no flossing as a grey band (its quartiles) and line (its median)."""
    ks = np.asarray(ks, dtype=float)
    acc = np.asarray([by_k[k] for k in by_k], dtype=float)
    q25, q50, q75 = np.percentile(acc, [25, 50, 75], axis=1)
    colour = SCHEDULE_COLOURS["pre"]
    ax.plot(ks, q50, "o-", lw=2.4, color=colour, label="preflossing k exponents (median)")
    ax.fill_between(ks, q25, q75, color=colour, alpha=0.2, lw=0)
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
    ax.legend(fontsize="small", loc="upper left")


def accuracy_vs_k_figure(ks, by_k: dict, none, title: str = ""):
    """See :func:`accuracy_vs_k_panel`."""
    fig, (ax,) = new_figure(width=6.5, height=3.6)
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
