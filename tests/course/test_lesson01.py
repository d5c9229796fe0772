"""Notebook 01 (exploding and vanishing gradients): the demos against independent computations, the
dashboards driven through their controls, and the checkers against typical wrong answers."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.course import lesson01_gradients as lesson, lesson02_lyapunov


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


def test_gradient_norm_dashboard_follows_the_controls():
    dash = lesson.gradient_norm_dashboard(n_units=16, seq_len=30, n_curves=3)
    before = ydata(dash.artists["lines"][0]).copy()
    dash.controls["gains"].value = (0.4, 2.0)
    assert dash.message is None and dash.n_draws == 2
    gains = (0.4, 1.2, 2.0)
    batch = fl.make_batch("copy", 1, 4, 30, 0)
    for line, g in zip(dash.artists["lines"], gains):
        # the plotted exact log10 norms equal autograd's backpropagation (no underflow here)
        want = fl.state_gradient_norms(fl.init_rnn(16, g, seed=0), batch.inputs, batch.targets,
                                       batch.mask, loss_at="last")
        np.testing.assert_allclose(ydata(line), np.log10(want), atol=1e-10)
        assert line.get_label() == f"g = {g:.2f}"
    assert not np.allclose(before, ydata(dash.artists["lines"][0]))
    # the physics shows in the plotted data: at small gain the signal vanishes backwards, and it
    # decays less the larger the gain
    drops = [ydata(line)[0] - ydata(line)[-1] for line in dash.artists["lines"]]
    assert drops[0] < -3 and drops[0] < drops[1] < drops[2]
    assert "never" not in dash.status.value and "No curve reaches" in dash.status.value


def test_gradient_norm_dashboard_shows_where_float64_underflows():
    """g = 0.1, T = 300: plain float64 norms read 0 (autograd's too); the plot does not stop there
    and the status line and a marker say where."""
    dash = lesson.gradient_norm_dashboard(n_units=64, seq_len=300, n_curves=2)
    dash.controls["gains"].value = (0.1, 0.5)
    data = dash.data
    t0 = data.norm_reads_zero[0]
    assert t0 is not None and data.norm_reads_zero[1] is None
    batch = fl.make_batch("copy", 1, 4, 300, 0)
    auto = fl.state_gradient_norms(fl.init_rnn(64, 0.1, seed=0), batch.inputs, batch.targets,
                                   batch.mask, loss_at="last")
    assert np.all(auto[:t0] == 0.0) and auto[t0] > 0.0      # autograd reads 0 exactly there
    line = ydata(dash.artists["lines"][0])
    assert np.all(np.isfinite(line)) and line[0] < -300       # the exact curve goes on, below 1e-300
    normal = auto > 1e-150                  # squares of smaller norms are subnormal: digits lost
    np.testing.assert_allclose(line[normal], np.log10(auto[normal]), atol=1e-8)
    assert ydata(dash.artists["marks"][0])[0] == pytest.approx(line[t0 - 1])
    assert f"t &le; {t0}" in dash.status.value


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


def test_backprop_log_norms_equal_autograd_and_never_underflow():
    batch = fl.make_batch("copy", 1, 3, 80, 1)
    for gain in (0.3, 1.0, 2.5):
        params = fl.init_rnn(12, gain, seed=2)
        states, pre = fl.run_rnn(params, batch.inputs, return_preactivations=True)
        logs = lesson.backprop_log_norms(params, pre, lesson.last_step_error(params, states,
                                                                             batch.targets))
        auto = fl.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask)
        np.testing.assert_allclose(logs, np.log(auto), atol=1e-9)
    # g = 0.05 over 400 steps: far below the smallest float64, still finite and still straight
    params = fl.init_rnn(8, 0.05, seed=0)
    batch = fl.make_batch("copy", 1, 2, 400, 0)
    states, pre = fl.run_rnn(params, batch.inputs, return_preactivations=True)
    delta_last = lesson.last_step_error(params, states, batch.targets)
    logs = lesson.backprop_log_norms(params, pre, delta_last)
    assert np.all(np.isfinite(logs)) and logs[0] / np.log(10) < -400
    norms, zero = lesson.backprop_float64(params, pre, delta_last)
    assert zero[0] and not zero[-1] and norms[0] == 0.0


def test_rate_vs_exponent_uses_the_given_functions():
    calls = []

    def counting(params, pre, delta_last):
        calls.append(1)
        return backprop_norms(params, pre, delta_last)

    r = lesson.rate_vs_exponent(counting, growth_rate, gains=(0.7, 2.4), n_units=16, seq_len=120,
                                seeds=(0, 1))
    assert len(calls) == 4 and r.rates.shape == (2, 2)
    # lambda_1 independently: the reference on the same trajectory
    params, bits, _ = lesson.driven_trajectory(16, 2.4, 120, 1)
    assert r.exponents[1, 1] == pytest.approx(fl.lyapunov_spectrum(params, bits, n_exponents=1,
                                                                   seed=1)[0], abs=1e-12)
    assert np.all(np.abs(r.rates - r.exponents) < 0.1)
    assert np.all(np.sign(r.rates) == np.sign(r.exponents))
    with pytest.raises(fl.FlosslabError, match="underflows"):      # norms that reach 0: a message
        lesson.rate_vs_exponent(lambda p, a, d: np.zeros(len(a)), growth_rate, gains=(1.0,),
                                n_units=8, seq_len=40, seeds=(0,))


def test_growth_rate_dashboard():
    dash = lesson.growth_rate_dashboard(backprop_norms, growth_rate, gain=1.0, seq_len=100,
                                        skip=10)
    params, _, pre = lesson.driven_trajectory(64, 1.0, 100, 3)
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
    assert lesson.first_crossing(gains, [-0.5, -0.21, 0.19, 0.3]) == pytest.approx(1.25)
    assert np.isnan(lesson.first_crossing(gains, [-0.5, -0.4, -0.3, -0.2]))
    assert lesson.first_crossing(gains, [0.1, 0.2, 0.3, 0.4]) == 0.5
    # the first crossing counts, not a later one
    assert lesson.first_crossing(gains, [-0.5, 0.0, -0.5, 0.5]) == pytest.approx(
        0.5 + 0.49 / 0.5 * 0.5)


def test_driven_vs_autonomous_matches_the_reference():
    gains = (0.6, 1.0, 2.2)
    r = lesson.driven_vs_autonomous(1.5, 0.3, 12, gains, (0, 1), 150)
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
            slope = fl.tanh_slope(pre[25:]).mean()      # after the transient, 10 + T // 10 steps
            assert r.slope[i, j] == pytest.approx(slope, abs=1e-10)
    auto = lesson.driven_vs_autonomous(0.0, 0.0, 12, gains, (0, 1), 150)
    spectrum = lesson02_lyapunov.autonomous_spectrum(0.6, 12, 1, 1, 150, 1).exponents[0]
    assert auto.lam1[0, 1] == pytest.approx(spectrum, abs=1e-8)      # input 0, bias 0: autonomous


def test_driven_dashboard_plots_medians_and_says_where_lambda_1_reaches_0():
    dash = lesson.driven_dashboard(n_units=16)
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
    driven = lesson.driven_vs_autonomous(1.0, 0.1, 64)
    auto = lesson.driven_vs_autonomous(0.0, 0.0, 64)
    assert np.all(driven.crossing > auto.crossing)
    assert 1.5 < np.median(driven.crossing) < 2.0 and 0.9 < np.median(auto.crossing) < 1.2


def test_random_products_grow_at_the_known_rate():
    fitted = [growth_rate(lesson.random_product_norms(2.0, 16, 400, s), 10) for s in range(3)]
    assert np.median(fitted) == pytest.approx(lesson.gaussian_product_rate(2.0, 16), abs=0.03)


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
    (lesson.check_one_step_jacobian, lambda p, a: p["W"] * (1 - np.tanh(a) ** 2)[None, :],
     "ROWS"),
    (lesson.check_one_step_jacobian, lambda p, a: one_step_jacobian(p, np.tanh(a)),
     "not at h"),
    (lesson.check_one_step_jacobian, lambda p, a: (1 - a ** 2)[:, None] * p["W"], "1 - a^2"),
    (lesson.check_one_step_jacobian, lambda p, a: one_step_jacobian(p, a).T, "transposed"),
    (lesson.check_one_step_jacobian, lambda p, a: np.tanh(a)[:, None] * p["W"], "SLOPE"),
    (lesson.check_backprop_norms, _off_by_one_backprop, "off by one"),
    (lesson.check_backprop_norms, lambda p, a, d: backprop_norms(p, a, d)[::-1], "reversed"),
    (lesson.check_growth_rate, lambda n, s: -growth_rate(n, s), "sign"),
    (lesson.check_growth_rate, lambda n, s: growth_rate(n, s) / np.log(10), "natural log"),
    (lesson.check_growth_rate, lambda n, s: growth_rate(n, 0), "leave out"),
    (lesson.check_growth_rate, lambda n, s: growth_rate(n, s + 1), "off by one"),
    (lesson.check_growth_rate,
     lambda n, s: np.polyfit(np.arange(len(n))[s:], np.log(n[s:]), 1)[0], "END of the array"),
    (lesson.check_growth_rate, _two_point_rate, "not only the two ends"),
    (lesson.check_growth_rate, lambda n, s: float("nan"), "NaN"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG_01,
                         ids=[f"{w[0].__name__}-{i}" for i, w in enumerate(WRONG_01)])
def test_01_wrong_answers_fail_with_a_hint(checker, wrong, hint, capsys):
    assert not checker(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out and out.count("\n") == 1


@pytest.mark.parametrize("checker, answer", [
    (lesson.check_one_step_jacobian, one_step_jacobian),
    (lesson.check_one_step_jacobian, _loop_jacobian),
    (lesson.check_one_step_jacobian, lambda p, a: one_step_jacobian(p, a).astype(np.float32)),
    (lesson.check_one_step_jacobian, lambda p, a: fl.jacobian(p, a).tolist()),
    (lesson.check_backprop_norms, backprop_norms),
    (lesson.check_backprop_norms,
     lambda p, a, d: backprop_norms(p, a, d).astype(np.float32)),
    (lesson.check_growth_rate, growth_rate),
    (lesson.check_growth_rate, lambda n, s: np.float32(growth_rate(n, s))),
])
def test_01_right_answers_pass(checker, answer, capsys):
    assert checker(answer)


@pytest.mark.parametrize("make, settings", [
    (lambda: lesson.gradient_norm_dashboard(), {}),
    (lambda: lesson.gradient_norm_dashboard(), {"gains": (2.0, 4.0)}),      # curves end low right
    (lambda: lesson.driven_dashboard(), {}),
    (lambda: lesson.driven_dashboard(), {"input_scale": 2.0}),
    (lambda: lesson.growth_rate_dashboard(backprop_norms, growth_rate, seq_len=100), {"gain": 3.0}),
])
def test_01_legends_cover_no_data(make, settings):
    from course_helpers import data_under_legends
    dash = make().set(**settings)
    assert dash.message is None and data_under_legends(dash.fig) == []


def test_01_slider_names_follow_the_notation_sheet():
    """x is an input bit (notebook 00's sheet): the input weights' slider is named by what it is."""
    dash = lesson.driven_dashboard()
    assert dash.controls["input_scale"].description == "input weight scale"
    assert all(" x" not in c.description for c in dash.controls.values())
    dash.set(input_scale=2.0)
    assert dash.artists["lam"][0].get_label().startswith("U × 2.00")
