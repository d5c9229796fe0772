"""Gradient flossing in torch (mirrors :mod:`flosslab.reference.flossing`), for one network or an ensemble.

    L_floss = mean over i <= k of (lambda_i - target)^2

The exponents come from one trajectory driven by random bits (55 steps, 16 discarded, QR every step
by default, as in the paper's code), with the same draws as the reference: bits from
``[seed, step]``, frame and initial state from ``seed + step``. Only W, U, b are updated, by
``torch.optim.Adam``, fresh for each call of :func:`floss` unless the call continues an earlier
one: ``return_state=True`` also returns a :class:`~flosslab.core.records.FlossState` (steps taken,
Adam's moments), and ``state=`` passes it back in, so that n1 steps and then n2 more give the run
of n1 + n2 steps in one call (the same draws, Adam's moments and bias correction carried on).

Ensembles (parameters stacked along a leading axis E): ``n_steps``, ``n_exponents``, ``target``,
``lr`` and ``seed`` may each be one value or one per member; every member follows exactly the run it
would have alone (its own Adam state and learning rate; members with fewer steps stop early;
members with fewer exponents ride in a wider frame whose leading columns are their own, see
:func:`~flosslab.engine.lyapunov.member_frames`). The objective summed over members is separable, so
each member's gradient is its own. With ``reorth_every="auto"`` the ensemble's QR interval is its
worst member's, so a member agrees with its lone run to the interval's round-off, not exactly.
"""
from __future__ import annotations

import numpy as onp
import torch

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
from ..core.trainconfig import describe_flossing
from ..core.validate import check_int, check_n_exponents, check_params, check_real
from .lyapunov import lyapunov_spectrum, member_frames
from .model import check_finite_params, is_ensemble, n_units

__all__ = ["per_member", "adam_by_rate", "exponent_loss", "flossing_loss", "floss"]


def per_member(name: str, value, e: int) -> list:
    """A setting given once or once per member -> a list of E values."""
    if isinstance(value, (list, tuple, onp.ndarray, torch.Tensor)):
        if len(value) != e:
            raise FlosslabError(f"{name}: give one value or one per member ({e}), got {len(value)}")
        return list(value)
    return [value] * e


def adam_by_rate(members: list, lrs: list, foreach=True) -> torch.optim.Adam:
    """``torch.optim.Adam`` over each member's arrays (``members``: dicts of tensors) at its own
    learning rate, with one parameter group per rate, not per member: the multi-tensor kernels
    then update all members of a group in a few operations (the state is per array either way)."""
    groups = {}
    for member, lr in zip(members, lrs):
        groups.setdefault(lr, []).extend(member.values())
    return torch.optim.Adam([{"params": p, "lr": lr} for lr, p in groups.items()],
                            foreach=foreach)


def exponent_loss(lam: torch.Tensor, target=0.0, ks=None) -> torch.Tensor:
    """The flossing loss of given exponents: mean over i <= k of (lambda_i - target)^2.

    lam (k,) -> a scalar. An ensemble's lam (E, K), padded to the largest k, with ``target`` one
    value or one per member and ``ks`` the members' k (default: all K) -> (E,) losses.
    """
    if lam.ndim == 1:
        return torch.mean((lam - target) ** 2)
    e, width = lam.shape
    targets = torch.as_tensor(per_member("target", target, e), dtype=lam.dtype, device=lam.device)
    kk = torch.as_tensor([width] * e if ks is None else list(ks), device=lam.device)
    mask = torch.arange(width, device=lam.device) < kk[:, None]
    sq = torch.where(mask, (lam - targets[:, None]) ** 2, torch.zeros_like(lam))
    return sq.sum(-1) / kk.to(lam.dtype)


def flossing_loss(params: dict, inputs, n_exponents=None, target=0.0,
                  transient: int = FLOSS_TRANSIENT, reorth_every=1, seed=0,
                  return_exponents: bool = False, method: str = "auto", h0=None):
    """Mean over i <= k of (lambda_i - target)^2 on the trajectory driven by ``inputs``.

    One network: inputs (T, n_inputs) -> a scalar tensor. Ensemble: inputs (T, E, n_inputs) -> (E,)
    losses; ``n_exponents``, ``target`` and ``seed`` may be per member (exponents then come back
    padded to the largest k, shape (E, max k)). ``h0`` (N,) or (E, N): the initial state, by
    default drawn from the seed as the frame. Raises :class:`NumericalError` when a flossed
    exponent is -inf (a collapsed frame), where the loss and its gradient are undefined.
    """
    if not is_ensemble(params):
        lam = lyapunov_spectrum(params, inputs, n_exponents=n_exponents, reorth_every=reorth_every,
                                transient=transient, seed=seed, method=method, h0=h0)
        if not bool(torch.isfinite(lam.detach()).all()):
            raise NumericalError(floss_collapsed())
        loss = exponent_loss(lam, target)
        return (loss, lam) if return_exponents else loss
    e, n = params["W"].shape[0], n_units(params)
    ks = [check_n_exponents(k, n) for k in per_member("n_exponents", n_exponents, e)]
    seeds = [int(s) for s in per_member("seed", seed, e)] if isinstance(seed, (list, tuple)) \
        else [int(seed)] * e
    w = params["W"]
    frame = member_frames(n, ks, seeds, w.device, w.dtype)
    lam = lyapunov_spectrum(params, inputs, n_exponents=max(ks), reorth_every=reorth_every,
                            transient=transient, seed=seeds, method=method, frame=frame, h0=h0)
    finite = torch.isfinite(lam.detach()).cpu().numpy()
    for i, k in enumerate(ks):
        if not finite[i, :k].all():
            raise NumericalError(floss_collapsed(f" for member {i}"))
    loss = exponent_loss(lam, [float(t) for t in per_member("target", target, e)], ks)
    return (loss, lam) if return_exponents else loss


