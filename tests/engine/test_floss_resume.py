"""Flossing continued from a returned state equals one uninterrupted run (engine, ensembles and the
reference), and the state carried over matters.

Tolerance: the split run takes the same operations on the same numbers as the single call
(float64), so they agree to round-off; asserted 1e-12 absolute on the parameters (observed 0).
A run resumed with Adam's moments reset instead differs by ~1e-3 after the same steps (Adam's
first steps move each entry by ~lr), far above that.
"""
import numpy as np
import pytest

import flosslab as fl
from flosslab.core.errors import FlosslabError
from flosslab.core.records import FlossState
from flosslab.engine import flossing as F, model as M
from flosslab.engine.ensemble import stack_params

LR = 1e-2


def _split(floss, p, n1, n2, **kw):
    p1, h1, s1 = floss(p, n1, 4, lr=LR, seed=3, return_state=True, **kw)
    p2, h2, s2 = floss(p1, n2, 4, lr=LR, seed=3, state=s1, return_state=True, **kw)
    return p2, np.concatenate([h1.losses, h2.losses]), s2


def _reset(state):
    """The same step count, Adam's moments zeroed: what a resume that reset the optimiser sees."""
    return FlossState(state.step, {n: (0 * m, 0 * v) for n, (m, v) in state.moments.items()})


def test_engine_floss_resumed_equals_one_call():
    p = M.to_torch(fl.init_rnn(12, 1.3, seed=1))
    whole, hw, sw = F.floss(p, 7, 4, lr=LR, seed=3, return_state=True)
    split, losses, ss = _split(F.floss, p, 3, 4)
    np.testing.assert_allclose(losses, hw.losses, rtol=1e-12)
    for k in "WUb":
        np.testing.assert_allclose(split[k].numpy(), whole[k].numpy(), atol=1e-12, rtol=0)
    assert ss.step == sw.step == 7
    for k in "WUb":
        np.testing.assert_allclose(ss.moments[k][1].numpy(), sw.moments[k][1].numpy(), rtol=1e-12)


def test_engine_floss_resume_with_reset_moments_differs():
    p = M.to_torch(fl.init_rnn(12, 1.3, seed=1))
    whole, _ = F.floss(p, 7, 4, lr=LR, seed=3)
    p1, _, s1 = F.floss(p, 3, 4, lr=LR, seed=3, return_state=True)
    reset, _ = F.floss(p1, 4, 4, lr=LR, seed=3, state=_reset(s1))
    gap = max(float((reset[k] - whole[k]).abs().max()) for k in "WUb")
    assert gap > 1e-5


def test_engine_ensemble_floss_resumed_equals_one_call():
    ps = [fl.init_rnn(10, g, seed=s) for s, g in [(1, 1.0), (2, 1.6)]]
    stacked = stack_params(ps)
    whole, hw, _ = F.floss(stacked, [5, 3], [4, 2], lr=LR, seed=[3, 4], return_state=True)
    p1, h1, s1 = F.floss(stacked, [2, 1], [4, 2], lr=LR, seed=[3, 4], return_state=True)
    p2, h2, s2 = F.floss(p1, [3, 2], [4, 2], lr=LR, seed=[3, 4], state=s1, return_state=True)
    assert [s.step for s in s2] == [5, 3]
    for i in range(2):
        np.testing.assert_allclose(np.concatenate([h1[i].losses, h2[i].losses]), hw[i].losses,
                                   rtol=1e-12)
    for k in "WUb":
        np.testing.assert_allclose(p2[k].numpy(), whole[k].numpy(), atol=1e-12, rtol=0)
    # one member resumed, the other fresh (None): the fresh one is its lone run from p1
    p3, _ = F.floss(p1, 2, [4, 2], lr=LR, seed=[3, 4], state=[s1[0], None])
    lone, _ = F.floss({k: v[1] for k, v in p1.items()}, 2, 2, lr=LR, seed=4)
    np.testing.assert_allclose(p3["W"][1].numpy(), lone["W"].numpy(), atol=1e-12, rtol=0)


def test_reference_floss_resumed_equals_one_call_and_follows_the_engine():
    p = fl.init_rnn(10, 1.2, seed=2)
    whole, hw = fl.floss(p, 5, 4, lr=LR, seed=3)
    split, losses, state = _split(fl.floss, p, 2, 3)
    np.testing.assert_allclose(losses, hw.losses, rtol=1e-12)
    for k in "WUb":
        np.testing.assert_allclose(split[k], whole[k], atol=1e-12, rtol=0)
    reset, _ = fl.floss(fl.floss(p, 2, 4, lr=LR, seed=3)[0], 3, 4, lr=LR, seed=3,
                        state=_reset(fl.floss(p, 2, 4, lr=LR, seed=3, return_state=True)[2]))
    assert max(np.max(np.abs(reset[k] - whole[k])) for k in "WUb") > 1e-5
    # the engine continued from the reference's state follows the reference's resumed run
    p1, _, s1 = fl.floss(p, 2, 4, lr=LR, seed=3, return_state=True)
    pe, _ = F.floss(M.to_torch(p1), 3, 4, lr=LR, seed=3, state=s1)
    for k in "WUb":
        np.testing.assert_allclose(pe[k].numpy(), whole[k], atol=1e-6)


@pytest.mark.parametrize("state, message", [
    ("x", "FlossState"),
    (FlossState(-1), "step"),
    (FlossState(2, {"W": (np.zeros((3, 3)), np.zeros((3, 3)))}), "moments"),
])
def test_bad_states_are_refused(state, message):
    p = fl.init_rnn(6, seed=0)
    for floss, q in ((fl.floss, p), (F.floss, M.to_torch(p))):
        with pytest.raises(FlosslabError, match=message):
            floss(q, 1, 2, state=state)
    bad = FlossState(1, {k: (np.zeros((2, 2)), np.zeros((2, 2))) for k in "WUb"})
    with pytest.raises(FlosslabError, match="shape"):
        F.floss(M.to_torch(p), 1, 2, state=bad)
    with pytest.raises(FlosslabError, match="one FlossState"):
        F.floss(stack_params([p, p]), 1, 2, state=[None])
