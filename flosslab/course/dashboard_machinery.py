"""The machinery of every dashboard: controls, a status line and a figure shown as a PNG image,
recomputed off the kernel's main thread so that the plot never lags behind the controls.

How an update goes:

1. a control changes: the dashboard notes the request (a generation number) and shows
   "computing ..." in its status line; the kernel is free again at once;
2. one worker thread computes the newest request; requests that arrived meanwhile are skipped
   (stale): after a fast series of slider moves only the last one is computed;
3. if no newer request has arrived while it computed, the figure's artists are updated in place,
   rendered to PNG and put into the image; the status line shows the result's note, a message for
   an invalid combination of settings, or the error of a bug (with its traceback, never swallowed).

Outside a live kernel (tests, scripts, ``nbconvert`` without widgets) and for the first figure,
updates run synchronously; :meth:`Dashboard.wait` waits for the worker. Times of every update are
kept in ``seconds`` (``benchmarks/dashboard_latency.py`` reads them).

Computations go through the course's disk cache (:mod:`flosslab.course.cache`, joblib), keyed by
the ``compute`` function and the control values: a state computed once, in this kernel, an earlier
one or by ``python -m flosslab course warm``, is read from disk. ``cache_log`` records how each
update's computation went ("hit", "miss" or "off"). :func:`collecting` gathers the dashboards a
notebook makes, and :func:`warm_states` lists the control values the warm command computes.

Displayed, a dashboard is the live widget and, beside it in the same output, a PNG of its current
figure (``image/png``): JupyterLab and VS Code show the widget (the widget view's renderer ranks
above images), pages without a kernel (nbconvert's HTML, GitHub's viewer) show the picture.

Computations that take seconds (training) use the same class with ``button="Train"``: a button
starts them and a progress bar follows them (see :class:`Dashboard`).
"""
from __future__ import annotations

import base64
import contextlib
import html
import itertools
import threading
import time
import traceback
from typing import Callable

import ipywidgets as W

from ..core.errors import FlosslabError, NumericalError
from ..core.settings import single_blas_thread
from ..core.style import figure_formats, render_png, render_svg
from . import cache as disk_cache

#: While :func:`collecting` runs, every dashboard made (``course warm`` reads them).
_collected: list | None = None

#: Exceptions that mean "this combination of settings is not valid": shown as a message.
USER_ERRORS = (FlosslabError, NumericalError)


