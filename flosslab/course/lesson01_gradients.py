"""Notebook 01 (exploding and vanishing gradients): its sizes, computations, figures, dashboards
and checkers, in that order."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import ipywidgets as W
import matplotlib as mpl
import numpy as np

from .. import reference
from ..core.conventions import default_transient, init_rnn, random_bits, random_state
from ..core.errors import FlosslabError
from ..core.style import new_figure
from ..core.tasks import make_batch
from ..core.validate import check_int, check_real
from ..reference import jacobian, run_rnn  # by name in the checkers
from .checking import Answer, call, checker, close, run, to_array
from .dashboard_machinery import Dashboard, slider
from .display import legend_outside, rescale, set_line

# --- sizes -----------------------------------------------------------------------------------------


#: Defaults of notebook 01's demos (cheap: the same in fast and full mode).
GRADIENT_DEFAULTS = {"n_units": 64, "seq_len": 300, "gains": (0.1, 3.0)}


# --- computations ----------------------------------------------------------------------------------


def last_step_error(params, states, targets) -> np.ndarray:
    """delta_T = dL/dh_T for the loss at the last step only, L = mean over the batch of
    BCE(y_T, z_T) with y_T = V h_T + c: delta_T = (sigmoid(y_T) - z_T) V / B. states (T, B, N),
    targets (T, B, 1); returns (B, N)."""
    h_last = np.asarray(states)[-1]
    logits = h_last @ params["V"].T + params["c"]
    error = (1.0 / (1.0 + np.exp(-logits)) - np.asarray(targets)[-1]) / h_last.shape[0]
    return error @ params["V"]


def backprop_log_norms(params, pre, delta_last) -> np.ndarray:
    """Natural log of ||delta_t|| for t = 1..T, delta_{t-1} = D_t^T delta_t from delta_T =
    ``delta_last``, with D_t = diag(tanh'(a_t)) W. pre (T, [B,] N) holds a_1..a_T; the norm is over
    units and batch together.

    delta is rescaled to norm 1 after every step and the logs of the scale factors are summed, so
    the result is exact (to round-off) however small the norm gets: it never underflows.
    """
    w = np.asarray(params["W"])
    slopes = reference.tanh_slope(np.asarray(pre, dtype=float))
    delta = np.array(delta_last, dtype=float)
    out = np.empty(slopes.shape[0])
    scale = np.abs(delta).max()
    log_norm = np.log(scale) + np.log(np.linalg.norm(delta / scale)) if scale > 0 else -np.inf
    out[-1] = log_norm
    delta = delta / np.exp(log_norm) if scale > 0 else delta
    for t in range(slopes.shape[0] - 1, 0, -1):       # slopes[t] belongs to a_{t+1}
        delta = (delta * slopes[t]) @ w                # D^T delta = W^T (s * delta), row form
        norm = np.linalg.norm(delta)
        if norm == 0.0 or not np.isfinite(log_norm):
            out[:t] = -np.inf
            break
        log_norm += np.log(norm)
        delta = delta / norm
        out[t - 1] = log_norm
    return out


def backprop_float64(params, pre, delta_last):
    """Plain float64 backpropagation, as autograd or torch would run it (no rescaling).

    Returns (norms (T,), zero_vector (T,) bool): ``norms`` computed as sqrt(sum delta^2) (what
    ``fl.state_gradient_norms`` does): it reads 0 as soon as the SQUARES underflow to 0, below
    ~2e-162 = sqrt(4.9e-324), the smallest subnormal float64; ``zero_vector[t-1]`` is True where
    every entry of delta_t itself has underflowed to exactly 0 (below 4.9e-324).
    """
    w = np.asarray(params["W"])
    slopes = reference.tanh_slope(np.asarray(pre, dtype=float))
    delta = np.array(delta_last, dtype=float)
    norms = np.empty(slopes.shape[0])
    zero = np.zeros(slopes.shape[0], dtype=bool)
    norms[-1], zero[-1] = np.sqrt(np.sum(delta ** 2)), not delta.any()
    with np.errstate(under="ignore"):
        for t in range(slopes.shape[0] - 1, 0, -1):
            delta = (delta * slopes[t]) @ w
            norms[t - 1], zero[t - 1] = np.sqrt(np.sum(delta ** 2)), not delta.any()
    return norms, zero


class GradientNorms(NamedTuple):
    gains: tuple
    times: np.ndarray           # t = 1..T
    log10_norms: np.ndarray     # (n_gains, T): log10 ||delta_t||, rescaled recursion (exact)
    float64_norms: np.ndarray   # (n_gains, T): sqrt(sum delta^2) of plain float64 backprop
    norm_reads_zero: tuple      # per gain: largest t where the plain norm reads 0 (else None)
    vector_is_zero: tuple       # per gain: largest t where plain delta_t is exactly 0 (else None)


def _last_true(flags) -> int | None:
    idx = np.flatnonzero(flags)
    return int(idx[-1] + 1) if idx.size else None


@lru_cache(maxsize=64)
def gradient_norms_vs_gain(gains: tuple, n_units: int = 64, seq_len: int = 100,
                           batch_size: int = 4, seed: int = 0) -> GradientNorms:
    """||dL/dh_t|| (loss at the last step of a copy-task batch, d = 1) for each gain, one network
    per gain (same seed, same inputs, h_0 = 0): exact logs, and what plain float64 gives."""
    seq_len = check_int("the sequence length T", seq_len, minimum=2, maximum=2000)
    n_units = check_int("the number of units N", n_units, minimum=1, maximum=512)
    for g in gains:
        check_real("the gain g", g, minimum=0.0, maximum=10.0)
    batch = make_batch("copy", 1, batch_size, seq_len, seed)
    logs, plain, reads_zero, is_zero = [], [], [], []
    for g in gains:
        params = init_rnn(n_units, g, seed=seed)
        states, pre = reference.run_rnn(params, batch.inputs, return_preactivations=True)
        delta_last = last_step_error(params, states, batch.targets)
        logs.append(backprop_log_norms(params, pre, delta_last) / np.log(10.0))
        norms, zero = backprop_float64(params, pre, delta_last)
        plain.append(norms)
        reads_zero.append(_last_true(norms == 0.0))
        is_zero.append(_last_true(zero))
    return GradientNorms(tuple(gains), np.arange(1, seq_len + 1), np.asarray(logs),
                         np.asarray(plain), tuple(reads_zero), tuple(is_zero))


class RateVsExponent(NamedTuple):
    gains: np.ndarray           # (n_gains,)
    seeds: tuple
    rates: np.ndarray           # (n_gains, n_seeds): fitted growth rate of ln||delta_t|| per step
    exponents: np.ndarray       # (n_gains, n_seeds): lambda_1 on the same trajectory
    log_norms: np.ndarray       # (n_gains, n_seeds, T): natural log ||delta_t||
    skip: int


def driven_trajectory(n_units: int, gain: float, seq_len: int, seed: int):
    """The network ``init_rnn(N, g, seed)`` driven by random bits (seed [seed, 1]) from
    ``random_state(N, seed)``: (params, bits, pre-activations (T, N)), as a spectrum sees it."""
    params = init_rnn(n_units, gain, seed=seed)
    bits = random_bits(seq_len, 1, [seed, 1])
    _, pre = reference.run_rnn(params, bits, h0=random_state(n_units, seed),
                               return_preactivations=True)
    return params, bits, pre


@lru_cache(maxsize=512)
def _seed_logs_and_exponent(backprop_norms, n_units: int, gain: float, seq_len: int, seed: int):
    """ln||delta_t|| by the given ``backprop_norms`` from a random unit delta_T (seed [seed, 2]),
    and lambda_1 by QR, on the same driven trajectory."""
    params, bits, pre = driven_trajectory(n_units, gain, seq_len, seed)
    delta = np.random.default_rng([seed, 2]).standard_normal(n_units)
    norms = np.asarray(backprop_norms(params, pre, delta / np.linalg.norm(delta)), dtype=float)
    if np.any(norms <= 0.0):
        raise FlosslabError(
            f"at g = {gain:.2f}, T = {seq_len} the gradient norm underflows to 0 in float64: its "
            "logarithm is -inf and no rate can be fitted; choose a larger g or a shorter T")
    lam1 = float(reference.lyapunov_spectrum(params, bits, n_exponents=1, seed=seed)[0])
    return norms, lam1


def rate_vs_exponent(backprop_norms, growth_rate, gains=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
                     n_units: int = 64, seq_len: int = 300, seeds=(0, 1, 2, 3, 4),
                     skip: int | None = None) -> RateVsExponent:
    """For each gain and seed: backpropagate a random unit error delta_T with
    ``backprop_norms(params, pre, delta_last)``, fit its rate with ``growth_rate(norms, skip)`` and
    compute lambda_1 by QR on the same trajectory (skip defaults to the QR's transient,
    10 + T/10). Cached per function, gain, T and seed: changing ``skip`` costs only the fits."""
    seq_len = check_int("the sequence length T", seq_len, minimum=20, maximum=2000)
    skip = default_transient(seq_len) if skip is None else check_int(
        "the number of steps skipped", skip, minimum=0, maximum=seq_len - 3)
    rates, lams, logs = [], [], []
    for g in gains:
        check_real("the gain g", g, minimum=0.0, maximum=10.0)
        pairs = [_seed_logs_and_exponent(backprop_norms, n_units, float(g), seq_len, int(s))
                 for s in seeds]
        logs.append([np.log(p[0]) for p in pairs])
        lams.append([p[1] for p in pairs])
        rates.append([float(growth_rate(p[0].copy(), skip)) for p in pairs])
    return RateVsExponent(np.asarray(gains, float), tuple(seeds), np.asarray(rates),
                          np.asarray(lams), np.asarray(logs), skip)


class DrivenVsAutonomous(NamedTuple):
    gains: np.ndarray           # (n_gains,)
    seeds: tuple
    lam1: np.ndarray            # (n_gains, n_seeds) lambda_1 with this drive
    slope: np.ndarray           # (n_gains, n_seeds) mean tanh'(a) over units and counted steps
    crossing: np.ndarray        # (n_seeds,) first gain where lambda_1 >= level (nan: none)
    level: float


#: lambda_1 of a periodic orbit is 0, but a 300-step estimate of it is off by up to ~0.01, so
#: "lambda_1 has reached 0" is read as lambda_1 >= -0.01.
CROSSING_LEVEL = -0.01


def first_crossing(gains, values, level: float = CROSSING_LEVEL) -> float:
    """The first gain at which ``values`` (one per gain, ascending gains) reaches ``level``,
    linearly interpolated between grid points; nan if it never does; gains[0] if it starts there."""
    gains, values = np.asarray(gains, float), np.asarray(values, float)
    above = np.flatnonzero(values >= level)
    if not above.size:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(gains[0])
    g0, g1, v0, v1 = gains[i - 1], gains[i], values[i - 1], values[i]
    return float(g0 + (level - v0) * (g1 - g0) / (v1 - v0))


@lru_cache(maxsize=64)
def driven_vs_autonomous(input_scale: float = 1.0, bias_scale: float = 0.1, n_units: int = 64,
                         gains: tuple = tuple(np.round(np.arange(0.5, 3.01, 0.25), 2)),
                         seeds: tuple = (0, 1, 2, 3, 4), n_steps: int = 300) -> DrivenVsAutonomous:
    """lambda_1 against the gain for networks ``init_rnn(N, g, seed, bias_scale)`` whose input
    weights are multiplied by ``input_scale``, driven by random bits from ``random_state``: the
    torch engine, all gains and seeds as one ensemble. ``input_scale = bias_scale = 0`` is the
    autonomous network of notebook 02 (no input, no bias)."""
    import torch

    from .. import engine
    input_scale = check_real("the input scale", input_scale, minimum=0.0, maximum=10.0)
    bias_scale = check_real("the bias scale", bias_scale, minimum=0.0, maximum=10.0)
    n_units = check_int("the number of units N", n_units, minimum=2, maximum=256)
    members = [(g, s) for g in gains for s in seeds]
    params = engine.stack_params([init_rnn(n_units, g, seed=s, bias_scale=bias_scale)
                                  for g, s in members])
    params["U"] = params["U"] * input_scale
    member_seeds = [s for _, s in members]
    lam = np.asarray(engine.ensemble_spectrum(params, n_steps, 1, seeds=member_seeds,
                                              chunk=None))[:, 0]
    inputs = np.stack([random_bits(n_steps, 1, s) for s in member_seeds], axis=1)
    h0 = torch.as_tensor(np.stack([random_state(n_units, s) for s in member_seeds]))
    with torch.no_grad():
        _, pre = engine.run_rnn(params, inputs, h0=h0, return_preactivations=True)
    counted = pre[default_transient(n_steps):]
    slope = engine.tanh_slope(counted).mean(dim=(0, 2)).numpy()
    shape = (len(gains), len(seeds))
    lam, slope = lam.reshape(shape), slope.reshape(shape)
    crossing = np.asarray([first_crossing(gains, lam[:, j]) for j in range(len(seeds))])
    return DrivenVsAutonomous(np.asarray(gains, float), tuple(seeds), lam, slope, crossing,
                              CROSSING_LEVEL)


def random_product_norms(gain: float = 1.0, n_units: int = 64, seq_len: int = 300,
                         seed: int = 0) -> np.ndarray:
    """||delta_t|| for delta_{t-1} = M_t^T delta_t from a unit delta_T, with M_t fresh Gaussian
    matrices N(0, g^2/N) at every step (no tanh): the backward pass of a "network" whose Jacobians
    are pure random matrices. Rescaled each step, so it never underflows (returns norms, (T,))."""
    rng = np.random.default_rng([seed, 11])
    delta = rng.standard_normal(n_units)
    delta /= np.linalg.norm(delta)
    logs = np.zeros(seq_len)
    for t in range(seq_len - 1, 0, -1):
        delta = rng.normal(0.0, gain / np.sqrt(n_units), (n_units, n_units)).T @ delta
        norm = np.linalg.norm(delta)
        logs[t - 1] = logs[t] + np.log(norm)
        delta /= norm
    return np.exp(logs)


def gaussian_product_rate(gain: float, n_units: int) -> float:
    """The exact top exponent of products of N x N Gaussian matrices with variance g^2/N
    (Cohen & Newman 1984): log g + (psi(N/2) - log(N/2)) / 2, psi the digamma function."""
    from scipy.special import digamma
    return float(np.log(gain) + 0.5 * (digamma(n_units / 2) - np.log(n_units / 2)))


# --- figures ---------------------------------------------------------------------------------------


def _gain_colours(gains):
    """One colour per gain, in the gains' order, evenly spaced along viridis (colour-blind safe,
    and distinct in lightness on a projector): spacing by value made g = 0.1 and 0.5 look alike."""
    cmap = mpl.colormaps["viridis"]
    rank = np.argsort(np.argsort(np.asarray(gains, dtype=float)))
    steps = np.linspace(0.0, 0.9, len(gains)) if len(gains) > 1 else [0.0]
    return [cmap(steps[r]) for r in rank]


#: The smallest positive float64, a subnormal (4.9e-324), and its square root (2.2e-162): below the
#: first the entries of delta round to 0, below the second their squares do and sqrt(sum delta^2)
#: reads 0 (gradual underflow: the smallest NORMAL float64, 2.2e-308, is not where either happens).
SMALLEST_FLOAT64 = float(np.finfo(np.float64).smallest_subnormal)
LOG10_TINY = float(np.log10(SMALLEST_FLOAT64))


LOG10_SQRT_TINY = LOG10_TINY / 2


def _power_of_ten(log10_value: float) -> str:
    """10**log10_value as mathtext to one digit: -161.65 -> "$2\\times10^{-162}$"."""
    return rf"${10 ** (log10_value % 1):.0f}\times10^{{{log10_value // 1:.0f}}}$"


def gradient_norm_figure(data):
    """log10 ||delta_t|| against t, one line per gain (a :class:`GradientNorms`); a cross
    where plain float64 backprop's norm first reads 0, a dotted line at 2e-162 and 5e-324 when
    the curves reach them."""
    fig, (ax,) = new_figure(width=8.5, height=3.8)
    lines = [ax.plot([], [], lw=2)[0] for _ in data.gains]
    marks = [ax.plot([], [], "x", ms=10, mew=2.5)[0] for _ in data.gains]
    ref_sqrt = ax.axhline(LOG10_SQRT_TINY, color="0.5", ls=":", lw=1.2)
    ref_tiny = ax.axhline(LOG10_TINY, color="0.3", ls="--", lw=1.2)
    # labels at the right end: a vanishing curve is lowest at the left (far from the loss), so
    # there it would cross them
    text_sqrt = ax.text(0.99, LOG10_SQRT_TINY,
                        _power_of_ten(LOG10_SQRT_TINY) + r": $\sqrt{\sum\delta^2}$ underflows ",
                        transform=ax.get_yaxis_transform(), va="bottom", ha="right", color="0.4")
    text_tiny = ax.text(0.99, LOG10_TINY,
                        _power_of_ten(LOG10_TINY) + r": $\delta$ itself underflows ",
                        transform=ax.get_yaxis_transform(), va="bottom", ha="right", color="0.2")
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
    legend_outside(ax, "right")         # inside, a gain range above 1 puts curve ends under it


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
    ax_s.set(xlabel="gain g", ylabel=r"mean slope $\tanh'(a_t)$",
             title="Saturation (1: linear, 0: saturated)")
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
    legend_outside(ax_l, "below", ncols=1)  # inside, a stronger drive puts data under it
    legend_outside(ax_s, "below", ncols=1)
    rescale(ax_l)
    ax_s.set_xlim(ax_l.get_xlim())


# --- dashboards ------------------------------------------------------------------------------------


def _underflow_note(data) -> str:
    """Where plain float64 backpropagation reads 0, per gain (HTML)."""
    parts = []
    for g, t_norm, t_vec in zip(data.gains, data.norm_reads_zero, data.vector_is_zero):
        if t_norm:
            where = f"g = {g:.2f}: plain float64 gives ||&delta;<sub>t</sub>|| = 0 for t &le; {t_norm}"
            if t_vec:
                where += f" (and &delta;<sub>t</sub> = 0 exactly for t &le; {t_vec})"
            parts.append(where)
    if not parts:
        return ("No curve reaches the float64 limits: plain backpropagation would show these "
                "values too.")
    return ("Exact logarithms (rescaled recursion); " + "; ".join(parts)
            + ". A log plot of the plain norms would silently stop there.")


def gradient_norm_dashboard(gains=None, n_units=None, seq_len=None, n_curves: int = 5):
    """Gain range, N, T -> log10 ||delta_t|| against t for ``n_curves`` gains spread over the
    range, with where plain float64 backpropagation underflows."""
    d = GRADIENT_DEFAULTS
    controls = {
        "gains": slider(W.FloatRangeSlider, "gain range g", gains or d["gains"], 0.1, 4.0, 0.05),
        "n_units": slider(W.IntSlider, "units N", n_units or d["n_units"], 4, 128, 4),
        "seq_len": slider(W.IntSlider, "length T", seq_len or d["seq_len"], 10, 300, 10),
    }

    def compute(gains, n_units, seq_len):
        gs = tuple(float(g) for g in np.round(np.linspace(gains[0], gains[1], n_curves), 4))
        return gradient_norms_vs_gain(gs, n_units, seq_len)

    return Dashboard(controls, compute,
                     lambda data, v: gradient_norm_figure(data),
                     lambda art, data, v: update_gradient_norms(art, data),
                     note=lambda data, v: _underflow_note(data), height="420px")


def growth_rate_dashboard(backprop_norms, growth_rate, gain=1.0, seq_len=None, skip=None,
                          background_result=None):
    """Gain, T, steps skipped -> ln||delta_t|| of every seed with the student's ``backprop_norms``,
    the fits of the student's ``growth_rate``, and rate against lambda_1 (grey: every gain of
    ``background_result``, a :class:`RateVsExponent`)."""
    n = GRADIENT_DEFAULTS["n_units"]
    t_default = seq_len or GRADIENT_DEFAULTS["seq_len"]
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 3.0, 0.25),
        "seq_len": slider(W.IntSlider, "length T", t_default, 50, 300, 25),
        "skip": slider(W.IntSlider, "steps not fitted", default_transient(t_default)
                       if skip is None else skip, 0, 100, 5),
    }

    def compute(gain, seq_len, skip):
        if skip > seq_len - 10:
            raise FlosslabError(f"skipping {skip} of T = {seq_len} steps leaves fewer than 10 "
                                   "to fit; skip fewer or lengthen T")
        return rate_vs_exponent(backprop_norms, growth_rate, (round(float(gain), 4),), n,
                                   seq_len, skip=skip)

    def merged(result):
        if background_result is None:
            return result
        b = background_result
        return result._replace(rates=np.vstack([result.rates, b.rates]),
                               exponents=np.vstack([result.exponents, b.exponents]))

    def note(result, values):
        gap = np.abs(result.rates[0] - result.exponents[0])
        return (f"g = {values['gain']:.2f}, N = {n}: fitted rate - &lambda;<sub>1</sub> over the "
                f"{len(result.seeds)} seeds: median |difference| {np.median(gap):.3f}, largest "
                f"{gap.max():.3f} per step")

    return Dashboard(controls, compute,
                     lambda r, v: rate_figure(merged(r), 0),
                     lambda art, r, v: update_rate(art, merged(r), 0), note=note, height="420px")


def _crossing_text(result) -> str:
    c = result.crossing
    ok = np.isfinite(c)
    if not ok.any():
        return f"&lambda;<sub>1</sub> stays below 0 up to g = {result.gains[-1]:.1f} for every seed"
    text = (f"g = {np.median(c[ok]):.2f} (median of {ok.sum()} seeds, range "
            f"{c[ok].min():.2f}-{c[ok].max():.2f})")
    if not ok.all():
        text += f"; {np.sum(~ok)} seed(s) never reach 0 up to g = {result.gains[-1]:.1f}"
    return text


def driven_dashboard(input_scale=1.0, bias_scale=0.1, n_units=None):
    """Input scale, bias scale, N -> lambda_1 against g (median and range over seeds 0-4) and the
    mean slope tanh'(a), for the driven network and the autonomous one (no input, no bias)."""
    controls = {
        "input_scale": slider(W.FloatSlider, "input weight scale", input_scale, 0.0, 2.0, 0.25),
        "bias_scale": slider(W.FloatSlider, "bias scale", bias_scale, 0.0, 1.0, 0.1),
        "n_units": slider(W.IntSlider, "units N", n_units or GRADIENT_DEFAULTS["n_units"], 16,
                          80, 16),
    }

    def compute(input_scale, bias_scale, n_units):
        driven = driven_vs_autonomous(round(float(input_scale), 4), round(float(bias_scale), 4),
                                         n_units)
        return driven, driven_vs_autonomous(0.0, 0.0, n_units)

    def labels(values):
        if values["input_scale"] == 0 and values["bias_scale"] == 0:
            return ("this setting (= autonomous)", "autonomous")
        return (f"U × {values['input_scale']:.2f}, b ~ U[0, {values['bias_scale']:.1f})",
                "autonomous")

    def note(data, values):
        driven, auto = data
        return (f"N = {values['n_units']}, T = 300: &lambda;<sub>1</sub> &ge; "
                f"{driven.level:g} (our reading of 'reaches 0') from {_crossing_text(driven)} "
                f"with this drive; autonomous: from {_crossing_text(auto)}.")

    return Dashboard(controls, compute,
                     lambda d, v: driven_figure(d[0], d[1], labels(v)),
                     lambda art, d, v: update_driven(art, d[0], d[1], labels(v)), note=note,
                     height="420px")


