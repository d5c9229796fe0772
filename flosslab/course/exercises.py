"""Exercise checkers: compare a student's function with an independent computation on random inputs.

Each ``check_*`` function calls the student's function on a few cases (ordinary and edge cases),
compares with the reference package or a closed form, and prints one line: a confirmation, or a hint
about the most likely mistake (transpose, sum instead of mean, off by one, sign, NaN, ...). It never
raises and returns True or False (:mod:`flosslab.course.checking` holds the machinery and the
dtype-dependent tolerances). Sections follow the notebooks.
"""
from __future__ import annotations

import numpy as np

from ..core.conventions import DYNAMIC_PARAMS, init_rnn, random_bits, random_frame
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


def _square_or_tall(rng_seed: int, case: int, max_cols: int):
    """(rng, A): a Gaussian A with 2 <= n < max_cols columns, square on even cases, 1-3 rows
    taller on odd ones; the rng goes on for further draws."""
    rng = np.random.default_rng(rng_seed)
    n = int(rng.integers(2, max_cols))
    m = n if case % 2 == 0 else n + int(rng.integers(1, 4))
    return rng, rng.standard_normal((m, n))


def check_logdet_gradient(func, n_cases: int = 4) -> bool:
    """``func(A)`` -> d(sum log|R_ii|)/dA for square or tall A (m >= n)."""
    name = "logdet_gradient"

    def cases():
        for case in range(n_cases):
            _, a = _square_or_tall(400 + case, case, 6)
            m, n = a.shape
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




def reference_copyltu(m):
    """The lower triangle of M (with its diagonal) mirrored onto the upper triangle."""
    m = np.asarray(m, dtype=float)
    return np.tril(m) + np.tril(m, -1).T


def check_copyltu(func, n_cases: int = 4) -> bool:
    """``func(M)`` -> copyltu(M): M's lower triangle and diagonal, mirrored to the upper triangle."""
    name = "copyltu"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(420 + case)
            n = [1, 2, 4, 5][case % 4]
            m = rng.standard_normal((n, n))
            want = reference_copyltu(m)
            got = to_array(name, call(name, func, m.copy()), want.shape,
                           "copyltu(M) (shaped like M)")
            if close(got, want):
                continue
            if close(got, np.triu(m) + np.triu(m, 1).T):
                raise Answer("that mirrors the UPPER triangle onto the lower one; copyltu keeps the "
                             "lower triangle: np.tril(M) + np.tril(M, -1).T.")
            if close(got, np.tril(m) + np.tril(m).T):
                raise Answer("the diagonal is counted twice: mirror the STRICT lower triangle "
                             "(np.tril(M, -1)).")
            if close(got, np.tril(m)):
                raise Answer("keep the lower triangle AND copy it onto the upper one (the result "
                             "is symmetric).")
            if close(got, (m + m.T) / 2):
                raise Answer("that is the symmetric part of M; copyltu takes the lower triangle "
                             "only.")
            raise Answer("copyltu(M) = np.tril(M) + np.tril(M, -1).T: symmetric, equal to M on "
                         "and below the diagonal.")
    return run(name, cases)


def reference_qr_vjp(q, r, qb, rb):
    """The registered rule of :mod:`flosslab.reference.qr` applied to (Qb, Rb)."""
    from ..reference.qr import qr_vjp
    return qr_vjp((q, r), q @ r)((qb, rb))


def check_qr_vjp(func, n_cases: int = 4) -> bool:
    """``func(Q, R, Qb, Rb)`` -> Ab = (Qb + Q copyltu(M)) R^{-T}, M = R Rb^T - Qb^T Q, for the
    reduced QR of a square or tall A; compared with the registered rule (itself tested against
    central differences in the tests)."""
    name = "qr_vjp"

    def cases():
        for case in range(n_cases):
            rng, a = _square_or_tall(440 + case, case, 5)
            m, n = a.shape
            q, r = np.linalg.qr(a)
            qb, rb = rng.standard_normal((m, n)), np.triu(rng.standard_normal((n, n)))
            want = reference_qr_vjp(q, r, qb, rb)
            got = to_array(name, call(name, func, q.copy(), r.copy(), qb.copy(), rb.copy()),
                           a.shape, "Ab (shaped like A)")
            if close(got, want, rtol=1e-6, atol=1e-9):
                continue
            mm = r @ rb.T - qb.T @ q
            solve = lambda b, rr: np.linalg.solve(rr, b.T).T           # noqa: E731  b rr^{-T}
            wrong = {
                "apply R^{-T} (solve with R transposed: Ab R^T = B), not R^{-1}":
                    (qb + q @ reference_copyltu(mm)) @ np.linalg.inv(r),
                "M = R Rb^T - Qb^T Q: the two terms have opposite signs to yours":
                    solve(qb + q @ reference_copyltu(-mm), r),
                "copyltu mirrors the LOWER triangle of M (yours mirrors the upper one)":
                    solve(qb + q @ (np.triu(mm) + np.triu(mm, 1).T), r),
                "the term Qb itself is missing: Ab = (Qb + Q copyltu(M)) R^{-T}":
                    solve(q @ reference_copyltu(mm), r),
                "M = R Rb^T - Qb^T Q (R times Rb transposed, then Qb transposed times Q)":
                    solve(qb + q @ reference_copyltu(rb @ r.T - q.T @ qb), r),
            }
            for hint, value in wrong.items():
                if close(got, value, rtol=1e-6, atol=1e-9):
                    raise Answer(hint + ".")
            raise Answer("M = R Rb^T - Qb^T Q; Ab = (Qb + Q copyltu(M)) R^{-T}, with R^{-T} "
                         "applied by a solve (np.linalg.solve(R, B.T).T or "
                         "scipy.linalg.solve_triangular).")
    return run(name, cases)


