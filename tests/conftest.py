"""Shared fixtures. Tolerances are stated where they are used, with the reason."""
import os

import numpy as np
import pytest

# The course's disk cache stays off in the tests (and in the notebooks' kernels they start), so no
# test reads a result another one wrote; tests/course/test_cache.py turns it on in a temporary folder.
os.environ.setdefault("FLOSSLAB_CACHE", "off")

import flosslab as fl
from flosslab.core.settings import threads


@pytest.fixture(autouse=True)
def one_thread():
    """Every test on one torch and one BLAS thread, as the notebooks and the command line run
    (setup_notebook, --threads): these loops of small products and QRs gain nothing from more, and
    with two test workers on two cores OpenMP's waiting threads would slow each other down."""
    with threads(1):
        yield


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``-n 2 --dist loadscope`` (the README's test command) a notebook's cells, a test
    module's functions and a test class stay on one worker (nbval needs every cell of a notebook in
    one kernel; module fixtures are built once); the notebook runs of test_notebook_outputs.py,
    a few seconds each, are spread over both workers one by one."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            if "test_notebook_outputs.py::test_notebook_shows" in nodeid:
                return nodeid
            return super()._split_scope(nodeid)

    return Scheduling(config, log)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def small_rnn():
    """A 12-unit network, gain 1.3 (mildly chaotic regime boundary), one input."""
    return fl.init_rnn(12, gain=1.3, seed=3)