# --- checkers --------------------------------------------------------------------------------------


@checker(jacobian)
def check_one_step_jacobian(func, n_cases: int = 4) -> bool:
    """``func(params, a)`` -> D = diag(tanh'(a)) W (N x N), the one-step Jacobian dh_t/dh_{t-1}
    from the pre-activation a = a_t (N,)."""
    name = "one_step_jacobian"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(90 + case)
            n = int(rng.integers(3, 10))
            params = init_rnn(n, gain=float(rng.uniform(0.5, 2.5)), seed=case)
            a = rng.normal(0.0, 1.5, size=n)
            want = jacobian(params, a)
            got = to_array(name, call(name, func, params, a), want.shape,
                           "D (an N x N matrix)")
            if close(got, want):
                continue
            w, slope = params["W"], 1.0 - np.tanh(a) ** 2
            if close(got, w * slope[None, :]):
                raise Answer("scale the ROWS of W (diag(tanh'(a)) W, i.e. slope[:, None] * W), not "
                             "its columns: W diag(tanh'(a)) is the Jacobian of the pre-activation "
                             "form a_t -> a_{t+1}.")
            if close(got, want.T):
                raise Answer("D is transposed: D_ij = dh_i/dh_j = tanh'(a_i) W_ij.")
            if close(got, (1.0 - np.tanh(np.tanh(a)) ** 2)[:, None] * w):
                raise Answer("tanh' is evaluated at the pre-activation a, not at h = tanh(a) (a "
                             "known bug of a public example: it biases the exponents upward).")
            if close(got, (1.0 - a ** 2)[:, None] * w):
                raise Answer("tanh'(a) = 1 - tanh(a)^2, not 1 - a^2.")
            if close(got, np.tanh(a)[:, None] * w) or close(got, w):
                raise Answer("multiply the rows by the SLOPE tanh'(a) = 1 - tanh(a)^2.")
            raise Answer("D = diag(1 - tanh(a)^2) W: row i of W times tanh'(a_i).")
    return run(name, cases)


