"""Exercise checkers: compare a student's function with the reference on random inputs.

Each ``check_*`` function calls the student's function on a few random cases, compares with an
independent computation from the reference package, prints either a confirmation or a hint about the
most likely mistake, and returns True or False. A function that raises (for instance the stub's
``NotImplementedError``) is reported, not propagated, so an unfinished exercise never stops a
notebook.
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


def _report(ok: bool, name: str, hint: str = "") -> bool:
    if ok:
        print(f"Correct: {name} matches the reference on every test case.")
    else:
        print(f"Not yet: {name}. Hint: {hint}")
    return ok


def _call(name, func, *args):
    """Call the student's function; on an exception return (None, message)."""
    try:
        return func(*args), None
    except NotImplementedError:
        return None, f"{name} is not written yet (it raises NotImplementedError): fill in the stub."
    except Exception as err:  # noqa: BLE001 - any error in student code becomes a hint
        return None, f"{name} raised {type(err).__name__}: {err}"


def _close(a, b, rtol=1e-7, atol=1e-9) -> bool:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


# --- 01: backpropagation through time ---------------------------------------------------------------

def reference_backprop_norms(params, pre, g_last, transpose: bool = True):
    """||g_t|| with g_T = g_last and g_{t-1} = D_t^T g_t, D_t = diag(tanh'(a_t)) W (dense, slow);
    ``pre`` (T, N) holds the pre-activations a_1..a_T.

    ``transpose=False`` gives the classic mistake (D_t instead of D_t^T), to recognise it.
    """
    g = np.asarray(g_last, dtype=float)
    norms = [np.linalg.norm(g)]
    for t in range(len(pre) - 1, 0, -1):
        d = jacobian(params, pre[t])
        g = (d.T if transpose else d) @ g
        norms.append(np.linalg.norm(g))
    return np.asarray(norms[::-1])


def check_backprop_norms(func, n_cases: int = 3) -> bool:
    """``func(params, pre, g_last)`` -> (T,) norms of dL/dh_t for t = 1..T (pre-activations
    (T, N))."""
    name = "backprop_norms"
    for case in range(n_cases):
        rng = np.random.default_rng(100 + case)
        n, t = int(rng.integers(3, 12)), int(rng.integers(4, 20))
        params = init_rnn(n, gain=float(rng.uniform(0.5, 2.5)), seed=case)
        _, states = run_rnn(params, rng.integers(0, 2, size=(t, 1)).astype(float),
                            return_preactivations=True)
        g_last = rng.standard_normal(n)
        got, err = _call(name, func, params, states, g_last)
        if err:
            return _report(False, name, err)
        want = reference_backprop_norms(params, states, g_last)
        if np.shape(got) != want.shape:
            return _report(False, name, f"return one norm per time step, shape {want.shape}, "
                                        f"got shape {np.shape(got)}.")
        if not _close(got, want):
            wrong_t = reference_backprop_norms(params, states, g_last, transpose=False)
            if _close(got, wrong_t):
                return _report(False, name, "the backward pass multiplies by the TRANSPOSE of "
                                            "D_t: g_{t-1} = W^T (diag(tanh'(a_t)) g_t).")
            if _close(got[::-1], want):
                return _report(False, name, "the result is reversed: index 0 is t = 1 (furthest "
                                            "from the loss), the last entry is ||g_last||.")
            return _report(False, name, "use D_t = diag(tanh'(a_t)) W = fl.jacobian(params, "
                                        "pre[t-1]) with a_t the pre-activation of step t, and "
                                        "g_{t-1} = D_t^T g_t.")
    return _report(True, name)


# --- 02: one QR step and the accumulation ------------------------------------------------------------

def check_qr_step(func, n_cases: int = 4) -> bool:
    """``func(D, Q)`` -> (Q_new, log|R_ii|): one step of the QR algorithm."""
    name = "qr_step"
    for case in range(n_cases):
        rng = np.random.default_rng(200 + case)
        n = int(rng.integers(3, 10))
        k = int(rng.integers(1, n + 1))
        d = rng.standard_normal((n, n))
        q = random_frame(n, k, case)
        got, err = _call(name, func, d, q)
        if err:
            return _report(False, name, err)
        try:
            q_new, logs = got
        except (TypeError, ValueError):
            return _report(False, name, "return a pair (Q_new, log_abs_diag_R).")
        q_ref, r_ref = np.linalg.qr(d @ q)
        logs_ref = np.log(np.abs(np.diag(r_ref)))
        if np.any(~np.isfinite(np.asarray(logs, dtype=float))):
            return _report(False, name, "log of a negative R_ii is NaN: take log|R_ii| "
                                        "(Householder QR may return negative diagonals).")
        if not _close(logs, logs_ref):
            if _close(logs, np.abs(np.diag(r_ref))):
                return _report(False, name, "return the LOG of |R_ii|, not |R_ii| itself.")
            return _report(False, name, "multiply first (D Q), then take the QR of the product; "
                                        "return log|diag(R)| of that QR.")
        q_new = np.asarray(q_new, dtype=float)
        # columns of Q are defined up to sign: compare Q_new^T D Q with R's magnitudes
        if q_new.shape != (n, k) or not _close(np.abs(q_new.T @ q_ref), np.eye(k), atol=1e-7):
            return _report(False, name, "Q_new must be the N x k orthonormal Q factor of D Q "
                                        "(reduced QR).")
    return _report(True, name)


