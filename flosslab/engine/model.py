"""The vanilla tanh RNN in torch (mirrors :mod:`flosslab.reference.model`).

    a_t = W h_{t-1} + U x_t + b,   h_t = tanh(a_t),   y_t = V h_t + c,
    D_t = dh_t/dh_{t-1} = diag(tanh'(a_t)) W      (applied by scaling rows, never formed densely)

The slope tanh'(a) is computed from the pre-activation (:func:`tanh_slope`), as in the reference.
Parameters are a dict ``{"W", "U", "b", "V", "c"}`` of tensors. An *ensemble* of E networks of the
same size stacks them along a leading axis: W (E, N, N), U (E, N, n_inputs), b (E, N),
V (E, n_outputs, N), c (E, n_outputs); its inputs and states carry the member axis right after
time: inputs (T, E, [batch,] n_inputs), states (T, E, [batch,] N).
"""
from __future__ import annotations

import numpy as onp
import torch

from ..core.conventions import PARAM_NAMES, init_rnn as _init_rnn_reference
from ..core.errors import H0_NOT_FINITE, INPUTS_NOT_FINITE, FlosslabError, NumericalError, params_not_finite
from ..core.validate import check_params, check_state
from .device import as_tensor, resolve_device, resolve_dtype

__all__ = ["init_rnn", "to_torch", "to_numpy", "is_ensemble", "n_units", "tanh_slope", "rnn_step",
           "run_rnn", "readout"]


def to_torch(params: dict, device=None, dtype=None, requires_grad: bool = False) -> dict:
    """numpy (or torch) parameters -> tensors on ``device`` ("cpu", "cuda", "auto") in ``dtype``."""
    if not isinstance(params, dict):
        check_params(params)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    out = {}
    for name, value in params.items():
        t = as_tensor(value, device, dtype, name=f"params[{name!r}]").detach().clone()
        out[name] = t.requires_grad_(requires_grad)
    return out


def to_numpy(params: dict) -> dict:
    """Tensors -> float64 numpy arrays (for the reference, plots and saving)."""
    return {name: onp.asarray(value.detach().cpu().double().numpy()) for name, value in params.items()}


def init_rnn(n_units: int, gain: float = 1.0, n_inputs: int = 1, n_outputs: int = 1,
             seed: int = 0, bias_scale: float = 0.1, device=None, dtype=None) -> dict:
    """The reference's random parameters (:func:`flosslab.core.conventions.init_rnn`, same draws
    from ``seed``) as tensors on ``device`` in ``dtype`` (default float64)."""
    return to_torch(_init_rnn_reference(n_units, gain, n_inputs, n_outputs, seed, bias_scale),
                    device, dtype)


def is_ensemble(params: dict) -> bool:
    """True when the parameters are stacked along a leading member axis (W of shape (E, N, N))."""
    return hasattr(params, "keys") and "W" in params and getattr(params["W"], "ndim", 0) == 3


def n_units(params: dict) -> int:
    """Number of recurrent units N."""
    return params["W"].shape[-1]


def tanh_slope(a: torch.Tensor) -> torch.Tensor:
    """``tanh'(a) = sech^2(a) = 4 e / (1 + e)^2`` with ``e = exp(-2|a|)``: no overflow, full
    relative precision while e is a normal number (|a| < 354 in float64, < 43 in float32), 0 from
    |a| ~ 372.5 (float64) or ~52 (float32), as :func:`flosslab.reference.model.tanh_slope`."""
    e = torch.exp(-2.0 * a.abs())
    return 4.0 * e / (1.0 + e) ** 2


def check_finite_params(params: dict) -> None:
    """Raise :class:`NumericalError` naming the first tensor of ``params`` with NaN or inf."""
    names = [name for name in PARAM_NAMES if name in params]
    finite = torch.stack([torch.isfinite(params[name].detach()).all() for name in names]).cpu()
    for name, ok in zip(names, finite.tolist()):
        if not ok:
            raise NumericalError(params_not_finite(name))


def _bias(params: dict, name: str, state_ndim: int) -> torch.Tensor:
    # an ensemble's bias (E, N) must broadcast against states (E, batch, N)
    b = params[name]
    return b.unsqueeze(-2) if b.ndim == 2 and state_ndim == 3 else b


def rnn_step(params: dict, h, x):
    """One step ``tanh(W h + U x + b)``. Single network: h (..., N), x (..., n_inputs).
    Ensemble: h (E, batch, N), x (E, batch, n_inputs). Returns the new state, shaped like h."""
    return torch.tanh(h @ params["W"].mT + x @ params["U"].mT + _bias(params, "b", h.ndim))


def run_rnn(params: dict, inputs, h0=None, return_preactivations: bool = False):
    """States h_1..h_T. Single network: inputs (T, n_inputs) or (T, batch, n_inputs) -> (T, [batch,] N).
    Ensemble: inputs (T, E, n_inputs) or (T, E, batch, n_inputs) -> (T, E, [batch,] N).
    ``h0`` defaults to zeros; with ``return_preactivations`` the pre-activations a_1..a_T come too.
    The input drive U x_t + b of all steps is computed in one product."""
    ens = is_ensemble(params)
    check_params(params, ensemble=ens, arrays="torch")
    w = params["W"]
    inputs = as_tensor(inputs, w.device, w.dtype, name="inputs")
    if inputs.ndim not in ((3, 4) if ens else (2, 3)) or inputs.shape[-1] != params["U"].shape[-1] \
            or (ens and inputs.shape[1] != w.shape[0]):
        lead = f"(T, E={w.shape[0]}, [batch,] n_inputs)" if ens else "(T, [batch,] n_inputs)"
        raise FlosslabError(f"inputs must have shape {lead} with n_inputs={params['U'].shape[-1]}, "
                            f"got {tuple(inputs.shape)}")
    if not bool(torch.isfinite(inputs).all()):
        raise FlosslabError(INPUTS_NOT_FINITE)
    squeeze = ens and inputs.ndim == 3
    if squeeze:
        inputs = inputs.unsqueeze(-2)
    drive = inputs @ params["U"].mT + _bias(params, "b", inputs.ndim - 1)
    if h0 is None:
        h = torch.zeros(drive.shape[1:], dtype=w.dtype, device=w.device)
    else:
        h = as_tensor(h0, w.device, w.dtype, name="the initial state h0")
        check_state("the initial state h0", h.shape, drive.shape[1:-2] + drive.shape[-1:]
                    if squeeze else drive.shape[1:])
        if not bool(torch.isfinite(h).all()):
            raise FlosslabError(H0_NOT_FINITE)
        h = h.unsqueeze(-2) if squeeze else h
    wt = w.mT
    states, pre = [], []
    for d in drive:
        a = d + h @ wt
        h = torch.tanh(a)
        states.append(h)
        if return_preactivations:
            pre.append(a)
    states = torch.stack(states)
    states = states.squeeze(-2) if squeeze else states
    if not return_preactivations:
        return states
    pre = torch.stack(pre)
    return states, (pre.squeeze(-2) if squeeze else pre)


def readout(params: dict, states):
    """Outputs ``y_t = V h_t + c``: states (..., N) -> (..., n_outputs) (ensemble: states
    (T, E, batch, N))."""
    if is_ensemble(params):
        return states @ params["V"].mT + _bias(params, "c", 3)
    return states @ params["V"].mT + params["c"]
