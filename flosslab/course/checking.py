"""The machinery of the exercise checkers (the ``check_*`` functions of each lesson module).

A checker calls the student's function on a few cases, compares with an independent computation and
prints ONE line: "Correct: ..." or "Not yet: ... Hint: ...". It never raises, whatever the student's
function does (raises, returns None, a list, a 0-d array, a torch tensor, the wrong shape, NaN),
and it returns a :class:`CheckResult`, true or false, so that a notebook (or a test) can act on the
result without a bare ``True`` shown under the cell.

The contract every checker keeps (through :func:`call`, :func:`to_array`, :func:`to_tuple` and
:func:`run`):

* the student's function gets **copies** of its inputs; the reference and every hint are computed
  from the originals, which the answer never sees;
* an answer that **changes its inputs** (``theta -= ...``, ``params["W"] *= ...``) is rejected with a
  hint naming the input ("your function changed `params['W']`"), and so is one that **returns (a
  view of) an input**: the demos keep arrays they handed over (the parameters before flossing) and
  would see them change;
* the answer is also called **the way its demo calls it** (the demo's dtypes, ``torch.no_grad()``
  where the demo has it, the demo's ranges of every argument), and only the scored part of its
  result is compared (what it returns elsewhere, e.g. targets before the delay, is its own affair);
* whatever the answer returns is converted and shape-checked with a hint, never an exception;
  :func:`run` turns anything a checker did not foresee into a "Not yet" line as well.

:func:`pick` hands the demos the student's function once it passes its check, wrapped so that it
gets copies of its inputs too, and otherwise the package's reference for that exercise (each
checker names its reference with :func:`checker`), so a Run All works with every exercise unsolved
and without any solution code in the notebook's folder.

Tolerances follow the dtype of the answer: float64 answers must agree to ``rtol=1e-7`` (round-off of
a different but correct order of operations), float32 answers to ``rtol=2e-4`` (float32 keeps ~7
digits and the exercises' computations lose up to ~2 of them); an answer in float32 is therefore
accepted when it is right to float32's precision, not rejected with a hint that the maths is wrong.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
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


def checker(reference):
    """Decorator of a ``check_*`` function: ``reference`` is the package's function for the same
    exercise (same arguments), which :func:`pick` gives the demos while the student's fails."""
    def mark(check):
        check.reference = reference
        return check
    return mark


# --- copies of the inputs, and what the answer did to them -----------------------------------------

