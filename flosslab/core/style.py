"""The look of every figure, in the course and in the reproduction: colours and names of the
flossing schedules, before/after colours, figure construction, PNG output and the presentation
setting (larger type for a projector).

Figures are :class:`matplotlib.figure.Figure` objects, never pyplot's: creating one shows nothing
by itself and nothing accumulates in pyplot's registry; a notebook shows one through its
``_repr_png_`` (see :func:`new_figure`), a script saves it with :func:`save_png`.
"""
from __future__ import annotations

import io

import matplotlib as mpl
from matplotlib.figure import Figure

from .errors import FlosslabError
from .trainconfig import SCHEDULE_LABELS  # noqa: F401 (figures label schedules)

#: The colour cycle of every figure: Okabe and Ito's palette (distinguishable with the common
#: colour-vision deficiencies; yellow last, as it is faint on white), instead of matplotlib's tab10,
#: whose green and red look alike to a red-green colour-blind reader.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
             "#F0E442")
#: Colours of "before" and "after" (flossing).
BEFORE, AFTER = "#7f7f7f", "#D55E00"
#: One colour and one name per flossing schedule, everywhere.
SCHEDULE_COLOURS = {"none": "#7f7f7f", "pre": "#0072B2", "inter": "#D55E00",
                    "penalty": "#009E73"}
#: One marker per schedule, so that schedules stay apart without their colours (red and green
#: look alike to a red-green colour-blind reader, and on a washed-out projector).
SCHEDULE_MARKERS = {"none": "o", "pre": "s", "inter": "^", "penalty": "D"}

_PRESENTATION = {"font.size": 15, "axes.titlesize": 16, "axes.labelsize": 15,
                 "legend.fontsize": 13, "xtick.labelsize": 13, "ytick.labelsize": 13,
                 "lines.linewidth": 2.2, "lines.markersize": 7}
_CYCLE = {"axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO))}
_SCREEN = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
           "xtick.labelsize": 9, "ytick.labelsize": 9, "lines.linewidth": 1.5,
           "lines.markersize": 6}
_state = {"presentation": False, "formats": ("png",)}


def presentation(on: bool = True) -> None:
    """Larger type and thicker lines for figures made from now on (for a projector)."""
    _state["presentation"] = bool(on)
    mpl.rcParams.update({**(_PRESENTATION if on else _SCREEN), **_CYCLE})


def is_presentation() -> bool:
    return _state["presentation"]


def figure_formats(*formats: str) -> tuple:
    """The formats a notebook shows each figure in: PNG always, and SVG too after
    ``figure_formats("png", "svg")`` (what ``course figures --format svg`` asks for, to export
    vector figures). Without arguments, returns the current formats."""
    if formats:
        unknown = set(formats) - {"png", "svg"}
        if unknown:
            raise FlosslabError(f"figure formats are 'png' and 'svg', got {sorted(unknown)}")
        _state["formats"] = tuple(dict.fromkeys(("png",) + tuple(formats)))
    return _state["formats"]


class CourseFigure(Figure):
    """A Figure that a notebook displays as a PNG whatever backend the kernel has loaded.

    A bare :class:`~matplotlib.figure.Figure` ending a cell shows as the text
    ``<Figure size ... with 1 Axes>`` until the inline backend has been loaded; this class gives
    IPython a ``_repr_png_`` so the picture always appears (JupyterLab, the classic notebook,
    nbconvert)."""

    def _repr_png_(self):
        return render_png(self)

    def _repr_svg_(self):
        return render_svg(self) if "svg" in _state["formats"] else None


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 9.0, height: float = 3.4, **kw):
    """A constrained-layout figure and its axes (a flat list); larger in presentation mode."""
    scale = 1.25 if _state["presentation"] else 1.0
    fig = CourseFigure(figsize=(width * scale, height * scale), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw).ravel().tolist()
    return fig, axes


def render_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def render_svg(fig) -> str:
    """The figure as SVG text."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()


def save_png(fig, path, dpi: int = 110) -> None:
    """Write the figure to ``path`` as a PNG."""
    fig.savefig(path, format="png", dpi=dpi)
