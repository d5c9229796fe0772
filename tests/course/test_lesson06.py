"""Notebook 06 (why it works): its dashboards against the reference, the flossing checkpoints, the
schedule comparison, and its checkers on right answers and typical mistakes. Tiny sizes."""
import numpy as np
import pytest
from course_helpers import _weight_gradient, rejects_with_hint, ydata  # noqa: F401

import flosslab as fl
from flosslab.course import lesson06_why_it_works as lesson, training_runs

torch = pytest.importorskip("torch")


def test_condition_dashboard_matches_the_reference():
    dash = lesson.condition_dashboard(gain=1.2, n_exponents=4, n_units=8, max_window=40)
    params = fl.init_rnn(8, 1.2, seed=0)
    c = dash.data[0]
    _, want = fl.condition_number_curve(params, fl.random_bits(80, 1, [0, 13]), n_values=4,
                                        times=c.times, transient=40, n_passes=2, seed=0)
    np.testing.assert_allclose(ydata(dash.artists["measured"]), want, atol=1e-8)
    lam = fl.lyapunov_spectrum(params, fl.random_bits(340, 1, [0, 14]), n_exponents=4,
                               transient=40, seed=0)
    np.testing.assert_allclose(ydata(dash.artists["spectrum"]), lam, atol=1e-10)
    t = np.asarray(dash.artists["predicted"].get_xdata())
    np.testing.assert_allclose(ydata(dash.artists["predicted"]),
                               (lam[0] - lam[-1]) * t / np.log(10), atol=1e-10)
    assert "measured slope" in dash.note_text
    dash.set(n_exponents=1)
    assert "k >= 2" in dash.message


@pytest.fixture(scope="module")
def tiny_checkpoints():
    return lesson.flossing_checkpoints_seeds(ks=(2, 3), n_units=6, steps_per_checkpoint=3,
                                             n_checkpoints=2, window=20, seeds=(0, 1))


def test_flossing_checkpoints_match_the_reference(tiny_checkpoints):
    """Every member of the ensemble equals the reference's lone run: floss in episodes (seeds
    s + 100 c), then log10 kappa of J_t by subspace iteration and the effective rank of dL/dW."""
    batch = fl.make_batch("copy", 20, 16, None, [0, 6])
    for k, c in tiny_checkpoints.items():
        for row, seed in enumerate(c.seeds):
            params = fl.init_rnn(6, 1.0, seed=seed)
            bits = fl.random_bits(60, 1, [seed, 8])
            for ckpt in range(3):
                if ckpt:
                    params, _ = fl.floss(params, 3, k, 0.0, 0.01, seed=seed + 100 * ckpt)
                _, pre = fl.run_rnn(params, bits, return_preactivations=True)
                sv = fl.log_singular_values(params, pre[40:], n_values=k, n_passes=3, seed=seed)
                assert c.cond[row, ckpt] == pytest.approx(fl.log10_condition_number(sv), abs=1e-6)
                assert c.eff_rank[row, ckpt] == pytest.approx(
                    fl.effective_rank(fl.weight_gradient(params, batch)), rel=1e-6)


def test_why_dashboard_redraws_precomputed_medians(tiny_checkpoints):
    dash = lesson.why_dashboard(n_exponents=3, checkpoints=tiny_checkpoints)
    c = tiny_checkpoints[3]
    lines = [a for a in dash.artists["lines"] if hasattr(a, "get_ydata")]
    np.testing.assert_allclose(ydata(lines[0]), np.median(c.cond, axis=0))
    dash.set(checkpoint=2)
    marker = [a for a in dash.artists["lines"] if hasattr(a, "get_ydata")
              and len(a.get_ydata()) == 1][0]
    assert ydata(marker)[0] == pytest.approx(np.median(c.cond[:, 2]))
    assert "median over 2 seeds after 6 steps" in dash.note_text
    dash.set(n_exponents=2)
    lines = [a for a in dash.artists["lines"] if hasattr(a, "get_ydata")]
    np.testing.assert_allclose(ydata(lines[0]), np.median(tiny_checkpoints[2].cond, axis=0))
    assert dash.message is None and dash.n_draws == 3


def test_schedules_dashboard_plots_medians_and_hides_schedules(tiny_training):
    runs = training_runs.train_seeds("copy", 3, ("none", "pre"), 3)
    dash = lesson.schedules_dashboard(runs)
    ax_a = dash.artists["axes"][0]
    medians = [line for line in ax_a.get_lines() if line.get_linewidth() > 2]
    np.testing.assert_allclose(ydata(medians[1]), np.median(runs["pre"].accuracy, axis=0))
    assert "preflossing" in dash.note_text
    n_lines = len(ax_a.get_lines())
    dash.set(shown=("pre",), seeds=False)
    assert len(ax_a.get_lines()) < n_lines and "no flossing" not in dash.note_text