# --- 04: the flossing loss --------------------------------------------------------------------------

def _flossing_case(rng_seed: int, case: int, max_units: int, max_gain: float):
    """A random (params, inputs, k, target) for the flossing checkers: N in [4, max_units),
    1 <= k < N, target in [-0.3, 0.1), gain in [0.7, max_gain), 40 input bits."""
    rng = np.random.default_rng(rng_seed)
    n = int(rng.integers(4, max_units))
    k = int(rng.integers(1, n))
    target = float(rng.uniform(-0.3, 0.1))
    params = init_rnn(n, float(rng.uniform(0.7, max_gain)), seed=case)
    return params, random_bits(40, 1, case), k, target


def check_flossing_loss(func, n_cases: int = 3) -> bool:
    """``func(params, inputs, k, target)`` -> mean_{i<=k} (lambda_i - target)^2, differentiable."""
    from autograd import grad
    name = "my_flossing_loss"

    def cases():
        for case in range(n_cases):
            params, inputs, k, target = _flossing_case(500 + case, case, 10, 2.0)
            n = params["W"].shape[0]
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



def reference_value_and_gradient(params, inputs, k, target):
    """(L_floss, {"W", "U", "b": dL_floss/d...}) by autograd through the reference's flossing loss."""
    from autograd import value_and_grad
    dynamic = {name: params[name] for name in DYNAMIC_PARAMS}
    return value_and_grad(lambda d: flossing_loss({**params, **d}, inputs, k, target))(dynamic)


def check_flossing_gradient(func, n_cases: int = 3) -> bool:
    """``func(params, inputs, k, target)`` -> (loss, {"W": dL/dW, "U": dL/dU, "b": dL/db})."""
    name = "flossing_value_and_gradient"

    def cases():
        for case in range(n_cases):
            params, inputs, k, target = _flossing_case(520 + case, case, 9, 1.8)
            loss_want, grads_want = reference_value_and_gradient(params, inputs, k, target)
            got = call(name, func, params, inputs, k, target)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise Answer("return a pair (loss, gradients), e.g. autograd's value_and_grad.")
            loss = to_array(name, got[0], (), "the loss (one number)")
            if not close(loss, loss_want):
                raise Answer("the loss is not the flossing loss: use your my_flossing_loss "
                             "(exercise 1).")
            grads = got[1]
            if not isinstance(grads, dict):
                raise Answer("return the gradients as a dict {'W': ..., 'U': ..., 'b': ...} "
                             "(differentiate with respect to a dict of the three arrays).")
            if {"V", "c"} & set(grads):
                raise Answer("flossing changes only W, U and b: the readout V, c has no effect "
                             "on the exponents; differentiate with respect to W, U, b only.")
            for key in ("W", "U", "b"):
                if key not in grads:
                    raise Answer(f"the gradient with respect to {key} is missing.")
                g = to_array(name, grads[key], grads_want[key].shape, f"dL/d{key}")
                if close(g, grads_want[key], rtol=1e-6, atol=1e-9):
                    continue
                if close(g, -grads_want[key], rtol=1e-6, atol=1e-9):
                    raise Answer(f"dL/d{key} has the wrong sign.")
                if close(g, np.zeros_like(g)):
                    raise Answer(f"dL/d{key} is zero: autograd did not see the loss depend on "
                                 f"{key}; pass the dict you differentiate into the loss.")
                raise Answer(f"dL/d{key} is off: differentiate your loss with autograd "
                             "(value_and_grad) with respect to {'W', 'U', 'b'}.")
    return run(name, cases)


ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8


