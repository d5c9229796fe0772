"""Notebook 05 (delayed tasks): drive each dashboard, compare what it plots with the numpy/autograd
reference, check that bad settings give a message, and that each checker accepts right answers and
catches the typical mistakes with the matching hint. Sizes are tiny (networks of 6-8 units, a few
epochs). The torch engine follows the reference to round-off (1e-8 on losses and spectra)."""
import numpy as np
import pytest
from course_helpers import _loss, _naive_loss, _parity, reference_runs, rejects_with_hint, ydata  # noqa: F401

import flosslab as fl
from flosslab.core.tasks import accuracy
from flosslab.course import lesson05_delayed_tasks as lesson, training_runs

torch = pytest.importorskip("torch")


def test_task_dashboard_shows_the_batch_and_its_lags():
    dash = lesson.task_dashboard(task="xor", delay=6, t_selected=14, seq_len=24)
    batch = fl.make_batch("xor", 6, 1, 24, 0)
    image = np.asarray(dash.artists["image"].get_array())
    np.testing.assert_array_equal(image[0], batch.inputs[:, 0, 0])
    np.testing.assert_array_equal(image[1], np.where(batch.mask, batch.targets[:, 0, 0], 0))
    # the boxes mark x_{t-3}, x_{t-6} and z_t; the status line writes the XOR out
    np.testing.assert_array_equal(dash.artists["input_boxes"].get_xdata(), [11, 8])
    bits = batch.inputs[:, 0, 0].astype(int)
    assert f"= <b>{bits[11] ^ bits[8]}</b>" in dash.note_text
    dash.set(task="parity", delay=9, order=3, t_selected=20)
    assert not dash.controls["order"].disabled
    np.testing.assert_array_equal(dash.artists["input_boxes"].get_xdata(), [17, 14, 11])
    dash.set(t_selected=5)                               # before d: not scored, no arrows
    assert "not scored" in dash.note_text and dash.artists["arrows"] == []
    dash.set(delay=2)                                    # parity of order 3 needs d >= 3
    assert "delay >= 3" in dash.message and "Cannot show" in dash.status.value


def test_delay_gradient_dashboard_matches_the_reference():
    ks = (1, 3)
    dash = lesson.delay_gradient_dashboard(delay=10, n_exponents=3, ks=ks, n_units=8,
                                           floss_steps=4, seq_len=30)
    batch = fl.make_batch("copy", 1, 16, 30, [0, 11])
    before = fl.init_rnn(8, 1.0, seed=0)
    after, _ = fl.floss(before, 4, 3, 0.0, 0.01, seed=0)
    for params, line in ((before, "before"), (after, "after")):
        g = fl.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask)
        np.testing.assert_allclose(ydata(dash.artists[line]), (g / g[-1])[::-1], rtol=1e-6)
    lam1 = fl.lyapunov_spectrum(after, fl.random_bits(300, 1, [0, 12]), n_exponents=1, seed=0)
    assert dash.data[0].lam1_after == pytest.approx(float(lam1[0]), abs=1e-8)
    marks = ydata(dash.artists["marks"]).copy()
    dash.set(delay=20)
    assert ydata(dash.artists["marks"])[0] == pytest.approx(dash.data[0].before[20])
    assert not np.allclose(marks, ydata(dash.artists["marks"]))
    assert "at d = 20" in dash.note_text
    with pytest.raises(fl.FlosslabError, match="precomputed"):
        lesson.delay_gradient_dashboard(n_exponents=5, ks=ks, n_units=8, floss_steps=4,
                                        seq_len=30)


def test_training_click_trains_every_seed_as_its_lone_run(tiny_training):
    dash = lesson.training_dashboard(task="copy", delay=3, n_exponents=3, schedule="pre",
                                     background=False)
    assert not dash.button.disabled and "2 seeds" in dash.status.value
    dash.button.click()
    runs = dash.data
    assert runs.accuracy.shape == (2, 2) and len(dash.runs) == 1
    lone = reference_runs("copy", 3, "pre")
    np.testing.assert_allclose(runs.accuracy, [h.accuracy for h in lone], atol=1e-12)
    np.testing.assert_allclose(runs.loss, [h.loss for h in lone], atol=1e-8)
    # the thick line is the median over seeds, at the evaluation epochs
    median_line = dash.artists["runs"][0][0]
    np.testing.assert_allclose(ydata(median_line), np.median([h.accuracy for h in lone], axis=0))
    np.testing.assert_allclose(median_line.get_xdata(), lone[0].eval_epochs)
    assert "done in" in dash.status.value and "final accuracy" in dash.status.value
    assert dash.bar.value == dash.bar.max and dash.seconds
    dash.set(schedule="none").button.click()
    assert len(dash.artists["runs"]) == 2
    dash.clear()
    assert dash.runs == [] and dash.artists["runs"] == []


