"""Recycled CPU buffers for the recursions' per-step arrays.

The fused recursion keeps every step's frame and product, (T, E, k, N) arrays of ~14 MB at the
paper's size. A fresh CPU allocation of that size is a fresh ``mmap`` whose pages are faulted in on
first write, a large share of a flossing step's time when several such arrays are made each step
(``benchmarks/engine_threads.py`` times the engine without the pool). On a GPU torch's caching
allocator already recycles memory, so the pool is only used on the CPU.

A buffer goes back to the pool only when nothing can read it any more: backward temporaries at the
end of the backward pass, and the arrays the backward needs when the autograd node holding them is
freed (:meth:`BufferPool.give_when_freed`, a :func:`weakref.finalize` on the node), so that
``retain_graph=True`` and several forward passes before a backward stay correct. At most
:data:`MAX_IDLE_BYTES` are kept idle; :func:`clear` drops them.
"""
from __future__ import annotations

import math
import threading
import weakref
from collections import defaultdict

import torch

#: Idle bytes the pool keeps at most (Binder has ~2 GB of memory).
MAX_IDLE_BYTES = 256 * 2 ** 20


class BufferPool:
    """Uninitialised CPU tensors by (shape, dtype), handed out once and taken back when done."""

    def __init__(self, max_idle_bytes: int = MAX_IDLE_BYTES):
        self.max_idle_bytes = max_idle_bytes
        self._idle = defaultdict(list)
        self._idle_bytes = 0
        self._lock = threading.Lock()

    def take(self, shape, dtype, device) -> torch.Tensor:
        """An uninitialised tensor of this shape: a recycled one on the CPU, else a new one."""
        device = torch.device(device)
        if device.type == "cpu":
            key = (tuple(shape), dtype)
            with self._lock:
                if self._idle[key]:
                    buffer = self._idle[key].pop()
                    self._idle_bytes -= _nbytes(buffer)
                    return buffer
        return torch.empty(shape, dtype=dtype, device=device)

    def give(self, *buffers: torch.Tensor) -> None:
        """Return buffers nothing reads any more (CPU only; others, or over the cap, are dropped)."""
        with self._lock:
            for buffer in buffers:
                size = _nbytes(buffer)
                if (buffer.device.type == "cpu" and buffer.is_contiguous()
                        and self._idle_bytes + size <= self.max_idle_bytes):
                    self._idle[(tuple(buffer.shape), buffer.dtype)].append(buffer)
                    self._idle_bytes += size

    def give_when_freed(self, owner, *buffers: torch.Tensor) -> None:
        """Return ``buffers`` to the pool once ``owner`` (an autograd node) is garbage."""
        weakref.finalize(owner, self.give, *buffers)

    def clear(self) -> None:
        """Drop every idle buffer."""
        with self._lock:
            self._idle.clear()
            self._idle_bytes = 0

    @property
    def idle_bytes(self) -> int:
        return self._idle_bytes


def _nbytes(tensor: torch.Tensor) -> int:
    return math.prod(tensor.shape) * tensor.element_size()


#: The pool the engine's recursions use.
POOL = BufferPool()


def clear() -> None:
    """Free the idle buffers of the engine's pool (e.g. after a large run in a notebook)."""
    POOL.clear()
