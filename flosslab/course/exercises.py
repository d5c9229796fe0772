"""Exercise checkers: compare a student's function with an independent computation on random inputs.

Each ``check_*`` function calls the student's function on a few cases (ordinary and edge cases),
compares with the reference package or a closed form, and prints one line: a confirmation, or a hint
about the most likely mistake (transpose, sum instead of mean, off by one, sign, NaN, ...). It never
raises and returns True or False (:mod:`flosslab.course.checking` holds the machinery and the
dtype-dependent tolerances). Sections follow the notebooks.
"""
from __future__ import annotations

import numpy as np

from ..core.conventions import init_rnn, random_bits, random_frame
from ..core.measures import effective_rank
from ..core.tasks import make_batch
from ..reference.flossing import flossing_loss
from ..reference.lyapunov import spectrum_from_jacobians
from ..reference.model import jacobian, run_rnn
from ..reference.qr import qr
from .checking import Answer, call, close, run, to_array


# --- 01: backpropagation through time ---------------------------------------------------------------

def check_one_step_jacobian(func, n_cases: int = 4) -> bool:
    """``func(params, a)`` -> D = diag(tanh'(a)) W (N x N), the one-step Jacobian dh_t/dh_{t-1}
    from the pre-activation a = a_t (N,)."""
    name = "one_step_jacobian"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(90 + case)
            n = int(rng.integers(3, 10))
            params = init_rnn(n, gain=float(rng.uniform(0.5, 2.5)), seed=case)
            a = rng.normal(0.0, 1.5, size=n)
            want = jacobian(params, a)
            got = to_array(name, call(name, func, params, a), want.shape,
                           "D (an N x N matrix)")
            if close(got, want):
                continue
            w, slope = params["W"], 1.0 - np.tanh(a) ** 2
            if close(got, w * slope[None, :]):
                raise Answer("scale the ROWS of W (diag(tanh'(a)) W, i.e. slope[:, None] * W), not "
                             "its columns: W diag(tanh'(a)) is the Jacobian of the pre-activation "
                             "form a_t -> a_{t+1}.")
            if close(got, want.T):
                raise Answer("D is transposed: D_ij = dh_i/dh_j = tanh'(a_i) W_ij.")
            if close(got, (1.0 - np.tanh(np.tanh(a)) ** 2)[:, None] * w):
                raise Answer("tanh' is evaluated at the pre-activation a, not at h = tanh(a) (a "
                             "known bug of a public example: it biases the exponents upward).")
            if close(got, (1.0 - a ** 2)[:, None] * w):
                raise Answer("tanh'(a) = 1 - tanh(a)^2, not 1 - a^2.")
            if close(got, np.tanh(a)[:, None] * w) or close(got, w):
                raise Answer("multiply the rows by the SLOPE tanh'(a) = 1 - tanh(a)^2.")
            raise Answer("D = diag(1 - tanh(a)^2) W: row i of W times tanh'(a_i).")
    return run(name, cases)


def reference_backprop_norms(params, pre, delta_last, transpose: bool = True):
    """||delta_t|| with delta_T = delta_last and delta_{t-1} = D_t^T delta_t, D_t =
    diag(tanh'(a_t)) W (dense, slow); ``pre`` (T, N) holds the pre-activations a_1..a_T.

    ``transpose=False`` gives the classic mistake (D_t instead of D_t^T), to recognise it.
    """
    delta = np.asarray(delta_last, dtype=float)
    norms = [np.linalg.norm(delta)]
    for t in range(len(pre) - 1, 0, -1):
        d = jacobian(params, pre[t])
        delta = (d.T if transpose else d) @ delta
        norms.append(np.linalg.norm(delta))
    return np.asarray(norms[::-1])


