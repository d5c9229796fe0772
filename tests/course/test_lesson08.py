"""Notebook 08 (the paper's results): the shipped JSON and flosslab.paper.stats against what the
dashboards plot, the live reruns at tiny sizes, and the checkers on right answers and mistakes."""
import json

import numpy as np
import pytest
from course_helpers import (
    _bootstrap,
    _horizon,
    _horizon_first_failure,
    reference_runs,
    rejects_with_hint,
    ydata,
)
from matplotlib.lines import Line2D

import flosslab as fl
from flosslab.course import lesson08_paper_results as lesson
from flosslab.paper import stats

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def shipped():
    from flosslab.paper import results
    return json.loads((results.DATA / "default.json").read_text())


def test_shipped_accuracy_and_horizons_match_the_json(shipped):
    summary, reason = lesson.paper_summary("default")
    assert reason is None
    for task, sweep in shipped["c_delay"].items():
        for schedule, (delays, acc) in lesson.shipped_accuracy(summary, task).items():
            assert list(delays) == sorted(int(d) for d in sweep["accuracy"][schedule])
            for d, row in zip(delays, acc):
                np.testing.assert_array_equal(row, sweep["accuracy"][schedule][str(d)])
    horizons = lesson.shipped_horizons(summary, 0.9, 0.9)
    for (task, schedule), h in horizons.items():
        ref = stats.bootstrap_horizon(shipped["c_delay"][task]["accuracy"][schedule], 0.9)
        assert (h["horizon"], h["low"], h["high"]) == (ref["horizon"], ref["low"], ref["high"])
        assert h["horizon"] == shipped["c_delay"][task]["horizon_0.9"][schedule]


def test_the_paper_summary_is_reported_missing_not_faked(monkeypatch, tmp_path):
    from flosslab.paper import results
    monkeypatch.setattr(results, "DATA", tmp_path)
    (tmp_path / "default.json").write_text((results.Path(results.__file__).parent / "data"
                                            / "default.json").read_text())
    summary, reason = lesson.paper_summary("paper")
    assert summary is None and "not in this copy" in reason
    assert list(lesson.available_summaries()) == ["default"]
    dash = lesson.paper_delay_dashboard()
    assert dash.controls["dataset"].disabled
    # once a paper summary is shipped, it can be chosen
    paper = json.loads((tmp_path / "default.json").read_text())
    n_seeds = len(paper["c_delay"]["xor"]["accuracy"]["none"]["12"])
    paper["c_delay"]["xor"]["accuracy"]["none"]["12"] = [0.6] * n_seeds
    (tmp_path / "paper.json").write_text(json.dumps(paper))
    dash = lesson.paper_delay_dashboard(task="xor", highlight=12)
    assert not dash.controls["dataset"].disabled
    dash.set(dataset="paper")
    assert "no flossing: median 0.60" in dash.note_text


def test_a_budget_that_swept_one_task_offers_no_task_choice():
    dash = lesson.paper_delay_dashboard(task="copy")
    assert not dash.controls["task"].disabled
    dash.set(dataset="paper")                          # the author's budget: XOR only
    assert dash.controls["task"].disabled and dash.controls["task"].value == "xor"
    dash.set(dataset="default")
    assert not dash.controls["task"].disabled


def test_paper_delay_dashboard_plots_the_shipped_medians(shipped):
    dash = lesson.paper_delay_dashboard(task="xor", highlight=28)
    xor = shipped["c_delay"]["xor"]["accuracy"]
    medians = [a for a in dash.artists["lines"] if isinstance(a, Line2D) and a.get_linewidth() > 2]
    delays = sorted(int(d) for d in xor["none"])
    np.testing.assert_allclose(ydata(medians[0]), [np.median(xor["none"][str(d)]) for d in delays])
    inter_28 = np.asarray(xor["inter"]["28"])                # pre + periodic at d = 28
    assert f"{int(np.sum(inter_28 >= 0.9))} of {inter_28.size} seeds &ge; 0.9" in dash.note_text
    dash.set(task="copy")
    assert dash.controls["delay"].value in (20, 30) and list(dash.controls["delay"].options) == \
        [10, 20, 30, 40, 50, 60]
    dash.set(shown=("none",))
    assert "preflossing" not in dash.note_text


