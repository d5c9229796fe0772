"""Training by backpropagation through time in torch, with flossing schedules (mirrors
:mod:`flosslab.reference.training`; the configuration :class:`~flosslab.core.trainconfig.TrainConfig`
is shared).

Each epoch draws a fresh batch of the task from the run's own generator (the reference's draws),
takes the binary cross-entropy on the scored steps, clips each parameter array's gradient to norm
<= ``clip`` and takes a ``torch.optim.Adam`` step. Flossing episodes
(:func:`flosslab.engine.flossing.floss`) run before the epochs the schedule names; the task
optimiser's state starts afresh after each, as in the reference. As in the reference, the
evaluation logged at epoch j+1 (accuracy on fresh sequences and a spectrum snapshot) sees the
parameters that produced the loss of epoch j, before its update. It records two effective ranks:
of the clipped dL/dW (``grad_rank``) and of that epoch's Adam step on W (``step_rank``: what the
author's ``svdvals(gs[J])`` measures, since Flux's update overwrites the gradient array with the
step).

The author's own training choices (:class:`~flosslab.core.trainconfig.TrainConfig`'s ``readout``,
``keep_adam``, ``init_state``, ``floss_frame``; GradientFlossing_ExampleCode.jl) are the engine's
only: the readout from the pre-activation with his initialisation, one Adam per role kept across
the run (the flossing one carried by :class:`~flosslab.core.records.FlossState`), his learned
initial states ``x0`` (one per sequence of the batch, trained and clipped with the task's arrays),
and his fixed flossing frame.

:func:`train_members` runs E configurations side by side with batched weights (same N, number of
epochs, batch size and evaluation interval; tasks, delays, gains, seeds, learning rates and
flossing schedules may differ; sequences of different lengths are padded at the end and masked,
which changes nothing before the end of each). Every member follows exactly its lone run.
"""
from __future__ import annotations

import numpy as onp
import torch

from ..core.conventions import (
    DYNAMIC_PARAMS,
    FLOSS_SEQ_LEN,
    FLOSS_TRANSIENT,
    PARAM_NAMES,
    SPECTRUM_WINDOW,
    author_readout,
    init_rnn as init_reference,
    random_bits,
    relaxed_initial_states,
)
from ..core.errors import FlosslabError, NumericalError, training_diverged
from ..core.measures import effective_rank
from ..core.progress import progress_bar
from ..core.records import TrainHistory
from ..core.tasks import accuracy, make_batch
from ..core.trainconfig import TrainConfig, describe_flossing, describe_members
from ..core.validate import check_params, check_task_network
from .device import resolve_device, resolve_dtype
from .flossing import adam_by_rate, floss, flossing_loss
from .graphs import GraphedTaskLoss
from .lyapunov import lyapunov_spectrum, member_frames
from .model import check_finite_params, readout, run_rnn, to_torch
from .recursion import tanh_, task_losses

__all__ = ["bce", "task_loss", "evaluate", "evaluate_members", "spectrum_snapshot", "train",
           "train_members", "init_network", "adam_step_of"]


def bce(logits, targets):
    """Binary cross-entropy of each output on its logit: ``log(1 + e^y) - z y``, computed as
    ``logaddexp(0, y) - z y`` (stable for large |y|), elementwise."""
    return torch.logaddexp(torch.zeros_like(logits), logits) - targets * logits


def task_loss(logits, targets, mask):
    """Binary cross-entropy averaged over the scored steps (mask (T,)) and the batch (as
    :func:`flosslab.reference.training.task_loss`)."""
    return bce(logits, targets)[torch.as_tensor(mask, device=logits.device)].mean()


def evaluate(params: dict, config: TrainConfig, seed) -> float:
    """Accuracy of one network on ``config.eval_batch`` fresh sequences (the reference's draws)."""
    stacked = {name: value.detach().unsqueeze(0) for name, value in params.items()}
    return evaluate_members(stacked, [config], [seed])[0]