def check_backprop_norms(func, n_cases: int = 3) -> bool:
    """``func(params, pre, delta_last)`` -> (T,) norms of delta_t = dL/dh_t for t = 1..T
    (pre-activations (T, N))."""
    name = "backprop_norms"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(100 + case)
            n, t = int(rng.integers(3, 12)), int(rng.integers(4, 20))
            params = init_rnn(n, gain=float(rng.uniform(0.5, 2.5)), seed=case)
            _, pre = run_rnn(params, rng.integers(0, 2, size=(t, 1)).astype(float),
                             return_preactivations=True)
            delta_last = rng.standard_normal(n)
            want = reference_backprop_norms(params, pre, delta_last)
            got = to_array(name, call(name, func, params, pre, delta_last), want.shape,
                           "the norms (one per time step, index 0 is t = 1)")
            if close(got, want):
                continue
            if close(got, reference_backprop_norms(params, pre, delta_last, transpose=False)):
                raise Answer("the backward pass multiplies by the TRANSPOSE of D_t: "
                             "delta_{t-1} = D_t^T delta_t = W^T (tanh'(a_t) * delta_t).")
            if close(got[::-1], want):
                raise Answer("the result is reversed: index 0 is t = 1 (furthest from the loss), "
                             "the last entry is ||delta_last||.")
            shifted = [reference_backprop_norms(params, np.roll(pre, s, axis=0), delta_last)
                       for s in (1, -1)]
            if any(close(got, s) for s in shifted):
                raise Answer("off by one step: delta_{t-1} = D_t^T delta_t uses a_t, the "
                             "pre-activation of step t, which is pre[t-1] (0-indexed).")
            raise Answer("use D_t = one_step_jacobian(params, a_t) with a_t = pre[t-1] and "
                         "delta_{t-1} = D_t^T delta_t.")
    return run(name, cases)


def reference_growth_rate(norms, skip: int) -> float:
    """Least-squares slope of ln ||delta_t|| against the number of steps back from the loss, T - t,
    over the steps with T - t >= skip (independent of the student's version: lstsq, not polyfit)."""
    norms = np.asarray(norms, dtype=float)
    back = np.arange(norms.size)[::-1]                 # T - t for t = 1..T
    keep = back >= skip
    design = np.stack([back[keep], np.ones(keep.sum())], axis=1)
    return float(np.linalg.lstsq(design, np.log(norms[keep]), rcond=None)[0][0])


def check_growth_rate(func, n_cases: int = 4) -> bool:
    """``func(norms, skip)`` -> the growth rate per step of ||delta_t|| going back from the loss:
    the least-squares slope of ln ||delta_t|| against T - t, ignoring the ``skip`` steps nearest
    the loss."""
    name = "growth_rate"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(130 + case)
            t = int(rng.integers(40, 120))
            skip = int(rng.integers(3, 15))
            rate = float(rng.uniform(-1.0, 0.4))
            back = np.arange(t)[::-1]
            log_norms = rate * back + rng.normal(0.0, 0.3, t) + rng.uniform(-2, 2)
            log_norms[back < skip] += rng.uniform(1.0, 4.0, size=skip)   # the transient
            norms = np.exp(log_norms)
            want = reference_growth_rate(norms, skip)
            got = to_array(name, call(name, func, norms.copy(), skip), (),
                           "the rate (one number)")
            if close(got, want, rtol=1e-6, atol=1e-9):
                continue
            if close(got, -want, rtol=1e-6, atol=1e-9):
                raise Answer("the sign is flipped: fit against T - t (steps BACK from the loss), "
                             "so a gradient that shrinks going back has a negative rate.")
            if close(got, want / np.log(10.0), rtol=1e-6, atol=1e-9):
                raise Answer("use the natural log (np.log), not log10: exponents are in natural "
                             "log per step.")
            if close(got, reference_growth_rate(norms, 0), rtol=1e-6, atol=1e-9):
                raise Answer("leave out the `skip` steps nearest the loss (T - t < skip): the "
                             "error signal has not settled onto its growth direction there.")
            if any(close(got, reference_growth_rate(norms, s), rtol=1e-6, atol=1e-9)
                   for s in (skip - 1, skip + 1)):
                raise Answer("off by one in the skipped steps: keep exactly the steps with "
                             "T - t >= skip (the last entry has T - t = 0).")
            reversed_fit = reference_growth_rate(norms[::-1], skip)
            if close(got, reversed_fit, rtol=1e-6, atol=1e-9) or close(
                    got, -reversed_fit, rtol=1e-6, atol=1e-9):
                raise Answer("the skipped steps are at the END of the array (nearest the loss, "
                             "t close to T), not at its start.")
            raise Answer("fit a straight line to ln(norms) against T - t (np.polyfit(x, y, 1)[0]) "
                         "over the steps with T - t >= skip; use every such step, not only the "
                         "two ends.")
    return run(name, cases)


