"""Notebook 00 (the lecturer's guide): its key result from the shipped data and its figures."""
import numpy as np

from flosslab.course import lesson00_guide as lesson


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


def test_key_results_are_the_shipped_summary():
    from flosslab.paper.results import load
    summary = load("default")["c_delay"]
    key = lesson.key_results()
    assert set(key) == set(summary)
    for task, r in key.items():
        for schedule, per_seed in r["accuracy"].items():
            for d, row in zip(r["delays"], per_seed):
                assert list(row) == summary[task]["accuracy"][schedule][str(d)]
        assert r["horizon"] == summary[task]["horizon_0.9"]
    fig, art = lesson.key_result_figure(key)
    ax = art["axes"][0]
    task = list(key)[0]
    medians = [ydata(line) for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(medians[0], np.median(key[task]["accuracy"]["none"], axis=1))


def test_projector_test_card_in_presentation_mode():
    from flosslab.core.style import is_presentation, presentation
    presentation(True)
    try:
        fig, art = lesson.projector_test_figure()
        texts = [t.get_fontsize() for t in art["axes"][1].texts]
        assert is_presentation() and max(texts) == 16.0
    finally:
        presentation(False)
    assert fig._repr_png_()[:4] == b"\x89PNG"


def test_the_key_result_the_guide_tells_the_lecturer_to_say():
    """Cell 'What to say': flossing before and during training (pre + periodic) trains longer
    delays than no flossing on both tasks; no flossing falls to chance soon after its horizon; at
    the longest delay tried every schedule is at chance (the shipped data, read independently)."""
    from flosslab.paper.results import load
    for task, sweep in load("default")["c_delay"].items():
        delays = sorted(int(d) for d in sweep["delays"])
        median = {s: np.array([np.median(sweep["accuracy"][s][str(d)]) for d in delays])
                  for s in sweep["accuracy"]}
        horizon = {s: max([d for d, m in zip(delays, median[s]) if m >= 0.9], default=None)
                   for s in median}
        assert horizon == {s: sweep["horizon_0.9"][s] for s in median}
        assert horizon["inter"] > horizon["none"], task
        after = [m for d, m in zip(delays, median["none"]) if d > horizon["none"]]
        assert after[1] < 0.55, task                   # chance within two swept delays
        assert all(m[-1] < 0.55 for m in median.values()), task


def test_the_guide_figures_cover_no_data_with_a_legend():
    from course_helpers import data_under_legends

    from flosslab.core.style import new_figure, presentation
    for on in (False, True):
        presentation(on)
        try:
            assert data_under_legends(lesson.key_result_figure(lesson.key_results())[0]) == []
            assert data_under_legends(lesson.projector_test_figure()[0]) == []
        finally:
            presentation(False)
    # the check itself: a legend in the middle of two lines covers both
    fig, (ax,) = new_figure()
    ax.plot(np.linspace(0, 1, 50), np.full(50, 0.5), label="flat")
    ax.plot([0, 1], [0, 1], label="straight, two points")
    ax.legend(loc="center")
    assert [label for _, label in data_under_legends(fig)] == ["flat", "straight, two points"]