def evaluate_members(params: dict, configs, seeds) -> list:
    """Accuracy of each member of an ensemble on its own ``eval_batch`` fresh sequences, drawn as
    the reference draws them, in one batched pass (sequences padded at the end, which changes
    nothing before the end of each). Only the outputs are kept, not the states."""
    batches = [make_batch(c.task, c.delay, c.eval_batch, c.seq_len, s, c.order)
               for c, s in zip(configs, seeds)]
    w = params["W"]
    t_max = max(b.inputs.shape[0] for b in batches)
    b_max = max(b.inputs.shape[1] for b in batches)
    inputs = torch.zeros((t_max, len(batches), b_max, params["U"].shape[-1]), dtype=w.dtype)
    for i, b in enumerate(batches):
        inputs[:b.inputs.shape[0], i, :b.inputs.shape[1]] = torch.as_tensor(b.inputs)
    inputs = inputs.to(w.device)
    from_pre = configs[0].readout == "author"
    with torch.no_grad():
        # rnn_step's expressions, written into two recycled state arrays: a fresh (E, batch, N)
        # array per operation and step is page-faulted in anew each time (most of the time of an
        # evaluation at the paper's 256 sequences on a CPU)
        h = torch.zeros((len(batches), b_max, w.shape[-1]), dtype=w.dtype, device=w.device)
        if "x0" in params:                 # learned states: sequence j starts from x0[j mod B]
            x0 = params["x0"]
            h.copy_(torch.tanh(x0[:, torch.arange(b_max, device=w.device) % x0.shape[1]]))
        new, drive = torch.empty_like(h), torch.empty_like(h)
        wt, ut, bias = w.mT, params["U"].mT, params["b"].unsqueeze(-2)
        logits = torch.empty((t_max, len(batches), b_max, params["V"].shape[-2]), dtype=w.dtype,
                             device=w.device)
        for t, x in enumerate(inputs):
            torch.matmul(x, ut, out=drive).add_(bias)
            torch.baddbmm(drive, h, wt, out=new)
            if from_pre:                   # the author's readout reads a_t
                torch.matmul(new, params["V"].mT, out=logits[t]).add_(params["c"].unsqueeze(-2))
            tanh_(new)
            if not from_pre:
                torch.matmul(new, params["V"].mT, out=logits[t]).add_(params["c"].unsqueeze(-2))
            h, new = new, h
        logits = logits.cpu().numpy()
    return [accuracy(logits[:b.inputs.shape[0], i, :b.inputs.shape[1]], b.targets, b.mask)
            for i, b in enumerate(batches)]


def spectrum_snapshot(params: dict, configs, seeds) -> list:
    """The k flossed exponents of each member on a window of random bits (batched)."""
    e, n = params["W"].shape[0], params["W"].shape[-1]
    ks = [c.n_exponents for c in configs]
    inputs = onp.stack([random_bits(SPECTRUM_WINDOW, params["U"].shape[-1], s) for s in seeds], 1)
    frame = member_frames(n, ks, seeds, params["W"].device, params["W"].dtype)
    with torch.no_grad():
        lam = lyapunov_spectrum(params, inputs, n_exponents=max(ks), seed=list(seeds), frame=frame)
    return [lam[i, :ks[i]].cpu().double().numpy() for i in range(e)]


def train(config: TrainConfig | None = None, params: dict | None = None, progress=False,
          device=None, dtype=None):
    """Train one RNN on ``config.task``; return (params as tensors, :class:`TrainHistory`).

    ``params`` (numpy or torch) defaults to the reference's ``init_rnn(config.n_units,
    config.gain, seed=config.seed)``; ``device`` ("cpu", "cuda", "auto") and ``dtype``
    ("float64" default, "float32") choose where and how.
    """
    config = TrainConfig.check(config)
    stacked, histories = train_members([config], None if params is None else [params], progress,
                                       device, dtype)
    return {name: value[0] for name, value in stacked.items()}, histories[0]


