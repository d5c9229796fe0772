"""Argument checks shared by every layer: each returns the clean value or raises a
:class:`~flosslab.core.errors.FlosslabError` that says what was wrong and what is valid."""
from __future__ import annotations

import math
import numbers

import numpy as onp

from .errors import FlosslabError

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


def check_params(params, needed=("W", "U", "b"), ensemble: bool = False) -> None:
    """Check that ``params`` is a dict holding the arrays ``needed`` with consistent shapes.

    A single network: W (N, N), U (N, n_inputs), b (N,), V (n_outputs, N), c (n_outputs,);
    an ensemble (``ensemble=True``) has a leading member axis E on each. Raises
    :class:`FlosslabError` naming the missing or misshapen array and the expected shape.
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
    lead = 1 if ensemble else 0
    shape = lambda name: tuple(getattr(params[name], "shape", onp.shape(params[name])))
    w = shape("W")
    if len(w) != 2 + lead or w[-1] != w[-2] or w[-1] < 1:
        raise FlosslabError(f"W must be a square matrix of shape "
                            f"{'(E, N, N)' if ensemble else '(N, N)'}, got shape {w}")
    n = w[-1]
    expected = {"U": lambda s: len(s) == 2 + lead and s[-2] == n,
                "b": lambda s: len(s) == 1 + lead and s[-1] == n,
                "V": lambda s: len(s) == 2 + lead and s[-1] == n,
                "c": lambda s: len(s) == 1 + lead}
    for name, ok in expected.items():
        if name in keys and not ok(shape(name)):
            raise FlosslabError(f"{name} must have shape {PARAM_SHAPES[name]} with N={n} "
                                f"(W is {w}), got {shape(name)}")
