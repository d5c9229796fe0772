"""CUDA graphs for the training epoch: one replay instead of hundreds of kernel launches.

On a GPU an epoch of :func:`flosslab.engine.training.train_members` is, per time step, a few small
kernels (a batched product, a sum, tanh, and as many backward), ~3,000 launches for the paper's 300
steps; for small ensembles the GPU waits on the CPU that launches them. :class:`GraphedTaskLoss`
records the forward and backward of :class:`~flosslab.engine.recursion.TaskLossRecursion` once in
two CUDA graphs (``torch.cuda.make_graphed_callables``) and replays them every epoch; the inputs of
an epoch (stacked parameters, batch, weights) are copied into the graph's static tensors.

Where graphs do not apply, the same function runs eagerly (the *fallback*, same numbers): on a CPU,
when the capture fails (e.g. an old driver, or an operation that cannot be captured), or when
``FLOSSLAB_CUDA_GRAPHS=0``. What is not graphed: the flossing episodes and the evaluations, whose
QR steps make decisions on the host (graded frames, the automatic QR interval, finiteness checks),
Adam's step and the gradient clipping (a few fused ``foreach`` kernels per epoch).
"""
from __future__ import annotations

import os
import warnings

import torch

from .recursion import TaskLossRecursion

__all__ = ["GraphedTaskLoss", "graphs_wanted", "STATS"]

#: What happened in this process: graphs captured, and the reasons for each fallback.
STATS = {"captured": 0, "fallbacks": []}


def graphs_wanted(device, graphs="auto") -> bool:
    """Whether to try CUDA graphs: ``graphs`` True/False, or "auto" (on a CUDA device unless the
    environment sets ``FLOSSLAB_CUDA_GRAPHS=0``)."""
    device = torch.device(device)
    if device.type != "cuda":
        return False
    if graphs == "auto":
        return os.environ.get("FLOSSLAB_CUDA_GRAPHS", "1") != "0"
    return bool(graphs)


def _losses(w, u, b, v, c, inputs, targets, weights):
    return TaskLossRecursion.apply(w, u, b, v, c, inputs, targets, weights)


NAMES = ("W", "U", "b", "V", "c")


class GraphedTaskLoss:
    """``losses = GraphedTaskLoss(device, graphs)(stacked, inputs, targets, weights)``: each
    member's task loss (E,), differentiable in the stacked W, U, b, V, c, as
    :func:`flosslab.engine.recursion.task_losses`. The first call on a CUDA device captures the
    graphs for its shapes (a call with other shapes captures again); ``mode`` says what ran last
    ("graph" or "eager")."""

    def __init__(self, device, graphs="auto"):
        self.use_graphs = graphs_wanted(device, graphs)
        self._graphed, self._key = None, None
        self.mode = "eager"

    def __call__(self, stacked: dict, inputs, targets, weights):
        args = tuple(stacked[name] for name in NAMES) + (inputs, targets, weights)
        if self.use_graphs:
            key = tuple((tuple(a.shape), a.dtype, a.requires_grad) for a in args)
            if key != self._key:
                self._graphed = self._capture(args)
                self._key = key
            if self._graphed is not None:
                self.mode = "graph"
                return self._graphed(*args)
        self.mode = "eager"
        return _losses(*args)

    def _capture(self, args):
        try:
            sample = tuple(a.detach().clone().requires_grad_(a.requires_grad) for a in args)
            graphed = torch.cuda.make_graphed_callables(_losses, sample, num_warmup_iters=3)
            STATS["captured"] += 1
            return graphed
        except Exception as exc:           # any capture failure: run eagerly, same numbers
            reason = f"{type(exc).__name__}: {exc}"
            STATS["fallbacks"].append(reason)
            warnings.warn(f"CUDA graphs not used for the training epoch ({reason}); running the "
                          "same computation eagerly", RuntimeWarning, stacklevel=3)
            self.use_graphs = False
            return None
