"""The course's caches: the disk cache (joblib.Memory) and one in-memory :class:`Store`.

The rule (one place for each kind of result; nothing else in :mod:`flosslab.course` caches):

* **to disk** (:func:`call`, :func:`remember`): what a dashboard or a Train button computed, so that
  it survives the kernel: a lecturer computes every dashboard's states before class
  (``python -m flosslab course warm``) and a slider move in the lecture only reads a file;
* **in memory, bounded** (:class:`Store`): results that need no recomputation in this kernel but
  are not pure functions of hashable arguments, or must be found again by a key of their own:
  training runs (:mod:`flosslab.course.training_runs`, also on disk), flossing runs kept to be
  resumed (notebook 04), measured timings (notebook 07; never on disk: a time belongs to the
  machine and the moment). A store drops its oldest entry past its bound; every access holds its
  lock (dashboards compute on worker threads); ``stats()``, ``keys()`` and ``clear()`` are public;
* **functools.lru_cache** (with a ``maxsize``): pure functions of hashable arguments (a spectrum for
  a gain and a seed), whose cache is the function's own;
* **no module-level dict, list or OrderedDict used as a cache** (``tests/test_layout.py``).

What goes to disk:

* every :class:`~flosslab.course.dashboard_machinery.Dashboard` computation, keyed by the
  dashboard's ``compute`` function and its control values (:func:`call`);
* the training runs of the Train buttons (:mod:`flosslab.course.training_runs`, :func:`recall` and
  :func:`remember`).

A key holds:

* **the code**: the cache lives in a folder named by a hash of flosslab's source and shipped data
  (:func:`code_version`), so any change to the package starts a new, empty cache;
* **the mode**: fast (``FLOSSLAB_FAST=1``) and full mode never share a result;
* **the function**: a flosslab function by its name (its code is in the package's hash) and its
  closure's values; a function defined elsewhere (a notebook's cell, a student's answer) by its
  source (bytecode where there is none), its closure's values and the source of the functions it
  calls from its own module,
  so a redefined answer is a new key. Global *data* read by a function is not part of the key:
  a computation must depend only on its arguments, its closure and code. A closure holding
  something that cannot be hashed (a lock, an open file) is simply not cached;
* **the arguments**: floats rounded to 12 significant digits, so that a slider value of
  ``0.30000000000000004`` from the browser finds ``0.3``.

Where: ``FLOSSLAB_CACHE`` names the folder; unset, the user's cache folder
(``~/.cache/flosslab`` on Linux, from ``platformdirs``); ``FLOSSLAB_CACHE=off`` (or ``0``, ``no``,
``none``, ``false``) turns it off. A folder that cannot be written, or a cached file that cannot
be read, gives one :class:`CacheWarning` and the computation runs as without a cache.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
import types
import warnings
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

from ..core import settings
from ..core.errors import FlosslabError

ENV = "FLOSSLAB_CACHE"
OFF_WORDS = {"0", "off", "no", "none", "false"}
PACKAGE = Path(__file__).resolve().parents[1]


class CacheWarning(UserWarning):
    """The disk cache could not be used; the computation ran without it."""


class Uncacheable(Exception):
    """A function whose identity cannot be hashed (its closure holds a lock, a file, ...)."""


# --- where ----------------------------------------------------------------------------------------

def cache_root() -> Path | None:
    """The cache folder (all code versions), or None when the cache is off."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in OFF_WORDS:
        return None
    if value:
        return Path(value).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("flosslab", appauthor=False))


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of flosslab's source files and shipped data: a new version gets a new cache."""
    digest = hashlib.sha256()
    files = sorted(p for pattern in ("**/*.py", "paper/data/*.json") for p in PACKAGE.glob(pattern))
    for path in files:
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def mode() -> str:
    return "fast" if settings.FAST else "full"


def location() -> Path | None:
    """This code version's cache folder, or None when the cache is off."""
    root = cache_root()
    return None if root is None else root / f"flosslab-{code_version()}"


_state = {"memory": None, "where": None, "warned": set()}
_lock = threading.RLock()          # _warn_once takes it again inside _memorized


def _warn_once(message: str) -> None:
    with _lock:
        new = message not in _state["warned"]
        _state["warned"].add(message)
    if new:
        warnings.warn(message, CacheWarning, stacklevel=3)


def forget_warnings() -> None:
    """Say each :class:`CacheWarning` again the next time it arises (each is said once per
    process; a lecturer who fixed the folder, or a test, starts over)."""
    with _lock:
        _state["warned"].clear()


