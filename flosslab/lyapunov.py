"""Lyapunov spectra by repeated QR (Benettin's algorithm), differentiable with autograd.

For Jacobians D_1, D_2, ... and an orthonormal N x k frame Q_0, each step sets Q <- D_t Q; every
``reorth_every`` steps the frame is re-orthonormalised, Q, R = qr(Q), and log|R_ii| is accumulated.
After a transient (for the state and for the frame to align), the exponents are

    lambda_i = (sum of log|R_ii| after the transient) / (number of steps after the transient),

in natural log per step, in descending order for a converged frame. Because the product of the R
factors is the R factor of the product, QR every m steps gives the same exponents as QR every step in
exact arithmetic; m only trades speed against round-off (keep m * (lambda_1 - lambda_k) below ~15 in
float64).

A collapsed frame (some R_ii = 0, e.g. saturated units or a singular W) gives lambda_i = -inf with a
:class:`~flosslab.config.FrameCollapseWarning`; NaN or inf in the Jacobians raises
:class:`~flosslab.config.NumericalError`. Neither is ever returned as NaN.
"""
from __future__ import annotations

import warnings
from typing import Callable

import autograd.numpy as np
import numpy as onp
from autograd.tracer import getval

from .common import SpectrumHistory, default_transient, random_frame
from .config import (FlosslabError, FrameCollapseWarning, NumericalError, check_int,
                     check_n_exponents)
from .model import jacobian_apply, n_units, run_rnn
from .qr import qr

__all__ = ["SpectrumHistory", "default_transient", "random_frame", "log_abs_diag",
           "accumulate_spectrum", "spectrum_from_jacobians", "lyapunov_spectrum"]


def log_abs_diag(r, where: str = ""):
    """log|R_ii| of an upper-triangular R; a zero diagonal gives -inf and a warning, never NaN."""
    d = np.abs(np.diagonal(r, axis1=-1, axis2=-2))
    raw = getval(d)
    if not onp.all(onp.isfinite(raw)):
        raise NumericalError(f"the frame became NaN or infinite{where}; "
                             "check the Jacobians (or the network's weights) for NaN/inf")
    if onp.any(raw == 0.0):
        warnings.warn(f"the orthonormal frame collapsed{where} (some |R_ii| = 0): the matching "
                      "exponents are -inf. Saturated units or a singular weight matrix cause this.",
                      FrameCollapseWarning, stacklevel=3)
        with onp.errstate(divide="ignore"):
            return np.log(d)
    return np.log(d)


def accumulate_spectrum(apply_jacobian: Callable, n_steps: int, frame, reorth_every: int = 1,
                        transient: int = 0, return_history: bool = False):
    """The QR loop shared by every spectrum in the reference.

    ``apply_jacobian(t, Q)`` returns ``D_t Q`` for t = 0..n_steps-1. A QR is taken every
    ``reorth_every`` steps, at the end of the transient and at the last step. Returns the exponents
    (k,) and, with ``return_history``, a :class:`SpectrumHistory` of the running estimate.
    """
    n_steps = check_int("the number of steps T", n_steps, minimum=1)
    m = check_int("reorth_every", reorth_every, minimum=1)
    transient = check_int("the transient", transient, minimum=0)
    if transient >= n_steps:
        raise FlosslabError(f"the transient ({transient} steps) must be shorter than the "
                            f"trajectory ({n_steps} steps); lower the transient or raise T")
    q = frame
    logs, ends = [], []
    since_qr = 0
    for t in range(n_steps):
        q = apply_jacobian(t, q)
        since_qr += 1
        if since_qr == m or t == transient - 1 or t == n_steps - 1:
            q, r = qr(q)
            since_qr = 0
            if t >= transient:
                logs.append(log_abs_diag(r, where=f" at step {t}"))
                ends.append(t + 1 - transient)
    logs = np.stack(logs)
    exponents = np.sum(logs, axis=0) / (n_steps - transient)
    if not return_history:
        return exponents
    steps = onp.asarray(ends)
    with onp.errstate(invalid="ignore"):
        estimates = onp.cumsum(getval(logs), axis=0) / steps[:, None]
    return exponents, SpectrumHistory(steps, estimates)


