"""Saturated networks: finite exponents that agree with a 60-digit computation.

Two things keep a saturated unit (|a| up to ~370) from turning a finite exponent into -inf or into
a wrong number: the slope tanh'(a) = sech^2(a) is computed from the pre-activation (``1 - h^2``
is exactly 0 from |a| ~ 19 on in float64), and the QR factors the frame's rows in order of
decreasing size (the rows of ``diag(tanh'(a)) W Q`` span dozens of orders of magnitude, and
unsorted Householder QR loses the small ones). The oracle is Benettin's algorithm in mpmath at 60
or more digits on the same float64 pre-activations, so only the products of Jacobians and the QRs
are compared. The gradients are checked the same way, against finite differences: the derivative of
the QR needs a form without cancellation there (:mod:`flosslab.reference.qr`).
"""
import functools
import warnings

import mpmath as mp
import numpy as np
import pytest
import torch
from autograd import grad

import flosslab as fl
from flosslab.core.conventions import FLOSS_SEQ_LEN, random_frame, random_state
from flosslab.engine import lyapunov as L, model as M
from flosslab.engine.training import train as engine_train

N, T, TRANSIENT, SEED = 6, 120, 20, 0
BACKENDS = ("reference", "engine fused", "engine generic")



def saturated(input_scale: float, gain: float = 10.0, seed: int = 1) -> dict:
    """N = 6, W ~ N(0, g^2/N) with g = 10, input weights rescaled so that max |U| = input_scale."""
    p = fl.init_rnn(N, gain, seed=seed)
    p["U"] = p["U"] * (input_scale / np.abs(p["U"]).max())
    return p


def bits():
    return fl.random_bits(T, 1, 3)


def mp_exponents(w, pre, frame, transient):
    """Benettin's algorithm in mpmath: Q <- diag(sech^2 a_t) W Q, modified Gram-Schmidt, sum of
    log r_ii after the transient over the counted steps. ``pre`` are float64 numbers taken as exact.

    Digits: 40 beyond the grading of the frame's rows (sech^2 a ~ 4 exp(-2|a|), 0.87 |a| digits),
    which Gram-Schmidt's cancellations need: 60 digits would not resolve |a| = 300."""
    with mp.workdps(40 + int(0.87 * np.abs(pre).max())):
        n, k = frame.shape
        wm = [[mp.mpf(float(x)) for x in row] for row in w]
        q = [[mp.mpf(float(x)) for x in row] for row in frame]      # q[i][j]: row i, column j
        total = [mp.mpf(0)] * k
        for t, a in enumerate(pre):
            slope = [mp.sech(mp.mpf(float(x))) ** 2 for x in a]
            cols = [[slope[i] * mp.fsum(wm[i][m] * q[m][j] for m in range(n)) for i in range(n)]
                    for j in range(k)]
            done = []
            for j, v in enumerate(cols):
                for u in done:
                    c = mp.fsum(x * y for x, y in zip(u, v))
                    v = [x - c * y for x, y in zip(v, u)]
                norm = mp.sqrt(mp.fsum(x * x for x in v))
                done.append([x / norm for x in v])
                if t >= transient:
                    total[j] += mp.log(norm)
            q = [[done[j][i] for j in range(k)] for i in range(n)]
        return np.array([float(x / (len(pre) - transient)) for x in total])


def trajectory(p):
    """The float64 pre-activations of the spectrum's trajectory (the reference's initial state)."""
    _, pre = fl.run_rnn(p, bits(), h0=random_state(N, SEED), return_preactivations=True)
    return pre


@functools.lru_cache(maxsize=None)
def network(name):
    """A network saturated at one of three input scales, or trained from there."""
    return trained() if name == "trained" else saturated(float(name))


@functools.lru_cache(maxsize=None)
def case(name, k=N):
    """A network, its trajectory's pre-activations and its first k exponents in mpmath."""
    p = network(name)
    pre = trajectory(p)
    return p, pre, mp_exponents(p["W"], pre, random_frame(N, k, SEED), TRANSIENT)


