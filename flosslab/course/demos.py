"""The computations behind each notebook's demo, as plain functions returning plain data.

Each function calls the reference (model, Lyapunov, diagnostics, flossing, training) and returns
arrays; the plots (:mod:`flosslab.plots`) and dashboards (:mod:`flosslab.widgets`) only display
them. Functions a slider calls repeatedly are cached (``functools.lru_cache``): moving a slider back
to a value already seen costs nothing. Sizes default from :func:`defaults`, which is where the fast
(CI / Binder) mode shrinks them.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..core.conventions import (autonomous, default_transient, init_rnn, random_bits,
                                random_state)
from ..core.errors import FlosslabError
from ..core.measures import effective_rank, log10_condition_number
from ..core.records import SpectrumHistory
from ..core.settings import fast_or_full
from ..core.tasks import make_batch
from ..core.trainconfig import TrainConfig
from ..core.validate import check_int, check_n_exponents, check_real
from ..reference.lyapunov import log_det_average, lyapunov_spectrum
from ..reference.model import run_rnn
from ..reference.qr import qr as reference_qr


def defaults() -> dict:
    """Default sizes of every demo; small in fast mode (``FLOSSLAB_FAST=1``). All fit in < 1 GB."""
    return {
        "grad_units": 64, "grad_seq_len": fast_or_full(60, 120),
        "spec_units": 50, "spec_steps": 300,
        "floss_units": fast_or_full(24, 32), "floss_steps": fast_or_full(30, 80),
        "floss_lr": 0.01, "floss_k": fast_or_full(6, 8),
        "train_units": 32, "train_epochs": fast_or_full(120, 400),
        "train_delay": fast_or_full(12, 25), "train_floss_steps": fast_or_full(40, 80),
        "ckpt_every": fast_or_full(10, 20), "ckpt_count": fast_or_full(4, 6),
        "cell_units": fast_or_full(8, 16), "cell_steps": fast_or_full(150, 300),
        "cost_units": fast_or_full(32, 64), "cost_k": fast_or_full(16, 32),
        "ens_units": fast_or_full(16, 32), "ens_steps": fast_or_full(120, 300),
    }


# --- 00 ---------------------------------------------------------------------------------------------

def key_results(name: str = "default") -> dict:
    """The course's key result from the shipped reproduction (:func:`flosslab.paper.results.load`):
    per task, the delays, the final accuracy of every seed per schedule (n_delays, n_seeds), and the
    longest delay whose median accuracy is >= 0.9 (the "horizon")."""
    from ..paper.results import load
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


# --- 01 ---------------------------------------------------------------------------------------------

from ..core.conventions import random_frame  # noqa: E402 (imports of this notebook's section)
from ..reference.model import tanh_slope  # noqa: E402


#: The smallest positive normal float64 (2.2e-308) and the smallest subnormal (4.9e-324): below the
#: first a number loses digits, below the second it is exactly 0.
FLOAT64_TINY = float(np.finfo(np.float64).tiny)
FLOAT64_SMALLEST = float(np.finfo(np.float64).smallest_subnormal)


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
    slopes = tanh_slope(np.asarray(pre, dtype=float))
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
    ``fl.state_gradient_norms`` does): it reads 0 as soon as the SQUARES underflow, below
    ~1e-154 = sqrt(2.2e-308); ``zero_vector[t-1]`` is True where every entry of delta_t itself has
    underflowed to exactly 0 (below 4.9e-324).
    """
    w = np.asarray(params["W"])
    slopes = tanh_slope(np.asarray(pre, dtype=float))
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
        states, pre = run_rnn(params, batch.inputs, return_preactivations=True)
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


#: Defaults of notebook 01's demos (cheap: the same in fast and full mode).
GRADIENT_DEFAULTS = {"n_units": 64, "seq_len": 300, "gains": (0.1, 3.0)}


def driven_trajectory(n_units: int, gain: float, seq_len: int, seed: int):
    """The network ``init_rnn(N, g, seed)`` driven by random bits (seed [seed, 1]) from
    ``random_state(N, seed)``: (params, bits, pre-activations (T, N)), as a spectrum sees it."""
    params = init_rnn(n_units, gain, seed=seed)
    bits = random_bits(seq_len, 1, [seed, 1])
    _, pre = run_rnn(params, bits, h0=random_state(n_units, seed), return_preactivations=True)
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
    lam1 = float(lyapunov_spectrum(params, bits, n_exponents=1, seed=seed)[0])
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


# --- 02 ---------------------------------------------------------------------------------------------

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
    lam, hist = lyapunov_spectrum(params, inputs, n_exponents=k, reorth_every=reorth_every,
                                  transient=transient, seed=seed, h0=h0, return_history=True)
    rule = None
    if k == n_units:
        _, pre = run_rnn(params, inputs, h0=h0, return_preactivations=True)
        rule = (float(np.sum(lam)), float(log_det_average(params, pre[transient:])))
    return SpectrumResult(np.asarray(lam), hist, rule)


