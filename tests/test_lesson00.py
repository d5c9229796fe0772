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