def _check_alike(configs):
    for name in ("n_units", "n_epochs", "batch_size", "eval_every", "floss_reorth", "readout",
                 "init_state", "floss_frame"):
        values = {getattr(c, name) for c in configs}
        if len(values) > 1:
            raise FlosslabError(f"members trained together must share {name}; got {sorted(values, key=str)}. "
                                "Train such members in separate ensembles")


def train_members(configs, params_list=None, progress=False, device=None, dtype=None,
                  fused: bool = True, graphs="auto"):
    """Train E configurations together with batched weights; return (stacked params, histories).

    ``params_list`` defaults to each configuration's reference initialisation. Raises
    :class:`NumericalError` naming the member and epoch if a loss or gradient becomes NaN/inf.
    ``fused`` (default) computes each epoch's task loss and its gradient with the hand-written
    backward of :class:`~flosslab.engine.recursion.TaskLossRecursion` (the same expressions; about
    half the CPU time of autograd's, ``benchmarks/per_network_cost.py``); ``fused=False`` is the
    plain autograd path (run_rnn, readout, bce), kept as the reference. ``graphs`` ("auto": on a
    CUDA device) replays the fused epoch's forward and backward as CUDA graphs
    (:class:`~flosslab.engine.graphs.GraphedTaskLoss`, same numbers; eager where graphs fail).
    """
    configs = [TrainConfig.check(c) for c in configs]
    if not configs:
        raise FlosslabError("give at least one training configuration")
    _check_alike(configs)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    e, n_epochs = len(configs), configs[0].n_epochs
    if params_list is None:
        params_list = [init_network(c) for c in configs]
    params_list = list(params_list)
    if len(params_list) != e:
        raise FlosslabError(f"give one network per configuration: {e} configurations but "
                            f"{len(params_list)} networks")
    params_list = [with_initial_states(p, c) for p, c in zip(params_list, configs)]
    members = [to_torch(p, device, dtype, requires_grad=True) for p in params_list]
    for m in members:
        check_params(m, needed=PARAM_NAMES, arrays="torch")
        check_task_network(m)
        check_finite_params(m)
    # other keys are not trained (and not returned); the learned initial states are
    names = list(PARAM_NAMES) + (["x0"] if configs[0].init_state == "learned" else [])
    members = [{name: m[name] for name in names} for m in members]
    from_pre = configs[0].readout == "author"
    custom = from_pre or configs[0].init_state == "learned"     # the fused loss with h0 / a_t
    shapes = {tuple(tuple(m[name].shape) for name in names) for m in members}
    if len(shapes) > 1:
        raise FlosslabError("networks trained together must have the same sizes (W, U, b, V, c); "
                            "train such members in separate ensembles")
    histories = [TrainHistory() for _ in configs]
    floss_states = [None] * e              # each member's flossing Adam, where it is kept
    rngs = [onp.random.default_rng([c.seed, 1]) for c in configs]
    floss_at = [set(c.floss_epochs()) for c in configs]
    t_max = max(c.seq_len for c in configs)
    # scored steps of each member, padded to the longest sequence, weighted for a per-member mean
    weights = torch.zeros((t_max, e), dtype=dtype, device=device)
    # the fused path also takes Adam's steps with its multi-tensor kernels (a few operations for all
    # members' arrays instead of ~10 per array; the same formulas)
    opt = adam_by_rate(members, [c.lr for c in configs], foreach=True if fused else None)
    epoch_losses = GraphedTaskLoss(device, graphs if fused else False)
    bar = progress_bar(progress, n_epochs, describe_members(configs))
    try:
        for epoch in range(n_epochs + 1):
            flossers = [i for i in range(e) if epoch in floss_at[i] and configs[i].floss_steps
                        and (epoch < n_epochs or epoch == 0)]
            if flossers:
                _floss_episode(members, configs, histories, flossers, epoch, progress,
                               floss_states)
            if epoch == n_epochs:
                break
            for i in range(e):
                if epoch in floss_at[i] and not configs[i].keep_adam:
                    # a new segment: fresh Adam moments, as the reference
                    for p in members[i].values():
                        opt.state.pop(p, None)
            inputs = torch.zeros((t_max, e, configs[0].batch_size, 1), dtype=dtype)
            targets = torch.zeros_like(inputs)
            weights.zero_()
            bits = {}
            for i, c in enumerate(configs):
                batch = make_batch(c.task, c.delay, c.batch_size, c.seq_len, rngs[i], c.order)
                inputs[:c.seq_len, i] = torch.as_tensor(batch.inputs)
                targets[:c.seq_len, i] = torch.as_tensor(batch.targets)
                weights[:c.seq_len, i] = torch.as_tensor(batch.mask, dtype=dtype) / (
                    batch.mask.sum() * c.batch_size)
                if c.flossing == "penalty":
                    bits[i] = random_bits(FLOSS_SEQ_LEN, members[i]["U"].shape[-1], rngs[i])
            stacked = {name: torch.stack([m[name] for m in members]) for name in names}
            h0 = torch.tanh(stacked["x0"]) if "x0" in stacked else None
            if fused and custom:
                losses = task_losses(stacked, inputs.to(device), targets.to(device), weights, h0,
                                     from_pre)
            elif fused:
                losses = epoch_losses(stacked, inputs.to(device), targets.to(device), weights)
            else:
                states, pre = run_rnn(stacked, inputs.to(device), h0=h0,
                                      return_preactivations=True)
                logits = readout(stacked, pre if from_pre else states)
                targets = targets.to(device)
                losses = torch.einsum("tebo,te->e", bce(logits, targets), weights)
            total = losses.sum()
            if bits:
                pen = sorted(bits)
                sub = {name: stacked[name][pen] for name in DYNAMIC_PARAMS}
                fl = flossing_loss(sub, onp.stack([bits[i] for i in pen], 1),
                                   [configs[i].n_exponents for i in pen],
                                   [configs[i].floss_target for i in pen], FLOSS_TRANSIENT,
                                   seed=[configs[i].seed + epoch for i in pen])
                pw = torch.as_tensor([configs[i].penalty_weight for i in pen], dtype=dtype,
                                     device=device)
                total = total + (pw * fl).sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            loss_values, norms = clip_member_gradients(members, names, configs, losses)
            for i in range(e):
                loss, norm = float(loss_values[i]), float(norms[i])
                if not (onp.isfinite(loss) and onp.isfinite(norm)):
                    who = f" (member {i})" if e > 1 else ""
                    raise NumericalError(training_diverged(epoch, loss, norm, who))
                histories[i].loss.append(loss)
                histories[i].grad_norm.append(norm)
            opt.step()
            _record(stacked, members, configs, histories, epoch + 1, n_epochs, opt)
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss_values.mean()):.3f}")
    finally:
        bar.close()
    out = {name: torch.stack([m[name].detach() for m in members]) for name in names}
    return out, histories


