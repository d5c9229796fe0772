"""Re-orthonormalising the frame: Householder QR by default, Cholesky-QR2 where it is accurate, and
the automatic interval between QRs.

* ``"householder"``: ``torch.linalg.qr(mode="reduced")`` (LAPACK / cuSOLVER) of the rows sorted by
  decreasing size. Backward-stable at any condition number, and row by row for graded frames.
  On a GPU it loops over a batch of frames, so it is slow for big ensembles.
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

from ..core.conventions import GRADED_ROWS
from ..core.errors import NO_DERIVATIVE_COLLAPSED, FlosslabError, NumericalError
from ..core.schedule import DEFAULT_CEILING, SPREAD_BUDGET, QRSchedule
from ..core.validate import check_choice

METHODS = ("householder", "cholesky_qr2", "auto")
CHOLESKY_MAX_CONDITION = {torch.float64: 1e6, torch.float32: 30.0}


def row_sizes(a: torch.Tensor) -> torch.Tensor:
    """max_j |a_ij| of each row of a (..., N, k): (..., N) (no sum of squares, which underflows)."""
    return a.detach().abs().amax(-1)


def row_order(a: torch.Tensor) -> torch.Tensor:
    """The rows of each frame a (..., N, k) in order of decreasing size, (..., N)."""
    return torch.argsort(row_sizes(a), dim=-1, descending=True, stable=True)


def small_pivots(a: torch.Tensor, r: torch.Tensor) -> bool:
    """True when some frame of A = QR (a (..., N, k)) has a |R_jj| below
    :data:`~flosslab.core.conventions.GRADED_ROWS` times its largest |a_ij| (a saturated
    network's: the small R_jj are made of small rows)."""
    pivots = torch.diagonal(r.detach(), dim1=-2, dim2=-1).abs().amin(-1)
    return bool((pivots < GRADED_ROWS * a.detach().abs().amax((-2, -1))).any())


def sorted_qr(a: torch.Tensor, order: torch.Tensor, mode: str = "reduced"):
    """Householder QR of a (..., N, k) with its rows taken in ``order`` (..., N) and Q's rows put
    back: the factors of a, Q (..., N, k) and R (..., k, k) (``mode="complete"``: Q (..., N, N)).
    No gradient (see :func:`householder_qr`)."""
    flat, perm = a.reshape(-1, *a.shape[-2:]), order.reshape(-1, a.shape[-2])
    batch = torch.arange(flat.shape[0], device=a.device).unsqueeze(-1)
    q_sorted, r = torch.linalg.qr(flat[batch, perm], mode=mode)
    q = torch.empty_like(q_sorted).index_put_((batch, perm), q_sorted)
    return q.reshape(*a.shape[:-1], q.shape[-1]), r.reshape(*a.shape[:-2], *r.shape[-2:])


def qr_vjp(a, q, r, qb, lower, order=None, careful=None, check: bool = True):
    """The gradient Ab of A = QR (a (..., N, k)) from Qb (..., N, k) and ``lower``, the k x k matrix
    copyltu(R Rb^T) of the gradient Rb of R (``diag(c)`` when only log|R_ii| is used, c their
    gradients): the textbook ``(Qb + Q copyltu(lower - Qb^T Q)) R^{-T}`` (see
    :mod:`flosslab.reference.qr`), or, where some R_jj is small (``careful``, default
    :func:`small_pivots`), the same without its cancellation,
    ``(Q (tril(X - X^T, -1) + lower) + Q_perp Q_perp^T Qb) R^{-T}`` with X = Q^T Qb and Q_perp (an
    orthonormal basis of the complement of Q's columns, needed only when N > k) from the complete
    QR of the rows in ``order`` (default: sorted by size). A zero R_ii (a collapsed frame) raises
    :class:`NumericalError` (``check=False``: the caller checked)."""
    if check and bool((torch.diagonal(r, dim1=-2, dim2=-1) == 0).any()):
        raise NumericalError(NO_DERIVATIVE_COLLAPSED)
    if not (small_pivots(a, r) if careful is None else careful):
        b = qb + q @ copyltu(lower - qb.mT @ q)
    else:
        x = q.mT @ qb
        b = q @ (torch.tril(x - x.mT, -1) + lower)
        if a.shape[-2] > a.shape[-1]:
            full, _ = sorted_qr(a, row_order(a) if order is None else order, "complete")
            perp = full[..., a.shape[-1]:]
            b = b + perp @ (perp.mT @ qb)
    return torch.linalg.solve_triangular(r.mT, b, upper=False, left=False)


def copyltu(m):
    """The lower triangle of m (with its diagonal) mirrored onto the upper one."""
    return torch.tril(m) + torch.tril(m, -1).mT


class SortedHouseholderQR(torch.autograd.Function):
    """``q, r = SortedHouseholderQR.apply(a, order)``: :func:`sorted_qr` with the gradient of
    :func:`qr_vjp` (``order`` None: rows sorted by size)."""

    @staticmethod
    def forward(ctx, a, order):
        order = row_order(a) if order is None else order
        q, r = sorted_qr(a, order)
        ctx.save_for_backward(a, q, r, order)
        return q, r

    @staticmethod
    def backward(ctx, qb, rb):
        a, q, r, order = ctx.saved_tensors
        qb = torch.zeros_like(q) if qb is None else qb
        lower = torch.zeros_like(r) if rb is None else copyltu(r @ rb.mT)
        return qr_vjp(a, q, r, qb, lower, order), None


def householder_qr(a: torch.Tensor, order="norm"):
    """Reduced Householder QR of a (..., N, k), N >= k: returns Q (..., N, k), R (..., k, k).

    The rows are factored in the order ``order`` and Q's rows put back (P A = (P Q) R has the same
    R): ``"norm"`` (default) sorts them by decreasing size (:func:`row_order`), which keeps the QR
    accurate row by row for the graded frames of saturated networks (as
    :func:`flosslab.reference.qr.qr` explains); an index tensor (..., N) gives the order. Its
    gradient is :func:`qr_vjp`, accurate on such frames too. ``order=None`` is plain
    ``torch.linalg.qr`` (rows as they are, torch's gradient)."""
    if order is None:
        return torch.linalg.qr(a, mode="reduced")
    return SortedHouseholderQR.apply(a, None if isinstance(order, str) else order)


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


def orthonormalize(a: torch.Tensor, method: str = "householder", order="norm"):
    """Q, R with A = QR for a frame (or batch of frames) a (..., N, k), N >= k.

    ``method``: ``"householder"``, ``"cholesky_qr2"`` (with its accuracy check; failing frames are
    redone with Householder QR, rows sorted by size) or ``"auto"``. ``order``: the row order of
    Householder QR (see :func:`householder_qr`). Differentiable with torch autograd.
    """
    if a.shape[-2] < a.shape[-1]:
        raise FlosslabError(f"the frame must have at least as many rows (units N) as columns "
                            f"(exponents k), got shape {tuple(a.shape)}")
    if resolve_method(method, a) == "householder":
        return householder_qr(a, order)
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


def qr_schedule(seq_len, reorth_every, transient, dtype, ceiling: int = DEFAULT_CEILING):
    """The QR schedule for frames of ``dtype`` (its round-off sets the automatic interval's budget)."""
    name = "float32" if dtype == torch.float32 else "float64"
    return QRSchedule(seq_len, reorth_every, transient, ceiling, spread=spread,
                      budget=SPREAD_BUDGET[name])
