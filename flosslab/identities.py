"""Exact identities the course checks: the right-hand side of the Lyapunov sum rule.

Sum rule: with k = N exponents accumulated over steps t = 1..T (Jacobians D_t = diag(1 - h_t^2) W),

    sum_i lambda_i = (1/T) sum_t log|det D_t| = log|det W| + (1/T) sum_t sum_i log(1 - h_{t,i}^2),

exactly, for any trajectory: the product of the QR factors' diagonals is |det| of the product.
"""
from __future__ import annotations

import numpy as np


def log_det_average(params: dict, states) -> float:
    """Time average of log|det D_t| over the given states h_t (T, N), natural log."""
    states = np.asarray(states, dtype=float)
    _, logdet_w = np.linalg.slogdet(np.asarray(params["W"]))
    return float(logdet_w + np.mean(np.sum(np.log1p(-states ** 2), axis=1)))
