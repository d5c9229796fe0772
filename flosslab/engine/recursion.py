"""The vanilla RNN's state and frame recursions with a hand-written backward (the fast path).

Forward, for t = 1..T, from h_0 and the frame Q_0 (N x k), with drive d_t = U x_t + b::

    h_t = tanh(a_t),  a_t = W h_{t-1} + d_t,   s_t = 1 - h_t^2 = sech^2(a_t) (computed from a_t),
    P_t = W Q_{t-1},   Q'_t = s_t * P_t (rows scaled),   Q_t = Q'_t, or at a QR step Q_t R_t = Q'_t

and the output is the sum of log|diag R_t| over the QR steps after the transient (k). The frame is
stored transposed (F = Q^T, k x N, so that F'_t = (F_{t-1} W^T) * s_t) because then the frames of
all steps stack into one (T k) x N matrix without copying, and the gradient of W from the frame is
one product, ``sum_t G_t^T F_{t-1}``. Autograd would record about eight small operations per step;
here the whole loop is one ``torch.autograd.Function`` whose backward walks the steps in reverse::

    at a QR step:  Rb = diag(c / R_ii) (c = upstream gradient after the transient, else 0),
                   M = R Rb^T - Qb^T Q,   Q'b = (Qb + Q copyltu(M)) R^{-T}   (as :mod:`flosslab.qr`;
                   the lower triangle of R Rb^T is diag(c), so R_ii is never divided by)
    frame:         s_b,t = sum_i (Q'b_t * P_t)_i,   G_t = s_t * Q'b_t,   Q_{t-1}b = W^T G_t
    state:         a_b,t = s_t * (h_b,t - 2 h_t s_b,t),   h_b,t-1 = W^T a_b,t
    at the end:    Wb = sum_t (G_t Q_{t-1}^T + a_b,t h_{t-1}^T),   d_b,t = a_b,t

Everything is batched over a leading member axis E (ensembles; E = 1 for one network). The QR
schedule is a fixed interval m or "auto" (:func:`flosslab.engine.orthonormalize.next_reorth_every`),
decided in the forward pass and replayed backward. Tested against torch autograd (the generic path
of :mod:`flosslab.engine.lyapunov`) and the numpy reference.
"""
from __future__ import annotations

import torch

from ..config import NumericalError
from .orthonormalize import DEFAULT_CEILING, QRSchedule, orthonormalize


def _copyltu(m):
    return torch.tril(m) + torch.tril(m, -1).mT


