"""Notebook 04 (gradient flossing): the demos against the numpy reference, the flossing diagnosis
on constructed evidence, the dashboards, and the checkers on typical mistakes and legitimate
variants."""
import numpy as np
import pytest
from course_helpers import rejects_with_hint

import flosslab as fl
from flosslab import engine
from flosslab.course import lesson04_flossing as lesson

torch = pytest.importorskip("torch")


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


def test_continued_flossing_equals_one_run_of_that_length():
    """Asking for 6 then 10 steps continues the 6-step run (Adam state included): the result is the
    engine's 10-step run (which takes its batched path: round-off apart) and the reference's
    (numpy/autograd, QR every step) to round-off."""
    from flosslab import engine
    lesson.floss_continued(1.0, 3, 0.0, 9, 6, 0.01, seed=2)
    params, hist = lesson.floss_continued(1.0, 3, 0.0, 9, 10, 0.01, seed=2)
    want, want_hist = engine.floss(engine.init_rnn(9, 1.0, seed=2), 10, 3, 0.0, 0.01, seed=2,
                                   reorth_every="auto")
    np.testing.assert_allclose(hist.losses, want_hist.losses, rtol=1e-9)
    np.testing.assert_allclose(params["W"], want["W"].numpy(), atol=1e-11)
    ref, ref_hist = fl.floss(fl.init_rnn(9, 1.0, seed=2), 10, 3, 0.0, 0.01, seed=2)
    np.testing.assert_allclose(hist.losses, ref_hist.losses, rtol=1e-8)
    np.testing.assert_allclose(params["W"], ref["W"], atol=1e-9)


def test_flossing_dashboard_plots_the_reference_numbers():
    dash = lesson.flossing_dashboard(n_exponents=3, n_units=10, n_steps=12)
    r = dash.data
    bits = fl.random_bits(lesson.SPECTRUM_STEPS, 1, [0, 3])
    # spectra: the numpy reference on the same bits, for the plotted before and after networks
    np.testing.assert_allclose(ydata(dash.artists["spec_before"]),
                               fl.lyapunov_spectrum(fl.init_rnn(10, 1.0, seed=0), bits, seed=0),
                               atol=1e-10)
    np.testing.assert_allclose(ydata(dash.artists["spec_after"]),
                               fl.lyapunov_spectrum(r.params_after, bits, seed=0), atol=1e-10)
    # the loss curve: the reference flossing loop (autograd, QR every step)
    _, hist = fl.floss(fl.init_rnn(10, 1.0, seed=0), 12, 3, 0.0, 0.01, seed=0)
    np.testing.assert_allclose(ydata(dash.artists["loss"]), hist.losses, rtol=1e-8)
    # gradient norms: the reference's BPTT
    batch = fl.make_batch("copy", 1, 4, 80, [0, 4])
    np.testing.assert_allclose(ydata(dash.artists["grad_after"]),
                               fl.state_gradient_norms(r.params_after, batch.inputs, batch.targets,
                                                       batch.mask, loss_at="last"), rtol=1e-8)
    # condition number after flossing: an exact SVD of the multiplied-out product (kappa is small);
    # subspace iteration (4 passes) splits close singular values slowly: 0.15 decades at short
    # windows, 0.05 from t = 50
    states = fl.run_rnn(r.params_after, fl.random_bits(140, 1, [0, 5]))[40:]
    prod = np.eye(10)
    for t, h in enumerate(states[:100], start=1):
        prod = ((1 - h ** 2)[:, None] * r.params_after["W"]) @ prod
        if t in r.cond_times:
            s = np.linalg.svd(prod, compute_uv=False)[:3]
            shown = ydata(dash.artists["cond_after"])[list(r.cond_times).index(t)]
            assert shown == pytest.approx(np.log10(s[0] / s[-1]), abs=0.15 if t < 50 else 0.05)
    # the prediction line is (lambda_1 - lambda_k) t / ln 10 of the plotted spectrum
    sa = r.spectrum_after
    np.testing.assert_allclose(ydata(dash.artists["pred_after"]),
                               (sa[0] - sa[2]) * np.asarray(r.cond_times) / np.log(10))
    dash.controls["target"].value = -0.3
    assert dash.data.target == -0.3 and ydata(dash.artists["target_line"])[0] == -0.3
    dash.controls["n_exponents"].value = 25
    assert "choose k <= N" in dash.message


