"""Notebook 02 (Lyapunov exponents by QR): the demos against independent computations, the
dashboards driven through their controls, and the checkers against typical wrong answers."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.course import lesson02_lyapunov as lesson


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


def independent_spectrum(gain, n, k, m, steps=300, seed=0):
    """Dense Jacobians from the trajectory, then the generic QR routine (not the RNN path)."""
    params = fl.autonomous(fl.init_rnn(n, gain, seed=seed))
    h0 = np.random.default_rng(seed + 1).uniform(-1, 1, size=n)     # the library's start
    states = fl.run_rnn(params, np.zeros((steps, 1)), h0=h0)
    jacs = np.stack([(1 - h ** 2)[:, None] * params["W"] for h in states])  # from the states
    return fl.spectrum_from_jacobians(jacs, k, reorth_every=m,
                                      transient=10 + steps // 10, seed=seed)


def test_spectrum_dashboard_matches_an_independent_computation():
    dash = lesson.spectrum_dashboard(gain=2.0, n_units=20, n_exponents=20)
    np.testing.assert_allclose(ydata(dash.artists["spectrum"]),
                               independent_spectrum(2.0, 20, 20, 1), atol=1e-10)
    dash.controls["gain"].value = 0.5
    got = ydata(dash.artists["spectrum"])
    np.testing.assert_allclose(got, independent_spectrum(0.5, 20, 20, 1), atol=1e-10)
    assert got[0] < 0                                   # below the transition to chaos
    # sum rule shown when k = N: both sides printed and equal
    lhs, rhs = dash.data.sum_rule
    assert abs(lhs - rhs) < 1e-9 and f"{lhs:.4f}" in dash.artists["text"].get_text()
    dash.controls["n_exponents"].value = 4
    dash.controls["reorth_every"].value = 5
    np.testing.assert_allclose(ydata(dash.artists["spectrum"]),
                               independent_spectrum(0.5, 20, 4, 5), atol=1e-10)
    assert "needs k = N" in dash.artists["text"].get_text()
    # convergence panel: the running estimates end at the exponents
    for i, line in enumerate(dash.artists["convergence"][:4]):
        assert ydata(line)[-1] == pytest.approx(ydata(dash.artists["spectrum"])[i], abs=1e-12)


def test_spectrum_dashboard_k_larger_than_n_is_a_message(capsys):
    dash = lesson.spectrum_dashboard(n_units=10, n_exponents=10)
    shown = ydata(dash.artists["spectrum"]).copy()
    draws = dash.n_draws
    dash.controls["n_exponents"].value = 30
    assert "choose k <= N" in dash.message
    assert "Cannot show this combination" in dash.status.value
    assert dash.n_draws == draws and np.array_equal(shown, ydata(dash.artists["spectrum"]))
    dash.controls["n_exponents"].value = 3          # back to a valid setting: drawn again
    assert dash.message is None and ydata(dash.artists["spectrum"]).size == 3


def test_dashboard_shows_a_message_before_its_first_figure():
    dash = lesson.spectrum_dashboard(n_units=5, n_exponents=9)
    assert dash.fig is None and "k=9" in dash.message
    dash.controls["n_exponents"].value = 5
    assert dash.fig is not None and ydata(dash.artists["spectrum"]).size == 5


def my_spectrum(jacobians, frame, transient):
    q, total = frame, np.zeros(frame.shape[1])
    for t, d in enumerate(jacobians):
        q, r = np.linalg.qr(d @ q)
        if t >= transient:
            total += np.log(np.abs(np.diag(r)))
    return total / (len(jacobians) - transient)


def test_spectrum_vs_gain_seeds_matches_the_reference():
    gains, seeds = (0.5, 0.9, 2.5), (0, 3)
    spectra = lesson.spectrum_vs_gain_seeds(gains, 10, 3, 200, seeds)
    assert spectra.shape == (3, 2, 3)
    for i, g in enumerate(gains):
        for j, s in enumerate(seeds):
            want = lesson.autonomous_spectrum(g, 10, 3, 1, 200, s).exponents
            # below g = 1 the same trajectory to round-off; chaotic ones only statistically
            np.testing.assert_allclose(spectra[i, j], want, atol=1e-8 if g < 1 else 0.1)


def test_spectrum_vs_gain_dashboard():
    dash = lesson.spectrum_vs_gain_dashboard(n_units=10, n_shown=3, n_steps=100)
    spectra = dash.data
    for i in range(3):
        np.testing.assert_allclose(ydata(dash.artists["lines"][i]),
                                   np.median(spectra[:, :, i], axis=1))
    assert not dash.artists["lines"][3].get_visible()
    dash.controls["n_shown"].value = 5
    assert dash.artists["lines"][4].get_visible() and dash.data is spectra     # cached
    assert "True" in dash.status.value                   # median lambda_1 < 0 below g = 1


def test_qr_interval_errors_against_the_reference():
    r = lesson.qr_interval_errors(0.8, 8, None, (1, 3, 7), 120)
    for m, lam in zip(r.intervals, r.exponents):
        want = lesson.autonomous_spectrum(0.8, 8, 8, int(m), 120).exponents
        np.testing.assert_allclose(lam, want, atol=1e-8)
    np.testing.assert_allclose(r.errors, np.abs(r.exponents - r.exponents[0]))
    np.testing.assert_allclose(r.exposure[2], 7 * (r.reference[0] - r.reference))


def test_round_off_grows_like_float64_precision_times_the_stretch():
    """Demo 3's law: error ~ 1e-16 e^(m (lambda_1 - lambda_i)), errors tiny below 15."""
    r = lesson.qr_interval_errors(2.0, 30)
    x, err = r.exposure[1:].ravel(), r.errors[1:].ravel()
    assert err[x <= 15].max() < 1e-7 and x[err > 1e-6].min() > 15
    rising = (err > 1e-13) & (err < 1e-3)
    assert 0.3 < np.polyfit(x[rising], np.log10(err[rising]), 1)[0] < 0.5


