"""Update time of every course dashboard, moved over each control's range, in full mode.

    FLOSSLAB_FAST=0 python benchmarks/dashboard_latency.py [--out FILE] [names ...]

Builds each dashboard of the lesson modules ``flosslab.course.lessonNN_*`` (every function named
``*_dashboard``)
at its defaults, then sets each control in turn to values across its range (sliders: 5 points from
minimum to maximum and back to the default; dropdowns and toggles: every option; checkboxes:
ticked and unticked) and records the
time of each update: compute, draw and PNG render, as the dashboard's own ``seconds`` list holds
it (the worker thread of a live kernel adds nothing but a thread hand-off). Invalid combinations
(shown as a message) are counted apart. Prints the median and maximum per dashboard; the targets
are a median <= 1 s and a maximum <= 2 s. Dashboards with a Train or Rerun button are timed per click
(twice: the second click of the same settings may be cached).
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import statistics
import time

import ipywidgets as W
import numpy as np

import flosslab.course
from flosslab.core.settings import FAST, set_threads


def values_for(control):
    if isinstance(control, (W.IntSlider, W.FloatSlider)):
        grid = np.linspace(control.min, control.max, 5)
        values = [int(round(v)) if isinstance(control, W.IntSlider) else float(v) for v in grid]
        return values + [control.value]
    if isinstance(control, W.FloatRangeSlider):
        lo, hi = control.min, control.max
        return [(lo, hi), (lo, (lo + hi) / 2), ((lo + hi) / 2, hi), control.value]
    if isinstance(control, W.SelectionSlider):
        return [v for _, v in control.options] + [control.value] if isinstance(
            control.options[0], tuple) else list(control.options) + [control.value]
    if isinstance(control, W.Checkbox):
        return [not control.value, control.value]
    if isinstance(control, (W.Dropdown, W.ToggleButtons)):
        if control.disabled:
            return []
        options = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return options + [control.value]
    return []


def needs_arguments() -> dict:
    """Dashboards that take the student's checked function or precomputed runs, built as their
    notebooks build them, with the reference solutions."""
    import torch

    from flosslab.course import lesson01_gradients, lesson06_why_it_works, lesson07_torch

    def growth_rate():
        bp = lesson01_gradients.reference_backprop_norms
        rate = lesson01_gradients.reference_growth_rate
        return lesson01_gradients.growth_rate_dashboard(
            bp, rate, background_result=lesson01_gradients.rate_vs_exponent(bp, rate))

    def cell():
        return lesson07_torch.cell_dashboard(
            lambda step, z, x: torch.func.jacrev(step, argnums=0)(z, x))

    def schedules():
        return lesson06_why_it_works.schedules_dashboard(lesson06_why_it_works.schedule_comparison())

    return {"growth_rate_dashboard": growth_rate, "cell_dashboard": cell,
            "schedules_dashboard": schedules}


def time_dashboard(name, factory) -> dict:
    dash = factory()
    if dash.button is not None:                        # a Train / Rerun button
        times = []
        for _ in range(2):
            start = time.perf_counter()
            dash.run()
            dash.wait()
            times.append(time.perf_counter() - start)
        return {"dashboard": name, "kind": "train click", "updates": len(times),
                "median_s": statistics.median(times), "max_s": max(times), "messages": 0}
    messages = 0
    for control_name, control in dash.controls.items():
        for value in values_for(control):
            before = len(dash.seconds)
            control.value = value
            dash.wait()
            if len(dash.seconds) == before and dash.message:
                messages += 1
    times = dash.seconds[1:]                                     # the creation is not an update
    return {"dashboard": name, "kind": "control moves", "updates": len(times),
            "median_s": statistics.median(times) if times else None,
            "max_s": max(times) if times else None, "messages": messages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    set_threads()
    lessons = [importlib.import_module(f"flosslab.course.{m.name}")
               for m in pkgutil.iter_modules(flosslab.course.__path__)
               if m.name.startswith("lesson")]
    factories = {name: getattr(lesson, name) for lesson in lessons for name in dir(lesson)
                 if name.endswith("_dashboard") and callable(getattr(lesson, name))}
    factories |= needs_arguments()
    rows = []
    print(f"fast mode: {FAST}")
    print(f"{'dashboard':32s} {'kind':14s} {'updates':>7s} {'median s':>9s} {'max s':>7s}")
    for name in args.names or sorted(factories):
        row = time_dashboard(name, factories[name])
        rows.append(row)
        med = "-" if row["median_s"] is None else f"{row['median_s']:.2f}"
        mx = "-" if row["max_s"] is None else f"{row['max_s']:.2f}"
        print(f"{name:32s} {row['kind']:14s} {row['updates']:7d} {med:>9s} {mx:>7s}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"fast": FAST, "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
