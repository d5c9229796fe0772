"""Delayed copy, delayed XOR and temporal parity, from Bernoulli(1/2) bits.

Convention for the delay d (the same in every task): d is the LONGEST lag the target depends on.

* copy (parity of order 1):   y_t = x_{t-d}
* xor  (parity of order 2):   y_t = x_{t-ceil(d/2)} XOR x_{t-d}
* parity of order p:          y_t = XOR over j = 1..p of x_{t - ceil(j d / p)}

(p lags spread evenly up to d; requires d >= p so that the lags are distinct.) Time is 0-indexed,
x_0 is the first input, and the loss and accuracy count exactly the steps t >= d, where every input
the target needs has been seen: there are no unlearnable steps.

What the author's sources say (docs/conventions.md has the details):

* his published notation (README and NeurIPS rebuttal of his repository SurrogateGradientFlossing)
  writes the task as y_t = x_{t-d/2} XOR x_{t-d} and plots accuracy "as a function of task
  difficulty (delay d)": d is the longest lag, as here;
* his code (``GradientFlossing_XOR.jl``, task = -1) builds y_t = x_{t-delay} XOR x_{t-2 delay}: its
  variable ``delay`` is d/2 (its example's delay = 10 is d = 20 here).

flosslab reads the paper's delays in the published notation (d = longest lag), because that is how
the author writes the task for readers and no source says that the paper's figures plot the code's
variable. For even d the lags are exactly d/2 and d; for odd d the published formula has no integer
lag d/2 and flosslab takes ceil(d/2).

Arrays are time-major, as in the RNN: inputs (T, B, 1), targets (T, B, 1), mask (T,) of booleans.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as onp

from .errors import FlosslabError
from .validate import check_choice, check_int

TASKS = ("copy", "xor", "parity")


class TaskBatch(NamedTuple):
    """One batch: ``inputs`` (T, B, 1) bits, ``targets`` (T, B, 1) bits, ``mask`` (T,) bool."""
    inputs: onp.ndarray
    targets: onp.ndarray
    mask: onp.ndarray


def task_order(task: str, order: int | None = None) -> int:
    """Parity order p of a task: copy 1, xor 2, parity ``order`` (default 3)."""
    check_choice("task", task, TASKS)
    if task == "copy":
        return 1
    if task == "xor":
        return 2
    return check_int("the parity order p", 3 if order is None else order, minimum=1)


def task_lags(task: str, delay: int, order: int | None = None) -> list[int]:
    """The lags the target at time t depends on, ascending; the largest is ``delay``."""
    p = task_order(task, order)
    d = check_int("the delay", delay, minimum=1)
    if d < p:
        raise FlosslabError(f"the {task} task of order {p} needs delay >= {p} (one distinct lag per "
                            f"term), got delay={d}")
    return [math.ceil(j * d / p) for j in range(1, p + 1)]


def default_seq_len(delay: int) -> int:
    """A sequence long enough to hold the delay and 50 scored steps."""
    return int(delay) + 50


def make_batch(task: str, delay: int, batch_size: int = 16, seq_len: int | None = None,
               seed=0, order: int | None = None) -> TaskBatch:
    """Draw a batch of the task. ``seed`` is an int or a ``numpy.random.Generator``."""
    lags = task_lags(task, delay, order)
    d = lags[-1]
    seq_len = default_seq_len(d) if seq_len is None else seq_len
    seq_len = check_int("the sequence length T", seq_len, minimum=1)
    batch_size = check_int("the batch size", batch_size, minimum=1)
    if seq_len <= d:
        raise FlosslabError(f"the delay ({d}) must be shorter than the sequence (T={seq_len}); "
                            f"choose T > delay so that some steps can be scored")
    rng = seed if isinstance(seed, onp.random.Generator) else onp.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(seq_len, batch_size))
    targets = onp.zeros_like(bits)
    for lag in lags:
        targets[d:] ^= bits[d - lag:seq_len - lag]
    mask = onp.arange(seq_len) >= d
    return TaskBatch(bits[..., None].astype(float), targets[..., None].astype(float), mask)


def accuracy(logits, targets, mask) -> float:
    """Fraction of scored bits predicted right: sigmoid(y) >= 1/2, i.e. y >= 0, against the target."""
    logits = onp.asarray(logits)
    correct = (logits >= 0.0) == (onp.asarray(targets) >= 0.5)
    return float(onp.mean(correct[onp.asarray(mask)]))
