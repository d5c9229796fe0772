"""The vanilla RNN's state and frame recursions with a hand-written backward (the fast path).

Forward, for t = 1..T, from h_0 and the frame Q_0 (N x k), with drive d_t = U x_t + b::

    h_t = tanh(a_t),  a_t = W h_{t-1} + d_t,   s_t = tanh'(a_t) (from a_t: :func:`.model.tanh_slope`),
    P_t = W Q_{t-1},   Q'_t = s_t * P_t (rows scaled),   Q_t = Q'_t, or at a QR step Q_t R_t = Q'_t

(at a QR step whose slopes are graded and whose R has small pivots, the rows of Q'_t are factored
in order of decreasing slope: see :func:`graded_steps`; the factors Q_t, R_t are the same)

and the output is the sum of log|diag R_t| over the QR steps after the transient (k). The frame is
stored transposed (F = Q^T, k x N, so that F'_t = (F_{t-1} W^T) * s_t): the scaled frames F'_t of
all steps in one buffer, the frames after the QR steps as LAPACK returns them (column-major Q, so
Q^T is contiguous: neither needs a copy). The gradient of W from the frame, ``sum_t G_t^T F_{t-1}``,
is accumulated step by step (a batched product with inner size k; one product over all steps would
first have to permute (T, E, k, N) arrays, which costs three times as much on a CPU). Autograd
would record about eight small operations per step;
here the whole loop is one ``torch.autograd.Function`` whose backward walks the steps in reverse::

    at a QR step:  Rb = diag(c / R_ii) (c = upstream gradient after the transient, else 0),
                   Q'b = (Qb + Q copyltu(R Rb^T - Qb^T Q)) R^{-T}, computed without cancellation
                   as :func:`.orthonormalize.qr_vjp` (the lower triangle of R Rb^T is diag(c),
                   so R_ii is never divided by there; on a graded frame the complement of Q
                   enters, from a complete QR of Q'_t's sorted rows)
    frame:         G_t = s_t * Q'b_t,   Q_{t-1}b = W^T G_t
    slopes:        s_t * s_b,t = s_t * sum_i (Q'b_t * P_t)_i = sum_i (Q'b_t * Q'_t)_i =: u_t
    state:         a_b,t = s_t * h_b,t + s'(a_t) s_b,t = s_t * h_b,t - 2 h_t u_t,   h_b,t-1 = W^T a_b,t
                   (s'(a) = -2 tanh(a) s(a), so the slope's derivative needs no division by s)
    at the end:    Wb = sum_t (G_t Q_{t-1}^T + a_b,t h_{t-1}^T),   d_b,t = a_b,t

(u_t uses the scaled frame Q'_t, which the forward pass keeps anyway, instead of the products P_t:
one (T, E, k, N) array fewer, and no division by s_t, which underflows for saturated units.)

Everything is batched over a leading member axis E (ensembles; E = 1 for one network). The QR
schedule is a fixed interval m or "auto" (:class:`flosslab.core.schedule.QRSchedule`), decided in
the forward pass and replayed backward. Tested against torch autograd (the generic path of
:mod:`flosslab.engine.lyapunov`) and the numpy reference.

Speed (CPU): the per-step arrays come from a buffer pool (:mod:`flosslab.engine.workspace`: a fresh
CPU array of this size is page-faulted in on first write, a large part of a step), each step
writes straight into them (no copies), the sums u_t are one operation after the loop, and the loops
run on one thread for the frame sizes in :data:`SINGLE_THREAD_STEP`.
"""
from __future__ import annotations

import numpy as onp
import torch

from ..core.conventions import GRADED_ROWS
from ..core.errors import NO_DERIVATIVE_COLLAPSED, STATE_NOT_FINITE, NumericalError
from ..core.schedule import DEFAULT_CEILING
from .device import one_cpu_thread
from .model import tanh_slope
from .orthonormalize import copyltu, orthonormalize, qr_schedule, qr_vjp, small_pivots
from .workspace import POOL