def spectrum_from_jacobians(jacobians, n_exponents=None, reorth_every: int = 1, transient: int = 0,
                            frame=None, seed: int = 0, return_history: bool = False):
    """First k Lyapunov exponents of the product ``D_T ... D_2 D_1`` of the given Jacobians.

    jacobians: array (T, N, N), applied in order. Returns (k,) exponents, natural log per step,
    descending (k = N when ``n_exponents`` is None). Differentiable with ``autograd.grad`` with
    respect to ``jacobians``. The frame starts random (from ``seed``) unless ``frame`` (N x k,
    orthonormal) is given; the first ``transient`` steps align the frame and are not counted.
    A torch tensor is handed to the torch engine, which returns a torch tensor.
    """
    if type(jacobians).__module__.startswith("torch"):
        from .engine import lyapunov as _torch_lyapunov
        return _torch_lyapunov.spectrum_from_jacobians(
            jacobians, n_exponents=n_exponents, reorth_every=reorth_every, transient=transient,
            frame=frame, seed=seed, return_history=return_history)
    shape = onp.shape(getval(jacobians))
    if len(shape) != 3 or shape[1] != shape[2] or shape[0] < 1:
        raise FlosslabError(f"jacobians must have shape (T, N, N) with T >= 1, got {shape}")
    if not onp.all(onp.isfinite(getval(jacobians))):
        raise NumericalError("the Jacobians contain NaN or inf; exponents are undefined")
    n = shape[1]
    k = check_n_exponents(n_exponents, n)
    q0 = random_frame(n, k, seed) if frame is None else _check_frame(frame, n, k)
    return accumulate_spectrum(lambda t, q: jacobians[t] @ q, shape[0], q0, reorth_every,
                               transient, return_history)


def lyapunov_spectrum(params: dict, inputs=None, n_steps=None, n_exponents=None,
                      reorth_every: int = 1, transient=None, seed: int = 0, h0=None,
                      return_history: bool = False):
    """Lyapunov spectrum of the RNN along the trajectory driven by ``inputs``.

    inputs: (T, n_inputs) array, or None for no input (then ``n_steps`` sets T). The state and the
    frame start together; the first ``transient`` steps (default 10 + T/10) are discarded for both.
    ``h0`` defaults to a random state in [-1, 1]^N and the initial frame to a random orthonormal
    frame, both from ``seed``. Returns (k,) exponents in
    natural log per step (and a :class:`SpectrumHistory` with ``return_history``). Differentiable
    with autograd with respect to ``params``.
    """
    n = n_units(params)
    k = check_n_exponents(n_exponents, n)
    if inputs is None:
        if n_steps is None:
            raise FlosslabError("give either inputs (T, n_inputs) or n_steps for an input-free run")
        n_steps = check_int("the number of steps T", n_steps, minimum=1)
        inputs = onp.zeros((n_steps, params["U"].shape[1]))
    inputs = onp.asarray(inputs, dtype=float)
    if inputs.ndim != 2:
        raise FlosslabError(f"inputs must have shape (T, n_inputs) for one trajectory, "
                            f"got {inputs.shape}")
    n_steps = inputs.shape[0]
    transient = default_transient(n_steps) if transient is None else transient
    if h0 is None:
        # a random start: with no input and zero bias, h = 0 is a fixed point
        h0 = onp.random.default_rng(seed + 1).uniform(-1.0, 1.0, size=n)
    states = run_rnn(params, inputs, h0=h0)
    if not onp.all(onp.isfinite(getval(states))):
        raise NumericalError("the network's state became NaN or infinite; check its weights")
    return accumulate_spectrum(lambda t, q: jacobian_apply(params, states[t], q), n_steps,
                               random_frame(n, k, seed), reorth_every, transient, return_history)


def _check_frame(frame, n, k):
    frame = onp.asarray(frame, dtype=float)
    if frame.shape != (n, k):
        raise FlosslabError(f"frame must have shape (N, k) = ({n}, {k}), got {frame.shape}")
    return frame
