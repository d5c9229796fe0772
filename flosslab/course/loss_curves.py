"""Reading a noisy loss curve (notebooks 04 and 05): is it still falling, did it rise? Each step's
loss is noisy, so both rules compare medians of quarters of the curve."""
from __future__ import annotations

import numpy as np

#: Fewer steps than this are too few to tell.
MIN_STEPS = 8


def quarter_medians(losses) -> np.ndarray:
    """The medians of the four quarters of ``losses`` (at least :data:`MIN_STEPS` values)."""
    losses = np.asarray(losses, dtype=float)
    n = losses.size
    return np.asarray([np.median(losses[i * n // 4:(i + 1) * n // 4]) for i in range(4)])


def loss_still_falling(losses, ratio: float = 0.8) -> bool:
    """True when the loss is still falling: the median of its last quarter is below ``ratio``
    times the median of the quarter before. Fewer than 8 steps: True (too few to tell)."""
    if np.size(losses) < MIN_STEPS:
        return True
    q = quarter_medians(losses)
    return bool(q[3] < ratio * q[2])


def loss_rose(losses, factor: float = 1.5) -> bool:
    """True when the median of the last quarter is more than ``factor`` times the first
    quarter's. Fewer than 8 steps: False."""
    if np.size(losses) < MIN_STEPS:
        return False
    q = quarter_medians(losses)
    return bool(q[3] > factor * q[0])