def test_gradient_pieces_and_the_weight_gradient():
    params = fl.init_rnn(7, 1.3, seed=1)
    batch = fl.make_batch("copy", 3, 4, 12, seed=2)
    pieces = lesson.gradient_pieces(params, batch)
    want = fl.weight_gradient(params, batch)                     # autograd, independent
    np.testing.assert_allclose(pieces.grad_w, want, atol=1e-12)
    # the pieces assemble to it (the formula of exercise 3), and the numpy recursion of the
    # exercise checker gives the same errors delta_t
    assembled = np.einsum("tbi,tbj->ij", (1 - np.tanh(pieces.pre) ** 2) * pieces.deltas,
                          pieces.states[:-1])
    np.testing.assert_allclose(assembled, want, atol=1e-12)
    np.testing.assert_allclose(lesson.reference_deltas(params, batch, pieces.pre), pieces.deltas,
                               atol=1e-12)
    stacked = {k: torch.stack([torch.as_tensor(v)] * 2) for k, v in params.items()}
    np.testing.assert_allclose(lesson.weight_gradients(stacked, batch)[1], want, atol=1e-12)


RIGHT = [
    (lesson.check_log10_condition, lambda s: (s[0] - s[-1]) / np.log(10)),
    (lesson.check_log10_condition, lambda s: np.float32((s[0] - s[-1]) / np.log(10))),
    (lesson.check_weight_gradient, _weight_gradient),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=[r[0].__name__ for r in RIGHT])
def test_right_answers_pass(checker, right, capsys):
    assert checker(right)
    assert "Correct" in capsys.readouterr().out


def _rank_without_the_zero_filter(m):
    s = np.linalg.svd(m, compute_uv=False)
    p = s / s.sum()
    with np.errstate(all="ignore"):
        return float(np.exp(-np.sum(p * np.log(p))))


WRONG = [
    (lesson.check_effective_rank, _rank_without_the_zero_filter, "exactly 0"),
    (lesson.check_log10_condition, lambda s: np.log10(np.exp(s[0]) / np.exp(s[-1])),
     "never exponentiate"),
    (lesson.check_log10_condition, lambda s: s[0] - s[-1], "NATURAL logs"),
    (lesson.check_log10_condition, lambda s: (s[-1] - s[0]) / np.log(10), "sign is flipped"),
    (lesson.check_weight_gradient, lambda h, a, d: _weight_gradient(h, a, d).T, "transposed"),
    (lesson.check_weight_gradient,
     lambda h, a, d: np.einsum("tbi,tbj->ij", (1 - np.tanh(a) ** 2) * d, h[1:]), "off by one"),
    (lesson.check_weight_gradient, lambda h, a, d: np.einsum("tbi,tbj->ij", d, h[:-1]), "tanh"),
    (lesson.check_weight_gradient, lambda h, a, d: _weight_gradient(h, a, d) / h.shape[1],
     "sum over the batch"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG,
                         ids=[f"{w[0].__name__}-{w[2]}" for w in WRONG])
def test_wrong_answers_fail_with_the_matching_hint(checker, wrong, hint, capsys):
    rejects_with_hint(checker, wrong, hint, capsys)


def test_checkers_survive_crashes_and_nan(capsys):
    def nan(h, a, d):
        return np.full((h.shape[-1],) * 2, np.nan)
    assert not lesson.check_weight_gradient(nan)
    assert "NaN" in capsys.readouterr().out


def test_schedules_figure_medians_bands_and_at_most_a_few_faint_seeds(tiny_training):
    """By default one median line per schedule (with its own marker) and its quartile band, no
    seed lines; with seeds, at most MAX_SEED_LINES faint ones per schedule."""
    from flosslab.core.style import SCHEDULE_MARKERS
    runs = training_runs.train_seeds("copy", 3, ("none", "pre"), 3)
    fig, art = lesson.schedules_figure(runs)
    ax_a = art["axes"][0]
    assert [line.get_marker() for line in ax_a.get_lines()] == [SCHEDULE_MARKERS["none"],
                                                                SCHEDULE_MARKERS["pre"]]
    assert len(ax_a.collections) == 2                                    # the quartile bands
    fig, art = lesson.schedules_figure(runs, seeds=True)
    faint = [line for line in art["axes"][0].get_lines() if line.get_linewidth() < 1]
    assert len(faint) == 2 * min(2, lesson.MAX_SEED_LINES)
    assert all(line.get_alpha() < 0.5 for line in faint)
    assert not lesson.schedules_dashboard(runs).controls["seeds"].value


def test_checkpoint_panel_titles_fit_and_legend_follows(tiny_checkpoints):
    """The singular-value panel's title is never clipped (it was 'Singular values after 100
    steps (median)', cut at the figure's edge); its legend says which checkpoint is drawn."""
    dash = lesson.why_dashboard(n_exponents=3, checkpoints=tiny_checkpoints)
    for checkpoint in (0, 2):
        dash.set(checkpoint=checkpoint)
        renderer = dash.fig._get_renderer()
        for ax in dash.fig.axes:
            box = ax.title.get_window_extent(renderer)
            assert box.x0 >= 0 and box.x1 <= dash.fig.bbox.x1, ax.get_title()
        texts = [t.get_text() for t in dash.artists["sv_legend"].get_texts()]
        assert texts[0] == f"after {tiny_checkpoints[3].steps[checkpoint]} flossing steps"
        assert dash.artists["sv_legend"].get_texts()[1].get_visible() == bool(checkpoint)
