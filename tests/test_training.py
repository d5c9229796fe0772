"""Training: configuration, schedules, and that BPTT really learns."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.core.trainconfig import TrainConfig


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
])
def test_bad_configs(kwargs, message):
    with pytest.raises(fl.FlosslabError, match=message):
        TrainConfig(**kwargs)