def test_flossing_dashboard_says_when_kappa_is_undefined_and_when_flossing_failed():
    dash = lesson.flossing_dashboard(n_exponents=1, n_units=16, n_steps=16)
    assert ydata(dash.artists["cond_before"]).size == 0          # no flat line at 0
    cond_text = dash.artists["cond_text"].get_text()
    assert "k" in cond_text and "2" in cond_text
    assert "needs k ≥ 2" in dash.note_text
    dash.controls["n_exponents"].value = 4                        # back: the panel is drawn again
    assert ydata(dash.artists["cond_before"]).size == len(dash.data.cond_times)
    assert dash.artists["cond_text"].get_text() == ""
    dash.controls["gain"].value = 3.0                             # chaotic: lambda_1 > 0
    assert dash.data.spectrum_before[0] > 0
    assert "did not converge" in dash.note_text and "chaotic" in dash.note_text


def _result(spectrum_before, spectrum_after, losses, k=2, target=0.0, distance_half=1.0):
    n = len(spectrum_before)
    return lesson.FlossingResult(1.0, k, target, n, len(losses), 0.01, 0, {}, {},
                                 np.asarray(losses, float), np.zeros((len(losses), k)),
                                 np.asarray(spectrum_before, float),
                                 np.asarray(spectrum_after, float), distance_half,
                                 np.arange(1, 3), np.ones(2), np.ones(2), np.arange(1, 3), None,
                                 None)


FLAT = 0.01 * (1 + 0.5 * np.sin(2.1 * np.arange(80)))     # noisy, neither rising nor falling


@pytest.mark.parametrize("before, after, losses, half, reason", [
    ([-0.3, -0.5, -1], [-0.02, -0.05, -1], FLAT, 0.05, None),
    ([0.2, -0.1, -1], [0.2, -0.4, -1], FLAT, 0.3, "chaotic"),
    ([-0.3, -0.5, -1], [-0.3, -0.9, -1], FLAT * np.exp(np.arange(80) / 30), 0.5, "loss rose"),
    ([-0.3, -0.5, -1], [-0.2, -0.3, -1], 0.1 * np.exp(-np.arange(80) / 20), 0.3,
     "still falling"),
    ([-0.3, -0.5, -1], [-0.2, -0.3, -1], FLAT * 4, 0.5, "still shrinking"),
    ([-0.3, -0.5, -1], [-0.2, -0.3, -1], FLAT * 0.5, 0.26, "wander"),
    ([-0.3, -0.5, -1], [-0.2, -0.3, -1], FLAT * 6, 0.26, "out of reach"),
])
def test_flossing_diagnosis_names_the_evidence(before, after, losses, half, reason):
    d = lesson.diagnose_flossing(_result(before, after, losses, distance_half=half), tol=0.1)
    assert d.converged is (reason is None)
    assert d.distance_after == pytest.approx(np.sqrt(np.mean(np.asarray(after[:2]) ** 2)))
    if reason is None:
        assert d.message.startswith("converged") and d.reasons == ()
    else:
        assert d.message.startswith("did not converge") and reason in d.message


def test_the_diagnosis_uses_the_given_still_falling_test():
    r = _result([-0.3, -0.5], [-0.2, -0.3], FLAT * 6, distance_half=0.26)
    assert "still falling" in lesson.diagnose_flossing(r, still_falling=lambda losses: True).message
    assert "still falling" not in lesson.diagnose_flossing(r).message


