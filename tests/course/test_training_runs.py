"""Training on several seeds (flosslab.course.training_runs): the cache per schedule and the spread
over seeds."""
import numpy as np
import pytest
from course_helpers import reference_runs  # noqa: F401

from flosslab.course import training_runs

torch = pytest.importorskip("torch")


def test_train_seeds_caches_per_schedule(tiny_training):
    first = training_runs.train_seeds("xor", 4, ("none", "pre"), 3)
    again = training_runs.train_seeds("xor", 4, ("pre", "inter"), 3)       # only "inter" is trained
    assert again["pre"] is first["pre"]
    lone = reference_runs("xor", 4, "inter")
    np.testing.assert_allclose(again["inter"].accuracy, [h.accuracy for h in lone], atol=1e-12)


def test_seed_spread_and_its_description():
    med, lo, hi = training_runs.seed_spread([0.5, 1.0, 0.9, 0.6, 0.95])
    assert (med, lo, hi) == (0.9, 0.6, 0.95)
    assert training_runs.describe_spread([0.5, 1.0, 0.9]).startswith(
        "median 0.90, quartiles 0.70 to 0.95 (3 seeds")
    assert training_runs.describe_spread([0.5, 1.0, 0.9], "range").startswith(
        "median 0.90, range 0.50 to 1.00 (3 seeds")
