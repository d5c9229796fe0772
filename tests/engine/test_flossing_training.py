"""Engine flossing and training against the numpy reference; ensembles against lone runs.

Tolerances: gradients 1e-6 relative (same float64 QR sequence; observed ~1e-11). Trajectories of
several Adam steps: Adam divides by sqrt(v) + 1e-8, so entries with gradients near 1e-8 turn
round-off (~1e-13) into parameter differences up to ~1e-7 after 20 steps; 1e-6 bounds that.
Training loss curves: identical draws and Adam formula, observed <= 1e-13; asserted 1e-8.
"""
import numpy as np
import pytest
from autograd import grad

import flosslab as fl
from flosslab.core.errors import FlosslabError
from flosslab.engine import flossing as F, model as M, training as T
from flosslab.engine.ensemble import floss_in_chunks, stack_params
from flosslab.engine.training import train_members


def test_flossing_gradient_matches_reference():
    p = fl.init_rnn(20, 1.5, seed=3)
    x = fl.random_bits(55, 1, 0)
    ref = grad(lambda d: fl.flossing_loss({**p, **d}, x, 10, target=-0.1))(
        {k: p[k] for k in "WUb"})
    pt = M.to_torch(p, requires_grad=True)
    F.flossing_loss(pt, x, 10, target=-0.1).backward()
    for k in "WUb":
        assert np.max(np.abs(pt[k].grad.numpy() - ref[k])) <= 1e-6 * np.max(np.abs(ref[k]))


def test_floss_follows_reference():
    p = fl.init_rnn(16, 1.2, seed=1)
    pr, hr = fl.floss(p, 8, 6, lr=1e-2, seed=2)
    pe, he = F.floss(M.to_torch(p), 8, 6, lr=1e-2, seed=2)
    np.testing.assert_allclose(he.losses, hr.losses, rtol=1e-6)
    np.testing.assert_allclose(he.spectra, hr.spectra, atol=1e-6)
    for k in "WUbVc":
        np.testing.assert_allclose(pe[k].numpy(), pr[k], atol=1e-6)


def test_ensemble_flossing_equals_lone_runs():
    ps = [fl.init_rnn(14, g, seed=s) for s, g in [(1, 1.0), (2, 1.5), (3, 2.0)]]
    steps, ks, targets, lrs, seeds = [4, 6, 2], [5, 10, 3], [0.0, -0.1, 0.0], [1e-2, 2e-2, 1e-3], \
        [4, 5, 6]
    stacked, hs = floss_in_chunks(stack_params(ps), steps, ks, targets, lrs, seeds=seeds)
    for i, p in enumerate(ps):
        alone, h = F.floss(M.to_torch(p), steps[i], ks[i], targets[i], lrs[i], seed=seeds[i])
        assert len(hs[i].losses) == steps[i] and hs[i].spectra.shape == (steps[i], ks[i])
        np.testing.assert_allclose(hs[i].losses, h.losses, rtol=1e-6)
        for k in "WUb":
            np.testing.assert_allclose(stacked[k][i].numpy(), alone[k].numpy(), atol=1e-6)


@pytest.mark.parametrize("schedule", ["inter", "penalty"])
def test_training_loss_curve_matches_reference(schedule):
    c = fl.TrainConfig(n_units=12, n_epochs=16, delay=4, flossing=schedule, floss_steps=3,
                       n_exponents=4, eval_every=8, eval_batch=32, lr=1e-2, inter_epochs=(8,))
    _, hr = fl.train(c)
    _, he = T.train(c)
    np.testing.assert_allclose(he.loss, hr.loss, atol=1e-8, rtol=0)
    np.testing.assert_allclose(he.grad_norm, hr.grad_norm, rtol=1e-8)
    assert he.accuracy == hr.accuracy and he.eval_epochs == hr.eval_epochs
    np.testing.assert_allclose(np.array(he.spectra), np.array(hr.spectra), atol=1e-8)
    np.testing.assert_allclose(he.grad_rank, hr.grad_rank, rtol=1e-8)
    assert he.floss_epochs == hr.floss_epochs


def test_ensemble_training_equals_lone_runs():
    base = dict(n_units=10, n_epochs=12, eval_every=6, eval_batch=16, floss_steps=2)
    configs = [fl.TrainConfig(task="copy", delay=3, seed=1, flossing="pre", n_exponents=3, **base),
               fl.TrainConfig(task="xor", delay=6, seed=2, gain=1.5, lr=1e-2, flossing="none",
                              **base),
               fl.TrainConfig(task="parity", delay=6, order=3, seed=3, flossing="penalty",
                              n_exponents=5, **base)]
    stacked, hs = train_members(configs)
    for i, c in enumerate(configs):
        alone, h = T.train(c)
        np.testing.assert_allclose(hs[i].loss, h.loss, atol=1e-10, rtol=0)
        assert hs[i].accuracy == h.accuracy and hs[i].floss_epochs == h.floss_epochs
        for k in alone:
            np.testing.assert_allclose(stacked[k][i].numpy(), alone[k].numpy(), atol=1e-8)


def test_ensemble_training_rejects_mismatched_sizes():
    with pytest.raises(FlosslabError, match="share n_units"):
        train_members([fl.TrainConfig(n_units=8), fl.TrainConfig(n_units=9)])


def test_flossing_nan_is_caught():
    p = M.init_rnn(6, 1.0, seed=0)
    p["W"][0, 0] = float("nan")
    with pytest.raises(fl.NumericalError):
        F.floss(p, 2, 3)
