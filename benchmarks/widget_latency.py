"""Median update time of the spectrum dashboard (notebook 02) at its default settings.

    python benchmarks/widget_latency.py [repeats]

One update = what moving a slider does: recompute the spectrum (gain changes, so the cache
misses), update the figure's artists, and render the figure to PNG as the inline backend does.
Target: <= 150 ms median on a 2-core CPU. Not a test (timings depend on the machine).
"""
import statistics
import sys
import time

from flosslab.course import dashboards as widgets, demos as experiments, figures as plots


def main(repeats: int = 15):
    dash = widgets.spectrum_dashboard()
    gains = [1.5 + 0.05 * i for i in range(repeats)]        # all new: no cache hits
    compute, draw, render = [], [], []
    for g in gains:
        t0 = time.perf_counter()
        dash.controls["gain"].value = round(g, 4)            # compute + artist update
        t1 = time.perf_counter()
        plots.render_png(dash.fig)                           # what the notebook then displays
        t2 = time.perf_counter()
        assert dash.message is None
        compute.append(t1 - t0)
        render.append(t2 - t1)
        draw.append(t2 - t0)
    d = experiments.defaults()
    ms = lambda xs: 1000 * statistics.median(xs)           # noqa: E731
    print(f"spectrum dashboard, defaults N = k = {d['spec_units']}, T = {d['spec_steps']}, QR every "
          f"step, {repeats} updates:")
    print(f"  median update (compute + artists): {ms(compute):.1f} ms")
    print(f"  median PNG render:                 {ms(render):.1f} ms")
    print(f"  median total per slider move:      {ms(draw):.1f} ms (target <= 150 ms)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