def _memorized():
    """The two joblib memorized functions at the current location, or None (cache off or
    unusable, said once in a :class:`CacheWarning`)."""
    where = location()
    if where is None:
        return None
    with _lock:
        if _state["where"] != where:
            _state["where"], _state["memory"] = where, None
            try:
                where.mkdir(parents=True, exist_ok=True)
                probe = where / f".probe-{os.getpid()}-{threading.get_ident()}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as err:
                _warn_once(f"flosslab cache: cannot write to {where} ({err}); computing without "
                           f"a cache (set {ENV} to a writable folder, or {ENV}=off)")
                return None
            import joblib
            memory = joblib.Memory(str(where), verbose=0)
            memorized = (memory.cache(_evaluate, ignore=["func"]),
                         memory.cache(_stored, ignore=["value"]))
            # the first check records each function's code, which MemorizedFunc.call does not
            memorized[0].check_call_in_cache(None, None, None)
            memorized[1].check_call_in_cache(None, None)
            _state["memory"] = memorized
        return _state["memory"]


def enabled() -> bool:
    """True when results are read from and written to the disk cache."""
    return _memorized() is not None


# --- keys -----------------------------------------------------------------------------------------

def _is_library(module_name: str) -> bool:
    """Installed code outside flosslab (numpy, the standard library): identified by name."""
    if module_name in ("builtins", "__main__") or module_name.split(".")[0] == "flosslab":
        return module_name == "builtins"
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if path is None:
        return module is not None          # a built-in module
    path = os.path.realpath(path)
    import sysconfig
    roots = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "purelib", "platlib")}
    return any(path.startswith(root + os.sep) for root in roots)


def _source_key(func):
    """A function's source text (IPython keeps every cell's, so a notebook's function has one),
    else its bytecode: the source is the same whichever way a cell was compiled."""
    import inspect
    import textwrap
    try:
        return ("source", textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return ("bytecode", _code_key(func.__code__))


def _code_key(code: types.CodeType):
    """Bytecode and constants of a code object, without file names and line numbers."""
    consts = tuple(_code_key(c) if isinstance(c, types.CodeType) else repr(c)
                   for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars)


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, tuple):
        return tuple(_round(v) for v in value)
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def fingerprint(obj, _seen=None):
    """What identifies ``obj`` in a key (see the module's text); raises :class:`Uncacheable`."""
    seen = set() if _seen is None else _seen
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return _round(obj)
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(fingerprint(v, seen) for v in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((fingerprint(k, seen), fingerprint(v, seen)) for k, v in obj.items()))
    if isinstance(obj, types.ModuleType):
        return ("module", obj.__name__)
    if isinstance(obj, types.MethodType):
        return ("method", fingerprint(obj.__func__, seen), fingerprint(obj.__self__, seen))
    wrapped = getattr(obj, "__wrapped__", None)        # functools.lru_cache, functools.wraps
    if callable(obj) and wrapped is not None and not isinstance(obj, type):
        return ("wrapped", fingerprint(wrapped, seen))
    if isinstance(obj, types.FunctionType):
        return _function_key(obj, seen)
    if isinstance(obj, (type, types.BuiltinFunctionType)) or (
            callable(obj) and not hasattr(obj, "__dict__") and hasattr(obj, "__qualname__")):
        return ("name", getattr(obj, "__module__", ""), obj.__qualname__)
    import joblib
    try:
        return ("object", joblib.hash(obj))
    except Exception as err:                            # a lock, a generator, an open file ...
        raise Uncacheable(f"cannot hash {type(obj).__name__}: {err}") from None


def _function_key(func, seen):
    module = func.__module__ or ""
    if id(func) in seen:
        return ("recursive", module, func.__qualname__)
    seen.add(id(func))
    closure = tuple(fingerprint(cell.cell_contents, seen) for cell in func.__closure__ or ())
    defaults = fingerprint(func.__defaults__, seen)
    kwdefaults = fingerprint(func.__kwdefaults__ or {}, seen)
    if module.split(".")[0] == "flosslab":              # its code is in code_version()
        return ("flosslab", module, func.__qualname__, closure, defaults, kwdefaults)
    if _is_library(module):
        return ("library", module, func.__qualname__)
    # a notebook's or a test's function: its bytecode, and that of the functions it calls from
    # its own module (a student's helper redefined is a new key)
    called = []
    for name in func.__code__.co_names:
        value = func.__globals__.get(name)
        if isinstance(value, types.FunctionType) and value.__module__ == module:
            called.append((name, _function_key(value, seen)))
    return ("code", module, func.__qualname__, _source_key(func), closure, defaults,
            kwdefaults, tuple(called))


def identity(func) -> str:
    """A hash of ``func``'s identity in this mode (raises :class:`Uncacheable`)."""
    import joblib
    return joblib.hash((mode(), fingerprint(func)))


# --- use ------------------------------------------------------------------------------------------

def _evaluate(func, key, kwargs):
    """What :func:`call` caches: ``func(**kwargs)`` (``func`` is ignored by the key: ``key``
    stands for it)."""
    return func(**kwargs)


def _stored(key, value):
    """What :func:`remember` caches: ``value`` under ``key`` (``value`` is ignored by the key)."""
    return value


