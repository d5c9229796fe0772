"""When the frame is re-orthonormalised: the QR schedule of the Benettin algorithm, for both
implementations.

A QR is due every ``reorth_every`` steps, at the end of the transient and at the last step. Because
the product of the R factors is the R factor of the product, any interval gives the same exponents
in exact arithmetic; the interval only trades speed against round-off. Before a QR taken m steps
after the previous one the frame's condition number is about exp(m (lambda_1 - lambda_k)), so the
automatic interval (``reorth_every="auto"``) keeps m (lambda_1 - lambda_k) <= a budget
(:data:`SPREAD_BUDGET`: 12 in float64, 4 in float32, a little under the limits 15 and 5 where the
round-off was measured to start showing), estimating the spread from the last QR's log|R_ii|,
growing m at most twofold per QR and capping it at ``ceiling``.
"""
from __future__ import annotations

import math
from typing import Callable

from .errors import FlosslabError, transient_too_long
from .validate import check_int

SPREAD_BUDGET = {"float64": 12.0, "float32": 4.0}
DEFAULT_CEILING = 16


def next_interval(spread: float, current: int, budget: float, ceiling: int = DEFAULT_CEILING) -> int:
    """The interval m to the next QR for a spread lambda_1 - lambda_k (per step):
    floor(budget / spread), at most twice ``current``, at most ``ceiling``, at least 1."""
    m = ceiling if spread <= budget / ceiling else math.floor(budget / spread)
    return max(1, min(m, 2 * current, ceiling))


class QRSchedule:
    """The QR steps of one pass over ``seq_len`` steps, and the log|R_ii| recorded at them.

    ``reorth_every``: a whole number m >= 1, or ``"auto"``; then ``spread(log_r_diag)`` must give
    the largest (max_i - min_i) of the finite log|R_ii| of a QR (over a batch, the worst member) and
    ``budget`` the allowed m (lambda_1 - lambda_k). :meth:`due` counts a step and says whether a QR
    follows it; :meth:`record` keeps the log|R_ii| of the QRs after the transient, with the number
    of steps accumulated at each (``ends``).
    """

    def __init__(self, seq_len, reorth_every, transient, ceiling: int = DEFAULT_CEILING,
                 spread: Callable | None = None, budget: float = SPREAD_BUDGET["float64"]):
        self.seq_len = check_int("the number of steps T", seq_len, minimum=1)
        self.auto = isinstance(reorth_every, str) and reorth_every == "auto"
        self.m = 1 if self.auto else check_int("reorth_every (an interval, or 'auto')",
                                                reorth_every, minimum=1)
        self.transient = check_int("the transient", transient, minimum=0)
        if self.transient >= self.seq_len:
            raise FlosslabError(transient_too_long(self.transient, self.seq_len))
        if self.auto and spread is None:
            raise FlosslabError("reorth_every='auto' needs a spread estimate; give an interval")
        self.ceiling, self.spread, self.budget = ceiling, spread, budget
        self.since = 0
        self.logs, self.ends = [], []

    @property
    def n_accumulated(self) -> int:
        """Steps whose growth is counted: those after the transient."""
        return self.seq_len - self.transient

    def due(self, t: int) -> bool:
        """Count step t; True if a QR follows it."""
        self.since += 1
        return self.since == self.m or t == self.transient - 1 or t == self.seq_len - 1

    def record(self, t: int, log_r_diag) -> None:
        """Store the QR taken after step t and choose the next interval."""
        if t >= self.transient:
            self.logs.append(log_r_diag)
            self.ends.append(t + 1 - self.transient)
        if self.auto:
            self.m = next_interval(self.spread(log_r_diag) / max(self.since, 1), self.m,
                                   self.budget, self.ceiling)
        self.since = 0
