"""Re-orthonormalising the frame: Householder QR by default, Cholesky-QR2 where it is accurate, and
the automatic interval between QRs.

* ``"householder"``: ``torch.linalg.qr(mode="reduced")`` (LAPACK / cuSOLVER). Backward-stable at any
  condition number. On a GPU it loops over a batch of frames, so it is slow for big ensembles.
* ``"cholesky_qr2"``: Cholesky-QR applied twice (Yamamoto et al. 2015, ETNA 44)::

      G = A^T A = R1^T R1,  Q1 = A R1^{-1};   Q1^T Q1 = R2^T R2,  Q = Q1 R2^{-1};   R = R2 R1

  Only matrix products, a small Cholesky and triangular solves: fast on batches. It is accurate
  only while cond(A) < ~u^{-1/2} (u the unit round-off), so each frame is checked: the Cholesky must
  succeed and the condition estimate max|R1_ii| / min|R1_ii| must stay below
  :data:`CHOLESKY_MAX_CONDITION` (1e6 in float64, 30 in float32); frames failing the check are
  re-done with Householder QR (:func:`orthonormalize` returns which).
* ``"auto"``: Cholesky-QR2 on a GPU in float64 (where it is fast and accurate), Householder otherwise.

Both give a Q with orthonormal columns and an upper-triangular R with A = QR; their R diagonals may
differ in sign only, and log|R_ii| (what the spectrum needs) is the same.

The interval between QRs, fixed or automatic, is :class:`flosslab.core.schedule.QRSchedule`;
:func:`qr_schedule` builds one with the torch estimate of the frame's spread.
"""
from __future__ import annotations

import torch

from ..core.errors import FlosslabError
from ..core.schedule import DEFAULT_CEILING, SPREAD_BUDGET, QRSchedule
from ..core.validate import check_choice

METHODS = ("householder", "cholesky_qr2", "auto")
CHOLESKY_MAX_CONDITION = {torch.float64: 1e6, torch.float32: 30.0}


def householder_qr(a: torch.Tensor):
    """Reduced Householder QR of a (..., N, k), N >= k: returns Q (..., N, k), R (..., k, k)."""
    return torch.linalg.qr(a, mode="reduced")


def _cholesky_pass(a):
    gram = a.mT @ a
    chol, info = torch.linalg.cholesky_ex(gram)
    r = chol.mT
    q = torch.linalg.solve_triangular(r, a, upper=True, left=False)
    return q, r, info


def cholesky_qr2(a: torch.Tensor):
    """Cholesky-QR2 of a (..., N, k). Returns Q, R and a boolean mask (...) of trustworthy frames.

    A frame is trustworthy when both Cholesky factorisations succeed, everything is finite and the
    condition estimate max|R1_ii| / min|R1_ii| is below ``CHOLESKY_MAX_CONDITION[a.dtype]``.
    Differentiable (torch autograd through the products, Cholesky and solves).
    """
    q1, r1, info1 = _cholesky_pass(a)
    q, r2, info2 = _cholesky_pass(q1)
    r = r2 @ r1
    d = torch.diagonal(r1, dim1=-2, dim2=-1).detach().abs()
    limit = CHOLESKY_MAX_CONDITION[a.dtype]
    ok = ((info1 == 0) & (info2 == 0) & (d.amin(-1) * limit > d.amax(-1))
          & torch.isfinite(q.detach()).flatten(-2).all(-1) & torch.isfinite(d).all(-1))
    return q, r, ok


def resolve_method(method: str, a: torch.Tensor) -> str:
    """``"auto"`` -> ``"cholesky_qr2"`` for float64 on a GPU, else ``"householder"``."""
    check_choice("the orthonormalisation method", method, METHODS)
    if method == "auto":
        return "cholesky_qr2" if (a.is_cuda and a.dtype == torch.float64) else "householder"
    return method


def orthonormalize(a: torch.Tensor, method: str = "householder"):
    """Q, R with A = QR for a frame (or batch of frames) a (..., N, k), N >= k.

    ``method``: ``"householder"``, ``"cholesky_qr2"`` (with its accuracy check; failing frames are
    redone with Householder QR) or ``"auto"``. Differentiable with torch autograd.
    """
    if a.shape[-2] < a.shape[-1]:
        raise FlosslabError(f"the frame must have at least as many rows (units N) as columns "
                            f"(exponents k), got shape {tuple(a.shape)}")
    if resolve_method(method, a) == "householder":
        return householder_qr(a)
    q, r, ok = cholesky_qr2(a)
    if bool(ok.all()):
        return q, r
    if a.ndim == 2:
        return householder_qr(a)
    flat = a.reshape(-1, *a.shape[-2:])
    ok_flat = ok.reshape(-1)
    good, bad = ok_flat.nonzero().squeeze(-1), (~ok_flat).nonzero().squeeze(-1)
    qg, rg, _ = cholesky_qr2(flat[good])
    qb, rb = householder_qr(flat[bad])
    order = torch.argsort(torch.cat([good, bad]))
    q = torch.cat([qg, qb])[order].reshape(a.shape)
    r = torch.cat([rg, rb])[order].reshape(*a.shape[:-2], a.shape[-1], a.shape[-1])
    return q, r


def spread(log_r_diag: torch.Tensor) -> float:
    """max_i - min_i of the finite log|R_ii| (..., k) of one QR, the worst over a batch."""
    finite = log_r_diag.detach()
    finite = torch.where(torch.isfinite(finite), finite, torch.zeros_like(finite))
    return float((finite.amax(-1) - finite.amin(-1)).max())


def qr_schedule(n_steps, reorth_every, transient, dtype, ceiling: int = DEFAULT_CEILING):
    """The QR schedule for frames of ``dtype`` (its round-off sets the automatic interval's budget)."""
    name = "float32" if dtype == torch.float32 else "float64"
    return QRSchedule(n_steps, reorth_every, transient, ceiling, spread=spread,
                      budget=SPREAD_BUDGET[name])
