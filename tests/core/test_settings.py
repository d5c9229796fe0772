"""The thread policy: one thread per process unless told otherwise, never an environment variable
written behind the user's back, and torch's count restored after a command."""
import json
import os

import pytest
import torch

from flosslab.cli import main
from flosslab.core.errors import FlosslabError
from flosslab.core.settings import THREADS_ENV, available_cores, default_threads, threads


def test_default_threads_reads_the_environment(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert default_threads() == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert default_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "all")
    assert default_threads() == available_cores() >= 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(FlosslabError, match=THREADS_ENV):
            default_threads()


def test_threads_context_sets_and_restores_torch(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    before = torch.get_num_threads()
    names = [THREADS_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"]
    environment = {name: os.environ.get(name) for name in names}
    with threads() as n:
        assert n == 1 and torch.get_num_threads() == 1
    with threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    # no thread variable written to the environment (the limits are set through the libraries)
    assert {name: os.environ.get(name) for name in names} == environment


def test_cli_runs_on_one_thread_unless_told(monkeypatch, capsys):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    base = ["spectrum", "--n", "8", "--k", "2", "--steps", "50", "--device", "cpu", "--json"]
    assert main(base) == 0
    assert json.loads(capsys.readouterr().out)["device"] == "cpu (1 thread)"
    assert main(base + ["--threads", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["device"] == "cpu (2 threads)"
    monkeypatch.setenv(THREADS_ENV, "2")
    assert main(base) == 0
    assert json.loads(capsys.readouterr().out)["device"] == "cpu (2 threads)"
    assert main(base + ["--threads", "0"]) == 2
    assert "the number of threads must be >= 1" in capsys.readouterr().err
