"""Argument checks shared by every layer: each returns the clean value or raises a
:class:`~flosslab.core.errors.FlosslabError` that says what was wrong and what is valid."""
from __future__ import annotations

import math
import numbers

import numpy as onp

from .errors import TASK_NETWORK, FlosslabError

#: The parameter arrays of a vanilla RNN and their shapes in terms of N, n_inputs, n_outputs.
PARAM_SHAPES = {"W": "(N, N)", "U": "(N, n_inputs)", "b": "(N,)", "V": "(n_outputs, N)",
                "c": "(n_outputs,)"}


def check_int(name: str, value, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is a whole number in [minimum, maximum], else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and math.isfinite(float(value)) \
                and float(value).is_integer():
            value = int(value)
        else:
            raise FlosslabError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if value < minimum:
        raise FlosslabError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise FlosslabError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_real(name: str, value, minimum: float | None = None, maximum: float | None = None,
               strict_minimum: bool = False) -> float:
    """Return ``value`` as a finite float within the given bounds, else raise."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise FlosslabError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise FlosslabError(f"{name} must be a finite number, got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise FlosslabError(f"{name} must be > {minimum}, got {value}")
        if not strict_minimum and value < minimum:
            raise FlosslabError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise FlosslabError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_n_exponents(n_exponents, n_units: int) -> int:
    """Number of exponents k: None means all N; otherwise 1 <= k <= N."""
    if n_exponents is None:
        return int(n_units)
    k = check_int("the number of exponents k", n_exponents, minimum=1)
    if k > n_units:
        raise FlosslabError(
            f"k={k} exponents requested but the network has N={n_units} units; choose k <= N")
    return k


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the valid ones."""
    if not isinstance(value, (str, int, float)) or value not in choices:
        raise FlosslabError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def is_torch(value) -> bool:
    """True for a torch tensor (told by its module, so that core needs no torch)."""
    return type(value).__module__.split(".")[0] == "torch"


def _describe(value) -> str:
    dtype = getattr(value, "dtype", None)
    return f"{type(value).__name__} of {dtype}" if dtype is not None else type(value).__name__


def real_array(name: str, value, dtype=float) -> onp.ndarray:
    """``value`` as a numpy array of real numbers (of ``dtype``; None keeps it), or a
    :class:`FlosslabError` for a torch tensor, text, ragged lists or complex numbers."""
    if is_torch(value):
        raise FlosslabError(f"{name} must be a numpy array for the numpy reference, got a torch "
                            "tensor; use the torch engine (flosslab.engine) or .numpy()")
    try:
        array = onp.asarray(value)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype.kind not in "biuf":
        raise FlosslabError(f"{name} must be an array of real numbers, got {_describe(value)}"
                            + (f" {value!r}" if isinstance(value, str) else ""))
    return array if dtype is None else array.astype(dtype, copy=False)


#: Floating-point types a network's arrays may have, by backend (linear algebra needs them).
FLOAT_TYPES = {"numpy": ("float32", "float64"), "torch": ("torch.float32", "torch.float64")}
CONVERT_HINT = {"numpy": "the numpy reference needs numpy arrays: flosslab.engine.to_numpy(params) "
                         "converts a torch network",
                "torch": "the torch engine needs tensors: flosslab.engine.to_torch(params) "
                         "converts a numpy network"}


def _check_arrays(params, keys, arrays: str) -> None:
    for name in keys:
        value = params[name]
        if is_torch(value) != (arrays == "torch"):
            raise FlosslabError(f"params[{name!r}] is a {_describe(value)}; {CONVERT_HINT[arrays]}")
        if not (hasattr(value, "shape") and hasattr(value, "dtype")):
            raise FlosslabError(f"params[{name!r}] must be an array, got {_describe(value)}; use "
                                "init_rnn(N, ...) or numpy arrays")
        if str(value.dtype) not in FLOAT_TYPES[arrays]:
            raise FlosslabError(f"params[{name!r}] must hold float32 or float64 numbers, got "
                                f"{value.dtype}; convert it (e.g. .astype(float)) or use init_rnn")
    if arrays == "torch":
        kinds = {(str(params[name].dtype), str(params[name].device)) for name in keys}
        if len(kinds) > 1:
            raise FlosslabError(f"the tensors of params must share one dtype and device, got "
                                f"{sorted(kinds)}; use flosslab.engine.to_torch(params, device, "
                                "dtype)")


def check_params(params, needed=("W", "U", "b"), ensemble: bool = False,
                 arrays: str | None = None) -> None:
    """Check that ``params`` is a dict holding the arrays ``needed`` with consistent shapes.

    A single network: W (N, N), U (N, n_inputs), b (N,), V (n_outputs, N), c (n_outputs,);
    an ensemble (``ensemble=True``) has a leading member axis E on each. ``arrays``: "numpy" (the
    reference: numpy arrays, or autograd's traced ones) or "torch" (the engine: tensors of one
    dtype and device), float32 or float64; None checks the shapes only. Raises
    :class:`FlosslabError` naming the missing, misshapen or mistyped array and what is valid.
    """
    if not hasattr(params, "keys"):          # a dict, or autograd's traced dict
        raise FlosslabError(f"params must be a dict of arrays {{'W', 'U', 'b', 'V', 'c'}} (as "
                            f"init_rnn returns), got {type(params).__name__}")
    keys = set(params.keys())
    missing = [name for name in needed if name not in keys]
    if missing:
        raise FlosslabError(f"params is missing {', '.join(repr(m) for m in missing)}; a network "
                            "needs W (N, N), U (N, n_inputs), b (N,) and, for outputs, V "
                            "(n_outputs, N), c (n_outputs,): use init_rnn(N, ...)")
    present = [name for name in PARAM_SHAPES if name in keys]
    if arrays is not None:
        _check_arrays(params, present, arrays)
    lead = 1 if ensemble else 0

    def shape(name):
        value = params[name]
        if hasattr(value, "shape"):
            return tuple(value.shape)
        try:
            return onp.shape(value)
        except ValueError:                   # ragged nested lists
            raise FlosslabError(f"params[{name!r}] must be an array, got a ragged "
                                f"{type(value).__name__}") from None
    w = shape("W")
    if len(w) != 2 + lead or w[-1] != w[-2] or w[-1] < 1:
        raise FlosslabError(f"W must be a square matrix of shape "
                            f"{'(E, N, N)' if ensemble else '(N, N)'} with N >= 1, got shape {w}")
    n = w[-1]
    expected = {"U": lambda s: len(s) == 2 + lead and s[-2] == n,
                "b": lambda s: len(s) == 1 + lead and s[-1] == n,
                "V": lambda s: len(s) == 2 + lead and s[-1] == n,
                "c": lambda s: len(s) == 1 + lead}
    for name, ok in expected.items():
        if name in keys and not ok(shape(name)):
            raise FlosslabError(f"{name} must have shape {PARAM_SHAPES[name]} with N={n} "
                                f"(W is {w}), got {shape(name)}")
        if ensemble and name in keys and shape(name)[0] != w[0]:
            raise FlosslabError(f"{name} must have E={w[0]} members like W, got {shape(name)}")
    if "V" in keys and "c" in keys and shape("V")[-2] != shape("c")[-1]:
        raise FlosslabError(f"V {shape('V')} and c {shape('c')} must have the same number of "
                            "outputs: V (n_outputs, N), c (n_outputs,)")


def check_task_network(params) -> None:
    """A network trained on the tasks: one input bit and one output (after :func:`check_params`)."""
    if params["U"].shape[-1] != 1 or params["V"].shape[-2] != 1:
        raise FlosslabError(TASK_NETWORK + f"; got U {tuple(params['U'].shape)}, V "
                            f"{tuple(params['V'].shape)}")


def check_state(name: str, shape, expected) -> None:
    """An initial state (or frame) of shape ``shape`` must have shape ``expected``."""
    if tuple(shape) != tuple(expected):
        raise FlosslabError(f"{name} must have shape {tuple(expected)}, got {tuple(shape)}")
