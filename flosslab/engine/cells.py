"""Spectra and flossing for any torch recurrent cell, through autodiff Jacobians.

A *step function* maps a flat state z (D,) and an input x (n_inputs,) to the next state. For
``torch.nn.RNNCell`` and ``GRUCell`` z = h (D = N); for ``torch.nn.LSTMCell`` z = (h, c)
concatenated (D = 2N), so the exponents are those of the full state. Along a trajectory
z_1..z_T the one-step Jacobians D_t = dz_t/dz_{t-1} (D x D) are formed for all steps at once with
``torch.func.vmap(torch.func.jacrev(step))`` and fed to the generic QR loop
(:func:`flosslab.engine.lyapunov.accumulate_spectrum`). The result is differentiable with respect
to the cell's parameters (torch autograd through jacrev), so the same flossing loss applies.

The vanilla RNN of :mod:`flosslab.engine.model` keeps its analytic fast path; :func:`rnn_step_function`
gives its step in this form so that the two paths can be compared (tested). Costs: D^2 per step for
each Jacobian instead of N k, fine for the sizes where a generic cell is studied.
"""
from __future__ import annotations

import numpy as onp
import torch
from torch.func import functional_call, jacrev, vmap

from ..core.conventions import (
    FLOSS_SEQ_LEN,
    FLOSS_TRANSIENT,
    default_transient,
    random_bits,
    random_frame,
    random_state,
)
from ..core.errors import (
    INPUTS_NOT_FINITE,
    NEED_INPUTS_OR_SEQ_LEN,
    FlosslabError,
    NumericalError,
    flossing_diverged,
)
from ..core.progress import progress_bar
from ..core.records import FlossHistory
from ..core.trainconfig import describe_flossing
from ..core.validate import check_int, check_n_exponents, check_real
from .flossing import exponent_loss
from .lyapunov import accumulate_spectrum
from .model import rnn_step

__all__ = ["cell_step_function", "rnn_step_function", "state_size", "cell_trajectory",
           "cell_jacobians", "cell_spectrum", "cell_flossing_loss", "floss_cell"]


def state_size(cell) -> int:
    """D, the length of the flat state: N for RNN/GRU cells, 2N for an LSTM cell (h and c)."""
    if isinstance(cell, torch.nn.LSTMCell):
        return 2 * cell.hidden_size
    if isinstance(cell, (torch.nn.RNNCell, torch.nn.GRUCell)):
        return cell.hidden_size
    raise FlosslabError(f"expected torch.nn.RNNCell, GRUCell or LSTMCell, got "
                        f"{type(cell).__name__}; for anything else pass a step function and D")


def cell_step_function(cell, params: dict | None = None):
    """``step(z, x)`` for a torch cell, evaluated with ``params`` (default: the cell's own
    parameters, so that gradients reach them). LSTM: z = concat(h, c)."""
    if params is None:
        params = dict(cell.named_parameters())
    if isinstance(cell, torch.nn.LSTMCell):
        n = cell.hidden_size

        def step(z, x):
            h, c = functional_call(cell, params, (x, (z[:n], z[n:])))
            return torch.cat([h, c])
        return step
    state_size(cell)   # raises for unsupported cells

    def step(z, x):
        return functional_call(cell, params, (x, z))
    return step


def rnn_step_function(params: dict):
    """The engine's vanilla RNN (params W, U, b tensors) as a step function ``tanh(W z + U x + b)``."""
    return lambda z, x: rnn_step(params, z, x)


def _step_and_size(cell_or_step, state_dim):
    if isinstance(cell_or_step, torch.nn.Module):
        return cell_step_function(cell_or_step), state_size(cell_or_step), \
            next(cell_or_step.parameters())
    if not callable(cell_or_step) or state_dim is None:
        raise FlosslabError("give a torch.nn.RNNCell/GRUCell/LSTMCell, or a step function "
                            "step(z, x) together with its state size D (state_dim=...)")
    return cell_or_step, check_int("the state size D", state_dim, minimum=1), None


def cell_trajectory(step, inputs, z0):
    """States z_1..z_T (T, D) from z0 (D,) and inputs (T, n_inputs)."""
    z, states = z0, []
    for x in inputs:
        z = step(z, x)
        states.append(z)
    return torch.stack(states)


def cell_jacobians(step, inputs, z0):
    """One-step Jacobians D_t = dz_t/dz_{t-1}, (T, D, D), at z_0..z_{T-1}, by vmap(jacrev)."""
    states = cell_trajectory(step, inputs, z0)
    if not bool(torch.isfinite(states.detach()).all()):
        raise NumericalError("the cell's state became NaN or infinite; check its weights and "
                             "inputs for NaN/inf")
    previous = torch.cat([z0.unsqueeze(0), states[:-1]])
    return vmap(jacrev(step, argnums=0))(previous, inputs)


