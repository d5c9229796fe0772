"""Notebook 02 (Lyapunov exponents by QR): its sizes, computations, figures, dashboards and
checkers, in that order."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import ipywidgets as W
import matplotlib as mpl
import numpy as np

from .. import reference
from ..core.conventions import autonomous, default_transient, init_rnn, random_frame, random_state
from ..core.records import SpectrumHistory
from ..core.style import new_figure
from ..core.validate import check_int, check_n_exponents, check_real
from ..reference import spectrum_from_jacobians  # by name in the checkers
from .checking import Answer, call, checker, close, run, to_array, to_tuple
from .dashboard_machinery import Dashboard, slider
from .display import legend_outside, rescale, set_line

# --- sizes -----------------------------------------------------------------------------------------


#: Sizes of the spectrum dashboards (the same in fast mode).
SIZES = {"n_units": 50, "n_steps": 300}


#: Gains of the spectrum-against-gain demo.
GAIN_GRID = tuple(np.round(np.arange(0.25, 3.01, 0.25), 2))


# --- computations ----------------------------------------------------------------------------------


class SpectrumResult(NamedTuple):
    exponents: np.ndarray
    history: SpectrumHistory
    sum_rule: tuple | None      # (sum of exponents, time average of log|det D_t|) when k = N


@lru_cache(maxsize=256)
def autonomous_spectrum(gain: float, n_units: int = 50, n_exponents: int | None = None,
                        reorth_every: int = 1, n_steps: int = 300, seed: int = 0) -> SpectrumResult:
    """Spectrum of the input-free, bias-free network W ~ N(0, g^2/N), with its convergence.

    With k = N also returns both sides of the sum rule over the accumulated steps.
    """
    gain = check_real("the gain g", gain, minimum=0.0, maximum=10.0)
    n_units = check_int("the number of units N", n_units, minimum=1, maximum=512)
    params = autonomous(init_rnn(n_units, gain, seed=seed))
    k = check_n_exponents(n_exponents, n_units)
    reorth_every = check_int("the QR interval m", reorth_every, minimum=1, maximum=n_steps)
    h0 = random_state(n_units, seed)
    inputs = np.zeros((n_steps, params["U"].shape[1]))
    transient = default_transient(n_steps)
    lam, hist = reference.lyapunov_spectrum(params, inputs, n_exponents=k,
                                            reorth_every=reorth_every, transient=transient,
                                            seed=seed, h0=h0, return_history=True)
    rule = None
    if k == n_units:
        _, pre = reference.run_rnn(params, inputs, h0=h0, return_preactivations=True)
        rule = (float(np.sum(lam)), float(reference.log_det_average(params, pre[transient:])))
    return SpectrumResult(np.asarray(lam), hist, rule)


def _autonomous_ensemble(n_units, gains, seeds):
    """Stacked autonomous networks (U = 0, b = 0), one per (gain, seed), gain-major."""
    from .. import engine
    params = engine.stack_params([autonomous(init_rnn(n_units, g, seed=s))
                                  for g in gains for s in seeds])
    params["U"] = params["U"] * 0.0
    return params


@lru_cache(maxsize=64)
def spectrum_vs_gain_seeds(gains: tuple = tuple(np.round(np.arange(0.25, 3.01, 0.25), 2)),
                           n_units: int = 50, n_exponents: int = 5, n_steps: int = 300,
                           seeds: tuple = (0, 1, 2, 3, 4)) -> np.ndarray:
    """First k exponents of the autonomous network for every gain and seed, (n_gains, n_seeds, k):
    the torch engine, one ensemble (the same networks, start states and frames as
    :func:`autonomous_spectrum`)."""
    from .. import engine
    n_units = check_int("the number of units N", n_units, minimum=1, maximum=256)
    k = check_n_exponents(n_exponents, n_units)
    n_steps = check_int("the number of steps T", n_steps, minimum=20, maximum=5000)
    params = _autonomous_ensemble(n_units, gains, seeds)
    member_seeds = [s for _ in gains for s in seeds]
    lam = np.asarray(engine.ensemble_spectrum(params, n_steps, k, seeds=member_seeds))
    return lam.reshape(len(gains), len(seeds), k)


class IntervalErrors(NamedTuple):
    intervals: np.ndarray       # (n_m,) QR intervals m
    exponents: np.ndarray       # (n_m, k) exponents with a QR every m steps
    reference: np.ndarray       # (k,) exponents with a QR every step
    errors: np.ndarray          # (n_m, k) |lambda_i(m) - lambda_i(1)|
    exposure: np.ndarray        # (n_m, k) m (lambda_1 - lambda_i), from the reference exponents


#: The QR intervals whose exponents the round-off demo compares with m = 1.
INTERVALS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40)


@lru_cache(maxsize=64)
def qr_interval_errors(gain: float = 2.0, n_units: int = 50, n_exponents: int | None = None,
                       intervals: tuple = INTERVALS, n_steps: int = 300,
                       seed: int = 0) -> IntervalErrors:
    """Exponents of one autonomous network with a QR every m steps, for each m of ``intervals``,
    against a QR every step (torch engine, float64, same trajectory and frame)."""
    from .. import engine
    gain = check_real("the gain g", gain, minimum=0.0, maximum=10.0)
    n_units = check_int("the number of units N", n_units, minimum=1, maximum=256)
    k = check_n_exponents(n_exponents, n_units)
    params = engine.to_torch(autonomous(init_rnn(n_units, gain, seed=seed)))
    ref = engine.lyapunov_spectrum(params, seq_len=n_steps, n_exponents=k, seed=seed).numpy()
    lams = np.asarray([ref if m == 1 else
                       engine.lyapunov_spectrum(params, seq_len=n_steps, n_exponents=k,
                                                reorth_every=int(m), seed=seed).numpy()
                       for m in intervals])
    intervals = np.asarray(intervals)
    return IntervalErrors(intervals, lams, ref, np.abs(lams - ref),
                          intervals[:, None] * (ref[0] - ref)[None, :])


def example_matrices(seed: int = 0) -> dict:
    """Two 4 x 4 maps whose exponents are known: A = P diag(1.5, -0.9, 0.6, 0.2) P^-1 (real
    eigenvalues, one negative) and a rotation by 0.7 rad scaled by 0.8 next to diag(1.1, 0.3)
    (a complex pair of modulus 0.8)."""
    rng = np.random.default_rng(seed)
    p = np.linalg.qr(rng.standard_normal((4, 4)))[0] + 0.3 * rng.standard_normal((4, 4))
    real = p @ np.diag([1.5, -0.9, 0.6, 0.2]) @ np.linalg.inv(p)
    c, s = np.cos(0.7), np.sin(0.7)
    rotation = np.zeros((4, 4))
    rotation[:2, :2] = 0.8 * np.array([[c, -s], [s, c]])
    rotation[2, 2], rotation[3, 3] = 1.1, 0.3
    return {"real eigenvalues": real, "rotation x 0.8": rotation}


def linear_map_check(spectrum_function, matrix, n_steps: int = 200, transient: int = 20,
                     seed: int = 0):
    """The exponents of the constant map ``matrix`` (D_t = A for every t) by
    ``spectrum_function(jacobians, frame, transient)``, and log|eigenvalues of A| sorted
    descending: they must agree, up to the alignment error of the frame (~(ratio of moduli)^T).

    Returns (computed (n,), expected (n,)).
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    jacobians = np.broadcast_to(a, (n_steps, n, n)).copy()
    computed = np.asarray(spectrum_function(jacobians, random_frame(n, n, seed), transient),
                          dtype=float)
    return computed, np.sort(np.log(np.abs(np.linalg.eigvals(a))))[::-1]


