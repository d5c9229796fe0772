"""Run-time settings, read in one place: the fast (CI / Binder) mode and the number of threads.

Fast mode: set ``FLOSSLAB_FAST=1`` to shrink sizes and epochs so that every notebook runs in about
a minute on a 2-core machine.

Threads: flosslab works on small matrices (frames of ~80 x 75, batches of 16 sequences), where a
second thread per process buys little alone and costs a lot when another process wants the same
cores (OpenMP threads spin while they wait; the numbers are in ``benchmarks/sharing.py``'s output
and the README). So the command line and the course run with **one thread per process** unless told
otherwise, and use more cores by running more processes (``reproduce --jobs``). Choose another
count with ``--threads N`` on the command line, :func:`set_threads` in Python, or the environment
variable ``FLOSSLAB_THREADS`` (read here, never written). Library functions called directly leave
torch's and BLAS's thread counts as the caller set them.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

FAST: bool = os.environ.get("FLOSSLAB_FAST", "0").strip().lower() in {"1", "true", "yes", "on"}

#: Environment variable that overrides the default of one thread per process.
THREADS_ENV = "FLOSSLAB_THREADS"


def fast_or_full(fast_value, full_value):
    """Return ``fast_value`` in fast mode (``FLOSSLAB_FAST=1``), else ``full_value``."""
    return fast_value if FAST else full_value


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset`` set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                     # not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """``FLOSSLAB_THREADS`` if set (a whole number >= 1, or "all" for every available core), else 1."""
    from .validate import check_int
    value = os.environ.get(THREADS_ENV, "").strip().lower()
    if not value:
        return 1
    if value == "all":
        return available_cores()
    try:
        return check_int(f"{THREADS_ENV}", int(value), minimum=1)
    except ValueError:
        from .errors import FlosslabError
        raise FlosslabError(f"{THREADS_ENV} must be a whole number >= 1 or 'all', got "
                            f"{value!r}") from None


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def set_threads(n: int | None = None) -> int:
    """Use ``n`` threads (default :func:`default_threads`) for torch's intra-op work and for BLAS
    from now on, in this process; returns the count. For a notebook kernel or a script."""
    from threadpoolctl import threadpool_limits

    from .validate import check_int
    n = default_threads() if n is None else check_int("the number of threads", n, minimum=1)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")
    return n


@contextmanager
def threads(n: int | None = None):
    """Run the enclosed code with ``n`` threads (default :func:`default_threads`) for torch and
    BLAS, restoring both afterwards."""
    from threadpoolctl import threadpool_limits

    from .validate import check_int
    n = default_threads() if n is None else check_int("the number of threads", n, minimum=1)
    torch = _torch()
    before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            if torch is not None and before != n:
                torch.set_num_threads(n)
            yield n
    finally:
        if torch is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)


def single_blas_thread():
    """Context manager: one BLAS thread while the numpy reference runs its loops of small matrix
    products and QRs (faster alone and under sharing; ``benchmarks/blas_threads.py`` measures it).
    Set through threadpoolctl at run time; no environment variable is touched."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1, user_api="blas")
