"""Scalar measures of matrices that both implementations report (numpy only)."""
from __future__ import annotations

import numpy as onp


def effective_rank(matrix) -> float:
    """Entropy effective rank (Roy & Vetterli 2007): exp(-sum p_i log p_i), p_i = s_i / sum s.

    Equals r for a matrix with r equal nonzero singular values; 1 for rank one; 0 for the zero
    matrix.
    """
    s = onp.linalg.svd(onp.asarray(matrix, dtype=float), compute_uv=False)
    total = s.sum()
    if total == 0.0:
        return 0.0
    p = s[s > 0] / total
    return float(onp.exp(-onp.sum(p * onp.log(p))))


def log10_condition_number(log_sv) -> float:
    """log10 of sigma_1 / sigma_k from natural-log singular values (descending); +inf when
    sigma_k = 0 (log -inf: a singular product, the zero matrix included)."""
    log_sv = onp.asarray(log_sv, dtype=float)
    if log_sv[-1] == -onp.inf:
        return float("inf")
    return float((log_sv[0] - log_sv[-1]) / onp.log(10.0))


def window_lengths(seq_len: int, times=None, count: int = 12) -> onp.ndarray:
    """Lengths t of the windows over which a condition number curve is measured: ``times`` as
    given, or ``count`` lengths spread from 1 to ``seq_len``, the steps a window has after the
    transient (at least one)."""
    from .errors import FlosslabError
    if seq_len < 1:
        raise FlosslabError("the transient leaves no steps; use longer inputs or a shorter transient")
    if times is None:
        times = onp.unique(onp.linspace(1, seq_len, count).astype(int))
    return onp.asarray(times, dtype=int)
