"""Shared by the course's test files: tiny training sizes and a fixture that installs them, lone
reference runs to compare a training click with, and hand-written answers (right and wrong) to the
exercises of several lessons."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.course import training_runs

#: Training clicks of a few milliseconds.
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


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As in the notebooks (setup_notebook): one thread; these small matrices run slower on two."""
    from flosslab.core.settings import threads
    with threads(1):
        yield


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


def _parity(bits, delay, order, lag=lambda j, d, p: -(-j * d // p)):
    y = np.zeros_like(bits)
    for j in range(1, order + 1):
        y[delay:] ^= bits[delay - lag(j, delay, order):len(bits) - lag(j, delay, order)]
    return y


def _loss(logits, targets, mask):
    return float(np.mean((np.logaddexp(0, logits) - targets * logits)[mask]))


def _naive_loss(logits, targets, mask):
    s = 1 / (1 + np.exp(-logits))
    return float(np.mean(-(targets * np.log(s) + (1 - targets) * np.log(1 - s))[mask]))


def _weight_gradient(states, pre, deltas):
    return np.einsum("tbi,tbj->ij", (1 - np.tanh(pre) ** 2) * deltas, states[:-1])


def _bootstrap(acc, delays, idx, level, shared=False, statistic=np.median):
    out = np.zeros(idx.shape[1], dtype=int)
    for j in np.argsort(delays):
        m = statistic(acc[j][idx[0 if shared else j]], axis=1)
        out[m >= level] = delays[j]
    return out


def _horizon(delays, medians, level):
    ok = [d for d, m in zip(delays, medians) if m >= level]
    return max(ok) if ok else None


def _horizon_first_failure(delays, medians, level):
    out = None
    for d, m in zip(delays, medians):
        if m < level:
            break
        out = d
    return out


def rejects_with_hint(checker, wrong, hint, capsys):
    """``checker`` says "Not yet" to ``wrong``, with ``hint`` in its one line."""
    assert not checker(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out, out