def _read(memorized, *args):
    """The cached result for ``args``, or (False, None) when there is none or it cannot be read."""
    if not memorized.check_call_in_cache(*args):
        return False, None
    try:
        return True, memorized.call_and_shelve(*args).get()
    except Exception as err:                             # a truncated or corrupt file
        _warn_once(f"flosslab cache: a cached result could not be read ({type(err).__name__}: "
                   f"{err}); computing it again")
        return False, None


#: How the disk cache's calls went, for tests and the warm command: counts of "hit", "miss",
#: "off" (read them with :func:`counts`; incremented under the lock: worker threads call).
stats = {"hit": 0, "miss": 0, "off": 0}


def _count(how: str) -> None:
    with _lock:
        stats[how] += 1


def counts() -> dict:
    """A copy of the disk cache's counts {"hit", "miss", "off"}."""
    with _lock:
        return dict(stats)


def call(func, kwargs: dict):
    """``func(**kwargs)`` through the disk cache: ``(result, how)`` with ``how`` one of "hit"
    (read from disk), "miss" (computed and written), "off" (cache off, unusable, or ``func`` not
    hashable: computed only). Exceptions of ``func`` propagate and nothing is stored."""
    memorized = _memorized()
    key = None
    if memorized is not None:
        try:
            key = identity(func)
        except Uncacheable:
            key = None
    if key is None:
        _count("off")
        return func(**kwargs), "off"
    args = (func, key, _round(dict(kwargs)))
    found, value = _read(memorized[0], *args)
    if found:
        _count("hit")
        return value, "hit"
    _count("miss")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)   # joblib's own write warning
        value, _ = memorized[0].call(*args)
    return value, "miss"


def recall(key):
    """The value kept under ``key`` by :func:`remember` (in this mode), or None."""
    memorized = _memorized()
    if memorized is None:
        return None
    found, value = _read(memorized[1], (mode(), _round(key)), None)
    _count("hit" if found else "miss")
    return value if found else None


def remember(key, value) -> None:
    """Keep ``value`` under ``key`` (in this mode) on disk; nothing when the cache is off."""
    memorized = _memorized()
    if memorized is not None:
        memorized[1].call((mode(), _round(key)), value)


def clear() -> dict:
    """Remove every flosslab cache folder (all code versions) under :func:`cache_root`; returns
    {"location", "removed", "bytes"}."""
    root = cache_root()
    if root is None:
        raise FlosslabError(f"the cache is off ({ENV}={os.environ.get(ENV)}); nothing to clear")
    removed, size = [], 0
    if root.is_dir():
        for folder in sorted(root.glob("flosslab-*")):
            if folder.is_dir():
                size += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                shutil.rmtree(folder)
                removed.append(str(folder))
    with _lock:
        _state["where"] = _state["memory"] = None
    return {"location": str(root), "removed": removed, "bytes": size}


def size_of(folder: Path | None = None) -> int:
    """Bytes under this code version's cache folder (or ``folder``)."""
    folder = location() if folder is None else folder
    if folder is None or not folder.is_dir():
        return 0
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


# --- in memory ------------------------------------------------------------------------------------

class Store:
    """A bounded in-memory map for one kind of result (see the module's rule): at most
    ``max_items`` entries, the oldest put dropped first; every access holds the store's lock, so
    worker threads share it safely. ``get`` counts hits and misses, ``put`` evictions."""

    def __init__(self, name: str, max_items: int = 256):
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
            raise FlosslabError(f"a store's bound is a whole number >= 1, got {max_items!r}")
        self.name, self.max_items = name, max_items
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = 0

    def get(self, key, default=None):
        """The value kept under ``key``, else ``default`` (a miss)."""
        with self._lock:
            if key in self._items:
                self._hits += 1
                return self._items[key]
            self._misses += 1
            return default

    def put(self, key, value):
        """Keep ``value`` under ``key`` (dropping the oldest entry past the bound); returns it."""
        with self._lock:
            if key not in self._items and len(self._items) >= self.max_items:
                self._items.popitem(last=False)
                self._evictions += 1
            self._items[key] = value
        return value

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def keys(self) -> list:
        """The keys kept, oldest first (a copy)."""
        with self._lock:
            return list(self._items)

    def items(self) -> list:
        """The (key, value) pairs kept, oldest first (a copy)."""
        with self._lock:
            return list(self._items.items())

    def stats(self) -> dict:
        """{"name", "size", "max_items", "hits", "misses", "evictions"}."""
        with self._lock:
            return {"name": self.name, "size": len(self._items), "max_items": self.max_items,
                    "hits": self._hits, "misses": self._misses, "evictions": self._evictions}

    def clear(self) -> None:
        """Forget every entry and reset the counts."""
        with self._lock:
            self._items.clear()
            self._hits = self._misses = self._evictions = 0

    def __repr__(self) -> str:
        s = self.stats()
        return f"Store({s['name']!r}: {s['size']}/{s['max_items']}, {s['hits']} hits)"
