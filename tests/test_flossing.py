"""Flossing: it lowers the loss it minimises, touches only the dynamics, and fails loudly."""
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
