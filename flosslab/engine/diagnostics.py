"""Singular values of the long-term Jacobian in torch (mirrors :mod:`flosslab.diagnostics`).

The window's product T = D_t ... D_{s+1} is never multiplied out: subspace iteration on T^T T in
factored form, forward passes (Q <- D_j Q) alternating with backward passes (Q <- D_j^T Q), a QR
after every step, log|R_ii| summed per pass; the last pass gives log sigma_1..k. Same frame, same
passes and same order of steps as the reference, so the two agree to round-off (tested).
"""
from __future__ import annotations

import torch

from ..common import log10_condition_number, random_frame
from ..config import FlosslabError, check_int, check_n_exponents
from .device import as_tensor
from .lyapunov import log_abs_diag
from .model import is_ensemble, n_units
from .orthonormalize import householder_qr

__all__ = ["log_singular_values", "log10_condition_number"]


def log_singular_values(params: dict, states, n_values=None, n_passes: int = 3,
                        seed: int = 0) -> torch.Tensor:
    """Natural logs (k,), descending, of the k largest singular values of one RNN's long-term
    Jacobian over the window whose states (t, N) are h_{s+1}..h_{s+t} (D_j = diag(1 - h_j^2) W)."""
    if is_ensemble(params):
        raise FlosslabError("log_singular_values takes one network; loop over the members of an "
                            "ensemble (unstack_params)")
    w = params["W"].detach()
    n = n_units(params)
    k = check_n_exponents(n_values, n)
    n_passes = check_int("n_passes", n_passes, minimum=1)
    states = as_tensor(states, w.device, w.dtype).detach()
    if states.ndim != 2 or states.shape[1] != n or states.shape[0] < 1:
        raise FlosslabError(f"states must have shape (t, N={n}) with t >= 1, "
                            f"got {tuple(states.shape)}")
    slopes = (1.0 - states ** 2).unsqueeze(-1)                 # (t, N, 1): scales rows
    q = torch.as_tensor(random_frame(n, k, seed), device=w.device, dtype=w.dtype)
    with torch.no_grad():
        for p in range(n_passes):
            forward = p % 2 == 0
            total = torch.zeros(k, device=w.device, dtype=w.dtype)
            for j in range(states.shape[0]) if forward else reversed(range(states.shape[0])):
                q, r = householder_qr(slopes[j] * (w @ q) if forward else w.mT @ (slopes[j] * q))
                total += log_abs_diag(r, where=f" at step {j} of the long-term Jacobian")
    return torch.sort(total, descending=True).values
