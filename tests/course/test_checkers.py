"""The checkers' contract (flosslab/course/checking.py), checker by checker.

For every checker: a table of wrong answers by pattern (changing an input in place, returning an
input, the edge of the demo's range, a wrong statistic, a hard-coded constant) that must be rejected
with their hint, and correct alternatives (the notebook's solution and other right ways) that must
pass and then run the demo that uses them, called as the notebook calls it (through
``checking.pick``). Cases marked "issue 25" were accepted or rejected wrongly, or made the checker
raise, before the contract.
"""
import importlib
import pkgutil
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import flosslab as fl
import flosslab.course
from flosslab.course import checking

LESSON = {m.name[6:8]: importlib.import_module(f"flosslab.course.{m.name}")
          for m in pkgutil.iter_modules(flosslab.course.__path__) if m.name.startswith("lesson")}
NOTEBOOKS = {p.name[:2]: p for p in
             (Path(__file__).resolve().parents[2] / "notebooks").glob("0[1-8]_*.ipynb")}


class _Silent:
    """Stands in for the lesson module inside a solution cell: its ``check_*`` calls do nothing."""

    def __init__(self, lesson):
        self.lesson = lesson

    def __getattr__(self, name):
        return (lambda *a, **k: True) if name.startswith("check_") else getattr(self.lesson, name)


def solutions(number):
    """The notebook's solution functions (``xxx_solution``), its solution cells run in order."""
    names = {"np": np, "fl": fl, "lesson": _Silent(LESSON[number])}
    if number == "07":
        names["torch"] = pytest.importorskip("torch")
    nb = nbformat.read(NOTEBOOKS[number], as_version=4)
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            exec(cell.source, names)
    return {k[:-len("_solution")]: v for k, v in names.items() if k.endswith("_solution")}


def check(number, name, func, capsys):
    """(passed, the printed line) of ``lesson.check_<name>(func)``; never an exception."""
    capsys.readouterr()
    ok = getattr(LESSON[number], f"check_{name}")(func)
    return bool(ok), capsys.readouterr().out


# --- the wrong answers, by pattern ------------------------------------------------------------------

def _jac_in_place(params, a):                     # issue 25: accepted, then broke backprop_norms
    w = params["W"]
    w *= (1.0 - np.tanh(a) ** 2)[:, None]
    return w


def _jac_columns(params, a):
    return params["W"] * (1.0 - np.tanh(a) ** 2)[None, :]


def _jac_slope_at_h(params, a):
    return (1.0 - np.tanh(np.tanh(a)) ** 2)[:, None] * params["W"]


def _bp_in_place_delta(params, pre, delta_last):
    delta = delta_last
    norms = [np.linalg.norm(delta)]
    for t in range(len(pre), 1, -1):
        delta[:] = fl.jacobian(params, pre[t - 1]).T @ delta
        norms.append(np.linalg.norm(delta))
    return np.array(norms[::-1])


def _bp_on_an_in_place_jacobian(params, pre, delta_last):   # issue 25: blamed the recursion
    delta = np.asarray(delta_last, dtype=float)
    norms = [np.linalg.norm(delta)]
    for t in range(len(pre), 1, -1):
        delta = _jac_in_place(params, pre[t - 1]).T @ delta
        norms.append(np.linalg.norm(delta))
    return np.array(norms[::-1])


def _bp_no_transpose(params, pre, delta_last):
    delta, norms = np.asarray(delta_last), [np.linalg.norm(delta_last)]
    for t in range(len(pre), 1, -1):
        delta = fl.jacobian(params, pre[t - 1]) @ delta
        norms.append(np.linalg.norm(delta))
    return np.array(norms[::-1])


def _rate_slice(norms, skip):                     # issue 25: norms[:-0] is empty at skip = 0
    back = np.arange(len(norms))[::-1]
    return np.polyfit(back[:-skip], np.log(norms[:-skip]), 1)[0]


def _rate_log10(norms, skip):
    back = np.arange(len(norms))[::-1]
    return np.polyfit(back[back >= skip], np.log10(norms[back >= skip]), 1)[0]


def _rate_hard_skip(norms, skip):
    back = np.arange(len(norms))[::-1]
    return np.polyfit(back[back >= 10], np.log(norms[back >= 10]), 1)[0]


def _rate_in_place(norms, skip):
    norms[:] = np.log(norms)
    back = np.arange(len(norms))[::-1]
    return np.polyfit(back[back >= skip], norms[back >= skip], 1)[0]


def _qr_in_place(D, Q):                          # issue 25: rejected with "multiply first"
    Q[:] = D @ Q
    q, r = np.linalg.qr(Q)
    return q, np.log(np.abs(np.diag(r)))


def _qr_not_multiplied(D, Q):
    q, r = np.linalg.qr(Q)
    return q, np.log(np.abs(np.diag(r)))


def _qr_no_log(D, Q):
    q, r = np.linalg.qr(D @ Q)
    return q, np.abs(np.diag(r))


def _qr_one_value(D, Q):
    return np.linalg.qr(D @ Q)[0]