def spectrum_vs_gain(gains, n_units: int = 50, n_exponents: int = 5, n_steps: int = 300,
                     seed: int = 0) -> np.ndarray:
    """First ``n_exponents`` exponents for each gain: (n_gains, n_exponents)."""
    return np.asarray([autonomous_spectrum(float(g), n_units, n_exponents, 1, n_steps,
                                           seed).exponents for g in gains])


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
    ref = engine.lyapunov_spectrum(params, n_steps=n_steps, n_exponents=k, seed=seed).numpy()
    lams = np.asarray([ref if m == 1 else
                       engine.lyapunov_spectrum(params, n_steps=n_steps, n_exponents=k,
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
    and with the pre-activation form W diag(s_t) (the author's code), both by
    :func:`flosslab.spectrum_from_jacobians` with the same frame and transient. (k = N each.)"""
    from .. import reference
    params = autonomous(init_rnn(n_units, gain, seed=seed))
    _, pre = run_rnn(params, np.zeros((n_steps, 1)), h0=random_state(n_units, seed),
                     return_preactivations=True)
    slopes = tanh_slope(pre)
    w = params["W"]
    transient = default_transient(n_steps)
    ours = reference.lyapunov.spectrum_from_jacobians(slopes[:, :, None] * w[None], None,
                                                      transient=transient, seed=seed)
    theirs = reference.lyapunov.spectrum_from_jacobians(w[None] * slopes[:, None, :], None,
                                                        transient=transient, seed=seed)
    return np.asarray(ours), np.asarray(theirs)


# --- 03 ---------------------------------------------------------------------------------------------

# The QR's reverse-mode rule (VJP) against finite differences, the closed form of
# d(sum log|R_ii|)/dA against the VJP as A nears rank deficiency, and both through a whole QR
# algorithm (a linear network, where sum_i lambda_i = log|det W|). Each demo takes the student's
# function (``vjp``, ``closed_form``) or, by default, the reference.

class VJPCheck(NamedTuple):
    vjp: np.ndarray
    fd: np.ndarray
    eps_grid: np.ndarray
    errors: np.ndarray              # ||fd - vjp|| / ||vjp|| at each eps

    @property
    def best(self) -> tuple:
        """(smallest relative error, the eps where it occurs)."""
        i = int(np.argmin(self.errors))
        return float(self.errors[i]), float(self.eps_grid[i])


def qr_test_loss(a, weights):
    """sum_i log|R_ii| + sum(weights * Q): a scalar that depends on both QR factors."""
    import autograd.numpy as anp
    from ..reference.qr import qr
    q, r = qr(a)
    return anp.sum(anp.log(anp.abs(anp.diagonal(r, axis1=-1, axis2=-2)))) + anp.sum(weights * q)


def qr_test_upstream(q, r, weights):
    """The upstream gradients of :func:`qr_test_loss`: dL/dQ = weights, dL/dR = diag(1/R_ii)."""
    return weights, np.diag(1.0 / np.diag(r))


def _check_shape(m, n):
    m = check_int("the number of rows m", m, minimum=1, maximum=60)
    n = check_int("the number of columns n", n, minimum=1, maximum=60)
    if n > m:
        raise FlosslabError(f"reduced QR needs m >= n (a tall or square matrix); got m={m} rows "
                            f"and n={n} columns: choose n <= m")
    return m, n


DEFAULT_EPS_GRID = tuple(np.logspace(-12, -1, 23))


@lru_cache(maxsize=64)
def qr_vjp_check(n_rows: int = 6, n_cols: int = 4, seed: int = 0,
                 eps_grid: tuple = DEFAULT_EPS_GRID, vjp=None) -> VJPCheck:
    """Gradient of :func:`qr_test_loss` by a VJP of the QR and by central differences.

    ``vjp(Q, R, Qb, Rb)`` is the rule to test (e.g. the student's); None: autograd through the
    registered :func:`flosslab.reference.qr.qr`. Returns the VJP (m, n), the central-difference
    gradient at each eps (n_eps, m, n) and the relative error at each eps.
    """
    from autograd import grad
    m, n = _check_shape(n_rows, n_cols)
    eps_grid = np.asarray(eps_grid, dtype=float)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    weights = rng.standard_normal((m, n))
    if vjp is None:
        g = grad(qr_test_loss)(a, weights)
    else:
        q, r = reference_qr(a)          # the factors the loss sees (signs as in qr_test_loss)
        g = np.asarray(vjp(q, r, *qr_test_upstream(q, r, weights)), dtype=float)
    fds = []
    for eps in eps_grid:
        fd = np.zeros_like(a)
        for idx in np.ndindex(*a.shape):
            step = np.zeros_like(a)
            step[idx] = eps
            fd[idx] = (qr_test_loss(a + step, weights) - qr_test_loss(a - step, weights)) / (2 * eps)
        fds.append(fd)
    fds = np.asarray(fds)
    errors = np.linalg.norm((fds - g).reshape(len(eps_grid), -1), axis=1) / np.linalg.norm(g)
    return VJPCheck(g, fds, eps_grid, errors)


def fd_best_over_shapes(shapes=((1, 1), (3, 2), (6, 4), (8, 8), (12, 5), (12, 12)), vjp=None):
    """For each (m, n): the smallest relative error of the central difference and its eps.
    Returns a list of (m, n, error, eps)."""
    return [(m, n) + qr_vjp_check(m, n, vjp=vjp).best for m, n in shapes]


class ConditioningCurve(NamedTuple):
    sigma_min: np.ndarray           # smallest singular value of A (the largest is 1)
    norm_vjp: np.ndarray            # ||VJP (autograd through qr)||_F, about 1/sigma_min
    err_vjp: np.ndarray             # ||VJP - U S^-1 V^T|| / ||U S^-1 V^T|| (A = U S V^T)
    err_closed: np.ndarray          # the same for closed_form(A) (NaN where it failed)
    failed: tuple                   # (sigma_min, error message) where closed_form raised


def vjp_logdet_gradient(a):
    """d(sum log|R_ii|)/dA by autograd through the registered qr (its VJP)."""
    import autograd.numpy as anp
    from autograd import grad

    from ..reference.qr import qr
    return grad(lambda x: anp.sum(anp.log(anp.abs(anp.diagonal(qr(x)[1], axis1=-1,
                                                                 axis2=-2)))))(a)


def closed_form_logdet_gradient(a):
    """A (A^T A)^{-1} (= A^{-T} for square A) through the normal equations: loses accuracy like
    the square of A's condition number."""
    a = np.asarray(a, dtype=float)
    return np.linalg.solve(a.T @ a, a.T).T


def stable_logdet_gradient(a):
    """The same closed form as Q R^{-T} (A = QR, so A (A^T A)^{-1} = Q R^{-T}): one triangular
    solve, accuracy like A's condition number."""
    from scipy.linalg import solve_triangular
    q, r = np.linalg.qr(np.asarray(a, dtype=float))
    return solve_triangular(r, q.T, lower=False).T


@lru_cache(maxsize=64)
def logdet_gradient_vs_conditioning(n_rows: int = 6, n_cols: int = 4,
                                    log10_sigma_min: tuple = tuple(np.arange(-12.0, 0.25, 0.5)),
                                    seed: int = 0, closed_form=None) -> ConditioningCurve:
    """d(sum log|R_ii|)/dA for A = U S V^T (m x n) with singular values spread geometrically from 1
    down to sigma_min, whose exact gradient is U S^{-1} V^T: relative errors of the VJP (autograd
    through qr) and of ``closed_form(A)`` (default: the normal equations,
    :func:`closed_form_logdet_gradient`). Where ``closed_form`` raises (A^T A singular to working
    precision) or returns NaN/inf its error is NaN and the reason is kept in ``failed``. The
    rounding of A alone changes its gradient by about 1e-16 / sigma_min (relative)."""
    m, n = _check_shape(n_rows, n_cols)
    closed_form = closed_form or closed_form_logdet_gradient
    sig = 10.0 ** np.asarray(log10_sigma_min, dtype=float)
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    rows, failed = [], []
    for s_min in sig:
        s = np.geomspace(1.0, s_min, n) if n > 1 else np.array([s_min])
        a = (u * s) @ v.T
        exact = (u / s) @ v.T
        scale = np.linalg.norm(exact)
        g = vjp_logdet_gradient(a)
        try:
            with np.errstate(all="ignore"):
                c = np.asarray(closed_form(a), dtype=float)
            err = np.linalg.norm(c - exact) / scale
            if not np.isfinite(err):
                raise FloatingPointError("NaN or inf in the result")
        except (np.linalg.LinAlgError, FloatingPointError, ValueError) as problem:
            err = np.nan
            failed.append((float(s_min), f"{type(problem).__name__}: {problem}"))
        rows.append((np.linalg.norm(g), np.linalg.norm(g - exact) / scale, err))
    nv, ev, ec = (np.asarray(x) for x in zip(*rows))
    return ConditioningCurve(sig, nv, ev, ec, tuple(failed))


class LinearNetworkGradient(NamedTuple):
    w: np.ndarray
    n_exponents: int
    value: float                    # sum_{i <= k} lambda_i
    log_det: float                  # log|det W|
    autograd: np.ndarray            # d value / dW through every QR of the algorithm (N x N)
    directions_autograd: np.ndarray  # <autograd, E_j> for random unit directions E_j
    directions_fd: np.ndarray       # (value(W + eps E_j) - value(W - eps E_j)) / 2 eps, eps 1e-6
    closed: np.ndarray | None       # closed_form(W) (= W^{-T}) when k = N, else None
    steps: np.ndarray               # running estimate of sum_{i <= k} lambda_i
    running: np.ndarray


@lru_cache(maxsize=64)
def linear_network_gradient(n_units: int = 6, n_exponents: int = 6, n_steps: int = 40,
                            seed: int = 0, closed_form=None,
                            n_directions: int = 8) -> LinearNetworkGradient:
    """The QR algorithm on a linear network h_t = W h_{t-1} (D_t = W at every step): the gradient
    of sum_{i <= k} lambda_i with respect to W by autograd through all its QRs, checked by
    central differences along random directions, and (k = N, where the sum is log|det W|
    exactly) against ``closed_form(W)`` (default :func:`stable_logdet_gradient`)."""
    import autograd.numpy as anp
    from autograd import grad

    from ..core.conventions import random_frame
    from ..reference.lyapunov import accumulate_spectrum
    n = check_int("the number of units N", n_units, minimum=1, maximum=16)
    k = check_n_exponents(n_exponents, n)
    n_steps = check_int("the number of steps T", n_steps, minimum=2, maximum=400)
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / np.sqrt(n), size=(n, n))
    frame = random_frame(n, k, seed)
    transient = n_steps // 10

    def total(w_):
        return anp.sum(accumulate_spectrum(lambda t, q: w_ @ q, n_steps, frame, 1, transient))

    g = grad(total)(w)
    directions = rng.standard_normal((n_directions, n, n))
    directions /= np.linalg.norm(directions, axis=(1, 2), keepdims=True)
    eps = 1e-6
    fd = np.asarray([(total(w + eps * e) - total(w - eps * e)) / (2 * eps) for e in directions])
    _, hist = accumulate_spectrum(lambda t, q: w @ q, n_steps, frame, 1, transient,
                                  return_history=True)
    closed = np.asarray((closed_form or stable_logdet_gradient)(w), dtype=float) \
        if k == n else None
    return LinearNetworkGradient(w, k, float(total(w)), float(np.linalg.slogdet(w)[1]), g,
                                 np.einsum("ij,dij->d", g, directions), fd, closed, hist.steps,
                                 hist.estimates.sum(axis=1))


# --- 04 ---------------------------------------------------------------------------------------------

import threading  # noqa: E402  (kept in this section: the sections are merged separately)

# Flossing with the torch engine (the reference's numbers to round-off, ~10x faster): a run is kept
# with its Adam state at every step count asked for, so that asking for more steps continues it
# (exactly the run of that length, see :func:`floss_continued`) instead of starting over.

def flossing_defaults() -> dict:
    """Sizes of notebook 04's demos, the same in fast mode (so that its printed claims are too)
    except the student's numpy loop (demo 1) and the bonus run: N = 16, k = 4, 80 Adam steps at lr 0.01 (the
    dashboard offers 40-160 steps and a "larger" N = 32). ``tol``: the rms distance (per step) of
    lambda_1..lambda_k from the target below which flossing counts as converged."""
    return {"n_units": 16, "larger_units": 32, "n_exponents": 4, "n_steps": 80,
            "step_choices": (40, 80, 160), "lr": 0.01, "tol": 0.1, "seeds": (0, 1, 2, 3, 4),
            "cond_times": (10, 25, 50, 75, 100), "loop_units": 8, "loop_k": 2,
            "loop_steps": fast_or_full(10, 20), "loop_lr": 0.02,
            "bonus_steps": fast_or_full(160, 320)}


class FlossingResult(NamedTuple):
    gain: float
    n_exponents: int
    target: float
    n_units: int
    n_steps: int
    lr: float
    seed: int
    params_before: dict             # numpy
    params_after: dict
    losses: np.ndarray              # L_floss at each flossing step (its own 55-step window)
    window_exponents: np.ndarray    # (n_steps, k): the exponents each step's loss was made of
    spectrum_before: np.ndarray     # all N exponents, on the same 600 bits before and after
    spectrum_after: np.ndarray
    distance_half: float            # rms distance of lambda_1..k from the target after n_steps // 2
    grad_times: np.ndarray
    grad_before: np.ndarray         # ||dL/dh_t||, copy task, loss at the last step (t = 80)
    grad_after: np.ndarray
    cond_times: np.ndarray
    cond_before: np.ndarray | None  # log10 kappa(J_t), first k singular values; None when k = 1
    cond_after: np.ndarray | None


_RUNS: dict = {}
_RUNS_LOCK = threading.Lock()
_MAX_RUNS = 256


def floss_continued(gain: float, n_exponents: int, target: float, n_units: int, n_steps: int,
                    lr: float, seed: int = 0, reorth_every="auto"):
    """``engine.floss(engine.init_rnn(n_units, gain, seed=seed), n_steps, k, target, lr, seed=seed,
    reorth_every=reorth_every)``, continued from the longest shorter run of the same settings when
    one is kept (same bits, frames and Adam state, so the same numbers). Returns (numpy params,
    :class:`FlossHistory`)."""
    import copy

    import torch

    from .. import engine
    from ..core.conventions import DYNAMIC_PARAMS, FLOSS_SEQ_LEN, FLOSS_TRANSIENT
    from ..core.errors import NumericalError, flossing_diverged
    from ..core.records import FlossHistory
    n_steps = check_int("the number of flossing steps", n_steps, minimum=0, maximum=5000)
    key = (float(gain), int(n_exponents), float(target), int(n_units), float(lr), int(seed),
           reorth_every)
    with _RUNS_LOCK:
        kept = _RUNS.get(key, {})
        start = max((s for s in kept if s <= n_steps), default=None)
        snap = kept.get(start)
    if snap is None:
        params = engine.init_rnn(n_units, gain, seed=seed)
        start, losses, spectra, opt_state = 0, [], [], None
    else:
        params, losses, spectra, opt_state = snap
        params = {name: value.clone() for name, value in params.items()}
        losses, spectra = list(losses), list(spectra)
    dynamic = [params[name].requires_grad_() for name in DYNAMIC_PARAMS]
    opt = torch.optim.Adam([{"params": dynamic, "lr": lr}])
    if opt_state is not None:
        opt.load_state_dict(copy.deepcopy(opt_state))
    for step in range(start, n_steps):
        bits = random_bits(FLOSS_SEQ_LEN, 1, [seed, step])
        loss, lam = engine.flossing_loss(params, bits, n_exponents, target, FLOSS_TRANSIENT,
                                         reorth_every, seed=seed + step, return_exponents=True)
        value = float(loss.detach())
        if not np.isfinite(value):
            raise NumericalError(flossing_diverged(value, step, ""))
        losses.append(value)
        spectra.append(lam.detach().double().numpy())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    params = {name: value.detach() for name, value in params.items()}
    with _RUNS_LOCK:
        if key not in _RUNS and len(_RUNS) >= _MAX_RUNS:
            _RUNS.pop(next(iter(_RUNS)))
        _RUNS.setdefault(key, {})[n_steps] = (params, tuple(losses), tuple(spectra),
                                              copy.deepcopy(opt.state_dict()))
    history = FlossHistory(np.asarray(losses), np.asarray(spectra).reshape(len(losses),
                                                                           n_exponents))
    return engine.to_numpy(params), history


SPECTRUM_STEPS = 600


@lru_cache(maxsize=512)
def _measure(params_key, k: int, seed: int):
    """Spectrum (600 bits), gradient norms (copy task, T = 80, loss at the last step) and log10
    kappa of J_t for t = 10, 25, 50, 75, 100 (first k singular values; None for k = 1) of one network.

    kappa comes from subspace iteration (4 passes, :func:`flosslab.engine.log_singular_values`):
    when the k singular values are close, as after flossing, the split between sigma_1 and sigma_k
    converges slowly; 4 passes keep log10 kappa within ~0.1 of an exact SVD (tested)."""
    import torch

    from .. import engine
    params = engine.to_torch(dict(params_key.value))
    with torch.no_grad():
        spec = engine.lyapunov_spectrum(params, random_bits(SPECTRUM_STEPS, 1, [seed, 3]),
                                        seed=seed)
    batch = make_batch("copy", 1, 4, 80, [seed, 4])
    grads = engine.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask,
                                        loss_at="last")
    times = np.asarray(flossing_defaults()["cond_times"])
    cond = None
    if k >= 2:
        _, cond = engine.condition_number_curve(params, random_bits(140, 1, [seed, 5]),
                                                n_values=k, transient=40, times=times,
                                                n_passes=4, seed=seed)
    return spec.numpy(), grads, times, cond


class _Frozen:
    """A hashable stand-in for a parameter dict (by the bytes of its arrays), for the cache."""

    def __init__(self, params: dict):
        self.value = tuple((name, np.asarray(v)) for name, v in sorted(params.items()))
        self._hash = hash(tuple((name, v.tobytes()) for name, v in self.value))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return isinstance(other, _Frozen) and self._hash == other._hash and all(
            a == b and np.array_equal(x, y) for (a, x), (b, y) in zip(self.value, other.value))


@lru_cache(maxsize=256)
def flossing_run(gain: float = 1.0, n_exponents: int = 4, target: float = 0.0,
                 n_units: int = 16, n_steps: int = 80, lr: float = 0.01,
                 seed: int = 0) -> FlossingResult:
    """Floss a fresh network (torch engine, Adam) and measure it before and after on the same
    inputs: spectrum, gradient norms through time, condition number of the long-term Jacobian;
    also the distance of lambda_1..lambda_k from the target half way (is it still shrinking?)."""
    import torch

    from .. import engine
    gain = check_real("the gain g", gain, minimum=0.05, maximum=5.0)
    target = check_real("the target exponent", target, minimum=-2.0, maximum=1.0)
    k = check_n_exponents(n_exponents, n_units)
    before = init_rnn(n_units, gain, seed=seed)
    half, _ = floss_continued(gain, k, target, n_units, n_steps // 2, lr, seed)
    after, hist = floss_continued(gain, k, target, n_units, n_steps, lr, seed)
    with torch.no_grad():
        lam_half = engine.lyapunov_spectrum(engine.to_torch(half),
                                            random_bits(SPECTRUM_STEPS, 1, [seed, 3]),
                                            n_exponents=k, seed=seed).numpy()
    sb, gb, times, cb = _measure(_Frozen(before), k, seed)
    sa, ga, _, ca = _measure(_Frozen(after), k, seed)
    return FlossingResult(gain, k, target, n_units, n_steps, lr, seed, before, after, hist.losses,
                          hist.spectra, sb, sa, rms_distance(lam_half, target),
                          np.arange(1, gb.size + 1), gb, ga, times, cb, ca)


def lam(i) -> str:
    """"λ" with the index as Unicode subscript digits: λ₁, λ₁₆ (for status lines)."""
    return "λ" + str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def lams(k: int) -> str:
    """λ₁ for k = 1, else λ₁…λₖ."""
    return lam(1) if k == 1 else f"{lam(1)}…{lam(k)}"


def rms_distance(exponents, target: float) -> float:
    """sqrt(mean_i (lambda_i - target)^2): how far the exponents are from the target, per step."""
    return float(np.sqrt(np.mean((np.asarray(exponents, dtype=float) - target) ** 2)))


def loss_still_falling(losses, ratio: float = 0.8) -> bool:
    """True when the flossing loss is still falling: the median of its last quarter is below
    ``ratio`` times the median of the quarter before (medians: each step's loss comes from its own
    random window and is noisy). Fewer than 8 steps: True (too few to tell)."""
    losses = np.asarray(losses, dtype=float)
    n = losses.size
    if n < 8:
        return True
    return bool(np.median(losses[3 * n // 4:]) < ratio * np.median(losses[n // 2:3 * n // 4]))


class FlossingDiagnosis(NamedTuple):
    converged: bool
    distance_before: float          # rms over i <= k of (lambda_i - target), before flossing
    distance_after: float
    reasons: tuple                  # why it did not converge (empty when it did)
    message: str                    # one line for a status bar


def diagnose_flossing(result: FlossingResult, tol: float | None = None,
                      still_falling=loss_still_falling) -> FlossingDiagnosis:
    """Did flossing bring lambda_1..lambda_k (measured on 600 fresh bits) within ``tol`` (rms, per
    step; default ``flossing_defaults()["tol"]``) of the target? If not, say why, from the
    evidence (every reason that applies):

    - *chaotic*: lambda_1 > 0 before flossing;
    - *the loss rose*: the median of the last quarter of the steps is more than 1.5 times the
      first quarter's (the learning rate is too large for these dynamics);
    - *too few steps*: the loss is still falling (``still_falling(losses)``), or the distance to
      the target shrank by more than 20 % over the second half of the steps;
    - *the windows disagree with a long trajectory*: the loss (on 55-step windows) levelled
      off well below the squared distance seen on 600 steps: the exponents wander from window to
      window (a smaller learning rate helps);
    - *the target looks out of reach* (from this start, at this learning rate): none of these.
    """
    tol = flossing_defaults()["tol"] if tol is None else tol
    k, target = result.n_exponents, result.target
    before = rms_distance(result.spectrum_before[:k], target)
    after = rms_distance(result.spectrum_after[:k], target)
    losses = np.asarray(result.losses)
    n = losses.size
    reasons = []
    if after > tol:
        if result.spectrum_before[0] > 0:
            reasons.append(f"chaotic network ({lam(1)} = {result.spectrum_before[0]:+.2f} > 0 "
                           "before flossing)")
        if n >= 8 and np.median(losses[3 * n // 4:]) > 1.5 * np.median(losses[:n // 4]):
            reasons.append("the loss rose: the learning rate is too large for these dynamics")
        elif bool(still_falling(losses)):
            reasons.append(f"too few steps: the loss is still falling after {n} steps")
        elif after < 0.8 * result.distance_half:
            reasons.append(f"too few steps: the distance was still shrinking "
                           f"({result.distance_half:.2f} at step {n // 2})")
        level = float(np.median(losses[3 * n // 4:])) if n else float("nan")
        if not reasons and level < 0.5 * after ** 2:
            reasons.append(f"the 55-step windows look closer to the target (loss {level:.2g}) "
                           f"than 600 steps show ({after:.2f} squared = {after ** 2:.2g}): the "
                           "exponents wander; a smaller learning rate helps")
        if not reasons:
            reasons.append(f"the target looks out of reach from this start at this learning "
                           f"rate: the loss levelled off at {level:.2g}")
    word = "converged" if not reasons else "did not converge"
    message = (f"{word}: {lams(k)} {'is' if k == 1 else 'are'} {after:.3f} (rms) from the target "
               f"{target:+.2f} (tolerance {tol}; {before:.3f} before flossing)")
    if reasons:
        message += ". Why: " + "; ".join(reasons)
    return FlossingDiagnosis(not reasons, before, after, tuple(reasons), message)


@lru_cache(maxsize=64)
@lru_cache(maxsize=64)
def condition_collapse(gain: float = 1.0, n_exponents: int = 4, n_units: int = 16,
                       n_steps: int = 80, lr: float = 0.01, window: int = 300, seed: int = 0):
    """log10 kappa(J_t) for t up to ``window`` before and after flossing (the live, small version
    of the paper's Fig. 1 measurement), at 7 window lengths. Returns (times, before, after).
    The curves come from the numpy reference (twice as fast as torch at these sizes); cached."""
    k = check_n_exponents(n_exponents, n_units)
    if k < 2:
        raise FlosslabError("a condition number needs k >= 2 singular values; choose k >= 2")
    after, _ = floss_continued(gain, k, 0.0, n_units, n_steps, lr, seed)
    times = _collapse_times(window)
    return (times, _condition_curve_initial(gain, k, n_units, window, seed),
            _condition_curve(after, k, window, seed))


def _collapse_times(window: int) -> np.ndarray:
    return np.unique(np.r_[1, np.linspace(window / 6, window, 6).astype(int)])


@lru_cache(maxsize=128)
def _condition_curve_initial(gain, k, n_units, window, seed):
    return _condition_curve(init_rnn(n_units, gain, seed=seed), k, window, seed)


def _condition_curve(params, k, window, seed):
    from ..reference.diagnostics import condition_number_curve
    bits = random_bits(40 + window, 1, [seed, 5])
    return condition_number_curve(params, bits, n_values=k, transient=40,
                                  times=_collapse_times(window), n_passes=2, seed=seed)[1]


class SeedSummary(NamedTuple):
    seeds: tuple
    lambda_1: np.ndarray            # (n_seeds, 2): before, after
    lambda_k: np.ndarray
    spread: np.ndarray              # lambda_1 - lambda_k
    log10_cond: np.ndarray          # log10 kappa(J_t) at the last window length t
    distance: np.ndarray            # rms distance of lambda_1..k from the target
    converged: np.ndarray           # (n_seeds,) bool
    t: int


def flossing_over_seeds(seeds=(0, 1, 2, 3, 4), gain: float = 1.0, n_exponents: int = 4,
                        n_units: int = 16, n_steps: int = 80, lr: float = 0.01,
                        target: float = 0.0) -> SeedSummary:
    """:func:`flossing_run` for each seed; before/after numbers per seed (for medians and ranges)."""
    rows = []
    for s in seeds:
        r = flossing_run(gain, n_exponents, target, n_units, n_steps, lr, s)
        d = diagnose_flossing(r)
        k = r.n_exponents
        rows.append(([r.spectrum_before[0], r.spectrum_after[0]],
                     [r.spectrum_before[k - 1], r.spectrum_after[k - 1]],
                     [r.cond_before[-1], r.cond_after[-1]] if k > 1 else [np.nan, np.nan],
                     [d.distance_before, d.distance_after], d.converged))
    l1, lk, cond, dist, conv = (np.asarray(c) for c in zip(*rows))
    return SeedSummary(tuple(seeds), l1, lk, l1 - lk, cond, dist, conv,
                       int(flossing_defaults()["cond_times"][-1]))


def median_range(values) -> str:
    """'median [min, max]' of an array, for printing claims over seeds."""
    v = np.asarray(values, dtype=float)
    return f"{np.median(v):.3g} [{v.min():.3g}, {v.max():.3g}]"


def shipped_condition_numbers(name: str = "default") -> dict:
    """The reproduction's condition numbers of J_t before and after 500 flossing steps (N = 80,
    k = 75), from the shipped results (:func:`flosslab.paper.results.load`)."""
    from ..paper.results import load
    b = load(name)["b_condition"]
    return {"n": b["n"], "k": b["k"], "floss_steps": b["floss_steps"],
            "times": np.asarray(b["before"]["times"]),
            "before": np.asarray(b["before"]["log10_condition"]),
            "after": np.asarray(b["after"]["log10_condition"])}


class LoopResult(NamedTuple):
    losses: np.ndarray
    params_before: dict
    params_after: dict
    spectrum_before: np.ndarray     # first 2k exponents on 600 fresh bits
    spectrum_after: np.ndarray


def floss_with(value_and_gradient, adam_step, gain: float = 1.0, n_units: int = 8,
               n_exponents: int = 2, target: float = 0.0, n_steps: int = 30, lr: float = 0.01,
               seed: int = 0) -> LoopResult:
    """A flossing loop assembled from its two parts (numpy/autograd, the student's exercises):
    at step s, bits = random_bits(55, 1, [seed, s]); (loss, grads) = value_and_gradient(params,
    bits, k, target); each of W, U, b moves by ``adam_step(x, g, m, v, t = s + 1, lr)``."""
    from ..core.progress import progress_bar
    k = check_n_exponents(n_exponents, n_units)
    params = init_rnn(n_units, gain, seed=seed)
    before = dict(params)
    moments = {name: (np.zeros_like(params[name]), np.zeros_like(params[name]))
               for name in ("W", "U", "b")}
    losses = []
    bar = progress_bar(n_steps >= 10, n_steps, "your flossing loop", leave=False)
    for step in range(n_steps):
        loss, grads = value_and_gradient(params, random_bits(55, 1, [seed, step]), k, target)
        losses.append(float(loss))
        for name, (m, v) in moments.items():
            x, m, v = adam_step(params[name], np.asarray(grads[name]), m, v, step + 1, lr)
            params = {**params, name: np.asarray(x)}
            moments[name] = (m, v)
        bar.update(1)
    bar.close()
    bits = random_bits(600, 1, [seed, 3])
    spectra = [np.asarray(lyapunov_spectrum(p, bits, n_exponents=min(2 * k, n_units), seed=seed))
               for p in (before, params)]
    return LoopResult(np.asarray(losses), before, params, spectra[0], spectra[1])


def engine_loop_losses(gain: float = 1.0, n_units: int = 8, n_exponents: int = 2,
                       target: float = 0.0, n_steps: int = 30, lr: float = 0.01,
                       seed: int = 0) -> np.ndarray:
    """The losses of :func:`floss_with`'s loop run by the torch engine instead (torch autograd,
    ``torch.optim.Adam``; the exponents with the default frame and start, seed 0, as
    ``fl.lyapunov_spectrum`` gives them): an independent computation of the same numbers."""
    import torch

    from .. import engine
    params = engine.init_rnn(n_units, gain, seed=seed)
    dynamic = [params[name].requires_grad_() for name in ("W", "U", "b")]
    opt = torch.optim.Adam(dynamic, lr=lr)
    losses = []
    for step in range(n_steps):
        loss = engine.flossing_loss(params, random_bits(55, 1, [seed, step]), n_exponents,
                                    target, 16, seed=0)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.asarray(losses)


# --- 05 ---------------------------------------------------------------------------------------------

#: Sizes of one training click on the torch engine. "small" trains in a few seconds (3 seeds at once,
#: as one ensemble); "larger" is closer to the reproduction's budget (5 seeds, N = 64; tens of
#: seconds). Sequences hold the longest lag plus ``seq_extra`` scored steps.
TRAIN_SIZES = {
    "small": {"n_units": 32, "n_epochs": fast_or_full(100, 250), "n_seeds": 3, "seq_extra": 20,
              "lr": 0.01, "n_exponents": 24, "floss_steps": 60, "floss_lr": 0.01,
              "eval_every": 25, "eval_batch": 128},
    "larger": {"n_units": 64, "n_epochs": fast_or_full(200, 500), "n_seeds": 5, "seq_extra": 50,
               "lr": 3e-3, "n_exponents": 48, "floss_steps": 100, "floss_lr": 0.01,
               "eval_every": 50, "eval_batch": 256},
}


class TaskExample(NamedTuple):
    bits: np.ndarray            # x_t, (T,)
    targets: np.ndarray         # z_t, (T,) (0 on the steps t < d, which are not scored)
    scored: np.ndarray          # (T,) bool: t >= d
    lags: list                  # the lags the target depends on, ascending; the last is d


def task_example(task: str = "xor", delay: int = 6, order: int | None = None, seq_len: int = 24,
                 seed: int = 0) -> TaskExample:
    """One sequence of a task (from :func:`flosslab.core.tasks.make_batch`) and its lags."""
    from ..core.tasks import task_lags
    lags = task_lags(task, delay, order)
    batch = make_batch(task, delay, 1, max(seq_len, lags[-1] + 2), seed, order)
    return TaskExample(batch.inputs[:, 0, 0].astype(int), batch.targets[:, 0, 0].astype(int),
                       batch.mask.copy(), lags)


def untrained_logits(batch, n_units: int = 32, gain: float = 1.0, seed: int = 0) -> np.ndarray:
    """Output logits y_t (T, B, 1) of a freshly initialised network on a batch (torch engine)."""
    import torch
    from .. import engine
    params = engine.init_rnn(n_units, gain, seed=seed)
    with torch.no_grad():
        states = engine.run_rnn(params, batch.inputs)
        return engine.readout(params, states).cpu().numpy()


def training_configs(task: str, delay: int, schedule: str, n_exponents: int | None = None,
                     size: str = "small", order: int | None = None, seeds=None) -> list:
    """The :class:`TrainConfig` of each seed of one click (``seeds`` default 0..n_seeds-1)."""
    from ..core.tasks import task_lags
    from ..core.validate import check_choice
    check_choice("the size", size, tuple(TRAIN_SIZES))
    s = TRAIN_SIZES[size]
    seeds = range(s["n_seeds"]) if seeds is None else seeds
    longest = task_lags(task, delay, order)[-1]
    return [TrainConfig(task=task, delay=delay, order=order if task == "parity" else None,
                        n_units=s["n_units"], n_epochs=s["n_epochs"],
                        seq_len=longest + s["seq_extra"], lr=s["lr"], flossing=schedule,
                        n_exponents=s["n_exponents"] if n_exponents is None else n_exponents,
                        floss_steps=s["floss_steps"], floss_lr=s["floss_lr"],
                        eval_every=s["eval_every"], eval_batch=s["eval_batch"], seed=int(seed))
            for seed in seeds]


class SeedRuns(NamedTuple):
    """One schedule trained on several seeds (arrays have one row per seed)."""
    schedule: str
    seeds: tuple
    eval_epochs: np.ndarray     # (n_eval,)
    accuracy: np.ndarray        # (E, n_eval) on fresh sequences
    loss: np.ndarray            # (E, n_epochs) task loss per epoch
    lam1: np.ndarray            # (E, n_eval) largest exponent at each evaluation
    lamk: np.ndarray            # (E, n_eval) k-th exponent
    grad_rank: np.ndarray       # (E, n_eval) effective rank of dL/dW
    floss_start: np.ndarray     # (E,) flossing loss at the first and last step of the first
    floss_end: np.ndarray       #      episode (NaN without episodes)
    seconds: float              # wall time of the ensemble this schedule was trained in

    @property
    def final(self) -> np.ndarray:
        """Final accuracy of each seed."""
        return self.accuracy[:, -1]


_RUNS: dict = {}


def _seed_runs(schedule, configs, histories, seconds) -> SeedRuns:
    def episode(h, i):
        return h.floss_losses[0][i] if h.floss_losses and len(h.floss_losses[0]) else np.nan
    spectra = [np.asarray(h.spectra) for h in histories]
    return SeedRuns(schedule, tuple(c.seed for c in configs), np.asarray(histories[0].eval_epochs),
                    np.asarray([h.accuracy for h in histories]),
                    np.asarray([h.loss for h in histories]),
                    np.asarray([s[:, 0] for s in spectra]), np.asarray([s[:, -1] for s in spectra]),
                    np.asarray([h.grad_rank for h in histories]),
                    np.asarray([episode(h, 0) for h in histories]),
                    np.asarray([episode(h, -1) for h in histories]), seconds)


def train_seeds(task: str = "copy", delay: int = 20, schedules=("none", "pre"),
                n_exponents: int | None = None, size: str = "small", order: int | None = None,
                seeds=None, progress=False) -> dict:
    """Train every schedule on every seed as ONE ensemble on the torch engine; {schedule:
    :class:`SeedRuns`}. Each member follows exactly its lone run, so results are cached per
    schedule: only schedules not trained before with the same settings are trained."""
    import time
    from ..engine.training import train_members
    schedules = (schedules,) if isinstance(schedules, str) else tuple(schedules)
    per = {s: training_configs(task, delay, s, n_exponents, size, order, seeds) for s in schedules}
    key = lambda s: (task, delay, order if task == "parity" else None, s,
                     per[s][0].n_exponents, size, tuple(c.seed for c in per[s]))
    todo = [s for s in schedules if key(s) not in _RUNS]
    if todo:
        configs = [c for s in todo for c in per[s]]
        start = time.perf_counter()
        _, histories = train_members(configs, progress=progress)
        seconds = time.perf_counter() - start
        for j, s in enumerate(todo):
            e = len(per[s])
            _RUNS[key(s)] = _seed_runs(s, per[s], histories[j * e:(j + 1) * e], seconds)
    return {s: _RUNS[key(s)] for s in schedules}


def seed_spread(values, axis: int = 0) -> tuple:
    """(median, 25th percentile, 75th percentile) over seeds (rows by default)."""
    values = np.asarray(values, dtype=float)
    q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=axis)
    return q50, q25, q75


def describe_spread(values) -> str:
    """"0.98 [0.97-0.99] (3 seeds: 0.97, 0.98, 0.99)": median [quartiles] and every seed."""
    values = np.asarray(values, dtype=float)
    med, lo, hi = seed_spread(values)
    return (f"{med:.2f} [{lo:.2f}-{hi:.2f}] ({values.size} seeds: "
            + ", ".join(f"{v:.2f}" for v in values) + ")")


class DelayGradient(NamedTuple):
    """||dL/dh_{T-l}|| / ||dL/dh_T|| against the lag l (loss at the last step T), before and after
    preflossing k exponents, and the largest exponent lambda_1 of each network."""
    n_exponents: int
    lags: np.ndarray
    before: np.ndarray
    after: np.ndarray
    lam1_before: float
    lam1_after: float
    floss_loss: np.ndarray      # the flossing loss at each step


@lru_cache(maxsize=8)
def delay_gradients(ks: tuple = (1, 8, 24), n_units: int = 32, floss_steps: int = 60,
                    lr: float = 0.01, seq_len: int = 80, seed: int = 0) -> dict:
    """{k: :class:`DelayGradient`} for one network (seed) preflossed with each k of ``ks``; the
    flossing runs as one ensemble (torch engine)."""
    from .. import engine
    ks = tuple(check_n_exponents(k, n_units) for k in ks)
    before = engine.init_rnn(n_units, 1.0, seed=seed)
    stacked = engine.init_ensemble(n_units, 1.0, seeds=[seed] * len(ks))
    flossed, hists = engine.floss(stacked, floss_steps, list(ks), 0.0, lr,
                                  seed=[seed] * len(ks))
    batch = make_batch("copy", 1, 16, seq_len, [seed, 11])
    bits = random_bits(300, 1, [seed, 12])

    def measure(params):
        g = engine.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask)
        lam = engine.lyapunov_spectrum(params, bits, n_exponents=1, seed=seed)
        return (g / g[-1])[::-1], float(lam[0])

    g0, lam0 = measure(before)
    out = {}
    for i, k in enumerate(ks):
        g1, lam1 = measure({name: value[i] for name, value in flossed.items()})
        out[k] = DelayGradient(k, np.arange(seq_len), g0, g1, lam0, lam1, hists[i].losses)
    return out


# --- 06 ---------------------------------------------------------------------------------------------

class ConditionCurve(NamedTuple):
    """log10 kappa of the long-term Jacobian J_t over windows of t steps (first k singular values),
    measured, and as the exponents predict it: (lambda_1 - lambda_k) t / ln 10."""
    times: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    exponents: np.ndarray       # lambda_1..lambda_k (natural log per step)


@lru_cache(maxsize=256)
def condition_vs_window(gain: float = 1.0, n_exponents: int = 16, n_units: int = 32,
                        max_window: int = 120, n_windows: int = 7, seed: int = 0) -> ConditionCurve:
    """Measured and predicted log10 kappa(J_t) of one network driven by random bits (torch engine).

    The windows start after 40 transient steps; the exponents come from 300 further steps."""
    from .. import engine
    gain = check_real("the gain g", gain, minimum=0.05, maximum=5.0)
    k = check_n_exponents(n_exponents, n_units)
    if k < 2:
        raise FlosslabError("a condition number compares sigma_1 with sigma_k: it needs k >= 2 "
                            "(with k = 1 it is 1 by definition)")
    params = engine.init_rnn(n_units, gain, seed=seed)
    times = np.unique(np.linspace(max_window / n_windows, max_window, n_windows).astype(int))
    bits = random_bits(40 + max_window, 1, [seed, 13])
    times, measured = engine.condition_number_curve(params, bits, n_values=k, times=times,
                                                    transient=40, n_passes=2, seed=seed)
    lam = engine.lyapunov_spectrum(params, random_bits(340, 1, [seed, 14]), n_exponents=k,
                                   transient=40, seed=seed).cpu().numpy()
    return ConditionCurve(times, measured, (lam[0] - lam[-1]) * times / np.log(10.0), lam)


def _ensemble_losses(params: dict, batch):
    """Task loss of each member of an ensemble on the same batch: (E,) tensor."""
    import torch
    from .. import engine
    from ..engine.training import bce
    e = params["W"].shape[0]
    w = params["W"]
    inputs = torch.as_tensor(batch.inputs, dtype=w.dtype).unsqueeze(1).expand(-1, e, -1, -1)
    targets = torch.as_tensor(batch.targets, dtype=w.dtype).unsqueeze(1).expand(-1, e, -1, -1)
    logits = engine.readout(params, engine.run_rnn(params, inputs))
    mask = torch.as_tensor(batch.mask)
    return bce(logits, targets)[mask].mean(dim=(0, 2, 3))


def weight_gradients(params: dict, batch) -> np.ndarray:
    """dL/dW of the task loss on ``batch`` for every member of an ensemble: (E, N, N) (torch
    autograd)."""
    import torch
    w = params["W"].detach().clone().requires_grad_(True)
    losses = _ensemble_losses({**{n: v.detach() for n, v in params.items()}, "W": w}, batch)
    (grad,) = torch.autograd.grad(losses.sum(), w)
    return grad.cpu().numpy()


class GradientPieces(NamedTuple):
    """What dL/dW is made of, for one network on one batch (time-major, float64 numpy)."""
    states: np.ndarray          # (T+1, B, N): h_0 (zeros), h_1, ..., h_T
    pre: np.ndarray             # (T, B, N): a_1, ..., a_T
    deltas: np.ndarray          # (T, B, N): delta_t = dL/dh_t (total derivative), t = 1..T
    grad_w: np.ndarray          # (N, N): dL/dW by torch autograd


def gradient_pieces(params: dict, batch) -> GradientPieces:
    """States, pre-activations and backpropagated errors delta_t = dL/dh_t (by autograd: a zero
    perturbation added to each state is differentiated), and dL/dW (torch engine)."""
    import torch
    from .. import engine
    from ..engine.training import task_loss
    p = engine.to_torch(params)
    w = p["W"].detach().clone().requires_grad_(True)
    p["W"] = w
    inputs = torch.as_tensor(batch.inputs, dtype=w.dtype)
    t_len, b = inputs.shape[:2]
    n = w.shape[0]
    eps = torch.zeros((t_len, b, n), dtype=w.dtype, requires_grad=True)
    h = torch.zeros((b, n), dtype=w.dtype)
    states, pre = [h], []
    for t in range(t_len):
        a = h @ w.mT + inputs[t] @ p["U"].mT + p["b"]
        h = torch.tanh(a) + eps[t]
        pre.append(a)
        states.append(h)
    loss = task_loss(engine.readout(p, torch.stack(states[1:])),
                     torch.as_tensor(batch.targets, dtype=w.dtype), batch.mask)
    deltas, grad_w = torch.autograd.grad(loss, (eps, w))
    as_np = lambda x: x.detach().cpu().numpy()
    return GradientPieces(as_np(torch.stack(states)), as_np(torch.stack(pre)), as_np(deltas),
                          as_np(grad_w))


@lru_cache(maxsize=4)
def flossed_pair(n_units: int = 32, n_exponents: int = 16, floss_steps: int = 100,
                 lr: float = 0.01, seed: int = 0) -> tuple:
    """(before, after): a network (g = 1) and the same network flossed (numpy parameters)."""
    from .. import engine
    before = engine.init_rnn(n_units, 1.0, seed=seed)
    after, _ = engine.floss(before, floss_steps, n_exponents, 0.0, lr, seed=seed)
    return engine.to_numpy(before), engine.to_numpy(after)


def jacobian_log_sv(params: dict, n_exponents: int, window: int = 60, seed: int = 0) -> np.ndarray:
    """Natural logs of the k largest singular values of J_t over ``window`` steps of random bits
    (after 40 transient steps), torch engine."""
    from .. import engine
    p = engine.to_torch(params)
    _, pre = engine.run_rnn(p, random_bits(40 + window, 1, [seed, 8]), return_preactivations=True)
    return engine.log_singular_values(p, pre[40:], n_values=n_exponents, seed=seed).cpu().numpy()


class SeedCheckpoints(NamedTuple):
    """Networks flossed in episodes, measured after each; one row per seed."""
    n_exponents: int
    seeds: tuple
    steps: np.ndarray           # (C+1,) flossing steps done at each checkpoint
    cond: np.ndarray            # (E, C+1) log10 kappa of J_t over the window (first k)
    eff_rank: np.ndarray        # (E, C+1) effective rank of dL/dW on a fixed task batch
    log_sv: np.ndarray          # (E, C+1, k) natural-log singular values of J_t
    window: int


#: Choices of k offered by the flossing-checkpoint dashboard (notebook 06); all precomputed at once.
CHECKPOINT_KS = (2, 8, 16, 32)


def checkpoint_sizes() -> dict:
    return {"n_units": 32, "steps_per_checkpoint": fast_or_full(10, 20),
            "n_checkpoints": fast_or_full(2, 5), "window": 60,
            "seeds": tuple(range(fast_or_full(3, 5)))}


@lru_cache(maxsize=8)
def flossing_checkpoints_seeds(ks: tuple = CHECKPOINT_KS, n_units: int = 32,
                               steps_per_checkpoint: int = 20, n_checkpoints: int = 5,
                               window: int = 60, seeds: tuple = (0, 1, 2, 3, 4),
                               task: str = "copy", delay: int = 20, lr: float = 0.01,
                               progress=False) -> dict:
    """{k: :class:`SeedCheckpoints`}: every (k, seed) network (g = 1) flossed in episodes of
    ``steps_per_checkpoint`` steps (a fresh Adam each, as in interflossing), all as one ensemble on
    the torch engine; after each episode log10 kappa of J_t over a ``window``-step stretch of
    random bits (after 40 transient steps) and the effective rank of dL/dW on a fixed batch."""
    from .. import engine
    from ..core.progress import progress_bar
    ks = tuple(check_n_exponents(k, n_units) for k in ks)
    window = check_int("the window length t", window, minimum=2, maximum=1000)
    members = [(k, s) for k in ks for s in seeds]
    params = engine.init_ensemble(n_units, 1.0, seeds=[s for _, s in members])
    batch = make_batch(task, delay, 16, None, [0, 6])
    e = len(members)
    bits = np.stack([random_bits(40 + window, 1, [s, 8]) for _, s in members], axis=1)
    cond = np.zeros((e, n_checkpoints + 1))
    rank = np.zeros((e, n_checkpoints + 1))
    log_sv = [[None] * (n_checkpoints + 1) for _ in range(e)]
    bar = progress_bar(progress, n_checkpoints + 1, "flossing in episodes")
    try:
        for c in range(n_checkpoints + 1):
            if c:
                params, _ = engine.floss_in_chunks(params, steps_per_checkpoint,
                                                   [k for k, _ in members], 0.0, lr,
                                                   seeds=[s + 100 * c for _, s in members])
            _, pre = engine.run_rnn(params, bits, return_preactivations=True)
            for i, (k, s) in enumerate(members):
                one = {name: value[i] for name, value in params.items()}
                sv = engine.log_singular_values(one, pre[40:, i], n_values=k, n_passes=3,
                                                seed=s).cpu().numpy()
                log_sv[i][c] = sv
                cond[i, c] = log10_condition_number(sv)
            for i, g in enumerate(weight_gradients(params, batch)):
                rank[i, c] = effective_rank(g)
            bar.update(1)
    finally:
        bar.close()
    steps = np.arange(n_checkpoints + 1) * steps_per_checkpoint
    out = {}
    for k in ks:
        rows = [i for i, (kk, _) in enumerate(members) if kk == k]
        out[k] = SeedCheckpoints(k, tuple(seeds), steps, cond[rows], rank[rows],
                                 np.asarray([log_sv[i] for i in rows]), window)
    return out


#: The comparison of flossing before and during training (notebook 06): delayed XOR where plain
#: BPTT fails, the small size, five seeds.
SCHEDULE_COMPARISON = {"task": "xor", "delay": 18, "schedules": ("none", "pre", "inter", "penalty"),
                       "seeds": tuple(range(fast_or_full(3, 5)))}


def schedule_comparison(progress=False) -> dict:
    """{schedule: :class:`SeedRuns`} for :data:`SCHEDULE_COMPARISON` (one ensemble, cached)."""
    c = SCHEDULE_COMPARISON
    return train_seeds(c["task"], c["delay"], c["schedules"], seeds=c["seeds"], progress=progress)


# --- 07 (torch engine) -------------------------------------------------------------------------

# Everything here runs on the CPU; ``device`` ("cpu" or "cuda") moves the torch side to a GPU.

def scaling_defaults() -> dict:
    """Sizes of notebook 07's demos (smaller in fast mode where a number printed does not depend
    on them)."""
    return {"agree_units": 32, "agree_k": 8, "agree_steps": 400,
            "ens_units": 32, "ens_size": 12, "ens_steps": 300, "ens_floss_steps": 40,
            "cell_units": 8, "cell_steps": 200,
            "floss_cell_units": 8, "floss_cell_k": 4, "floss_cell_steps": fast_or_full(20, 60),
            "floss_cell_lr": 0.03, "cost_n": 128, "cost_k": 32, "cost_n_choices": (32, 64, 128),
            "cost_k_choices": (4, 16, 32, 64), "cost_n_max": 256, "cost_repeats": 2}


def torch_vs_reference(gain: float = 1.5, n_units: int = 32, n_exponents: int = 8,
                       n_steps: int = 200, seed: int = 0, device="cpu"):
    """Exponents of one network on the same bits from the numpy reference and the torch engine."""
    from .. import engine
    params = init_rnn(n_units, gain, seed=seed)
    bits = random_bits(n_steps, 1, seed)
    ref = np.asarray(lyapunov_spectrum(params, bits, n_exponents=n_exponents, seed=seed))
    lam = engine.lyapunov_spectrum(engine.to_torch(params, device), bits,
                                   n_exponents=n_exponents, seed=seed)
    return ref, lam.detach().cpu().numpy()


class Agreement(NamedTuple):
    gain: float
    times: np.ndarray
    divergence: np.ndarray          # max_i |h_i numpy - h_i torch| at each step (same h0)
    same_reference: np.ndarray      # exponents from the reference's Jacobians, by the reference
    same_engine: np.ndarray         # ... and by the engine (the same trajectory)
    separate_reference: np.ndarray  # each integrating its own trajectory from the same h0
    separate_engine: np.ndarray


@lru_cache(maxsize=64)
def engine_vs_reference(gain: float = 2.0, n_units: int = 32, n_exponents: int = 8,
                        n_steps: int = 400, seed: int = 0, device="cpu") -> Agreement:
    """The autonomous network (no input, no bias) W ~ N(0, g^2/N) from the same h0 and frame: the
    numpy reference and the torch engine integrate it separately (their states differ by
    round-off, which a chaotic network amplifies like e^{lambda_1 t}), and both compute the
    exponents once from their own trajectories and once from the same Jacobians."""
    import torch

    from .. import engine
    from ..reference.lyapunov import spectrum_from_jacobians
    gain = check_real("the gain g", gain, minimum=0.05, maximum=5.0)
    k = check_n_exponents(n_exponents, n_units)
    n_steps = check_int("the number of steps T", n_steps, minimum=20, maximum=2000)
    params = autonomous(init_rnn(n_units, gain, seed=seed))
    h0, zeros = random_state(n_units, seed), np.zeros((n_steps, 1))
    transient = default_transient(n_steps)
    tp = engine.to_torch(params, device)
    with torch.no_grad():
        states_ref = run_rnn(params, zeros, h0=h0)
        states_eng = engine.run_rnn(tp, torch.zeros((n_steps, 1), dtype=torch.float64,
                                                    device=tp["W"].device),
                                    h0=torch.as_tensor(h0, device=tp["W"].device))
        jacs = (1 - states_ref ** 2)[:, :, None] * params["W"]        # D_t from the reference
        same_ref = spectrum_from_jacobians(jacs, k, transient=transient, seed=seed)
        same_eng = engine.spectrum_from_jacobians(torch.as_tensor(jacs, device=tp["W"].device),
                                                  k, transient=transient, seed=seed)
        sep_ref = lyapunov_spectrum(params, zeros, n_exponents=k, transient=transient, seed=seed,
                                    h0=h0)
        sep_eng = engine.lyapunov_spectrum(tp, zeros, n_exponents=k, transient=transient,
                                           seed=seed, h0=torch.as_tensor(h0, device=tp["W"].device))
    divergence = np.abs(states_ref - states_eng.cpu().numpy()).max(axis=1)
    return Agreement(gain, np.arange(1, n_steps + 1), divergence, np.asarray(same_ref),
                     same_eng.cpu().numpy(), np.asarray(sep_ref), sep_eng.cpu().numpy())


def ensemble_spectrum_vs_gain(gains, n_units: int = 32, n_exponents: int = 4, n_steps: int = 300,
                              seed: int = 0, device="cpu") -> np.ndarray:
    """One batched call for a whole ensemble: member e has gain ``gains[e]``; (E, k) exponents."""
    from .. import engine
    params = engine.init_ensemble(n_units, list(gains), seeds=[seed] * len(gains), device=device)
    return np.asarray(engine.ensemble_spectrum(params, n_steps, n_exponents,
                                               seeds=[seed] * len(gains)))


class EnsembleTiming(NamedTuple):
    gains: np.ndarray
    spectra: np.ndarray             # (E, k), one batched call
    batched_seconds: float
    separate_seconds: float         # the same E networks, one call each
    largest_difference: float       # between the two


@lru_cache(maxsize=32)
def ensemble_timing(gains: tuple, n_units: int = 32, n_exponents: int = 4, n_steps: int = 300,
                    seed: int = 0, device="cpu") -> EnsembleTiming:
    """The ensemble's spectra in one batched call and one call per member, timed (after a warm-up
    call), with the largest difference between the two."""
    import time
    gains = tuple(float(g) for g in gains)
    ensemble_spectrum_vs_gain(gains[:1], n_units, n_exponents, 20, seed, device)   # warm-up
    start = time.perf_counter()
    batched = ensemble_spectrum_vs_gain(gains, n_units, n_exponents, n_steps, seed, device)
    middle = time.perf_counter()
    separate = [ensemble_spectrum_vs_gain((g,), n_units, n_exponents, n_steps, seed, device)[0]
                for g in gains]
    end = time.perf_counter()
    return EnsembleTiming(np.asarray(gains), batched, middle - start, end - middle,
                          float(np.abs(batched - np.asarray(separate)).max()))


class EnsembleFlossing(NamedTuple):
    gains: np.ndarray
    exponents_before: np.ndarray    # (E, k): the first step's window
    exponents_after: np.ndarray     # (E, k): mean over the last 5 steps' windows
    losses: np.ndarray              # (n_steps, E)


def ensemble_floss_with(batched_log_r, flossing_loss_fn, gains=(0.5, 1.0, 1.5, 2.0),
                        n_units: int = 16, n_exponents: int = 4, n_steps: int = 40,
                        lr: float = 0.02, seed: int = 0, device="cpu") -> EnsembleFlossing:
    """Floss E networks (gains ``gains``) at once, with the student's two functions: each step
    runs the E trajectories and frames together for 55 steps (a batched QR per step); the frames'
    log|R_ii| come from ``batched_log_r(frames)`` (E, k), the losses from
    ``flossing_loss_fn(log_r (39, E, k), 0.0)`` (E,) after 16 transient steps; torch Adam moves
    every member's W, U, b by the gradient of the summed loss (each member's loss depends on its
    own weights only)."""
    import torch

    from .. import engine
    from ..core.conventions import FLOSS_SEQ_LEN, FLOSS_TRANSIENT, random_frame
    e = len(gains)
    k = check_n_exponents(n_exponents, n_units)
    params = engine.init_ensemble(n_units, list(gains), seeds=[seed] * e, device=device)
    dynamic = [params[name].requires_grad_() for name in ("W", "U", "b")]
    opt = torch.optim.Adam(dynamic, lr=lr)
    dev, dt = params["W"].device, params["W"].dtype
    losses, windows = [], []
    for step in range(n_steps):
        bits = torch.as_tensor(np.stack([random_bits(FLOSS_SEQ_LEN, 1, [seed, step, m])
                                         for m in range(e)], axis=1), dtype=dt, device=dev)
        h = torch.as_tensor(np.stack([random_state(n_units, seed + step + m) for m in range(e)]),
                            dtype=dt, device=dev)
        q = torch.as_tensor(np.stack([random_frame(n_units, k, seed + step + m)
                                      for m in range(e)]), dtype=dt, device=dev)
        logs = []
        for t in range(FLOSS_SEQ_LEN):
            a = torch.einsum("enm,em->en", params["W"], h) + \
                torch.einsum("eni,ei->en", params["U"], bits[t]) + params["b"]
            h = torch.tanh(a)
            q = (1 - h ** 2).unsqueeze(-1) * (params["W"] @ q)
            if t >= FLOSS_TRANSIENT:
                logs.append(batched_log_r(q))
            q = torch.linalg.qr(q, mode="reduced").Q
        log_r = torch.stack(logs)
        loss = flossing_loss_fn(log_r, 0.0)
        losses.append(loss.detach().cpu().numpy())
        windows.append(log_r.detach().mean(0).cpu().numpy())
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    windows = np.asarray(windows)
    return EnsembleFlossing(np.asarray(gains), windows[0], windows[-5:].mean(0),
                            np.asarray(losses))


CELLS = {"RNN (tanh)": "RNNCell", "GRU": "GRUCell", "LSTM": "LSTMCell"}


def make_cell(name: str, n_units: int, scale: float = 1.0, seed: int = 0):
    """torch's cell ``name`` ("RNN (tanh)", "GRU", "LSTM") with 1 input and ``n_units`` units, its
    default initialisation from ``seed``, recurrent weights multiplied by ``scale``; float64."""
    import torch
    from ..core.validate import check_choice
    check_choice("the cell", name, tuple(CELLS))
    torch.manual_seed(seed)
    cell = getattr(torch.nn, CELLS[name])(1, n_units).double()
    with torch.no_grad():
        cell.weight_hh.mul_(scale)
    return cell


def cell_spectra(n_units: int = 16, n_steps: int = 300, seed: int = 0) -> dict:
    """Full spectra of torch's RNN, GRU and LSTM cells (default init, seeded) on the same bits.

    The LSTM's state is (h, c), so it has 2N exponents.
    """
    import torch

    from .. import engine
    bits = torch.as_tensor(random_bits(n_steps, 1, seed), dtype=torch.float64)
    out = {}
    for name in CELLS:
        with torch.no_grad():
            out[name] = engine.cell_spectrum(make_cell(name, n_units, 1.0, seed), bits,
                                             seed=seed).cpu().numpy()
    return out


@lru_cache(maxsize=128)
def cell_spectrum_with(jacobian, name: str = "GRU", n_units: int = 8, scale: float = 1.0,
                       n_steps: int = 200, seed: int = 0):
    """The full spectrum of a torch cell from one-step Jacobians computed by ``jacobian(step, z, x)``
    (the student's), with the engine's QR loop; and the engine's own spectrum (vmap of jacrev) of
    the same cell, trajectory and frame. Returns (yours, engine's), each sorted descending."""
    import torch

    from .. import engine
    from ..engine.cells import cell_step_function, cell_trajectory, state_size
    cell = make_cell(name, n_units, scale, seed)
    step = cell_step_function(cell)
    d = state_size(cell)
    bits = torch.as_tensor(random_bits(n_steps, 1, seed), dtype=torch.float64)
    z0 = torch.as_tensor(random_state(d, seed), dtype=torch.float64)
    transient = default_transient(n_steps)
    with torch.no_grad():
        states = cell_trajectory(step, bits, z0)
        previous = torch.cat([z0.unsqueeze(0), states[:-1]])
        jacs = torch.stack([torch.as_tensor(jacobian(step, z, x)) for z, x in zip(previous, bits)])
        mine = engine.spectrum_from_jacobians(jacs, d, transient=transient, seed=seed)
        ref = engine.cell_spectrum(cell, bits, n_exponents=d, transient=transient, seed=seed,
                                   z0=z0)
    return np.sort(mine.numpy())[::-1], np.sort(ref.numpy())[::-1]


class CellFlossing(NamedTuple):
    name: str
    before: np.ndarray              # first k exponents on 300 fresh bits
    after: np.ndarray
    losses: np.ndarray


@lru_cache(maxsize=16)
def flossed_cell(name: str = "GRU", n_units: int = 8, n_exponents: int = 4, n_steps: int = 60,
                 lr: float = 0.03, seed: int = 0) -> CellFlossing:
    """:func:`flosslab.engine.floss_cell` on a torch GRU or LSTM cell (all its parameters, Adam),
    with the cell's first k exponents on 300 fresh bits before and after."""
    import torch

    from .. import engine
    cell = make_cell(name, n_units, 1.0, seed)
    bits = torch.as_tensor(random_bits(300, 1, [seed, 7]), dtype=torch.float64)
    with torch.no_grad():
        before = engine.cell_spectrum(cell, bits, n_exponents=n_exponents, seed=seed).numpy()
    cell, hist = engine.floss_cell(cell, n_steps, n_exponents, 0.0, lr, seed=seed,
                                   progress=n_steps >= 20)
    with torch.no_grad():
        after = engine.cell_spectrum(cell, bits, n_exponents=n_exponents, seed=seed).numpy()
    return CellFlossing(name, before, after, hist.losses)


_STEP_SECONDS: dict = {}


def flossing_step_seconds(n_units: int, n_exponents: int, n_steps: int = 55, device="cpu",
                          repeats: int = 2, seed: int = 0) -> float:
    """Median wall time of one flossing step (forward through T steps with a QR every step,
    backward) with the torch engine, after one warm-up call; synchronises a GPU so the time is
    real. Measured once per (N, k, T, device, repeats) and kept."""
    import time

    import torch

    from .. import engine
    key = (n_units, n_exponents, n_steps, str(device), repeats, seed)
    if key in _STEP_SECONDS:
        return _STEP_SECONDS[key]
    params = engine.to_torch(init_rnn(n_units, 1.0, seed=seed), device, requires_grad=True)
    bits = random_bits(n_steps, 1, seed)
    times = []
    for _ in range(repeats + 1):                          # the first call warms up
        start = time.perf_counter()
        engine.flossing_loss(params, bits, n_exponents, transient=16, seed=seed).backward()
        if params["W"].device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    _STEP_SECONDS[key] = float(np.median(times[1:]))
    return _STEP_SECONDS[key]


def sweep_sizes(sweep: str, n_units: int, n_exponents: int, n_max: int = 256) -> np.ndarray:
    """The sizes a cost sweep measures, doubling: k from 4 up to N (N fixed), or N from k (at least
    16) up to ``n_max`` (k fixed)."""
    from ..core.validate import check_choice
    check_choice("the swept size", sweep, ("N", "k"))
    k = check_n_exponents(n_exponents, n_units)
    if sweep == "k":
        sizes = [s for s in (1, 2, 4, 8, 16, 32, 64, 128, 256) if 4 <= s < n_units] + [n_units]
    else:
        sizes = [s for s in (16, 32, 64, 128, 256, 512) if max(k, 16) <= s <= n_max]
    return np.asarray(sorted(set(sizes)))


def cost_sweep(sweep: str, n_units: int, n_exponents: int, device="cpu", repeats: int = 2,
               n_max: int = 256):
    """Seconds per flossing step over :func:`sweep_sizes`. Returns (sizes, seconds)."""
    sizes = sweep_sizes(sweep, n_units, n_exponents, n_max)
    if sweep == "N":
        secs = [flossing_step_seconds(int(s), n_exponents, device=device, repeats=repeats)
                for s in sizes]
    else:
        secs = [flossing_step_seconds(n_units, int(s), device=device, repeats=repeats)
                for s in sizes]
    return sizes, np.asarray(secs)


class CostModel(NamedTuple):
    overhead: float                 # c0, seconds per flossing step whatever the size
    per_unit: float                 # c1, seconds per unit of T (N^2 k + N k^2)
    worst_misfit: float             # largest |model - measured| / measured over the points


def cost_work(n_units, n_exponents, n_steps: int = 55):
    """The arithmetic of a flossing step, up to a constant: T (N^2 k + N k^2)."""
    n, k = np.asarray(n_units, float), np.asarray(n_exponents, float)
    return n_steps * (n ** 2 * k + n * k ** 2)


def fit_cost_model(n_units, n_exponents, seconds, n_steps: int = 55) -> CostModel:
    """seconds ~ c0 + c1 T (N^2 k + N k^2), fitted by least squares on relative errors (every point
    counts alike, small or large), c0, c1 >= 0."""
    from scipy.optimize import nnls
    t = np.asarray(seconds, float)
    work = cost_work(n_units, n_exponents, n_steps)
    coef, _ = nnls(np.stack([np.ones_like(t), work], axis=1) / t[:, None], np.ones_like(t))
    model = coef[0] + coef[1] * work
    return CostModel(float(coef[0]), float(coef[1]), float(np.max(np.abs(model - t) / t)))


def local_slopes(sizes, seconds) -> np.ndarray:
    """d log(seconds) / d log(size) between neighbouring points."""
    return np.diff(np.log(seconds)) / np.diff(np.log(np.asarray(sizes, float)))


class CostSummary(NamedTuple):
    k_sizes: np.ndarray             # the k sweep at N = n_units
    k_seconds: np.ndarray
    n_sizes: np.ndarray             # the N sweep at k = n_exponents
    n_seconds: np.ndarray
    fit: CostModel                  # over both sweeps
    k_model: np.ndarray             # the fitted model at the k sweep's sizes
    n_model: np.ndarray


def cost_summary(n_units: int = 128, n_exponents: int = 32, device="cpu", repeats: int = 2,
                 n_max: int = 256) -> CostSummary:
    """Both sweeps (k at N = ``n_units``, N at k = ``n_exponents``) and the model fitted to all
    their points, evaluated at the measured sizes (for slopes to compare)."""
    ks, kt = cost_sweep("k", n_units, n_units, device, repeats)
    ns, nt = cost_sweep("N", n_max, n_exponents, device, repeats, n_max)
    fit = fit_cost_model(np.r_[np.full(ks.size, n_units), ns], np.r_[ks, np.full(ns.size,
                                                                                 n_exponents)],
                         np.r_[kt, nt])
    return CostSummary(ks, kt, ns, nt, fit,
                       fit.overhead + fit.per_unit * cost_work(n_units, ks),
                       fit.overhead + fit.per_unit * cost_work(ns, n_exponents))


# --- 08 ---------------------------------------------------------------------------------------------

def paper_summary(name: str = "default"):
    """(summary dict, None) from the shipped results (:func:`flosslab.paper.results.load`), or
    (None, the reason) when that summary is not shipped (yet)."""
    from ..paper import results
    try:
        return results.load(name), None
    except FlosslabError as err:
        return None, str(err)


def shipped_accuracy(summary: dict, task: str) -> dict:
    """{schedule: (delays (n_d,), final accuracies (n_d, n_seeds))} of one task's delay sweep."""
    from ..core.validate import check_choice
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
    from ..paper.stats import bootstrap_horizon
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


def horizon_ratio(horizons: dict, task: str, schedule: str):
    """The horizon of ``schedule`` over that of no flossing (None when either is None)."""
    a, b = horizons[task, schedule]["horizon"], horizons[task, "none"]["horizon"]
    return None if a is None or b is None else a / b


#: Sizes of the live small-scale reruns next to the paper's results (notebook 08).
LIVE = {"delays": {"copy": (10, 20, 30), "xor": (8, 14, 20)},
        "seeds": fast_or_full((0, 1), (0, 1, 2)), "parity_order": 3, "parity_delay": 12, "parity_ks": (1, 4, 24),
        "condition_units": 32, "condition_window": 120}


def live_delay_sweep(task: str = "copy", delays=None, schedules=("none", "pre"), seeds=None,
                     size: str = "small", progress=False) -> dict:
    """The small-scale version of the delay sweep: {schedule: (delays, accuracies (n_d, n_seeds))},
    every (delay, schedule, seed) trained together as one ensemble on the torch engine."""
    import time
    from ..engine.training import train_members
    delays = tuple(LIVE["delays"][task] if delays is None else delays)
    seeds = tuple(LIVE["seeds"] if seeds is None else seeds)
    key = ("sweep", task, delays, tuple(schedules), seeds, size)
    if key not in _RUNS:
        configs = [c for s in schedules for d in delays
                   for c in training_configs(task, d, s, size=size, seeds=seeds)]
        start = time.perf_counter()
        _, hist = train_members(configs, progress=progress)
        acc = np.asarray([h.final_accuracy for h in hist]).reshape(len(schedules), len(delays), -1)
        _RUNS[key] = ({s: (np.asarray(delays), acc[i]) for i, s in enumerate(schedules)},
                      time.perf_counter() - start)
    return _RUNS[key][0]


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
    if key not in _RUNS:
        runs = [("none", None)] + [("pre", k) for k in ks]
        configs = [c for s, k in runs for c in training_configs("parity", delay, s, k, size,
                                                                   order, seeds)]
        _, hist = train_members(configs, progress=progress)
        acc = np.asarray([h.final_accuracy for h in hist]).reshape(len(runs), -1)
        _RUNS[key] = {("none" if s == "none" else k): acc[i] for i, (s, k) in enumerate(runs)}
    return ks, _RUNS[key]


class ConditionCollapse(NamedTuple):
    times: np.ndarray
    before: np.ndarray          # log10 kappa(J_t), first k singular values
    after: np.ndarray
    n_units: int
    n_exponents: int
    floss_steps: int


#: Choices of the small live condition-number demo (notebook 08), all computed at once.
LIVE_CONDITION_KS = fast_or_full((8, 16), (8, 16, 32))
LIVE_CONDITION_STEPS = fast_or_full((20, 80), (20, 40, 80))


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