def trained():
    """A network trained on the copy task from a saturated start (g = 10, input weights up to 25):
    100 epochs of the engine's BPTT change W by up to ~0.25 and lower the loss (0.68 -> 0.50)."""
    config = fl.TrainConfig(task="copy", delay=2, n_units=N, n_epochs=100, lr=0.01, gain=10.0,
                            eval_every=50, eval_batch=64, seed=0)
    params, history = engine_train(config, params=saturated(25.0))
    assert history.loss[-1] < history.loss[0]
    return M.to_numpy(params)


def exponents(p, backend, **kw):
    if backend == "reference":
        return fl.lyapunov_spectrum(p, bits(), transient=TRANSIENT, seed=SEED, **kw)
    lam = L.lyapunov_spectrum(M.to_torch(p), bits(), transient=TRANSIENT, seed=SEED,
                              fused=backend == "engine fused", **kw)
    return lam.numpy()


def test_slope_has_full_relative_precision():
    """tanh'(a) = 4e/(1+e)^2, e = exp(-2|a|), against mpmath's sech^2: a few ulps (rtol 1e-14)
    while e is a normal float (|a| < 354); 0 only where e underflows (|a| > 372.5) or |a| = inf."""
    a = np.concatenate([[0.0, 1e-300, 1e-8], np.linspace(0.01, 353.0, 400)])
    a = np.concatenate([a, -a])
    exact = np.array([float(mp.sech(mp.mpf(float(x))) ** 2) for x in a])
    for got in (fl.tanh_slope(a), M.tanh_slope(torch.as_tensor(a)).numpy()):
        np.testing.assert_allclose(got, exact, rtol=1e-14, atol=0)
        assert np.all(got > 0)
    # float32: a few float32 ulps (rtol 1e-6) of sech^2 of the float32 number, while e is normal
    a32 = torch.as_tensor(a[np.abs(a) < 43.0], dtype=torch.float32)
    exact32 = np.array([float(mp.sech(mp.mpf(float(x))) ** 2) for x in a32])
    np.testing.assert_allclose(M.tanh_slope(a32).double().numpy(), exact32, rtol=1e-6, atol=0)
    far = np.array([373.0, -400.0, np.inf, -np.inf])
    assert np.all(fl.tanh_slope(far) == 0.0)
    assert torch.all(M.tanh_slope(torch.as_tensor(far)) == 0.0)
    assert torch.all(M.tanh_slope(torch.tensor([52.0, -60.0], dtype=torch.float32)) == 0.0)
    # the reason: 1 - tanh(a)^2 is already exactly 0 at |a| = 20, where sech^2(a) ~ 1.7e-17
    assert 1.0 - np.tanh(20.0) ** 2 == 0.0 and fl.tanh_slope(20.0) > 1e-17


@pytest.mark.parametrize("name, max_a", [("25", (25, 45)), ("40", (40, 60)), ("300", (300, 350)),
                                         ("trained", (30, 50))])
@pytest.mark.parametrize("k", [N, 4])
@pytest.mark.parametrize("backend", BACKENDS)
def test_saturated_exponents_match_high_precision(name, max_a, k, backend):
    """The first k exponents of saturated networks (g = 10, input weights up to 25, 40 and 300;
    and one trained from there) within 1e-8 of the mpmath oracle, finite, with no collapse
    warning. Measured: <= 4e-14 (25, 40), <= 3e-13 (300: |a| up to 308, exponents down to -325);
    the fused path with k = 4 up to 6e-11 (it factors rows unsorted where no pivot is below 1e-6
    of the frame's largest entry, see flosslab.core.conventions.GRADED_ROWS). The tolerance 1e-8
    is the issue's."""
    p, pre, exact = case(name, k)
    low, high = max_a
    assert low <= np.abs(pre).max() <= high           # the case is as saturated as it claims
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # a FrameCollapseWarning would fail here
        lam = exponents(p, backend, n_exponents=k)
    assert np.all(np.isfinite(exact)) and np.all(np.isfinite(lam))
    np.testing.assert_allclose(lam, exact, atol=1e-8, rtol=0)


