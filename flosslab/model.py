"""The vanilla tanh RNN and the action of its one-step Jacobian (numpy / autograd reference).

State convention (h-form, as in ``torch.nn.RNN``)::

    a_t = W h_{t-1} + U x_t + b        (pre-activation)
    h_t = tanh(a_t)                    (state: the Jacobian is taken of this variable)
    y_t = V h_t + c                    (readout, from the state h_t)

One-step Jacobian ``D_t = dh_t/dh_{t-1} = diag(1 - h_t^2) W``. It is applied to a frame Q (N x k)
by scaling the rows of ``W Q``; the dense diagonal matrix is never formed.

Why the exponents equal those of the author's pre-activation form ``x_t = J tanh(x_{t-1}) + ...``
(there x is our a and J our W, with Jacobian ``J diag(sech^2(x_{t-1}))``): the two Jacobian products
over t steps are cyclic shifts of one another, ``diag(phi'_t) W ... diag(phi'_1) W`` versus
``W diag(phi'_{t-1}) ... W diag(phi'_0)``; they differ only by one bounded factor at each end, whose
contribution to (log of a singular value)/t vanishes as t grows.

Parameters are a plain dict ``{"W", "U", "b", "V", "c"}`` so that autograd (and the torch engine)
can differentiate with respect to any of them.
"""
from __future__ import annotations

import autograd.numpy as np
import numpy as onp

from .common import DYNAMIC_PARAMS, PARAM_NAMES, autonomous, init_rnn
from .config import FlosslabError

__all__ = ["PARAM_NAMES", "DYNAMIC_PARAMS", "init_rnn", "autonomous", "n_units", "rnn_step", "run_rnn",
           "readout", "jacobian_apply", "jacobian"]

def n_units(params: dict) -> int:
    """Number of recurrent units N."""
    return params["W"].shape[0]


def rnn_step(params: dict, h, x):
    """One step: ``tanh(W h + U x + b)``. h (..., N), x (..., n_inputs) -> (..., N)."""
    return np.tanh(h @ params["W"].T + x @ params["U"].T + params["b"])


def run_rnn(params: dict, inputs, h0=None):
    """States h_1..h_T for inputs of shape (T, n_inputs) or (T, batch, n_inputs).

    Returns an array of shape (T, N) or (T, batch, N). ``h0`` defaults to zeros.
    """
    inputs = onp.asarray(inputs, dtype=float)
    if inputs.ndim not in (2, 3) or inputs.shape[-1] != params["U"].shape[1]:
        raise FlosslabError(
            f"inputs must have shape (T, n_inputs) or (T, batch, n_inputs) with "
            f"n_inputs={params['U'].shape[1]}, got {tuple(inputs.shape)}")
    h = onp.zeros(inputs.shape[1:-1] + (n_units(params),)) if h0 is None else h0
    states = []
    for x in inputs:
        h = rnn_step(params, h, x)
        states.append(h)
    return np.stack(states)


def readout(params: dict, states):
    """Outputs ``y_t = V h_t + c`` (logits for the binary tasks), shape (..., n_outputs)."""
    return states @ params["V"].T + params["c"]


def jacobian_apply(params: dict, h_new, frame):
    """``D_t Q = (1 - h_t^2)[:, None] * (W Q)`` for the state h_t reached by the step.

    h_new (N,), frame (N, k) -> (N, k). Rows are scaled; ``diag(1 - h^2)`` is never formed.
    """
    return (1.0 - h_new ** 2)[:, None] * (params["W"] @ frame)


def jacobian(params: dict, h_new):
    """Dense one-step Jacobian ``D_t = diag(1 - h_t^2) W`` (N x N), for teaching and tests."""
    return (1.0 - h_new ** 2)[:, None] * params["W"]