# --- 02: one QR step and the accumulation ------------------------------------------------------------

def check_qr_step(func, n_cases: int = 4) -> bool:
    """``func(D, Q)`` -> (Q_new, log|R_ii|): one step of the QR algorithm."""
    name = "qr_step"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(200 + case)
            n = int(rng.integers(3, 10))
            k = int(rng.integers(1, n + 1))
            d = rng.standard_normal((n, n))
            q = random_frame(n, k, case)
            got = call(name, func, d, q)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise Answer("return a pair (Q_new, log_abs_diag_R).")
            q_ref, r_ref = np.linalg.qr(d @ q)
            logs_ref = np.log(np.abs(np.diag(r_ref)))
            raw_logs = np.asarray(got[1], dtype=float) if not hasattr(got[1], "detach") \
                else got[1].detach().numpy()
            if raw_logs.shape == logs_ref.shape and np.isnan(raw_logs).any():
                raise Answer("log of a negative R_ii is NaN: take log|R_ii| (Householder QR may "
                             "return negative diagonals).")
            logs = to_array(name, got[1], logs_ref.shape, "log|R_ii| (one per column)")
            if not close(logs, logs_ref):
                if close(logs, np.abs(np.diag(r_ref))):
                    raise Answer("return the LOG of |R_ii|, not |R_ii| itself.")
                raise Answer("multiply first (D Q), then take the QR of the product; return "
                             "log|diag(R)| of that QR.")
            q_new = to_array(name, got[0], (n, k), "Q_new (N x k, reduced QR)")
            # columns of Q are defined up to sign: compare |Q_new^T Q_ref| with the identity
            if not close(np.abs(q_new.T @ q_ref), np.eye(k), atol=1e-6):
                raise Answer("Q_new must be the N x k orthonormal Q factor of D Q (reduced QR).")
    return run(name, cases)


def check_spectrum(func, n_cases: int = 3) -> bool:
    """``func(jacobians, frame, transient)`` -> (k,) exponents by the QR algorithm."""
    name = "my_spectrum"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(300 + case)
            n, t = int(rng.integers(3, 8)), int(rng.integers(30, 60))
            k = int(rng.integers(1, n + 1))
            transient = int(rng.integers(1, 10))
            jacs = rng.standard_normal((t, n, n)) * rng.uniform(0.3, 1.5) / np.sqrt(n)
            frame = random_frame(n, k, case)
            want = np.asarray(spectrum_from_jacobians(jacs, k, transient=transient, frame=frame))
            got = to_array(name, call(name, func, jacs, frame, transient), want.shape,
                           "the exponents (k of them)")
            if close(got, want):
                continue
            if close(got, spectrum_from_jacobians(jacs, k, frame=frame)):
                raise Answer("discard the first `transient` steps: still advance the frame, but "
                             "do not add their log|R_ii|.")
            if close(got / (t - transient), want):
                raise Answer("divide the summed logs by the number of steps accumulated "
                             "(T - transient): exponents are per step.")
            if close(got * t / (t - transient), want):
                raise Answer("divide by the number of steps accumulated, T - transient, not T.")
            raise Answer("advance Q <- D_t Q at every step, QR, add log|R_ii| after the "
                         "transient, divide by the steps counted.")
    return run(name, cases)


def reference_log_det_average(jacobians, transient: int) -> float:
    """mean over t >= transient of log|det D_t| (natural log), by LU (slogdet)."""
    counted = np.asarray(jacobians, dtype=float)[transient:]
    return float(np.mean(np.linalg.slogdet(counted)[1]))


