"""Lyapunov spectra against exactly solvable cases and exact identities."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import flosslab as fl
from flosslab.reference.lyapunov import spectrum_from_jacobians


def test_constant_diagonal_map():
    """D_t = diag(d): lambda_i = log|d_i| sorted descending. After a 300-step transient the random
    frame is aligned to within exp(-300 * min gap) ~ 1e-20, so 1e-6 has a wide margin."""
    d = np.array([0.3, -1.7, 1.1, 0.05, 0.9, -0.6])
    jac = np.broadcast_to(np.diag(d), (1000, 6, 6))
    lam = spectrum_from_jacobians(jac, n_exponents=4, transient=300)
    np.testing.assert_allclose(lam, np.sort(np.log(np.abs(d)))[::-1][:4], atol=1e-6)


def test_time_varying_diagonal_map(rng):
    """D_t = s_t diag(d): lambda_i = log|d_i| + mean_t log|s_t| over the counted steps."""
    d = np.array([2.0, 1.0, 0.5, 0.25])
    s = rng.uniform(0.5, 1.5, size=800)
    jac = s[:, None, None] * np.diag(d)[None]
    lam = spectrum_from_jacobians(jac, transient=200)
    np.testing.assert_allclose(lam, np.log(d) + np.mean(np.log(s[200:])), atol=1e-6)


def test_constant_nonnormal_linear_map(rng):
    """A = P diag(mu) P^{-1} (non-normal): lambda_i = log|mu_i| (transient absorbs P's skew)."""
    mu = np.array([1.5, -1.2, 0.8, 0.5, 0.3])
    p = rng.standard_normal((5, 5)) + 3 * np.eye(5)
    a = p @ np.diag(mu) @ np.linalg.inv(p)
    lam = spectrum_from_jacobians(np.broadcast_to(a, (1500, 5, 5)), transient=500)
    np.testing.assert_allclose(lam, np.log(np.abs(mu)), atol=1e-6)


def test_rotation_gives_degenerate_pair():
    """A scaled rotation r R(theta) has a complex pair of modulus r: both exponents are log r."""
    r, th = 0.9, 0.7
    a = r * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    lam = spectrum_from_jacobians(np.broadcast_to(a, (50, 2, 2)))
    np.testing.assert_allclose(lam, [np.log(r)] * 2, atol=1e-12)


@pytest.mark.parametrize("reorth_every", [1, 4])
def test_sum_rule_for_the_rnn(reorth_every):
    """With k = N: sum_i lambda_i = mean over counted steps of log|det D_t|
    = log|det W| + mean_t sum_i log(1 - h_{t,i}^2), for any trajectory, to round-off (1e-8)."""
    p = fl.init_rnn(20, gain=1.5, seed=4)
    x = fl.random_bits(400, 1, seed=5)
    transient = 40
    lam = fl.lyapunov_spectrum(p, x, reorth_every=reorth_every, transient=transient, seed=6)
    h0 = np.random.default_rng(6 + 1).uniform(-1, 1, size=20)   # the default start, seed + 1
    h = fl.run_rnn(p, x, h0=h0)[transient:]
    expected = np.linalg.slogdet(p["W"])[1] + np.mean(np.sum(np.log(1 - h ** 2), axis=1))
    assert abs(np.sum(lam) - expected) < 1e-8


def test_reorth_interval_does_not_change_exponents():
    """Telescoping: QR every m steps equals QR every step in exact arithmetic; with a spread of
    ~3 per step, m = 3 keeps m * spread < 15, so float64 agrees to ~1e-10."""
    p = fl.init_rnn(16, gain=1.0, seed=1)
    x = fl.random_bits(300, 1, seed=2)
    every = fl.lyapunov_spectrum(p, x, n_exponents=10, reorth_every=1)
    for m in (2, 3):
        np.testing.assert_allclose(fl.lyapunov_spectrum(p, x, n_exponents=10, reorth_every=m),
                                   every, atol=1e-9)


def test_small_gain_limit_is_log_eigenvalue_moduli():
    """At g = 0.5 with no input and zero bias, h -> 0 and D_t -> W: the exponents become the logs
    of the moduli of W's eigenvalues (a closed form). The state decays like 0.5^t, so after a
    300-step transient the correction is far below 1e-6. A complex pair rotates the frame inside
    its plane, so only the pair's sum is exact; it is compared through the pair's mean."""
    p = fl.autonomous(fl.init_rnn(8, gain=0.5, seed=0))
    lam = fl.lyapunov_spectrum(p, seq_len=3000, transient=300)
    eig = np.linalg.eigvals(p["W"])
    eig = eig[np.argsort(-np.abs(eig))]
    i = 0
    while i < len(eig):
        width = 2 if abs(eig[i].imag) > 1e-12 else 1
        assert abs(np.mean(lam[i:i + width]) - np.log(abs(eig[i]))) < 1e-6
        i += width


def test_transition_to_chaos():
    lam_ordered = fl.lyapunov_spectrum(fl.autonomous(fl.init_rnn(100, 0.5, seed=0)), seq_len=1000,
                                       n_exponents=1)
    lam_chaos = fl.lyapunov_spectrum(fl.autonomous(fl.init_rnn(100, 3.0, seed=0)), seq_len=1000,
                                     n_exponents=1)
    assert lam_ordered[0] < -0.5 and lam_chaos[0] > 0.1


def test_history_ends_at_the_estimate():
    p = fl.init_rnn(10, seed=0)
    lam, hist = fl.lyapunov_spectrum(p, seq_len=200, n_exponents=3, reorth_every=5,
                                     return_history=True)
    assert hist.steps[-1] == 200 - 30          # the default transient 10 + 200 // 10, by value
    np.testing.assert_allclose(hist.estimates[-1], lam, atol=1e-14)
    assert np.all(np.diff(hist.steps) > 0)


def test_default_transient_is_ten_plus_a_tenth_pinned_by_value():
    """The paper code's convention, 10 + T/10 steps discarded (integer division), written out by
    value so that a changed convention fails here rather than moving every expected value with it."""
    assert [fl.default_transient(t) for t in (0, 1, 9, 10, 19, 20, 200, 300, 1000, 1009)] == \
        [10, 10, 10, 11, 11, 12, 30, 40, 110, 110]


@pytest.mark.parametrize("engine", [False, True])
def test_spectrum_without_a_transient_discards_ten_plus_a_tenth(engine):
    """transient=None gives the same exponents as transient=40 for T = 300 (and not 39 or 41: one
    step more or less changes the average by ~1/260 of a step's log-growth, far above round-off)."""
    from flosslab import engine as E
    p = fl.init_rnn(8, 1.5, seed=2)
    x = fl.random_bits(300, 1, 4)
    spectrum = (lambda **kw: E.lyapunov_spectrum(E.to_torch(p), x, **kw).numpy()) if engine \
        else (lambda **kw: fl.lyapunov_spectrum(p, x, **kw))
    default = spectrum(n_exponents=3, seed=1, reorth_every=1)
    # same computation, same operations: equal to round-off (1e-12 leaves room for summation order)
    np.testing.assert_allclose(default, spectrum(n_exponents=3, seed=1, reorth_every=1,
                                                 transient=40), rtol=0, atol=1e-12)
    for other in (39, 41):
        assert np.abs(default - spectrum(n_exponents=3, seed=1, reorth_every=1,
                                         transient=other)).max() > 1e-8


def test_gradient_wrt_jacobians_matches_finite_differences(rng):
    jac = rng.standard_normal((6, 5, 5)) * 0.6
    def f(j):
        return anp.sum(spectrum_from_jacobians(j, n_exponents=3) * anp.array([1.0, -2.0, 0.5]))
    g = grad(f)(jac)
    eps = 1e-6
    for _ in range(4):
        e = rng.standard_normal(jac.shape)
        fd = (f(jac + eps * e) - f(jac - eps * e)) / (2 * eps)
        assert abs(np.sum(g * e) - fd) <= 1e-6 * max(1.0, abs(fd))


def test_flossing_loss_gradient_wrt_weights_matches_finite_differences(rng):
    p = fl.init_rnn(10, gain=1.2, seed=0)
    x = fl.random_bits(40, 1, seed=1)
    def f(w):
        return fl.flossing_loss(dict(p, W=w), x, n_exponents=6, transient=8)
    g = grad(f)(p["W"])
    eps = 1e-6
    for _ in range(4):
        e = rng.standard_normal(p["W"].shape)
        fd = (f(p["W"] + eps * e) - f(p["W"] - eps * e)) / (2 * eps)
        assert abs(np.sum(g * e) - fd) <= 1e-6 * max(1.0, abs(fd))


def test_collapsed_frame_gives_minus_inf_and_a_warning():
    jac = np.broadcast_to(np.diag([1.0, 0.5, 0.0]), (10, 3, 3))
    with pytest.warns(fl.FrameCollapseWarning, match="collapsed"):
        lam = spectrum_from_jacobians(jac, frame=np.eye(3))
    assert not np.any(np.isnan(lam))
    assert lam[2] == -np.inf
    np.testing.assert_allclose(lam[:2], np.log([1.0, 0.5]), atol=1e-12)


def test_nan_jacobians_raise():
    jac = np.ones((4, 3, 3))
    jac[2, 1, 1] = np.nan
    with pytest.raises(fl.NumericalError, match="NaN"):
        spectrum_from_jacobians(jac)


def test_nan_weights_raise():
    p = fl.init_rnn(5, seed=0)
    p["W"][0, 0] = np.nan
    with pytest.raises(fl.NumericalError):
        fl.lyapunov_spectrum(p, seq_len=50)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_exponents=9), "choose k <= N"),
    (dict(n_exponents=0), ">= 1"),
    (dict(reorth_every=0), "reorth_every"),
    (dict(transient=50), "transient"),
])
def test_bad_arguments_say_what_is_valid(kwargs, message):
    with pytest.raises(fl.FlosslabError, match=message):
        spectrum_from_jacobians(np.ones((50, 8, 8)) * 0.1, **kwargs)


def test_bad_jacobian_shape():
    with pytest.raises(fl.FlosslabError, match=r"\(T, N, N\)"):
        spectrum_from_jacobians(np.ones((5, 4, 3)))
