"""The first code cell of every notebook: seeds, device, fast mode, threads and presentation mode,
set and printed in one line."""
from __future__ import annotations

import random

import numpy as np

from ..core.settings import FAST, set_threads
from ..core.style import presentation as set_presentation


def available_device() -> str:
    """"cuda" when torch sees a GPU, else "cpu" (also when torch is not installed)."""
    try:
        from ..engine.device import resolve_device
    except ImportError:
        return "cpu"
    return resolve_device("auto").type


def setup_notebook(seed: int = 0, presentation: bool = False, threads: int | None = None) -> dict:
    """Seed python, numpy (legacy global) and torch; set the thread count (one per process unless
    ``threads`` or ``FLOSSLAB_THREADS`` says otherwise: see :mod:`flosslab.core.settings`); switch
    the figures to large type for a projector with ``presentation=True``; print what was chosen.

    The package takes explicit seeds everywhere; the global seeds only cover a student's own
    experiments. Returns {"seed", "device", "fast", "threads", "presentation"}.
    """
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass
    n_threads = set_threads(threads)
    set_presentation(presentation)
    device = available_device()
    mode = "FLOSSLAB_FAST=1: small sizes" if FAST else "full sizes"
    print(f"seed={seed}  device={device}  fast mode={FAST} ({mode})  threads={n_threads}"
          f"{'  presentation mode' if presentation else ''}")
    return {"seed": seed, "device": device, "fast": FAST, "threads": n_threads,
            "presentation": presentation}
