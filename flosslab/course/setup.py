"""The first code cell of every notebook: seed, device and fast flag, printed."""
from __future__ import annotations

import random

import numpy as np

from ..core.settings import FAST


def available_device() -> str:
    """"cuda" when torch sees a GPU, else "cpu" (also when torch is not installed)."""
    try:
        from ..engine.device import resolve_device
    except ImportError:
        return "cpu"
    return resolve_device("auto").type


def setup_notebook(seed: int = 0) -> dict:
    """Seed python, numpy (legacy global) and torch if present; print what was chosen.

    The reference code takes explicit seeds everywhere; the global seeds only cover a student's own
    experiments. Returns {"seed", "device", "fast"}.
    """
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass
    device = available_device()
    print(f"seed={seed}  device={device}  fast mode={FAST} "
          f"({'FLOSSLAB_FAST=1: small sizes' if FAST else 'full sizes'})")
    return {"seed": seed, "device": device, "fast": FAST}