#: On a CPU the per-step loops run on one thread while the frames of all members hold at most this
#: many numbers (E * N * k): their small products and QRs gain nothing from a second thread and
#: lose much when another process shares the cores (``benchmarks/engine_threads.py`` measures it).
#: The large products (the gradient of W) use torch's thread count. 0 leaves the count alone.
SINGLE_THREAD_STEP = 20_000


def graded_steps(slopes: torch.Tensor) -> set:
    """Steps t whose slopes s_t (T, E, 1, N) span more than 1/GRADED_ROWS in some member: there row
    i of Q'_t is s_t,i times a row of W Q (of norm <= ||W||), so the frame's rows are graded
    (:data:`flosslab.core.conventions.GRADED_ROWS`). At such a QR step, if the plain QR shows small
    pivots (:func:`.orthonormalize.small_pivots`: the small rows make up some R_jj), the QR is
    redone with the rows in order of decreasing slope and the backward step uses the complement of
    the frame (:func:`.orthonormalize.qr_vjp`); elsewhere the plain QR is as accurate, and faster."""
    low = slopes.amin(-1) < GRADED_ROWS * slopes.amax(-1)
    return set(low.flatten(1).any(1).nonzero().flatten().tolist())


def _step_threads(frame: torch.Tensor):
    return one_cpu_thread(frame, SINGLE_THREAD_STEP)


