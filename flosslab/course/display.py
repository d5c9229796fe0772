"""Helpers of every lesson's figures and status lines."""
from __future__ import annotations

import numpy as np

# --- labels ---------------------------------------------------------------------------------------


def lam(i) -> str:
    """"λ" with the index as Unicode subscript digits: λ₁, λ₁₆ (for status lines)."""
    return "λ" + str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def lams(k: int) -> str:
    """λ₁ for k = 1, else λ₁…λₖ."""
    return lam(1) if k == 1 else f"{lam(1)}…{lam(k)}"


# --- axes and lines -------------------------------------------------------------------------------


def set_line(line, x, y):
    """Replace a line's data."""
    line.set_data(np.asarray(x), np.asarray(y))


def rescale(ax, x_margin: float = 0.0):
    """Autoscale ``ax`` to the data its artists now hold."""
    ax.relim()
    ax.autoscale_view()
    if x_margin:
        ax.margins(x=x_margin)


def legend_outside(ax, side: str = "below", ncols: int | None = None, **kw):
    """The panel's legend outside its axes, where no setting of a dashboard can put data under
    it: ``"below"`` (under the x label, entries side by side) or ``"right"`` (one column).
    Constrained layout makes room for it when the figure is first laid out."""
    labels = ax.get_legend_handles_labels()[1]
    if side == "below":
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False,
                         ncols=ncols or max(len(labels), 1), **kw)
    if side == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                         ncols=ncols or 1, **kw)
    raise ValueError(f"side must be 'below' or 'right', not {side!r}")


def light_log_axis(ax):
    """A log y axis whose labels are plain text ("1e-05"), without minor labels: drawing mathtext
    tick labels is a large part of a dashboard's redraw."""
    from matplotlib.ticker import LogFormatter, NullFormatter
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def integer_ticks(ax):
    """Whole-number ticks on the x axis (steps, indices)."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def skip_layout_pass(fig):
    """Drop the placeholder layout engine that a frozen layout leaves behind: with it, every
    ``savefig`` draws the figure twice (a layout pass, then the picture). A figure still being
    laid out (constrained) is left alone."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)


def running_median(y, width: int = 9) -> np.ndarray:
    """Median of each window of ``width`` values (for display: the loss is noisy)."""
    y = np.asarray(y, dtype=float)
    half = width // 2
    return np.asarray([np.median(y[max(0, i - half):i + half + 1]) for i in range(y.size)])