def test_training_dashboard_refuses_bad_settings(tiny_training, capsys):
    dash = lesson.training_dashboard(background=False)
    dash.set(n_exponents=20)                             # k > N = 6
    assert dash.button.disabled and "choose k <= N" in dash.message
    assert dash.run() is None and dash.runs == []
    dash.set(n_exponents=2, task="parity", order=3, delay=2)
    assert dash.button.disabled and "delay &gt;= 3" in dash.status.value
    assert "Traceback" not in dash.status.value + capsys.readouterr().out
    dash.set(delay=5)
    assert not dash.button.disabled
    # the ready line names the schedule as students read it, and k (moving k shows at once)
    dash.set(schedule="pre", n_exponents=3)
    assert "preflossing of k = 3 exponents" in dash.status.value


def test_training_verdict_says_what_went_wrong():
    e = np.arange(1, 101)
    falling = training_runs.SeedRuns("pre", (0, 1, 2), np.array([50, 100]), np.full((3, 2), 0.5),
                                     np.tile(1.0 / e, (3, 1)), np.zeros((3, 2)), np.zeros((3, 2)),
                                     np.ones((3, 2)), np.full(3, 0.4), np.full(3, 0.2), 1.0)
    text = lesson.training_verdict(falling, "pre")
    assert "at chance" in text and "still falling" in text and "did not converge" in text
    fine = falling._replace(accuracy=np.full((3, 2), 0.99), loss=np.ones((3, 100)),
                            floss_end=np.full(3, 1e-3))
    text = lesson.training_verdict(fine, "pre")
    assert "at chance" not in text and "falling" not in text and "converge" not in text


def test_untrained_logits_are_the_reference_readout():
    batch = fl.make_batch("copy", 3, 4, 10, 0)
    params = fl.init_rnn(7, 1.0, seed=2)
    want = fl.readout(params, fl.run_rnn(params, batch.inputs))
    np.testing.assert_allclose(lesson.untrained_logits(batch, 7, seed=2), want, atol=1e-12)


RIGHT = [
    (lesson.check_parity_targets, _parity),
    (lesson.check_task_loss, _loss),
    (lesson.check_scored_accuracy, lambda y, z, m: accuracy(y, z, m)),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=[r[0].__name__ for r in RIGHT])
def test_right_answers_pass(checker, right, capsys):
    assert checker(right)
    assert "Correct" in capsys.readouterr().out


def _xor_as_a_sum(bits, delay):
    """x_{t - ceil(d/2)} + x_{t - d}: 0, 1 or 2 (a sum where XOR is asked)."""
    y = np.zeros_like(bits)
    half = -(-delay // 2)
    y[delay:] = bits[delay - half:len(bits) - half] + bits[:len(bits) - delay]
    return y


WRONG = [
    (lesson.check_xor_targets, _xor_as_a_sum, "do not add them"),
    (lesson.check_parity_targets, lambda b, d, p: _parity(b, d, p, lambda j, d_, p_: j * d_ // p_),
     "ceil(j d / p), not floor"),
    (lesson.check_parity_targets, lambda b, d, p: sum(_parity(b, d, 1, lambda j, d_, p_:
                                                              -(-i * d_ // p)) for i in
                                                      range(1, p + 1)), "do not add"),
    (lesson.check_task_loss, _naive_loss, "np.logaddexp"),
    (lesson.check_task_loss, lambda y, z, m: float(np.mean(np.logaddexp(0, y) - z * y)),
     "scored steps only"),
    (lesson.check_task_loss, lambda y, z, m: -_loss(y, z, m), "sign"),
    (lesson.check_task_loss, lambda y, z, m: float(np.sum((np.logaddexp(0, y) - z * y)[m])),
     "MEAN"),
    (lesson.check_scored_accuracy, lambda y, z, m: accuracy(y - 0.5, z, m), "y >= 0"),
    (lesson.check_scored_accuracy, lambda y, z, m: float(np.mean((y >= 0) == (z >= 0.5))),
     "scored steps only"),
    (lesson.check_scored_accuracy, lambda y, z, m: 1 - accuracy(y, z, m), "error rate"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG,
                         ids=[f"{w[0].__name__}-{w[2]}" for w in WRONG])
def test_wrong_answers_fail_with_the_matching_hint(checker, wrong, hint, capsys):
    rejects_with_hint(checker, wrong, hint, capsys)


def test_checkers_survive_crashes_and_nan(capsys):
    assert not lesson.check_task_loss(lambda y, z, m: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_a_second_run_of_a_schedule_gets_its_own_colour_and_marker(tiny_training):
    """Copy and XOR with preflossing on the same figure: two curves that must not look alike."""
    dash = lesson.training_dashboard(task="copy", delay=3, schedule="pre")
    dash.background = False
    dash.run()
    dash.set(task="xor")
    dash.run()
    medians = [line for line in dash.artists["ax_accuracy"].get_lines() if line.get_linewidth() > 2]
    assert len(medians) == 2
    (c1, m1), (c2, m2) = [(line.get_color(), line.get_marker()) for line in medians]
    assert c1 != c2 and m1 != m2
