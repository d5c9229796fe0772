"""Conventions both implementations share (numpy only): the random network, frame, initial state and
input bits, the transient, and the flossing and measurement windows.

Both backends draw here, so the same seed gives the same numbers in the numpy reference and in the
torch engine. Seeds: the network from ``seed``; the frame from ``seed``; the initial state from
``seed + 1``; the bits from whatever seed the caller passes (an int, a list such as
``[seed, step]``, or a ``numpy.random.Generator``).
"""
from __future__ import annotations

import math

import numpy as onp

from .errors import FlosslabError
from .validate import check_int, check_real

PARAM_NAMES = ("W", "U", "b", "V", "c")
#: Parameters that change the forward dynamics, hence the Lyapunov exponents (the readout does not).
DYNAMIC_PARAMS = ("W", "U", "b")

#: Window of one flossing step, as in the paper's code: 55 steps of which 16 are discarded.
FLOSS_SEQ_LEN = 55
FLOSS_TRANSIENT = 16
#: Length of the windows on which training measures the exponents.
SPECTRUM_WINDOW = 200
#: A frame A = QR has *small pivots* when some |R_jj| is below this fraction of its largest entry
#: (a saturated network: rows scaled by tanh'(a), down to ~1e-34 at |a| = 40, make up the small
#: R_jj). Then Householder QR must take the rows in order of decreasing size, and the derivative
#: needs the complement of the frame (:mod:`flosslab.reference.qr`). Above this ratio the plain
#: computations err by at most ~1e-16 / ratio = 1e-10 relative to R_jj (measured on N = 12
#: networks over 100 steps, unsorted QR: exponents off by 5e-13 with slopes down to 1e-6 of the
#: largest, 3e-11 at 6e-10, 1e-7 at 2e-12). The engine's fused recursion takes the plain path
#: there: at g = 3 (N = 80, k = 75) every step does; at g = 4 a few in 55.
GRADED_ROWS = 1e-6


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
    try:
        return {
            "W": rng.normal(0.0, gain / math.sqrt(n), size=(n, n)),
            "U": rng.normal(0.0, 1.0, size=(n, n_inputs)),
            "b": rng.uniform(0.0, bias_scale, size=n),
            "V": rng.normal(0.0, 1.0 / math.sqrt(n), size=(n_outputs, n)),
            "c": onp.zeros(n_outputs),
        }
    except (MemoryError, ValueError, OverflowError):   # numpy: too large to allocate or index
        def size(m):
            return str(m) if m < 10 ** 12 else f"{float(m):.3g}"
        raise FlosslabError(f"a network of N={size(n)} units (n_inputs={size(n_inputs)}, "
                            f"n_outputs={size(n_outputs)}) does not fit in memory: W alone takes "
                            f"{8.0 * float(n) * float(n) / 2 ** 30:.3g} GiB; choose a smaller N") from None


#: The author's readout offset (``offset = [0.001f0]`` in GradientFlossing_ExampleCode.jl).
AUTHOR_OFFSET = 1e-3
#: Steps of input-free dynamics that relax his initial states (``relaxIC(sIC, 100)``).
RELAX_STEPS = 100


def author_readout(params: dict, seed: int = 0) -> dict:
    """``params`` with the author's readout (GradientFlossing_ExampleCode.jl: ``wr = randn(R, N)``,
    ``offset = 0.001``): V ~ N(0, 1) (std 1, not 1/sqrt(N)), drawn from ``[seed, 3]``, and
    c = 0.001. His readout reads the pre-activation (``r = wr*x .+ offset``); the training
    configuration's ``readout="author"`` says so."""
    v = onp.asarray(params["V"])
    rng = onp.random.default_rng([check_int("seed", seed, minimum=0), 3])
    return {**params, "V": rng.standard_normal(v.shape), "c": onp.full(v.shape[0], AUTHOR_OFFSET)}


def relaxed_initial_states(params: dict, n_states: int, seed: int = 0,
                           steps: int = RELAX_STEPS) -> onp.ndarray:
    """The author's learned initial states before training (his ``relaxIC``): ``n_states``
    pre-activations x ~ N(0, 1)^N drawn from ``[seed, 4]``, each relaxed ``steps`` steps of the
    input-free dynamics ``x <- W tanh(x) + b``. Returns (n_states, N) float64; the state of
    sequence j of a batch is h_0 = tanh(x[j])."""
    w, b = onp.asarray(params["W"], dtype=float), onp.asarray(params["b"], dtype=float)
    n_states = check_int("the number of initial states", n_states, minimum=1)
    rng = onp.random.default_rng([check_int("seed", seed, minimum=0), 4])
    x = rng.standard_normal((n_states, w.shape[0]))
    for _ in range(check_int("the relaxation steps", steps, minimum=0)):
        x = onp.tanh(x) @ w.T + b
    return x


def autonomous(params: dict) -> dict:
    """A copy of numpy ``params`` with zero bias: with no input this is the classic random network."""
    out = dict(params)
    out["b"] = onp.zeros_like(params["b"])
    return out


def default_transient(seq_len: int) -> int:
    """Steps discarded before accumulating, as in the paper's code: 10 + T/10."""
    return 10 + seq_len // 10


def random_frame(n: int, k: int, seed: int = 0) -> onp.ndarray:
    """An orthonormal N x k frame: the Q factor of a Gaussian matrix drawn from ``seed``."""
    rng = onp.random.default_rng(seed)
    q, _ = onp.linalg.qr(rng.standard_normal((n, k)))
    return q


def random_state(n: int, seed: int = 0) -> onp.ndarray:
    """The initial state of a spectrum: uniform in [-1, 1]^N, drawn from ``seed + 1``.

    A random start matters: with no input and zero bias, h = 0 is a fixed point.
    """
    return onp.random.default_rng(int(seed) + 1).uniform(-1.0, 1.0, size=n)


def random_bits(seq_len: int, n_inputs: int, seed) -> onp.ndarray:
    """Bernoulli(1/2) input bits of shape (seq_len, n_inputs), the task-like drive."""
    rng = seed if isinstance(seed, onp.random.Generator) else onp.random.default_rng(seed)
    return rng.integers(0, 2, size=(seq_len, n_inputs)).astype(float)
