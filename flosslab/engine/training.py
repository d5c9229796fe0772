"""Training by backpropagation through time in torch, with flossing schedules (mirrors
:mod:`flosslab.reference.training`; the configuration :class:`~flosslab.core.trainconfig.TrainConfig`
is shared).

Each epoch draws a fresh batch of the task from the run's own generator (the reference's draws),
takes the binary cross-entropy on the scored steps, clips each parameter array's gradient to norm
<= ``clip`` and takes a ``torch.optim.Adam`` step. Flossing episodes
(:func:`flosslab.engine.flossing.floss`) run before the epochs the schedule names; the task
optimiser's state starts afresh after each, as in the reference. As in the reference, the
evaluation logged at epoch j+1 (accuracy on fresh sequences and a spectrum snapshot) sees the
parameters that produced the loss of epoch j, before its update.

:func:`train_members` runs E configurations side by side with batched weights (same N, number of
epochs, batch size and evaluation interval; tasks, delays, gains, seeds, learning rates and
flossing schedules may differ; sequences of different lengths are padded at the end and masked,
which changes nothing before the end of each). Every member follows exactly its lone run.
"""
from __future__ import annotations

import numpy as onp
import torch

from ..core.conventions import (DYNAMIC_PARAMS, FLOSS_SEQ_LEN, FLOSS_TRANSIENT, PARAM_NAMES,
                                SPECTRUM_WINDOW, random_bits)
from ..core.errors import FlosslabError, NumericalError, training_diverged
from ..core.measures import effective_rank
from ..core.progress import progress_bar
from ..core.records import TrainHistory
from ..core.tasks import accuracy, make_batch
from ..core.trainconfig import TrainConfig, describe_flossing, describe_members
from ..core.validate import check_params, check_task_network
from .device import resolve_device, resolve_dtype
from .flossing import adam_by_rate, floss, flossing_loss
from .lyapunov import lyapunov_spectrum, member_frames
from .model import check_finite_params, init_rnn, readout, run_rnn, to_torch
from .recursion import tanh_
from .graphs import GraphedTaskLoss

__all__ = ["bce", "task_loss", "evaluate", "evaluate_members", "spectrum_snapshot", "train",
           "train_members"]


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
    with torch.no_grad():
        # rnn_step's expressions, written into two recycled state arrays: a fresh (E, batch, N)
        # array per operation and step is page-faulted in anew each time (most of the time of an
        # evaluation at the paper's 256 sequences on a CPU)
        h = torch.zeros((len(batches), b_max, w.shape[-1]), dtype=w.dtype, device=w.device)
        new, drive = torch.empty_like(h), torch.empty_like(h)
        wt, ut, bias = w.mT, params["U"].mT, params["b"].unsqueeze(-2)
        logits = torch.empty((t_max, len(batches), b_max, params["V"].shape[-2]), dtype=w.dtype,
                             device=w.device)
        for t, x in enumerate(inputs):
            torch.matmul(x, ut, out=drive).add_(bias)
            tanh_(torch.baddbmm(drive, h, wt, out=new))
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
    for name in ("n_units", "n_epochs", "batch_size", "eval_every", "floss_reorth"):
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
        params_list = [init_rnn(c.n_units, c.gain, seed=c.seed, device=device, dtype=dtype)
                       for c in configs]
    params_list = list(params_list)
    if len(params_list) != e:
        raise FlosslabError(f"give one network per configuration: {e} configurations but "
                            f"{len(params_list)} networks")
    members = [to_torch(p, device, dtype, requires_grad=True) for p in params_list]
    for m in members:
        check_params(m, needed=PARAM_NAMES, arrays="torch")
        check_task_network(m)
        check_finite_params(m)
    names = list(PARAM_NAMES)              # other keys are not trained (and not returned)
    shapes = {tuple(tuple(m[name].shape) for name in names) for m in members}
    if len(shapes) > 1:
        raise FlosslabError("networks trained together must have the same sizes (W, U, b, V, c); "
                            "train such members in separate ensembles")
    histories = [TrainHistory() for _ in configs]
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
                _floss_episode(members, configs, histories, flossers, epoch, progress)
            if epoch == n_epochs:
                break
            for i in range(e):
                if epoch in floss_at[i]:      # a new segment: fresh Adam moments, as the reference
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
            if fused:
                losses = epoch_losses(stacked, inputs.to(device), targets.to(device), weights)
            else:
                logits = readout(stacked, run_rnn(stacked, inputs.to(device)))
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
            loss_values, norms = _clip_members(members, names, configs, losses)
            for i in range(e):
                loss, norm = float(loss_values[i]), float(norms[i])
                if not (onp.isfinite(loss) and onp.isfinite(norm)):
                    who = f" (member {i})" if e > 1 else ""
                    raise NumericalError(training_diverged(epoch, loss, norm, who))
                histories[i].loss.append(loss)
                histories[i].grad_norm.append(norm)
            _record(stacked, members, configs, histories, epoch + 1, n_epochs)
            opt.step()
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss_values.mean()):.3f}")
    finally:
        bar.close()
    out = {name: torch.stack([m[name].detach() for m in members]) for name in names}
    return out, histories


def _clip_members(members, names, configs, losses):
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


def _floss_episode(members, configs, histories, flossers, epoch, progress):
    sub = {name: torch.stack([members[i][name].detach() for i in flossers])
           for name in members[0]}
    c = [configs[i] for i in flossers]
    flossed, fh = floss(sub, [x.floss_steps for x in c], [x.n_exponents for x in c],
                        [x.floss_target for x in c], [x.floss_lr for x in c],
                        reorth_every=c[0].floss_reorth, seed=[x.seed + epoch for x in c],
                        progress=progress,
                        desc=f"epoch {epoch}: " + describe_flossing(
                            [x.n_exponents for x in c], [x.floss_steps for x in c], len(c)))
    with torch.no_grad():
        for j, i in enumerate(flossers):
            for name in DYNAMIC_PARAMS:
                members[i][name].copy_(flossed[name][j])
            histories[i].floss_epochs.append(epoch)
            histories[i].floss_losses.append(fh[j].losses)


def _record(stacked, members, configs, histories, epoch, n_epochs):
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
            histories[i].accuracy.append(accuracies[j])
            histories[i].spectra.append(spectra[j])
