"""The vanilla tanh RNN and the action of its one-step Jacobian (numpy / autograd reference).

State convention (h-form, as in ``torch.nn.RNN``)::

    a_t = W h_{t-1} + U x_t + b        (pre-activation)
    h_t = tanh(a_t)                    (state: the Jacobian is taken of this variable)
    y_t = V h_t + c                    (readout, from the state h_t)

One-step Jacobian ``D_t = dh_t/dh_{t-1} = diag(s_t) W`` with the slope
``s_t = tanh'(a_t) = sech^2(a_t)``. The slope is computed from the pre-activation
(:func:`tanh_slope`), not as ``1 - h_t^2``: for a saturated unit h_t rounds to +-1 and
``1 - h_t^2`` loses its digits (it is exactly 0 from |a| ~ 19 on in float64), which would turn a
finite exponent into -inf. ``D_t`` is applied to a frame Q (N x k) by scaling the rows of ``W Q``;
the dense diagonal matrix is never formed.

The author's code iterates the pre-activation, ``x_t = J tanh(x_{t-1}) + ...``, but multiplies
its frame by ``diag(sech^2(x_t)) J`` at the new x_t (``getD`` in GradientFlossing_ExampleCode.jl):
with x_t = a_t that is ``diag(s_t) W``, the state-form Jacobian above. The Jacobian of the
pre-activation map a_{t-1} -> a_t, ``W diag(s_{t-1})``, is a different matrix (a teaching point,
not his code). Over t steps the two Jacobian products differ by one diagonal factor at each end:
``diag(s_t) W ... diag(s_1) W = S_t (W diag(s_{t-1}) ... W diag(s_0)) S_0^{-1}``
with S = diag(s). So their log singular values differ by at most the larger of max_i |log s_i| at
the two ends (sigma_i(A B) <= sigma_i(A) ||B||), and the exponents, divided by t, agree in the
long-time limit; on a short window they differ (measured: up to 0.13 per step on a 39-step
flossing window at g = 3): see :func:`flosslab.reference.lyapunov.lyapunov_spectrum`.

Parameters are a plain dict ``{"W", "U", "b", "V", "c"}`` so that autograd (and the torch engine)
can differentiate with respect to any of them.
"""
from __future__ import annotations

import autograd.numpy as np
import numpy as onp
from autograd.tracer import getval

from ..core.conventions import PARAM_NAMES
from ..core.errors import H0_NOT_FINITE, INPUTS_NOT_FINITE, FlosslabError, NumericalError, params_not_finite
from ..core.validate import check_params, check_state, real_array

__all__ = ["n_units", "tanh_slope", "rnn_step", "run_rnn", "readout", "jacobian_apply", "jacobian"]


def n_units(params: dict) -> int:
    """Number of recurrent units N."""
    return params["W"].shape[0]


def tanh_slope(a):
    """``tanh'(a) = sech^2(a) = 4 e / (1 + e)^2`` with ``e = exp(-2|a|)``: no overflow, and a few
    ulps of relative error (tested against mpmath) while e is a normal number, |a| < 354 in float64
    (|a| < 43 in float32); beyond, e is subnormal and the slope loses digits, and it is exactly 0
    from |a| ~ 372.5 (float64; ~52 in float32) or for |a| = inf."""
    e = np.exp(-2.0 * np.abs(a))
    return 4.0 * e / (1.0 + e) ** 2


def rnn_step(params: dict, h, x):
    """One step: ``tanh(W h + U x + b)``. h (..., N), x (..., n_inputs) -> (..., N)."""
    return np.tanh(h @ params["W"].T + x @ params["U"].T + params["b"])


def run_rnn(params: dict, inputs, h0=None, return_preactivations: bool = False):
    """States h_1..h_T for inputs of shape (T, n_inputs) or (T, batch, n_inputs).

    Returns an array of shape (T, N) or (T, batch, N) (and the pre-activations a_1..a_T of the same
    shape with ``return_preactivations``). ``h0`` defaults to zeros.
    """
    check_params(params, arrays="numpy")
    inputs = real_array("inputs", inputs)
    if inputs.ndim not in (2, 3) or inputs.shape[-1] != params["U"].shape[1]:
        raise FlosslabError(
            f"inputs must have shape (T, n_inputs) or (T, batch, n_inputs) with "
            f"n_inputs={params['U'].shape[1]}, got {tuple(inputs.shape)}")
    if not onp.all(onp.isfinite(inputs)):
        raise FlosslabError(INPUTS_NOT_FINITE)
    state_shape = inputs.shape[1:-1] + (n_units(params),)
    h = onp.zeros(state_shape) if h0 is None else check_h0(h0, state_shape)
    states, pre = [], []
    w_t, u_t = params["W"].T, params["U"].T
    for x in inputs:
        a = h @ w_t + x @ u_t + params["b"]
        h = np.tanh(a)
        states.append(h)
        pre.append(a)
    states = np.stack(states)
    return (states, np.stack(pre)) if return_preactivations else states


def check_h0(h0, shape):
    """A given initial state: real numbers of ``shape``, finite (a traced h0 is checked, kept)."""
    raw = real_array("the initial state h0", getval(h0))
    check_state("the initial state h0", raw.shape, shape)
    if not onp.all(onp.isfinite(raw)):
        raise FlosslabError(H0_NOT_FINITE)
    return raw if h0 is getval(h0) else h0


def readout(params: dict, states):
    """Outputs ``y_t = V h_t + c`` (logits for the binary tasks), shape (..., n_outputs)."""
    return states @ params["V"].T + params["c"]


def jacobian_apply(params: dict, a_new, frame):
    """``D_t Q = s_t[:, None] * (W Q)``, s_t = tanh'(a_t) at the pre-activation a_t of the step.

    a_new (N,), frame (N, k) -> (N, k). Rows are scaled; ``diag(s_t)`` is never formed.
    """
    return tanh_slope(a_new)[:, None] * (params["W"] @ frame)


def jacobian(params: dict, a_new):
    """Dense one-step Jacobian ``D_t = diag(tanh'(a_t)) W`` (N x N), for teaching and tests."""
    return tanh_slope(a_new)[:, None] * params["W"]


def check_finite_params(params: dict) -> None:
    """Raise :class:`NumericalError` naming the first array of ``params`` with NaN or inf."""
    for name in PARAM_NAMES:
        if name in params and not finite(params[name]):
            raise NumericalError(params_not_finite(name))


def finite(value) -> bool:
    """True when every entry of a (possibly autograd-traced) array is finite."""
    return bool(onp.all(onp.isfinite(getval(value))))
