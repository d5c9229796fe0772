"""The fused recursion's recycled buffers and thread setting must never change a result.

Buffers go back to the pool only when nothing can read them: these tests interleave forward and
backward passes the ways a user can (retain_graph, several graphs alive, no_grad evaluations) and
compare with gradients computed one at a time, bit for bit where the computation is the same.
"""
import numpy as np
import pytest
import torch

import flosslab as fl
from flosslab.engine import lyapunov as L, model as M, recursion, workspace
from flosslab.engine.device import one_cpu_thread


def _loss(p, x, k=7):
    lam = L.lyapunov_spectrum(p, x, n_exponents=k, reorth_every="auto", transient=8)
    return ((lam + 0.1) ** 2).sum()


def _grads(p):
    return [p[n].grad.clone() for n in "WUb"]


@pytest.fixture
def nets():
    x = fl.random_bits(60, 1, 2)
    return [fl.init_rnn(12, g, seed=s) for s, g in [(0, 1.2), (1, 1.6)]], x


def test_retain_graph_backward_twice_with_other_work_between(nets):
    (p0, p1), x = nets
    fresh = M.to_torch(p0, requires_grad=True)
    _loss(fresh, x).backward()
    want = _grads(fresh)
    pt = M.to_torch(p0, requires_grad=True)
    loss = _loss(pt, x)
    loss.backward(retain_graph=True)
    first = _grads(pt)
    for _ in range(3):     # other forward/backward passes that take buffers from the pool
        other = M.to_torch(p1, requires_grad=True)
        _loss(other, x).backward()
        with torch.no_grad():
            _loss(M.to_torch(p1), x)
    loss.backward()
    for a, b, c in zip(want, first, _grads(pt)):
        assert torch.equal(a, b)
        assert torch.equal(c, 2 * b)


def test_several_graphs_alive_before_backward(nets):
    (p0, p1), x = nets
    want = []
    for p in (p0, p1):
        pt = M.to_torch(p, requires_grad=True)
        _loss(pt, x).backward()
        want.append(_grads(pt))
    pts = [M.to_torch(p, requires_grad=True) for p in (p0, p1)]
    losses = [_loss(pt, x) for pt in pts]
    for loss in reversed(losses):
        loss.backward()
    for pt, w in zip(pts, want):
        for a, b in zip(_grads(pt), w):
            assert torch.equal(a, b)


def test_buffers_are_recycled_after_use(nets):
    (p0, _), x = nets
    workspace.clear()
    with torch.no_grad():
        _loss(M.to_torch(p0), x)
    assert workspace.POOL.idle_bytes > 0          # the no_grad node died: its arrays came back
    shape = (61, 1, 7, 12)                        # the frames' buffer: (T + 1, E, k, N)
    first = workspace.POOL.take(shape, torch.float64, "cpu")
    workspace.POOL.give(first)
    again = workspace.POOL.take(shape, torch.float64, "cpu")
    assert again.data_ptr() == first.data_ptr()
    workspace.POOL.max_idle_bytes, cap = 0, workspace.POOL.max_idle_bytes
    try:
        workspace.POOL.give(again)
        assert workspace.POOL.take(shape, torch.float64, "cpu").data_ptr() != again.data_ptr()
    finally:
        workspace.POOL.max_idle_bytes = cap


def test_single_thread_policy_changes_nothing_but_speed():
    """A frame size under SINGLE_THREAD_STEP: the same gradient on one thread and on torch's
    setting (up to round-off: summation order differs between thread counts, amplified by the
    frame's condition number, up to exp(12) with the auto interval), thread count restored.

    Run on two torch threads (set here, restored afterwards, whatever the session's setting): on
    one thread the policy would have nothing to switch and nothing to restore."""
    p = fl.init_rnn(110, 1.3, seed=3)
    x = fl.random_bits(30, 1, 0)
    session = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        before = torch.get_num_threads()
        assert before == 2
        grads, seen = [], []
        enter = recursion.one_cpu_thread

        def watched(*args, **kwargs):           # the thread count inside the policy's block
            manager = enter(*args, **kwargs)

            class Watch:
                def __enter__(self):
                    out = manager.__enter__()
                    seen.append(torch.get_num_threads())
                    return out

                def __exit__(self, *exc):
                    return manager.__exit__(*exc)
            return Watch()
        for policy in (20_000, 0):
            recursion.SINGLE_THREAD_STEP, saved = policy, recursion.SINGLE_THREAD_STEP
            recursion.one_cpu_thread = watched
            seen.clear()
            try:
                pt = M.to_torch(p, requires_grad=True)
                lam = L.lyapunov_spectrum(pt, x, n_exponents=100, reorth_every="auto",
                                          transient=5)
                (lam ** 2).mean().backward()
                grads.append(_grads(pt))
            finally:
                recursion.SINGLE_THREAD_STEP = saved
                recursion.one_cpu_thread = enter
            assert torch.get_num_threads() == before
            # the policy took effect: one thread inside the block when the frame is under the
            # limit (110 * 100 < 20_000), torch's two when the limit is 0
            assert seen and set(seen) == ({1} if policy else {2})
    finally:
        torch.set_num_threads(session)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-8 * float(b.abs().max()))


def test_one_cpu_thread_restores_the_thread_count_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with one_cpu_thread(torch.zeros(4), limit=10):
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with one_cpu_thread(torch.zeros(40), limit=10):  # too large: untouched
        assert torch.get_num_threads() == before
