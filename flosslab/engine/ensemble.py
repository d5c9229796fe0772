"""Ensembles: E independent networks of the same size advanced together with batched weights.

Parameters of the members are stacked along a leading axis (W (E, N, N), ...); the spectrum,
flossing and training functions of the engine accept such stacks directly. This module builds and
splits them and runs the three jobs with per-member settings (seeds, gains, delays, flossing
settings). Every result equals the member's lone run (tested); batching only changes the speed.
"""
from __future__ import annotations

import numpy as onp
import torch

from ..config import FlosslabError
from ..common import FLOSS_SEQ_LEN, FLOSS_TRANSIENT, random_bits
from .flossing import floss, per_member
from .lyapunov import lyapunov_spectrum, member_frames
from .model import init_rnn, to_torch
from .training import train_members

__all__ = ["stack_params", "unstack_params", "init_ensemble", "ensemble_spectrum",
           "floss_ensemble", "train_ensemble"]


def stack_params(params_list, device=None, dtype=None) -> dict:
    """A list of E parameter dicts (numpy or torch, same sizes) -> one dict of (E, ...) tensors."""
    params_list = [to_torch(p, device, dtype) for p in params_list]
    if not params_list:
        raise FlosslabError("an ensemble needs at least one member")
    shapes = {tuple(p["W"].shape) for p in params_list}
    if len(shapes) > 1:
        raise FlosslabError(f"members of an ensemble must have the same size; got W shapes "
                            f"{sorted(shapes)}")
    return {name: torch.stack([p[name] for p in params_list]) for name in params_list[0]}


def unstack_params(params: dict) -> list:
    """The inverse of :func:`stack_params`: a list of E dicts of tensors."""
    return [{name: value[i] for name, value in params.items()}
            for i in range(params["W"].shape[0])]


def init_ensemble(n_units: int, gains=1.0, seeds=(0,), n_inputs: int = 1, n_outputs: int = 1,
                  device=None, dtype=None) -> dict:
    """E = len(seeds) networks, member e = the reference's ``init_rnn(n_units, gain_e,
    seed=seed_e)``; ``gains`` is one value or one per member. Returns stacked tensors."""
    seeds = list(seeds)
    gains = per_member("gains", gains, len(seeds))
    return stack_params([init_rnn(n_units, g, n_inputs, n_outputs, s, device=device, dtype=dtype)
                         for g, s in zip(gains, seeds)], device, dtype)


def ensemble_spectrum(params: dict, n_steps: int = 300, n_exponents=None, seeds=None,
                      reorth_every=1, transient=None, method: str = "auto"):
    """Exponents of every member on its own random-bit trajectory ``random_bits(n_steps, n_inputs,
    seed_e)`` with frame and initial state from seed_e (seeds default 0..E-1); ``n_exponents`` one
    value or one per member. Returns a list of E numpy arrays (k_e,), natural log per step."""
    e, n = params["W"].shape[0], params["W"].shape[-1]
    seeds = list(range(e)) if seeds is None else [int(s) for s in per_member("seeds", seeds, e)]
    ks = [n if k is None else int(k) for k in per_member("n_exponents", n_exponents, e)]
    inputs = onp.stack([random_bits(n_steps, params["U"].shape[-1], s) for s in seeds], axis=1)
    frame = member_frames(n, ks, seeds, params["W"].device, params["W"].dtype)
    with torch.no_grad():
        lam = lyapunov_spectrum(params, inputs, n_exponents=max(ks), reorth_every=reorth_every,
                                transient=transient, seed=seeds, method=method, frame=frame)
    return [lam[i, :ks[i]].cpu().double().numpy() for i in range(e)]


def floss_ensemble(params: dict, n_steps=500, n_exponents=None, target=0.0, lr=1e-3,
                   seq_len: int = FLOSS_SEQ_LEN, transient: int = FLOSS_TRANSIENT, reorth_every=1,
                   seeds=0, progress: bool = False, method: str = "auto"):
    """Floss every member (settings one value or one per member); returns (stacked params, list of
    :class:`~flosslab.flossing.FlossHistory`). See :func:`flosslab.engine.flossing.floss`."""
    return floss(params, n_steps, n_exponents, target, lr, seq_len, transient, reorth_every,
                 seeds, progress, method)


def train_ensemble(configs, params_list=None, progress: bool = False, device=None, dtype=None):
    """Train E :class:`~flosslab.trainconfig.TrainConfig` runs together; returns (stacked params,
    list of :class:`~flosslab.training.TrainHistory`). See
    :func:`flosslab.engine.training.train_members`."""
    return train_members(configs, params_list, progress, device, dtype)