def reference_adam_step(x, g, m, v, t, lr):
    """One Adam update (Kingma & Ba 2015; as autograd's and torch's): t = 1 at the first step."""
    m = ADAM_B1 * m + (1 - ADAM_B1) * g
    v = ADAM_B2 * v + (1 - ADAM_B2) * g ** 2
    m_hat, v_hat = m / (1 - ADAM_B1 ** t), v / (1 - ADAM_B2 ** t)
    return x - lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS), m, v


def check_adam_step(func, n_cases: int = 4) -> bool:
    """``func(x, g, m, v, t, lr)`` -> (x_new, m_new, v_new), one Adam step (t = 1 first)."""
    name = "adam_step"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(540 + case)
            shape = (int(rng.integers(2, 5)), int(rng.integers(1, 4)))
            x, g = rng.standard_normal(shape), rng.standard_normal(shape)
            t = [1, 2, 7, 30][case % 4]
            m = np.zeros(shape) if t == 1 else 0.1 * rng.standard_normal(shape)
            v = np.zeros(shape) if t == 1 else 0.1 * rng.random(shape)
            lr = float(rng.choice([0.01, 0.003]))
            want = reference_adam_step(x, g, m, v, t, lr)
            got = call(name, func, x.copy(), g.copy(), m.copy(), v.copy(), t, lr)
            if not isinstance(got, (tuple, list)) or len(got) != 3:
                raise Answer("return three arrays: (x_new, m_new, v_new).")
            x_new, m_new, v_new = (to_array(name, a, shape, what) for a, what in
                                   zip(got, ("x_new", "m_new", "v_new")))
            if not close(m_new, want[1]):
                raise Answer("m_new = b1 m + (1 - b1) g with b1 = 0.9.")
            if not close(v_new, want[2]):
                raise Answer("v_new = b2 v + (1 - b2) g**2 with b2 = 0.999.")
            if close(x_new, want[0]):
                continue
            if close(x_new, 2 * x - want[0]):
                raise Answer("the step goes uphill: subtract lr * m_hat / (sqrt(v_hat) + eps).")
            if close(x_new, x - lr * m_new / (np.sqrt(v_new) + ADAM_EPS)):
                raise Answer("correct the bias of the moments: m_hat = m / (1 - b1**t), "
                             "v_hat = v / (1 - b2**t).")
            if t > 1 and close(x_new, reference_adam_step(x, g, m, v, t - 1, lr)[0]):
                raise Answer("t counts steps from 1: the first step has t = 1 (bias correction "
                             "1 - b**t).")
            raise Answer("x_new = x - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m_new / "
                         "(1 - b1**t), v_hat = v_new / (1 - b2**t), eps = 1e-8 outside the root.")
    return run(name, cases)


def _loss_curves():
    """Synthetic flossing-loss curves (noisy like a real one: each step its own window) and
    whether each is still falling at its end."""
    rng = np.random.default_rng(560)
    noise = lambda n: np.exp(0.35 * rng.standard_normal(n))
    steps = np.arange(80)
    return [
        ("a loss still falling exponentially", 0.2 * np.exp(-steps / 25) * noise(80), True),
        ("a slow power-law decay, still falling", 0.3 / (1 + steps / 3) ** 1.5 * noise(80),
         True),
        ("a loss that fell and then levelled off at its noise floor",
         (0.2 * np.exp(-steps / 6) + 0.004) * noise(80), False),
        ("a flat noisy loss", 0.01 * noise(80), False),
        ("a rising loss", 0.01 * np.exp(steps / 30) * noise(80), False),
        ("a short falling curve", 0.2 * np.exp(-np.arange(40) / 8) * noise(40), True),
    ]


def check_still_falling(func) -> bool:
    """``func(losses)`` -> True when a noisy loss curve is still falling at its end, else False."""
    name = "loss_still_falling"

    def cases():
        for what, losses, want in _loss_curves():
            got = call(name, func, losses.copy())
            if not isinstance(got, (bool, np.bool_)):
                raise Answer(f"return True or False, got {type(got).__name__}.")
            if bool(got) != want:
                raise Answer(f"wrong on {what} (should be {want}). Compare the recent losses "
                             "with somewhat older ones, using medians over many steps (one "
                             "step's loss is noisy), e.g. the last quarter against the quarter "
                             "before.")
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


