"""Notebooks 00-02: the demos against independent computations, their dashboards driven through
their controls, and the checkers of their exercises against typical wrong answers. Sizes are small
so that the file runs in well under a minute."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.course import dashboards, demos, exercises, figures


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


# --- reference answers of the exercises (as in the notebooks' solution cells) -----------------------

def one_step_jacobian(params, a):
    return (1.0 - np.tanh(a) ** 2)[:, None] * params["W"]


def backprop_norms(params, pre, delta_last):
    delta, norms = np.asarray(delta_last, dtype=float), [np.linalg.norm(delta_last)]
    for t in range(len(pre), 1, -1):
        delta = one_step_jacobian(params, pre[t - 1]).T @ delta
        norms.append(np.linalg.norm(delta))
    return np.array(norms[::-1])


def growth_rate(norms, skip):
    back = np.arange(len(norms))[::-1]
    keep = back >= skip
    return np.polyfit(back[keep], np.log(np.asarray(norms)[keep]), 1)[0]


def my_spectrum(jacobians, frame, transient):
    q, total = frame, np.zeros(frame.shape[1])
    for t, d in enumerate(jacobians):
        q, r = np.linalg.qr(d @ q)
        if t >= transient:
            total += np.log(np.abs(np.diag(r)))
    return total / (len(jacobians) - transient)


# --- 00 ---------------------------------------------------------------------------------------------

def test_key_results_are_the_shipped_summary():
    from flosslab.paper.results import load
    summary = load("default")["c_delay"]
    key = demos.key_results()
    assert set(key) == set(summary)
    for task, r in key.items():
        for schedule, per_seed in r["accuracy"].items():
            for d, row in zip(r["delays"], per_seed):
                assert list(row) == summary[task]["accuracy"][schedule][str(d)]
        assert r["horizon"] == summary[task]["horizon_0.9"]
    fig, art = figures.key_result_figure(key)
    ax = art["axes"][0]
    task = list(key)[0]
    medians = [ydata(line) for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(medians[0], np.median(key[task]["accuracy"]["none"], axis=1))


def test_projector_test_card_in_presentation_mode():
    from flosslab.core.style import is_presentation, presentation
    presentation(True)
    try:
        fig, art = figures.projector_test_figure()
        texts = [t.get_fontsize() for t in art["axes"][1].texts]
        assert is_presentation() and max(texts) == 16.0
    finally:
        presentation(False)
    assert fig._repr_png_()[:4] == b"\x89PNG"


# --- 01 ---------------------------------------------------------------------------------------------

def test_backprop_log_norms_equal_autograd_and_never_underflow():
    batch = fl.make_batch("copy", 1, 3, 80, 1)
    for gain in (0.3, 1.0, 2.5):
        params = fl.init_rnn(12, gain, seed=2)
        states, pre = fl.run_rnn(params, batch.inputs, return_preactivations=True)
        logs = demos.backprop_log_norms(params, pre, demos.last_step_error(params, states,
                                                                            batch.targets))
        auto = fl.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask)
        np.testing.assert_allclose(logs, np.log(auto), atol=1e-9)
    # g = 0.05 over 400 steps: far below the smallest float64, still finite and still straight
    params = fl.init_rnn(8, 0.05, seed=0)
    batch = fl.make_batch("copy", 1, 2, 400, 0)
    states, pre = fl.run_rnn(params, batch.inputs, return_preactivations=True)
    delta_last = demos.last_step_error(params, states, batch.targets)
    logs = demos.backprop_log_norms(params, pre, delta_last)
    assert np.all(np.isfinite(logs)) and logs[0] / np.log(10) < -400
    norms, zero = demos.backprop_float64(params, pre, delta_last)
    assert zero[0] and not zero[-1] and norms[0] == 0.0


def test_rate_vs_exponent_uses_the_given_functions():
    calls = []

    def counting(params, pre, delta_last):
        calls.append(1)
        return backprop_norms(params, pre, delta_last)

    r = demos.rate_vs_exponent(counting, growth_rate, gains=(0.7, 2.4), n_units=16, seq_len=120,
                               seeds=(0, 1))
    assert len(calls) == 4 and r.rates.shape == (2, 2)
    # lambda_1 independently: the reference on the same trajectory
    params, bits, _ = demos.driven_trajectory(16, 2.4, 120, 1)
    assert r.exponents[1, 1] == pytest.approx(fl.lyapunov_spectrum(params, bits, n_exponents=1,
                                                                  seed=1)[0], abs=1e-12)
    assert np.all(np.abs(r.rates - r.exponents) < 0.1)
    assert np.all(np.sign(r.rates) == np.sign(r.exponents))
    with pytest.raises(fl.FlosslabError, match="underflows"):      # norms that reach 0: a message
        demos.rate_vs_exponent(lambda p, a, d: np.zeros(len(a)), growth_rate, gains=(1.0,),
                               n_units=8, seq_len=40, seeds=(0,))


def test_growth_rate_dashboard():
    dash = dashboards.growth_rate_dashboard(backprop_norms, growth_rate, gain=1.0, seq_len=100,
                                            skip=10)
    params, _, pre = demos.driven_trajectory(64, 1.0, 100, 3)
    delta = np.random.default_rng([3, 2]).standard_normal(64)
    want = np.log(backprop_norms(params, pre, delta / np.linalg.norm(delta)))
    np.testing.assert_allclose(ydata(dash.artists["curves"][3]), want, rtol=1e-12)
    rates = ydata(dash.artists["chosen"])
    dash.controls["skip"].value = 40
    assert not np.allclose(rates, ydata(dash.artists["chosen"]))
    assert ydata(dash.artists["chosen"])[3] == pytest.approx(growth_rate(np.exp(want), 40))
    dash.controls["skip"].value = 95                       # leaves fewer than 10 steps to fit
    assert "skip fewer" in dash.message


def test_first_crossing():
    gains = [0.5, 1.0, 1.5, 2.0]
    assert demos.first_crossing(gains, [-0.5, -0.21, 0.19, 0.3]) == pytest.approx(1.25)
    assert np.isnan(demos.first_crossing(gains, [-0.5, -0.4, -0.3, -0.2]))
    assert demos.first_crossing(gains, [0.1, 0.2, 0.3, 0.4]) == 0.5
    # the first crossing counts, not a later one
    assert demos.first_crossing(gains, [-0.5, 0.0, -0.5, 0.5]) == pytest.approx(
        0.5 + 0.49 / 0.5 * 0.5)


def test_driven_vs_autonomous_matches_the_reference():
    gains = (0.6, 1.0, 2.2)
    r = demos.driven_vs_autonomous(1.5, 0.3, 12, gains, (0, 1), 150)
    for i, g in enumerate(gains):
        for j, seed in enumerate((0, 1)):
            params = fl.init_rnn(12, g, seed=seed, bias_scale=0.3)
            params["U"] = params["U"] * 1.5
            bits = fl.random_bits(150, 1, seed)
            want = fl.lyapunov_spectrum(params, bits, n_exponents=1, seed=seed)[0]
            tol = 1e-8 if g < 2 else 0.05        # chaotic: trajectories separate by round-off
            assert r.lam1[i, j] == pytest.approx(want, abs=tol)
            _, pre = fl.run_rnn(params, bits, h0=fl.random_state(12, seed),
                                return_preactivations=True)
            slope = fl.tanh_slope(pre[fl.default_transient(150):]).mean()
            assert r.slope[i, j] == pytest.approx(slope, abs=1e-10)
    auto = demos.driven_vs_autonomous(0.0, 0.0, 12, gains, (0, 1), 150)
    spectrum = demos.autonomous_spectrum(0.6, 12, 1, 1, 150, 1).exponents[0]
    assert auto.lam1[0, 1] == pytest.approx(spectrum, abs=1e-8)      # input 0, bias 0: autonomous


def test_driven_dashboard_plots_medians_and_says_where_lambda_1_reaches_0():
    dash = dashboards.driven_dashboard(n_units=16)
    driven, auto = dash.data
    np.testing.assert_allclose(ydata(dash.artists["lam"][0]), np.median(driven.lam1, axis=1))
    np.testing.assert_allclose(ydata(dash.artists["lam"][1]), np.median(auto.lam1, axis=1))
    assert f"g = {np.nanmedian(driven.crossing):.2f}" in dash.status.value
    dash.controls["input_scale"].value = 0.0
    dash.controls["bias_scale"].value = 0.0
    driven, auto = dash.data
    np.testing.assert_allclose(driven.lam1, auto.lam1)
    assert "= autonomous" in dash.artists["lam"][0].get_label()


def test_driven_network_reaches_zero_later_than_the_autonomous_one():
    """The claim of notebook 01's Demo 3 at its defaults, on every seed."""
    driven = demos.driven_vs_autonomous(1.0, 0.1, 64)
    auto = demos.driven_vs_autonomous(0.0, 0.0, 64)
    assert np.all(driven.crossing > auto.crossing)
    assert 1.5 < np.median(driven.crossing) < 2.0 and 0.9 < np.median(auto.crossing) < 1.2


