"""Lyapunov spectra by repeated QR in torch (mirrors :mod:`flosslab.reference.lyapunov`).

Frame Q_0 (N x k, orthonormal); each step Q <- D_t Q; every ``reorth_every`` steps (an int m, or
``"auto"``: from the frame's spread, see :mod:`flosslab.core.schedule`) Q, R = qr(Q) and log|R_ii|
is accumulated; after the transient

    lambda_i = (sum of log|R_ii| after the transient) / (number of steps after the transient),

natural log per step. The QR schedule is the reference's: every m steps, at the end of the transient
and at the last step. Results are torch tensors, differentiable with torch autograd.

Two paths: :func:`accumulate_spectrum` (generic: any ``apply_jacobian``, plain autograd; used for
given Jacobians and for any torch cell) and, for the vanilla RNN, the fused frame recursion with a
hand-written backward (:mod:`flosslab.engine.recursion`), chosen by ``fused=True`` (the default).
Ensembles (parameters with a leading member axis E) give exponents of shape (E, k).

Where the engine equals the reference: given the same trajectory, float64, they agree to
round-off, chaotic or not: the same Jacobians give exponents within ~2e-15 of the reference's, the
same pre-activations log singular values within ~4e-13 (measured at g = 3, N = 20, 1000 and 200
steps; ``tests/engine/test_forms_and_backends.py``). Each computing its own trajectory from the same
network, inputs and initial state, they agree to round-off only while the network is not chaotic:
numpy's and torch's float64 products round differently (1 ulp at the first step), a chaotic
network amplifies that (at g = 3: past 1e-6 after 120-490 steps, past 1e-2 after 190-620), and
the exponents then agree only statistically (2e-2 to 4e-2 at g = 3 over 1000 steps, k = 10).

A collapsed frame (|R_ii| = 0) gives -inf with a :class:`~flosslab.core.errors.FrameCollapseWarning`;
NaN or inf in the frame raises :class:`~flosslab.core.errors.NumericalError`.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as onp
import torch

from ..core.conventions import default_transient, random_frame, random_state
from ..core.errors import (
    FRAME_NOT_FINITE,
    H0_NOT_FINITE,
    INPUTS_NOT_FINITE,
    JACOBIANS_NOT_FINITE,
    NEED_INPUTS_OR_SEQ_LEN,
    STATE_NOT_FINITE,
    FlosslabError,
    FrameCollapseWarning,
    NumericalError,
    frame_collapsed,
    frame_not_finite,
    frame_shape,
    jacobians_shape,
)
from ..core.records import SpectrumHistory
from ..core.schedule import DEFAULT_CEILING
from ..core.validate import check_int, check_n_exponents, check_params, check_state
from .device import as_tensor
from .model import check_finite_params, is_ensemble, n_units, run_rnn, tanh_slope
from .orthonormalize import orthonormalize, qr_schedule
from .recursion import rnn_frame_recursion

__all__ = ["member_frames", "member_seeds", "log_abs_diag", "accumulate_spectrum",
           "spectrum_from_jacobians", "lyapunov_spectrum"]


def check_logs(logs: torch.Tensor, where: str = "") -> None:
    """Raise on NaN/inf+ in log|R_ii|; warn when a frame collapsed (some log|R_ii| = -inf)."""
    raw = logs.detach()
    if bool(torch.isnan(raw).any() | (raw == float("inf")).any()):
        raise NumericalError(frame_not_finite(where))
    if bool((raw == float("-inf")).any()):
        warnings.warn(frame_collapsed(where), FrameCollapseWarning, stacklevel=3)


def log_abs_diag(r: torch.Tensor, where: str = "") -> torch.Tensor:
    """log|R_ii| of upper-triangular R (..., k, k); a zero diagonal gives -inf and a warning."""
    logs = torch.log(torch.diagonal(r, dim1=-2, dim2=-1).abs())
    check_logs(logs, where)
    return logs


def member_seeds(seed, e: int) -> list:
    """One seed per member: a list as given, or ``seed, seed + 1, ...`` from one int."""
    if isinstance(seed, (list, tuple, onp.ndarray)):
        if len(seed) != e:
            raise FlosslabError(f"give one seed per member: {e} members but {len(seed)} seeds")
        return [check_int("seed", s, minimum=0) for s in seed]
    seed = check_int("seed", seed, minimum=0)
    return [seed + i for i in range(e)] if e > 1 else [seed]


def member_frames(n: int, ks, seeds, device=None, dtype=None) -> torch.Tensor:
    """Initial frames of an ensemble, (E, N, max k): member e's first k_e columns are exactly
    :func:`random_frame` (n, k_e, seed_e) (the reference's draw); extra columns, needed only to
    batch members with different k, are completed from a second draw (Householder QR keeps the
    leading columns)."""
    k_max = max(ks)
    frames = []
    for k, seed in zip(ks, seeds):
        if k == k_max:
            frames.append(random_frame(n, k, seed))
        else:
            g = onp.random.default_rng(seed).standard_normal((n, k))
            extra = onp.random.default_rng([seed, 7]).standard_normal((n, k_max - k))
            q, r = onp.linalg.qr(onp.concatenate([g, extra], axis=1))
            frames.append(q)
    return torch.as_tensor(onp.stack(frames), device=device, dtype=dtype)


def accumulate_spectrum(apply_jacobian: Callable, seq_len: int, frame, reorth_every=1,
                        transient: int = 0, return_history: bool = False,
                        method: str = "auto", ceiling: int = DEFAULT_CEILING):
    """The generic QR loop (plain torch autograd). ``apply_jacobian(t, Q)`` returns ``D_t Q`` for
    t = 0..seq_len-1; Q may carry leading batch axes (..., N, k). Returns the exponents (..., k)
    and, with ``return_history``, a :class:`SpectrumHistory` (numpy)."""
    schedule = qr_schedule(seq_len, reorth_every, transient, frame.dtype, ceiling)
    q = frame
    for t in range(schedule.seq_len):
        q = apply_jacobian(t, q)
        if schedule.due(t):
            q, r = orthonormalize(q, method)
            schedule.record(t, log_abs_diag(r, where=f" at step {t}"))
    logs = torch.stack(schedule.logs)
    exponents = logs.sum(0) / schedule.n_accumulated
    return (exponents, _history(logs, schedule.ends)) if return_history else exponents


def spectrum_from_jacobians(jacobians, n_exponents=None, reorth_every=1, transient: int = 0,
                            frame=None, seed: int = 0, return_history: bool = False,
                            method: str = "auto"):
    """First k Lyapunov exponents of ``D_T ... D_1`` for jacobians (T, N, N), a torch tensor.

    Returns a tensor (k,) (natural log per step, descending), differentiable with torch autograd.
    The frame defaults to the reference's :func:`random_frame` (N, k, seed).
    """
    if not isinstance(jacobians, torch.Tensor):
        raise FlosslabError("the torch engine needs the Jacobians as a torch tensor (T, N, N)")
    if jacobians.dtype not in (torch.float32, torch.float64):
        raise FlosslabError(f"the Jacobians must be a float32 or float64 tensor, got "
                            f"{jacobians.dtype}")
    shape = tuple(jacobians.shape)
    if len(shape) != 3 or shape[1] != shape[2] or shape[0] < 1 or shape[1] < 1:
        raise FlosslabError(jacobians_shape(shape))
    if not bool(torch.isfinite(jacobians.detach()).all()):
        raise NumericalError(JACOBIANS_NOT_FINITE)
    n = shape[1]
    k = check_n_exponents(n_exponents, n)
    if frame is None:
        frame = random_frame(n, k, check_int("seed", seed, minimum=0))
    frame = as_tensor(frame, jacobians.device, jacobians.dtype, name="frame")
    if tuple(frame.shape) != (n, k):
        raise FlosslabError(frame_shape(n, k, frame.shape))
    return accumulate_spectrum(lambda t, q: jacobians[t] @ q, shape[0], frame, reorth_every,
                               transient, return_history, method)


def lyapunov_spectrum(params: dict, inputs=None, seq_len=None, n_exponents=None, reorth_every=1,
                      transient=None, seed=0, h0=None, return_history: bool = False,
                      method: str = "auto", fused: bool = True, frame=None):
    """Lyapunov spectrum of the RNN (or of each member of an ensemble) along the trajectory driven
    by ``inputs``, exactly as :func:`flosslab.reference.lyapunov.lyapunov_spectrum`.

    inputs: (T, n_inputs) (ensemble: (T, E, n_inputs)) or None with ``seq_len``. ``h0`` defaults
    to the reference's :func:`random_state` (seed), the frame to :func:`random_frame` (N, k, seed);
    for an ensemble ``seed`` is one int or one per member and ``frame`` may be given (E, N, k).
    Returns (k,) or (E, k) exponents in natural log per step. ``fused=False`` uses the generic
    autograd loop (same numbers, slower backward).
    """
    ens = isinstance(params, dict) and "W" in params and is_ensemble(params)
    check_params(params, ensemble=ens, arrays="torch")
    check_finite_params(params)
    w = params["W"]
    e = w.shape[0] if ens else 1
    n = n_units(params)
    k = check_n_exponents(n_exponents, n)
    n_inputs = params["U"].shape[-1]
    if inputs is None:
        if seq_len is None:
            raise FlosslabError(NEED_INPUTS_OR_SEQ_LEN)
        seq_len = check_int("the number of steps T", seq_len, minimum=1)
        inputs = torch.zeros((seq_len, e, n_inputs) if ens else (seq_len, n_inputs))
    inputs = as_tensor(inputs, w.device, w.dtype, name="inputs")
    if inputs.ndim != (3 if ens else 2) or inputs.shape[-1] != n_inputs \
            or (ens and inputs.shape[1] != e):
        want = f"(T, E={e}, n_inputs={n_inputs})" if ens else f"(T, n_inputs={n_inputs})"
        raise FlosslabError(f"inputs must have shape {want} for one trajectory per network, "
                            f"got {tuple(inputs.shape)}")
    seq_len = check_int("the number of steps T", inputs.shape[0], minimum=1)
    transient = default_transient(seq_len) if transient is None else transient
    seeds = member_seeds(seed, e)
    lead = (e,) if ens else ()
    if h0 is None:
        h0 = onp.stack([random_state(n, s) for s in seeds])
        h0 = torch.as_tensor(h0 if ens else h0[0], device=w.device, dtype=w.dtype)
    h0 = as_tensor(h0, w.device, w.dtype, name="the initial state h0")
    check_state("the initial state h0", h0.shape, lead + (n,))
    if not bool(torch.isfinite(h0).all()):
        raise FlosslabError(H0_NOT_FINITE)
    if frame is None:
        frame = member_frames(n, [k] * e, seeds, w.device, w.dtype)
        frame = frame if ens else frame[0]
    frame = as_tensor(frame, w.device, w.dtype, name="frame")
    check_state("the frame", frame.shape, lead + (n, k))
    if not bool(torch.isfinite(frame).all()):
        raise FlosslabError(FRAME_NOT_FINITE)
    if not fused:
        _, pre = run_rnn(params, inputs, h0=h0, return_preactivations=True)
        if not bool(torch.isfinite(pre.detach()).all()):
            raise NumericalError(STATE_NOT_FINITE)
        slopes = tanh_slope(pre)
        return accumulate_spectrum(lambda t, q: slopes[t].unsqueeze(-1) * (w @ q), seq_len, frame,
                                   reorth_every, transient, return_history, method)
    if not bool(torch.isfinite(inputs).all()):
        raise FlosslabError(INPUTS_NOT_FINITE)
    batched = (lambda x: x) if ens else (lambda x: x.unsqueeze(0))
    # the drive U x_t + b of all steps, (T, [E,] N)
    drive = (torch.einsum("tei,eni->ten", inputs, params["U"]) if ens
             else inputs @ params["U"].mT) + params["b"]
    total, logs, ends = rnn_frame_recursion(batched(w), drive if ens else drive.unsqueeze(1),
                                            batched(h0), batched(frame), reorth_every, transient,
                                            method)
    check_logs(logs, where=" (fused recursion)")
    exponents = total / (seq_len - transient)
    exponents = exponents if ens else exponents[0]
    if not return_history:
        return exponents
    return exponents, _history(logs if ens else logs[:, 0], ends.tolist())


def _history(logs: torch.Tensor, ends) -> SpectrumHistory:
    steps = onp.asarray(ends)
    raw = logs.detach().cpu().double().numpy()
    with onp.errstate(invalid="ignore"):
        estimates = onp.cumsum(raw, axis=0) / steps.reshape((-1,) + (1,) * (raw.ndim - 1))
    return SpectrumHistory(steps, estimates)
