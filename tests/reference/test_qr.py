"""The QR VJP against finite differences and closed forms (float64)."""
import importlib

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from flosslab import FlosslabError
from flosslab.reference.qr import qr


def _objective(weights_q, weights_r):
    def f(a):
        q, r = qr(a)
        # with S = diag(sign R_ii), Q S and S R are the unique QR factors with R_ii > 0, so this
        # functional does not depend on the sign convention of the LAPACK routine
        s = anp.sign(anp.diagonal(r, axis1=-1, axis2=-2))
        return anp.sum(weights_q * q * s) + anp.sum(weights_r * r * s[:, None])
    return f


@pytest.mark.parametrize("shape", [(6, 6), (9, 4), (30, 7)])
def test_qr_vjp_matches_central_finite_differences(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape)
    f = _objective(rng.standard_normal(shape), np.triu(rng.standard_normal((shape[1],) * 2)))
    g = grad(f)(a)
    eps = 1e-6
    for _ in range(3):
        e = rng.standard_normal(shape)
        fd = (f(a + eps * e) - f(a - eps * e)) / (2 * eps)
        # central differences: truncation O(eps^2) ~ 1e-12, round-off ~ 1e-16/eps ~ 1e-10
        assert abs(np.sum(g * e) - fd) <= 1e-6 * max(1.0, abs(fd))
    # and entrywise on a few coordinates
    for idx in [(0, 0), (shape[0] - 1, shape[1] - 1), (shape[0] // 2, 0)]:
        e = np.zeros(shape)
        e[idx] = 1.0
        fd = (f(a + eps * e) - f(a - eps * e)) / (2 * eps)
        assert abs(g[idx] - fd) <= 1e-6 * max(1.0, abs(fd))


def _sum_log_abs_diag(a):
    _, r = qr(a)
    return anp.sum(anp.log(anp.abs(anp.diagonal(r, axis1=-1, axis2=-2))))


def test_closed_form_square():
    """d/dA sum log|R_ii| = d/dA log|det A| = A^{-T}."""
    a = np.random.default_rng(0).standard_normal((7, 7))
    np.testing.assert_allclose(grad(_sum_log_abs_diag)(a), np.linalg.inv(a).T, rtol=1e-10,
                               atol=1e-12)


def test_closed_form_tall():
    """For tall A: sum log|R_ii| = (1/2) log det(A^T A), whose gradient is A (A^T A)^{-1}."""
    a = np.random.default_rng(1).standard_normal((12, 5))
    np.testing.assert_allclose(grad(_sum_log_abs_diag)(a), a @ np.linalg.inv(a.T @ a),
                               rtol=1e-10, atol=1e-12)


def test_batched_vjp_equals_loop():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 8, 4))
    w = rng.standard_normal((3, 8, 4))

    def f(x):
        q, r = qr(x)
        return anp.sum(w * q * anp.sign(anp.diagonal(r, axis1=-1, axis2=-2))[:, None, :]) \
            + anp.sum(anp.log(anp.abs(anp.diagonal(r, axis1=-1, axis2=-2))))

    g = grad(f)(a)
    for i in range(3):
        def fi(x, i=i):
            q, r = qr(x)
            d = anp.diagonal(r, axis1=-1, axis2=-2)
            return anp.sum(w[i] * q * anp.sign(d)) + anp.sum(anp.log(anp.abs(d)))
        np.testing.assert_allclose(g[i], grad(fi)(a[i]), atol=1e-12)


def test_qr_is_a_factorisation():
    a = np.random.default_rng(3).standard_normal((10, 4))
    q, r = qr(a)
    np.testing.assert_allclose(q @ r, a, atol=1e-13)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-13)
    assert np.allclose(r, np.triu(r))


def test_wide_matrix_is_rejected():
    with pytest.raises(FlosslabError, match="m >= n"):
        qr(np.zeros((3, 5)))


# --- graded rows: the small-pivot branch of the VJP ---------------------------------------------