def clip_member_gradients(members, names, configs, losses):
    """Clip each parameter array's gradient to norm <= its member's ``clip``, all members at once.

    Returns the losses and each member's total gradient norm before clipping (numpy, one transfer
    from the device for all members)."""
    grads = [m[name].grad for m in members for name in names]
    norms = torch.stack(torch._foreach_norm(grads)).view(len(members), len(names))
    clip = torch.as_tensor([c.clip for c in configs], dtype=norms.dtype, device=norms.device)
    factors = torch.where(norms > clip[:, None], clip[:, None] / norms, torch.ones_like(norms))
    torch._foreach_mul_(grads, list(factors.reshape(-1).unbind()))
    total = norms.pow(2).sum(1).sqrt()
    out = torch.stack([losses.detach(), total]).cpu().numpy()
    return out[0], out[1]


def _floss_episode(members, configs, histories, flossers, epoch, progress, floss_states):
    sub = {name: torch.stack([members[i][name].detach() for i in flossers])
           for name in members[0]}
    c = [configs[i] for i in flossers]
    keep = [x.keep_adam for x in c]
    state = [floss_states[i] if k else None for i, k in zip(flossers, keep)]
    fixed = c[0].floss_frame == "fixed"
    # the author's fixed frame: drawn from the run's seed at every step of every episode, and his
    # trajectories start from the first learned state (else the state drawn with the frame)
    h0 = torch.tanh(sub["x0"][:, 0]) if fixed and "x0" in sub else None
    flossed, fh, new_states = floss(
        sub, [x.floss_steps for x in c], [x.n_exponents for x in c],
        [x.floss_target for x in c], [x.floss_lr for x in c], reorth_every=c[0].floss_reorth,
        seed=[x.seed + epoch for x in c], progress=progress, state=state, return_state=True,
        frame_seed=[x.seed for x in c] if fixed else None, h0=h0,
        desc=f"epoch {epoch}: " + describe_flossing([x.n_exponents for x in c],
                                                    [x.floss_steps for x in c], len(c)))
    with torch.no_grad():
        for j, i in enumerate(flossers):
            for name in DYNAMIC_PARAMS:
                members[i][name].copy_(flossed[name][j])
            if keep[j]:
                floss_states[i] = new_states[j]
            histories[i].floss_epochs.append(epoch)
            histories[i].floss_losses.append(fh[j].losses)