def check_log_det_average(func, n_cases: int = 4) -> bool:
    """``func(jacobians, transient)`` -> the time average of log|det D_t| over the steps after the
    transient: the right-hand side of the sum rule."""
    name = "log_det_average"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(320 + case)
            n, t = int(rng.integers(2, 7)), int(rng.integers(20, 50))
            transient = int(rng.integers(2, 10))
            jacs = rng.standard_normal((t, n, n)) * rng.uniform(0.3, 1.5, size=(t, 1, 1))
            if case == 0:
                jacs[transient] = np.diag(np.r_[-1.0, np.arange(2.0, n + 1)])   # det < 0
            want = reference_log_det_average(jacs, transient)
            raw = call(name, func, jacs.copy(), transient)
            if isinstance(raw, (float, np.floating)) and np.isnan(raw):
                raise Answer("the result is NaN: a determinant can be negative; take "
                             "log|det D_t| (np.linalg.slogdet returns the log of the absolute "
                             "value).")
            got = to_array(name, raw, (), "the average (one number)")
            if close(got, want):
                continue
            if close(got, np.mean(np.linalg.slogdet(jacs)[1])):
                raise Answer("average only over the steps after the transient (t >= transient), "
                             "like the exponents.")
            if close(got, want * (t - transient)):
                raise Answer("take the MEAN over the counted steps, not the sum.")
            if close(got, want / np.log(10.0)):
                raise Answer("use the natural log: exponents are in natural log per step.")
            raise Answer("np.linalg.slogdet(D)[1] is log|det D|; average it over "
                         "jacobians[transient:].")
    return run(name, cases)


# --- 03: closed form of d(sum log|R_ii|)/dA -----------------------------------------------------------

def reference_logdet_gradient(a):
    """d/dA of sum_i log|R_ii| by autograd through :func:`flosslab.reference.qr.qr` (independent
    of the closed form)."""
    from autograd import grad
    import autograd.numpy as anp
    return grad(lambda x: anp.sum(anp.log(anp.abs(anp.diagonal(qr(x)[1], axis1=-1,
                                                                axis2=-2)))))(a)


def check_logdet_gradient(func, n_cases: int = 4) -> bool:
    """``func(A)`` -> d(sum log|R_ii|)/dA for square or tall A (m >= n)."""
    name = "logdet_gradient"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(400 + case)
            n = int(rng.integers(2, 6))
            m = n if case % 2 == 0 else n + int(rng.integers(1, 4))
            a = rng.standard_normal((m, n))
            want = reference_logdet_gradient(a)
            got = to_array(name, call(name, func, a), want.shape, "the gradient (shaped like A)")
            if close(got, want, rtol=1e-6, atol=1e-8):
                continue
            if m == n and close(got, np.linalg.inv(a)):
                raise Answer("close: it is the inverse TRANSPOSED, A^{-T}.")
            if close(got, -want):
                raise Answer("the sign is flipped.")
            shape = "square" if m == n else "tall"
            raise Answer(f"wrong on a {shape} {m}x{n} matrix. For square A it is A^{{-T}}; for "
                         "tall A think of A (A^T A)^{-1} (sum log|R_ii| = 1/2 log det(A^T A)).")
    return run(name, cases)


# --- 04: the flossing loss --------------------------------------------------------------------------

def check_flossing_loss(func, n_cases: int = 3) -> bool:
    """``func(params, inputs, k, target)`` -> mean_{i<=k} (lambda_i - target)^2, differentiable."""
    from autograd import grad
    name = "my_flossing_loss"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(500 + case)
            n = int(rng.integers(4, 10))
            k = int(rng.integers(1, n))
            target = float(rng.uniform(-0.3, 0.1))
            params = init_rnn(n, float(rng.uniform(0.7, 2.0)), seed=case)
            inputs = random_bits(40, 1, case)
            want = flossing_loss(params, inputs, k, target)
            got = to_array(name, call(name, func, params, inputs, k, target), (),
                           "the loss (one number)")
            if not close(got, want):
                if close(got, flossing_loss(params, inputs, n, target)):
                    raise Answer("only the first k exponents enter the loss.")
                if close(got, np.sqrt(want)):
                    raise Answer("square the distance to the target (mean of squares).")
                if close(got, want * k):
                    raise Answer("take the MEAN over the k exponents, not the sum.")
                raise Answer("use fl.lyapunov_spectrum(params, inputs, n_exponents=k, "
                             "transient=16) and average (lambda_i - target)^2.")
            g_want = grad(lambda w: flossing_loss({**params, "W": w}, inputs, k, target))(
                params["W"])
            g_got = to_array(name, call(name + "'s gradient",
                                        grad(lambda w: func({**params, "W": w}, inputs, k,
                                                            target)), params["W"]),
                             g_want.shape, "its gradient")
            if not close(g_got, g_want, rtol=1e-6, atol=1e-8):
                raise Answer("the value is right but autograd cannot differentiate it the same "
                             "way: use autograd.numpy (np) operations only.")
    return run(name, cases)