def reference_backprop_norms(params, pre, delta_last, transpose: bool = True):
    """||delta_t|| with delta_T = delta_last and delta_{t-1} = D_t^T delta_t, D_t =
    diag(tanh'(a_t)) W (dense, slow); ``pre`` (T, N) holds the pre-activations a_1..a_T.

    ``transpose=False`` gives the classic mistake (D_t instead of D_t^T), to recognise it.
    """
    delta = np.asarray(delta_last, dtype=float)
    norms = [np.linalg.norm(delta)]
    for t in range(len(pre) - 1, 0, -1):
        d = reference.jacobian(params, pre[t])
        delta = (d.T if transpose else d) @ delta
        norms.append(np.linalg.norm(delta))
    return np.asarray(norms[::-1])


@checker(reference_backprop_norms)
def check_backprop_norms(func, n_cases: int = 3) -> bool:
    """``func(params, pre, delta_last)`` -> (T,) norms of delta_t = dL/dh_t for t = 1..T
    (pre-activations (T, N))."""
    name = "backprop_norms"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(100 + case)
            n, t = int(rng.integers(3, 12)), int(rng.integers(4, 20))
            params = init_rnn(n, gain=float(rng.uniform(0.5, 2.5)), seed=case)
            _, pre = run_rnn(params, rng.integers(0, 2, size=(t, 1)).astype(float),
                             return_preactivations=True)
            delta_last = rng.standard_normal(n)
            want = reference_backprop_norms(params, pre, delta_last)
            got = to_array(name, call(name, func, params, pre, delta_last), want.shape,
                           "the norms (one per time step, index 0 is t = 1)")
            if close(got, want):
                continue
            if close(got, reference_backprop_norms(params, pre, delta_last, transpose=False)):
                raise Answer("the backward pass multiplies by the TRANSPOSE of D_t: "
                             "delta_{t-1} = D_t^T delta_t = W^T (tanh'(a_t) * delta_t).")
            if close(got[::-1], want):
                raise Answer("the result is reversed: index 0 is t = 1 (furthest from the loss), "
                             "the last entry is ||delta_last||.")
            shifted = [reference_backprop_norms(params, np.roll(pre, s, axis=0), delta_last)
                       for s in (1, -1)]
            if any(close(got, s) for s in shifted):
                raise Answer("off by one step: delta_{t-1} = D_t^T delta_t uses a_t, the "
                             "pre-activation of step t, which is pre[t-1] (0-indexed).")
            raise Answer("use D_t = one_step_jacobian(params, a_t) with a_t = pre[t-1] and "
                         "delta_{t-1} = D_t^T delta_t.")
    return run(name, cases)


