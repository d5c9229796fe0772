"""Backend-free pieces shared by the numpy/autograd reference and the torch engine (numpy only).

Both backends draw their random networks, frames and flossing inputs here, so that the same seed
gives the same numbers in both, and record what they measured in the same history types. Nothing
here imports autograd or torch: the torch engine runs where autograd is not installed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as onp

from .config import check_int, check_real

PARAM_NAMES = ("W", "U", "b", "V", "c")
#: Parameters that change the forward dynamics, hence the Lyapunov exponents (the readout does not).
DYNAMIC_PARAMS = ("W", "U", "b")


def init_rnn(n_units: int, gain: float = 1.0, n_inputs: int = 1, n_outputs: int = 1,
             seed: int = 0, bias_scale: float = 0.1) -> dict:
    """Random RNN parameters, as in the paper's code.

    W ~ N(0, g^2/N) (N x N), U ~ N(0, 1) (N x n_inputs), b ~ U[0, bias_scale) (N),
    V ~ N(0, 1/N) (n_outputs x N), c = 0. Float64, reproducible from ``seed``.
    """
    n = check_int("the number of units N", n_units, minimum=1)
    gain = check_real("the gain g", gain, minimum=0.0)
    n_inputs = check_int("the number of inputs", n_inputs, minimum=0)
    n_outputs = check_int("the number of outputs", n_outputs, minimum=0)
    bias_scale = check_real("bias_scale", bias_scale, minimum=0.0)
    rng = onp.random.default_rng(check_int("seed", seed, minimum=0))
    return {
        "W": rng.normal(0.0, gain / onp.sqrt(n), size=(n, n)),
        "U": rng.normal(0.0, 1.0, size=(n, n_inputs)),
        "b": rng.uniform(0.0, bias_scale, size=n),
        "V": rng.normal(0.0, 1.0 / onp.sqrt(n), size=(n_outputs, n)),
        "c": onp.zeros(n_outputs),
    }


def autonomous(params: dict) -> dict:
    """A copy of ``params`` with zero bias: with no input this is the classic random network."""
    out = dict(params)
    out["b"] = onp.zeros_like(params["b"])
    return out


class SpectrumHistory(NamedTuple):
    """Running estimate of the exponents: ``estimates[j]`` after ``steps[j]`` accumulated steps."""
    steps: onp.ndarray
    estimates: onp.ndarray


def default_transient(n_steps: int) -> int:
    """Steps discarded before accumulating, as in the paper's code: 10 + T/10."""
    return 10 + n_steps // 10


def random_frame(n: int, k: int, seed: int = 0) -> onp.ndarray:
    """An orthonormal N x k frame: the Q factor of a Gaussian matrix."""
    rng = onp.random.default_rng(seed)
    q, _ = onp.linalg.qr(rng.standard_normal((n, k)))
    return q


#: Window of one flossing step, as in the paper's code: 55 steps of which 16 are discarded.
FLOSS_SEQ_LEN = 55
FLOSS_TRANSIENT = 16


class FlossHistory(NamedTuple):
    """Per flossing step: the loss and the k exponents it was computed from."""
    losses: onp.ndarray
    spectra: onp.ndarray


def random_bits(n_steps: int, n_inputs: int, seed) -> onp.ndarray:
    """Bernoulli(1/2) input bits of shape (n_steps, n_inputs), the task-like drive."""
    rng = seed if isinstance(seed, onp.random.Generator) else onp.random.default_rng(seed)
    return rng.integers(0, 2, size=(n_steps, n_inputs)).astype(float)


#: Length of the windows on which training measures the exponents.
SPECTRUM_WINDOW = 200


@dataclass
class TrainHistory:
    """What a training run measured, epoch by epoch."""
    loss: list = field(default_factory=list)            # task loss per epoch
    grad_norm: list = field(default_factory=list)       # total gradient norm before clipping
    eval_epochs: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)        # on fresh sequences, at eval_epochs
    spectra: list = field(default_factory=list)         # k exponents at eval_epochs
    grad_rank: list = field(default_factory=list)       # effective rank of dL/dW at eval_epochs
    floss_epochs: list = field(default_factory=list)
    floss_losses: list = field(default_factory=list)    # one array per flossing episode

    @property
    def final_accuracy(self) -> float:
        return self.accuracy[-1] if self.accuracy else float("nan")

    def as_dict(self) -> dict:
        return {name: [onp.asarray(v).tolist() for v in value] if name in {"spectra", "floss_losses"}
                else list(map(float, value)) if name not in {"eval_epochs", "floss_epochs"}
                else list(map(int, value)) for name, value in self.__dict__.items()}


def effective_rank(matrix) -> float:
    """Entropy effective rank (Roy & Vetterli 2007): exp(-sum p_i log p_i), p_i = s_i / sum s.

    Equals r for a matrix with r equal nonzero singular values; 1 for rank one; 0 for the zero
    matrix.
    """
    s = onp.linalg.svd(onp.asarray(matrix, dtype=float), compute_uv=False)
    total = s.sum()
    if total == 0.0:
        return 0.0
    p = s[s > 0] / total
    return float(onp.exp(-onp.sum(p * onp.log(p))))


def log10_condition_number(log_sv) -> float:
    """log10 of sigma_1 / sigma_k from natural-log singular values."""
    log_sv = onp.asarray(log_sv)
    return float((log_sv[0] - log_sv[-1]) / onp.log(10.0))
