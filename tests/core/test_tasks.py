"""Task targets against a direct, element-by-element definition."""
import numpy as np
import pytest

import flosslab as fl


def direct_target(bits, t, lags):
    """y_t = XOR of x_{t - lag} over the lags, written the slow and obvious way."""
    value = 0
    for lag in lags:
        value ^= int(bits[t - lag])
    return value


@pytest.mark.parametrize("task, delay, order, lags", [
    ("copy", 7, None, [7]),
    ("xor", 10, None, [5, 10]),
    ("xor", 9, None, [5, 9]),
    ("parity", 9, 3, [3, 6, 9]),
    ("parity", 10, 4, [3, 5, 8, 10]),
])
def test_targets_match_direct_definition(task, delay, order, lags):
    assert fl.task_lags(task, delay, order) == lags
    batch = fl.make_batch(task, delay, batch_size=5, seq_len=40, seed=1, order=order)
    assert batch.inputs.shape == batch.targets.shape == (40, 5, 1)
    for b in range(5):
        bits = batch.inputs[:, b, 0]
        for t in range(40):
            if t >= delay:
                assert batch.targets[t, b, 0] == direct_target(bits, t, lags)
    # exactly the steps whose inputs all exist are scored: no unlearnable steps
    np.testing.assert_array_equal(batch.mask, np.arange(40) >= delay)


def test_copy_is_parity_of_order_one_and_xor_of_order_two():
    a = fl.make_batch("copy", 6, seed=3)
    b = fl.make_batch("parity", 6, seed=3, order=1)
    np.testing.assert_array_equal(a.targets, b.targets)
    c = fl.make_batch("xor", 6, seed=3)
    d = fl.make_batch("parity", 6, seed=3, order=2)
    np.testing.assert_array_equal(c.targets, d.targets)


def test_bits_are_fair_and_seeded():
    batch = fl.make_batch("copy", 3, batch_size=200, seq_len=100, seed=0)
    assert set(np.unique(batch.inputs)) == {0.0, 1.0}
    assert abs(batch.inputs.mean() - 0.5) < 0.01      # 20000 bits: sd 0.0035
    np.testing.assert_array_equal(batch.inputs, fl.make_batch("copy", 3, 200, 100, seed=0).inputs)


def test_loss_and_accuracy_against_direct_formulas(rng):
    batch = fl.make_batch("xor", 4, batch_size=3, seq_len=12, seed=2)
    logits = rng.standard_normal(batch.targets.shape) * 3
    z, y, m = batch.targets, logits, batch.mask
    p = 1 / (1 + np.exp(-y))
    bce = -(z * np.log(p) + (1 - z) * np.log(1 - p))
    assert abs(fl.task_loss(logits, z, m) - bce[m].mean()) < 1e-12
    assert fl.accuracy(logits, z, m) == np.mean(((p >= 0.5) == (z == 1))[m])
    perfect = np.where(z > 0.5, 50.0, -50.0)
    assert fl.accuracy(perfect, z, m) == 1.0
    assert fl.task_loss(perfect, z, m) < 1e-20


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="copy", delay=40, seq_len=40), "shorter than the sequence"),
    (dict(task="parity", delay=2, order=3), "delay >= 3"),
    (dict(task="copy", delay=0), ">= 1"),
    (dict(task="rot13", delay=3), "one of copy, xor, parity"),
    (dict(task="copy", delay=3, batch_size=-1), "batch size"),
])
def test_bad_task_arguments(kwargs, message):
    with pytest.raises(fl.FlosslabError, match=message):
        fl.make_batch(**kwargs)


# --- the author's sources ---------------------------------------------------------------------
# Published notation (README and NeurIPS rebuttal of the author's SurrogateGradientFlossing
# repository): y_t = x_{t-d/2} XOR x_{t-d}, d the longest lag. His code (GradientFlossing_XOR.jl,
# generateInputOutput) writes the same task with a variable `delay` = d/2. Both are pinned here.

def published_xor(bits, t, d):
    """y_t = x_{t-d/2} XOR x_{t-d}, the published formula, for even d."""
    return int(bits[t - d // 2]) ^ int(bits[t - d])


def authors_generator(bits, delay, task):
    """generateInputOutput of GradientFlossing_XOR.jl transcribed index by index (Julia's 1-based
    indices kept as i, arrays read as bits[i - 1]); returns the targets of the whole unshifted
    sequence, 0 where the code leaves them undefined. task = 0: copy, task = -1: XOR."""
    n = len(bits)
    target = [0] * n
    for i in range(1, n + 1):
        if task == 0:
            if i > delay:
                target[i - 1] = int(bits[i - delay - 1])
        else:
            h = abs(task)
            if i > delay * 2 ** h:
                lagged = [int(bits[j - 1]) for j in range(i - delay, i - delay * 2 ** h - 1, -delay)]
                value = lagged[-1]                      # recabs(reverse(...)): |..|a - b| - c|..|
                for x in reversed(lagged[:-1]):
                    value = abs(value - x)
                target[i - 1] = value
    return target


@pytest.mark.parametrize("d", [2, 10, 20, 64, 70])
def test_xor_is_the_published_formula(d):
    assert fl.task_lags("xor", d) == [d // 2, d]
    batch = fl.make_batch("xor", d, batch_size=3, seq_len=d + 40, seed=d)
    for b in range(3):
        bits = batch.inputs[:, b, 0]
        for t in range(d, d + 40):
            assert batch.targets[t, b, 0] == published_xor(bits, t, d)


@pytest.mark.parametrize("code_delay", [1, 5, 10, 35])
def test_the_authors_code_delay_is_half_of_d(code_delay):
    """The code's XOR with `delay` = c equals flosslab's XOR with d = 2c at every step both define;
    the code's copy with `delay` = c equals flosslab's copy with d = c."""
    rng = np.random.default_rng(code_delay)
    bits = rng.integers(0, 2, size=4 * code_delay + 30)
    for task, d in ((-1, 2 * code_delay), (0, code_delay)):
        theirs = authors_generator(bits, code_delay, task)
        lags = fl.task_lags("xor" if task else "copy", d)
        for t in range(d, len(bits)):           # 0-based t; the code's i = t + 1
            assert theirs[t] == direct_target(bits, t, lags), (task, t)