def test_loss_still_falling():
    for what, losses, want in lesson.synthetic_loss_curves():
        assert lesson.loss_still_falling(losses) is want, what
    assert lesson.loss_still_falling([1.0, 0.5]) is True                  # too short to tell


def test_condition_collapse_matches_the_reference():
    times, before, after = lesson.condition_collapse(1.0, 3, 10, 8, 0.01, window=60, seed=1)
    params_after, _ = lesson.floss_continued(1.0, 3, 0.0, 10, 8, 0.01, 1)
    bits = fl.random_bits(100, 1, [1, 5])
    for params, got in ((fl.init_rnn(10, 1.0, seed=1), before), (params_after, after)):
        # the torch engine's curve: a second implementation of the same subspace iteration
        _, want = engine.condition_number_curve(engine.to_torch(params), bits, n_values=3,
                                                times=times, transient=40, n_passes=2, seed=1)
        np.testing.assert_allclose(got, want, atol=1e-8)
    with pytest.raises(fl.FlosslabError, match="k >= 2"):
        lesson.condition_collapse(1.0, 1, 10, 8)


def test_shipped_condition_numbers_are_the_papers_setting():
    s = lesson.shipped_condition_numbers()
    assert (s["n"], s["k"]) == (80, 75) and s["times"][-1] == 300
    assert s["before"][-1] > 250 and s["after"][-1] < 15 and s["times"].shape == s["after"].shape


def test_collapse_dashboard_follows_seed_and_k():
    dash = lesson.condition_collapse_dashboard(n_units=8, n_exponents=2, n_steps=4)
    shipped = lesson.shipped_condition_numbers()
    np.testing.assert_allclose(ydata(dash.artists["shipped_after"]), shipped["after"])
    dash.controls["seed"].value = 3
    _, before, after = lesson.condition_collapse(1.0, 2, 8, 4, 0.01, 300, 3)
    np.testing.assert_allclose(ydata(dash.artists["live_before"]), before)
    np.testing.assert_allclose(ydata(dash.artists["live_after"]), after)
    assert "seed 3" in dash.artists["axes"][1].get_title()


def test_learning_rate_dashboard():
    dash = lesson.learning_rate_dashboard(n_units=8, n_exponents=2, n_steps=16)
    dash.controls["log10_lr"].value = -1.5
    assert dash.data.lr == pytest.approx(10 ** -1.5, rel=1e-5)
    np.testing.assert_allclose(ydata(dash.artists["loss"]), dash.data.losses)
    assert "from the target" in dash.note_text


def test_your_loop_equals_the_torch_loop():
    loop = lesson.floss_with(lesson.reference_value_and_gradient, lesson.reference_adam_step,
                             n_units=6, n_exponents=2, n_steps=4, lr=0.02)
    want = lesson.engine_loop_losses(n_units=6, n_exponents=2, n_steps=4, lr=0.02)
    np.testing.assert_allclose(loop.losses, want, rtol=1e-10)
    assert loop.spectrum_before.size == 4


def _value_and_grad_with_readout(params, inputs, k, target):
    from autograd import value_and_grad
    return value_and_grad(lambda p: fl.flossing_loss(p, inputs, k, target))(dict(params))


def _value_and_grad_sign(params, inputs, k, target):
    loss, grads = lesson.reference_value_and_gradient(params, inputs, k, target)
    return loss, {name: -g for name, g in grads.items()}


def _adam_no_bias_correction(x, g, m, v, t, lr):
    m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
    return x - lr * m / (np.sqrt(v) + 1e-8), m, v


def _adam_uphill(x, g, m, v, t, lr):
    x_new, m, v = lesson.reference_adam_step(x, g, m, v, t, lr)
    return 2 * x - x_new, m, v


def _adam_t_from_zero(x, g, m, v, t, lr):
    return lesson.reference_adam_step(x, g, m, v, t - 1 if t > 1 else t, lr)