def init_network(config: TrainConfig) -> dict:
    """The network a configuration trains from (numpy, float64): the reference's
    ``init_rnn(n_units, gain, seed)``, with the author's readout (``readout="author"``) and his
    relaxed initial states ``x0`` (``init_state="learned"``) where the configuration asks."""
    p = init_reference(config.n_units, config.gain, seed=config.seed)
    if config.readout == "author":
        p = author_readout(p, config.seed)
    return with_initial_states(p, config)


def with_initial_states(params: dict, config: TrainConfig) -> dict:
    """``params`` with the learned initial states ``x0`` (batch, N) where ``config`` learns them
    and ``params`` has none (drawn from W and b as the author's ``relaxIC``)."""
    if config.init_state != "learned" or "x0" in params:
        return params
    numpy = {name: onp.asarray(params[name].detach().cpu().double().numpy()
                               if isinstance(params[name], torch.Tensor) else params[name])
             for name in ("W", "b")}
    return {**params, "x0": relaxed_initial_states(numpy, config.batch_size, config.seed)}


def adam_step_of(opt: torch.optim.Adam, p: torch.Tensor) -> torch.Tensor | None:
    """The step Adam just took on ``p`` (lr * m_hat / (sqrt(v_hat) + eps), from its state): what
    Flux leaves in the gradient array after ``update!``, the author's ``gs[J]``."""
    st = opt.state.get(p)
    if not st or "exp_avg" not in st:
        return None
    group = next(g for g in opt.param_groups if any(q is p for q in g["params"]))
    b1, b2 = group["betas"]
    t = float(st["step"])
    m_hat = st["exp_avg"] / (1 - b1 ** t)
    v_hat = st["exp_avg_sq"] / (1 - b2 ** t)
    return group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])


def _record(stacked, members, configs, histories, epoch, n_epochs, opt):
    due = [i for i, c in enumerate(configs) if epoch % c.eval_every == 0 or epoch == n_epochs]
    if not due:
        return
    with torch.no_grad():
        snap = {name: value.detach()[due] for name, value in stacked.items()}
        spectra = spectrum_snapshot(snap, [configs[i] for i in due],
                                    [configs[i].seed + epoch for i in due])
        accuracies = evaluate_members(snap, [configs[i] for i in due],
                                      [[configs[i].seed, 2, epoch] for i in due])
        for j, i in enumerate(due):
            histories[i].eval_epochs.append(epoch)
            # the clipped gradient: clipping rescales the array, which leaves the rank unchanged
            histories[i].grad_rank.append(effective_rank(members[i]["W"].grad.cpu().numpy()))
            step = adam_step_of(opt, members[i]["W"])
            histories[i].step_rank.append(None if step is None else
                                          effective_rank(step.cpu().numpy()))
            histories[i].accuracy.append(accuracies[j])
            histories[i].spectra.append(spectra[j])