class RNNFrameRecursion(torch.autograd.Function):
    """``total, logs, ends = RNNFrameRecursion.apply(W, drive, h0, frame, schedule, method)``:
    W (E, N, N), drive (T, E, N), h0 (E, N), frame (E, N, k), a fresh
    :class:`~flosslab.core.schedule.QRSchedule` -> total (E, k),
    the summed log|R_ii| after the transient; logs (n_QR, E, k) and ends (n_QR,) (steps counted
    from the end of the transient) for the running estimate. Differentiable in W and drive."""

    @staticmethod
    def forward(ctx, w, drive, h0, frame, schedule, method):
        seq_len, (e, n, k) = drive.shape[0], frame.shape
        kw = dict(dtype=frame.dtype, device=frame.device)
        with _step_threads(frame):   # see SINGLE_THREAD_STEP
            states = torch.empty((seq_len + 1, e, 1, n), **kw)
            pre = torch.empty((seq_len, e, 1, n), **kw)   # pre-activations a_t
            states[0, :, 0] = h0
            wt = w.mT
            hs, pres = states.unbind(0), pre.unbind(0)
            for t in range(seq_len):
                torch.baddbmm(drive[t].unsqueeze(1), hs[t], wt, out=pres[t])
                torch.tanh(pres[t], out=hs[t + 1])
            if not bool(torch.isfinite(states).all()):
                raise NumericalError(STATE_NOT_FINITE)
            slopes = tanh_slope(pre)                       # (T, E, 1, N): scales the columns of F
            graded = graded_steps(slopes)                  # their QRs sort the rows by slope
            orders = torch.argsort(slopes[:, :, 0], dim=-1, descending=True, stable=True) \
                if graded else None
            # frames[t + 1] holds F'_t (the scaled frame, before any QR); the frame after a QR step,
            # Q_t^T, is LAPACK's own output (contiguous as F), kept in ``qs``: no copies either way
            frames = POOL.take((seq_len + 1, e, k, n), **kw)
            frames[0] = frame.mT
            fs, ss = frames.unbind(0), slopes.unbind(0)
            rs, qs = {}, {}                                    # R_t and Q_t^T at the QR steps
            careful = set()                                    # QRs of sorted rows
            current = fs[0]
            for t in range(seq_len):
                torch.bmm(current, wt, out=fs[t + 1])
                fs[t + 1].mul_(ss[t])
                current = fs[t + 1]
                if schedule.due(t):
                    a = fs[t + 1].mT
                    q, r = orthonormalize(a, method, None)
                    if t in graded and small_pivots(a, r):        # redo with sorted rows
                        q, r = orthonormalize(a, method, orders[t])
                        careful.add(t)
                    current = qs[t] = q.mT.contiguous()
                    rs[t] = r
                    schedule.record(t, torch.log(torch.diagonal(r, dim1=-2, dim2=-1).abs()))
        logs = torch.stack(schedule.logs)
        ctx.save_for_backward(w, states, slopes)
        ctx.frames, ctx.rs, ctx.qs, ctx.transient = frames, rs, qs, schedule.transient
        ctx.orders = {t: orders[t] for t in careful}
        ctx.collapsed = bool(torch.stack([torch.diagonal(r, dim1=-2, dim2=-1) for r in rs.values()])
                             .eq(0).any())
        POOL.give_when_freed(ctx, frames)
        ctx.mark_non_differentiable(logs)
        return logs.sum(0), logs, torch.tensor(schedule.ends)

    @staticmethod
    def backward(ctx, total_bar, _logs_bar, _ends_bar):
        if ctx.collapsed:
            raise NumericalError(NO_DERIVATIVE_COLLAPSED)
        w, states, slopes = ctx.saved_tensors
        frames = ctx.frames
        seq_len, e, k, n = frames.shape[0] - 1, *frames.shape[1:]
        fbars = POOL.take((seq_len, e, k, n), w.dtype, w.device)   # gradient of F'_t
        fbars[-1].zero_()
        g = torch.empty((e, k, n), dtype=w.dtype, device=w.device)   # G_t^T = F'b_t * s_t
        w_bar = torch.zeros_like(w)
        with _step_threads(frames[0]):
            fb, ss, fs = fbars.unbind(0), slopes.unbind(0), frames.unbind(0)
            for t in reversed(range(seq_len)):
                if t in ctx.rs:                           # fb[t] holds the gradient of Q_t
                    r, q = ctx.rs[t], ctx.qs[t].mT
                    if t in ctx.orders:                    # small pivots: no cancellation
                        lower = torch.zeros_like(r)        # copyltu(R Rb^T) = diag(c)
                        if t >= ctx.transient:
                            lower.diagonal(dim1=-2, dim2=-1).copy_(total_bar)
                        x = qr_vjp(fs[t + 1].mT, q, r, fb[t].mT, lower, ctx.orders[t],
                                   careful=True, check=False)
                    else:                                  # the textbook form, fewer steps
                        m = torch.bmm(fb[t], q).neg_()     # M = R Rb^T - Qb^T Q, R Rb^T = diag(c)
                        if t >= ctx.transient:
                            m.diagonal(dim1=-2, dim2=-1).add_(total_bar)
                        x = torch.baddbmm(fb[t].mT, q, copyltu(m))
                        x = torch.linalg.solve_triangular(r.mT, x, upper=False, left=False)
                    fb[t].copy_(x.mT)
                torch.mul(fb[t], ss[t], out=g)
                before = fs[0] if t == 0 else ctx.qs.get(t - 1, fs[t])   # the frame F_{t-1}
                w_bar.baddbmm_(g.mT, before)               # per step: no (T, E, k, N) permutation
                if t > 0:
                    torch.bmm(g, w, out=fb[t - 1])
        # u_t = sum over the frame's vectors of F'b_t * F'_t, all steps at once (frames[1:] holds
        # F'_t at every step, QR or not), then -2 h_t u_t: the start of a_b,t
        u = fbars.mul_(frames[1:]).sum(-2, keepdim=True)            # (T, E, 1, N)
        POOL.give(fbars)
        a_bar = u.mul_(states[1:]).mul_(-2.0)
        with _step_threads(frames[0]):
            hbar = torch.zeros((e, 1, n), dtype=w.dtype, device=w.device)
            ab, ss = a_bar.unbind(0), slopes.unbind(0)
            for t in reversed(range(seq_len)):
                ab[t].addcmul_(ss[t], hbar)
                hbar = torch.bmm(ab[t], w)
        if e > 1:
            w_bar += torch.einsum("tei,tej->eij", a_bar[:, :, 0], states[:-1, :, 0])
        else:
            w_bar[0] += a_bar[:, 0, 0].mT @ states[:-1, 0, 0]
        return w_bar, a_bar[:, :, 0], None, None, None, None


