"""Torch engine spectra against the numpy reference (the independent oracle) and exact identities.

Tolerances: 1e-8 where both sides compute the same float64 QR sequence (differences are round-off,
~1e-14, amplified by at most the frame's condition number); orthonormalisation options differ from
per-step Householder QR by round-off times exp(m * spread) (the auto rule keeps this ~1e-10).
"""
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
import torch
from autograd import grad

import flosslab as fl
from flosslab.core.errors import FlosslabError, FrameCollapseWarning, NumericalError
from flosslab.engine import lyapunov as L, model as M, orthonormalize as O
from flosslab.engine.ensemble import init_ensemble, stack_params


def _jacobians(n=12, t=60, seed=0, gain=1.3):
    p = fl.init_rnn(n, gain, seed=seed)
    _, pre = fl.run_rnn(p, fl.random_bits(t, 1, seed), return_preactivations=True)
    return np.stack([fl.jacobian(p, a) for a in pre])


@pytest.mark.parametrize("m, transient", [(1, 0), (3, 10), (7, 5)])
def test_spectrum_from_jacobians_matches_reference(m, transient):
    jac = _jacobians()
    ref = fl.spectrum_from_jacobians(jac, 8, reorth_every=m, transient=transient, seed=2)
    got = fl.spectrum_from_jacobians(torch.as_tensor(jac), 8, reorth_every=m,
                                     transient=transient, seed=2)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-8, rtol=0)


def test_spectrum_from_jacobians_gradient_matches_reference():
    jac = _jacobians(n=8, t=30)
    ref = grad(lambda j: anp.sum(fl.spectrum_from_jacobians(j, 5, transient=4) ** 2))(jac)
    jt = torch.as_tensor(jac).requires_grad_()
    (L.spectrum_from_jacobians(jt, 5, transient=4) ** 2).sum().backward()
    assert np.max(np.abs(jt.grad.numpy() - ref)) <= 1e-6 * np.max(np.abs(ref))


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("m", [1, 4, "auto"])
def test_rnn_spectrum_matches_reference(fused, m):
    p = fl.init_rnn(20, 1.5, seed=1)
    x = fl.random_bits(150, 1, 3)
    ref = fl.lyapunov_spectrum(p, x, n_exponents=10, reorth_every=1, seed=4)
    got = L.lyapunov_spectrum(M.to_torch(p), x, n_exponents=10, reorth_every=m, seed=4,
                              fused=fused)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-8, rtol=0)


def test_sum_rule_full_spectrum():
    """k = N: sum_i lambda_i = mean over counted steps of log|det D_t| (exact identity)."""
    p = M.init_rnn(10, 1.2, seed=5)
    x = fl.random_bits(80, 1, 0)
    lam = L.lyapunov_spectrum(p, x, n_exponents=10, reorth_every=3, transient=12, seed=0)
    h0 = torch.as_tensor(np.random.default_rng(1).uniform(-1, 1, 10))
    states = M.run_rnn(p, x, h0=h0)[12:]          # log|det D_t| from the states, independently
    logdet = torch.linalg.slogdet(p["W"])[1] + torch.log(1 - states ** 2).sum(-1)
    # Round-off: before each QR the frame's condition number is about e^(m (lambda_1 - lambda_N)),
    # and the R factor's diagonal carries N relative errors of eps times that; the sum is exact
    # otherwise. (1e-10 flat sat on the edge: 1.15e-10 on one CPU, below on another.)
    spread = float(lam[0] - lam[-1])
    tol = lam.numel() * torch.finfo(lam.dtype).eps * np.exp(3 * spread)
    assert 1e-12 < tol < 1e-9                     # the bound stays a sharp test at this size
    assert abs(float(lam.sum() - logdet.mean())) < tol


def test_fused_backward_matches_autograd():
    """The hand-written backward of the fused recursion against torch autograd of the generic loop."""
    p = fl.init_rnn(16, 1.4, seed=2)
    x = fl.random_bits(90, 1, 1)
    for m in (1, 5, "auto"):
        grads = []
        for fused in (True, False):
            pt = M.to_torch(p, requires_grad=True)
            lam = L.lyapunov_spectrum(pt, x, n_exponents=9, reorth_every=m, transient=10,
                                      fused=fused)
            ((lam + 0.1) ** 2).mean().backward()
            grads.append([pt[n].grad for n in "WUb"])
        for a, b in zip(*grads):
            assert float((a - b).abs().max()) <= 1e-7 * float(b.abs().max())