def reference_growth_rate(norms, skip: int) -> float:
    """Least-squares slope of ln ||delta_t|| against the number of steps back from the loss, T - t,
    over the steps with T - t >= skip (independent of the student's version: lstsq, not polyfit)."""
    norms = np.asarray(norms, dtype=float)
    back = np.arange(norms.size)[::-1]                 # T - t for t = 1..T
    keep = back >= skip
    design = np.stack([back[keep], np.ones(keep.sum())], axis=1)
    return float(np.linalg.lstsq(design, np.log(norms[keep]), rcond=None)[0][0])


@checker(reference_growth_rate)
def check_growth_rate(func, n_cases: int = 4) -> bool:
    """``func(norms, skip)`` -> the growth rate per step of ||delta_t|| going back from the loss:
    the least-squares slope of ln ||delta_t|| against T - t, ignoring the ``skip`` steps nearest
    the loss."""
    name = "growth_rate"

    def cases():
        # the demos use skip from 0 (the dashboard's slider, Question 2) to T - 10: the last two
        # cases are those ends
        for case in range(n_cases + 2):
            rng = np.random.default_rng(130 + case)
            t = int(rng.integers(40, 120))
            skip = {n_cases: 0, n_cases + 1: t - 10}.get(case, int(rng.integers(3, 15)))
            rate = float(rng.uniform(-1.0, 0.4))
            back = np.arange(t)[::-1]
            log_norms = rate * back + rng.normal(0.0, 0.3, t) + rng.uniform(-2, 2)
            log_norms[back < skip] += rng.uniform(1.0, 4.0, size=skip)   # the transient
            norms = np.exp(log_norms)
            want = reference_growth_rate(norms, skip)
            try:
                raw = call(name, func, norms, skip)
            except Answer as answer:
                if skip == 0 and "changed" not in str(answer):
                    raise Answer(f"{answer} This case has skip = 0, as the dashboard allows "
                                 "(norms[:-0] is empty: select with a mask such as T - t >= skip)."
                                 ) from None
                raise
            got = to_array(name, raw, (), "the rate (one number)")
            if close(got, want, rtol=1e-6, atol=1e-9):
                continue
            if close(got, -want, rtol=1e-6, atol=1e-9):
                raise Answer("the sign is flipped: fit against T - t (steps BACK from the loss), "
                             "so a gradient that shrinks going back has a negative rate.")
            if close(got, want / np.log(10.0), rtol=1e-6, atol=1e-9):
                raise Answer("use the natural log (np.log), not log10: exponents are in natural "
                             "log per step.")
            if close(got, reference_growth_rate(norms, 0), rtol=1e-6, atol=1e-9):
                raise Answer("leave out the `skip` steps nearest the loss (T - t < skip): the "
                             "error signal has not settled onto its growth direction there.")
            if any(close(got, reference_growth_rate(norms, s), rtol=1e-6, atol=1e-9)
                   for s in (skip - 1, skip + 1)):
                raise Answer("off by one in the skipped steps: keep exactly the steps with "
                             "T - t >= skip (the last entry has T - t = 0).")
            reversed_fit = reference_growth_rate(norms[::-1], skip)
            if close(got, reversed_fit, rtol=1e-6, atol=1e-9) or close(
                    got, -reversed_fit, rtol=1e-6, atol=1e-9):
                raise Answer("the skipped steps are at the END of the array (nearest the loss, "
                             "t close to T), not at its start.")
            raise Answer("fit a straight line to ln(norms) against T - t (np.polyfit(x, y, 1)[0]) "
                         "over the steps with T - t >= skip; use every such step, not only the "
                         "two ends.")
    return run(name, cases)
