"""Training on several seeds (flosslab.course.training_runs): the cache per schedule and the spread
over seeds."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.course import training_runs


torch = pytest.importorskip("torch")


TINY = {"n_units": 6, "n_epochs": 8, "n_seeds": 2, "seq_extra": 6, "lr": 0.01, "n_exponents": 3,
        "floss_steps": 3, "floss_lr": 0.01, "eval_every": 4, "eval_batch": 16}


@pytest.fixture
def tiny_training(monkeypatch):
    """Training clicks of a few milliseconds; a fresh cache so that nothing leaks between tests."""
    monkeypatch.setitem(training_runs.TRAIN_SIZES, "small", dict(TINY))
    monkeypatch.setattr(training_runs, "_RUNS", {})


def reference_runs(task, delay, schedule, k=3, order=None, seeds=(0, 1)):
    """Lone runs of the numpy/autograd reference with the configurations a tiny click uses."""
    configs = training_runs.training_configs(task, delay, schedule, k, "small", order, seeds)
    return [fl.train(c)[1] for c in configs]


def test_train_seeds_caches_per_schedule(tiny_training):
    first = training_runs.train_seeds("xor", 4, ("none", "pre"), 3)
    again = training_runs.train_seeds("xor", 4, ("pre", "inter"), 3)       # only "inter" is trained
    assert again["pre"] is first["pre"]
    lone = reference_runs("xor", 4, "inter")
    np.testing.assert_allclose(again["inter"].accuracy, [h.accuracy for h in lone], atol=1e-12)


def test_seed_spread_and_its_description():
    med, lo, hi = training_runs.seed_spread([0.5, 1.0, 0.9, 0.6, 0.95])
    assert (med, lo, hi) == (0.9, 0.6, 0.95)
    assert training_runs.describe_spread([0.5, 1.0, 0.9]).startswith("0.90 [0.70-0.95] (3 seeds")
