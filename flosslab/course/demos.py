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

class VJPCheck(NamedTuple):
    vjp: np.ndarray
    fd: np.ndarray
    eps_grid: np.ndarray
    errors: np.ndarray


def qr_test_loss(a, weights):
    """sum_i log|R_ii| + sum(weights * Q): a scalar that depends on both QR factors."""
    import autograd.numpy as anp
    from ..reference.qr import qr
    q, r = qr(a)
    return anp.sum(anp.log(anp.abs(anp.diagonal(r, axis1=-1, axis2=-2)))) + anp.sum(weights * q)


@lru_cache(maxsize=32)
def qr_vjp_check(n_rows: int = 6, n_cols: int = 4, seed: int = 0, eps_grid: tuple = None):
    """Gradient of :func:`qr_test_loss` by the registered VJP and by central differences.

    Returns the VJP (m, n), the central-difference gradient at each eps of ``eps_grid`` (n_eps, m, n)
    and the relative error ||fd - vjp|| / ||vjp|| at each eps.
    """
    from autograd import grad
    m = check_int("the number of rows m", n_rows, minimum=1, maximum=60)
    n = check_int("the number of columns n", n_cols, minimum=1, maximum=60)
    if n > m:
        raise FlosslabError(f"reduced QR needs m >= n (a tall or square matrix); got m={m} rows "
                            f"and n={n} columns: choose n <= m")
    eps_grid = np.logspace(-12, -1, 23) if eps_grid is None else np.asarray(eps_grid)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    weights = rng.standard_normal((m, n))
    vjp = grad(qr_test_loss)(a, weights)
    fds = []
    for eps in eps_grid:
        fd = np.zeros_like(a)
        for idx in np.ndindex(*a.shape):
            step = np.zeros_like(a)
            step[idx] = eps
            fd[idx] = (qr_test_loss(a + step, weights) - qr_test_loss(a - step, weights)) / (2 * eps)
        fds.append(fd)
    fds = np.asarray(fds)
    errors = np.linalg.norm((fds - vjp).reshape(len(eps_grid), -1), axis=1) / np.linalg.norm(vjp)
    return VJPCheck(vjp, fds, eps_grid, errors)


# --- 04 ---------------------------------------------------------------------------------------------

class FlossingResult(NamedTuple):
    n_exponents: int
    target: float
    params_before: dict
    params_after: dict
    losses: np.ndarray
    spectrum_before: np.ndarray     # all N exponents, on the same bits before and after
    spectrum_after: np.ndarray
    grad_times: np.ndarray
    grad_before: np.ndarray
    grad_after: np.ndarray
    cond_times: np.ndarray
    cond_before: np.ndarray         # log10 kappa of T_t (first k singular values)
    cond_after: np.ndarray


@lru_cache(maxsize=64)
def flossing_run(gain: float = 1.0, n_exponents: int = 8, target: float = 0.0, n_units: int = 32,
                 n_steps: int = 80, lr: float = 0.01, seed: int = 0) -> FlossingResult:
    """Floss a fresh network and measure it before and after, on the same inputs."""
    gain = check_real("the gain g", gain, minimum=0.05, maximum=5.0)
    target = check_real("the target exponent", target, minimum=-2.0, maximum=1.0)
    k = check_n_exponents(n_exponents, n_units)
    before = init_rnn(n_units, gain, seed=seed)
    after, hist = floss(before, n_steps, k, target, lr, seed=seed)
    bits = random_bits(300, 1, [seed, 3])
    batch = make_batch("copy", 1, 4, 80, [seed, 4])
    cond_bits = random_bits(140, 1, [seed, 5])

    def measure(p):
        spec = np.asarray(lyapunov_spectrum(p, bits, seed=seed))
        grads = state_gradient_norms(p, batch.inputs, batch.targets, batch.mask, loss_at="last")
        times, cond = condition_number_curve(p, cond_bits, n_values=k, transient=40,
                                             times=np.arange(10, 101, 10), n_passes=2, seed=seed)
        return spec, grads, times, cond

    sb, gb, times, cb = measure(before)
    sa, ga, _, ca = measure(after)
    return FlossingResult(k, target, before, after, hist.losses, sb, sa,
                          np.arange(1, batch.inputs.shape[0] + 1), gb, ga, times, cb, ca)


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


def ensemble_spectrum_vs_gain(gains, n_units: int = 32, n_exponents: int = 4, n_steps: int = 300,
                              seed: int = 0, device="cpu") -> np.ndarray:
    """One batched call for a whole ensemble: member e has gain ``gains[e]``; (E, k) exponents."""
    from .. import engine
    params = engine.init_ensemble(n_units, list(gains), seeds=[seed] * len(gains), device=device)
    return np.asarray(engine.ensemble_spectrum(params, n_steps, n_exponents,
                                               seeds=[seed] * len(gains)))


def cell_spectra(n_units: int = 16, n_steps: int = 300, seed: int = 0) -> dict:
    """Full spectra of torch's RNN, GRU and LSTM cells (default init, seeded) on the same bits.

    The LSTM's state is (h, c), so it has 2N exponents.
    """
    import torch
    from .. import engine
    bits = torch.as_tensor(random_bits(n_steps, 1, seed), dtype=torch.float64)
    out = {}
    for name, cls in (("RNN (tanh)", torch.nn.RNNCell), ("GRU", torch.nn.GRUCell),
                      ("LSTM", torch.nn.LSTMCell)):
        torch.manual_seed(seed)
        cell = cls(1, n_units).double()
        with torch.no_grad():
            out[name] = engine.cell_spectrum(cell, bits, seed=seed).cpu().numpy()
    return out


def flossing_step_seconds(n_units: int, n_exponents: int, n_steps: int = 55, device="cpu",
                          repeats: int = 3, seed: int = 0) -> float:
    """Median wall time of one flossing step (forward through T steps of QR, backward) with the
    torch engine; synchronises the GPU so the time is real."""
    import time
    import torch
    from .. import engine
    params = engine.to_torch(init_rnn(n_units, 1.0, seed=seed), device, requires_grad=True)
    bits = random_bits(n_steps, 1, seed)
    times = []
    for _ in range(repeats + 1):                          # the first call warms up
        start = time.perf_counter()
        engine.flossing_loss(params, bits, n_exponents, transient=16, seed=seed).backward()
        if params["W"].device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def cost_sweep(sweep: str, n_units: int, n_exponents: int, device="cpu", n_points: int = 4):
    """Seconds per flossing step on a geometric grid of N (k fixed; from max(k, N/8) to N) or of
    k (N fixed; from k/8 to k). Returns (sizes, seconds)."""
    from ..core.validate import check_choice
    check_choice("the swept size", sweep, ("N", "k"))
    k = check_n_exponents(n_exponents, n_units)
    top, bottom = (n_units, max(k, n_units // 8)) if sweep == "N" else (k, max(1, k // 8))
    sizes = sorted({int(round(s)) for s in np.geomspace(bottom, top, n_points)})
    if sweep == "N":
        secs = [flossing_step_seconds(s, k, device=device) for s in sizes]
    else:
        secs = [flossing_step_seconds(n_units, s, device=device) for s in sizes]
    return np.asarray(sizes), np.asarray(secs)