def test_saturated_exponents_need_both_the_slope_and_the_sorted_qr():
    """The oracle test has teeth: on the network with input weights up to 25, the slope 1 - h^2 or
    unsorted Householder QR (each alone) gives a -inf or an exponent off by more than 1e-3."""
    p, pre, exact = case("25")
    h = np.tanh(pre)
    frame = random_frame(N, N, SEED)

    def benettin(slopes, qr):
        q, total = frame, np.zeros(N)
        for t, s in enumerate(slopes):
            q, r = qr(s[:, None] * (p["W"] @ q))
            if t >= TRANSIENT:
                with np.errstate(divide="ignore"):
                    total += np.log(np.abs(np.diag(r)))
        return total / (T - TRANSIENT)

    old_slope = benettin(1.0 - h ** 2, fl.qr)
    unsorted = benettin(fl.tanh_slope(pre), np.linalg.qr)
    both = benettin(fl.tanh_slope(pre), fl.qr)
    np.testing.assert_allclose(both, exact, atol=1e-8, rtol=0)
    for wrong in (old_slope, unsorted):
        assert not np.all(np.isfinite(wrong)) or np.max(np.abs(wrong - exact)) > 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_ordinary_networks_are_unchanged(backend):
    """An unsaturated network (g = 1.5, |a| < 5): the exponents equal, to 1e-10, an independent
    Benettin loop with the old slope 1 - h_t^2 from the states and plain LAPACK QR. Both are
    float64 computations of the same products; measured difference ~1e-15."""
    p = fl.init_rnn(12, 1.5, seed=4)
    x = fl.random_bits(300, 1, 9)
    h, pre = fl.run_rnn(p, x, h0=random_state(12, SEED), return_preactivations=True)
    assert np.abs(pre).max() < 5.0
    q, total, transient = random_frame(12, 8, SEED), np.zeros(8), 40   # 10 + 300 // 10, by value
    for t, ht in enumerate(h):
        q, r = np.linalg.qr((1.0 - ht ** 2)[:, None] * (p["W"] @ q))
        if t >= transient:
            total += np.log(np.abs(np.diag(r)))
    old = total / (300 - transient)
    if backend == "reference":
        lam = fl.lyapunov_spectrum(p, x, n_exponents=8, seed=SEED)
    else:
        lam = L.lyapunov_spectrum(M.to_torch(p), x, n_exponents=8, seed=SEED,
                                  fused=backend == "engine fused").numpy()
    np.testing.assert_allclose(lam, old, atol=1e-10, rtol=0)


