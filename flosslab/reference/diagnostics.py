"""Diagnostics of gradient flow: gradient norms through time, singular values and condition number
of the long-term Jacobian, and the effective rank of the recurrent-weight gradient.

The long-term Jacobian over a window is T = D_t ... D_{s+1} (D_j = dh_j/dh_{j-1}). Its singular
values span dozens of orders of magnitude, so the product is never multiplied out: orthogonal
(subspace) iteration on T^T T is run in factored form, alternating a forward pass (Q <- D_j Q) and a
backward pass (Q <- D_j^T Q) with a QR after every step, and summing log|R_ii|. When the frame has
converged to the top-k right singular vectors V_k, T V_k = U_k Sigma_k, so the summed logs are exactly
log sigma_i. Each pass multiplies the error by about (sigma_{k+1}/sigma_k)^2, which is tiny over long
windows, so a few passes suffice.
"""
from __future__ import annotations

from typing import Callable

import autograd.numpy as np
import numpy as onp
from autograd import grad

from ..core.conventions import random_frame
from ..core.errors import FlosslabError
from ..core.measures import log10_condition_number, window_lengths
from ..core.validate import check_int, check_n_exponents, check_params
from .lyapunov import log_abs_diag
from .model import n_units, readout, rnn_step, run_rnn, tanh_slope
from .qr import qr
from .training import task_loss

__all__ = ["log_singular_values_from_jacobians", "log_singular_values", "condition_number_curve",
           "state_gradient_norms", "weight_gradient"]


def _log_sv_passes(apply: Callable, apply_t: Callable, seq_len: int, n: int, k: int,
                   n_passes: int, seed: int):
    q = random_frame(n, k, seed)
    for p in range(n_passes):
        forward = p % 2 == 0
        total = onp.zeros(k)
        for j in range(seq_len) if forward else reversed(range(seq_len)):
            q, r = qr(apply(j, q) if forward else apply_t(j, q))
            total += log_abs_diag(r, where=f" at step {j} of the long-term Jacobian")
    return onp.sort(total)[::-1]


def log_singular_values_from_jacobians(jacobians, n_values=None, n_passes: int = 3,
                                       seed: int = 0) -> onp.ndarray:
    """Natural logs of the k largest singular values of ``D_T ... D_1`` (jacobians (T, N, N))."""
    jacobians = onp.asarray(jacobians, dtype=float)
    if jacobians.ndim != 3 or jacobians.shape[1] != jacobians.shape[2]:
        raise FlosslabError(f"jacobians must have shape (T, N, N), got {jacobians.shape}")
    n = jacobians.shape[1]
    k = check_n_exponents(n_values, n)
    n_passes = check_int("n_passes", n_passes, minimum=1)
    return _log_sv_passes(lambda j, q: jacobians[j] @ q, lambda j, q: jacobians[j].T @ q,
                          jacobians.shape[0], n, k, n_passes, seed)


def log_singular_values(params: dict, preactivations, n_values=None, n_passes: int = 3,
                        seed: int = 0) -> onp.ndarray:
    """Natural logs of the k largest singular values of the RNN's long-term Jacobian.

    ``preactivations`` (t, N) are a_{s+1}..a_{s+t} (``run_rnn(..., return_preactivations=True)``):
    the window's Jacobians D_j = diag(tanh'(a_j)) W.
    """
    check_params(params, needed=("W",), arrays="numpy")
    pre = onp.asarray(preactivations, dtype=float)
    w = onp.asarray(params["W"])
    n = n_units(params)
    k = check_n_exponents(n_values, n)
    if pre.ndim != 2 or pre.shape[1] != n or pre.shape[0] < 1:
        raise FlosslabError(f"preactivations must have shape (t, N={n}) with t >= 1, "
                            f"got {pre.shape}")
    slopes = tanh_slope(pre)
    return _log_sv_passes(lambda j, q: slopes[j][:, None] * (w @ q),
                          lambda j, q: w.T @ (slopes[j][:, None] * q),
                          pre.shape[0], n, k, check_int("n_passes", n_passes, minimum=1), seed)


def condition_number_curve(params: dict, inputs, n_values=None, times=None, transient: int = 0,
                           n_passes: int = 3, seed: int = 0):
    """log10 condition number of T_t = D_{s+t} ... D_{s+1} (first k singular values) against t.

    The state runs from h0 = 0 over ``inputs`` (T, n_inputs); the window starts after ``transient``
    steps. ``times`` defaults to 12 lengths spread over the window. Returns (times, log10 kappa).
    """
    _, pre = run_rnn(params, inputs, return_preactivations=True)
    window = pre[transient:]
    times = window_lengths(window.shape[0], times)
    kappa = [log10_condition_number(log_singular_values(params, window[:t], n_values, n_passes, seed))
             for t in times]
    return times, onp.asarray(kappa)


def state_gradient_norms(params: dict, inputs, targets, mask, loss_at: str = "last"):
    """||dL/dh_t|| for t = 1..T by backpropagation through time (autograd).

    ``loss_at="last"``: L is the task loss at the final step only, so the curve shows how one error
    signal grows or decays as it travels back (like exp(lambda_1 (T - t))). ``"all"``: the full task
    loss over every scored step. The norm is taken over units and batch together.
    """
    inputs = onp.asarray(inputs, dtype=float)
    mask = onp.asarray(mask, dtype=bool)
    if loss_at == "last":
        mask = onp.zeros_like(mask)
        mask[-1] = True
    elif loss_at != "all":
        raise FlosslabError(f"loss_at must be 'last' or 'all', got {loss_at!r}")

    def loss_of_perturbation(eps):
        h = onp.zeros(inputs.shape[1:-1] + (n_units(params),))
        states = []
        for t in range(inputs.shape[0]):
            h = rnn_step(params, h, inputs[t]) + eps[t]
            states.append(h)
        return task_loss(readout(params, np.stack(states)), targets, mask)

    eps0 = onp.zeros(inputs.shape[:-1] + (n_units(params),))
    g = grad(loss_of_perturbation)(eps0)
    return onp.sqrt(onp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1))


def weight_gradient(params: dict, batch) -> onp.ndarray:
    """dL/dW of the task loss on a batch (for the effective rank)."""
    def loss(w):
        p = dict(params, W=w)
        return task_loss(readout(p, run_rnn(p, batch.inputs)), batch.targets, batch.mask)
    return grad(loss)(params["W"])
