"""What a spectrum, a flossing run and a training run record, the same in both implementations."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as onp


class SpectrumHistory(NamedTuple):
    """Running estimate of the exponents: ``estimates[j]`` after ``steps[j]`` accumulated steps."""
    steps: onp.ndarray
    estimates: onp.ndarray


class FlossHistory(NamedTuple):
    """Per flossing step: the loss and the k exponents it was computed from."""
    losses: onp.ndarray
    spectra: onp.ndarray


@dataclass
class FlossState:
    """Where a flossing run stands, so that a later call continues it exactly.

    ``step``: flossing steps taken so far. The next step draws its bits, frame and initial state as
    step ``step`` of one long run, and Adam's bias correction counts from it.
    ``moments``: Adam's moment estimates of each flossed array, ``{name: (m, v)}``, each shaped
    like the parameter (numpy arrays in the reference, tensors in the engine); empty before the
    first step. The parameters themselves are not kept here: pass the ones the run returned."""
    step: int = 0
    moments: dict = field(default_factory=dict)


@dataclass
class TrainHistory:
    """What a training run measured, epoch by epoch."""
    loss: list = field(default_factory=list)            # task loss per epoch
    grad_norm: list = field(default_factory=list)       # total gradient norm before clipping
    eval_epochs: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)        # on fresh sequences, at eval_epochs
    spectra: list = field(default_factory=list)         # k exponents at eval_epochs
    grad_rank: list = field(default_factory=list)       # effective rank of dL/dW at eval_epochs
    step_rank: list = field(default_factory=list)       # of Adam's step on W (engine only)
    floss_epochs: list = field(default_factory=list)
    floss_losses: list = field(default_factory=list)    # one array per flossing episode

    @property
    def final_accuracy(self) -> float | None:
        """Accuracy at the last evaluation; None when the run was never evaluated (0 epochs)."""
        return self.accuracy[-1] if self.accuracy else None

    def as_dict(self) -> dict:
        """Plain lists, strict-JSON safe: -inf exponents (collapsed frames) become None."""
        def finite(v):
            return float(v) if v is not None and math.isfinite(float(v)) else None
        out = {}
        for name, value in self.__dict__.items():
            if name in {"spectra", "floss_losses"}:
                out[name] = [[finite(x) for x in onp.ravel(v)] for v in value]
            elif name in {"eval_epochs", "floss_epochs"}:
                out[name] = list(map(int, value))
            else:
                out[name] = [finite(v) for v in value]
        return out


def strict_json(value, path: str = ""):
    """``value`` (dicts, lists, tuples, numbers, numpy arrays and scalars) as plain JSON data in
    which every float that is not finite (NaN, +-inf) is None; returns it and the paths of the
    replaced entries (``"rows[0].exponents[5]"``), so that a caller can say why they are null."""
    replaced = []

    def walk(v, where):
        if isinstance(v, dict):
            return {k: walk(x, f"{where}.{k}" if where else str(k)) for k, x in v.items()}
        if isinstance(v, (list, tuple, onp.ndarray)):
            return [walk(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, (bool, onp.bool_)) or v is None or isinstance(v, str):
            return bool(v) if isinstance(v, onp.bool_) else v
        if isinstance(v, (int, onp.integer)):
            return int(v)
        if isinstance(v, (float, onp.floating)):
            if math.isfinite(float(v)):
                return float(v)
            replaced.append(where)
            return None
        return v

    return walk(value, path), replaced