def in_live_kernel() -> bool:
    """True inside a running Jupyter kernel (where widgets talk to a browser)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def slider(kind, description, value, lo, hi, step=None, live=False, **kw):
    """A slider that reports on release (``continuous_update=False``) unless ``live``, with a
    readout wide enough not to overlap the next control. Its minimum width grows with the
    description (about 7 px a character) so that a row of controls, shrinking, always leaves the
    track at least 150 px: a fixed minimum let a long description eat the whole track."""
    min_width = max(260, 7 * len(description) + 210)
    args = dict(value=value, min=lo, max=hi, description=description, continuous_update=live,
                style={"description_width": "initial"},
                layout=W.Layout(width="auto", min_width=f"{min_width}px", margin="0 18px 0 0"),
                **kw)
    if step is not None:
        args["step"] = step
    return kind(**args)


def freeze_layout(fig, label_offset: float = -0.15):
    """Lay the figure out once (constrained layout), then keep the axes where they are: later
    redraws skip the layout solver (a third of a redraw's time). The y labels are pinned at
    ``label_offset`` (axes fraction) so wider tick labels after an update cannot push them out."""
    for ax in fig.axes:
        ax.yaxis.set_label_coords(label_offset, 0.5)
    fig.draw_without_rendering()
    fig.set_layout_engine(None)          # no engine at all: a placeholder would draw twice
    return fig


def show_bug(status, err: Exception) -> str:
    """Put an unexpected exception (a bug, not a user error) with its traceback into the ``status``
    HTML widget; return its one-line message."""
    message = f"{type(err).__name__}: {err}"
    status.value = (f"<span style='color:#a00'><b>Error (a bug in flosslab, please report it):"
                    f"</b> {html.escape(message)}</span><details>"
                    f"<pre>{html.escape(traceback.format_exc())}</pre></details>")
    return message


#: The screen every dashboard must fit with its controls (a projector's 1280 x 800), and what a row
#: of controls, an extra line and the status line take on it (ipywidgets' 28 px widgets with their
#: margins; a status line of up to two lines; a list box 20 px per row).
SCREEN_HEIGHT_PX = 800
CONTROL_ROW_PX = 40
STATUS_PX = 48
FIGURE_DPI = 100                     # render_png's


def _row_px(widget) -> int:
    if isinstance(widget, (W.SelectMultiple, W.Select)):
        return 20 * int(widget.rows or 5) + 12
    if isinstance(widget, W.Box) and widget.children:
        return max(_row_px(child) for child in widget.children)
    return CONTROL_ROW_PX


class Dashboard:
    """Controls, a status line and one figure; with ``button``, also a button and a progress bar.

    The one contract of every dashboard of the course::

        Dashboard(controls, compute, make_figure, draw, note=None, ...)

    * ``controls``: {name: widget}; ``values()`` is {name: widget.value};
    * ``compute(**values)`` returns the data for the control values, or raises one of
      :data:`USER_ERRORS` for a combination that is not valid (shown as a message);
    * ``make_figure(data, values)`` builds ``(fig, artists)`` once;
    * ``draw(artists, data, values)`` updates the artists for new data;
    * ``note(data, values)`` (optional) returns a line of HTML for the status line.

    Without ``button``, every control change recomputes (in the background in a live kernel, stale
    requests dropped) through the disk cache (``cache=False``: never); the figure is made with the
    first data. With ``button="Train"`` (the label), a click runs ``compute(**values,
    progress=callback)`` in a worker thread while the bar moves (synchronously outside a live
    kernel); ``make_figure(None, values)`` builds the empty figure at once; ``validate(values)``
    raising one of :data:`USER_ERRORS` disables the button and says why; ``ready(values)`` is the
    status line before a run; ``stale="this task"`` veils the figure the moment a control leaves the
    values it was drawn for (and says to press the button for ``stale``). A button's computations
    keep their own results (:mod:`flosslab.course.training_runs`), not through the dashboard.

    What the updates did: ``data`` and ``data_values`` (the values it was computed for),
    ``message`` (a user error's), ``note_text``, ``n_draws``, ``seconds`` (each update's or run's
    time) and ``cache_log`` (how each computation went through the disk cache).
    """

    def __init__(self, controls: dict, compute: Callable, make_figure: Callable, draw: Callable,
                 note: Callable | None = None, *, height: str = "400px",
                 extra: list | None = None, background: bool | None = None, cache: bool = True,
                 button: str | None = None, validate: Callable | None = None,
                 ready: Callable | None = None, extra_buttons=(), stale: str | None = None):
        self.controls = controls
        self._compute, self._make_figure, self._draw, self._note = compute, make_figure, draw, note
        self._validate_values, self._ready, self._stale_what = validate, ready, stale
        self.cache = cache and button is None
        self.cache_log: list[str] = []
        self.fig = self.artists = None
        self.data = self.data_values = self.message = None
        self.note_text = ""
        self.n_draws = 0
        self.seconds: list[float] = []
        self.stale = False
        self._veil: list = []
        self.background = in_live_kernel() if background is None else background
        self.image = W.Image(format="png", layout=W.Layout(height=height, width="auto",
                                                           object_fit="contain"))
        self.status = W.HTML(layout=W.Layout(min_height="1.6em"))
        items = list(controls.values())
        rows = [W.HBox(items[i:i + 3]) for i in range(0, len(items), 3)] + list(extra or [])
        self._lock = threading.Condition()
        self._requested = self._served = 0
        self._pending = self._worker = self._thread = None
        self._paused = False
        if button is None:
            self.button = None
            self.widget = W.VBox(rows + [self.status, self.image])
            self._rows = rows
            for control in items:
                control.observe(lambda change: self.request(), names="value")
            self._update(self.values(), generation=0)       # the first figure, synchronously
        else:
            self.button = W.Button(description=button, button_style="primary", icon="play")
            self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="260px"))
            self.bar_text = W.HTML()
            self.button.on_click(lambda _: self.run())
            rows.append(W.HBox([self.button, *extra_buttons, self.bar, self.bar_text]))
            self.widget = W.VBox(rows + [self.status, self.image])
            self._rows = rows
            for control in items:
                control.observe(lambda change: self._controls_changed(), names="value")
            self.fig, self.artists = make_figure(None, self.values())
            self.validate()
            self._render()
        _register(self)

    def screen_px(self) -> dict:
        """Heights on the screen, in px: "controls" (every row above the figure, the status line
        included), "image" (the declared height the figure is shown at) and "figure" (the PNG's
        own height, figsize x dpi); each of the last two must fit SCREEN_HEIGHT_PX - controls."""
        controls = sum(_row_px(row) for row in self._rows) + STATUS_PX
        image = int(float(str(self.image.layout.height).removesuffix("px")))
        figure = (round(self.fig.get_size_inches()[1] * FIGURE_DPI) if self.fig is not None
                  else 0)
        return {"controls": controls, "image": image, "figure": figure}

    def values(self) -> dict:
        """The controls' current values, {name: value}."""
        return {name: control.value for name, control in self.controls.items()}

    # --- without a button: every change recomputes ----------------------------------------------
    @contextlib.contextmanager
    def paused(self):
        """Control changes inside the block request no update (``course warm`` sets controls, so
        that the controls' own observers run, and computes the states itself)."""
        self._paused = True
        try:
            yield self
        finally:
            self._paused = False

    def request(self) -> None:
        """Recompute for the controls' current values (in the background in a live kernel)."""
        if self._paused:
            return
        values = self.values()
        with self._lock:
            self._requested += 1
            generation = self._requested
            self._pending = (values, generation)
            if not self.background:
                self._pending = None
            else:
                self.status.value = (f"<i>computing {html.escape(describe_settings(values, self.controls))}"
                                     " ...</i>")
                if self._worker is None or not self._worker.is_alive():
                    self._worker = threading.Thread(target=self._serve, daemon=True)
                    self._worker.start()
                self._lock.notify()
        if not self.background:
            self._update(values, generation)

    def _serve(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._worker = None
                    self._lock.notify_all()
                    return
                values, generation = self._pending
                self._pending = None
            self._update(values, generation)

    def _outdated(self, generation: int) -> bool:
        return generation < self._requested

    def _update(self, values: dict, generation: int) -> None:
        start = time.perf_counter()
        try:
            data = self.computed(values)
        except USER_ERRORS as err:
            if not self._outdated(generation):
                self.data, self.data_values, self.message = None, values, str(err)
                self.status.value = (f"<span style='color:#a00'>Cannot show this combination: "
                                     f"{html.escape(str(err))}</span>")
            return
        except Exception as err:            # a bug: show it with its traceback, never swallow it
            self.message = show_bug(self.status, err)
            if not self.background:
                raise
            return
        if self._outdated(generation):      # a newer request is waiting: do not draw this one
            return
        self.data, self.data_values, self.message = data, values, None
        if self.fig is None:
            self.fig, self.artists = self._make_figure(data, values)
            freeze_layout(self.fig)
        else:
            self._draw(self.artists, data, values)
        self.note_text = self._note(data, values) if self._note else ""
        png = render_png(self.fig)
        if self._outdated(generation):
            return
        self.image.value = png
        self.status.value = self.note_text
        self.n_draws += 1
        self._served = generation
        self.seconds.append(time.perf_counter() - start)

    def computed(self, values: dict, progress=None):
        """The data for ``values``: without a button from the disk cache, or computed (and written
        there); with a button computed (``progress`` its callback)."""
        if self.button is not None:
            return self._compute(**values, progress=progress or _silent)
        with single_blas_thread():          # small matrices: one BLAS thread is faster
            if not self.cache:
                self.cache_log.append("off")
                return self._compute(**values)
            data, how = disk_cache.call(self._compute, values)
        self.cache_log.append(how)
        return data

    # --- with a button: a click computes ---------------------------------------------------------
    def validate(self) -> bool:
        """Check the current values (``validate``): the button is enabled, or disabled and the
        status line says why."""
        values = self.values()
        try:
            if self._validate_values is not None:
                self._validate_values(values)
        except USER_ERRORS as err:
            self.button.disabled, self.message = True, str(err)
            self.status.value = (f"<span style='color:#a00'>Cannot run this combination: "
                                 f"{html.escape(str(err))}</span>")
            return False
        self.button.disabled, self.message = False, None
        self.status.value = self._ready(values) if self._ready else "ready: press the button"
        return True

    def _controls_changed(self) -> None:
        self.validate()
        if self._stale_what is not None and self.data_values is not None:
            self._mark_stale()
            self._render()

    def _mark_stale(self) -> None:
        """Veil the figure when the controls left the values it was drawn for (lifted when they
        return to them): without it the previous task's figure stayed on screen under the new
        task's name until the button was pressed."""
        drawn, now = self.data_values, self.values()
        self._lift_veil()
        if now == drawn:
            return
        from matplotlib.patches import Rectangle
        changed = ", ".join(f"{self.controls[k].description} = {drawn[k]}" for k in now
                            if now[k] != drawn[k])
        press = self.button.description
        self._veil.append(self.fig.add_artist(Rectangle(
            (0, 0), 1, 1, transform=self.fig.transFigure, fc="white", alpha=0.7, zorder=50)))
        self._veil.append(self.fig.text(0.5, 0.5, f"stale: drawn for {changed}\n"
                                        f"press {press} for {self._stale_what}",
                                        ha="center", va="center", fontsize="large", zorder=60,
                                        color="#a00",
                                        bbox=dict(boxstyle="round", fc="white", ec="#a00")))
        self.status.value = (f"<b>The figure shows the previous settings ({changed})</b>: "
                             f"press {press} to draw these. " + self.status.value)
        self.stale = True

    def _lift_veil(self) -> None:
        for artist in self._veil:
            artist.remove()
        self._veil, self.stale = [], False

    def _report(self, done, total, desc, postfix):
        self.bar.max, self.bar.value = max(total, 1), min(done, max(total, 1))
        what = "flossing" if desc.startswith("floss") else "training"
        self.bar_text.value = f"{what} {done}/{total}"

    def run(self):
        """Run with the current settings (as the button does): in a live kernel in a worker thread
        (returns at once), else synchronously (returns the data)."""
        if not self.validate():
            return None
        values = self.values()
        if self.background:
            if self._thread is not None and self._thread.is_alive():
                return None
            self.button.disabled = True
            self._thread = threading.Thread(target=self._run, args=(values,), daemon=True)
            self._thread.start()
            return None
        return self._run(values)

    def _run(self, values):
        start = time.perf_counter()
        try:
            self.status.value = "<i>running ...</i>"
            data = self.computed(values, self._report)
            self.seconds.append(time.perf_counter() - start)
            self._show(data, values)
            self.status.value = f"done in {self.seconds[-1]:.1f} s. " + self.note_text
            return data
        except USER_ERRORS as err:
            self.message = str(err)
            self.status.value = (f"<span style='color:#a00'>Stopped: {html.escape(str(err))}"
                                 "</span>")
            return None
        except Exception as err:            # a bug: show it, never swallow it
            self.message = show_bug(self.status, err)
            if not self.background:
                raise
            return None
        finally:
            self.button.disabled = self.message is not None

    def show(self, data, values: dict | None = None) -> "Dashboard":
        """Draw data computed elsewhere (e.g. with a progress bar in a notebook cell) as if the
        button had computed it for ``values`` (default: the current controls)."""
        self._show(data, self.values() if values is None else values)
        self.status.value = self.note_text
        return self

    def _show(self, data, values):
        self.data, self.data_values = data, dict(values)
        self._lift_veil()
        self._draw(self.artists, data, values)
        self.n_draws += 1
        self._render()
        self.note_text = self._note(data, values) if self._note else ""

    def _render(self):
        self.image.value = render_png(self.fig)

    # --- both ------------------------------------------------------------------------------------
    def wait(self, timeout: float = 600.0) -> "Dashboard":
        """Wait until the button's run has finished and every requested update has been served
        (or dropped as stale)."""
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            while (self._worker is not None or self._pending is not None) \
                    and time.monotonic() < deadline:
                self._lock.wait(0.05)
        return self

    def set(self, **values) -> "Dashboard":
        """Set several controls (without a button each change requests an update, and this waits
        for the last one; with a button nothing runs)."""
        for name, value in values.items():
            self.controls[name].value = value
        return self if self.button is not None else self.wait()

    def _repr_mimebundle_(self, **kwargs):
        return display_bundle(self, **kwargs)


def _silent(*args, **kwargs) -> None:
    """A progress callback that reports nothing."""


def _register(dashboard) -> None:
    if _collected is not None:
        _collected.append(dashboard)


@contextlib.contextmanager
def collecting():
    """``with collecting() as made:`` ``made`` lists every dashboard made inside the block."""
    global _collected
    outer, _collected = _collected, []
    try:
        yield _collected
    finally:
        made, _collected = _collected, outer
        if outer is not None:
            outer.extend(made)


def display_bundle(dashboard, include=None, exclude=None, **kwargs) -> dict:
    """The widget view, and a PNG of the dashboard's current figure for pages without a kernel
    (plus an SVG when :func:`flosslab.core.style.figure_formats` asks for one)."""
    bundle = dashboard.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
    if isinstance(bundle, tuple):
        bundle = bundle[0]
    bundle = dict(bundle or {})
    if dashboard.image.value:
        bundle["image/png"] = base64.b64encode(dashboard.image.value).decode("ascii")
    if "svg" in figure_formats() and dashboard.fig is not None:
        bundle["image/svg+xml"] = render_svg(dashboard.fig)
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def _grid(lo, hi, step, integer: bool) -> list:
    """The values of a slider from ``lo`` to ``hi`` in steps of ``step``."""
    import numpy as np
    grid = lo + step * np.arange(int(round((hi - lo) / step)) + 1)
    if integer:
        return [int(v) for v in grid]
    digits = max(0, -int(np.floor(np.log10(step))) + 2)
    return [float(round(v, digits)) for v in grid]


def _values_of(control) -> list:
    """Every value a control can take (its current value first), for :func:`warm_states`."""
    current = control.value
    if isinstance(control, (W.IntRangeSlider, W.FloatRangeSlider)):
        ends = _grid(control.min, control.max, control.step,
                     isinstance(control, W.IntRangeSlider))
        values = ([(lo, current[1]) for lo in ends if lo <= current[1]]
                  + [(current[0], hi) for hi in ends if hi >= current[0]])
    elif isinstance(control, (W.IntSlider, W.FloatSlider)):
        values = _grid(control.min, control.max, control.step, isinstance(control, W.IntSlider))
    elif isinstance(control, (W.Checkbox, W.ToggleButton)):
        values = [False, True]
    elif hasattr(control, "_options_values") and not isinstance(control, W.SelectMultiple):
        values = list(control._options_values)
    else:
        values = []
    return [current] + [v for v in values if v != current]


def warm_states(dashboard, max_grid: int = 64) -> list:
    """The control values ``course warm`` computes for a dashboard: every combination when there
    are at most ``max_grid``, else the current (default) values and each control over all its
    values with the others at their defaults. Disabled controls stay at their value."""
    names = list(dashboard.controls)
    current = dashboard.values()
    options = {n: ([current[n]] if dashboard.controls[n].disabled else
                   _values_of(dashboard.controls[n])) for n in names}
    total = 1
    for n in names:
        total *= len(options[n])
    if total <= max_grid:
        return [dict(zip(names, combo)) for combo in itertools.product(*options.values())]
    states = [dict(current)]
    for n in names:
        states += [{**current, n: v} for v in options[n][1:]]
    return states


def describe_settings(values: dict, controls: dict | None = None) -> str:
    """The settings as a student reads them on the controls: each control's label and its shown
    value (a dropdown's or toggle's option label, not the code behind it), e.g. "gain g = 1.2,
    network = larger: N = 32"; a value without a control goes by its name."""
    parts = []
    for name, value in values.items():
        control = (controls or {}).get(name)
        label = (getattr(control, "description", "") or name).strip().rstrip(":")
        shown = getattr(control, "label", None) if hasattr(control, "options") else None
        if isinstance(shown, str):
            value = shown
        elif isinstance(shown, tuple):
            value = ", ".join(shown) or "none"
        elif isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, tuple):
            value = " - ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
        parts.append(f"{label} = {value}")
    return ", ".join(parts)


