"""Statements in the notebooks' prose about numbers a computation produces, recomputed here so that
the text fails the tests when the numbers drift (the prose itself types no digits of them).

Each test names the notebook and cell whose sentence it pins."""
import numpy as np
import pytest

from flosslab.course import lesson03_qr_gradient as lesson03
from flosslab.course import lesson04_flossing as lesson04


def test_03_cell_12_best_epsilon_and_error_of_the_central_differences():
    """'For every shape printed above the best epsilon lies between 1e-6 and 1e-5, and the best
    relative error is between 1e-11 and 1e-9'."""
    rows = list(lesson03.fd_best_over_shapes())
    assert len(rows) == 6
    for m, n, err, eps in rows:
        assert 1e-6 <= eps <= 1e-5, (m, n, eps)
        assert 1e-11 <= err <= 1e-9, (m, n, err)


def test_03_cell_38_both_gradients_pay_one_factor_of_kappa_not_two():
    """'both curves follow the 1e-16/sigma_min line ... their printed largest errors differ by up
    to a factor of about ten'."""
    dash = lesson03.conditioning_dashboard(closed_form=lesson03.stable_logdet_gradient,
                                           closed_label="QR-T")
    curve = dash.data[0]
    sigma = np.asarray(curve.sigma_min)
    for err in (np.asarray(curve.err_closed), np.asarray(curve.err_vjp)):
        # one factor of kappa (u / sigma_min), with room for constants; two would reach 1e8 x more
        assert np.all(err <= 1e-13 / sigma + 1e-13)
    ratio = np.nanmax(curve.err_closed) / np.max(curve.err_vjp)
    assert 1 / 30 <= ratio <= 30


# --- notebooks 01, 02, 04: statements written for full mode --------------------------------------


@pytest.fixture
def full_mode(monkeypatch):
    """The sizes of full mode (the prose describes it), whatever FLOSSLAB_FAST says."""
    from flosslab.core import settings
    monkeypatch.setattr(settings, "FAST", False)


def test_01_demo_1_answers_vanishing_up_to_gains_above_1_and_the_underflow():
    """Answer 1: at the default range the signal vanishes at the three smallest gains, the largest
    of them well above 1, and grows at the two largest. Answer 2: at g = 0.1 (range 0.1-0.5) the
    norm reads 0 up to the cross and delta_t itself is 0 for the first few steps."""
    from flosslab.course import lesson01_gradients as lesson01
    d = lesson01.GRADIENT_DEFAULTS
    dash = lesson01.gradient_norm_dashboard()
    data = dash.data
    drops = [logs[0] - logs[-1] for logs in data.log10_norms]
    assert [x < 0 for x in drops] == [True, True, True, False, False] and data.gains[2] > 1.3
    low = dash.set(gains=(0.1, 0.5)).data
    assert low.norm_reads_zero[0] is not None and 1 <= low.vector_is_zero[0] <= 20
    assert d["seq_len"] == 300


def test_01_demo_2_answer_a_few_thousandths():
    from flosslab.course import lesson01_gradients as lesson01
    r = lesson01.rate_vs_exponent(lesson01.reference_backprop_norms,
                                  lesson01.reference_growth_rate)
    gap = np.abs(r.rates - r.exponents)
    assert 1e-3 <= np.median(gap) < 1e-2 and gap.max() < 0.05


def test_01_demo_3_crossings_and_lambda_1_at_g_1():
    """Answer 3: medians driven from about 1.7 to 2.0, autonomous from about 1.0 to 1.2 for every N
    on the slider; at N = 16 one autonomous seed reaches 0 only near g = 2.2. Recap and notebook 02:
    the driven network (N = 64) reaches 0 near g = 1.7. Think about it: lambda_1 about -0.3 at g = 1.
    Answers 1 and 2: a stronger input or a bias alone moves the crossing up."""
    from flosslab.course import lesson01_gradients as lesson01
    for n in (16, 32, 48, 64, 80):
        driven = lesson01.driven_vs_autonomous(1.0, 0.1, n)
        auto = lesson01.driven_vs_autonomous(0.0, 0.0, n)
        assert 1.6 <= np.median(driven.crossing) <= 2.05, n
        assert 0.95 <= np.median(auto.crossing) <= 1.25, n
    assert 2.1 <= np.max(lesson01.driven_vs_autonomous(0.0, 0.0, 16).crossing) <= 2.3
    driven = lesson01.driven_vs_autonomous(1.0, 0.1, 64)
    auto = np.median(lesson01.driven_vs_autonomous(0.0, 0.0, 64).crossing)
    assert 1.6 <= np.median(driven.crossing) <= 1.8
    assert -0.35 <= np.median(driven.lam1[np.isclose(driven.gains, 1.0)]) <= -0.25
    stronger = np.median(lesson01.driven_vs_autonomous(2.0, 0.1, 64).crossing)
    bias_only = np.median(lesson01.driven_vs_autonomous(0.0, 0.5, 64).crossing)
    assert stronger > np.median(driven.crossing) and auto < bias_only < np.median(driven.crossing)