# --- 05: task targets -----------------------------------------------------------------------------

def check_xor_targets(func, n_cases: int = 4) -> bool:
    """``func(bits, delay)`` -> targets of the delayed-XOR task for bits (T, B), on steps t >= d."""
    name = "xor_targets"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(600 + case)
            delay = int(rng.integers(2, 15)) | (1 if case == 1 else 0)   # case 1: an odd delay
            batch = make_batch("xor", delay, 3, delay + 20, seed=case)
            bits = batch.inputs[..., 0].astype(int)
            want = batch.targets[..., 0].astype(int)
            got = to_array(name, call(name, func, bits, delay), want.shape,
                           "the targets (shaped like bits)")
            if np.array_equal(got[batch.mask] % 2, want[batch.mask]):
                continue
            if delay % 2:                                       # floor(d/2) instead of ceil
                t = np.arange(delay, bits.shape[0])
                if np.array_equal(got[t] % 2, bits[t - delay // 2] ^ bits[t - delay]):
                    raise Answer("for odd d the first lag is ceil(d/2), not floor(d/2).")
            raise Answer("y_t = x_{t - ceil(d/2)} XOR x_{t - d} for t >= d (time 0-indexed; ceil "
                         "matters when d is odd).")
    return run(name, cases)


# --- 06: effective rank -----------------------------------------------------------------------------

def check_effective_rank(func, n_cases: int = 4) -> bool:
    """``func(M)`` -> exp(entropy of the normalised singular values); tested on full-rank,
    rank-deficient and diagonal matrices with zero singular values (0 log 0 counts as 0)."""
    name = "my_effective_rank"

    def cases():
        mats = []
        for case in range(n_cases):
            rng = np.random.default_rng(700 + case)
            m, n = int(rng.integers(2, 9)), int(rng.integers(2, 9))
            r = int(rng.integers(1, min(m, n) + 1))
            mats.append(rng.standard_normal((m, r)) @ rng.standard_normal((r, n)))
        mats += [np.diag([1.0, 0.0]), np.diag([3.0, 3.0, 0.0])]      # exact zeros: 0 log 0 = 0
        for mat in mats:
            want = effective_rank(mat)
            got = to_array(name, call(name, func, mat), (), "the effective rank (one number)")
            if close(got, want, rtol=1e-6):
                continue
            s = np.linalg.svd(mat, compute_uv=False)
            p2 = s[s > 0] ** 2 / np.sum(s ** 2)
            if close(got, np.exp(-np.sum(p2 * np.log(p2))), rtol=1e-6):
                raise Answer("normalise the singular values themselves, p_i = s_i / sum s, not "
                             "their squares.")
            raise Answer("p_i = s_i / sum_j s_j from the singular values, then "
                         "exp(-sum p_i log p_i).")
    return run(name, cases)


# --- 07: batched QR in torch ---------------------------------------------------------------------

def check_batched_log_r(func, n_cases: int = 3) -> bool:
    """``func(frames)`` with frames a torch tensor (B, N, k) -> (B, k) tensor of log|R_ii|."""
    import torch
    name = "batched_log_r"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(800 + case)
            b, n = int(rng.integers(1, 6)), int(rng.integers(2, 9))
            k = int(rng.integers(1, n + 1))
            frames = rng.standard_normal((b, n, k))
            result = call(name, func, torch.tensor(frames))
            if not isinstance(result, torch.Tensor):
                raise Answer(f"return a torch tensor, got {type(result).__name__}.")
            want = np.stack([np.log(np.abs(np.diag(np.linalg.qr(f)[1]))) for f in frames])
            if result.shape == want.shape and torch.isnan(result).any():
                raise Answer("take the absolute value before the log.")
            got = to_array(name, result, want.shape, "log|R_ii| per frame, shape (B, k)")
            if not close(got, want):
                raise Answer("use torch.linalg.qr(frames, mode='reduced') (it is batched) and "
                             "torch.diagonal(R, dim1=-2, dim2=-1).")
    return run(name, cases)