def test_fused_backward_matches_autograd_for_an_ensemble():
    """The same for three members at once (the per-step gradient of W is accumulated per member)."""
    seeds, gains = [3, 4, 5], [0.8, 1.5, 2.5]
    x = np.stack([fl.random_bits(60, 1, s) for s in seeds], axis=1)
    for m in (1, 4, "auto"):
        grads = []
        for fused in (True, False):
            ens = init_ensemble(12, gains, seeds)
            for name in "WUb":
                ens[name].requires_grad_()
            lam = L.lyapunov_spectrum(ens, x, n_exponents=7, reorth_every=m, transient=8,
                                      seed=seeds, fused=fused)
            ((lam + 0.1) ** 2).mean().backward()
            grads.append([ens[n].grad for n in "WUb"])
        for a, b in zip(*grads):
            assert float((a - b).abs().max()) <= 1e-7 * float(b.abs().max())


def test_ensemble_spectra_equal_individual_runs():
    seeds, gains = [3, 4, 5], [0.8, 1.5, 2.5]
    ens = init_ensemble(14, gains, seeds)
    x = np.stack([fl.random_bits(70, 1, s) for s in seeds], axis=1)
    lam = L.lyapunov_spectrum(ens, x, n_exponents=6, reorth_every=2, seed=seeds)
    for i, (s, g) in enumerate(zip(seeds, gains)):
        alone = L.lyapunov_spectrum(M.init_rnn(14, g, seed=s), x[:, i], n_exponents=6,
                                    reorth_every=2, seed=s)
        np.testing.assert_allclose(lam[i].numpy(), alone.numpy(), atol=1e-12, rtol=0)


def test_member_frames_keep_each_members_leading_columns():
    frames = L.member_frames(9, [3, 6, 6], [1, 2, 3])
    np.testing.assert_allclose(np.abs(frames[0, :, :3].numpy()),
                               np.abs(fl.random_frame(9, 3, 1)), atol=1e-12)
    eye = frames.mT @ frames
    np.testing.assert_allclose(eye.numpy(), np.broadcast_to(np.eye(6), (3, 6, 6)), atol=1e-12)


@pytest.mark.parametrize("method, m, dtype, tol", [
    ("householder", 1, torch.float64, 1e-12),
    ("householder", "auto", torch.float64, 1e-8),
    ("cholesky_qr2", 1, torch.float64, 1e-10),
    ("cholesky_qr2", "auto", torch.float64, 1e-8),
    ("auto", "auto", torch.float64, 1e-8),
    ("householder", 1, torch.float32, 5e-4),
    ("cholesky_qr2", "auto", torch.float32, 5e-4),
])
def test_orthonormalisation_options_against_householder_every_step(method, m, dtype, tol):
    """Every option against per-step Householder QR in float64 (an ensemble of 3 networks)."""
    seeds = [0, 1, 2]
    ens64 = init_ensemble(24, [1.0, 1.5, 3.0], seeds)
    x = np.stack([fl.random_bits(120, 1, s) for s in seeds], axis=1)
    ref = L.lyapunov_spectrum(ens64, x, n_exponents=20, reorth_every=1, seed=seeds,
                              method="householder")
    ens = {k: v.to(dtype) for k, v in ens64.items()}
    got = L.lyapunov_spectrum(ens, x, n_exponents=20, reorth_every=m, seed=seeds, method=method)
    assert got.dtype == dtype
    # float32 is compared on the two non-chaotic members only: member 2 (g = 3, lambda_1 > 0) has
    # a chaotic trajectory, so rounding W to float32 alone moves its 120-step exponents by ~0.07
    # even when they are then computed in float64: that is the network, not the algorithm
    members = slice(0, 3) if dtype == torch.float64 else slice(0, 2)
    assert float((got.double() - ref)[members].abs().max()) <= tol