def preactivation_form_spectrum(gain: float = 2.0, n_units: int = 50, n_steps: int = 300,
                                seed: int = 0):
    """Exponents of the same autonomous trajectory with the h-form Jacobians diag(s_t) W (ours)
    and with the pre-activation map's form W diag(s_t) (a teaching point: the author's code, like
    ours, multiplies by diag(s_t) W at the new state), both by
    :func:`flosslab.spectrum_from_jacobians` with the same frame and transient. (k = N each.)"""
    from .. import reference
    params = autonomous(init_rnn(n_units, gain, seed=seed))
    _, pre = reference.run_rnn(params, np.zeros((n_steps, 1)), h0=random_state(n_units, seed),
                               return_preactivations=True)
    slopes = reference.tanh_slope(pre)
    w = params["W"]
    transient = default_transient(n_steps)
    ours = reference.spectrum_from_jacobians(slopes[:, :, None] * w[None], None,
                                             transient=transient, seed=seed)
    theirs = reference.spectrum_from_jacobians(w[None] * slopes[:, None, :], None,
                                               transient=transient, seed=seed)
    return np.asarray(ours), np.asarray(theirs)


#: Rule of thumb for the QR interval in float64: keep m (lambda_1 - lambda_k) below this.
ROUND_OFF_RULE = 15.0
#: Demo 3's tolerance: an exponent with a QR every m steps counts as right while it is within this
#: of the one with a QR every step (per step). The status line, the questions and their answers use
#: it; 0.01 is the accuracy Demo 2's running estimates settle to. Chosen with room on both sides for
#: the three answers (g = 2, N = 50; g = 1, N = 50; g = 2, N = 10): the errors at the answers' m and
#: at the next m on the slider lie at least four times below and above it
#: (tests/test_prose_numbers.py).
ROUND_OFF_TOLERANCE = 1e-2