def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def copy_inputs(value):
    """A copy of ``value`` the answer may do anything to: numpy arrays copied, torch tensors cloned
    (``clone`` keeps a tensor in its autograd graph), dicts, lists and tuples copied item by item;
    anything else (numbers, functions, autograd's boxes) passed as it is."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if _is_tensor(value):
        return value.clone()
    if isinstance(value, dict):
        return {key: copy_inputs(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(copy_inputs(item) for item in value)
    return value


def _snapshot(value):
    """A detached copy of ``value``, to compare with after the call."""
    if _is_tensor(value):
        return value.detach().clone()
    return copy_inputs(value)


def _same(before, after) -> bool:
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape \
                or after.dtype != before.dtype:
            return False
        return bool(np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
    if _is_tensor(before):
        import torch
        after = after.detach()
        return after.shape == before.shape and after.dtype == before.dtype and bool(
            torch.equal(torch.nan_to_num(before), torch.nan_to_num(after))
            and torch.equal(torch.isnan(before), torch.isnan(after)))
    return True


def _leaves(value, path):
    """(path, leaf) for every array or tensor in ``value``, e.g. ("params['W']", W)."""
    if isinstance(value, np.ndarray) or _is_tensor(value):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")


def _shares_memory(a, b) -> bool:
    try:
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return bool(np.may_share_memory(a, b))
        if _is_tensor(a) and _is_tensor(b):
            return a.numel() > 0 and a.untyped_storage().data_ptr() == \
                b.untyped_storage().data_ptr()
    except Exception:  # noqa: BLE001 - an exotic type cannot alias an input we made
        return False
    return False


def argument_names(func, n_args: int) -> list:
    """The names of ``func``'s first ``n_args`` parameters (the student's own), for hints."""
    try:
        params = [p.name for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(n_args)]


def call(name: str, func, *args, no_grad: bool = False):
    """The student's ``func(*args)`` on copies of ``args`` (under ``torch.no_grad()`` with
    ``no_grad``, as a demo calls it); any exception becomes an :class:`Answer` with one line, and
    so does an answer that changed one of its inputs or returned (a view of) one."""
    if not callable(func):
        raise Answer(f"pass the function itself (e.g. check(my_function)), got "
                     f"{type(func).__name__}")
    passed = copy_inputs(args)
    before = [_snapshot(a) for a in passed]
    context = contextlib.nullcontext()
    if no_grad:
        import torch
        context = torch.no_grad()
    try:
        with context:
            result = func(*passed)
    except NotImplementedError:
        raise Answer(f"{name} is not written yet (it raises NotImplementedError): fill in the "
                     "stub.") from None
    except Exception as err:  # noqa: BLE001 - any error in student code becomes a hint
        text = str(err).splitlines()[0] if str(err) else ""
        where = (" (the demo calls it under torch.no_grad(): differentiate inside "
                 "`with torch.enable_grad():`, or use torch.func)") if no_grad else ""
        raise Answer(f"{name} raised {type(err).__name__}" + (f": {text}" if text else "")
                     + where + ". Run it on a small example to see where.") from None
    names = argument_names(func, len(args))
    for arg_name, original, after in zip(names, before, passed):
        for (path, old), (_, new) in zip(_leaves(original, arg_name), _leaves(after, arg_name)):
            if not _same(old, new):
                raise Answer(f"your function changed `{path}` (its input, or a function it calls "
                             "did); return a new array instead, e.g. `x = x - step` rather than "
                             "`x -= step`: the demos keep the arrays they pass in.")
    for out_path, out in _leaves(result, "the result"):
        for arg_name, arg in zip(names, passed):
            for path, leaf in _leaves(arg, arg_name):
                if _shares_memory(out, leaf):
                    raise Answer(f"{out_path} is (a view of) the input `{path}`: return a new "
                                 "array (e.g. np.array(...), .copy()), so that changing one "
                                 "cannot change the other.")
    return result


# --- reading the answer ------------------------------------------------------------------------------

def to_array(name: str, value, shape=None, what: str = "the result", finite: bool = True
             ) -> np.ndarray:
    """The answer as a float array (numpy, torch, lists and scalars accepted), checked for type,
    shape and (with ``finite``) NaN/inf with a specific hint for each; never raises anything but
    :class:`Answer`."""
    if value is None:
        raise Answer(f"{name} returned None: did you forget the return statement?")
    try:
        if _is_tensor(value):                         # a torch tensor, on any device and dtype
            value = value.detach().cpu()
            if value.is_floating_point() and value.element_size() < 4:     # half, bfloat16
                value = value.float()
            value = value.numpy()
        array = np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise TypeError
    except Exception:  # noqa: BLE001 - ragged lists, dicts, strings, complex numbers
        raise Answer(f"{what} must be numbers (an array), got {type(value).__name__}") from None
    if array.dtype.kind != "f":
        array = array.astype(float)
    if shape is not None and array.shape != tuple(shape):
        raise Answer(f"{what} must have shape {tuple(shape)}, got {array.shape}")
    if finite and np.isnan(array).any():
        raise Answer(f"{what} contains NaN: a 0/0, a log of a negative number, or an operation on "
                     "NaN inputs. Find the first NaN (np.isnan) and look at what produced it.")
    if finite and np.isinf(array).any():
        raise Answer(f"{what} contains inf: an overflow or a log(0). Work with logs or "
                     "normalise before it grows.")
    return array


def to_tuple(name: str, value, n: int, what: str) -> tuple:
    """The answer as ``n`` items (a tuple, a list, or an array or tensor of length ``n``), or an
    :class:`Answer` saying what it should be."""
    if value is None:
        raise Answer(f"{name} returned None: did you forget the return statement? Return {what}.")
    if isinstance(value, (tuple, list)):
        items = tuple(value)
    elif isinstance(value, np.ndarray) or _is_tensor(value):
        items = tuple(value) if value.ndim >= 1 else ()
    else:
        items = ()
    if len(items) != n:
        raise Answer(f"return {what}, got {type(value).__name__}"
                     + (f" of length {len(items)}" if items else "") + ".")
    return items


def close(got: np.ndarray, want, rtol: float | None = None, atol: float | None = None) -> bool:
    """``got`` agrees with ``want`` at the tolerance of ``got``'s precision (see :data:`TOLERANCE`)."""
    want = np.asarray(want, dtype=float)
    default = TOLERANCE.get(np.asarray(got).dtype, TOLERANCE[np.dtype("float64")])
    rtol = default[0] if rtol is None else max(rtol, default[0])
    atol = default[1] if atol is None else max(atol, default[1])
    got = np.asarray(got, dtype=float)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol))


def run(name: str, cases) -> CheckResult:
    """Run ``cases`` (a callable raising :class:`Answer` at the first problem) and print one line;
    anything else a case raises (an answer the checker did not foresee) is reported, not raised."""
    try:
        with np.errstate(all="ignore"):
            cases()
    except Answer as answer:
        return report(False, name, str(answer))
    except Exception as err:  # noqa: BLE001 - a checker never raises
        return report(False, name, f"the checker could not read your answer "
                      f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                      "return what the exercise asks for, with the shape it names.")
    return report(True, name)


# --- the demos -----------------------------------------------------------------------------------------

def protected(func):
    """``func`` called on copies of its arguments: whatever it does to them, the caller's arrays
    (a demo's saved parameters, its cached trajectories) stay as they were."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*copy_inputs(args), **copy_inputs(kwargs))
    return wrapper


def pick(name: str, student, check, fallback=None):
    """The student's function if it passes ``check`` (silently), else the reference (``fallback``,
    by default the one ``check`` names, see :func:`checker`); says which.

    Later demos call what this returns, so a student's own function feeds the demos once it is
    right (given copies of its inputs: :func:`protected`), and a skipped exercise never breaks them.
    """
    fallback = fallback if fallback is not None else getattr(check, "reference", None)
    if fallback is None:
        raise TypeError(f"{getattr(check, '__name__', check)!r} names no reference function "
                        "(decorate it with checking.checker(reference))")
    with contextlib.redirect_stdout(io.StringIO()):
        ok = student is not None and bool(check(student))
    print(f"the demos below use {'your' if ok else 'the reference'} {name}"
          + ("" if ok else " (yours does not pass its check yet)"))
    if not ok:
        return fallback
    mine = protected(student)
    mine.picked_from_student = True
    return mine


def whose(func) -> str:
    """"your" for a student's function that :func:`pick` handed on, else "the reference": for the
    labels of what a demo draws."""
    return "your" if getattr(func, "picked_from_student", False) else "the reference"
