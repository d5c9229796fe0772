"""Reduced QR decomposition as an autograd primitive, with its reverse-mode derivative.

HIPS autograd has no gradient rule for ``np.linalg.qr``; the Lyapunov spectrum needs one, so it is
registered here. For A = QR with A of shape (..., m, n), m >= n and full column rank, and upstream
gradients Qb = dL/dQ, Rb = dL/dR, the gradient with respect to A is

    M  = R Rb^T - Qb^T Q
    Ab = (Qb + Q copyltu(M)) R^{-T},

where copyltu(M) copies the lower triangle of M (with its diagonal) onto the upper triangle
(Walter & Lehmann 2012, "Algorithmic differentiation of linear algebra functions with application
in optimum experimental design"; Seeger et al. 2017, arXiv:1710.08717; Liao et al., PRX 9, 031041,
2019). The inverse is applied by a triangular solve, never formed.
"""
from __future__ import annotations

import numpy as onp
from autograd.extend import defvjp, primitive
from scipy.linalg import solve_triangular

from ..core.errors import FlosslabError


@primitive
def qr(a):
    """Reduced QR, ``q, r = qr(a)`` for ``a`` of shape (..., m, n) with m >= n; differentiable."""
    a = onp.asarray(a)
    if a.ndim < 2 or a.shape[-2] < a.shape[-1]:
        raise FlosslabError(
            f"qr needs a tall or square matrix (m >= n), got shape {a.shape}; "
            "the frame must have at least as many rows (units N) as columns (exponents k)")
    return onp.linalg.qr(a, mode="reduced")


def _copyltu(m):
    lower = onp.tril(m)
    return lower + onp.swapaxes(onp.tril(m, -1), -1, -2)


def _solve_right_rt(b, r):
    """Return b R^{-T} for upper-triangular R, batched over leading axes."""
    if b.ndim == 2:
        return solve_triangular(r, b.T, lower=False).T
    out = onp.empty_like(b)
    for idx in onp.ndindex(*b.shape[:-2]):
        out[idx] = solve_triangular(r[idx], b[idx].T, lower=False).T
    return out


def qr_vjp(ans, a):
    q, r = ans

    def vjp(g):
        qb, rb = g
        qb = onp.broadcast_to(qb, q.shape)
        rb = onp.broadcast_to(rb, r.shape)
        m = r @ onp.swapaxes(rb, -1, -2) - onp.swapaxes(qb, -1, -2) @ q
        return _solve_right_rt(qb + q @ _copyltu(m), r)

    return vjp


defvjp(qr, qr_vjp)