def test_horizon_dashboard_follows_level_and_coverage(shipped):
    copy = shipped["c_delay"]["copy"]["accuracy"]

    def ratio_text(level):                                   # from the JSON and the statistics
        a, b = (stats.bootstrap_horizon(copy[s], level)["horizon"] for s in ("inter", "none"))
        return "undefined" if a is None or b is None else f"{a / b:.1f}x"

    dash = lesson.horizon_dashboard()
    assert f"copy pre + periodic flossing / no flossing: {ratio_text(0.9)}" in dash.note_text
    dash.set(level=0.7)
    h = dash.data[0]
    ref = stats.bootstrap_horizon(copy["none"], 0.7)
    assert h["copy", "none"]["horizon"] == ref["horizon"]
    assert f"copy pre + periodic flossing / no flossing: {ratio_text(0.7)}" in dash.note_text


def test_live_delay_dashboard_reruns_small(tiny_training, monkeypatch):
    monkeypatch.setitem(lesson.LIVE, "delays", {"copy": (2, 4), "xor": (2, 4)})
    monkeypatch.setitem(lesson.LIVE, "seeds", (0, 1))
    dash = lesson.live_delay_dashboard(task="copy")
    dash.background = False
    dash.run()
    sweep, task = dash.data
    for schedule in ("none", "pre"):
        want = [[h.final_accuracy for h in reference_runs("copy", d, schedule, k=None)]
                for d in (2, 4)]
        np.testing.assert_allclose(sweep[schedule][1], want, atol=1e-12)
    assert "medians" in dash.status.value


def test_live_delay_figure_is_marked_stale_when_the_task_changes(tiny_training, monkeypatch):
    """Another task: the old figure is veiled and says what it was drawn for at once, not when the
    button is pressed; back to the drawn task, or a new run, lifts the mark."""
    monkeypatch.setitem(lesson.LIVE, "delays", {"copy": (2, 4), "xor": (2, 4)})
    monkeypatch.setitem(lesson.LIVE, "seeds", (0, 1))
    dash = lesson.live_delay_dashboard(task="copy")
    dash.background = False
    dash.run()
    png = dash.image.value
    assert not dash.stale
    dash.set(task="xor")
    texts = [t.get_text() for t in dash.fig.texts]
    assert dash.stale and dash.image.value != png
    assert any("stale: drawn for task = copy" in t for t in texts), texts
    assert "previous settings (task = copy)" in dash.status.value
    dash.set(task="copy")
    assert not dash.stale and not any("stale" in t.get_text() for t in dash.fig.texts)
    dash.set(task="xor")
    dash.run()
    assert not dash.stale and dash.data[1] == "xor"
    assert not any("stale" in t.get_text() for t in dash.fig.texts)


def test_live_parity_dashboard_reruns_small(tiny_training, monkeypatch):
    monkeypatch.setitem(lesson.LIVE, "parity_ks", (1, 3))
    monkeypatch.setitem(lesson.LIVE, "seeds", (0, 1))
    dash = lesson.live_parity_dashboard()
    dash.background = False
    dash.set(delay=6).run()
    ks, acc, _ = dash.data
    want = [h.final_accuracy for h in reference_runs("parity", 6, "pre", k=3, order=3)]
    np.testing.assert_allclose(acc[3], want, atol=1e-12)
    assert "k=3" in dash.status.value
    dash.set(order=2)                                   # another setting: stale at once
    assert dash.stale and "parity order p = 3" in dash.status.value


def test_live_condition_dashboard_matches_the_reference():
    grid = lesson.live_condition_grid(ks=(2, 4), steps=(3, 6), n_units=8, window=30)
    dash = lesson.live_condition_dashboard(n_exponents=4, floss_steps=6, grid=grid)
    before = fl.init_rnn(8, 1.0, seed=0)
    bits = fl.random_bits(70, 1, [0, 15])
    for k, steps in grid:
        c = grid[k, steps]
        after, _ = fl.floss(before, steps, k, 0.0, 0.01, seed=0)     # the lone reference run
        for params, got in ((before, c.before), (after, c.after)):
            _, want = fl.condition_number_curve(params, bits, n_values=k, times=c.times,
                                                transient=40, n_passes=2, seed=0)
            np.testing.assert_allclose(got, want, atol=1e-6)
    assert "after 6 flossing steps" in dash.note_text
    np.testing.assert_allclose(ydata(dash.artists["axes"][0].lines[1]), grid[4, 6].after)
    dash.set(n_exponents=2, floss_steps=3)
    np.testing.assert_allclose(ydata(dash.artists["axes"][0].lines[1]), grid[2, 3].after)
    assert dash.message is None