def test_02_demo_1_reading_and_answer_3():
    """'from g = 1.75 on every seed is chaotic'; at 1.5 not every seed; T = 500 moves the medians
    by about 0.01 at most, near g = 1 and above, and not below g = 1."""
    from flosslab.course import lesson02_lyapunov as lesson02
    gains = np.asarray(lesson02.GAIN_GRID)
    lam1 = lesson02.spectrum_vs_gain_seeds(lesson02.GAIN_GRID, 50, 5, 300)[:, :, 0]
    assert np.all(lam1[gains >= 1.75] > 0) and np.any(lam1[gains == 1.5] <= 0.01)
    longer = lesson02.spectrum_vs_gain_seeds(lesson02.GAIN_GRID, 50, 5, 500)[:, :, 0]
    change = np.abs(np.median(longer, axis=1) - np.median(lam1, axis=1))
    assert np.all(change[gains < 1] < 2e-3) and 4e-3 < change[gains >= 1].max() < 0.02


def test_02_demo_2_answer_1_lambda_1_settles_first_the_others_about_twice_as_late():
    from flosslab.course import lesson02_lyapunov as lesson02
    r = lesson02.spectrum_dashboard().data
    settle = []
    for i in range(5):
        off = np.flatnonzero(np.abs(r.history.estimates[:, i] - r.exponents[i]) > 0.01)
        settle.append(r.history.steps[off[-1] + 1] if off.size else 1)
    first, others = settle[0], np.asarray(settle[1:])
    assert 0.25 <= first / r.history.steps[-1] <= 0.45          # about a third
    assert np.all(others > first) and 1.5 <= np.median(others) / first <= 2.5


def _largest_safe_interval(result, tol=1e-8):
    m_ok = 1
    for m, err in zip(result.intervals, result.errors):
        if err.max() > tol:
            break
        m_ok = int(m)
    return m_ok


def test_02_demo_3_answers_and_think_about_it():
    """Answer 1: m = 3 at g = 2, spread about 6 per step (m = 3 gives 18, m = 4 gives 24). Answer 2: at
    g = 1 about half the spread, m = 6. Answer 3: N = 10, spread about 4.6, m = 4. Think about it:
    g = 4, spread about 16 per step, the largest error at m = 40 above 10 per step."""
    from flosslab.course import lesson02_lyapunov as lesson02
    spread = lambda r: r.reference[0] - r.reference[-1]                       # noqa: E731
    g2 = lesson02.qr_interval_errors(2.0, 50)
    assert _largest_safe_interval(g2) == 3 and 5.9 <= spread(g2) < 6.1
    g1 = lesson02.qr_interval_errors(1.0, 50)
    assert _largest_safe_interval(g1) == 6 and 0.4 <= spread(g1) / spread(g2) <= 0.6
    small = lesson02.qr_interval_errors(2.0, 10)
    assert _largest_safe_interval(small) == 4 and 4.5 <= spread(small) < 4.7
    g4 = lesson02.qr_interval_errors(4.0, 50)
    assert 15 <= spread(g4) <= 17 and g4.errors[-1].max() > 10


