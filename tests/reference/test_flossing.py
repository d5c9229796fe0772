"""Flossing: it lowers the loss it minimises, touches only the dynamics, and fails loudly."""
import autograd
import numpy as np
import pytest

import flosslab as fl


def test_flossing_pushes_exponents_toward_the_target():
    p = fl.init_rnn(24, gain=1.0, seed=0)
    x = fl.random_bits(300, 1, seed=9)
    before = fl.lyapunov_spectrum(p, x, n_exponents=12, transient=50)
    new, history = fl.floss(p, n_steps=150, n_exponents=12, lr=3e-3, seed=1)
    after = fl.lyapunov_spectrum(new, x, n_exponents=12, transient=50)
    assert np.mean(np.abs(after)) < 0.3 * np.mean(np.abs(before))
    assert history.losses.shape == (150,) and history.spectra.shape == (150, 12)
    assert np.mean(history.losses[-10:]) < 0.1 * np.mean(history.losses[:10])


def test_flossing_to_a_nonzero_target():
    p = fl.init_rnn(16, gain=1.0, seed=2)
    new, _ = fl.floss(p, n_steps=150, n_exponents=4, target=-0.2, lr=3e-3, seed=3)
    lam = fl.lyapunov_spectrum(new, fl.random_bits(400, 1, seed=4), n_exponents=4, transient=50)
    assert np.all(np.abs(lam + 0.2) < 0.1)


def test_history_records_the_loss_of_the_recorded_spectrum():
    p = fl.init_rnn(10, seed=0)
    _, history = fl.floss(p, n_steps=5, n_exponents=3, target=0.1)
    np.testing.assert_allclose(history.losses, np.mean((history.spectra - 0.1) ** 2, axis=1),
                               rtol=1e-12)


def test_only_dynamic_parameters_change():
    p = fl.init_rnn(10, seed=0)
    new, _ = fl.floss(p, n_steps=3, n_exponents=3)
    for name in ("V", "c"):
        assert np.array_equal(new[name], p[name])
    for name in ("W", "U", "b"):
        assert not np.array_equal(new[name], p[name])


def test_zero_steps_is_identity():
    p = fl.init_rnn(6, seed=0)
    new, history = fl.floss(p, n_steps=0, n_exponents=2)
    assert all(np.array_equal(new[n], p[n]) for n in p) and len(history.losses) == 0


def test_nan_weights_are_reported():
    p = fl.init_rnn(6, seed=0)
    p["W"] = p["W"] * np.nan
    with pytest.raises(fl.NumericalError):
        fl.floss(p, n_steps=2, n_exponents=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_exponents=7), "k <= N"),
    (dict(lr=0.0), "learning rate"),
    (dict(target=float("nan")), "finite"),
    (dict(n_steps=-1), ">= 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(fl.FlosslabError, match=message):
        fl.floss(fl.init_rnn(6, seed=0), **kwargs)


@pytest.mark.parametrize("m", [2, 5, "auto"])
def test_flossing_loss_and_gradient_do_not_depend_on_the_qr_interval(m):
    """The product of the R factors is the R of the product: the flossing loss and its gradient
    with a QR every m steps (or the automatic interval) equal those of a QR at every step, in
    float64 to the interval's round-off, in the reference and in the engine (ensemble of two)."""
    import torch

    from flosslab.core.conventions import random_bits
    from flosslab.engine.ensemble import init_ensemble
    from flosslab.engine.flossing import flossing_loss as engine_loss
    from flosslab.reference.flossing import flossing_loss as reference_loss
    params = fl.init_rnn(14, 1.0, seed=3)
    x = random_bits(55, 1, seed=[3, 0])
    grad = autograd.grad(lambda p: reference_loss(p, x, 9, 0.0, 16, 1, seed=3))
    want, want_grad = reference_loss(params, x, 9, 0.0, 16, 1, seed=3), grad(params)
    got = reference_loss(params, x, 9, 0.0, 16, m, seed=3)
    got_grad = autograd.grad(lambda p: reference_loss(p, x, 9, 0.0, 16, m, seed=3))(params)
    assert abs(got - want) <= 1e-10 * want
    for name in "WUb":
        assert np.abs(got_grad[name] - want_grad[name]).max() <= 1e-8 * np.abs(want_grad[name]).max()
    ens = init_ensemble(14, [1.0, 1.5], [3, 4])
    xs = np.stack([random_bits(55, 1, seed=[s, 0]) for s in (3, 4)], axis=1)
    results = []
    for interval in (1, m):
        p = {k: v.clone().requires_grad_(k in "WUb") for k, v in ens.items()}
        loss = engine_loss(p, xs, 9, 0.0, 16, interval, [3, 4])
        loss.sum().backward()
        results.append((loss.detach(), [p[k].grad for k in "WUb"]))
    (l1, g1), (lm, gm) = results
    torch.testing.assert_close(lm, l1, rtol=1e-10, atol=0)
    for a, b in zip(gm, g1):
        assert float((a - b).abs().max()) <= 1e-8 * float(b.abs().max())