def floss(params: dict, n_steps=500, n_exponents=None, target=0.0, lr=1e-3,
          seq_len: int = FLOSS_SEQ_LEN, transient: int = FLOSS_TRANSIENT, reorth_every=1, seed=0,
          progress=False, method: str = "auto", state=None, return_state: bool = False,
          desc: str | None = None, frame_seed=None, h0=None):
    """Run flossing steps with Adam; return (new params, :class:`FlossHistory`) for one network,
    (stacked params, list of E histories) for an ensemble; with ``return_state`` a third item,
    the :class:`FlossState` to continue from (an ensemble: a list of E states).

    Each step draws fresh bits ``random_bits(seq_len, n_inputs, [seed, step])`` and takes the
    frame and initial state from ``seed + step``. ``state`` (a :class:`FlossState`; an ensemble:
    one per member, None for a fresh member) continues an earlier call: pass the parameters it
    returned; steps are numbered on from ``state.step`` and Adam starts from its moments. The
    readout V, c is returned unchanged. ``desc`` names the run on the progress bar (default: k,
    the steps and the number of networks). Raises :class:`NumericalError` (naming the member) if a
    loss becomes NaN or infinite.

    ``frame_seed`` (an int, or one per member) fixes the frame: every step takes it, and its
    initial state unless ``h0`` is given, from ``frame_seed`` instead of ``seed + step`` (the
    author's code re-seeds before drawing it, so it is the same at every step). ``h0`` ((N,), an
    ensemble (E, N)): the initial state of every step's trajectory.
    """
    ens = is_ensemble(params)
    check_params(params, ensemble=ens, arrays="torch")
    check_finite_params(params)
    e = params["W"].shape[0] if ens else 1
    n, n_inputs = n_units(params), params["U"].shape[-1]
    steps = [check_int("the number of flossing steps", s, minimum=0)
             for s in per_member("n_steps", n_steps, e)]
    ks = [check_n_exponents(k, n) for k in per_member("n_exponents", n_exponents, e)]
    targets = [check_real("the target exponent", t) for t in per_member("target", target, e)]
    lrs = [check_real("the learning rate", v, minimum=0.0, strict_minimum=True)
           for v in per_member("lr", lr, e)]
    seeds = [check_int("seed", s, minimum=0) for s in per_member("seed", seed, e)]
    fixed = None if frame_seed is None else [check_int("frame_seed", s, minimum=0)
                                             for s in per_member("frame_seed", frame_seed, e)]
    transient = check_int("the flossing transient", transient, minimum=0)
    seq_len = check_int("the flossing window", seq_len, minimum=transient + 1)
    members = [{name: (params[name][i] if ens else params[name]).detach().clone().requires_grad_()
                for name in DYNAMIC_PARAMS} for i in range(e)]
    opt = adam_by_rate(members, lrs)
    states = _check_states(state, e, ens, members)
    if h0 is not None:
        w = params["W"]
        h0 = torch.as_tensor(h0, dtype=w.dtype, device=w.device).detach()
        if tuple(h0.shape) != ((e, n) if ens else (n,)):
            raise FlosslabError(f"h0 (the flossing trajectories' initial state) must have shape "
                                f"{(e, n) if ens else (n,)}, got {tuple(h0.shape)}")
    starts = [s.step for s in states]
    load_adam_state(opt, members, states)
    losses, spectra = [[] for _ in range(e)], [[] for _ in range(e)]
    bar = progress_bar(progress, max(steps, default=0),
                       desc or describe_flossing(ks, steps, e), leave=False)
    try:
        for step in range(max(steps, default=0)):
            active = [i for i in range(e) if step < steps[i]]
            stacked = {name: torch.stack([members[i][name] for i in active])
                       for name in DYNAMIC_PARAMS}
            inputs = onp.stack([random_bits(seq_len, n_inputs, seed=[seeds[i], starts[i] + step])
                                for i in active], axis=1)
            frames = [seeds[i] + starts[i] + step if fixed is None else fixed[i] for i in active]
            start = None if h0 is None else (h0[active] if ens else h0.unsqueeze(0))
            loss, lam = flossing_loss(stacked, inputs, [ks[i] for i in active],
                                      [targets[i] for i in active], transient, reorth_every,
                                      frames, True, method, start)
            values = loss.detach().cpu().numpy()
            lam_values = lam.detach().cpu().double().numpy()   # one transfer for all members
            for j, i in enumerate(active):
                if not onp.isfinite(values[j]):
                    who = f" for member {i}" if ens else ""
                    raise NumericalError(flossing_diverged(values[j], step, who))
                losses[i].append(float(values[j]))
                spectra[i].append(lam_values[j, :ks[i]])
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            finite = torch.stack([torch.isfinite(members[i][name].grad).all() for i in active
                                  for name in DYNAMIC_PARAMS]).view(len(active), -1).all(1)
            for j, ok in enumerate(finite.tolist()):
                if not ok:
                    who = f" for member {active[j]}" if ens else ""
                    raise NumericalError(floss_gradient_not_finite(step, who))
            opt.step()
            bar.update(1)
            bar.set_postfix(loss=f"{float(values.mean()):.3g}")
    finally:
        bar.close()
    histories = [FlossHistory(onp.asarray(losses[i]),
                              onp.asarray(spectra[i]).reshape(len(losses[i]), ks[i]))
                 for i in range(e)]
    out = dict(params)
    for name in DYNAMIC_PARAMS:
        value = torch.stack([m[name].detach() for m in members])
        out[name] = value if ens else value[0]
    if not return_state:
        return (out, histories) if ens else (out, histories[0])
    new_states = adam_state(opt, members, states, [a + b for a, b in zip(starts, steps)])
    return (out, histories, new_states) if ens else (out, histories[0], new_states[0])