def test_04_demo_1_and_2_statements(full_mode):
    """Demo 1 questions: at eta = 0.01 the loss jumps within about a decade after step 20; answer 3:
    the window exponents fluctuate by a few hundredths. Demo 2 text: converged, lambda_1..lambda_4
    within a few hundredths of 0, the spread shrinks several-fold, kappa(J_100) down by more than
    ten decades, the predictions within about a decade of the measurement, the error signal several
    orders of magnitude stronger. Think about it: lambda_5 rises, the last ones drop; in demo 1
    (k = 2) lambda_4 falls."""
    d = lesson04.flossing_defaults()
    r = lesson04.flossing_run(1.0, d["n_exponents"], 0.0, d["n_units"], d["n_steps"], d["lr"])
    late = r.losses[20:]
    assert np.percentile(late, 90) / np.percentile(late, 10) < 10
    jitter = np.asarray(r.window_exponents)[40:].std(axis=0)
    assert np.all((0.01 <= jitter) & (jitter < 0.06))
    k = r.n_exponents
    assert lesson04.diagnose_flossing(r).converged
    assert np.all(r.spectrum_before[:k] < -0.15) and np.all(np.abs(r.spectrum_after[:k]) < 0.1)
    spread = [s[0] - s[k - 1] for s in (r.spectrum_before, r.spectrum_after)]
    assert spread[0] > 3 * spread[1]
    assert r.cond_before[-1] - r.cond_after[-1] > 10
    for cond, s in zip((r.cond_before[-1], r.cond_after[-1]), spread):
        assert abs(cond - s * 100 / np.log(10)) < 1.5
    assert r.grad_after[0] / r.grad_before[0] > 1e4
    assert r.spectrum_after[k] > r.spectrum_before[k] and r.spectrum_after[-1] < r.spectrum_before[-1]
    loop = lesson04.floss_with(_reference_value_and_gradient, _reference_adam, n_units=d["loop_units"],
                               n_exponents=d["loop_k"], n_steps=d["loop_steps"], lr=d["loop_lr"])
    assert loop.spectrum_after[3] < loop.spectrum_before[3]


def _reference_value_and_gradient(params, inputs, k, target):
    from autograd import value_and_grad
    import flosslab as fl
    dynamic = {name: params[name] for name in ("W", "U", "b")}
    return value_and_grad(lambda d: fl.flossing_loss({**params, **d}, inputs, k, target))(dynamic)


def _reference_adam(theta, grad, mom1, mom2, tau, lr, b1=0.9, b2=0.999, eps=1e-8):
    mom1 = b1 * mom1 + (1 - b1) * grad
    mom2 = b2 * mom2 + (1 - b2) * grad ** 2
    return theta - lr * mom1 / (1 - b1 ** tau) / (np.sqrt(mom2 / (1 - b2 ** tau)) + eps), mom1, mom2


def test_04_demo_2_over_seeds(full_mode):
    """'the median log10 kappa(J_100) drops by about ten decades; one seed starts with a small
    spread and a small kappa and gains less'."""
    d = lesson04.flossing_defaults()
    seeds = lesson04.flossing_over_seeds(d["seeds"], 1.0, d["n_exponents"], d["n_units"],
                                         d["n_steps"], d["lr"])
    assert seeds.converged.all()
    drop = seeds.log10_cond[:, 0] - seeds.log10_cond[:, 1]
    assert 8 <= np.median(drop) <= 12
    small = int(np.argmin(seeds.spread[:, 0]))
    assert seeds.spread[small, 0] < 0.5 * np.median(seeds.spread[:, 0])
    assert small == int(np.argmin(seeds.log10_cond[:, 0])) and drop[small] == drop.min()


