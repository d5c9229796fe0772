"""The author's own training choices (TrainConfig readout / keep_adam / init_state / floss_frame;
budget variants ``author*``), each against an independent computation.

Tolerances: the hand-written backward against torch autograd of the plain expressions, float64,
1e-10 relative to the largest entry (as tests/test_training_speed_path.py; observed ~1e-15).
Whole training runs on the fused and the plain autograd path: the same expressions, float64,
loss curves to 1e-10. Runs that must be identical (the same operations on the same numbers) are
compared to 1e-12.
"""
import numpy as np
import pytest
import torch

import flosslab as fl
from flosslab.core.conventions import random_bits
from flosslab.core.errors import FlosslabError
from flosslab.engine import flossing as F, model as M
from flosslab.engine.recursion import task_losses
from flosslab.engine.training import adam_step_of, evaluate_members, init_network, train_members

NAMES = ("W", "U", "b", "V", "c")


def _case(e=2, t=20, batch=4, n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)
    params = {"W": rnd(e, n, n) * 1.3 / n ** 0.5, "U": rnd(e, n, 1), "b": rnd(e, n) * 0.3,
              "V": rnd(e, 1, n), "c": rnd(e, 1) * 0.3, "x0": rnd(e, batch, n)}
    for value in params.values():
        value.requires_grad_()
    inputs = (torch.rand(t, e, batch, 1, generator=g, dtype=torch.float64) < 0.5).double()
    targets = (torch.rand(t, e, batch, 1, generator=g, dtype=torch.float64) < 0.5).double()
    weights = torch.rand(t, e, generator=g, dtype=torch.float64) / t
    return params, inputs, targets, weights


def _plain(params, inputs, targets, weights, from_pre):
    """The author's loss written out with torch autograd: x_t = W tanh(x_{t-1}) + U s_t + b from
    x_0 = x0 (his pre-activation form), readout from x_t (from_pre) or from tanh(x_t)."""
    h = torch.tanh(params["x0"])
    losses = 0.0
    for t in range(inputs.shape[0]):
        a = h @ params["W"].mT + inputs[t] @ params["U"].mT + params["b"].unsqueeze(-2)
        h = torch.tanh(a)
        y = (a if from_pre else h) @ params["V"].mT + params["c"].unsqueeze(-2)
        bce = torch.logaddexp(torch.zeros_like(y), y) - targets[t] * y
        losses = losses + bce.sum((-2, -1)) * weights[t]
    return losses


@pytest.mark.parametrize("from_pre", [True, False])
def test_readout_and_initial_state_backward_equal_autograd(from_pre):
    params, inputs, targets, weights = _case(seed=1 + from_pre)
    upstream = torch.tensor([0.7, 1.9], dtype=torch.float64)
    fast = task_losses(params, inputs, targets, weights, torch.tanh(params["x0"]), from_pre)
    plain = _plain(params, inputs, targets, weights, from_pre)
    np.testing.assert_allclose(fast.detach(), plain.detach(), rtol=1e-12)
    keys = NAMES + ("x0",)
    got = torch.autograd.grad((fast * upstream).sum(), [params[k] for k in keys])
    want = torch.autograd.grad((plain * upstream).sum(), [params[k] for k in keys])
    for name, a, b in zip(keys, got, want):
        assert float((a - b).abs().max()) <= 1e-10 * max(1.0, float(b.abs().max())), name


def test_initial_state_gradient_against_finite_differences():
    params, inputs, targets, weights = _case(e=1, t=12, batch=3, n=5, seed=4)
    def loss():
        return float(task_losses(params, inputs, targets, weights,
                                         torch.tanh(params["x0"]), True).sum())
    g = torch.autograd.grad(task_losses(params, inputs, targets, weights,
                                        torch.tanh(params["x0"]), True).sum(), params["x0"])[0]
    eps = 1e-6
    with torch.no_grad():
        for idx in [(0, 0, 0), (0, 2, 4), (0, 1, 2)]:
            params["x0"][idx] += eps
            up = loss()
            params["x0"][idx] -= 2 * eps
            down = loss()
            params["x0"][idx] += eps
            assert abs((up - down) / (2 * eps) - float(g[idx])) <= 1e-7 * max(1.0, abs(float(g[idx])))


def _config(**kw):
    base = dict(task="xor", delay=4, n_units=10, n_epochs=12, batch_size=4, seq_len=14,
                lr=1e-2, clip=0.5, flossing="inter", inter_epochs=(5,), floss_steps=3,
                n_exponents=4, eval_every=6, eval_batch=10, seed=2)
    return fl.TrainConfig(**{**base, **kw})


AUTHOR = dict(readout="author", keep_adam=True, init_state="learned", floss_frame="fixed")


def test_author_training_fused_equals_the_autograd_path():
    c = _config(**AUTHOR)
    fast, hf = train_members([c])
    plain, hp = train_members([c], fused=False)
    np.testing.assert_allclose(hf[0].loss, hp[0].loss, rtol=1e-10)
    np.testing.assert_allclose(hf[0].accuracy, hp[0].accuracy, atol=0)
    for k in NAMES + ("x0",):
        np.testing.assert_allclose(fast[k].numpy(), plain[k].numpy(), atol=1e-10)
    assert fast["x0"].shape == (1, 4, 10)