def _check_states(state, e: int, ens: bool, members: list) -> list:
    """The E states to start from (fresh ones where none is given), checked against the arrays."""
    if state is None:
        given = [None] * e
    elif ens:
        if not isinstance(state, (list, tuple)) or len(state) != e:
            raise FlosslabError(f"state: give one FlossState (or None) per member ({e}), as "
                                f"floss(..., return_state=True) returned them; got {state!r:.80}")
        given = list(state)
    else:
        given = [state]
    out = []
    for i, s in enumerate(given):
        who = f" of member {i}" if ens else ""
        if s is None:
            out.append(FlossState())
            continue
        if not isinstance(s, FlossState):
            raise FlosslabError(f"the flossing state{who} must be a FlossState (from floss(..., "
                                f"return_state=True)), got {type(s).__name__}")
        check_int(f"the flossing state's step{who}", s.step, minimum=0)
        if s.moments and set(s.moments) != set(DYNAMIC_PARAMS):
            raise FlosslabError(f"the flossing state{who} must hold Adam's moments of "
                                f"{', '.join(DYNAMIC_PARAMS)}; got {sorted(s.moments)}")
        for name, (m, v) in s.moments.items():
            if tuple(m.shape) != tuple(members[i][name].shape) or tuple(v.shape) != tuple(m.shape):
                raise FlosslabError(f"the flossing state{who} does not fit the network: Adam's "
                                    f"moments of {name} have shape {tuple(m.shape)}, the array "
                                    f"{tuple(members[i][name].shape)}")
        out.append(s)
    return out


def load_adam_state(opt: torch.optim.Adam, members: list, states: list) -> None:
    """Give ``opt`` (over the arrays of ``members``) the moments and step counts of ``states``
    (:class:`FlossState`, one per member; those without moments start fresh)."""
    for member, s in zip(members, states):
        if not s.moments:
            continue
        for name, p in member.items():
            m, v = s.moments[name]
            opt.state[p] = {"step": torch.tensor(float(s.step), dtype=torch.float32),
                            "exp_avg": torch.as_tensor(m, dtype=p.dtype, device=p.device).clone(),
                            "exp_avg_sq": torch.as_tensor(v, dtype=p.dtype,
                                                          device=p.device).clone()}


def adam_state(opt: torch.optim.Adam, members: list, before: list, steps: list) -> list:
    """Each member's :class:`FlossState` after ``steps`` steps in all: the moments ``opt`` holds
    for its arrays (or those it started from, where it took no step)."""
    out = []
    for member, s, step in zip(members, before, steps):
        moments = {}
        for name, p in member.items():
            st = opt.state.get(p)
            if st and "exp_avg" in st:
                moments[name] = (st["exp_avg"].detach().clone(), st["exp_avg_sq"].detach().clone())
        out.append(FlossState(int(step), moments if len(moments) == len(member) else
                              dict(s.moments)))
    return out
