"""Training: configuration, schedules, and that BPTT really learns."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.core.trainconfig import TrainConfig
from flosslab.engine.training import train_members


def test_copy_task_is_learned():
    config = TrainConfig(task="copy", delay=3, n_units=24, n_epochs=150, eval_every=50, seed=0)
    _, history = fl.train(config)
    assert history.final_accuracy >= 0.95
    assert len(history.loss) == 150 and history.eval_epochs == [50, 100, 150]
    assert np.mean(history.loss[-10:]) < 0.5 * np.mean(history.loss[:10])
    assert all(s.shape == (16,) for s in history.spectra)
    assert len(history.grad_rank) == 3 and all(1.0 <= r <= 24 for r in history.grad_rank)


def test_untrained_network_is_at_chance():
    config = TrainConfig(task="xor", delay=6, n_units=16, n_epochs=0)
    params = fl.init_rnn(16, seed=0)
    from flosslab.reference.training import evaluate
    assert abs(evaluate(params, config, seed=1) - 0.5) < 0.1


@pytest.mark.parametrize("schedule, floss_epochs", [
    ("none", []), ("pre", [0]), ("inter", [0, 10, 20]), ("penalty", [])])
def test_schedules_run_flossing_when_they_say(schedule, floss_epochs):
    config = TrainConfig(task="copy", delay=2, n_units=8, n_epochs=30, eval_every=10,
                         flossing=schedule, n_exponents=4, floss_steps=3,
                         inter_epochs=(10, 20) if schedule == "inter" else ())
    assert config.floss_epochs() == floss_epochs
    _, history = fl.train(config)
    assert history.floss_epochs == floss_epochs
    assert all(len(f) == 3 for f in history.floss_losses)
    assert len(history.loss) == 30


def test_penalty_adds_the_flossing_loss_to_the_gradient():
    """With a huge penalty weight and lr, the penalty run's exponents move toward 0 faster than a
    plain run from the same start."""
    base = dict(task="copy", delay=2, n_units=12, n_epochs=40, eval_every=40, n_exponents=6,
                lr=1e-2)
    _, plain = fl.train(TrainConfig(flossing="none", **base))
    _, penal = fl.train(TrainConfig(flossing="penalty", penalty_weight=50.0, **base))
    assert np.mean(np.abs(penal.spectra[-1])) < np.mean(np.abs(plain.spectra[-1]))


@pytest.mark.parametrize("engine", ["reference", "torch"])
def test_flossing_qr_interval_changes_only_round_off(engine, monkeypatch):
    """floss_reorth="auto" takes fewer QRs in the flossing episodes (counted) and, in float64, gives
    the flossing losses and the training curve of a QR at every step (the same function of the
    parameters in exact arithmetic): to 1e-6, as the automatic interval's round-off (up to
    e^12 u ~ 3e-11 per QR in float64) is amplified by Adam's normalised steps where a gradient
    component is near zero (the flossing loss itself agrees to ~1e-11, test_flossing.py)."""
    import flosslab.engine.recursion as recursion
    calls = []
    real = recursion.orthonormalize
    monkeypatch.setattr(recursion, "orthonormalize",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    runs = {}
    for m in (1, "auto"):
        config = TrainConfig(task="copy", delay=3, n_units=12, n_epochs=6, eval_every=6,
                             flossing="inter", inter_epochs=(3,), n_exponents=8, floss_steps=15,
                             floss_reorth=m)
        calls.clear()
        if engine == "torch":
            _, (history,) = train_members([config], dtype="float64")
        else:
            _, history = fl.train(config)
        runs[m] = history, len(calls)
    (every, qr_every), (auto, qr_auto) = runs[1], runs["auto"]
    for a, b in zip(auto.floss_losses, every.floss_losses):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(auto.loss, every.loss, rtol=1e-6)
    if engine == "torch":
        assert 0 < qr_auto < qr_every / 2, (qr_auto, qr_every)


def test_members_with_different_flossing_qr_intervals_do_not_train_together():
    configs = [TrainConfig(task="copy", delay=2, n_units=8, n_epochs=2, floss_reorth=m)
               for m in (1, "auto")]
    with pytest.raises(fl.FlosslabError, match="floss_reorth"):
        train_members(configs)


def test_segments_cover_all_epochs():
    config = TrainConfig(n_epochs=100, flossing="inter", inter_epochs=(30, 60))
    assert config.segments() == [(0, 30), (30, 60), (60, 100)]
    assert TrainConfig(n_epochs=100).segments() == [(0, 100)]


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="copy", delay=60, seq_len=50), "shorter than the sequence"),
    (dict(n_units=8, n_exponents=9), "k <= N"),
    (dict(flossing="sometimes"), "one of none, pre, inter, penalty"),
    (dict(lr=-1.0), "learning rate"),
    (dict(n_epochs=10, flossing="inter", inter_epochs=(20,)), "interflossing epoch"),
    (dict(floss_reorth=0), "floss_reorth"),
    (dict(floss_reorth="sometimes"), "floss_reorth"),
])
def test_bad_configs(kwargs, message):
    with pytest.raises(fl.FlosslabError, match=message):
        TrainConfig(**kwargs)


# --- gradient clipping, per parameter array ------------------------------------------------------

def test_clip_rescales_each_array_above_the_norm_to_it_and_leaves_the_others():
    """The reference's clip by hand: W (norm 5) and c (norm 13) to norm 1, U (norm 0.5) untouched;
    per array, not by the global norm (which would scale U too). Exact up to one rounding."""
    from flosslab.reference.training import clip_gradients
    g = {"W": np.array([[3.0, 4.0], [0.0, 0.0]]), "U": np.array([[0.3], [0.4]]),
         "c": np.array([5.0, 12.0])}
    out = clip_gradients(g, 1.0)
    np.testing.assert_allclose(out["W"], [[0.6, 0.8], [0.0, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(out["c"], [5 / 13, 12 / 13], rtol=1e-15)
    np.testing.assert_array_equal(out["U"], g["U"])


def test_engine_clip_rescales_each_array_of_each_member_to_its_own_clip():
    """The engine's batched clip by hand: two members with clips 1 and 10; every array above its
    member's clip scaled to it, the others untouched; the returned norms are each member's total
    norm before clipping."""
    import torch

    from flosslab.engine.training import clip_member_gradients
    names = ["W", "c"]
    members = []
    for scale in (1.0, 2.0):
        m = {name: torch.zeros(2, dtype=torch.float64, requires_grad=True) for name in names}
        m["W"].grad = torch.tensor([3.0, 4.0], dtype=torch.float64) * scale    # norm 5, 10
        m["c"].grad = torch.tensor([0.3, 0.4], dtype=torch.float64) * scale    # norm 0.5, 1
        members.append(m)
    configs = [TrainConfig(clip=1.0), TrainConfig(clip=10.0)]
    losses, norms = clip_member_gradients(members, names, configs, torch.tensor([0.5, 0.25],
                                                                        dtype=torch.float64))
    np.testing.assert_allclose(members[0]["W"].grad.numpy(), [0.6, 0.8], rtol=1e-15)
    np.testing.assert_allclose(members[0]["c"].grad.numpy(), [0.3, 0.4], rtol=1e-15)
    np.testing.assert_allclose(members[1]["W"].grad.numpy(), [6.0, 8.0], rtol=1e-15)  # = clip
    np.testing.assert_allclose(members[1]["c"].grad.numpy(), [0.6, 0.8], rtol=1e-15)
    np.testing.assert_allclose(norms, [np.hypot(5, 0.5), np.hypot(10, 1)], rtol=1e-15)
    np.testing.assert_allclose(losses, [0.5, 0.25])


@pytest.mark.parametrize("engine", [False, True])
def test_first_training_step_is_adam_on_the_per_array_clipped_gradient(engine):
    """One epoch of train against a hand computation: the batch the trainer draws
    (default_rng([seed, 1])), the loss gradient by autograd, each array's gradient clipped to norm
    3e-8, and Adam's first step x - lr g / (|g| + 1e-8) (m and v bias-corrected to g and g^2).
    The clip makes the clipped entries ~1e-8, comparable to Adam's epsilon, so the step depends on
    each array's clip factor: no clipping, or one global factor, moves the parameters otherwise
    (by up to ~lr). Same float64 gradient to ~1e-15 relative; Adam's step is then within
    ~lr * 1e-15, so 1e-12 leaves room."""
    from autograd import grad

    from flosslab.core.tasks import make_batch
    from flosslab.reference.training import task_loss
    clip, lr = 3e-8, 1e-2
    config = TrainConfig(task="copy", delay=2, n_units=6, n_epochs=1, batch_size=4, lr=lr,
                         clip=clip, eval_every=1, eval_batch=4, seed=3)
    p0 = fl.init_rnn(6, config.gain, seed=3)
    batch = make_batch("copy", 2, 4, config.seq_len, np.random.default_rng([3, 1]), None)
    g = grad(lambda p: task_loss(fl.readout(p, fl.run_rnn(p, batch.inputs)), batch.targets,
                                 batch.mask))(p0)
    norms = {name: np.linalg.norm(value) for name, value in g.items()}
    assert min(norms.values()) > 100 * clip                   # every array is clipped
    want = {}
    for name, value in g.items():
        clipped = value * (clip / norms[name])
        want[name] = p0[name] - lr * clipped / (np.abs(clipped) + 1e-8)
    if engine:
        from flosslab import engine as E
        got, history = E.train(config)
        got = {name: value.detach().numpy() for name, value in got.items()}
    else:
        got, history = fl.train(config)
    assert history.grad_norm[0] == pytest.approx(np.sqrt(sum(n ** 2 for n in norms.values())),
                                                 rel=1e-12)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)
    # the clip mattered: unclipped, Adam's first step is lr * sign(g) to within lr * 1e-8 / |g|
    assert max(np.abs(want[n] - (p0[n] - lr * np.sign(g[n]))).max() for n in want) > 0.1 * lr
