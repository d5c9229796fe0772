"""Gradient flossing: push the first k Lyapunov exponents toward a target by gradient descent.

    L_floss = mean over i <= k of (lambda_i - target)^2

The exponents come from one trajectory driven by task-like random bits (batch 1, a short window,
QR every step, as in the paper's code); the gradient flows back through the QR decompositions
(:mod:`flosslab.reference.qr`). Only the parameters that change the forward dynamics (W, U, b) are updated:
the readout has no effect on the exponents. Each call of :func:`floss` has its own Adam state
(the formulas of ``autograd.misc.optimizers.adam``, written out here so that they can be carried
on) unless it continues an earlier call: ``return_state=True`` also returns a
:class:`~flosslab.core.records.FlossState` and ``state=`` passes it back in, as the engine's.
"""
from __future__ import annotations

import autograd.numpy as np
import numpy as onp
from autograd.differential_operators import grad_and_aux
from autograd.tracer import getval

from ..core.conventions import DYNAMIC_PARAMS, FLOSS_SEQ_LEN, FLOSS_TRANSIENT, random_bits
from ..core.errors import (
    FlosslabError,
    NumericalError,
    floss_collapsed,
    floss_gradient_not_finite,
    flossing_diverged,
)
from ..core.progress import progress_bar
from ..core.records import FlossHistory, FlossState
from ..core.settings import single_blas_thread
from ..core.trainconfig import describe_flossing
from ..core.validate import check_int, check_n_exponents, check_params, check_real
from .lyapunov import lyapunov_spectrum
from .model import check_finite_params, n_units

__all__ = ["flossing_loss", "floss"]


def flossing_loss(params: dict, inputs, n_exponents=None, target: float = 0.0,
                  transient: int = FLOSS_TRANSIENT, reorth_every: int = 1, seed: int = 0,
                  return_exponents: bool = False):
    """Mean over i <= k of (lambda_i - target)^2 on the trajectory driven by ``inputs``.

    Raises :class:`NumericalError` when a flossed exponent is -inf (a collapsed frame), where the
    loss and its gradient are undefined."""
    lam = lyapunov_spectrum(params, inputs, n_exponents=n_exponents, reorth_every=reorth_every,
                            transient=transient, seed=seed)
    if not onp.all(onp.isfinite(getval(lam))):
        raise NumericalError(floss_collapsed())
    loss = np.mean((lam - target) ** 2)
    return (loss, lam) if return_exponents else loss


def floss(params: dict, n_steps: int = 500, n_exponents=None, target: float = 0.0,
          lr: float = 1e-3, seq_len: int = FLOSS_SEQ_LEN, transient: int = FLOSS_TRANSIENT,
          reorth_every: int = 1, seed: int = 0, progress=False, state=None,
          return_state: bool = False, desc: str | None = None):
    """Run ``n_steps`` flossing steps with Adam; return (new params, :class:`FlossHistory`), and
    with ``return_state`` the :class:`FlossState` to continue from.

    Each step draws fresh input bits (from ``seed`` and the step number). ``state`` continues an
    earlier call (pass the parameters it returned): steps are numbered on from ``state.step`` and
    Adam starts from its moments. W, U and b change; the readout V, c is returned unchanged.
    Raises :class:`NumericalError` if the loss becomes NaN.
    """
    check_params(params, arrays="numpy")
    check_finite_params(params)
    n_steps = check_int("the number of flossing steps", n_steps, minimum=0)
    seed = check_int("seed", seed, minimum=0)
    k = check_n_exponents(n_exponents, n_units(params))
    target = check_real("the target exponent", target)
    lr = check_real("the learning rate", lr, minimum=0.0, strict_minimum=True)
    transient = check_int("the flossing transient", transient, minimum=0)
    seq_len = check_int("the flossing window", seq_len, minimum=transient + 1)
    n_inputs = params["U"].shape[1]
    dynamic = {name: params[name] for name in DYNAMIC_PARAMS}
    state = _check_state(state, dynamic)
    start = state.step
    frozen = {name: value for name, value in params.items() if name not in DYNAMIC_PARAMS}
    losses, spectra = [], []
    bar = progress_bar(progress, n_steps, desc or describe_flossing(k, n_steps), leave=False)

    def objective(dyn, step):
        step = start + step
        inputs = random_bits(seq_len, n_inputs, seed=[seed, step])
        loss, lam = flossing_loss({**frozen, **dyn}, inputs, k, target, transient, reorth_every,
                                  seed=seed + step, return_exponents=True)
        return loss, (getval(loss), getval(lam))

    def gradient(dyn, step):
        g, (loss, lam) = grad_and_aux(lambda d: objective(d, step))(dyn)
        loss = float(loss)
        if not onp.isfinite(loss):
            raise NumericalError(flossing_diverged(loss, start + step))
        if not all(onp.all(onp.isfinite(v)) for v in g.values()):
            raise NumericalError(floss_gradient_not_finite(start + step))
        losses.append(loss)
        spectra.append(onp.asarray(lam))
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3g}")
        return g

    try:
        if n_steps:
            with single_blas_thread():
                dynamic, state = adam_steps(gradient, dynamic, n_steps, lr, state)
    finally:
        bar.close()
    history = FlossHistory(onp.asarray(losses), onp.asarray(spectra).reshape(len(losses), k))
    out = {**frozen, **dynamic}
    return (out, history, state) if return_state else (out, history)


def _check_state(state, dynamic: dict) -> FlossState:
    if state is None:
        return FlossState()
    if not isinstance(state, FlossState):
        raise FlosslabError(f"the flossing state must be a FlossState (from floss(..., "
                            f"return_state=True)), got {type(state).__name__}")
    check_int("the flossing state's step", state.step, minimum=0)
    if state.moments and set(state.moments) != set(dynamic):
        raise FlosslabError(f"the flossing state must hold Adam's moments of "
                            f"{', '.join(DYNAMIC_PARAMS)}; got {sorted(state.moments)}")
    for name, (m, v) in state.moments.items():
        if onp.shape(m) != onp.shape(dynamic[name]) or onp.shape(v) != onp.shape(m):
            raise FlosslabError(f"the flossing state does not fit the network: Adam's moments of "
                                f"{name} have shape {onp.shape(m)}, the array "
                                f"{onp.shape(dynamic[name])}")
    return state


def adam_steps(gradient, x: dict, n_steps: int, step_size: float, state: FlossState,
               b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """``n_steps`` Adam steps on the arrays of ``x`` from ``state`` (the formulas of
    ``autograd.misc.optimizers.adam``, array by array; ``gradient(x, i)`` for i = 0..n_steps-1);
    returns the new arrays and the :class:`FlossState` after them."""
    m = {name: onp.asarray(state.moments[name][0]) if state.moments else onp.zeros_like(v)
         for name, v in x.items()}
    v2 = {name: onp.asarray(state.moments[name][1]) if state.moments else onp.zeros_like(v)
          for name, v in x.items()}
    for i in range(n_steps):
        g = gradient(x, i)
        t = state.step + i + 1
        new = {}
        for name in x:
            m[name] = (1 - b1) * g[name] + b1 * m[name]
            v2[name] = (1 - b2) * (g[name] ** 2) + b2 * v2[name]
            mhat = m[name] / (1 - b1 ** t)
            vhat = v2[name] / (1 - b2 ** t)
            new[name] = x[name] - step_size * mhat / (onp.sqrt(vhat) + eps)
        x = new
    return x, FlossState(state.step + n_steps, {name: (m[name], v2[name]) for name in x})