# --- figures ---------------------------------------------------------------------------------------


def spectrum_figure(exponents, steps, estimates, n_shown: int = 5):
    """Left: lambda_i against i. Right: running estimates of the first ``n_shown`` exponents."""
    fig, (ax_s, ax_c) = new_figure(ncols=2, width=10.0, height=3.8)
    (points,) = ax_s.plot([], [], "o-", ms=3, lw=1, color="tab:blue")
    ax_s.axhline(0.0, color="k", lw=0.8)
    ax_s.set_xlabel("index i")
    ax_s.set_ylabel(r"$\lambda_i$ (per step)")
    ax_s.set_title("Lyapunov spectrum")
    # lower left: a descending spectrum never passes there (upper right it can, at some gains)
    text = ax_s.text(0.03, 0.05, "", transform=ax_s.transAxes, ha="left", va="bottom",
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
    legend_outside(artists["ax_convergence"], "right")  # inside, g < 1 puts estimates under it
    artists["text"].set_text(note)
    artists["text"].set_visible(bool(note))
    rescale(artists["ax_spectrum"])
    rescale(artists["ax_convergence"])


def spectrum_vs_gain_seeds_figure(gains, spectra, n_shown: int = 3, max_shown: int = 5):
    """lambda_1..lambda_n against g: the median over seeds (line) and their range (band).
    spectra: (n_gains, n_seeds, k); dotted: g = 1 and the curve log g."""
    fig, (ax,) = new_figure(width=8.0, height=3.8)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    (log_g,) = ax.plot([], [], ":", color="0.3", lw=1.5, label=r"$\log g$")
    # a marker each as well as a colour: tab10's orange and green look alike to some eyes
    lines = [ax.plot([], [], marker + "-", ms=4, color=mpl.colormaps["tab10"](i))[0]
             for i, marker in zip(range(max_shown), "os^Dv")]
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
    legend_outside(ax, "right")         # inside, a small N puts bands under it
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
    legend_outside(art["ax_error"], "below", ncols=3)   # inside, a low gain puts dots under it
    rescale(art["ax_spectrum"])
    art["ax_error"].set_xlim(0, min(max(top, 20.0) * 1.03, EXPOSURE_SHOWN))
    art["ax_error"].set_ylim(ERROR_FLOOR / 3, max(float(errors.max()) * 3, 1e-6))


# --- dashboards ------------------------------------------------------------------------------------


def _sum_rule_note(result):
    if result.sum_rule is None:
        return "sum rule: needs k = N"
    lhs, rhs = result.sum_rule
    return f"sum rule: $\\Sigma\\lambda_i$ = {lhs:.4f}\n$\\langle\\log|\\det D_t|\\rangle$ = {rhs:.4f}"


def _spectrum_status(result, values) -> str:
    lam = result.exponents
    m, k = values["reorth_every"], lam.size
    head = (f"&lambda;<sub>1</sub> = {lam[0]:+.3f} per step "
            f"({'chaotic' if lam[0] > 0.01 else 'not chaotic'} at g = {values['gain']:.2f})")
    if k < 2:
        return head + "; with k = 1 there is no spread &lambda;<sub>1</sub> - &lambda;<sub>k</sub>"
    exposure = m * (lam[0] - lam[-1])
    if m > 1 and exposure > ROUND_OFF_RULE:
        return (head + f". <span style='color:#a00'>m(&lambda;<sub>1</sub> - &lambda;<sub>k</sub>)"
                f" = {exposure:.0f} &gt; {ROUND_OFF_RULE:g}: the last exponents are likely wrong by "
                "round-off (compare with m = 1, or lower m or k)</span>")
    return head + f"; m(&lambda;<sub>1</sub> - &lambda;<sub>k</sub>) = {exposure:.1f}"


def spectrum_dashboard(gain=2.0, n_units=None, n_exponents=None, reorth_every=1, n_steps=None):
    """Gain, N, k, QR interval m -> Lyapunov spectrum and its convergence (autonomous network);
    the status line warns when m (lambda_1 - lambda_k) exceeds the round-off rule of thumb."""
    n = n_units or SIZES["n_units"]
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.1, 4.0, 0.05),
        "n_units": slider(W.IntSlider, "units N", n, 2, 100),
        "n_exponents": slider(W.IntSlider, "exponents k", n_exponents or n, 1, 100),
        "reorth_every": slider(W.IntSlider, "QR every m steps", reorth_every, 1, 40),
    }
    steps = n_steps or SIZES["n_steps"]

    def compute(gain, n_units, n_exponents, reorth_every):
        return autonomous_spectrum(round(float(gain), 4), n_units, n_exponents, reorth_every,
                                      steps)

    def draw(art, r, values):
        update_spectrum(art, r.exponents, r.history.steps, r.history.estimates,
                              _sum_rule_note(r))

    def make(r, values):
        fig, art = spectrum_figure(r.exponents, r.history.steps, r.history.estimates)
        draw(art, r, values)
        return fig, art

    return Dashboard(controls, compute, make, draw, note=_spectrum_status, height="400px")


