"""The training epoch's fast path: :class:`flosslab.engine.recursion.TaskLossRecursion` (hand-written
backward) against torch autograd of the plain expressions (run_rnn, readout, bce), and whole short
training runs through ``train_members(fused=True)`` against ``fused=False``.

Float64: the losses and every gradient agree within 1e-10 (the same products in the same order;
only tanh (numpy's, within 1 ulp of torch's) and the order of the gradient's sums differ). A short
training run with flossing episodes gives the same records to round-off.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from flosslab.engine.model import readout, run_rnn
from flosslab.engine.recursion import tanh_, task_losses
from flosslab.engine.training import bce, train_members
from flosslab.paper.budgets import DEFAULT
from flosslab.paper.sweep import RunSpec

NAMES = ("W", "U", "b", "V", "c")


def plain_losses(params, inputs, targets, weights):
    logits = readout(params, run_rnn(params, inputs))
    return torch.einsum("tebo,te->e", bce(logits, targets), weights)


def random_case(e, t, batch, n, n_in, n_out, dtype, seed, gain=1.5):
    g = torch.Generator().manual_seed(seed)
    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)
    params = {"W": rnd(e, n, n) * gain / n ** 0.5, "U": rnd(e, n, n_in), "b": rnd(e, n) * 0.3,
              "V": rnd(e, n_out, n) / n ** 0.5, "c": rnd(e, n_out) * 0.3}
    for value in params.values():
        value.requires_grad_()
    inputs = (torch.rand(t, e, batch, n_in, generator=g, dtype=dtype) < 0.5).to(dtype)
    targets = (torch.rand(t, e, batch, n_out, generator=g, dtype=dtype) < 0.5).to(dtype)
    weights = torch.rand(t, e, generator=g, dtype=dtype) / t
    weights[t // 2:, 0] = 0.0              # a member with a shorter (padded) sequence
    return params, inputs, targets, weights


@pytest.mark.parametrize("e, t, batch, n, n_in, n_out", [(1, 30, 4, 6, 1, 1), (3, 25, 5, 9, 1, 1),
                                                         (2, 12, 3, 5, 2, 3)])
def test_the_hand_written_backward_equals_autograd_in_float64(e, t, batch, n, n_in, n_out):
    params, inputs, targets, weights = random_case(e, t, batch, n, n_in, n_out, torch.float64,
                                                   seed=e * 100 + n)
    upstream = torch.linspace(0.5, 2.0, e, dtype=torch.float64)
    fast = task_losses(params, inputs, targets, weights)
    plain = plain_losses(params, inputs, targets, weights)
    np.testing.assert_allclose(fast.detach(), plain.detach(), rtol=1e-12, atol=1e-14)
    got = torch.autograd.grad((fast * upstream).sum(), [params[k] for k in NAMES])
    want = torch.autograd.grad((plain * upstream).sum(), [params[k] for k in NAMES])
    for name, a, b in zip(NAMES, got, want):
        assert a.shape == b.shape, name
        assert float((a - b).abs().max()) <= 1e-10 * max(1.0, float(b.abs().max())), name


def test_the_hand_written_backward_passes_gradcheck():
    params, inputs, targets, weights = random_case(2, 8, 3, 4, 1, 1, torch.float64, seed=3)
    def fn(*p):
        return task_losses(dict(zip(NAMES, p)), inputs, targets, weights)
    assert torch.autograd.gradcheck(fn, tuple(params[k] for k in NAMES))


def test_float32_agrees_with_autograd_to_round_off():
    params, inputs, targets, weights = random_case(4, 60, 8, 20, 1, 1, torch.float32, seed=5)
    fast = task_losses(params, inputs, targets, weights)
    plain = plain_losses(params, inputs, targets, weights)
    np.testing.assert_allclose(fast.detach(), plain.detach(), rtol=1e-5)
    got = torch.autograd.grad(fast.sum(), [params[k] for k in NAMES])
    want = torch.autograd.grad(plain.sum(), [params[k] for k in NAMES])
    for a, b in zip(got, want):
        assert float((a - b).abs().max()) <= 1e-4 * max(1.0, float(b.abs().max()))


def test_numpy_tanh_in_place_is_torch_tanh_to_one_ulp():
    for dtype in (torch.float32, torch.float64):
        x = torch.linspace(-12, 12, 10001, dtype=dtype)
        want = torch.tanh(x)
        got = tanh_(x.clone())
        ulp = torch.finfo(dtype).eps * want.abs().clamp_min(torch.finfo(dtype).tiny)
        assert bool(((got - want).abs() <= ulp).all())


TOY = replace(DEFAULT, name="toy", n_units=6, n_exponents=4, n_epochs=12, floss_steps=3,
              inter_epochs=(4, 8), eval_every=4, eval_batch=16)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-9), ("float32", 1e-3)])
def test_a_short_training_run_gives_the_records_of_the_autograd_path(dtype, rtol):
    specs = [RunSpec(task, d, s, seed) for task, d in (("copy", 3), ("xor", 4))
             for s, seed in (("none", 0), ("pre", 1), ("inter", 2))]
    configs = [s.config(TOY) for s in specs]
    fast_params, fast = train_members(configs, dtype=dtype, fused=True)
    plain_params, plain = train_members(configs, dtype=dtype, fused=False)
    for name in NAMES:
        np.testing.assert_allclose(fast_params[name], plain_params[name], rtol=rtol, atol=rtol)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a.loss, b.loss, rtol=rtol)
        np.testing.assert_allclose(a.grad_norm, b.grad_norm, rtol=rtol)
        np.testing.assert_allclose(np.asarray(a.spectra), np.asarray(b.spectra), rtol=rtol,
                                   atol=rtol)
        assert a.eval_epochs == b.eval_epochs and a.floss_epochs == b.floss_epochs
        if dtype == "float64":
            assert a.accuracy == b.accuracy
            np.testing.assert_allclose(a.grad_rank, b.grad_rank, rtol=1e-9)