def test_author_network_initialisation():
    c = _config(**AUTHOR)
    p = init_network(c)
    ref = fl.init_rnn(10, seed=2)
    assert np.array_equal(p["W"], ref["W"]) and np.all(p["c"] == 1e-3)
    np.testing.assert_array_equal(p["V"], np.random.default_rng([2, 3]).standard_normal((1, 10)))
    x = np.random.default_rng([2, 4]).standard_normal((4, 10))
    for _ in range(100):                         # his relaxIC: x <- W phi(x) + b, no input
        x = ref["W"] @ np.tanh(x.T) + ref["b"][:, None]
        x = x.T
    np.testing.assert_allclose(p["x0"], x, rtol=1e-12)


def test_evaluation_starts_sequence_j_from_state_j_mod_batch():
    c = _config(**AUTHOR, eval_batch=9)
    p = M.to_torch(init_network(c))
    stacked = {k: v.unsqueeze(0) for k, v in p.items()}
    got = evaluate_members(stacked, [c], [[5, 2]])[0]
    batch = fl.make_batch("xor", 4, 9, 14, [5, 2])
    h0 = torch.tanh(p["x0"][torch.arange(9) % 4])
    _, pre = M.run_rnn(p, batch.inputs, h0=h0, return_preactivations=True)
    want = fl.accuracy(M.readout(p, pre).numpy(), batch.targets, batch.mask)
    assert got == want
    plain = dict(p)
    plain.pop("x0")
    other = evaluate_members({k: v.unsqueeze(0) for k, v in plain.items()}, [_config()], [[5, 2]])
    assert other[0] != want      # the states and readout matter on this case


def test_task_optimiser_state_is_kept_over_an_episode():
    """With no flossing steps, an episode boundary that does not reset Adam changes nothing: the
    run equals plain training. Resetting the moments there (keep_adam=False) does change it."""
    none = train_members([_config(flossing="none")])[1][0]
    kept = train_members([_config(keep_adam=True, floss_steps=0)])[1][0]
    reset = train_members([_config(keep_adam=False, floss_steps=0)])[1][0]
    np.testing.assert_allclose(kept.loss, none.loss, rtol=1e-12)
    assert np.max(np.abs(np.asarray(reset.loss) - np.asarray(none.loss))) > 1e-6


@pytest.mark.parametrize("keep", [True, False])
def test_flossing_optimiser_state_is_carried_to_the_next_episode(keep):
    """Task learning rate 1e-300 leaves the network unchanged between the episodes; the second
    episode must then be the flossing run continued from the first one's state (keep_adam) or a
    fresh run (not kept)."""
    c = _config(n_epochs=2, inter_epochs=(1,), lr=1e-300, floss_lr=1e-2, keep_adam=keep)
    h = train_members([c])[1][0]
    p = M.to_torch(fl.init_rnn(10, seed=2))
    p1, h1, s1 = F.floss(p, 3, 4, lr=1e-2, seed=2, return_state=True)
    np.testing.assert_allclose(h.floss_losses[0], h1.losses, rtol=1e-12)
    _, h2 = F.floss(p1, 3, 4, lr=1e-2, seed=3, state=s1 if keep else None)
    np.testing.assert_allclose(h.floss_losses[1], h2.losses, rtol=1e-12)
    _, other = F.floss(p1, 3, 4, lr=1e-2, seed=3, state=None if keep else s1)
    assert np.max(np.abs(other.losses - h2.losses)) > 1e-9


def test_fixed_frame_is_the_same_every_step():
    """Flossing learning rate 1e-300 keeps the network fixed: each step's loss is then the flossing
    loss of that step's bits with the frame and state drawn from the run's seed (fixed) or from
    seed + step (fresh), and, with learned states, started from tanh(x0[0])."""
    c = _config(floss_frame="fixed", init_state="learned", floss_lr=1e-300, n_epochs=1,
                flossing="pre", inter_epochs=())
    h = train_members([c])[1][0]
    p = M.to_torch(init_network(c))
    h0 = torch.tanh(p["x0"][0])
    for step, got in enumerate(h.floss_losses[0]):
        bits = random_bits(55, 1, [2, step])
        fixed = float(F.flossing_loss(p, bits, 4, seed=2, h0=h0))
        fresh = float(F.flossing_loss(p, bits, 4, seed=2 + step))
        assert got == pytest.approx(fixed, rel=1e-12)
        if step:
            assert abs(got - fresh) > 1e-9
    q = M.to_torch(fl.init_rnn(10, seed=2))
    _, hf = F.floss(q, 3, 4, lr=1e-300, seed=2, frame_seed=7)
    for step, got in enumerate(hf.losses):
        want = float(F.flossing_loss(q, random_bits(55, 1, [2, step]), 4, seed=7))
        assert got == pytest.approx(want, rel=1e-12)


def test_adam_step_rank_is_the_rank_of_the_parameter_change():
    w = torch.nn.Parameter(torch.randn(6, 6, dtype=torch.float64))
    opt = torch.optim.Adam([w], lr=1e-2)
    for i in range(3):
        before = w.detach().clone()
        opt.zero_grad()
        (torch.sin(w * (i + 1)).sum() + (w @ w).trace()).backward()
        opt.step()
        np.testing.assert_allclose(adam_step_of(opt, w).numpy(), (before - w.detach()).numpy(),
                                   atol=1e-15)
    h = train_members([_config()])[1][0]
    assert len(h.step_rank) == len(h.grad_rank) == len(h.eval_epochs)
    assert all(1.0 <= r <= 10.0 for r in h.step_rank) and h.step_rank != h.grad_rank


def test_reference_refuses_the_authors_training():
    for name, value in AUTHOR.items():
        with pytest.raises(FlosslabError, match="torch engine"):
            fl.train(_config(**{name: value}))


def test_members_with_different_author_settings_are_refused():
    with pytest.raises(FlosslabError, match="readout"):
        train_members([_config(), _config(readout="author")])