def spectrum_vs_gain_dashboard(n_units=None, n_shown=3, n_steps=300):
    """N, number of exponents shown, T -> lambda_1..lambda_n of the autonomous network against g,
    median and range over seeds 0-4 (torch engine, one ensemble per setting, cached)."""
    controls = {
        "n_units": slider(W.IntSlider, "units N", n_units or SIZES["n_units"], 10, 80, 10),
        "n_shown": slider(W.IntSlider, "exponents shown", n_shown, 1, 5),
        "n_steps": slider(W.IntSlider, "steps T", n_steps, 100, 500, 100),
    }

    def compute(n_units, n_shown, n_steps):
        return spectrum_vs_gain_seeds(GAIN_GRID, n_units, 5, n_steps)

    def note(spectra, values):
        med = np.median(spectra[:, :, 0], axis=1)
        gains = np.asarray(GAIN_GRID)
        below = gains < 1.0
        return (f"N = {values['n_units']}, T = {values['n_steps']}, seeds 0-4: median "
                f"&lambda;<sub>1</sub> &lt; 0 for every g &lt; 1 on the grid: "
                f"{bool(np.all(med[below] < 0))}; median &lambda;<sub>1</sub> at g = 1: "
                f"{med[gains == 1.0][0]:+.3f}; at g = 3: {med[-1]:+.3f}")

    return Dashboard(controls, compute,
                     lambda s, v: spectrum_vs_gain_seeds_figure(GAIN_GRID, s, v["n_shown"]),
                     lambda art, s, v: update_spectrum_vs_gain_seeds(art, GAIN_GRID, s,
                                                                           v["n_shown"]),
                     note=note, height="420px")