def test_cholesky_qr2_falls_back_on_ill_conditioned_frames():
    rng = np.random.default_rng(0)
    good = rng.standard_normal((30, 8))
    u, _, vt = np.linalg.svd(rng.standard_normal((30, 8)), full_matrices=False)
    bad = u @ np.diag(np.logspace(0, -12, 8)) @ vt          # condition number 1e12
    a = torch.as_tensor(np.stack([good, bad, good]))
    _, _, ok = O.cholesky_qr2(a)
    assert ok.tolist() == [True, False, True]
    q, r = O.orthonormalize(a, "cholesky_qr2")
    np.testing.assert_allclose((q.mT @ q).numpy(), np.broadcast_to(np.eye(8), (3, 8, 8)),
                               atol=1e-12)
    np.testing.assert_allclose((q @ r).numpy(), a.numpy(), atol=1e-12)
    assert np.allclose(np.triu(r.numpy()), r.numpy())
    # the fallback is Householder QR with rows sorted by norm: the same computation, to round-off
    rh = O.householder_qr(a)[1]
    np.testing.assert_allclose(np.abs(np.diagonal(r.numpy(), axis1=1, axis2=2)),
                               np.abs(np.diagonal(rh.numpy(), axis1=1, axis2=2)), rtol=1e-9)
    # against unsorted LAPACK QR: the smallest R_ii of the frame of condition 1e12 is fixed only to
    # ~1e-16 x 1e12 = 1e-4 (relative) by any backward-stable QR, hence rtol 1e-3
    rl = torch.linalg.qr(a)[1]
    np.testing.assert_allclose(np.abs(np.diagonal(r.numpy(), axis1=1, axis2=2)),
                               np.abs(np.diagonal(rl.numpy(), axis1=1, axis2=2)), rtol=1e-3)


def test_auto_interval_rule():
    from flosslab.core.schedule import SPREAD_BUDGET, next_interval
    steps = 4
    logd = torch.tensor([[-0.3, -1.0, -2.5], [-0.1, -0.2, -0.3]]) * steps   # worst spread 2.2/step
    spread = O.spread(logd) / steps
    assert spread == pytest.approx(2.2)
    assert next_interval(spread, 8, SPREAD_BUDGET["float64"]) == 5    # floor(12 / 2.2)
    assert next_interval(spread, 2, SPREAD_BUDGET["float64"]) == 4    # at most doubles
    assert next_interval(spread, 8, SPREAD_BUDGET["float32"]) == 1    # floor(4 / 2.2)
    assert next_interval(O.spread(torch.zeros((2, 3))), 64, 12.0, ceiling=10) == 10
    with_collapse = torch.tensor([[0.0, float("-inf"), -1.0]])       # -inf ignored, not infinite
    assert O.spread(with_collapse) == pytest.approx(1.0)


def test_collapse_and_nan_are_caught():
    p = M.init_rnn(6, 1.0, seed=0)
    p["W"].zero_()                         # D_t = 0: every |R_ii| is exactly 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lam = L.lyapunov_spectrum(p, seq_len=30, n_exponents=6)
    assert any(issubclass(w.category, FrameCollapseWarning) for w in caught)
    assert torch.isneginf(lam).any() and not torch.isnan(lam).any()
    jac = torch.full((5, 4, 4), float("nan"), dtype=torch.float64)
    with pytest.raises(NumericalError):
        L.spectrum_from_jacobians(jac)
    with pytest.raises(FlosslabError, match="choose k <= N"):
        L.lyapunov_spectrum(p, seq_len=30, n_exponents=9)
    with pytest.raises(FlosslabError, match="reorth_every"):
        L.lyapunov_spectrum(p, seq_len=30, reorth_every="sometimes")


def test_stack_params_rejects_mixed_sizes():
    with pytest.raises(FlosslabError, match="same size"):
        stack_params([fl.init_rnn(4), fl.init_rnn(5)])


def test_long_term_singular_values_match_reference_and_exact_svd():
    from flosslab.engine.diagnostics import log_singular_values
    p = fl.init_rnn(20, 1.5, seed=2)
    _, pre = fl.run_rnn(p, fl.random_bits(120, 1, 0), return_preactivations=True)
    states = pre[20:]
    got = log_singular_values(M.to_torch(p), states, 8, seed=1)
    np.testing.assert_allclose(got.numpy(), fl.log_singular_values(p, states, 8, seed=1),
                               atol=1e-8, rtol=0)
    short = states[:8]                     # short enough to multiply out and take an exact SVD
    product = np.eye(20)
    for a in short:
        product = fl.jacobian(p, a) @ product
    exact = np.log(np.linalg.svd(product, compute_uv=False)[:8])
    # a short window has close singular values: subspace iteration needs many passes to converge
    np.testing.assert_allclose(log_singular_values(M.to_torch(p), short, 8, n_passes=301).numpy(),
                               exact, atol=1e-8, rtol=0)
    with pytest.raises(FlosslabError, match="preactivations must have shape"):
        log_singular_values(M.to_torch(p), states[:, :5], 3)