def _spectrum_divides_by_t(jacobians, frame, transient):
    q, total = frame, 0.0
    for t, d in enumerate(jacobians):
        q, r = np.linalg.qr(d @ q)
        if t >= transient:
            total = total + np.log(np.abs(np.diag(r)))
    return total / len(jacobians)


def _spectrum_in_place(jacobians, frame, transient):
    total = np.zeros(frame.shape[1])
    for t, d in enumerate(jacobians):
        frame[:], r = np.linalg.qr(d @ frame)
        if t >= transient:
            total += np.log(np.abs(np.diag(r)))
    return total / (len(jacobians) - transient)


def _logdet_sum(jacobians, transient):
    return np.sum(np.linalg.slogdet(jacobians[transient:])[1])


def _logdet_all_steps(jacobians, transient):
    return np.mean(np.linalg.slogdet(jacobians)[1])


def _copyltu_in_place(M):
    M[np.triu_indices(len(M), 1)] = M.T[np.triu_indices(len(M), 1)]
    return M


def _copyltu_view(M):                            # right values for 1 x 1, but M itself
    return M if M.shape == (1, 1) else np.tril(M) + np.tril(M, -1).T


def _copyltu_upper(M):
    return np.triu(M) + np.triu(M, 1).T


def _vjp_in_place(Q, R, Qb, Rb):
    M = R @ Rb.T - Qb.T @ Q
    Qb += Q @ (np.tril(M) + np.tril(M, -1).T)
    return np.linalg.solve(R, Qb.T).T


def _vjp_inverse(Q, R, Qb, Rb):
    M = R @ Rb.T - Qb.T @ Q
    return (Qb + Q @ (np.tril(M) + np.tril(M, -1).T)) @ np.linalg.inv(R)


def _grad_square_only(A):
    return np.linalg.inv(A).T if A.shape[0] == A.shape[1] else A.copy()


def _grad_not_transposed(A):
    return np.linalg.pinv(A)


def _floss_sqrt(params, inputs, k, target):
    lam = fl.lyapunov_spectrum(params, inputs, n_exponents=k, transient=16)
    return np.sqrt(np.mean((lam - target) ** 2))


def _floss_hard_target(params, inputs, k, target):
    import autograd.numpy as anp
    lam = fl.lyapunov_spectrum(params, inputs, n_exponents=k, transient=16)
    return anp.mean(lam ** 2)


def _floss_in_place(params, inputs, k, target):
    import autograd.numpy as anp
    inputs *= 1.0
    inputs[0] = 1.0 - inputs[0]
    lam = fl.lyapunov_spectrum(params, inputs, n_exponents=k, transient=16)
    return anp.mean((lam - target) ** 2)


def _vg_with_readout(params, inputs, k, target):
    from autograd import value_and_grad
    return value_and_grad(lambda p: fl.flossing_loss(p, inputs, k, target))(dict(params))


def _vg_in_place(params, inputs, k, target):
    from autograd import value_and_grad
    params["b"] = params["b"] + 0.0
    params["W"] *= 1.0 + 1e-3
    dynamic = {name: params[name] for name in ("W", "U", "b")}
    return value_and_grad(lambda d: fl.flossing_loss({**params, **d}, inputs, k, target))(dynamic)


def _adam_in_place(theta, grad, mom1, mom2, tau, lr):   # issue 25: accepted; demo's "before" moved
    mom1 *= 0.9
    mom1 += 0.1 * grad
    mom2 *= 0.999
    mom2 += 0.001 * grad ** 2
    theta -= lr * (mom1 / (1 - 0.9 ** tau)) / (np.sqrt(mom2 / (1 - 0.999 ** tau)) + 1e-8)
    return theta, mom1, mom2


def _adam_eps_inside(theta, grad, mom1, mom2, tau, lr):
    mom1 = 0.9 * mom1 + 0.1 * grad
    mom2 = 0.999 * mom2 + 0.001 * grad ** 2
    return (theta - lr * (mom1 / (1 - 0.9 ** tau)) / np.sqrt(mom2 / (1 - 0.999 ** tau) + 1e-8),
            mom1, mom2)


def _adam_hard_lr(theta, grad, mom1, mom2, tau, lr):
    mom1 = 0.9 * mom1 + 0.1 * grad
    mom2 = 0.999 * mom2 + 0.001 * grad ** 2
    return (theta - 0.01 * (mom1 / (1 - 0.9 ** tau)) / (np.sqrt(mom2 / (1 - 0.999 ** tau)) + 1e-8),
            mom1, mom2)


