"""Fixtures of the course's tests (shared helpers that are not fixtures: course_helpers.py)."""
import pytest
from course_helpers import TINY

from flosslab.course import training_runs


@pytest.fixture
def tiny_training(monkeypatch):
    """Training clicks of a few milliseconds; a fresh cache so that nothing leaks between tests."""
    monkeypatch.setitem(training_runs.TRAIN_SIZES, "small", dict(TINY))
    training_runs.RUNS.clear()
    yield
    training_runs.RUNS.clear()          # the tiny runs share their keys with real small ones
