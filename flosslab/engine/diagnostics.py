"""Diagnostics of gradient flow in torch (mirrors :mod:`flosslab.reference.diagnostics`): gradient
norms through time, and singular values and condition number of the long-term Jacobian.

The window's product T = D_t ... D_{s+1} is never multiplied out: subspace iteration on T^T T in
factored form, forward passes (Q <- D_j Q) alternating with backward passes (Q <- D_j^T Q), a QR
after every step, log|R_ii| summed per pass; the last pass gives log sigma_1..k. Same frame, same
passes and same order of steps as the reference, so the two agree to round-off (tested).
"""
from __future__ import annotations

import numpy as onp
import torch

from ..core.conventions import random_frame
from ..core.errors import FlosslabError
from ..core.measures import log10_condition_number, window_lengths
from ..core.validate import check_int, check_n_exponents, check_params
from .device import as_tensor
from .lyapunov import log_abs_diag
from .model import is_ensemble, n_units, readout, rnn_step, run_rnn, tanh_slope
from .orthonormalize import householder_qr
from .training import task_loss

__all__ = ["log_singular_values", "condition_number_curve", "state_gradient_norms"]


def log_singular_values(params: dict, preactivations, n_values=None, n_passes: int = 3,
                        seed: int = 0) -> torch.Tensor:
    """Natural logs (k,), descending, of the k largest singular values of one RNN's long-term
    Jacobian over the window whose pre-activations (t, N) are a_{s+1}..a_{s+t}
    (D_j = diag(tanh'(a_j)) W)."""
    check_params(params, needed=("W",), arrays="torch")
    if is_ensemble(params):
        raise FlosslabError("log_singular_values takes one network; loop over the members of an "
                            "ensemble (unstack_params)")
    w = params["W"].detach()
    n = n_units(params)
    k = check_n_exponents(n_values, n)
    n_passes = check_int("n_passes", n_passes, minimum=1)
    pre = as_tensor(preactivations, w.device, w.dtype).detach()
    if pre.ndim != 2 or pre.shape[1] != n or pre.shape[0] < 1:
        raise FlosslabError(f"preactivations must have shape (t, N={n}) with t >= 1, "
                            f"got {tuple(pre.shape)}")
    slopes = tanh_slope(pre).unsqueeze(-1)                      # (t, N, 1): scales rows
    q = torch.as_tensor(random_frame(n, k, seed), device=w.device, dtype=w.dtype)
    with torch.no_grad():
        for p in range(n_passes):
            forward = p % 2 == 0
            total = torch.zeros(k, device=w.device, dtype=w.dtype)
            for j in range(pre.shape[0]) if forward else reversed(range(pre.shape[0])):
                q, r = householder_qr(slopes[j] * (w @ q) if forward else w.mT @ (slopes[j] * q))
                total += log_abs_diag(r, where=f" at step {j} of the long-term Jacobian")
    return torch.sort(total, descending=True).values


def condition_number_curve(params: dict, inputs, n_values=None, times=None, transient: int = 0,
                           n_passes: int = 3, seed: int = 0):
    """log10 condition number of T_t = D_{s+t} ... D_{s+1} (first k singular values) against t,
    as :func:`flosslab.reference.diagnostics.condition_number_curve`. Returns numpy arrays."""
    with torch.no_grad():
        _, pre = run_rnn(params, inputs, return_preactivations=True)
    window = pre[transient:]
    times = window_lengths(window.shape[0], times)
    kappa = [log10_condition_number(log_singular_values(params, window[:t], n_values, n_passes,
                                                        seed).cpu().numpy()) for t in times]
    return times, onp.asarray(kappa)


def state_gradient_norms(params: dict, inputs, targets, mask, loss_at: str = "last"):
    """||dL/dh_t|| for t = 1..T by backpropagation through time (torch autograd), as
    :func:`flosslab.reference.diagnostics.state_gradient_norms`. Returns a numpy array (T,)."""
    w = params["W"]
    inputs = as_tensor(inputs, w.device, w.dtype)
    targets = as_tensor(targets, w.device, w.dtype)
    mask = onp.asarray(mask, dtype=bool).copy()
    if loss_at == "last":
        mask[:] = False
        mask[-1] = True
    elif loss_at != "all":
        raise FlosslabError(f"loss_at must be 'last' or 'all', got {loss_at!r}")
    eps = torch.zeros(inputs.shape[:-1] + (n_units(params),), dtype=w.dtype, device=w.device,
                      requires_grad=True)
    detached = {name: value.detach() for name, value in params.items()}
    h = torch.zeros(inputs.shape[1:-1] + (n_units(params),), dtype=w.dtype, device=w.device)
    states = []
    for t in range(inputs.shape[0]):
        h = rnn_step(detached, h, inputs[t]) + eps[t]
        states.append(h)
    loss = task_loss(readout(detached, torch.stack(states)), targets, mask)
    (g,) = torch.autograd.grad(loss, eps)
    return g.reshape(g.shape[0], -1).norm(dim=1).cpu().numpy()
