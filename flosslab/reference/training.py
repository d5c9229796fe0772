"""Training by backpropagation through time (numpy / autograd reference), with flossing schedules.

Each epoch draws a fresh batch of the task, takes the BCE loss on the scored steps, clips each
parameter array's gradient to norm <= ``clip`` and takes an Adam step
(``autograd.misc.optimizers.adam``). Flossing episodes (:mod:`flosslab.reference.flossing`) run before the
epochs the schedule names (:class:`~flosslab.core.trainconfig.TrainConfig`); Adam's moment estimates start
afresh after each episode, as each call of autograd's ``adam`` keeps its own state. Accuracy is
measured on fresh sequences every ``eval_every`` epochs, with a spectrum snapshot and the effective
rank of that epoch's recurrent-weight gradient dL/dW.
"""
from __future__ import annotations

import numpy as onp
from autograd.differential_operators import grad_and_aux
from autograd.misc.optimizers import adam
from autograd.tracer import getval

from ..core.conventions import (
    FLOSS_SEQ_LEN,
    FLOSS_TRANSIENT,
    PARAM_NAMES,
    SPECTRUM_WINDOW,
    init_rnn,
    random_bits,
)
from ..core.errors import FlosslabError, NumericalError, training_diverged
from ..core.measures import effective_rank
from ..core.progress import progress_bar
from ..core.records import TrainHistory
from ..core.settings import single_blas_thread
from ..core.tasks import accuracy, make_batch
from ..core.trainconfig import TrainConfig, describe_flossing, describe_members
from ..core.validate import check_params, check_task_network
from .flossing import floss, flossing_loss
from .lyapunov import lyapunov_spectrum
from .model import check_finite_params, readout, run_rnn

__all__ = ["task_loss", "evaluate", "spectrum_snapshot", "train"]


def task_loss(logits, targets, mask):
    """Binary cross-entropy on logits, averaged over the scored steps (mask) and the batch.

    ``log(1 + e^y) - z y``, computed as ``logaddexp(0, y) - z y`` (stable for large |y|).
    Shapes (T, B, 1), (T, B, 1), (T,).
    """
    import autograd.numpy as anp
    per_step = anp.logaddexp(0.0, logits) - targets * logits
    return anp.mean(per_step[onp.asarray(mask)])


def evaluate(params: dict, config: TrainConfig, seed) -> float:
    """Accuracy on ``config.eval_batch`` fresh sequences."""
    batch = make_batch(config.task, config.delay, config.eval_batch, config.seq_len, seed,
                       config.order)
    return accuracy(readout(params, run_rnn(params, batch.inputs)), batch.targets, batch.mask)


def spectrum_snapshot(params: dict, config: TrainConfig, seed) -> onp.ndarray:
    """The k flossed exponents on a window of random bits (for the history)."""
    inputs = random_bits(SPECTRUM_WINDOW, params["U"].shape[1], seed)
    return onp.asarray(lyapunov_spectrum(params, inputs, n_exponents=config.n_exponents, seed=seed))


def clip_gradients(g: dict, max_norm: float) -> dict:
    out = {}
    for name, value in g.items():
        norm = onp.linalg.norm(value)
        out[name] = value * (max_norm / norm) if norm > max_norm else value
    return out


def train(config: TrainConfig | None = None, params: dict | None = None, progress=False):
    """Train an RNN on ``config.task``; return (params, :class:`TrainHistory`).

    ``params`` defaults to ``init_rnn(config.n_units, config.gain, seed=config.seed)``.
    """
    config = TrainConfig.check(config)
    if config.author_choices():
        raise FlosslabError(
            f"the numpy reference trains flosslab's own setup only; "
            f"{', '.join(f'{n}={getattr(config, n)!r}' for n in config.author_choices())} (the "
            "author's training) is implemented by the torch engine: use flosslab.engine.train")
    params = init_rnn(config.n_units, config.gain, seed=config.seed) if params is None else params
    check_params(params, needed=PARAM_NAMES, arrays="numpy")
    check_task_network(params)
    check_finite_params(params)
    history = TrainHistory()
    rng = onp.random.default_rng([config.seed, 1])
    floss_at = set(config.floss_epochs())
    bar = progress_bar(progress, config.n_epochs,
                       describe_members([config]))

    def loss_and_aux(p, epoch):
        batch = make_batch(config.task, config.delay, config.batch_size, config.seq_len,
                           rng, config.order)
        loss = task_loss(readout(p, run_rnn(p, batch.inputs)), batch.targets, batch.mask)
        total = loss
        if config.flossing == "penalty":
            bits = random_bits(FLOSS_SEQ_LEN, p["U"].shape[1], rng)
            total = total + config.penalty_weight * flossing_loss(
                p, bits, config.n_exponents, config.floss_target, FLOSS_TRANSIENT,
                seed=config.seed + epoch)
        return total, getval(loss)

    def gradient(p, i, start):
        epoch = start + i
        g, loss = grad_and_aux(loss_and_aux)(p, epoch)
        loss = float(loss)
        norm = float(onp.sqrt(sum(onp.sum(v ** 2) for v in g.values())))
        if not (onp.isfinite(loss) and onp.isfinite(norm)):
            raise NumericalError(training_diverged(epoch, loss, norm))
        history.loss.append(loss)
        history.grad_norm.append(norm)
        return clip_gradients(g, config.clip)

    def record(p, i, g, start):
        epoch = start + i + 1
        bar.update(1)
        if epoch % config.eval_every == 0 or epoch == config.n_epochs:
            history.eval_epochs.append(epoch)
            # the clipped gradient: clipping rescales the array, which leaves the rank unchanged
            history.grad_rank.append(effective_rank(g["W"]))
            history.accuracy.append(evaluate(p, config, [config.seed, 2, epoch]))
            history.spectra.append(spectrum_snapshot(p, config, config.seed + epoch))
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", acc=f"{history.accuracy[-1]:.3f}")

    try:
        with single_blas_thread():
            for start, stop in config.segments() or [(0, 0)]:
                if start in floss_at and config.floss_steps:
                    params, fh = floss(params, config.floss_steps, config.n_exponents,
                                       config.floss_target, config.floss_lr,
                                       reorth_every=config.floss_reorth,
                                       seed=config.seed + start, progress=progress,
                                       desc=f"epoch {start}: " + describe_flossing(
                                           config.n_exponents, config.floss_steps))
                    history.floss_epochs.append(start)
                    history.floss_losses.append(fh.losses)
                if stop > start:
                    params = adam(lambda p, i: gradient(p, i, start), params,
                                  callback=lambda p, i, g: record(p, i, g, start),
                                  num_iters=stop - start, step_size=config.lr)
    finally:
        bar.close()
    return params, history