def check_spectrum(func, n_cases: int = 3) -> bool:
    """``func(jacobians, frame, transient)`` -> (k,) exponents by the QR algorithm."""
    name = "my_spectrum"
    for case in range(n_cases):
        rng = np.random.default_rng(300 + case)
        n, t = int(rng.integers(3, 8)), int(rng.integers(30, 60))
        k = int(rng.integers(1, n + 1))
        transient = int(rng.integers(0, 10))
        jacs = rng.standard_normal((t, n, n)) * rng.uniform(0.3, 1.5) / np.sqrt(n)
        frame = random_frame(n, k, case)
        got, err = _call(name, func, jacs, frame, transient)
        if err:
            return _report(False, name, err)
        want = np.asarray(spectrum_from_jacobians(jacs, k, transient=transient, frame=frame))
        if not _close(got, want):
            got = np.asarray(got, dtype=float)
            no_transient = np.asarray(spectrum_from_jacobians(jacs, k, frame=frame))
            if got.shape == want.shape and transient and _close(got, no_transient):
                return _report(False, name, "discard the first `transient` steps: still advance "
                                            "the frame, but do not add their log|R_ii|.")
            if got.shape == want.shape and _close(got / (t - transient), want):
                return _report(False, name, "divide the summed logs by the number of steps "
                                            "accumulated (T - transient): exponents are per step.")
            return _report(False, name, "advance Q <- D_t Q at every step, QR, add log|R_ii| "
                                        "after the transient, divide by the steps counted.")
    return _report(True, name)


# --- 03: closed form of d(sum log|R_ii|)/dA -----------------------------------------------------------

def reference_logdet_gradient(a):
    """d/dA of sum_i log|R_ii| by autograd through :func:`flosslab.qr` (independent of the formula)."""
    from autograd import grad
    import autograd.numpy as anp
    return grad(lambda x: anp.sum(anp.log(anp.abs(anp.diagonal(qr(x)[1], axis1=-1,
                                                                axis2=-2)))))(a)


def check_logdet_gradient(func, n_cases: int = 4) -> bool:
    """``func(A)`` -> d(sum log|R_ii|)/dA for square or tall A (m >= n)."""
    name = "logdet_gradient"
    for case in range(n_cases):
        rng = np.random.default_rng(400 + case)
        n = int(rng.integers(2, 6))
        m = n if case % 2 == 0 else n + int(rng.integers(1, 4))
        a = rng.standard_normal((m, n))
        got, err = _call(name, func, a)
        if err:
            return _report(False, name, err)
        want = reference_logdet_gradient(a)
        if not _close(got, want, rtol=1e-6, atol=1e-8):
            shape = "square" if m == n else "tall"
            if m == n and _close(got, np.linalg.inv(a)):
                return _report(False, name, "close: it is the inverse TRANSPOSED, A^{-T}.")
            return _report(False, name, f"wrong on a {shape} {m}x{n} matrix. For square A it is "
                                        "A^{-T}; for tall A think of A (A^T A)^{-1} "
                                        "(sum log|R_ii| = 1/2 log det(A^T A)).")
    return _report(True, name)


# --- 04: the flossing loss --------------------------------------------------------------------------

