import numpy as np
import pytest
from autograd import jacobian as autograd_jacobian

import flosslab as fl
from flosslab.reference.lyapunov import spectrum_from_jacobians


def preactivation(p, h, x):
    return h @ p["W"].T + x @ p["U"].T + p["b"]


def test_analytic_jacobian_matches_autodiff(small_rnn, rng):
    # float64; the analytic D_t = diag(tanh'(a_t)) W and autograd must agree to round-off
    h = np.tanh(rng.standard_normal(12))
    x = rng.integers(0, 2, size=1).astype(float)
    auto = autograd_jacobian(lambda hh: fl.rnn_step(small_rnn, hh, x))(h)
    analytic = fl.jacobian(small_rnn, preactivation(small_rnn, h, x))
    np.testing.assert_allclose(analytic, auto, rtol=0, atol=1e-10)


def test_analytic_jacobian_matches_finite_differences(small_rnn, rng):
    h = np.tanh(rng.standard_normal(12))
    x = np.array([1.0])
    eps = 1e-6
    fd = np.stack([(fl.rnn_step(small_rnn, h + eps * e, x) - fl.rnn_step(small_rnn, h - eps * e, x))
                   / (2 * eps) for e in np.eye(12)], axis=1)
    np.testing.assert_allclose(fl.jacobian(small_rnn, preactivation(small_rnn, h, x)), fd,
                               atol=1e-9)


def test_jacobian_apply_is_row_scaling_of_dense_product(small_rnn, rng):
    a = rng.standard_normal(12) * 3
    q = rng.standard_normal((12, 5))
    np.testing.assert_allclose(fl.jacobian_apply(small_rnn, a, q), fl.jacobian(small_rnn, a) @ q,
                               atol=1e-13)


def test_run_rnn_returns_the_preactivations_of_its_states(small_rnn, rng):
    x = rng.integers(0, 2, size=(30, 1)).astype(float)
    h, a = fl.run_rnn(small_rnn, x, return_preactivations=True)
    np.testing.assert_array_equal(np.tanh(a), h)
    h_prev = np.vstack([np.zeros((1, 12)), h[:-1]])
    np.testing.assert_allclose(a, preactivation(small_rnn, h_prev, x), atol=1e-14)


def test_init_statistics_and_seeds():
    p = fl.init_rnn(400, gain=2.0, seed=1)
    # std of 160000 N(0, g^2/N) entries: relative sampling error ~ 1/sqrt(2*160000) ~ 0.2 %
    assert abs(p["W"].std() * np.sqrt(400) / 2.0 - 1) < 0.01
    assert 0 <= p["b"].min() and p["b"].max() < 0.1
    assert p["U"].shape == (400, 1) and p["V"].shape == (1, 400)
    q = fl.init_rnn(400, gain=2.0, seed=1)
    assert all(np.array_equal(p[n], q[n]) for n in p)
    assert not np.array_equal(p["W"], fl.init_rnn(400, gain=2.0, seed=2)["W"])


def test_batched_run_equals_single_runs(small_rnn, rng):
    x = rng.integers(0, 2, size=(20, 3, 1)).astype(float)
    batched = fl.run_rnn(small_rnn, x)
    for b in range(3):
        np.testing.assert_allclose(batched[:, b], fl.run_rnn(small_rnn, x[:, b]), atol=1e-14)


def test_h_form_and_preactivation_form_have_the_same_exponents(rng):
    """The author's form x_t = W tanh(x_{t-1}) + U s_t + b has Jacobian W diag(sech^2 x_{t-1}).

    Its Jacobian product is a cyclic shift of ours, so the exponents agree up to a boundary term
    O(1/T); with T = 4000 the difference must be below ~1e-3 (and it shrinks with T).
    """
    p = fl.init_rnn(10, gain=1.5, seed=0)
    s = rng.integers(0, 2, size=(4000, 1)).astype(float)
    h, a = fl.run_rnn(p, s, return_preactivations=True)       # a_t is the author's x_t
    ours = np.stack([(1 - ht ** 2)[:, None] * p["W"] for ht in h])
    # dx_{t+1}/dx_t = W diag(sech^2 x_t)
    theirs = np.stack([p["W"] * (1 - np.tanh(at) ** 2)[None, :] for at in a])
    lam_h = spectrum_from_jacobians(ours, transient=200)
    lam_x = spectrum_from_jacobians(theirs, transient=200)
    np.testing.assert_allclose(lam_h, lam_x, atol=1e-3)


def test_run_rnn_rejects_wrong_input_shape(small_rnn):
    with pytest.raises(fl.FlosslabError, match="n_inputs=1"):
        fl.run_rnn(small_rnn, np.zeros((5, 2)))
