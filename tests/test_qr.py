"""The QR VJP against finite differences and closed forms (float64)."""
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