RIGHT = [
    (lesson.check_seed_summary, lambda v: tuple(np.percentile(v, [50, 25, 75]))),
    (lesson.check_horizon, _horizon),
    (lesson.check_bootstrap_horizons, _bootstrap),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=[r[0].__name__ for r in RIGHT])
def test_right_answers_pass(checker, right, capsys):
    assert checker(right)
    assert "Correct" in capsys.readouterr().out


WRONG = [
    (lesson.check_seed_summary, lambda v: (np.mean(v), *np.percentile(v, [25, 75])),
     "not the mean"),
    (lesson.check_seed_summary, lambda v: (np.median(v), v.min(), v.max()), "min and max"),
    (lesson.check_seed_summary,
     lambda v: tuple(np.percentile(v, [50, 25, 75], method="nearest")), "method='nearest'"),
    (lesson.check_seed_summary, lambda v: tuple(np.percentile(v, [50, 75, 25])), "order"),
    (lesson.check_horizon, _horizon_first_failure, "LONGEST"),
    (lesson.check_horizon, lambda d, m, lv: _horizon(d, m, lv) or 0, "None"),
    (lesson.check_horizon, lambda d, m, lv: _horizon(d, np.asarray(m) - 1e-12, lv), ">="),
    (lesson.check_bootstrap_horizons, lambda a, d, i, lv: _bootstrap(a, d, i, lv, shared=True),
     "own indices"),
    (lesson.check_bootstrap_horizons,
     lambda a, d, i, lv: _bootstrap(a, d, i, lv, statistic=np.mean), "MEDIAN"),
    (lesson.check_bootstrap_horizons,
     lambda a, d, i, lv: np.where(_bootstrap(a, d, i, lv) == 0, -1, _bootstrap(a, d, i, lv)),
     "not -1"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG,
                         ids=[f"{w[0].__name__}-{w[2]}" for w in WRONG])
def test_wrong_answers_fail_with_the_matching_hint(checker, wrong, hint, capsys):
    rejects_with_hint(checker, wrong, hint, capsys)


def test_the_bootstrap_reference_draws_as_the_paper_statistics(shipped):
    """exercises.bootstrap_indices + reference_bootstrap_horizons reproduce
    flosslab.paper.stats.bootstrap_horizon exactly (same resamples, same quantile rule)."""
    for task, sweep in shipped["c_delay"].items():
        for schedule, by_delay in sweep["accuracy"].items():
            delays = np.array(sorted(int(d) for d in by_delay))
            acc = np.array([by_delay[str(d)] for d in delays])
            idx = lesson.bootstrap_indices(len(delays), acc.shape[1], 2000, seed=0)
            boot = lesson.reference_bootstrap_horizons(acc, delays, idx)
            low, high = np.quantile(boot, [0.05, 0.95], method="inverted_cdf")
            ref = stats.bootstrap_horizon(by_delay, 0.9)
            assert (low or None, high or None) == (ref["low"], ref["high"])


def test_checkers_survive_crashes(capsys):
    assert not lesson.check_horizon(lambda d, m, lv: "ten")
    assert "Not yet" in capsys.readouterr().out


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_schedule_legends_sit_outside_the_data(shipped):
    """The accuracy-against-delay legend (it covered XOR d = 28-32) lies below every panel, in the
    static figure and in the explorer after a change of schedules; every title fits the figure."""
    from flosslab.course.dashboard_machinery import freeze_layout
    default, _ = lesson.paper_summary("default")
    fig, art = lesson.delay_sweeps_figure({t: lesson.shipped_accuracy(default, t)
                                           for t in ("copy", "xor")})
    dash = lesson.paper_delay_dashboard(task="xor", highlight=28)
    dash.set(shown=("none", "pre"))
    for figure, legend in ((freeze_layout(fig), art["legend"]), (dash.fig, dash.artists["legend"])):
        renderer = figure._get_renderer()
        box = legend.get_window_extent(renderer)
        for ax in figure.axes:
            assert not _overlaps(box, ax.get_window_extent(renderer))
            title = ax.title.get_window_extent(renderer)
            assert title.x0 >= 0 and title.x1 <= figure.bbox.x1
    assert [t.get_text() for t in dash.artists["legend"].get_texts()] == ["no flossing", "preflossing"]