def test_random_products_grow_at_the_known_rate():
    fitted = [growth_rate(demos.random_product_norms(2.0, 16, 400, s), 10) for s in range(3)]
    assert np.median(fitted) == pytest.approx(demos.gaussian_product_rate(2.0, 16), abs=0.03)


# --- 01: checkers ----------------------------------------------------------------------------------

def _loop_jacobian(params, a):
    n = len(a)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = (1.0 - np.tanh(a[i]) ** 2) * params["W"][i, j]
    return out


def _off_by_one_backprop(params, pre, delta_last):
    delta, norms = np.asarray(delta_last), [np.linalg.norm(delta_last)]
    for t in range(len(pre), 1, -1):
        delta = one_step_jacobian(params, pre[t - 2]).T @ delta
        norms.append(np.linalg.norm(delta))
    return np.array(norms[::-1])


def _two_point_rate(norms, skip):
    return (np.log(norms[-1 - skip]) - np.log(norms[0])) / (len(norms) - 1 - skip)


WRONG_01 = [
    (exercises.check_one_step_jacobian, lambda p, a: p["W"] * (1 - np.tanh(a) ** 2)[None, :],
     "ROWS"),
    (exercises.check_one_step_jacobian, lambda p, a: one_step_jacobian(p, np.tanh(a)),
     "not at h"),
    (exercises.check_one_step_jacobian, lambda p, a: (1 - a ** 2)[:, None] * p["W"], "1 - a^2"),
    (exercises.check_one_step_jacobian, lambda p, a: one_step_jacobian(p, a).T, "transposed"),
    (exercises.check_one_step_jacobian, lambda p, a: np.tanh(a)[:, None] * p["W"], "SLOPE"),
    (exercises.check_backprop_norms, _off_by_one_backprop, "off by one"),
    (exercises.check_backprop_norms, lambda p, a, d: backprop_norms(p, a, d)[::-1], "reversed"),
    (exercises.check_growth_rate, lambda n, s: -growth_rate(n, s), "sign"),
    (exercises.check_growth_rate, lambda n, s: growth_rate(n, s) / np.log(10), "natural log"),
    (exercises.check_growth_rate, lambda n, s: growth_rate(n, 0), "leave out"),
    (exercises.check_growth_rate, lambda n, s: growth_rate(n, s + 1), "off by one"),
    (exercises.check_growth_rate,
     lambda n, s: np.polyfit(np.arange(len(n))[s:], np.log(n[s:]), 1)[0], "END of the array"),
    (exercises.check_growth_rate, _two_point_rate, "not only the two ends"),
    (exercises.check_growth_rate, lambda n, s: float("nan"), "NaN"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG_01,
                         ids=[f"{w[0].__name__}-{i}" for i, w in enumerate(WRONG_01)])
def test_01_wrong_answers_fail_with_a_hint(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out and out.count("\n") == 1


@pytest.mark.parametrize("checker, answer", [
    (exercises.check_one_step_jacobian, one_step_jacobian),
    (exercises.check_one_step_jacobian, _loop_jacobian),
    (exercises.check_one_step_jacobian, lambda p, a: one_step_jacobian(p, a).astype(np.float32)),
    (exercises.check_one_step_jacobian, lambda p, a: fl.jacobian(p, a).tolist()),
    (exercises.check_backprop_norms, backprop_norms),
    (exercises.check_backprop_norms,
     lambda p, a, d: backprop_norms(p, a, d).astype(np.float32)),
    (exercises.check_growth_rate, growth_rate),
    (exercises.check_growth_rate, lambda n, s: np.float32(growth_rate(n, s))),
])
def test_01_right_answers_pass(checker, answer, capsys):
    assert checker(answer) is True


# --- 02 ---------------------------------------------------------------------------------------------

def test_spectrum_vs_gain_seeds_matches_the_reference():
    gains, seeds = (0.5, 0.9, 2.5), (0, 3)
    spectra = demos.spectrum_vs_gain_seeds(gains, 10, 3, 200, seeds)
    assert spectra.shape == (3, 2, 3)
    for i, g in enumerate(gains):
        for j, s in enumerate(seeds):
            want = demos.autonomous_spectrum(g, 10, 3, 1, 200, s).exponents
            # below g = 1 the same trajectory to round-off; chaotic ones only statistically
            np.testing.assert_allclose(spectra[i, j], want, atol=1e-8 if g < 1 else 0.1)


def test_spectrum_vs_gain_dashboard():
    dash = dashboards.spectrum_vs_gain_dashboard(n_units=10, n_shown=3, n_steps=100)
    spectra = dash.data
    for i in range(3):
        np.testing.assert_allclose(ydata(dash.artists["lines"][i]),
                                   np.median(spectra[:, :, i], axis=1))
    assert not dash.artists["lines"][3].get_visible()
    dash.controls["n_shown"].value = 5
    assert dash.artists["lines"][4].get_visible() and dash.data is spectra     # cached
    assert "True" in dash.status.value                   # median lambda_1 < 0 below g = 1


def test_qr_interval_errors_against_the_reference():
    r = demos.qr_interval_errors(0.8, 8, None, (1, 3, 7), 120)
    for m, lam in zip(r.intervals, r.exponents):
        want = demos.autonomous_spectrum(0.8, 8, 8, int(m), 120).exponents
        np.testing.assert_allclose(lam, want, atol=1e-8)
    np.testing.assert_allclose(r.errors, np.abs(r.exponents - r.exponents[0]))
    np.testing.assert_allclose(r.exposure[2], 7 * (r.reference[0] - r.reference))


def test_round_off_grows_like_float64_precision_times_the_stretch():
    """Demo 3's law: error ~ 1e-16 e^(m (lambda_1 - lambda_i)), errors tiny below 15."""
    r = demos.qr_interval_errors(2.0, 30)
    x, err = r.exposure[1:].ravel(), r.errors[1:].ravel()
    assert err[x <= 15].max() < 1e-7 and x[err > 1e-6].min() > 15
    rising = (err > 1e-13) & (err < 1e-3)
    assert 0.3 < np.polyfit(x[rising], np.log10(err[rising]), 1)[0] < 0.5


def test_qr_interval_dashboard():
    dash = dashboards.qr_interval_dashboard(gain=2.0, n_units=20, interval=1)
    assert "every exponent within 1e-8" in dash.status.value
    r, _ = dash.data
    dash.controls["selected"].value = demos.INTERVALS.index(20)
    assert dash.data[0] is r                                     # cached: only the highlight moves
    np.testing.assert_allclose(ydata(dash.artists["selected"]), r.exponents[demos.INTERVALS.index(20)])
    assert "off by more than 1e-8" in dash.status.value


def test_spectrum_dashboard_warns_about_round_off():
    dash = dashboards.spectrum_dashboard(gain=3.0, n_units=20, n_exponents=20, reorth_every=1)
    assert "likely wrong" not in dash.status.value
    dash.controls["reorth_every"].value = 10
    assert "likely wrong by round-off" in dash.status.value
    dash.controls["n_exponents"].value = 1
    assert "k = 1" in dash.status.value


def test_known_maps_and_the_preactivation_form():
    for matrix in demos.example_matrices().values():
        computed, expected = demos.linear_map_check(my_spectrum, matrix)
        np.testing.assert_allclose(computed, expected, atol=1e-4)
    ours, theirs = demos.preactivation_form_spectrum(2.0, 12, 200)
    assert ours.sum() == pytest.approx(theirs.sum(), abs=1e-10)       # the sums agree exactly
    assert np.abs(ours - theirs).max() < 0.1                          # the exponents, nearly


WRONG_02 = [
    (exercises.check_log_det_average,
     lambda j, tr: np.mean(np.log(np.linalg.det(j[tr:]))), "NaN"),
    (exercises.check_log_det_average, lambda j, tr: np.mean(np.linalg.slogdet(j)[1]),
     "after the transient"),
    (exercises.check_log_det_average, lambda j, tr: np.sum(np.linalg.slogdet(j[tr:])[1]), "MEAN"),
    (exercises.check_log_det_average,
     lambda j, tr: np.mean(np.linalg.slogdet(j[tr:])[1]) / np.log(10), "natural log"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG_02,
                         ids=[f"{w[0].__name__}-{i}" for i, w in enumerate(WRONG_02)])
def test_02_wrong_answers_fail_with_a_hint(checker, wrong, hint, capsys):
    with np.errstate(invalid="ignore"):
        assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out


@pytest.mark.parametrize("answer", [
    lambda j, tr: np.mean(np.linalg.slogdet(j[tr:])[1]),
    lambda j, tr: np.mean([np.sum(np.log(np.abs(np.linalg.eigvals(d)))) for d in j[tr:]]),
    lambda j, tr: np.float32(np.mean(np.linalg.slogdet(j[tr:])[1])),
])
def test_02_right_answers_pass(answer, capsys):
    assert exercises.check_log_det_average(answer) is True