def check_flossing_loss(func, n_cases: int = 3) -> bool:
    """``func(params, inputs, k, target)`` -> mean_{i<=k} (lambda_i - target)^2, differentiable."""
    from autograd import grad
    name = "my_flossing_loss"
    for case in range(n_cases):
        rng = np.random.default_rng(500 + case)
        n = int(rng.integers(4, 10))
        k = int(rng.integers(1, n + 1))
        target = float(rng.uniform(-0.3, 0.1))
        params = init_rnn(n, float(rng.uniform(0.7, 2.0)), seed=case)
        inputs = random_bits(40, 1, case)
        got, err = _call(name, func, params, inputs, k, target)
        if err:
            return _report(False, name, err)
        want = flossing_loss(params, inputs, k, target)
        if not _close(got, want):
            if _close(got, flossing_loss(params, inputs, n, target)):
                return _report(False, name, "only the first k exponents enter the loss.")
            if _close(got, np.sqrt(want)):
                return _report(False, name, "square the distance to the target (mean of squares).")
            return _report(False, name, "use flosslab.lyapunov_spectrum(params, inputs, "
                                        "n_exponents=k, transient=16) and average "
                                        "(lambda_i - target)^2.")
        g_want = grad(lambda w: flossing_loss({**params, "W": w}, inputs, k, target))(params["W"])
        g_got, err = _call(name + "'s gradient",
                           grad(lambda w: func({**params, "W": w}, inputs, k, target)),
                           params["W"])
        if err or not _close(g_got, g_want, rtol=1e-6, atol=1e-8):
            return _report(False, name, "the value is right but autograd cannot differentiate it "
                                        "the same way: use autograd.numpy (np) operations only. "
                                        + (err or ""))
    return _report(True, name)


# --- 05: task targets -----------------------------------------------------------------------------

def check_xor_targets(func, n_cases: int = 4) -> bool:
    """``func(bits, delay)`` -> targets of the delayed-XOR task for bits (T, B), on steps t >= d."""
    name = "xor_targets"
    for case in range(n_cases):
        rng = np.random.default_rng(600 + case)
        delay = int(rng.integers(2, 15))
        batch = make_batch("xor", delay, 3, delay + 20, seed=case)
        bits = batch.inputs[..., 0].astype(int)
        got, err = _call(name, func, bits, delay)
        if err:
            return _report(False, name, err)
        got = np.asarray(got)
        want = batch.targets[..., 0].astype(int)
        if got.shape != want.shape:
            return _report(False, name, f"return an array shaped like bits {want.shape}.")
        if not np.array_equal(got[batch.mask] % 2, want[batch.mask]):
            return _report(False, name, "y_t = x_{t - ceil(d/2)} XOR x_{t - d} for t >= d "
                                        "(time 0-indexed; ceil matters when d is odd).")
    return _report(True, name)


# --- 06: effective rank -----------------------------------------------------------------------------

def check_effective_rank(func, n_cases: int = 4) -> bool:
    """``func(M)`` -> exp(entropy of the normalised singular values)."""
    name = "my_effective_rank"
    for case in range(n_cases):
        rng = np.random.default_rng(700 + case)
        m, n = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        r = int(rng.integers(1, min(m, n) + 1))
        mat = rng.standard_normal((m, r)) @ rng.standard_normal((r, n))
        got, err = _call(name, func, mat)
        if err:
            return _report(False, name, err)
        want = effective_rank(mat)
        if not _close(got, want, rtol=1e-6):
            s = np.linalg.svd(mat, compute_uv=False)
            p2 = s ** 2 / np.sum(s ** 2)
            if _close(got, np.exp(-np.sum(p2 * np.log(p2))), rtol=1e-6):
                return _report(False, name, "normalise the singular values themselves, "
                                            "p_i = s_i / sum s, not their squares.")
            return _report(False, name, "p_i = s_i / sum_j s_j from the singular values, then "
                                        "exp(-sum p_i log p_i).")
    return _report(True, name)


# --- 07: batched QR in torch ---------------------------------------------------------------------

def check_batched_log_r(func, n_cases: int = 3) -> bool:
    """``func(frames)`` with frames a torch tensor (B, N, k) -> (B, k) tensor of log|R_ii|."""
    import torch
    name = "batched_log_r"
    for case in range(n_cases):
        rng = np.random.default_rng(800 + case)
        b, n = int(rng.integers(1, 6)), int(rng.integers(2, 9))
        k = int(rng.integers(1, n + 1))
        frames = rng.standard_normal((b, n, k))
        got, err = _call(name, func, torch.tensor(frames))
        if err:
            return _report(False, name, err)
        if not isinstance(got, torch.Tensor):
            return _report(False, name, "return a torch tensor.")
        want = np.stack([np.log(np.abs(np.diag(np.linalg.qr(f)[1]))) for f in frames])
        got = got.detach().cpu().numpy()
        if np.any(np.isnan(got)):
            return _report(False, name, "take the absolute value before the log.")
        if not _close(got, want):
            return _report(False, name, "use torch.linalg.qr(frames, mode='reduced') (it is "
                                        "batched) and torch.diagonal(R, dim1=-2, dim2=-1).")
    return _report(True, name)
