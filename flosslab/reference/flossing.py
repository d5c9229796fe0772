"""Gradient flossing: push the first k Lyapunov exponents toward a target by gradient descent.

    L_floss = mean over i <= k of (lambda_i - target)^2

The exponents come from one trajectory driven by task-like random bits (batch 1, a short window,
QR every step, as in the paper's code); the gradient flows back through the QR decompositions
(:mod:`flosslab.reference.qr`). Only the parameters that change the forward dynamics (W, U, b) are updated:
the readout has no effect on the exponents. Each flossing episode has its own Adam state
(``autograd.misc.optimizers.adam``).
"""
from __future__ import annotations

import autograd.numpy as np
import numpy as onp
from autograd.differential_operators import grad_and_aux
from autograd.misc.optimizers import adam
from autograd.tracer import getval

from ..core.conventions import DYNAMIC_PARAMS, FLOSS_SEQ_LEN, FLOSS_TRANSIENT, random_bits
from ..core.errors import (NumericalError, floss_collapsed, floss_gradient_not_finite,
                           flossing_diverged)
from ..core.progress import progress_bar
from ..core.records import FlossHistory
from ..core.settings import single_blas_thread
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
          reorth_every: int = 1, seed: int = 0, progress=False):
    """Run ``n_steps`` flossing steps with Adam; return (new params, :class:`FlossHistory`).

    Each step draws fresh input bits (from ``seed`` and the step number). W, U and b change; the
    readout V, c is returned unchanged. Raises :class:`NumericalError` if the loss becomes NaN.
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
    frozen = {name: value for name, value in params.items() if name not in DYNAMIC_PARAMS}
    losses, spectra = [], []
    bar = progress_bar(progress, n_steps, "flossing", leave=False)

    def objective(dyn, step):
        inputs = random_bits(seq_len, n_inputs, seed=[seed, step])
        loss, lam = flossing_loss({**frozen, **dyn}, inputs, k, target, transient, reorth_every,
                                  seed=seed + step, return_exponents=True)
        return loss, (getval(loss), getval(lam))

    def gradient(dyn, step):
        g, (loss, lam) = grad_and_aux(lambda d: objective(d, step))(dyn)
        loss = float(loss)
        if not onp.isfinite(loss):
            raise NumericalError(flossing_diverged(loss, step))
        if not all(onp.all(onp.isfinite(v)) for v in g.values()):
            raise NumericalError(floss_gradient_not_finite(step))
        losses.append(loss)
        spectra.append(onp.asarray(lam))
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3g}")
        return g

    try:
        if n_steps:
            with single_blas_thread():
                dynamic = adam(gradient, dynamic, num_iters=n_steps, step_size=lr)
    finally:
        bar.close()
    history = FlossHistory(onp.asarray(losses), onp.asarray(spectra).reshape(len(losses), k))
    return {**frozen, **dynamic}, history