def _parity_lags(delay, order, rule):
    if rule == "floor":
        return [j * delay // order for j in range(1, order + 1)]
    if rule == "step":
        return [j * (delay // order) for j in range(1, order + 1)]
    if rule == "from0":
        return [-(-j * delay // order) for j in range(order)]
    raise ValueError(rule)


def _xor_of_lags(bits, delay, lags):
    y = np.zeros_like(bits)
    for lag in lags:
        y[delay:] ^= bits[delay - lag:len(bits) - lag]
    return y


def check_parity_targets(func, n_cases: int = 6) -> bool:
    """``func(bits, delay, order)`` -> targets of temporal parity of order p for bits (T, B):
    z_t = XOR over j = 1..p of x_{t - ceil(j d / p)} on the steps t >= d."""
    name = "parity_targets"
    settings = [(1, 5), (2, 7), (3, 7), (3, 9), (4, 10), (5, 13)][:n_cases]

    def cases():
        for case, (order, delay) in enumerate(settings):
            batch = make_batch("parity", delay, 3, delay + 20, seed=610 + case, order=order)
            bits = batch.inputs[..., 0].astype(int)
            want = batch.targets[..., 0].astype(int)
            got = to_array(name, call(name, func, bits, delay, order), want.shape,
                           "the targets (shaped like bits)")
            got_scored = got[batch.mask]
            if np.array_equal(got_scored, want[batch.mask]):
                continue
            if got_scored.max() > 1 or got_scored.min() < 0:
                raise Answer("targets are bits: XOR the inputs (^, or the sum modulo 2), do not "
                             "add them.")
            for rule, hint in (("floor", "the lags are ceil(j d / p), not floor(j d / p) (they "
                                         "differ when p does not divide j d)"),
                               ("step", "spread the lags as ceil(j d / p); j (d // p) loses the "
                                        "remainder, so the longest lag is not d"),
                               ("from0", "j runs from 1 to p: the lags are ceil(d/p), ..., d "
                                         "(j = 0 would XOR in x_t itself)")):
                lags = _parity_lags(delay, order, rule)
                if min(lags) >= 0 and np.array_equal(_xor_of_lags(bits, delay, lags)[batch.mask],
                                                     got_scored):
                    raise Answer(hint + f"; with p={order}, d={delay} the lags are "
                                 f"{[-(-j * delay // order) for j in range(1, order + 1)]}.")
            raise Answer(f"wrong for p={order}, d={delay}: z_t = XOR over j = 1..p of "
                         "x_{t - ceil(j d / p)}, for t >= d (time 0-indexed). p = 1 is the copy "
                         "task and p = 2 the XOR task.")
    return run(name, cases)


def reference_task_loss(logits, targets, mask) -> float:
    """Binary cross-entropy on logits, log(1 + e^y) - z y, averaged over the scored steps and the
    batch (numpy; stable for large |y|)."""
    y, z = np.asarray(logits, dtype=float), np.asarray(targets, dtype=float)
    return float(np.mean((np.logaddexp(0.0, y) - z * y)[np.asarray(mask)]))


def _task_cases(seed, big=False):
    rng = np.random.default_rng(seed)
    delay = int(rng.integers(2, 8))
    batch = make_batch("xor", delay, int(rng.integers(2, 6)), delay + int(rng.integers(5, 15)),
                       seed)
    scale = 60.0 if big else 3.0
    logits = rng.standard_normal(batch.targets.shape) * scale
    return logits, batch.targets, batch.mask


def check_task_loss(func, n_cases: int = 4) -> bool:
    """``func(logits, targets, mask)`` -> the binary cross-entropy on logits, averaged over the
    scored steps (mask (T,)) and the batch; logits and targets (T, B, 1)."""
    name = "task_loss"

    def cases():
        for case in range(n_cases):
            big = case == n_cases - 1                   # the last case: logits of size ~60
            logits, targets, mask = _task_cases(620 + case, big)
            want = reference_task_loss(logits, targets, mask)
            with np.errstate(all="ignore"):
                raw = call(name, func, logits, targets, mask)
            if big and np.ndim(raw) == 0 and not np.isfinite(float(np.asarray(raw))):
                raise Answer("with logits around +-60, 1 - sigmoid(y) rounds to 0 and log(0) is "
                             "-inf: use the stable form log(1 + e^y) - z y = np.logaddexp(0, y) - "
                             "z * y.")
            got = to_array(name, raw, (), "the loss (one number)")
            if close(got, want):
                continue
            scored = np.asarray(mask)
            full = float(np.mean(np.logaddexp(0.0, logits) - targets * logits))
            if close(got, full):
                raise Answer("average over the scored steps only (mask: t >= d), not every step.")
            if close(got, -want):
                raise Answer("the sign is flipped: the loss is -[z log s + (1 - z) log(1 - s)] "
                             "with s = sigmoid(y), which is >= 0.")
            total = float(np.sum((np.logaddexp(0.0, logits) - targets * logits)[scored]))
            if close(got, total):
                raise Answer("take the MEAN over the scored steps and the batch, not the sum.")
            raise Answer("per output: log(1 + e^y) - z y (np.logaddexp(0, y) - z * y), then the "
                         "mean over the steps where mask is True and over the batch.")
    return run(name, cases)


def check_scored_accuracy(func, n_cases: int = 4) -> bool:
    """``func(logits, targets, mask)`` -> the fraction of scored outputs predicted right:
    sigmoid(y) >= 1/2 (that is y >= 0) against z = 1."""
    from ..core.tasks import accuracy
    name = "scored_accuracy"

    def cases():
        for case in range(n_cases):
            logits, targets, mask = _task_cases(630 + case)
            # mostly right, with many logits between 0 and 0.5 (where y >= 0.5 would differ)
            logits = logits * 0.3 + 0.4 * (2 * targets - 1)
            want = accuracy(logits, targets, mask)
            got = to_array(name, call(name, func, logits, targets, mask), (),
                           "the accuracy (one number)")
            if close(got, want):
                continue
            right = (logits >= 0) == (targets >= 0.5)
            if close(got, np.mean(right)):
                raise Answer("count the scored steps only (mask: t >= d).")
            if close(got, 1 - want):
                raise Answer("that is the error rate: return the fraction predicted RIGHT.")
            if close(got, accuracy(logits - 0.5, targets, mask)):
                raise Answer("the logit y is not a probability: sigmoid(y) >= 0.5 means y >= 0.")
            if close(got, np.sum(right[np.asarray(mask)])):
                raise Answer("return the fraction (a number between 0 and 1), not the count.")
            raise Answer("predicted bit = (y >= 0); compare with (z >= 0.5) on the steps where "
                         "mask is True; return the mean.")
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


def check_log10_condition(func, n_cases: int = 4) -> bool:
    """``func(log_sv)`` -> log10(sigma_1 / sigma_k) from the natural logs of the k largest singular
    values, in descending order."""
    from ..core.measures import log10_condition_number
    name = "log10_condition"

    def cases():
        rng = np.random.default_rng(640)
        tests = [np.sort(rng.uniform(-40, 5, size=int(rng.integers(2, 9))))[::-1]
                 for _ in range(n_cases)]
        tests.append(np.array([-2.0, -300.0, -800.0]))          # sigma_k underflows: 1e-348
        tests.append(np.array([-1.5]))                          # k = 1: kappa = 1
        for log_sv in tests:
            want = log10_condition_number(log_sv)
            with np.errstate(all="ignore"):
                raw = call(name, func, log_sv.copy())
            if log_sv[-1] < -745 and np.ndim(raw) == 0 and not np.isfinite(float(np.asarray(raw))):
                raise Answer("sigma_k = e^-800 underflows to 0 in float64 (the long-term Jacobian "
                             "spans hundreds of orders of magnitude): never exponentiate, subtract "
                             "the logs.")
            got = to_array(name, raw, (), "log10 kappa (one number)")
            if close(got, want):
                continue
            if close(got, want * np.log(10.0)):
                raise Answer("the inputs are NATURAL logs: divide the difference by ln 10 to get "
                             "log10.")
            if close(got, -want):
                raise Answer("the sign is flipped: kappa = sigma_1 / sigma_k >= 1, so its log is "
                             ">= 0 (the largest singular value comes first).")
            raise Answer("log10 kappa = (log sigma_1 - log sigma_k) / ln 10, with the first and "
                         "the last entry of log_sv.")
    return run(name, cases)


def reference_deltas(params, batch, pre):
    """delta_t = dL/dh_t (total derivative) by the backward recursion, numpy, for the task loss
    (mean binary cross-entropy over the scored steps and the batch, readout y_t = V h_t + c)."""
    v, w = params["V"], params["W"]
    h = np.tanh(pre)
    y = h @ v.T + params["c"]
    n_scored = np.sum(batch.mask) * batch.inputs.shape[1]
    direct = ((1.0 / (1.0 + np.exp(-y)) - batch.targets) * batch.mask[:, None, None]
              / n_scored) @ v                                      # (T, B, N)
    deltas = np.zeros_like(pre)
    deltas[-1] = direct[-1]
    slope = 1.0 - h ** 2
    for t in range(len(pre) - 1, 0, -1):
        deltas[t - 1] = direct[t - 1] + (slope[t] * deltas[t]) @ w
    return deltas


def check_weight_gradient(func, n_cases: int = 3) -> bool:
    """``func(states, pre, deltas)`` -> dL/dW = sum over t and the batch of
    (tanh'(a_t) * delta_t) h_{t-1}^T; states (T+1, B, N) are h_0 (zeros), ..., h_T; pre (T, B, N)
    a_1..a_T; deltas (T, B, N) delta_t = dL/dh_t. Compared with autograd's dL/dW."""
    from ..reference.diagnostics import weight_gradient
    name = "weight_gradient"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(650 + case)
            n, delay = int(rng.integers(3, 9)), int(rng.integers(2, 6))
            params = init_rnn(n, float(rng.uniform(0.7, 1.8)), seed=case)
            batch = make_batch("copy", delay, int(rng.integers(2, 5)), delay + 8, seed=case)
            states, pre = run_rnn(params, batch.inputs, return_preactivations=True)
            states = np.concatenate([np.zeros_like(states[:1]), states])
            deltas = reference_deltas(params, batch, pre)
            want = weight_gradient(params, batch)
            got = to_array(name, call(name, func, states.copy(), pre.copy(), deltas.copy()),
                           want.shape, "dL/dW (N x N)")
            if close(got, want, rtol=1e-6, atol=1e-10):
                continue
            scaled = (1.0 - np.tanh(pre) ** 2) * deltas
            if close(got, want.T, rtol=1e-6, atol=1e-10):
                raise Answer("transposed: row i of dL/dW belongs to unit i's error, so it is "
                             "(tanh'(a_t) * delta_t) h_{t-1}^T, error first.")
            if close(got, np.einsum("tbi,tbj->ij", scaled, states[1:]), rtol=1e-6, atol=1e-10):
                raise Answer("off by one step: W multiplies the PREVIOUS state, so pair a_t and "
                             "delta_t with h_{t-1} = states[t-1] (states[0] is h_0).")
            if close(got, np.einsum("tbi,tbj->ij", deltas, states[:-1]), rtol=1e-6, atol=1e-10):
                raise Answer("the error must pass through the tanh first: multiply delta_t by "
                             "tanh'(a_t) = 1 - tanh(a_t)^2 elementwise.")
            if close(got * batch.inputs.shape[1], want, rtol=1e-6, atol=1e-10):
                raise Answer("sum over the batch (the loss already averages), do not take the "
                             "mean.")
            raise Answer("dL/dW = sum over t and b of outer(tanh'(a_t) * delta_t, h_{t-1}); "
                         "np.einsum('tbi,tbj->ij', ...) does it in one line.")
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


def reference_ensemble_flossing_loss(log_r, target):
    """(T, E, k) per-step log|R_ii| -> (E,) losses: lambda = mean over T, then mean over k of
    (lambda - target)^2."""
    lam = log_r.mean(0)
    return ((lam - target) ** 2).mean(-1)


def check_ensemble_flossing_loss(func, n_cases: int = 3) -> bool:
    """``func(log_r, target)`` with log_r a torch tensor (T, E, k) of per-step log|R_ii| -> the (E,)
    flossing losses, differentiable by torch autograd."""
    import torch
    name = "ensemble_flossing_loss"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(820 + case)
            t, e, k = int(rng.integers(5, 30)), int(rng.integers(2, 6)), int(rng.integers(1, 5))
            target = float(rng.uniform(-0.3, 0.1))
            raw = torch.tensor(rng.normal(-0.3, 0.5, size=(t, e, k)), requires_grad=True)
            result = call(name, func, raw, target)
            if not isinstance(result, torch.Tensor):
                raise Answer(f"return a torch tensor (so that torch can differentiate it), got "
                             f"{type(result).__name__}.")
            want = reference_ensemble_flossing_loss(raw.detach(), target).numpy()
            got = to_array(name, result, None, "the losses")
            if got.shape != want.shape:
                hint = ("one loss per member: average over time (axis 0) and over the k "
                        "exponents (the last axis), not over the members")
                raise Answer(f"the result must have shape (E,) = {want.shape}, got {got.shape}: "
                             + hint + ".")
            if not close(got, want):
                lam = raw.detach().numpy()
                if close(got, ((lam.sum(0) - target) ** 2).mean(-1)):
                    raise Answer("the exponents are the MEAN of log|R_ii| over the steps "
                                 "(per step), not the sum.")
                if close(got, ((lam.mean(0) - target) ** 2).sum(-1)):
                    raise Answer("take the MEAN over the k exponents, not the sum.")
                if close(got, ((lam - target) ** 2).mean((0, 2))):
                    raise Answer("average log|R_ii| over the steps FIRST (that is lambda), then "
                                 "square the distance to the target.")
                raise Answer("lambda = log_r.mean(0) (E, k); loss = ((lambda - target)**2)"
                             ".mean(-1).")
            if not result.requires_grad:
                raise Answer("the result does not depend on log_r for torch autograd: use torch "
                             "operations on log_r (no .numpy(), .item() or .detach()).")
            (grad,) = torch.autograd.grad(result.sum(), raw)
            lam = raw.detach().mean(0)
            want_grad = (2 * (lam - target) / (k * t)).expand(t, e, k)
            if not close(grad.numpy(), want_grad.numpy()):
                raise Answer("the value is right but its gradient is not: use differentiable "
                             "torch operations only.")
    return run(name, cases)


def check_cell_jacobian(func, n_cases: int = 3) -> bool:
    """``func(step, z, x)`` -> the D x D Jacobian dz_next/dz of a cell's step function
    ``step(z, x)`` at (z, x) (torch tensors)."""
    import torch
    name = "cell_jacobian"

    def cases():
        from ..engine.cells import cell_step_function
        for case, cls in enumerate((torch.nn.GRUCell, torch.nn.LSTMCell, torch.nn.RNNCell)
                                   [:n_cases]):
            torch.manual_seed(830 + case)
            n = 3 + case
            cell = cls(2, n).double()
            step = cell_step_function(cell)
            d = 2 * n if cls is torch.nn.LSTMCell else n
            z = torch.rand(d, dtype=torch.float64) * 2 - 1
            x = torch.rand(2, dtype=torch.float64)
            want = torch.autograd.functional.jacobian(lambda zz: step(zz, x), z).detach().numpy()
            got = call(name, func, step, z.clone(), x.clone())
            got = to_array(name, got, None, "the Jacobian")
            if got.shape == (d, 2):
                raise Answer("that is the Jacobian with respect to the input x; differentiate "
                             "with respect to the state z (jacrev's argnums=0).")
            if got.shape != (d, d):
                raise Answer(f"the Jacobian of a state of size D = {d} is D x D, got {got.shape}"
                             + (" (an LSTM's state is (h, c): D = 2N)" if d == 2 * n else "")
                             + ".")
            if close(got, want, rtol=1e-6, atol=1e-9):
                continue
            if close(got.T, want, rtol=1e-6, atol=1e-9):
                raise Answer("transposed: entry (i, j) is d z_next[i] / d z[j] "
                             "(torch.func.jacrev(step)(z, x) gives exactly that).")
            raise Answer("use torch.func.jacrev(step, argnums=0)(z, x).")
    return run(name, cases)


# --- 08: summaries over seeds ------------------------------------------------------------------

def check_seed_summary(func) -> bool:
    """``func(values)`` -> (median, 25th percentile, 75th percentile) of the values over seeds
    (numpy's default linear interpolation between order statistics)."""
    name = "seed_summary"

    def cases():
        rng = np.random.default_rng(800)
        tests = [rng.uniform(0.45, 1.0, size=n) for n in (5, 3, 4, 10)]
        tests.append(np.array([0.5, 0.5, 1.0, 0.5, 0.99]))
        for values in tests:
            want = np.percentile(values, [50, 25, 75])
            got = call(name, func, values.copy())
            if not isinstance(got, (tuple, list, np.ndarray)) or len(got) != 3:
                raise Answer("return three numbers: (median, q25, q75).")
            got = to_array(name, np.asarray(got, dtype=float), (3,), "(median, q25, q75)")
            if close(got, want):
                continue
            if close(got[0], np.mean(values)):
                raise Answer("the median, not the mean: one seed at chance pulls a mean down, "
                             "not a median.")
            if close(got, np.percentile(values, [50, 75, 25])):
                raise Answer("the order is (median, q25, q75).")
            if close(got[1:], [values.min(), values.max()]):
                raise Answer("the quartiles are the 25th and 75th percentiles, not the min and max.")
            if close(got[0], want[0]):
                raise Answer("use np.percentile(values, [25, 75]) (linear interpolation, numpy's "
                             f"default); with {values.size} seeds your quartiles differ.")
            raise Answer("np.median(values), np.percentile(values, 25), np.percentile(values, 75).")
    return run(name, cases)


def reference_horizon(delays, medians, level: float = 0.9):
    """The longest delay whose median reaches ``level``; None if none does."""
    ok = [int(d) for d, m in zip(delays, medians) if m >= level]
    return max(ok) if ok else None


def check_horizon(func) -> bool:
    """``func(delays, medians, level)`` -> the longest delay whose median accuracy is >= level,
    or None when no delay reaches it."""
    name = "horizon"
    tests = [([10, 20, 30, 40], [1.0, 0.95, 0.6, 0.5], 0.9),
             ([12, 16, 20, 24, 28], [1.0, 0.99, 0.5, 0.93, 0.5], 0.9),   # not monotone
             ([10, 20, 30], [0.7, 0.6, 0.5], 0.9),                       # none reaches it
             ([10, 20, 30], [1.0, 0.9, 0.89], 0.9),                      # exactly the level
             ([5, 10, 15], [0.8, 0.75, 0.5], 0.7)]

    def cases():
        for delays, medians, level in tests:
            want = reference_horizon(delays, medians, level)
            got = call(name, func, np.asarray(delays), np.asarray(medians), level)
            if want is None:
                if got is None:
                    continue
                raise Answer("when no delay reaches the level, return None (the horizon lies "
                             f"below the swept delays); got {got!r}.")
            if got is None:
                raise Answer(f"a delay reaches the level here (delays {delays}, medians "
                             f"{medians}, level {level}), but you returned None.")
            got = to_array(name, got, (), "the horizon (one delay)")
            if close(got, want):
                continue
            if 0 <= got < len(delays) and int(got) == list(delays).index(want):
                raise Answer("return the delay itself, not its index.")
            passed = [m >= level for m in medians]
            first_fail = passed.index(False) if False in passed else len(passed)
            if first_fail and close(got, delays[first_fail - 1]):
                raise Answer("the horizon is the LONGEST delay that reaches the level, even if a "
                             "shorter one failed (medians need not fall monotonically).")
            if close(got, reference_horizon(delays, medians, level + 1e-9) or -1):
                raise Answer("'reaches' includes equality: median >= level.")
            raise Answer("max of the delays whose median is >= level.")
    return run(name, cases)


def reference_bootstrap_horizons(acc, delays, idx, level: float = 0.9) -> np.ndarray:
    """The horizon of each bootstrap resample: for delay j and resample b the median of
    acc[j, idx[j, b]]; the longest delay whose median reaches ``level``, 0 where none does."""
    acc, idx = np.asarray(acc, dtype=float), np.asarray(idx)
    medians = np.stack([np.median(acc[j][idx[j]], axis=1) for j in range(len(delays))])
    out = np.zeros(idx.shape[1], dtype=int)
    for j in np.argsort(delays):
        out[medians[j] >= level] = delays[j]
    return out


def bootstrap_indices(n_delays: int, n_seeds: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """Resampled seed indices (n_delays, n_boot, n_seeds), drawn as
    :func:`flosslab.paper.stats.bootstrap_horizon` draws them (one block per delay, in order)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, n_seeds, size=(n_boot, n_seeds)) for _ in range(n_delays)])


def check_bootstrap_horizons(func) -> bool:
    """``func(acc, delays, idx, level)`` -> (n_boot,) horizons of the bootstrap resamples; acc
    (n_delays, n_seeds) final accuracies, idx (n_delays, n_boot, n_seeds) resampled seed
    indices, 0 where no delay reaches the level."""
    name = "bootstrap_horizons"

    def cases():
        for case in range(3):
            rng = np.random.default_rng(820 + case)
            delays = np.array([10, 20, 30, 40, 50])
            n_seeds = 5
            ok = rng.uniform(0.9, 1.0, size=(5, n_seeds))
            fail = rng.uniform(0.48, 0.55, size=(5, n_seeds))
            p_ok = np.array([[1.0, 0.8, 0.6, 0.4, 0.1], [0.5, 0.4, 0.6, 0.3, 0.1],
                             [0.9, 0.9, 0.5, 0.5, 0.2]][case])[:, None]
            acc = np.where(rng.uniform(size=(5, n_seeds)) < p_ok, ok, fail)
            idx = bootstrap_indices(len(delays), n_seeds, 200, seed=case)
            want = reference_bootstrap_horizons(acc, delays, idx)
            raw = call(name, func, acc.copy(), delays.copy(), idx.copy(), 0.9)
            if raw is not None and np.asarray(raw, dtype=object).dtype == object \
                    and any(v is None for v in np.ravel(np.asarray(raw, dtype=object))):
                raise Answer("use 0 (not None) for a resample in which no delay reaches the level, "
                             "so that the result is an array of numbers.")
            got = to_array(name, raw, want.shape, "one horizon per resample (n_boot,)")
            if close(got, want):
                continue
            if close(np.where(got < 0, 0, got), want):
                raise Answer("use 0, not -1, where no delay reaches the level.")
            same = np.broadcast_to(idx[0], idx.shape)
            if close(got, reference_bootstrap_horizons(acc, delays, same)):
                raise Answer("resample each delay with its own indices idx[j] (the seeds of "
                             "different delays are different networks).")
            means = np.stack([np.mean(acc[j][idx[j]], axis=1) for j in range(len(delays))])
            mean_h = np.zeros(idx.shape[1], dtype=int)
            for j in range(len(delays)):
                mean_h[means[j] >= 0.9] = delays[j]
            if close(got, mean_h):
                raise Answer("take the MEDIAN of each resample, as for the horizon itself.")
            raise Answer("for each delay j: medians = np.median(acc[j][idx[j]], axis=1) (one per "
                         "resample); then per resample the longest delay whose median >= level, "
                         "0 if none.")
    return run(name, cases)