@pytest.mark.parametrize("k", [N, 4])
@pytest.mark.parametrize("input_scale", [25.0, 40.0])
def test_flossing_gradient_of_a_saturated_network(input_scale, k):
    """d L_floss / d(W, U, b) on a flossing window (55 steps, 16 discarded) of a saturated network,
    k = N (square frames) and k = 4 (tall: the complement of the frame enters the derivative).
    Finite; the reference (autograd through the QR), the engine's fused recursion (hand-written
    backward) and its generic path (torch autograd) agree to 1e-9 relative (measured ~1e-14:
    the same float64 computation in three orders); and directional derivatives match finite
    differences to 1e-6 relative. The loss is strongly curved here (a plain central difference
    with step 1e-6 is off by ~1e-5 relative, by ~1e-3 with step 1e-5: truncation O(h^2)), so the
    difference is Richardson-extrapolated from steps 1e-6 and 5e-7 (truncation O(h^4), round-off
    ~1e-14 |L| / 1e-6 ~ 1e-8 |L|). Before the cancellation-free derivative both backends gave
    entries of ~1e43 here, where the true ones are ~10."""
    p = saturated(input_scale)
    x = fl.random_bits(FLOSS_SEQ_LEN, 1, 5)
    names = ("W", "U", "b")

    def ref_loss(dyn):
        return fl.flossing_loss({**p, **dyn}, x, n_exponents=k, transient=16, seed=2)

    dyn = {name: p[name] for name in names}
    ref = grad(ref_loss)(dyn)
    _, pre = fl.run_rnn(p, x, h0=random_state(N, 2), return_preactivations=True)
    assert np.abs(pre).max() > 20.0                       # saturated on this window
    for fused in (True, False):
        pt = M.to_torch(p, requires_grad=True)
        lam = L.lyapunov_spectrum(pt, x, n_exponents=k, transient=16, seed=2, fused=fused)
        loss = lam.pow(2).mean()
        loss.backward()
        assert loss.item() == pytest.approx(float(ref_loss(dyn)), rel=1e-12)
        for name in names:
            g = pt[name].grad.numpy()
            assert np.all(np.isfinite(g))
            assert np.max(np.abs(g - ref[name])) <= 1e-9 * np.max(np.abs(ref[name]))
    rng = np.random.default_rng(0)

    def central(e, h):
        plus = ref_loss({n: dyn[n] + h * e[n] for n in names})
        minus = ref_loss({n: dyn[n] - h * e[n] for n in names})
        return (plus - minus) / (2 * h)

    for _ in range(3):
        e = {name: rng.standard_normal(np.shape(p[name])) for name in names}
        fd = (4 * central(e, 5e-7) - central(e, 1e-6)) / 3      # Richardson: truncation O(h^4)
        analytic = sum(np.sum(ref[n] * e[n]) for n in names)
        assert abs(analytic - fd) <= 1e-6 * max(abs(fd), 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("where", ["row", "column"])
def test_a_singular_w_gives_the_round_off_floor_or_minus_inf(backend, where):
    """W with a zero row or column makes every D_t singular: the last exponent (k = N) is -inf
    (an exactly zero |R_NN|, with a FrameCollapseWarning) or at the round-off floor (a zero column
    leaves |R_NN| ~ 1e-16 |W| from rounding: log(1e-12) ~ -28 bounds it generously), never NaN;
    the others stay finite, and match the other backends to 1e-8. (Unsaturated network, g = 1.5,
    where every other exponent is above -5.)"""
    p = fl.init_rnn(N, 1.5, seed=2)
    p["W"] = p["W"].copy()
    if where == "row":
        p["W"][2] = 0.0
    else:
        p["W"][:, 2] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fl.FrameCollapseWarning)
        lam = exponents(p, backend)
        ref = exponents(p, "reference")
    assert not np.any(np.isnan(lam))
    assert lam[-1] < np.log(1e-12)
    assert np.all(np.isfinite(lam[:-1])) and np.all(lam[:-1] > -5.0)
    np.testing.assert_allclose(lam[:-1], ref[:-1], atol=1e-8, rtol=0)


def test_minus_inf_for_a_slope_from_an_infinite_preactivation():
    """|a| = inf gives a slope of exactly 0: a zero row of D_t, a singular Jacobian, -inf for the
    last exponent (with a warning) in both backends; |a| = 300 at the same place stays finite."""
    w = fl.init_rnn(4, 1.0, seed=0)["W"]
    pre = np.random.default_rng(1).standard_normal((30, 4))
    for value, singular in ((np.inf, True), (300.0, False)):
        a = pre.copy()
        a[12, 1] = value
        jac = np.stack([fl.tanh_slope(at)[:, None] * w for at in a])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lams = [fl.spectrum_from_jacobians(jac, seed=1),
                    fl.spectrum_from_jacobians(torch.as_tensor(jac), seed=1).numpy()]
        collapsed = any(issubclass(w.category, fl.FrameCollapseWarning) for w in caught)
        assert collapsed == singular
        for lam in lams:
            assert not np.any(np.isnan(lam))
            assert (lam[-1] == -np.inf) == singular and np.all(np.isfinite(lam[:-1]))