def qr_interval_dashboard(gain=2.0, n_units=None, interval=10):
    """Gain, N, QR interval m -> the spectrum (k = N) with a QR every m steps against every step,
    and every exponent's error against m (lambda_1 - lambda_i) (torch engine, float64)."""
    options = [(str(m), i) for i, m in enumerate(INTERVALS)]
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 4.0, 0.25),
        "n_units": slider(W.IntSlider, "units N = k", n_units or SIZES["n_units"], 10, 80, 10),
        "selected": W.SelectionSlider(options=options, value=INTERVALS.index(interval),
                                      description="QR every m steps", continuous_update=False,
                                      style={"description_width": "initial"},
                                      layout=W.Layout(width="auto", min_width="260px")),
    }

    def compute(gain, n_units, selected):
        return qr_interval_errors(round(float(gain), 4), n_units, None, INTERVALS,
                                     SIZES["n_steps"]), selected

    def note(data, values):
        r, i = data
        m = int(r.intervals[i])
        tol = ROUND_OFF_TOLERANCE
        bad = r.errors[i] > tol
        if not bad.any():
            return (f"m = {m}: every exponent within {tol:g} of m = 1 (largest error "
                    f"{r.errors[i].max():.1g}); largest m(&lambda;<sub>1</sub>"
                    f" - &lambda;<sub>i</sub>) = {r.exposure[i].max():.1f}")
        first = int(np.argmax(bad))
        return (f"m = {m}: exponents from i = {first + 1} on are off by more than {tol:g} (largest "
                f"error {r.errors[i].max():.2g}); there m(&lambda;<sub>1</sub> - "
                f"&lambda;<sub>i</sub>) = {r.exposure[i][first]:.1f}")

    return Dashboard(controls, compute,
                     lambda data, v: interval_errors_figure(data[0], data[1],
                                                                  ROUND_OFF_RULE),
                     lambda art, data, v: update_interval_errors(art, data[0], data[1]),
                     note=note, height="420px")


# --- checkers --------------------------------------------------------------------------------------


def reference_qr_step(D, Q):
    """(Q_new, log|R_ii|) of the reduced QR of D Q: one step of the QR algorithm."""
    q_new, r = np.linalg.qr(np.asarray(D, dtype=float) @ np.asarray(Q, dtype=float))
    return q_new, np.log(np.abs(np.diag(r)))


def reference_spectrum(jacobians, frame, transient):
    """The exponents of ``jacobians`` (T, N, N) by the QR algorithm from ``frame`` (N, k), the
    first ``transient`` steps not counted (:func:`flosslab.reference.lyapunov.spectrum_from_jacobians`
    with the exercise's arguments)."""
    frame = np.asarray(frame, dtype=float)
    return np.asarray(spectrum_from_jacobians(np.asarray(jacobians, dtype=float), frame.shape[1],
                                              transient=transient, frame=frame))


@checker(reference_qr_step)
def check_qr_step(func, n_cases: int = 4) -> bool:
    """``func(D, Q)`` -> (Q_new, log|R_ii|): one step of the QR algorithm."""
    name = "qr_step"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(200 + case)
            n = int(rng.integers(3, 10))
            k = int(rng.integers(1, n + 1))
            d = rng.standard_normal((n, n))
            q = random_frame(n, k, case)
            got = to_tuple(name, call(name, func, d, q), 2, "a pair (Q_new, log_abs_diag_R)")
            q_ref, r_ref = np.linalg.qr(d @ q)                 # from the originals
            logs_ref = np.log(np.abs(np.diag(r_ref)))
            raw_logs = to_array(name, got[1], None, "log|R_ii|", finite=False)
            if raw_logs.shape == logs_ref.shape and np.isnan(raw_logs).any():
                raise Answer("log of a negative R_ii is NaN: take log|R_ii| (Householder QR may "
                             "return negative diagonals).")
            logs = to_array(name, got[1], logs_ref.shape, "log|R_ii| (one per column)")
            if not close(logs, logs_ref):
                if close(logs, np.abs(np.diag(r_ref))):
                    raise Answer("return the LOG of |R_ii|, not |R_ii| itself.")
                if close(logs, logs_ref / np.log(10)):
                    raise Answer("use the natural log (np.log), not log10: the exponents are in "
                                 "natural log per step.")
                raise Answer("multiply first (D Q), then take the QR of the product; return "
                             "log|diag(R)| of that QR.")
            q_new = to_array(name, got[0], (n, k), "Q_new (N x k, reduced QR)")
            # columns of Q are defined up to sign: compare |Q_new^T Q_ref| with the identity
            if not close(np.abs(q_new.T @ q_ref), np.eye(k), atol=1e-6):
                raise Answer("Q_new must be the N x k orthonormal Q factor of D Q (reduced QR).")
    return run(name, cases)