def test_qr_interval_dashboard():
    dash = lesson.qr_interval_dashboard(gain=2.0, n_units=20, interval=1)
    tol = lesson.ROUND_OFF_TOLERANCE
    assert f"every exponent within {tol:g}" in dash.status.value
    r, _ = dash.data
    dash.controls["selected"].value = lesson.INTERVALS.index(20)
    assert dash.data[0] is r                                     # cached: only the highlight moves
    np.testing.assert_allclose(ydata(dash.artists["selected"]),
                               r.exponents[lesson.INTERVALS.index(20)])
    assert f"off by more than {tol:g}" in dash.status.value


def test_spectrum_dashboard_warns_about_round_off():
    dash = lesson.spectrum_dashboard(gain=3.0, n_units=20, n_exponents=20, reorth_every=1)
    assert "likely wrong" not in dash.status.value
    dash.controls["reorth_every"].value = 10
    assert "likely wrong by round-off" in dash.status.value
    dash.controls["n_exponents"].value = 1
    assert "k = 1" in dash.status.value


def test_known_maps_and_the_preactivation_form():
    for matrix in lesson.example_matrices().values():
        computed, expected = lesson.linear_map_check(my_spectrum, matrix)
        np.testing.assert_allclose(computed, expected, atol=1e-4)
    ours, theirs = lesson.preactivation_form_spectrum(2.0, 12, 200)
    assert ours.sum() == pytest.approx(theirs.sum(), abs=1e-10)       # the sums agree exactly
    assert np.abs(ours - theirs).max() < 0.1                          # the exponents, nearly


WRONG_02 = [
    (lesson.check_log_det_average,
     lambda j, tr: np.mean(np.log(np.linalg.det(j[tr:]))), "NaN"),
    (lesson.check_log_det_average, lambda j, tr: np.mean(np.linalg.slogdet(j)[1]),
     "after the transient"),
    (lesson.check_log_det_average, lambda j, tr: np.sum(np.linalg.slogdet(j[tr:])[1]), "MEAN"),
    (lesson.check_log_det_average,
     lambda j, tr: np.mean(np.linalg.slogdet(j[tr:])[1]) / np.log(10), "natural log"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG_02,
                         ids=[f"{w[0].__name__}-{i}" for i, w in enumerate(WRONG_02)])
def test_02_wrong_answers_fail_with_a_hint(checker, wrong, hint, capsys):
    with np.errstate(invalid="ignore"):
        assert not checker(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out


@pytest.mark.parametrize("answer", [
    lambda j, tr: np.mean(np.linalg.slogdet(j[tr:])[1]),
    lambda j, tr: np.mean([np.sum(np.log(np.abs(np.linalg.eigvals(d)))) for d in j[tr:]]),
    lambda j, tr: np.float32(np.mean(np.linalg.slogdet(j[tr:])[1])),
])
def test_02_right_answers_pass(answer, capsys):
    assert lesson.check_log_det_average(answer)


@pytest.mark.parametrize("make, settings", [
    (lambda: lesson.spectrum_vs_gain_dashboard(), {}),
    (lambda: lesson.spectrum_vs_gain_dashboard(), {"n_units": 10, "n_shown": 5}),
    (lambda: lesson.spectrum_dashboard(), {}),
    (lambda: lesson.spectrum_dashboard(), {"gain": 0.5}),      # every estimate below 0
    (lambda: lesson.spectrum_dashboard(), {"gain": 4.0}),
    (lambda: lesson.qr_interval_dashboard(), {}),
    (lambda: lesson.qr_interval_dashboard(), {"gain": 1.0}),
])
def test_02_legends_and_the_sum_rule_box_cover_no_data(make, settings):
    from course_helpers import data_under_legends
    dash = make().set(**settings)
    assert dash.message is None and data_under_legends(dash.fig) == []
    if "text" in dash.artists:             # the sum-rule box: no point of the spectrum under it
        fig = dash.fig
        fig.draw_without_rendering()
        box = dash.artists["text"].get_window_extent()
        pts = dash.artists["ax_spectrum"].transData.transform(
            dash.artists["spectrum"].get_xydata())
        assert not np.any((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                          & (pts[:, 1] < box.y1))