def _adam_eps_inside_the_root(x, g, m, v, t, lr):
    m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
    m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
    return x - lr * m_hat / np.sqrt(v_hat + 1e-8), m, v


def _adam_bias_with_t_minus_one(x, g, m, v, t, lr):
    m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
    with np.errstate(all="ignore"):
        m_hat, v_hat = m / (1 - 0.9 ** (t - 1)), v / (1 - 0.999 ** (t - 1))
        return x - lr * m_hat / (np.sqrt(v_hat) + 1e-8), m, v


def _falling_without_a_margin(losses):
    n = len(losses)
    return bool(np.median(losses[3 * n // 4:]) < np.median(losses[n // 2:3 * n // 4]))


def _falling_last_vs_first(losses):
    return bool(losses[-1] < losses[0])


def _falling_last_two(losses):
    return bool(losses[-1] < losses[-2])


@pytest.mark.parametrize("checker, wrong, hint", [
    (lesson.check_flossing_gradient, _value_and_grad_with_readout, "only W, U"),
    (lesson.check_flossing_gradient, _value_and_grad_sign, "wrong sign"),
    (lesson.check_flossing_gradient, lambda p, i, k, t: 0.0, "pair"),
    (lesson.check_adam_step, _adam_no_bias_correction, "bias"),
    (lesson.check_adam_step, _adam_uphill, "uphill"),
    (lesson.check_adam_step, _adam_t_from_zero, "tau = 1"),
    (lesson.check_adam_step, _adam_eps_inside_the_root, "OUTSIDE the square root"),
    (lesson.check_adam_step, _adam_bias_with_t_minus_one, "1 - b**0 = 0"),
    (lesson.check_still_falling, _falling_last_vs_first, "wrong on"),
    (lesson.check_still_falling, _falling_last_two, "wrong on"),
    (lesson.check_still_falling, lambda losses: "yes", "True or False"),
    (lesson.check_still_falling, _falling_without_a_margin, "flat noisy curves"),
], ids=lambda v: getattr(v, "__name__", None) or str(v)[:12])
def test_checkers_of_04_catch_typical_mistakes(checker, wrong, hint, capsys):
    rejects_with_hint(checker, wrong, hint, capsys)


def _adam_float32(x, g, m, v, t, lr):
    return tuple(np.asarray(a, dtype=np.float32)
                 for a in lesson.reference_adam_step(x, g, m, v, t, lr))


def _falling_by_means(losses):
    n = len(losses)
    return bool(np.mean(losses[3 * n // 4:]) < 0.8 * np.mean(losses[n // 2:3 * n // 4]))


def _falling_by_fit(losses):
    n = len(losses)
    tail = np.log(np.asarray(losses[n // 2:]))
    slope = np.polyfit(np.arange(tail.size), tail, 1)[0]
    return bool(slope * tail.size < -np.log(1.5))


@pytest.mark.parametrize("checker, answer", [
    (lesson.check_adam_step, _adam_float32),
    (lesson.check_still_falling, _falling_by_means),
    (lesson.check_still_falling, _falling_by_fit),
])
def test_checkers_of_04_accept_legitimate_variants(checker, answer):
    assert checker(answer)


@pytest.mark.parametrize("make, settings", [
    (lambda: lesson.learning_rate_dashboard(), {}),
    (lambda: lesson.learning_rate_dashboard(), {"log10_lr": -1.0}),     # the loss rises
    (lambda: lesson.flossing_dashboard(), {}),
    (lambda: lesson.flossing_dashboard(), {"gain": 3.0}),
    (lambda: lesson.flossing_dashboard(), {"n_exponents": 1}),
    (lambda: lesson.condition_collapse_dashboard(), {}),
])
def test_04_legends_cover_no_data(make, settings):
    from course_helpers import data_under_legends
    dash = make().set(**settings)
    assert dash.message is None and data_under_legends(dash.fig) == []
