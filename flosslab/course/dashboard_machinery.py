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

:class:`RunDashboard` is the same for computations that take seconds (training): a button starts
them and a progress bar follows them.
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


class Dashboard:
    """Controls, a status line and one figure whose artists ``draw`` updates.

    ``compute(**values)`` returns the data for the control values (or raises one of
    :data:`USER_ERRORS`); ``make_figure(data, values)`` builds ``(fig, artists)`` once;
    ``draw(artists, data, values)`` updates the artists; ``note(data, values)`` (optional) returns
    a line of HTML for the status line (for example "flossing did not converge: ..."). ``data``,
    ``message``, ``note_text``, ``n_draws`` and ``seconds`` record what the updates did;
    ``cache_log`` how each computation went through the disk cache (``cache=False``: never).
    """

    def __init__(self, controls: dict, compute: Callable, draw: Callable, make_figure: Callable,
                 height: str = "400px", extra: list | None = None, note: Callable | None = None,
                 background: bool | None = None, cache: bool = True):
        self.controls = controls
        self.cache = cache
        self.cache_log: list[str] = []
        self._compute, self._draw, self._make_figure, self._note = compute, draw, make_figure, note
        self.fig = self.artists = None
        self.data = self.values = self.message = None
        self.note_text = ""
        self.n_draws = 0
        self.seconds: list[float] = []
        self.background = in_live_kernel() if background is None else background
        self.image = W.Image(format="png", layout=W.Layout(height=height, width="auto",
                                                           object_fit="contain"))
        self.status = W.HTML(layout=W.Layout(min_height="1.6em"))
        rows = [W.HBox(list(controls.values())[i:i + 3]) for i in range(0, len(controls), 3)]
        self.widget = W.VBox(rows + list(extra or []) + [self.status, self.image])
        self._lock = threading.Condition()
        self._requested = self._served = 0
        self._pending = None
        self._worker = None
        for control in controls.values():
            control.observe(lambda change: self.request(), names="value")
        self._update(self.current_values(), generation=0)   # the first figure, synchronously
        _register(self)

    # --- requests ------------------------------------------------------------------------------
    def current_values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

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
        if getattr(self, "_paused", False):
            return
        values = self.current_values()
        with self._lock:
            self._requested += 1
            generation = self._requested
            self._pending = (values, generation)
            if not self.background:
                self._pending = None
            else:
                self.status.value = f"<i>computing {html.escape(_describe(values))} ...</i>"
                if self._worker is None or not self._worker.is_alive():
                    self._worker = threading.Thread(target=self._work, daemon=True)
                    self._worker.start()
                self._lock.notify()
        if not self.background:
            self._update(values, generation)

    def _work(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._worker = None
                    self._lock.notify_all()
                    return
                values, generation = self._pending
                self._pending = None
            self._update(values, generation)

    def wait(self, timeout: float = 120.0) -> "Dashboard":
        """Wait until every requested update has been served (or dropped as stale)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (self._worker is not None or self._pending is not None) \
                    and time.monotonic() < deadline:
                self._lock.wait(0.05)
        return self

    def is_stale(self, generation: int) -> bool:
        return generation < self._requested

    # --- one update ----------------------------------------------------------------------------
    def _update(self, values: dict, generation: int) -> None:
        start = time.perf_counter()
        try:
            data = self.computed(values)
        except USER_ERRORS as err:
            if not self.is_stale(generation):
                self.data, self.values, self.message = None, values, str(err)
                self.status.value = (f"<span style='color:#a00'>Cannot show this combination: "
                                     f"{html.escape(str(err))}</span>")
            return
        except Exception as err:            # a bug: show it with its traceback, never swallow it
            self.message = show_bug(self.status, err)
            if not self.background:
                raise
            return
        if self.is_stale(generation):       # a newer request is waiting: do not draw this one
            return
        self.data, self.values, self.message = data, values, None
        if self.fig is None:
            self.fig, self.artists = self._make_figure(data, values)
            freeze_layout(self.fig)
        else:
            self._draw(self.artists, data, values)
        self.note_text = self._note(data, values) if self._note else ""
        png = render_png(self.fig)
        if self.is_stale(generation):
            return
        self.image.value = png
        self.status.value = self.note_text
        self.n_draws += 1
        self._served = generation
        self.seconds.append(time.perf_counter() - start)

    def computed(self, values: dict):
        """The data for ``values``: from the disk cache, or computed (and written there)."""
        with single_blas_thread():          # small matrices: one BLAS thread is faster
            if not self.cache:
                self.cache_log.append("off")
                return self._compute(**values)
            data, how = disk_cache.call(self._compute, values)
        self.cache_log.append(how)
        return data

    # --- conveniences ----------------------------------------------------------------------------
    def set(self, **values) -> "Dashboard":
        """Set several controls (each change requests an update) and wait for the last one."""
        for name, value in values.items():
            self.controls[name].value = value
        return self.wait()

    def static_figure(self):
        """A fresh figure of the current data (for pages without a live kernel)."""
        if self.data is None:
            raise FlosslabError(f"nothing to draw: {self.message}")
        return self._make_figure(self.data, self.values)[0]

    def _repr_mimebundle_(self, **kwargs):
        return display_bundle(self, **kwargs)


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
    current = dashboard.current_values()
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


def _describe(values: dict) -> str:
    parts = []
    for name, value in values.items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, tuple):
            value = "-".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
        parts.append(f"{name}={value}")
    return ", ".join(parts)


class RunDashboard:
    """Controls, a button, a progress bar, a status line and a figure, for computations that take
    seconds (training): a click runs ``run(values, progress)`` in a worker thread in a live kernel
    (synchronously elsewhere) while the bar moves, then ``draw(art, data, values)`` updates the
    figure and ``note(data, values)`` the status line. ``validate(values)`` raising one of
    :data:`USER_ERRORS` disables the button and says why. ``seconds`` keeps each run's time."""

    def __init__(self, controls: dict, run, make_figure, draw, note=None, validate=None,
                 ready=None, label: str = "Run", height: str = "380px", extra_buttons=(),
                 background: bool | None = None):
        self.controls = controls
        self._run, self._draw, self._note = run, draw, note
        self._validate_values, self._ready = validate, ready
        self.background = in_live_kernel() if background is None else background
        self.button = W.Button(description=label, button_style="primary", icon="play")
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="260px"))
        self.bar_text = W.HTML()
        self.status = W.HTML(layout=W.Layout(min_height="1.6em"))
        self.image = W.Image(format="png", layout=W.Layout(height=height, width="auto",
                                                           object_fit="contain"))
        self.message, self.data, self.n_draws = None, None, 0
        self.seconds: list[float] = []
        self._thread = None
        self.button.on_click(lambda _: self.run())
        for control in controls.values():
            control.observe(lambda change: self.validate(), names="value")
        items = list(controls.values())
        rows = [W.HBox(items[i:i + 3]) for i in range(0, len(items), 3)]
        rows.append(W.HBox([self.button, *extra_buttons, self.bar, self.bar_text]))
        self.widget = W.VBox(rows + [self.status, self.image])
        self.fig, self.artists = make_figure()
        self.validate()
        self._redraw()
        _register(self)

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def validate(self) -> bool:
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
            self._thread = threading.Thread(target=self._work, args=(values,), daemon=True)
            self._thread.start()
            return None
        return self._work(values)

    def _work(self, values):
        import time
        start = time.perf_counter()
        try:
            self.status.value = "<i>running ...</i>"
            data = self._run(values, self._report)
            self.seconds.append(time.perf_counter() - start)
            self.data = data
            self._draw(self.artists, data, values)
            self.n_draws += 1
            self._redraw()
            self.status.value = (f"done in {self.seconds[-1]:.1f} s. "
                                 + (self._note(data, values) if self._note else ""))
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

    def wait(self, timeout: float = 600.0):
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    def show(self, data, values: dict | None = None):
        """Draw data computed elsewhere (e.g. with a progress bar in a notebook cell) as if the
        button had computed it for ``values`` (default: the current controls)."""
        values = self.values() if values is None else values
        self.data = data
        self._draw(self.artists, data, values)
        self.n_draws += 1
        self._redraw()
        self.status.value = self._note(data, values) if self._note else ""
        return self

    def static_figure(self):
        """The current figure (for pages without a live kernel)."""
        return self.fig

    def set(self, **values):
        """Set several controls at once (without running)."""
        for name, value in values.items():
            self.controls[name].value = value
        return self

    def _redraw(self):
        self.image.value = render_png(self.fig)

    def _repr_mimebundle_(self, **kwargs):
        return display_bundle(self, **kwargs)
