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
from ..core.records import SpectrumHistory, TrainHistory
from ..core.settings import fast_or_full
from ..core.tasks import make_batch
from ..core.trainconfig import TrainConfig
from ..core.validate import check_int, check_n_exponents, check_real
from ..reference.diagnostics import (condition_number_curve, log_singular_values,
                                     state_gradient_norms, weight_gradient)
from ..reference.flossing import floss
from ..reference.lyapunov import log_det_average, lyapunov_spectrum
from ..reference.model import run_rnn
from ..reference.training import train


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


# --- 01 ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def gradient_norms_vs_gain(gains: tuple, n_units: int = 64, seq_len: int = 100,
                           batch_size: int = 4, seed: int = 0):
    """||dL/dh_t|| (loss at the last step of a copy-task batch) for each gain.

    Returns (times (T,), norms (n_gains, T)); one network per gain, same seed, same inputs.
    """
    seq_len = check_int("the sequence length T", seq_len, minimum=2, maximum=2000)
    batch = make_batch("copy", 1, batch_size, seq_len, seed)
    norms = [state_gradient_norms(init_rnn(n_units, g, seed=seed), batch.inputs, batch.targets,
                                  batch.mask, loss_at="last") for g in gains]
    return np.arange(1, seq_len + 1), np.asarray(norms)


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
    params = autonomous(init_rnn(n_units, gain, seed=seed))
    k = check_n_exponents(n_exponents, n_units)
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
        q, r = np.linalg.qr(a)
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
def condition_collapse(gain: float = 1.0, n_exponents: int = 4, n_units: int = 16,
                       n_steps: int = 80, lr: float = 0.01, window: int = 300, seed: int = 0):
    """log10 kappa(J_t) for t up to ``window`` before and after flossing (the live, small version
    of the paper's Fig. 1 measurement). Returns (times, before, after)."""
    from .. import engine
    k = check_n_exponents(n_exponents, n_units)
    if k < 2:
        raise FlosslabError("a condition number needs k >= 2 singular values; choose k >= 2")
    before = init_rnn(n_units, gain, seed=seed)
    after, _ = floss_continued(gain, k, 0.0, n_units, n_steps, lr, seed)
    bits = random_bits(40 + window, 1, [seed, 5])
    times = np.unique(np.r_[1, np.linspace(window / 12, window, 12).astype(int)])
    curves = [engine.condition_number_curve(engine.to_torch(p), bits, n_values=k, transient=40,
                                            times=times, n_passes=2, seed=seed)[1]
              for p in (before, after)]
    return times, curves[0], curves[1]


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

_TRAIN_CACHE: dict = {}


def train_run(task: str = "copy", delay: int = 25, n_exponents: int = 8, schedule: str = "none",
              n_units: int = 32, n_epochs: int = 400, floss_steps: int = 80, seed: int = 0,
              progress: bool = False) -> tuple[TrainConfig, TrainHistory]:
    """Train with a flossing schedule (flossing lr 0.01, evaluation on 128 fresh sequences).

    Cached on every argument but ``progress`` (a progress bar does not change the result).
    """
    key = (task, delay, n_exponents, schedule, n_units, n_epochs, floss_steps, seed)
    if key in _TRAIN_CACHE:
        return _TRAIN_CACHE[key]
    config = TrainConfig(task=task, delay=delay, n_units=n_units, n_epochs=n_epochs,
                         flossing=schedule, n_exponents=n_exponents, floss_steps=floss_steps,
                         floss_lr=0.01, eval_every=max(n_epochs // 12, 1), eval_batch=128,
                         seed=seed)
    _, history = train(config, progress=progress)
    _TRAIN_CACHE[key] = (config, history)
    return config, history


# --- 06 ---------------------------------------------------------------------------------------------

class Checkpoints(NamedTuple):
    steps: np.ndarray               # flossing steps done at each checkpoint
    cond: np.ndarray                # log10 condition number of T_window (first k singular values)
    eff_rank: np.ndarray            # effective rank of dL/dW on a fixed task batch
    log_sv: np.ndarray              # natural-log singular values of T_window, (n_ckpt, k)
    exponents: np.ndarray           # first k exponents, (n_ckpt, k)


@lru_cache(maxsize=32)
def flossing_checkpoints(gain: float = 1.0, n_exponents: int = 16, n_units: int = 32,
                         steps_per_checkpoint: int = 20, n_checkpoints: int = 6,
                         window: int = 60, task: str = "copy", delay: int = 25,
                         seed: int = 0) -> Checkpoints:
    """Floss in episodes of ``steps_per_checkpoint`` steps and measure after each.

    Each episode is a call of :func:`flosslab.floss` (fresh Adam state), as in interflossing.
    """
    k = check_n_exponents(n_exponents, n_units)
    window = check_int("the window length t", window, minimum=1, maximum=1000)
    params = init_rnn(n_units, gain, seed=seed)
    batch = make_batch(task, delay, 16, None, [seed, 6])
    bits = random_bits(40 + window, 1, [seed, 8])
    steps, cond, rank, log_sv, exps = [], [], [], [], []
    for c in range(n_checkpoints + 1):
        if c:
            params, _ = floss(params, steps_per_checkpoint, k, 0.0, 0.01, seed=seed + c)
        _, pre = run_rnn(params, bits, return_preactivations=True)
        sv = log_singular_values(params, pre[40:], n_values=k, n_passes=3, seed=seed)
        steps.append(c * steps_per_checkpoint)
        log_sv.append(sv)
        cond.append(log10_condition_number(sv))
        rank.append(effective_rank(weight_gradient(params, batch)))
        exps.append(np.asarray(lyapunov_spectrum(params, random_bits(200, 1, [seed, 9]),
                                                 n_exponents=k, seed=seed)))
    return Checkpoints(np.asarray(steps), np.asarray(cond), np.asarray(rank), np.asarray(log_sv),
                       np.asarray(exps))


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
