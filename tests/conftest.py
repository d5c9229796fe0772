"""Shared fixtures. Tolerances are stated where they are used, with the reason."""
import os

import numpy as np
import pytest

# The course's disk cache stays off in the tests (and in the notebooks' kernels they start), so no
# test reads a result another one wrote; tests/test_cache.py turns it on in a temporary folder.
os.environ.setdefault("FLOSSLAB_CACHE", "off")

import flosslab as fl


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def small_rnn():
    """A 12-unit network, gain 1.3 (mildly chaotic regime boundary), one input."""
    return fl.init_rnn(12, gain=1.3, seed=3)


def explicit_product(jacobians):
    """D_T ... D_1 multiplied out (only for short, well-conditioned windows in tests)."""
    prod = np.eye(jacobians.shape[1])
    for d in jacobians:
        prod = d @ prod
    return prod