def cell_spectrum(cell_or_step, inputs=None, seq_len=None, n_exponents=None, reorth_every=1,
                  transient=None, seed: int = 0, z0=None, return_history: bool = False,
                  method: str = "auto", state_dim=None, n_inputs=None, dtype=None,
                  device=None):
    """First k Lyapunov exponents (natural log per step) of a torch cell or step function along
    the trajectory driven by ``inputs`` (T, n_inputs) (or no input for ``seq_len``), as
    :func:`flosslab.engine.lyapunov.lyapunov_spectrum`: z0 defaults to U[-1, 1]^D from seed + 1,
    the frame to ``random_frame(D, k, seed)``, the transient to 10 + T/10. Returns a tensor (k,),
    differentiable with respect to the cell's parameters.
    """
    step, d, ref = _step_and_size(cell_or_step, state_dim)
    dtype = ref.dtype if ref is not None and dtype is None else (dtype or torch.float64)
    device = ref.device if ref is not None and device is None else device
    k = check_n_exponents(n_exponents, d)
    if inputs is None:
        if seq_len is None:
            raise FlosslabError(NEED_INPUTS_OR_SEQ_LEN)
        width = n_inputs if n_inputs is not None else getattr(cell_or_step, "input_size", 1)
        inputs = torch.zeros((check_int("the number of steps T", seq_len, minimum=1), width))
    inputs = torch.as_tensor(inputs, dtype=dtype, device=device)
    if inputs.ndim != 2:
        raise FlosslabError(f"inputs must have shape (T, n_inputs), got {tuple(inputs.shape)}")
    if not bool(torch.isfinite(inputs).all()):
        raise FlosslabError(INPUTS_NOT_FINITE)
    t_len = inputs.shape[0]
    transient = default_transient(t_len) if transient is None else transient
    if z0 is None:
        z0 = random_state(d, seed)
    z0 = torch.as_tensor(z0, dtype=dtype, device=device)
    jac = cell_jacobians(step, inputs, z0)
    frame = torch.as_tensor(random_frame(d, k, seed), dtype=dtype, device=device)
    return accumulate_spectrum(lambda t, q: jac[t] @ q, t_len, frame, reorth_every, transient,
                               return_history, method)


def cell_flossing_loss(cell_or_step, inputs, n_exponents=None, target: float = 0.0,
                       transient: int = FLOSS_TRANSIENT, reorth_every=1, seed: int = 0,
                       return_exponents: bool = False, state_dim=None):
    """Mean over i <= k of (lambda_i - target)^2 for a cell (as :func:`flossing_loss`)."""
    lam = cell_spectrum(cell_or_step, inputs, n_exponents=n_exponents, reorth_every=reorth_every,
                        transient=transient, seed=seed, state_dim=state_dim)
    loss = exponent_loss(lam, target)
    return (loss, lam) if return_exponents else loss


def floss_cell(cell, n_steps: int = 500, n_exponents=None, target: float = 0.0, lr: float = 1e-3,
               seq_len: int = FLOSS_SEQ_LEN, transient: int = FLOSS_TRANSIENT, reorth_every=1,
               seed: int = 0, progress=False, desc: str | None = None):
    """Floss all parameters of a torch cell in place with ``torch.optim.Adam`` (the same draws as
    :func:`flosslab.engine.flossing.floss`); returns the cell and a :class:`FlossHistory`."""
    n_steps = check_int("the number of flossing steps", n_steps, minimum=0)
    k = check_n_exponents(n_exponents, state_size(cell))
    target = check_real("the target exponent", target)
    lr = check_real("the learning rate", lr, minimum=0.0, strict_minimum=True)
    opt = torch.optim.Adam(cell.parameters(), lr=lr)
    losses, spectra = [], []
    bar = progress_bar(progress, n_steps, desc or f"{type(cell).__name__}: "
                       + describe_flossing(k, n_steps), leave=False)
    for step in range(n_steps):
        bits = random_bits(seq_len, cell.input_size, seed=[seed, step])
        loss, lam = cell_flossing_loss(cell, bits, k, target, transient, reorth_every,
                                       seed + step, True)
        if not bool(torch.isfinite(loss.detach())):
            raise NumericalError(flossing_diverged(float(loss), step))
        losses.append(float(loss.detach()))
        spectra.append(lam.detach().cpu().double().numpy())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
    bar.close()
    return cell, FlossHistory(onp.asarray(losses), onp.asarray(spectra).reshape(len(losses), k))
