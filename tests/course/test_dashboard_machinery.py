"""The dashboard machinery in background mode (as in a live kernel): stale requests are dropped so
the plot shows the last setting, invalid settings and bugs are shown in the status line."""
import threading

import ipywidgets as W
import numpy as np

from flosslab.core.errors import FlosslabError
from flosslab.core.style import new_figure
from flosslab.course.dashboard_machinery import Dashboard


def make_dashboard(compute, **kw):
    control = W.IntSlider(value=0, min=0, max=100)

    def make(data, values):
        fig, (ax,) = new_figure(width=3, height=2)
        (line,) = ax.plot([0, 1], [data, data])
        return fig, {"line": line}

    def draw(art, data, values):
        art["line"].set_ydata([data, data])

    return Dashboard({"x": control}, compute, make, draw, **kw)


def test_fast_moves_draw_only_the_last_setting():
    seen = []
    gate = threading.Event()

    def compute(x):
        seen.append(x)
        if x:
            gate.wait(5)          # the first background request blocks until the moves are done
        return float(x)

    dash = make_dashboard(compute, background=True)
    for x in range(1, 8):
        dash.controls["x"].value = x
    gate.set()
    dash.wait()
    assert dash.data == 7.0 and dash.data_values == {"x": 7} == dash.values()
    assert np.allclose(dash.artists["line"].get_ydata(), 7.0)
    # computed: the creation (0), the first move, then only the newest request: nothing in between
    assert seen[0] == 0 and seen[-1] == 7 and len(seen) <= 3
    assert dash.n_draws == len(seen) - (1 if len(seen) == 3 else 0)
    assert dash.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_invalid_settings_are_a_message_and_bugs_show_their_traceback():
    def compute(x):
        if x == 3:
            raise FlosslabError("x=3 is not allowed; choose another x")
        if x == 4:
            return 1 / 0
        return float(x)

    dash = make_dashboard(compute, background=True)
    dash.controls["x"].value = 3
    dash.wait()
    assert "x=3 is not allowed" in dash.status.value and dash.message.startswith("x=3")
    dash.controls["x"].value = 4
    dash.wait()
    assert "ZeroDivisionError" in dash.status.value and "Traceback" in dash.status.value
    dash.controls["x"].value = 5
    dash.wait()
    assert dash.data == 5.0 and dash.message is None


def test_a_bug_raises_outside_a_live_kernel():
    """In tests and scripts a bug must not hide in the status line: it propagates."""
    import pytest
    dash = make_dashboard(lambda x: 1 / (x - 1), background=False)
    dash.controls["x"].value = 3
    assert dash.data == 0.5
    with pytest.raises(ZeroDivisionError):
        dash.controls["x"].value = 1


def test_the_display_bundle_has_the_widget_and_a_png_of_the_figure():
    """JupyterLab shows the widget (its renderer ranks -10, images 90); pages without a kernel show
    the PNG: nbconvert's HTML of such an output (no widget state saved) has the picture."""
    import base64

    import nbformat
    from nbconvert import HTMLExporter
    dash = make_dashboard(lambda x: float(x), background=False)
    dash.controls["x"].value = 4
    bundle = dash._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == dash.image.value       # the current figure
    assert "image/svg+xml" not in bundle
    assert set(dash._repr_mimebundle_(include={"image/png"})) == {"image/png"}
    assert "image/png" not in dash._repr_mimebundle_(exclude={"image/png"})
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("dash")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    nb.cells = [cell]
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert f'src="data:image/png;base64,{bundle["image/png"]}' in html


def test_a_button_dashboard_bundle_has_its_png_too():
    def make(data, values):
        fig, (ax,) = new_figure(width=3, height=2)
        return fig, {"ax": ax}

    dash = Dashboard({"x": W.IntSlider(value=1)}, lambda x, progress: x, make,
                     lambda art, d, v: art["ax"].plot([0, d]), background=False, button="Run")
    dash.run()
    bundle = dash._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "image/png" in bundle


def test_svg_joins_the_bundle_and_the_figures_when_asked():
    from flosslab.core import style
    dash = make_dashboard(lambda x: float(x), background=False)
    try:
        style.figure_formats("png", "svg")
        assert style.figure_formats() == ("png", "svg")
        assert "<svg" in dash._repr_mimebundle_()["image/svg+xml"]
        fig, _ = new_figure(width=2, height=2)
        assert "<svg" in fig._repr_svg_()
    finally:
        style.figure_formats("png")
    assert new_figure(width=2, height=2)[0]._repr_svg_() is None


def test_the_computing_line_names_settings_as_the_controls_show_them():
    """While a setting computes, the status line reads like the controls (labels and the options'
    display names), not like the code's keywords (it read 'computing n_exponents=6, n_units=16')."""
    import ipywidgets as W

    from flosslab.course.dashboard_machinery import describe_settings
    controls = {"n_exponents": W.IntSlider(value=6, description="flossed k"),
                "schedule": W.Dropdown(options=[("preflossing", "pre"), ("no flossing", "none")],
                                       value="pre", description="flossing"),
                "shown": W.SelectMultiple(options=[("no flossing", "none"), ("preflossing", "pre")],
                                          value=("none", "pre"), description="schedules"),
                "gain": W.FloatSlider(value=1.23456, description="gain g")}
    values = {name: c.value for name, c in controls.items()}
    assert describe_settings(values, controls) == (
        "flossed k = 6, flossing = preflossing, schedules = no flossing, preflossing, gain g = 1.23")
    assert describe_settings({"seed": 3}) == "seed = 3"          # no control: its name