def rnn_frame_recursion(w, drive, h0, frame, reorth_every=1, transient: int = 0,
                        method: str = "auto", ceiling: int = DEFAULT_CEILING):
    """Summed log|R_ii| after the transient (E, k), per-QR logs (n_QR, E, k) and QR end steps
    (n_QR,) of the RNN with drive d_t = U x_t + b (T, E, N). See :class:`RNNFrameRecursion`."""
    schedule = qr_schedule(drive.shape[0], reorth_every, transient, frame.dtype, ceiling)
    return RNNFrameRecursion.apply(w, drive, h0, frame, schedule, method)


def tanh_(x: torch.Tensor) -> torch.Tensor:
    """tanh in place. On a CPU through numpy, whose vectorised tanh is within 1 ulp like torch's
    but about ten times faster (torch 2.13's CPU tanh: 50 us for 20,480 float32 numbers, numpy's
    5 us; a step of the training recursion is otherwise one 47 us product)."""
    if x.device.type == "cpu" and x.is_contiguous() and not x.requires_grad \
            and x.dtype in (torch.float32, torch.float64):
        a = x.numpy()
        onp.tanh(a, out=a)
        return x
    return x.tanh_()


def tanh_into(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out = tanh(x)``, through numpy on a CPU as :func:`tanh_`."""
    if x.device.type == "cpu" and x.is_contiguous() and out.is_contiguous() \
            and not x.requires_grad and x.dtype in (torch.float32, torch.float64):
        onp.tanh(x.numpy(), out=out.numpy())
        return out
    return torch.tanh(x, out=out)


class TaskLossRecursion(torch.autograd.Function):
    """``losses = TaskLossRecursion.apply(W, U, b, V, c, inputs, targets, weights[, h0,
    from_pre])``: one training epoch's loss of each member, with a hand-written backward (the fast
    path of :func:`flosslab.engine.training.train_members`).

    W (E, N, N), U (E, N, I), b (E, N), V (E, O, N), c (E, O); inputs (T, E, B, I), targets
    (T, E, B, O), weights (T, E) -> losses (E,)::

        h_t = tanh(a_t),  a_t = W h_{t-1} + U x_t + b (h_0 = 0, or ``h0`` (E, B, N)),
        y_t = V h_t + c (or, ``from_pre``, the author's readout y_t = V a_t + c),
        loss_e = sum_{t, b, o} weights[t, e] * (log(1 + e^y) - z y)

    (exactly the expressions of :func:`~flosslab.engine.model.run_rnn`, ``readout`` and
    ``bce``, the same products in the same order; tanh comes from :func:`tanh_`, within 1 ulp of
    torch's). The backward walks the steps in reverse::

        y_b,t = (sigmoid(y_t) - z_t) weights[t] l_b         (l_b: the upstream gradient)
        a_b,t = (y_b,t V + h_b,t) * (1 - h_t^2),   h_b,t-1 = a_b,t W
              (from_pre: a_b,t = h_b,t * (1 - h_t^2) + y_b,t V, and Vb += y_b,t^T a_t)
        Wb += a_b,t^T h_{t-1},  Ub += a_b,t^T x_t,  Vb += y_b,t^T h_t   (per step, small products)
        bb = sum_t,b a_b,t,  cb = sum_t,b y_b,t,  h0b = h_b,0

    No (T, E, B, N) array is returned or kept by autograd: the states live in a recycled buffer
    (:mod:`.workspace`; a fresh one costs page faults comparable to the epoch's arithmetic) and
    each step's a_b,t is a small scratch array. Tested against torch autograd of the plain
    expressions (``tests/engine/test_training_speed_path.py``)."""

    @staticmethod
    def forward(ctx, w, u, b, v, c, inputs, targets, weights, h0=None, from_pre=False):
        seq_len, e, batch, _ = inputs.shape
        n = w.shape[-1]
        kw = dict(dtype=w.dtype, device=w.device)
        drive = POOL.take((seq_len, e, batch, n), **kw)
        torch.matmul(inputs, u.mT, out=drive)
        drive.add_(b.unsqueeze(-2))                       # U x_t + b, as run_rnn
        states = POOL.take((seq_len + 1, e, batch, n), **kw)
        if h0 is None:
            states[0].zero_()
        else:
            states[0].copy_(h0)
        wt, hs = w.mT, states.unbind(0)
        pre = None
        if from_pre:                                      # keep a_t for the readout
            pre = POOL.take((seq_len, e, batch, n), **kw)
            for t in range(seq_len):
                tanh_into(torch.baddbmm(drive[t], hs[t], wt, out=pre[t]), hs[t + 1])
        else:
            for t in range(seq_len):                      # d_t + h W^T, then tanh
                tanh_(torch.baddbmm(drive[t], hs[t], wt, out=hs[t + 1]))
        POOL.give(drive)
        logits = (pre if from_pre else states[1:]) @ v.mT + c.unsqueeze(-2)   # as readout
        bce = torch.logaddexp(torch.zeros_like(logits), logits) - targets * logits
        losses = torch.einsum("tebo,te->e", bce, weights)
        ctx.save_for_backward(w, u, v, inputs, targets, weights, logits)
        ctx.states, ctx.pre, ctx.from_pre = states, pre, from_pre
        POOL.give_when_freed(ctx, states)
        if pre is not None:
            POOL.give_when_freed(ctx, pre)
        return losses

    @staticmethod
    def backward(ctx, loss_bar):
        w, u, v, inputs, targets, weights, logits = ctx.saved_tensors
        states, pre, from_pre = ctx.states, ctx.pre, ctx.from_pre
        want_h0 = len(ctx.needs_input_grad) > 8 and ctx.needs_input_grad[8]
        seq_len = inputs.shape[0]
        y_bar = torch.sigmoid(logits).sub_(targets).mul_((weights * loss_bar)[:, :, None, None])
        w_bar, u_bar, v_bar = torch.zeros_like(w), torch.zeros_like(u), torch.zeros_like(v)
        b_bar = torch.zeros(w.shape[:-1], dtype=w.dtype, device=w.device)
        a_bar = torch.empty_like(states[0])               # a_b,t of one step
        scratch = torch.empty_like(states[0])
        hs, ys, xs = states.unbind(0), y_bar.unbind(0), inputs.unbind(0)
        hbar = None
        for t in reversed(range(seq_len)):
            h = hs[t + 1]
            if from_pre:                                  # y_t = V a_t + c
                v_bar.baddbmm_(ys[t].mT, pre[t])
                if hbar is None:
                    torch.bmm(ys[t], v, out=a_bar)
                else:                                     # h_b,t * (1 - h^2) + y_b,t V
                    a_bar.copy_(hbar).addcmul_(torch.mul(hbar, h, out=scratch), h, value=-1.0)
                    a_bar.baddbmm_(ys[t], v)
            else:
                v_bar.baddbmm_(ys[t].mT, h)
                if hbar is None:
                    torch.bmm(ys[t], v, out=a_bar)
                else:
                    torch.baddbmm(hbar, ys[t], v, out=a_bar)
                a_bar.addcmul_(torch.mul(a_bar, h, out=scratch), h, value=-1.0)   # * (1 - h^2)
            w_bar.baddbmm_(a_bar.mT, hs[t])
            u_bar.baddbmm_(a_bar.mT, xs[t])
            b_bar.add_(a_bar.sum(-2))
            if t > 0 or want_h0:
                hbar = torch.bmm(a_bar, w)
        c_bar = y_bar.sum((0, 2))
        h0_bar = hbar if want_h0 else None
        return w_bar, u_bar, b_bar, v_bar, c_bar, None, None, None, h0_bar, None


def task_losses(params: dict, inputs, targets, weights, h0=None,
                from_pre: bool = False) -> torch.Tensor:
    """Each member's weighted task loss (E,) for ensemble ``params`` (W, U, b, V, c stacked),
    inputs (T, E, B, I), targets (T, E, B, O), weights (T, E), initial states ``h0`` (E, B, N;
    default 0), readout from the pre-activation with ``from_pre``: :class:`TaskLossRecursion`."""
    return TaskLossRecursion.apply(params["W"], params["U"], params["b"], params["V"],
                                   params["c"], inputs, targets, weights, h0, from_pre)
