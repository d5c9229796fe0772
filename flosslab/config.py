"""Project-wide settings and input validation.

The fast (CI / Binder) mode is read here and nowhere else: set ``FLOSSLAB_FAST=1`` to shrink
sizes and epochs so that every notebook runs in under a minute on a 2-core machine.
"""
from __future__ import annotations

import math
import os
import numbers

FAST: bool = os.environ.get("FLOSSLAB_FAST", "0").strip().lower() in {"1", "true", "yes", "on"}


def fast_or_full(fast_value, full_value):
    """Return ``fast_value`` in fast mode (``FLOSSLAB_FAST=1``), else ``full_value``."""
    return fast_value if FAST else full_value


class FlosslabError(ValueError):
    """Bad input, said in words a student can act on (what was wrong, what is valid)."""


class NumericalError(FloatingPointError):
    """Numerical trouble (NaN or inf where a finite number must be) caught before it spreads."""


class FrameCollapseWarning(RuntimeWarning):
    """An orthonormal frame lost rank (some |R_ii| = 0); the matching exponents are -inf."""


def check_int(name: str, value, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is a whole number in [minimum, maximum], else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
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
    if value not in choices:
        raise FlosslabError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def single_blas_thread():
    """Context manager: one BLAS thread while the reference runs.

    The reference works on small matrices (QR of N x k frames, N ~ 100), where a second BLAS thread
    costs more in synchronisation than it gains: measured on the 2-core CI machine, a flossing step
    at N=80, k=75 took ~45 ms on one thread and 95-440 ms on two (benchmarks/blas_threads.py). This
    limits the thread pool at run time through threadpoolctl; no environment variable is changed.
    """
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1, user_api="blas")
