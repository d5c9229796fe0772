"""Ensembles: E independent networks of the same size advanced together with batched weights.

Parameters of the members are stacked along a leading axis (W (E, N, N), ...); the spectrum,
flossing and training functions of the engine accept such stacks directly
(:func:`flosslab.engine.flossing.floss`, :func:`flosslab.engine.training.train_members`). This
module builds and splits them, computes every member's spectrum on its own random-bit trajectory,
and runs large ensembles in *chunks*: on a CPU the arrays of hundreds of members outgrow the caches
and the buffer pool and each network gets slower, so :func:`floss_in_chunks` and
:func:`ensemble_spectrum` process at most :func:`default_chunk` members at a time. Every result
equals the member's lone run (tested); batching and chunking only change the speed.
"""
from __future__ import annotations

import numpy as onp
import torch

from ..core.conventions import random_bits
from ..core.errors import FlosslabError
from ..core.validate import check_int, check_params
from .flossing import floss, per_member
from .lyapunov import lyapunov_spectrum, member_frames
from .model import init_rnn, to_torch

__all__ = ["stack_params", "unstack_params", "init_ensemble", "default_chunk",
           "ensemble_spectrum", "floss_in_chunks"]

#: Members processed together on a CPU (``benchmarks/ensemble_chunks.py`` measures networks per
#: second against the chunk size).
CPU_CHUNK = 16


def stack_params(params_list, device=None, dtype=None) -> dict:
    """A list of E parameter dicts (numpy or torch, same sizes) -> one dict of (E, ...) tensors."""
    params_list = [to_torch(p, device, dtype) for p in params_list]
    if not params_list:
        raise FlosslabError("an ensemble needs at least one member")
    for p in params_list:
        check_params(p, needed=("W",), arrays="torch")
    if len({tuple(sorted(p)) for p in params_list}) > 1:
        raise FlosslabError("members of an ensemble must have the same arrays (keys); got "
                            f"{sorted({tuple(sorted(p)) for p in params_list})}")
    shapes = {tuple(tuple(v.shape) for _, v in sorted(p.items())) for p in params_list}
    if len(shapes) > 1:
        raise FlosslabError(f"members of an ensemble must have the same size; got W shapes "
                            f"{sorted({tuple(p['W'].shape) for p in params_list})}")
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


def default_chunk(device) -> int | None:
    """Members per chunk: :data:`CPU_CHUNK` on a CPU, all of them (None) on a GPU."""
    return CPU_CHUNK if torch.device(device).type == "cpu" else None


def _chunks(e: int, chunk) -> list:
    if chunk is None:
        return [slice(0, e)]
    chunk = check_int("the chunk size", chunk, minimum=1)
    return [slice(i, min(i + chunk, e)) for i in range(0, e, chunk)]


def ensemble_spectrum(params: dict, seq_len: int = 300, n_exponents=None, seeds=None,
                      reorth_every=1, transient=None, method: str = "auto", chunk="auto"):
    """Exponents of every member on its own random-bit trajectory ``random_bits(seq_len, n_inputs,
    seed_e)`` with frame and initial state from seed_e (seeds default 0..E-1); ``n_exponents`` one
    value or one per member. Returns a list of E numpy arrays (k_e,), natural log per step.
    ``chunk``: members at a time ("auto": :func:`default_chunk`; None: all)."""
    e, n = params["W"].shape[0], params["W"].shape[-1]
    seeds = list(range(e)) if seeds is None else [int(s) for s in per_member("seeds", seeds, e)]
    ks = [n if k is None else int(k) for k in per_member("n_exponents", n_exponents, e)]
    chunk = default_chunk(params["W"].device) if chunk == "auto" else chunk
    out = []
    for part in _chunks(e, chunk):
        sub = {name: value[part] for name, value in params.items()}
        inputs = onp.stack([random_bits(seq_len, params["U"].shape[-1], s) for s in seeds[part]],
                           axis=1)
        frame = member_frames(n, ks[part], seeds[part], params["W"].device, params["W"].dtype)
        with torch.no_grad():
            lam = lyapunov_spectrum(sub, inputs, n_exponents=max(ks[part]),
                                    reorth_every=reorth_every, transient=transient,
                                    seed=seeds[part], method=method, frame=frame)
        out += [lam[i, :k].cpu().double().numpy() for i, k in enumerate(ks[part])]
    return out


def floss_in_chunks(params: dict, n_steps=500, n_exponents=None, target=0.0, lr=1e-3,
                    seeds=0, chunk="auto", progress: bool = False, **kw):
    """:func:`flosslab.engine.flossing.floss` of a stacked ensemble, ``chunk`` members at a time
    ("auto": :func:`default_chunk`; None: all at once). Settings are one value or one per member;
    ``seeds`` one int for all or one per member, as ``floss``. Returns (stacked params, list of
    E :class:`~flosslab.core.records.FlossHistory`), the same as one call of ``floss``."""
    e = params["W"].shape[0]
    chunk = default_chunk(params["W"].device) if chunk == "auto" else chunk
    settings = {"n_steps": n_steps, "n_exponents": n_exponents, "target": target, "lr": lr}
    per = {name: per_member(name, value, e) for name, value in settings.items()}
    seeds = per_member("seeds", seeds, e)
    parts, histories = [], []
    for part in _chunks(e, chunk):
        sub = {name: value[part] for name, value in params.items()}
        flossed, hs = floss(sub, *(per[name][part] for name in settings), seed=seeds[part],
                            progress=progress, **kw)
        parts.append(flossed)
        histories += hs
    return {name: torch.cat([p[name] for p in parts]) for name in params}, histories