class RNNFrameRecursion(torch.autograd.Function):
    """``total, logs, ends = RNNFrameRecursion.apply(W, drive, h0, frame, reorth_every, transient,
    method, ceiling)``: W (E, N, N), drive (T, E, N), h0 (E, N), frame (E, N, k) -> total (E, k),
    the summed log|R_ii| after the transient; logs (n_QR, E, k) and ends (n_QR,) (steps counted
    from the end of the transient) for the running estimate. Differentiable in W and drive."""

    @staticmethod
    def forward(ctx, w, drive, h0, frame, reorth_every, transient, method, ceiling):
        n_steps, (e, n, k) = drive.shape[0], frame.shape
        kw = dict(dtype=frame.dtype, device=frame.device)
        states = torch.empty((n_steps + 1, e, 1, n), **kw)
        pre = torch.empty((n_steps, e, 1, n), **kw)       # pre-activations a_t
        states[0, :, 0] = h0
        wt = w.mT
        for t in range(n_steps):
            torch.baddbmm(drive[t].unsqueeze(1), states[t], wt, out=pre[t])
            torch.tanh(pre[t], out=states[t + 1])
        if not bool(torch.isfinite(states).all()):
            raise NumericalError("the network's state became NaN or infinite; check its weights")
        # s_t = 1 - h_t^2 computed as sech^2(a_t): 1 - h^2 cancels catastrophically for saturated
        # units (|h| near 1), which in float32 biases the smallest exponents by ~0.05 per step
        slopes = torch.cosh(pre).pow_(-2)                 # (T, E, 1, N): scales the columns of F
        frames = torch.empty((n_steps, e, k, n), **kw)    # F_{t-1} = Q_{t-1}^T
        prods = torch.empty((n_steps, e, k, n), **kw)     # P_t^T = F_{t-1} W^T
        schedule = QRSchedule(n_steps, reorth_every, transient, ceiling)
        f, qrs = frame.mT, {}
        for t in range(n_steps):
            frames[t] = f
            torch.bmm(f, wt, out=prods[t])
            f = prods[t] * slopes[t]
            if schedule.due(t):
                q, r = orthonormalize(f.mT, method)
                qrs[t] = (q, r)
                f = q.mT
                schedule.record(t, torch.log(torch.diagonal(r, dim1=-2, dim2=-1).abs()))
        logs, ends = schedule.logs, schedule.ends
        logs = torch.stack(logs)
        ctx.save_for_backward(w, states, slopes, frames, prods)
        ctx.qrs, ctx.transient = qrs, transient
        ctx.mark_non_differentiable(logs)
        return logs.sum(0), logs, torch.tensor(ends)

    @staticmethod
    def backward(ctx, total_bar, _logs_bar, _ends_bar):
        w, states, slopes, frames, prods = ctx.saved_tensors
        n_steps, e, k, n = frames.shape
        zero = torch.zeros_like(total_bar)
        gs = torch.empty_like(frames)                     # G_t^T
        slopes_bar = torch.empty_like(slopes)
        fbar = torch.zeros((e, k, n), dtype=w.dtype, device=w.device)
        for t in reversed(range(n_steps)):
            if t in ctx.qrs:
                q, r = ctx.qrs[t]
                c = total_bar if t >= ctx.transient else zero
                qbar = fbar.mT
                m = torch.diag_embed(c) - qbar.mT @ q
                x = qbar + q @ _copyltu(m)
                fbar = torch.linalg.solve_triangular(r.mT, x, upper=False, left=False).mT
            torch.sum(fbar * prods[t], dim=-2, keepdim=True, out=slopes_bar[t])
            torch.mul(fbar, slopes[t], out=gs[t])
            fbar = torch.bmm(gs[t], w)
        w_bar = torch.einsum("tekn,tekm->enm", gs, frames) if e > 1 else \
            (gs.reshape(n_steps * k, n).mT @ frames.reshape(n_steps * k, n)).unsqueeze(0)
        # state recursion, in reverse: only the slopes carry gradient into the states
        a_bar = torch.empty_like(slopes)                  # (T, E, 1, N)
        hbar = torch.zeros((e, 1, n), dtype=w.dtype, device=w.device)
        for t in reversed(range(n_steps)):
            h = states[t + 1]
            torch.mul(hbar - 2.0 * h * slopes_bar[t], slopes[t], out=a_bar[t])
            hbar = torch.bmm(a_bar[t], w)
        if e > 1:
            w_bar += torch.einsum("tei,tej->eij", a_bar[:, :, 0], states[:-1, :, 0])
        else:
            w_bar[0] += a_bar[:, 0, 0].mT @ states[:-1, 0, 0]
        return w_bar, a_bar[:, :, 0], None, None, None, None, None, None


def rnn_frame_recursion(w, drive, h0, frame, reorth_every=1, transient: int = 0,
                        method: str = "householder", ceiling: int = DEFAULT_CEILING):
    """Summed log|R_ii| after the transient (E, k), per-QR logs (n_QR, E, k) and QR end steps
    (n_QR,) of the RNN with drive d_t = U x_t + b (T, E, N). See :class:`RNNFrameRecursion`."""
    return RNNFrameRecursion.apply(w, drive, h0, frame, reorth_every, transient, method, ceiling)