@checker(reference_spectrum)
def check_spectrum(func, n_cases: int = 3) -> bool:
    """``func(jacobians, frame, transient)`` -> (k,) exponents by the QR algorithm."""
    name = "my_spectrum"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(300 + case)
            n, t = int(rng.integers(3, 8)), int(rng.integers(30, 60))
            k = n if case == 0 else int(rng.integers(1, n + 1))   # the demos use k = N
            transient = int(rng.integers(1, 10))
            jacs = rng.standard_normal((t, n, n)) * rng.uniform(0.3, 1.5) / np.sqrt(n)
            frame = random_frame(n, k, case)
            want = np.asarray(spectrum_from_jacobians(jacs, k, transient=transient, frame=frame))
            got = to_array(name, call(name, func, jacs, frame, transient), want.shape,
                           "the exponents (k of them)")
            if close(got, want):
                continue
            if close(got, spectrum_from_jacobians(jacs, k, frame=frame)):
                raise Answer("discard the first `transient` steps: still advance the frame, but "
                             "do not add their log|R_ii|.")
            if close(got / (t - transient), want):
                raise Answer("divide the summed logs by the number of steps accumulated "
                             "(T - transient): exponents are per step.")
            if close(got * t / (t - transient), want):
                raise Answer("divide by the number of steps accumulated, T - transient, not T.")
            raise Answer("advance Q <- D_t Q at every step, QR, add log|R_ii| after the "
                         "transient, divide by the steps counted.")
    return run(name, cases)


def reference_log_det_average(jacobians, transient: int) -> float:
    """mean over t >= transient of log|det D_t| (natural log), by LU (slogdet)."""
    counted = np.asarray(jacobians, dtype=float)[transient:]
    return float(np.mean(np.linalg.slogdet(counted)[1]))


@checker(reference_log_det_average)
def check_log_det_average(func, n_cases: int = 4) -> bool:
    """``func(jacobians, transient)`` -> the time average of log|det D_t| over the steps after the
    transient: the right-hand side of the sum rule."""
    name = "log_det_average"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(320 + case)
            n, t = int(rng.integers(2, 7)), int(rng.integers(20, 50))
            transient = int(rng.integers(2, 10))
            jacs = rng.standard_normal((t, n, n)) * rng.uniform(0.3, 1.5, size=(t, 1, 1))
            if case == 0:
                jacs[transient] = np.diag(np.r_[-1.0, np.arange(2.0, n + 1)])   # det < 0
            want = reference_log_det_average(jacs, transient)
            raw = call(name, func, jacs.copy(), transient)
            if isinstance(raw, (float, np.floating)) and np.isnan(raw):
                raise Answer("the result is NaN: a determinant can be negative; take "
                             "log|det D_t| (np.linalg.slogdet returns the log of the absolute "
                             "value).")
            got = to_array(name, raw, (), "the average (one number)")
            if close(got, want):
                continue
            if close(got, np.mean(np.linalg.slogdet(jacs)[1])):
                raise Answer("average only over the steps after the transient (t >= transient), "
                             "like the exponents.")
            if close(got, want * (t - transient)):
                raise Answer("take the MEAN over the counted steps, not the sum.")
            if close(got, want / np.log(10.0)):
                raise Answer("use the natural log: exponents are in natural log per step.")
            raise Answer("np.linalg.slogdet(D)[1] is log|det D|; average it over "
                         "jacobians[transient:].")
    return run(name, cases)
