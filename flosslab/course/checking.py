"""The machinery of the exercise checkers (the ``check_*`` functions of each lesson module).

A checker calls the student's function on a few cases, compares with an independent computation and
prints ONE line: "Correct: ..." or "Not yet: ... Hint: ...". It never raises, whatever the student's
function does (raises, returns a list, a torch tensor, the wrong shape, NaN), and it returns a
:class:`CheckResult`, true or false, so that a notebook (or a test) can act on the result without
a bare ``True`` shown under the cell.

Tolerances follow the dtype of the answer: float64 answers must agree to ``rtol=1e-7`` (round-off of
a different but correct order of operations), float32 answers to ``rtol=2e-4`` (float32 keeps ~7
digits and the exercises' computations lose up to ~2 of them); an answer in float32 is therefore
accepted when it is right to float32's precision, not rejected with a hint that the maths is wrong.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

#: (rtol, atol) by the precision of the answer.
TOLERANCE = {np.dtype("float64"): (1e-7, 1e-9), np.dtype("float32"): (2e-4, 1e-5)}


class Answer(Exception):
    """Raised inside a checker to stop at the first problem; carries the hint."""


class CheckResult:
    """What a checker returns: true or false like a bool, but shown as nothing in a notebook (the
    checker has already printed its one line), so a check cell never shows a bare ``True``."""
    __slots__ = ("ok",)

    def __init__(self, ok: bool):
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other):
        return self.ok == bool(other) if isinstance(other, (bool, CheckResult)) else NotImplemented

    def __hash__(self):
        return hash(self.ok)

    def __repr__(self) -> str:
        return f"CheckResult({self.ok})"

    def _ipython_display_(self):
        """Nothing to show: the checker printed its line."""


def report(ok: bool, name: str, hint: str = "") -> CheckResult:
    if ok:
        print(f"Correct: {name} matches the reference on every test case.")
    else:
        print(f"Not yet: {name}. Hint: {hint}")
    return CheckResult(ok)


def call(name: str, func, *args):
    """The student's ``func(*args)``; any exception becomes an :class:`Answer` with one line."""
    if not callable(func):
        raise Answer(f"pass the function itself (e.g. check(my_function)), got "
                     f"{type(func).__name__}")
    try:
        return func(*args)
    except NotImplementedError:
        raise Answer(f"{name} is not written yet (it raises NotImplementedError): fill in the "
                     "stub.") from None
    except Exception as err:  # noqa: BLE001 - any error in student code becomes a hint
        text = str(err).splitlines()[0] if str(err) else ""
        raise Answer(f"{name} raised {type(err).__name__}" + (f": {text}" if text else "")
                     + ". Run it on a small example to see where.") from None


def to_array(name: str, value, shape=None, what: str = "the result") -> np.ndarray:
    """The answer as a float array (numpy, torch, lists and scalars accepted), checked for type,
    shape and NaN/inf with a specific hint for each."""
    if value is None:
        raise Answer(f"{name} returned None: did you forget the return statement?")
    if hasattr(value, "detach"):                      # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise TypeError
    except (TypeError, ValueError):
        raise Answer(f"{what} must be numbers (an array), got {type(value).__name__}") from None
    if array.dtype.kind != "f":
        array = array.astype(float)
    if shape is not None and array.shape != tuple(shape):
        raise Answer(f"{what} must have shape {tuple(shape)}, got {array.shape}")
    if np.isnan(array).any():
        raise Answer(f"{what} contains NaN: a 0/0, a log of a negative number, or an operation on "
                     "NaN inputs. Find the first NaN (np.isnan) and look at what produced it.")
    if np.isinf(array).any():
        raise Answer(f"{what} contains inf: an overflow or a log(0). Work with logs or "
                     "normalise before it grows.")
    return array


def close(got: np.ndarray, want, rtol: float | None = None, atol: float | None = None) -> bool:
    """``got`` agrees with ``want`` at the tolerance of ``got``'s precision (see :data:`TOLERANCE`)."""
    want = np.asarray(want, dtype=float)
    default = TOLERANCE.get(np.asarray(got).dtype, TOLERANCE[np.dtype("float64")])
    rtol = default[0] if rtol is None else max(rtol, default[0])
    atol = default[1] if atol is None else max(atol, default[1])
    got = np.asarray(got, dtype=float)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol))


def run(name: str, cases) -> bool:
    """Run ``cases`` (a callable raising :class:`Answer` at the first problem) and print one line."""
    try:
        cases()
    except Answer as answer:
        return report(False, name, str(answer))
    return report(True, name)


def pick(name: str, student, fallback, check) -> object:
    """The student's function if it passes ``check`` (silently), else ``fallback``; says which.

    Later demos call what this returns, so a student's own function feeds the demos once it is
    right, and a skipped exercise never breaks them.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        ok = student is not None and check(student)
    print(f"the demos below use {'your' if ok else 'the reference'} {name}"
          + ("" if ok else " (yours does not pass its check yet)"))
    return student if ok else fallback
