"""Where the engine computes: device and floating-point type, chosen by argument, never globally.

``resolve_device("auto")`` picks CUDA when ``torch.cuda.is_available()`` and the CPU otherwise, and
says what it picked (:func:`describe_device`, or ``verbose=True``). float64 is the default dtype:
the exponents of a network of N units need round-off well below 1e-4 (float32 is acceptable only
where the benchmark shows it, see :mod:`flosslab.engine.bench`). :func:`cpu_threads` and
:func:`one_cpu_thread`
let the fused recursion (and the benchmark) run on a set number of CPU threads for a while; torch's
thread count is restored on leaving them.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import torch

from ..core.errors import FlosslabError
from ..core.validate import check_choice, real_array

DEVICES = ("cpu", "cuda", "auto")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device=None, verbose: bool = False) -> torch.device:
    """``"cpu"``, ``"cuda"`` (or ``"cuda:1"``), ``"auto"`` or a ``torch.device`` -> ``torch.device``.

    None means ``"cpu"``. ``"cuda"`` without a GPU raises :class:`FlosslabError`; ``"auto"`` falls back
    to the CPU. With ``verbose`` the choice is printed (one line, from :func:`describe_device`).
    """
    if isinstance(device, torch.device):
        picked = device
    else:
        name = "cpu" if device is None else str(device)
        base = name.split(":")[0]
        check_choice("device", base, DEVICES)
        if base == "auto":
            picked = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            picked = torch.device(name)
    if picked.type == "cuda" and not torch.cuda.is_available():
        raise FlosslabError("device 'cuda' was requested but torch sees no GPU "
                            f"(torch {torch.__version__}); use device='cpu' or 'auto'")
    if verbose:
        print(f"flosslab engine: {describe_device(picked)}")
    return picked


def describe_device(device) -> str:
    """One line naming the device: ``"cpu (2 threads)"`` or ``"cuda:0 (NVIDIA H100 ...)"``."""
    device = resolve_device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'' if n == 1 else 's'})"


def resolve_dtype(dtype=None) -> torch.dtype:
    """``"float32"``, ``"float64"``, a torch float dtype, or None (float64) -> ``torch.dtype``."""
    if dtype is None:
        return torch.float64
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise FlosslabError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    return DTYPES[check_choice("dtype", str(dtype), tuple(DTYPES))]


def as_tensor(value, device=None, dtype=None, name: str = "an array") -> torch.Tensor:
    """``value`` (numpy array, number or tensor) as a tensor on ``device`` with ``dtype`` (default:
    a tensor's own, else float64). Anything but real numbers (text, ragged lists, complex) raises
    :class:`FlosslabError` naming ``name``."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise FlosslabError(f"{name} must hold real numbers, got a tensor of {value.dtype}")
        return value.to(device=device if device is not None else value.device,
                        dtype=dtype if dtype is not None else value.dtype)
    value = real_array(name, value, dtype=None)
    return torch.as_tensor(value, device=device, dtype=dtype if dtype is not None else torch.float64)


@contextmanager
def cpu_threads(count: int):
    """Run the enclosed torch calls on ``count`` CPU threads, restoring torch's thread count
    afterwards. Not safe against other Python threads changing it at the same time."""
    before = torch.get_num_threads()
    if count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_cpu_thread(a: torch.Tensor, limit: int):
    """:func:`cpu_threads` (1) when ``a`` is on the CPU and ``a.numel() <= limit``; else nothing."""
    return cpu_threads(1) if a.device.type == "cpu" and a.numel() <= limit else nullcontext()