def _falling_no_margin(losses):
    n = len(losses)
    return bool(np.median(losses[3 * n // 4:]) < np.median(losses[n // 2:3 * n // 4]))


def _falling_sorts(losses):
    losses.sort()                               # sorts the demo's loss curve in place
    return False


def _xor_floor(bits, delay):
    y = np.zeros_like(bits)
    y[delay:] = bits[delay - delay // 2:len(bits) - delay // 2] ^ bits[:len(bits) - delay]
    return y


def _xor_sum(bits, delay):
    half = -(-delay // 2)
    y = np.zeros_like(bits)
    y[delay:] = bits[delay - half:len(bits) - half] + bits[:len(bits) - delay]
    return y


def _xor_in_place(bits, delay):
    half = -(-delay // 2)
    bits[delay:] = bits[delay - half:len(bits) - half] ^ bits[:len(bits) - delay]
    bits[:delay] = 0
    return bits


def _parity_in_place_floor(bits, delay, order):  # issue 25: the hint read the mutated bits
    y = np.zeros_like(bits)
    for j in range(1, order + 1):
        lag = j * delay // order
        y[delay:] ^= bits[delay - lag:len(bits) - lag]
    bits[:] = y
    return y


def _parity_step(bits, delay, order):
    y = np.zeros_like(bits)
    for j in range(1, order + 1):
        lag = j * (delay // order)
        y[delay:] ^= bits[delay - lag:len(bits) - lag]
    return y


def _parity_hard_order(bits, delay, order):
    return LESSON["05"].reference_parity_targets(bits, delay, 3)


def _loss_all_steps(logits, targets, mask):
    return float(np.mean(np.logaddexp(0.0, logits) - targets * logits))


def _loss_unstable(logits, targets, mask):
    s = 1 / (1 + np.exp(-logits))
    return float(np.mean((-(targets * np.log(s) + (1 - targets) * np.log(1 - s)))[mask]))


def _loss_in_place(logits, targets, mask):
    logits[~mask] = 0.0
    return float(np.mean((np.logaddexp(0.0, logits) - targets * logits)[mask]))


def _acc_half(logits, targets, mask):
    return float(np.mean(((logits >= 0.5) == (targets >= 0.5))[mask]))


def _acc_count(logits, targets, mask):
    return float(np.sum(((logits >= 0) == (targets >= 0.5))[mask]))


def _cond_exp(log_sv):
    return float(np.log10(np.exp(log_sv[0]) / np.exp(log_sv[-1])))


def _cond_no_ln10(log_sv):
    return float(log_sv[0] - log_sv[-1])


def _cond_sorts(log_sv):
    log_sv.sort()
    return float((log_sv[-1] - log_sv[0]) / np.log(10.0))


def _rank_filter(M):                             # issue 25: a numerical-rank cut-off passed
    s = np.linalg.svd(M, compute_uv=False)
    p = s[s > 1e-6 * s.max()] / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def _rank_squares(M):
    s = np.linalg.svd(M, compute_uv=False) ** 2
    p = s[s > 0] / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def _rank_no_zero_guard(M):
    s = np.linalg.svd(M, compute_uv=False)
    p = s / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def _wgrad_no_slope(states, pre, deltas):
    return np.einsum("tbi,tbj->ij", deltas, states[:-1])


def _wgrad_off_by_one(states, pre, deltas):
    return np.einsum("tbi,tbj->ij", (1 - np.tanh(pre) ** 2) * deltas, states[1:])


def _wgrad_in_place(states, pre, deltas):
    deltas *= 1 - np.tanh(pre) ** 2
    return np.einsum("tbi,tbj->ij", deltas, states[:-1])


def _logr_numpy(frames):
    import torch
    r = np.linalg.qr(frames.detach().numpy())[1]
    return torch.tensor(np.log(np.abs(np.diagonal(r, axis1=-2, axis2=-1))))


def _logr_no_abs(frames):
    import torch
    r = torch.linalg.qr(frames).R
    return torch.log(torch.diagonal(r, dim1=-2, dim2=-1))


def _ens_sum_k(log_r, target):
    return ((log_r.mean(0) - target) ** 2).sum(-1)


def _ens_in_place(log_r, target):
    log_r -= target
    return (log_r.mean(0) ** 2).mean(-1)


def _ens_hard_target(log_r, target):
    return (log_r.mean(0) ** 2).mean(-1)


def _cell_autograd_grad(step, z, x):                 # issue 25: raised under the demo's no_grad
    import torch
    z = z.detach().requires_grad_()
    out = step(z, x)
    rows = [torch.autograd.grad(out[i], z, retain_graph=True)[0] for i in range(out.numel())]
    return torch.stack(rows)


def _cell_transposed(step, z, x):
    import torch
    return torch.func.jacrev(step, argnums=0)(z, x).T


def _summary_0d(values):                             # issue 25: made the checker raise
    return np.asarray(np.median(values))


def _summary_upper(values):
    v = np.sort(values)
    return float(v[len(v) // 2]), float(np.percentile(values, 25)), float(np.percentile(values, 75))


def _summary_sorts(values):
    values.sort()
    return float(np.median(values)), float(np.percentile(values, 25)), \
        float(np.percentile(values, 75))


def _horizon_last(delays, medians, level):
    reached = [int(d) for d, m in zip(delays, medians) if m >= level]
    return reached[-1] if reached else None


def _horizon_hard_level(delays, medians, level):
    reached = [int(d) for d, m in zip(delays, medians) if m >= 0.9]
    return max(reached) if reached else None


def _horizon_strict(delays, medians, level):
    reached = [int(d) for d, m in zip(delays, medians) if m > level]
    return max(reached) if reached else None


def _boot(acc, delays, idx, level, stat=None, strict=False, ordered=False, hard=None):
    stat = stat or (lambda x: np.median(x, axis=1))
    level = level if hard is None else hard
    out = np.zeros(idx.shape[1], dtype=int)
    for j in (range(len(delays)) if ordered else np.argsort(delays)):
        m = stat(acc[j][idx[j]])
        out[(m > level) if strict else (m >= level)] = delays[j]
    return out


def _boot_upper(acc, delays, idx, level):            # issue 25: the four mistakes below passed
    return _boot(acc, delays, idx, level, stat=lambda x: np.sort(x, axis=1)[:, x.shape[1] // 2])


def _boot_strict(acc, delays, idx, level):
    return _boot(acc, delays, idx, level, strict=True)


def _boot_hard_level(acc, delays, idx, level):
    return _boot(acc, delays, idx, level, hard=0.9)


def _boot_in_order(acc, delays, idx, level):
    return _boot(acc, delays, idx, level, ordered=True)


def _boot_in_place(acc, delays, idx, level):
    acc.sort(axis=1)
    return _boot(acc, delays, idx, level)


#: (notebook, checker, wrong answer, words its hint must hold)
WRONG = [
    ("01", "one_step_jacobian", _jac_in_place, "changed `params['W']`"),
    ("01", "one_step_jacobian", _jac_columns, "ROWS"),
    ("01", "one_step_jacobian", _jac_slope_at_h, "pre-activation"),
    ("01", "backprop_norms", _bp_in_place_delta, "changed `delta_last`"),
    ("01", "backprop_norms", _bp_no_transpose, "TRANSPOSE"),
    ("01", "backprop_norms", _bp_on_an_in_place_jacobian, "changed `params['W']`"),
    ("01", "growth_rate", _rate_slice, "skip = 0"),
    ("01", "growth_rate", _rate_log10, "natural log"),
    ("01", "growth_rate", _rate_hard_skip, "skip"),
    ("01", "growth_rate", _rate_in_place, "changed `norms`"),
    ("02", "qr_step", _qr_in_place, "changed `Q`"),
    ("02", "qr_step", _qr_not_multiplied, "multiply first"),
    ("02", "qr_step", _qr_no_log, "LOG"),
    ("02", "qr_step", _qr_one_value, "a pair"),
    ("02", "spectrum", _spectrum_divides_by_t, "T - transient"),
    ("02", "spectrum", _spectrum_in_place, "changed `frame`"),
    ("02", "log_det_average", _logdet_sum, "MEAN"),
    ("02", "log_det_average", _logdet_all_steps, "transient"),
    ("03", "copyltu", _copyltu_in_place, "`M`"),       # 1 x 1 first: returned, then changed
    ("03", "copyltu", _copyltu_view, "view of) the input `M`"),
    ("03", "copyltu", _copyltu_upper, "UPPER"),
    ("03", "qr_vjp", _vjp_in_place, "changed `Qb`"),
    ("03", "qr_vjp", _vjp_inverse, "R^{-T}"),
    ("03", "logdet_gradient", _grad_square_only, "tall"),
    ("03", "logdet_gradient", _grad_not_transposed, "TRANSPOSED"),
    ("04", "flossing_loss", _floss_sqrt, "square"),
    ("04", "flossing_loss", _floss_hard_target, "flossing_loss"),
    ("04", "flossing_loss", _floss_in_place, "changed `inputs`"),
    ("04", "flossing_gradient", _vg_with_readout, "readout"),
    ("04", "flossing_gradient", _vg_in_place, "changed `params['W']`"),
    ("04", "adam_step", _adam_in_place, "changed `theta`"),
    ("04", "adam_step", _adam_eps_inside, "OUTSIDE"),
    ("04", "adam_step", _adam_hard_lr, "theta_new"),
    ("04", "still_falling", _falling_no_margin, "margin"),
    ("04", "still_falling", _falling_sorts, "changed `losses`"),
    ("05", "xor_targets", _xor_floor, "ceil"),
    ("05", "xor_targets", _xor_sum, "XOR"),
    ("05", "xor_targets", _xor_in_place, "changed `bits`"),
    ("05", "parity_targets", _parity_in_place_floor, "changed `bits`"),
    ("05", "parity_targets", _parity_step, "remainder"),
    ("05", "parity_targets", _parity_hard_order, "wrong for p="),
    ("05", "task_loss", _loss_all_steps, "scored steps only"),
    ("05", "task_loss", _loss_unstable, "logaddexp"),
    ("05", "task_loss", _loss_in_place, "changed `logits`"),
    ("05", "scored_accuracy", _acc_half, "y >= 0"),
    ("05", "scored_accuracy", _acc_count, "fraction"),
    ("06", "log10_condition", _cond_exp, "never exponentiate"),
    ("06", "log10_condition", _cond_no_ln10, "ln 10"),
    ("06", "log10_condition", _cond_sorts, "changed `log_sv`"),
    ("06", "effective_rank", _rank_filter, "however small"),
    ("06", "effective_rank", _rank_squares, "not their squares"),
    ("06", "effective_rank", _rank_no_zero_guard, "exactly 0"),
    ("06", "weight_gradient", _wgrad_no_slope, "tanh"),
    ("06", "weight_gradient", _wgrad_off_by_one, "off by one"),
    ("06", "weight_gradient", _wgrad_in_place, "changed `deltas`"),
    ("07", "batched_log_r", _logr_numpy, "autograd"),
    ("07", "batched_log_r", _logr_no_abs, "absolute value"),
    ("07", "ensemble_flossing_loss", _ens_sum_k, "MEAN over the k"),
    ("07", "ensemble_flossing_loss", _ens_in_place, "changed `log_r`"),
    ("07", "ensemble_flossing_loss", _ens_hard_target, "lambda = log_r.mean(0)"),
    ("07", "cell_jacobian", _cell_autograd_grad, "torch.no_grad()"),
    ("07", "cell_jacobian", _cell_transposed, "transposed"),
    ("08", "seed_summary", _summary_0d, "three numbers"),
    ("08", "seed_summary", _summary_upper, "percentile"),
    ("08", "seed_summary", _summary_sorts, "changed `values`"),
    ("08", "horizon", _horizon_last, "LONGEST"),
    ("08", "horizon", _horizon_hard_level, "`level` argument"),
    ("08", "horizon", _horizon_strict, "equality"),
    ("08", "bootstrap_horizons", _boot_upper, "MEAN of the two middle values"),
    ("08", "bootstrap_horizons", _boot_strict, "equality"),
    ("08", "bootstrap_horizons", _boot_hard_level, "`level` argument"),
    ("08", "bootstrap_horizons", _boot_in_order, "LONGEST"),
    ("08", "bootstrap_horizons", _boot_in_place, "changed `acc`"),
]


@pytest.mark.parametrize("number, name, wrong, hint", WRONG,
                         ids=[f"{n}-{c}-{w.__name__.lstrip('_')}" for n, c, w, _ in WRONG])
def test_wrong_answers_are_rejected_with_their_hint(number, name, wrong, hint, capsys):
    if number == "07":
        pytest.importorskip("torch")
    ok, out = check(number, name, wrong, capsys)
    assert not ok, out
    assert out.startswith("Not yet") and hint in out, out


def test_every_checker_has_wrong_answers_and_a_reference():
    checkers = {(n, c[len("check_"):]) for n, m in LESSON.items() for c in dir(m)
                if c.startswith("check_") and hasattr(getattr(m, c), "reference")}
    assert len(checkers) == 26
    assert checkers == {(n, c) for n, c, *_ in WRONG}
    for number, name in checkers:
        reference = getattr(LESSON[number], f"check_{name}").reference
        assert callable(reference) and not reference.__name__.endswith("_solution")


# --- correct answers: they pass, then the demo runs with them ---------------------------------------

def _rate_lstsq(norms, skip):
    back = np.arange(len(norms))[::-1].astype(float)
    keep = back >= skip
    x, y = back[keep], np.log(norms[keep])
    return float(((x - x.mean()) @ (y - y.mean())) / ((x - x.mean()) @ (x - x.mean())))


def _qr_list(D, Q):
    q, r = np.linalg.qr(D @ Q)
    return [q.tolist(), list(np.log(np.abs(np.diag(r))))]


def _copyltu_where(M):
    return np.where(np.tri(len(M), dtype=bool), M, M.T)


def _grad_qr(A):
    return LESSON["03"].stable_logdet_gradient(A)


def _adam_torch(theta, grad, mom1, mom2, tau, lr):
    import torch
    t, g, m, v = (torch.as_tensor(x) for x in (theta, grad, mom1, mom2))
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g ** 2
    return (t - lr * (m / (1 - 0.9 ** tau)) / ((v / (1 - 0.999 ** tau)).sqrt() + 1e-8)).numpy(), \
        m.numpy(), v.numpy()


def _parity_nan_before(bits, delay, order):          # issue 25: NaN in unscored rows was rejected
    y = np.full(bits.shape, np.nan)
    y[delay:] = 0
    for j in range(1, order + 1):
        lag = -(-j * delay // order)
        y[delay:] = (y[delay:].astype(int) ^ bits[delay - lag:len(bits) - lag])
    return y


def _xor_nan_before(bits, delay):
    return _parity_nan_before(bits, delay, 2)


def _loss_sigmoid_clipped(logits, targets, mask):
    return float(np.mean((np.maximum(logits, 0) - targets * logits
                          + np.log1p(np.exp(-np.abs(logits))))[mask]))


def _rank_matrix_rank_tol(M):                        # the numerical rank's own tolerance: harmless
    s = np.linalg.svd(M, compute_uv=False)
    tol = s.max() * max(M.shape) * np.finfo(float).eps
    p = s[s > tol] / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def _cell_enable_grad(step, z, x):
    import torch
    with torch.enable_grad():
        return _cell_autograd_grad(step, z, x).detach()


def _cell_functional(step, z, x):
    import torch
    return torch.autograd.functional.jacobian(lambda zz: step(zz, x), z)


def _summary_array(values):
    return np.percentile(values, [50, 25, 75])


def _horizon_numpy(delays, medians, level):
    delays, medians = np.asarray(delays), np.asarray(medians)
    return int(delays[medians >= level].max()) if np.any(medians >= level) else None


def _boot_vectorised(acc, delays, idx, level):
    medians = np.stack([np.median(acc[j][idx[j]], axis=1) for j in range(len(delays))])
    reached = np.where(medians >= level, np.asarray(delays)[:, None], 0)
    return reached.max(axis=0)


ALTERNATIVES = {
    ("01", "growth_rate"): [_rate_lstsq], ("02", "qr_step"): [_qr_list],
    ("03", "copyltu"): [_copyltu_where], ("03", "logdet_gradient"): [_grad_qr],
    ("04", "adam_step"): [_adam_torch],
    ("05", "xor_targets"): [_xor_nan_before], ("05", "parity_targets"): [_parity_nan_before],
    ("05", "task_loss"): [_loss_sigmoid_clipped], ("06", "effective_rank"): [_rank_matrix_rank_tol],
    ("07", "cell_jacobian"): [_cell_enable_grad, _cell_functional],
    ("08", "seed_summary"): [_summary_array], ("08", "horizon"): [_horizon_numpy],
    ("08", "bootstrap_horizons"): [_boot_vectorised],
}

#: The notebook's name of each checker's function (checker name -> the stub's name).
STUB = {"spectrum": "my_spectrum", "flossing_loss": "my_flossing_loss", "effective_rank":
        "my_effective_rank", "flossing_gradient": "flossing_value_and_gradient",
        "still_falling": "loss_still_falling"}


def _demo_01(f, name):
    lesson = LESSON["01"]
    bp, rate = lesson.check_backprop_norms.reference, lesson.check_growth_rate.reference
    if name == "backprop_norms":
        bp = checking.pick(name, f, lesson.check_backprop_norms)
    elif name == "growth_rate":
        rate = checking.pick(name, f, lesson.check_growth_rate)
    elif name == "one_step_jacobian":
        jac = checking.pick(name, f, lesson.check_one_step_jacobian)
        params = fl.init_rnn(6, 1.5, seed=0)
        a = np.random.default_rng(0).normal(size=6)
        w = params["W"].copy()
        assert np.allclose(jac(params, a), fl.jacobian(params, a)) and np.array_equal(params["W"], w)
        return
    for skip in (0, 10):                       # Question 2 sets the slider to 0
        r = lesson.rate_vs_exponent(bp, rate, gains=(1.5,), n_units=8, seq_len=60, seeds=(0,),
                                    skip=skip)
        assert np.isfinite(r.rates).all()


def _demo_02(f, name):
    lesson = LESSON["02"]
    if name == "qr_step":
        step = checking.pick(name, f, lesson.check_qr_step)
        q, logs = step(np.diag([2.0, 0.5]), np.eye(2))
        assert np.allclose(np.asarray(logs, dtype=float), np.log([2.0, 0.5]))
        return
    spectrum = checking.pick("my_spectrum", f if name == "spectrum" else None, lesson.check_spectrum)
    log_det = checking.pick("log_det_average", f if name == "log_det_average" else None,
                            lesson.check_log_det_average)
    for matrix in lesson.example_matrices().values():
        computed, expected = lesson.linear_map_check(spectrum, matrix)
        assert np.allclose(computed, expected, atol=1e-4)
    params = fl.autonomous(fl.init_rnn(6, 2.0, seed=0))
    _, pre = fl.run_rnn(params, np.zeros((60, 1)), h0=fl.random_state(6, 0),
                        return_preactivations=True)
    jacobians = np.stack([fl.jacobian(params, a) for a in pre])
    lhs = np.sum(spectrum(jacobians, fl.random_frame(6, 6, 0), 10))
    assert abs(lhs - log_det(jacobians, 10)) < 1e-10           # the sum rule the demo prints


def _demo_03(f, name):
    lesson = LESSON["03"]
    if name == "copyltu":
        mine = checking.pick(name, f, lesson.check_copyltu)
        m = np.arange(9.0).reshape(3, 3)
        assert np.allclose(mine(m), lesson.reference_copyltu(m))
        return
    if name == "qr_vjp":
        vjp = checking.pick(name, f, lesson.check_qr_vjp)
        best = lesson.fd_best_over_shapes(shapes=((1, 1), (3, 2)), vjp=vjp)
        assert all(err < 1e-8 for *_, err, _ in best)
        return
    closed = checking.pick(name, f, lesson.check_logdet_gradient)
    curve = lesson.logdet_gradient_vs_conditioning(log10_sigma_min=(-8.0, -2.0), closed_form=closed)
    assert curve.err_closed[-1] < 1e-10
    r = lesson.linear_network_gradient(4, 4, 10, closed_form=closed, n_directions=2)
    assert np.allclose(r.autograd, r.closed, rtol=1e-8)


def _demo_04(f, name):
    lesson = LESSON["04"]
    if name == "still_falling":
        still = checking.pick(name, f, lesson.check_still_falling)
        losses = 0.2 * np.exp(-np.arange(40) / 8)
        kept = losses.copy()
        assert bool(still(losses)) and np.array_equal(losses, kept)
        return
    if name == "flossing_loss":
        mine = checking.pick("my_flossing_loss", f, lesson.check_flossing_loss)
        params = fl.init_rnn(5, 1.5, seed=0)
        bits = fl.random_bits(40, 1, 0)
        assert np.isclose(float(mine(params, bits, 2, 0.0)), fl.flossing_loss(params, bits, 2, 0.0))
        return
    vg = checking.pick(name, f if name == "flossing_gradient" else None,
                       lesson.check_flossing_gradient)
    adam = checking.pick(name, f if name == "adam_step" else None, lesson.check_adam_step)
    loop = lesson.floss_with(vg, adam, n_units=5, n_exponents=2, n_steps=3)
    assert np.isfinite(loop.losses).all()
    # the demo prints the spectrum of the saved parameters before and after: they must differ
    assert not np.array_equal(loop.params_before["W"], loop.params_after["W"])


def _demo_05(f, name):
    lesson = LESSON["05"]
    picked = {n: checking.pick(n, f if n == name else None, getattr(lesson, f"check_{n}"))
              for n in ("xor_targets", "parity_targets", "task_loss", "scored_accuracy")}
    batch = fl.make_batch("parity", delay=9, batch_size=8, seed=1, order=3)
    bits = batch.inputs[..., 0].astype(int)
    assert np.array_equal(np.asarray(picked["xor_targets"](bits, 4))[4:],
                          lesson.reference_xor_targets(bits, 4)[4:])
    targets = picked["parity_targets"](bits, 9, 3)[..., None].astype(float)
    logits = lesson.untrained_logits(batch, n_units=8, seed=0)
    loss = picked["task_loss"](logits, targets, batch.mask)
    acc = picked["scored_accuracy"](logits, targets, batch.mask)
    assert np.isclose(loss, lesson.reference_task_loss(logits, batch.targets, batch.mask))
    assert np.isclose(acc, fl.accuracy(logits, batch.targets, batch.mask))


def _demo_06(f, name):
    lesson = LESSON["06"]
    my = {n: checking.pick(n, f if n == name else None, getattr(lesson, f"check_{n}"))
          for n in ("log10_condition", "effective_rank", "weight_gradient")}
    batch = fl.make_batch("copy", 5, batch_size=4, seed=6)
    params = fl.init_rnn(8, 1.2, seed=0)
    pieces = lesson.gradient_pieces(params, batch)
    grad = my["weight_gradient"](pieces.states, pieces.pre, pieces.deltas)
    assert np.allclose(grad, fl.weight_gradient(params, batch)) if hasattr(fl, "weight_gradient") \
        else np.isfinite(grad).all()
    assert np.isclose(my["effective_rank"](grad), fl.effective_rank(grad), rtol=1e-6)
    assert np.isfinite(my["log10_condition"](lesson.jacobian_log_sv(params, 4, window=20)))


def _demo_07(f, name):
    lesson = LESSON["07"]
    if name == "cell_jacobian":
        jac = checking.pick(name, f, lesson.check_cell_jacobian)
        mine, ref = lesson.cell_spectrum_with(jac, "GRU", 3, 1.0, 40)
        assert np.allclose(mine, ref, atol=1e-10)
        return
    log_r = checking.pick(name, f if name == "batched_log_r" else None,
                          lesson.check_batched_log_r)
    loss = checking.pick(name, f if name == "ensemble_flossing_loss" else None,
                         lesson.check_ensemble_flossing_loss)
    out = lesson.ensemble_floss_with(log_r, loss, gains=(1.0, 1.5), n_units=4, n_exponents=2,
                                     n_steps=2)
    assert np.isfinite(out.losses).all()


def _demo_08(f, name):
    lesson = LESSON["08"]
    from flosslab.paper.stats import bootstrap_horizon
    my = {n: checking.pick(n, f if n == name else None, getattr(lesson, f"check_{n}"))
          for n in ("seed_summary", "horizon", "bootstrap_horizons")}
    rng = np.random.default_rng(3)
    delays = np.array([10, 20, 30, 40])
    acc = np.where(rng.uniform(size=(4, 5)) < [[0.9], [0.8], [0.5], [0.2]],
                   rng.uniform(0.9, 1.0, (4, 5)), rng.uniform(0.48, 0.55, (4, 5)))
    medians = [my["seed_summary"](row)[0] for row in acc]
    idx = lesson.bootstrap_indices(len(delays), acc.shape[1], 500, seed=0)
    boot = my["bootstrap_horizons"](acc, delays, idx, 0.9)
    low, high = np.quantile(boot, [0.05, 0.95], method="inverted_cdf")
    ref = bootstrap_horizon({int(d): row for d, row in zip(delays, acc)}, 0.9, n_boot=500)
    assert (my["horizon"](delays, medians, 0.9), low or None, high or None) == \
        (ref["horizon"], ref["low"], ref["high"])
    even = rng.integers(0, acc.shape[1], size=(len(delays), 200, 10))     # the bonus cell
    assert np.array_equal(my["bootstrap_horizons"](acc, delays, even, 0.9),
                          lesson.reference_bootstrap_horizons(acc, delays, even, 0.9))


DEMO = {"01": _demo_01, "02": _demo_02, "03": _demo_03, "04": _demo_04, "05": _demo_05,
        "06": _demo_06, "07": _demo_07, "08": _demo_08}


def _correct_answers():
    cases = []
    for number in sorted(NOTEBOOKS):
        for name in sorted({c for n, c, *_ in WRONG if n == number}):
            cases.append((number, name, None))                  # the notebook's solution
            cases += [(number, name, alt) for alt in ALTERNATIVES.get((number, name), [])]
    return cases


CORRECT = _correct_answers()


@pytest.mark.parametrize("number, name, alternative", CORRECT,
                         ids=[f"{n}-{c}-{a.__name__.lstrip('_') if a else 'solution'}"
                              for n, c, a in CORRECT])
def test_correct_answers_pass_and_run_their_demo(number, name, alternative, capsys):
    if number == "07":
        pytest.importorskip("torch")
    func = alternative or solutions(number)[STUB.get(name, name)]
    ok, out = check(number, name, func, capsys)
    assert ok, out
    DEMO[number](func, name)
    assert "the demos below use your" in capsys.readouterr().out
    picked = checking.pick(name, func, getattr(LESSON[number], f"check_{name}"))
    assert checking.whose(picked) == "your"
    reference = checking.pick(name, None, getattr(LESSON[number], f"check_{name}"))
    assert checking.whose(reference) == "the reference"


# --- the contract itself --------------------------------------------------------------------------

def test_pick_hands_the_demo_copies_so_an_in_place_answer_cannot_move_its_arrays(capsys):
    """A function that passes its check but writes into its inputs elsewhere (here: only when
    called with float32 arrays, which no check uses) still cannot change the demo's arrays."""
    lesson = LESSON["04"]

    def sneaky(theta, grad, mom1, mom2, tau, lr):
        if theta.dtype == np.float32:
            theta -= 1.0
        return lesson.reference_adam_step(theta, grad, mom1, mom2, tau, lr)

    adam = checking.pick("adam_step", sneaky, lesson.check_adam_step)
    theta = np.ones(3, dtype=np.float32)
    adam(theta, np.ones(3), np.zeros(3), np.zeros(3), 1, 0.1)
    assert np.array_equal(theta, np.ones(3))


def test_an_in_place_adam_step_given_copies_leaves_the_demos_saved_parameters_alone():
    """Issue 25: 04's Demo 1 keeps the parameters before flossing; an Adam step written in place
    moved them too (before = after). Through ``checking.protected`` (what ``pick`` returns) it
    cannot."""
    lesson = LESSON["04"]
    vg = lesson.check_flossing_gradient.reference
    raw = lesson.floss_with(vg, _adam_in_place, n_units=5, n_exponents=2, n_steps=2)
    assert np.array_equal(raw.params_before["W"], raw.params_after["W"])     # the hazard
    safe = lesson.floss_with(vg, checking.protected(_adam_in_place), n_units=5, n_exponents=2,
                             n_steps=2)
    assert not np.array_equal(safe.params_before["W"], safe.params_after["W"])
    assert np.allclose(safe.losses, lesson.floss_with(vg, lesson.reference_adam_step, n_units=5,
                                                      n_exponents=2, n_steps=2).losses)


@pytest.mark.parametrize("returned", [None, np.float64(3.0), np.zeros(()), [1, 2], "text",
                                      {"a": 1}, np.zeros((2, 2)), [[1, 2], [3]], 1j])
def test_any_return_type_gets_a_hint_never_an_exception(returned, capsys):
    for number in sorted(NOTEBOOKS):
        lesson = LESSON[number]
        if number == "07":
            continue                                # torch checkers: below, when torch is there
        for checker in [getattr(lesson, c) for c in dir(lesson)
                        if c.startswith("check_") and hasattr(getattr(lesson, c), "reference")]:
            assert not checker(lambda *args, **kwargs: returned)
            assert capsys.readouterr().out.startswith("Not yet")


def test_torch_checkers_take_any_return_type():
    torch = pytest.importorskip("torch")
    lesson = LESSON["07"]
    for returned in (None, torch.zeros(()), torch.zeros(3, dtype=torch.bfloat16), [1.0], "x"):
        for checker in (lesson.check_batched_log_r, lesson.check_ensemble_flossing_loss,
                        lesson.check_cell_jacobian):
            assert not checker(lambda *args: returned)


def test_every_check_is_quick(capsys):
    """Each checker on the notebook's solution: the slowest is printed (not asserted: timings are
    not tests); benchmarks read the same numbers with -s."""
    times = {}
    for number in sorted(NOTEBOOKS):
        if number == "07":
            pytest.importorskip("torch")
        sols = solutions(number)
        for name in sorted({c for n, c, *_ in WRONG if n == number}):
            start = time.perf_counter()
            ok, out = check(number, name, sols[STUB.get(name, name)], capsys)
            times[f"{number} {name}"] = time.perf_counter() - start
            assert ok, out
    slowest = max(times, key=times.get)
    with capsys.disabled():
        print(f"\nslowest check: {slowest} {times[slowest]:.2f} s; all: "
              + ", ".join(f"{k} {v:.2f}" for k, v in sorted(times.items(), key=lambda kv: -kv[1])))