def test_04_demo_2_answers(full_mode):
    """1: k = 1 converges, less close than k = 4, its loss jumping over several decades. 2: k = 16
    'too few steps' at 80 and at 160 steps, closer at 160. 3: target +0.2 out of reach, the
    exponents just below 0. 4: g = 3 chaotic, does not converge, the spread does not shrink, kappa
    far above its value at g = 1 after flossing. Bonus (320 steps): still not converged, the sum of
    all exponents rises but stays negative. 5: N = 32, a small spread and a kappa of a few
    decades; all four exponents to 0, the spread hardly changed."""
    d = lesson04.flossing_defaults()
    run = lambda g, k, target, n, steps: lesson04.flossing_run(g, k, target, n, steps, d["lr"])  # noqa: E731
    default = run(1.0, 4, 0.0, 16, 80)
    k1 = run(1.0, 1, 0.0, 16, 80)
    assert lesson04.diagnose_flossing(k1).converged
    assert abs(k1.spectrum_after[0]) > abs(default.spectrum_after[0])
    assert k1.losses[40:].max() / k1.losses[40:].min() > 1e3
    all80, all160 = run(1.0, 16, 0.0, 16, 80), run(1.0, 16, 0.0, 16, 160)
    for r in (all80, all160):
        dg = lesson04.diagnose_flossing(r)
        assert not dg.converged and "too few steps" in dg.reasons[0]
    assert lesson04.diagnose_flossing(all160).distance_after < \
        lesson04.diagnose_flossing(all80).distance_after
    longest = run(1.0, 16, 0.0, 16, d["bonus_steps"])      # the bonus: still not all within tol
    assert not lesson04.diagnose_flossing(longest).converged
    assert longest.spectrum_before.sum() < longest.spectrum_after.sum() < 0
    up = run(1.0, 4, 0.2, 16, 80)
    dg = lesson04.diagnose_flossing(up)
    assert not dg.converged and "out of reach" in dg.reasons[-1]
    assert np.all((up.spectrum_after[:4] < 0) & (up.spectrum_after[:4] > -0.1))
    chaotic = run(3.0, 4, 0.0, 16, 80)
    dg = lesson04.diagnose_flossing(chaotic)
    assert chaotic.spectrum_before[0] > 0 and not dg.converged and "chaotic" in dg.reasons[0]
    spread = [s[0] - s[3] for s in (chaotic.spectrum_before, chaotic.spectrum_after)]
    assert spread[1] > 0.8 * spread[0]
    assert chaotic.cond_after[-1] > 0.5 * chaotic.cond_before[-1] > 2 * default.cond_after[-1]
    larger = run(1.0, 4, 0.0, 32, 80)
    assert lesson04.diagnose_flossing(larger).converged
    spread = [s[0] - s[3] for s in (larger.spectrum_before, larger.spectrum_after)]
    assert spread[0] < 0.15 and larger.cond_before[-1] < 6 and spread[1] > 0.5 * spread[0]


def test_04_demo_3_text_and_answer_2():
    """'close to three hundred orders of magnitude ... still rises by a few decades per 100 steps;
    the live network drops by a few tens of decades'. Answer 2: the shipped spread more than 2 per
    step before, below 0.1 after; the live one (k = 4 of 16) several times smaller before."""
    shipped = lesson04.shipped_condition_numbers()
    t, before, after = (np.asarray(shipped[key], dtype=float) for key in ("times", "before", "after"))
    assert 250 <= before[-1] - after[-1] < 300 and t[-1] == 300
    slope = np.polyfit(t[t >= 100], after[t >= 100], 1)[0] * 100
    assert 1.5 <= slope <= 4
    times, b, a = lesson04.condition_collapse_dashboard().data
    assert 20 <= b[-1] - a[-1] <= 60
    implied = lambda x: x * np.log(10) / 300                                  # noqa: E731
    assert implied(before[-1]) > 2 and implied(after[-1]) < 0.1
    assert implied(before[-1]) > 3 * implied(b[-1])


@pytest.mark.parametrize("lr, reason", [(0.001, "too few steps"), (0.1, "the loss rose")])
def test_04_cell_19_answers_read_what_the_status_line_says(lr, reason):
    """Answer 1: at eta = 0.001 the status line says 'too few steps'. Answer 2: at eta = 0.1 'the
    loss rose', the spread lambda_1 - lambda_4 grows several-fold to more than 1 per step, and
    log10 kappa(J_100) rises from about 16 to over 100."""
    r = lesson04.flossing_run(1.0, 4, 0.0, 16, 80, lr)
    note = lesson04._flossing_note(r)
    assert reason in note
    if lr == 0.1:
        before = r.spectrum_before[0] - r.spectrum_before[3]          # lambda_1 - lambda_4
        after = r.spectrum_after[0] - r.spectrum_after[3]
        assert after > 1.0 and after > 3 * before
        assert r.cond_times[-1] == 100
        assert 15 <= r.cond_before[-1] <= 17 and r.cond_after[-1] > 100
