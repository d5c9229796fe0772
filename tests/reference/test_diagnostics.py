"""Diagnostics against explicit products, explicit backpropagation and closed forms."""
import numpy as np
import pytest

import flosslab as fl


def explicit_product(jacobians):
    """D_T ... D_1 multiplied out (only for short, well-conditioned windows in tests)."""
    prod = np.eye(jacobians.shape[1])
    for d in jacobians:
        prod = d @ prod
    return prod


def test_log_singular_values_match_svd_of_explicit_product():
    p = fl.init_rnn(15, gain=1.0, seed=0)
    _, a = fl.run_rnn(p, fl.random_bits(25, 1, seed=1), return_preactivations=True)
    jac = np.stack([fl.jacobian(p, at) for at in a])
    exact = np.log(np.linalg.svd(explicit_product(jac), compute_uv=False))[:6]
    # 15 passes of subspace iteration: error ~ (sigma_7/sigma_6)^30, far below 1e-8 here
    np.testing.assert_allclose(fl.log_singular_values(p, a, 6, n_passes=15), exact, atol=1e-8)
    np.testing.assert_allclose(fl.log_singular_values_from_jacobians(jac, 6, n_passes=15), exact,
                               atol=1e-8)


def test_log_singular_values_survive_huge_condition_numbers():
    """Over 400 steps the singular values span > 100 orders of magnitude. Multiplied out, the
    product keeps only ~16 digits relative to sigma_1, so its small singular values are round-off;
    the factored computation resolves them."""
    p = fl.init_rnn(20, gain=1.0, seed=0)
    _, a = fl.run_rnn(p, fl.random_bits(400, 1, seed=1), return_preactivations=True)
    lsv = fl.log_singular_values(p, a, 20)
    assert np.all(np.isfinite(lsv)) and np.all(np.diff(lsv) <= 0)
    assert fl.log10_condition_number(lsv) > 100
    jac = np.stack([fl.jacobian(p, at) for at in a])
    naive = np.log(np.linalg.svd(explicit_product(jac), compute_uv=False))
    assert naive[-1] > lsv[-1] + 50           # the naive smallest value is stuck at round-off
    assert abs(naive[0] - lsv[0]) < 1e-8       # the largest one agrees


def test_state_gradient_norms_match_explicit_backpropagation():
    """dL/dh_t = D_{t+1}^T ... D_T^T dL/dh_T for a loss at the last step only."""
    p = fl.init_rnn(10, gain=1.4, seed=2)
    batch = fl.make_batch("copy", 3, batch_size=1, seq_len=15, seed=0)
    norms = fl.state_gradient_norms(p, batch.inputs, batch.targets, batch.mask)
    h, a = fl.run_rnn(p, batch.inputs, return_preactivations=True)
    h, a = h[:, 0], a[:, 0]
    y = fl.readout(p, h)[-1, 0]
    z = batch.targets[-1, 0, 0]
    g = (1 / (1 + np.exp(-y)) - z) * p["V"][0]          # dL/dh_T for BCE on logits
    expected = [np.linalg.norm(g)]
    for t in range(len(h) - 1, 0, -1):
        g = ((1 - h[t] ** 2)[:, None] * p["W"]).T @ g     # D_t from the state, independently
        expected.append(np.linalg.norm(g))
    np.testing.assert_allclose(norms, expected[::-1], rtol=1e-10)


def test_gradient_norm_decays_at_small_gain_and_grows_at_large_gain():
    batch = fl.make_batch("copy", 3, batch_size=4, seq_len=60, seed=0)
    small = fl.state_gradient_norms(fl.init_rnn(40, 0.5, seed=0), batch.inputs, batch.targets,
                                    batch.mask)
    large = fl.state_gradient_norms(fl.init_rnn(40, 3.0, seed=0), batch.inputs, batch.targets,
                                    batch.mask)
    assert small[0] < 1e-8 * small[-1]
    assert large[0] > large[-1]


def test_effective_rank_closed_forms(rng):
    assert fl.effective_rank(np.eye(7)) == pytest.approx(7)
    u, v = rng.standard_normal(9), rng.standard_normal(5)
    assert fl.effective_rank(np.outer(u, v)) == pytest.approx(1, abs=1e-6)
    assert fl.effective_rank(np.zeros((3, 3))) == 0.0
    # two singular values 3 and 1: p = (3/4, 1/4)
    m = np.diag([3.0, 1.0])
    assert fl.effective_rank(m) == pytest.approx(np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))))


def test_weight_gradient_matches_finite_differences(rng):
    p = fl.init_rnn(8, seed=1)
    batch = fl.make_batch("copy", 2, batch_size=3, seq_len=10, seed=1)
    g = fl.weight_gradient(p, batch)

    def loss(w):
        q = dict(p, W=w)
        return fl.task_loss(fl.readout(q, fl.run_rnn(q, batch.inputs)), batch.targets, batch.mask)

    e = rng.standard_normal(p["W"].shape)
    eps = 1e-6
    fd = (loss(p["W"] + eps * e) - loss(p["W"] - eps * e)) / (2 * eps)
    assert abs(np.sum(g * e) - fd) < 1e-8


def test_condition_number_grows_with_window_length():
    p = fl.init_rnn(20, 1.0, seed=0)
    times, kappa = fl.condition_number_curve(p, fl.random_bits(120, 1, seed=0), n_values=10,
                                             transient=20)
    assert times[-1] == 100 and np.all(np.diff(kappa) > 0)
