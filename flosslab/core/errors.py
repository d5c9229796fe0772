"""What can go wrong, in words a student can act on: the exception types and the messages both
implementations raise (one text each, so the numpy reference and the torch engine say the same).
"""
from __future__ import annotations


class FlosslabError(ValueError):
    """Bad input, said in words a student can act on (what was wrong, what is valid)."""


class NumericalError(FloatingPointError):
    """Numerical trouble (NaN or inf where a finite number must be) caught before it spreads."""


class FrameCollapseWarning(RuntimeWarning):
    """An orthonormal frame lost rank (some |R_ii| = 0); the matching exponents are -inf."""


# --- messages shared by the reference and the engine ------------------------------------------------

NEED_INPUTS_OR_SEQ_LEN = "give either inputs (T, n_inputs) or seq_len for an input-free run"
STATE_NOT_FINITE = ("the network's state became NaN or infinite; check its weights and biases "
                    "for NaN/inf")
INPUTS_NOT_FINITE = "the inputs contain NaN or inf; give finite inputs (task bits are 0 or 1)"
TASK_NETWORK = ("the tasks (copy, xor, parity) have one input bit and one output: a network for "
                "them has U (N, 1), V (1, N) and c (1,), as init_rnn(N) gives")
H0_NOT_FINITE = ("the initial state h0 contains NaN or inf; give a finite state (a tanh network's "
                 "states lie in [-1, 1])")
FRAME_NOT_FINITE = "the frame contains NaN or inf; give a finite orthonormal frame (N, k)"
JACOBIANS_NOT_FINITE = "the Jacobians contain NaN or inf; exponents are undefined"
NO_DERIVATIVE_COLLAPSED = ("the frame collapsed (some |R_ii| = 0), so the matching exponents are "
                           "-inf and have no derivative; differentiate only through Jacobians "
                           "that are not singular")


def floss_collapsed(who: str = "") -> str:
    return (f"a flossed exponent is -inf{who} (the frame collapsed: the Jacobians are singular, "
            "e.g. W = 0 at gain 0), so the flossing loss and its gradient are undefined; floss a "
            "network with a nonsingular W, or fewer exponents k")


def params_not_finite(name: str) -> str:
    return (f"params[{name!r}] contains NaN or inf; check the network's weights and biases "
            "(init_rnn gives finite ones; a diverged training run does not)")


def frame_not_finite(where: str = "") -> str:
    return (f"the frame became NaN or infinite{where}; check the Jacobians (or the network's "
            "weights) for NaN/inf")


def frame_collapsed(where: str = "") -> str:
    return (f"the orthonormal frame collapsed{where} (some |R_ii| = 0): the matching exponents "
            "are -inf. A singular Jacobian causes this: a singular weight matrix (a zero column) "
            "or a slope tanh'(a) that is exactly 0 (|a| = inf, or |a| > ~372 in float64, > ~52 "
            "in float32)")


def transient_too_long(transient: int, seq_len: int) -> str:
    return (f"the transient ({transient} steps) must be shorter than the trajectory ({seq_len} "
            "steps); lower the transient or raise T")


def jacobians_shape(shape) -> str:
    return f"jacobians must have shape (T, N, N) with T >= 1, got {tuple(shape)}"


def frame_shape(n: int, k: int, shape) -> str:
    return f"frame must have shape (N, k) = ({n}, {k}), got {tuple(shape)}"


def flossing_diverged(value, step: int, who: str = "") -> str:
    return (f"the flossing loss became {value}{who} at step {step}; lower the learning rate or "
            "check the network for saturation")


def floss_gradient_not_finite(step: int, who: str = "") -> str:
    return (f"the gradient of the flossing loss became NaN or infinite{who} at step {step} (the "
            "derivative of log|R_ii| is 1/R_ii, which overflows for weights or slopes below "
            "~1e-308); lower the learning rate, or check the network for tiny weights or "
            "saturation")


def training_diverged(epoch: int, loss, norm, who: str = "") -> str:
    return (f"training diverged at epoch {epoch}{who} (loss {loss}, gradient norm {norm}); lower "
            "the learning rate or the gain")