#: Row sizes spanning 15 orders of magnitude, as in a saturated network's frame diag(tanh'(a)) W Q:
#: three rows of size 1 and the rest tiny, so that with 4 columns R_44 (made of the tiny rows) is
#: ~1e-12, far below GRADED_ROWS (1e-6) times the largest entry: the VJP takes its small-pivot
#: branch (and the textbook form's cancellation would show).
GRADED_SCALES = np.array([1.0, 1e-12, 1.0, 1e-13, 1e-14, 1e-12, 1.0, 1e-15])


def graded_case(m, n, seed):
    """A graded (m, n) matrix, upstream weights for Q and R, and row-scaled directions."""
    rng = np.random.default_rng(seed)
    scales = GRADED_SCALES[:m]
    a = rng.standard_normal((m, n)) * scales[:, None]
    wq, wr = rng.standard_normal((m, n)), np.triu(rng.standard_normal((n, n)))
    # directions scaled like the rows: a step of relative size eps in every entry, so that the
    # finite difference resolves the tiny rows (which carry O(1) entries of Q's last columns)
    directions = [rng.standard_normal((m, n)) * scales[:, None] for _ in range(4)]
    return a, wq, wr, directions


def assert_matches_central_differences(f, g, a, directions):
    """sum(g * e) against (f(a + eps e) - f(a - eps e)) / (2 eps), eps = 1e-6 relative to each row.
    In these row-scaled coordinates f is smooth with O(1) derivatives (the sorted QR is accurate
    row by row): truncation ~eps^2 ~ 1e-12, round-off ~1e-16 |f| / eps ~ 1e-10; measured 1e-9 at
    most, so 1e-6 relative leaves room. The cancelling textbook form, used on these matrices, is off
    by 3e-4 (tall) and 5e-4 (square) relative (measured): it fails."""
    eps = 1e-6
    for e in directions:
        fd = (f(a + eps * e) - f(a - eps * e)) / (2 * eps)
        assert abs(float(np.sum(g * e)) - fd) <= 1e-6 * max(1.0, abs(fd)), (np.sum(g * e), fd)


@pytest.mark.parametrize("shape", [(8, 4), (5, 5)])
def test_qr_vjp_on_graded_rows_takes_the_small_pivot_branch_and_matches_differences(
        shape, monkeypatch):
    Q = importlib.import_module("flosslab.reference.qr")   # the module (the package exports its qr function)
    a, wq, wr, directions = graded_case(*shape, seed=7)
    seen = []
    plain = Q.small_pivots
    monkeypatch.setattr(Q, "small_pivots", lambda x, r: seen.append(plain(x, r)) or seen[-1])
    f = _objective(wq, wr)
    g = grad(f)(a)
    assert seen == [True]                       # the backward pass took the small-pivot branch
    _, r = qr(a)
    assert np.abs(np.diag(r)).min() < 1e-10     # and it is there for the reason it exists
    assert_matches_central_differences(f, g, a, directions)


@pytest.mark.parametrize("shape", [(8, 4), (5, 5)])
def test_engine_qr_vjp_on_graded_rows_takes_the_small_pivot_branch_and_matches_differences(
        shape, monkeypatch):
    """The engine's sorted Householder QR (:func:`householder_qr`, whose backward is the
    :func:`qr_vjp` that the fused recursion also calls at graded steps), same case."""
    import torch

    from flosslab.engine import orthonormalize as O
    a, wq, wr, directions = graded_case(*shape, seed=7)
    seen = []
    plain = O.small_pivots
    monkeypatch.setattr(O, "small_pivots", lambda x, r: seen.append(plain(x, r)) or seen[-1])
    wq_t, wr_t = torch.as_tensor(wq), torch.as_tensor(wr)

    def f_torch(x):
        q, r = O.householder_qr(x)
        s = torch.sign(torch.diagonal(r))
        return (wq_t * q * s).sum() + (wr_t * r * s[:, None]).sum()

    at = torch.tensor(a, requires_grad=True)
    f_torch(at).backward()
    assert seen == [True]
    def f(x):
        return float(f_torch(torch.as_tensor(x)).detach())
    assert_matches_central_differences(f, at.grad.numpy(), a, directions)
