"""Notebooks 03, 04 and 07: their demos, dashboards and exercise checkers against independent
computations (the numpy reference where the course uses the torch engine, exact SVDs, finite
differences, closed forms), the flossing diagnosis on constructed evidence, and the checkers on
typical mistakes and on legitimate variants. Small sizes: the file runs in well under a minute."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.course import dashboards, demos, exercises
from flosslab import engine

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As in the notebooks (setup_notebook): one thread; these small matrices run slower on two."""
    from flosslab.core.settings import threads
    with threads(1):
        yield


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


# --- 03 ---------------------------------------------------------------------------------------------

def _qr_pair(a):
    """numpy's Householder QR (continuous in A near a full-rank A: no sign fixing needed)."""
    return np.linalg.qr(a)


def test_the_registered_qr_vjp_matches_central_differences_along_random_directions():
    """The rule every checker and demo of 03 compares with, checked against finite differences of
    <Qb, Q(A)> + <Rb, R(A)> (square and tall A; an independent computation)."""
    rng = np.random.default_rng(0)
    for m, n in ((4, 4), (7, 3), (5, 1)):
        a = rng.standard_normal((m, n))
        q, r = _qr_pair(a)
        qb, rb = rng.standard_normal((m, n)), np.triu(rng.standard_normal((n, n)))
        ab = exercises.reference_qr_vjp(q, r, qb, rb)
        for _ in range(3):
            e = rng.standard_normal((m, n))
            f = lambda x: np.sum(qb * _qr_pair(x)[0]) + np.sum(rb * _qr_pair(x)[1])  # noqa: E731
            fd = (f(a + 1e-6 * e) - f(a - 1e-6 * e)) / 2e-6
            assert np.sum(ab * e) == pytest.approx(fd, rel=1e-7, abs=1e-8)


def test_qr_vjp_check_with_a_given_rule_equals_autograd():
    auto = demos.qr_vjp_check(5, 3)
    given = demos.qr_vjp_check(5, 3, vjp=exercises.reference_qr_vjp)
    np.testing.assert_allclose(given.vjp, auto.vjp, atol=1e-12)
    err, eps = given.best
    assert err < 1e-9 and 1e-7 <= eps <= 1e-4
    assert given.errors[0] > 1e-6 and given.errors[-1] > 1e-4      # round-off, truncation


def test_qr_gradient_dashboard_uses_the_given_rule_and_reports_the_best_step():
    dash = dashboards.qr_gradient_dashboard(n_rows=5, n_cols=3, vjp=exercises.reference_qr_vjp)
    check = demos.qr_vjp_check(5, 3, vjp=exercises.reference_qr_vjp)
    np.testing.assert_allclose(np.asarray(dash.artists["scatter"].get_xdata()), check.vjp.ravel())
    err, eps = check.best
    assert ydata(dash.artists["best"])[0] == err and f"{err:.1e}" in dash.note_text
    dash.controls["n_cols"].value = 9
    assert "choose n <= m" in dash.message


def test_logdet_gradient_vs_conditioning_against_the_exact_gradient():
    c = demos.logdet_gradient_vs_conditioning(6, 4)
    u = np.finfo(float).eps
    # ||U S^-1 V^T||_F = sqrt(sum 1/s_i^2): between 1/sigma_min and sqrt(n)/sigma_min (up to the
    # VJP's own error, u / sigma_min)
    assert np.all(c.norm_vjp * c.sigma_min >= 1 - 100 * u / c.sigma_min)
    assert np.all(c.norm_vjp * c.sigma_min <= 2 + 100 * u / c.sigma_min)
    assert np.all(c.err_vjp <= 50 * u / c.sigma_min)              # one factor of kappa
    ok = np.isfinite(c.err_closed)
    assert not ok.all() and c.failed                              # A^T A singular for small sigma
    assert "Singular" in c.failed[0][1]
    worse = c.sigma_min[ok] < 1e-3
    assert np.all(c.err_closed[ok][worse] > 10 * c.err_vjp[ok][worse])   # two factors of kappa
    stable = demos.logdet_gradient_vs_conditioning(6, 4, closed_form=demos.stable_logdet_gradient)
    assert not stable.failed and np.all(stable.err_closed <= 50 * u / stable.sigma_min)


def test_a_closed_form_that_raises_is_recorded_not_raised():
    def broken(a):
        raise np.linalg.LinAlgError("Singular matrix")
    c = demos.logdet_gradient_vs_conditioning(3, 2, (-2.0, 0.0), closed_form=broken)
    assert np.isnan(c.err_closed).all() and len(c.failed) == 2


def test_conditioning_dashboard():
    dash = dashboards.conditioning_dashboard(n_rows=4, n_cols=3, log10_sigma_min=-4)
    curve = dash.data[0]
    marker = ydata(dash.artists["norm_marker"])[0]
    i = int(np.argmin(abs(np.log10(curve.sigma_min) + 4)))
    assert marker == curve.norm_vjp[i] and "1.0e-04" in dash.note_text
    dash.controls["log10_sigma_min"].value = -11.0
    assert "failed" in dash.note_text


def test_linear_network_gradient_is_w_inverse_transpose_for_k_equal_n():
    r = demos.linear_network_gradient(5, 5, 30)
    assert r.value == pytest.approx(np.linalg.slogdet(r.w)[1], abs=1e-12)
    np.testing.assert_allclose(r.autograd, np.linalg.inv(r.w).T, atol=1e-12)
    np.testing.assert_allclose(r.running, r.log_det, atol=1e-12)     # at every step
    small = demos.linear_network_gradient(5, 2, 30)
    assert small.closed is None
    np.testing.assert_allclose(small.directions_autograd, small.directions_fd, atol=1e-7)
    assert abs(small.running[-1] - small.value) < 1e-12


def test_linear_network_dashboard():
    dash = dashboards.linear_network_dashboard(n_units=4, n_exponents=4, n_steps=20)
    r = dash.data
    np.testing.assert_allclose(ydata(dash.artists["closed"]), np.linalg.inv(r.w).T.ravel(),
                               atol=1e-12)
    assert "log|det W|" in dash.note_text
    dash.controls["n_exponents"].value = 2
    assert not dash.artists["closed"].get_visible()
    dash.controls["n_exponents"].value = 9
    assert "choose k <= N" in dash.message


def _copyutl(m):
    return np.triu(m) + np.triu(m, 1).T


def _vjp_inverse_not_transpose(q, r, qb, rb):
    m = r @ rb.T - qb.T @ q
    return (qb + q @ exercises.reference_copyltu(m)) @ np.linalg.inv(r)


def _vjp_sign_of_m(q, r, qb, rb):
    m = qb.T @ q - r @ rb.T
    return np.linalg.solve(r, (qb + q @ exercises.reference_copyltu(m)).T).T


def _vjp_upper_copy(q, r, qb, rb):
    m = r @ rb.T - qb.T @ q
    return np.linalg.solve(r, (qb + q @ _copyutl(m)).T).T


@pytest.mark.parametrize("checker, wrong, hint", [
    (exercises.check_copyltu, _copyutl, "UPPER"),
    (exercises.check_copyltu, lambda m: np.tril(m) + np.tril(m).T, "twice"),
    (exercises.check_copyltu, np.tril, "AND copy"),
    (exercises.check_copyltu, lambda m: None, "return statement"),
    (exercises.check_qr_vjp, _vjp_inverse_not_transpose, "R^{-T}"),
    (exercises.check_qr_vjp, _vjp_sign_of_m, "opposite signs"),
    (exercises.check_qr_vjp, _vjp_upper_copy, "LOWER"),
    (exercises.check_qr_vjp, lambda q, r, qb, rb: np.full_like(qb, np.nan), "NaN"),
], ids=lambda v: getattr(v, "__name__", None) or str(v)[:12])
def test_checkers_of_03_catch_typical_mistakes(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out


def _copyltu_loops(m):
    out = np.array(m, dtype=float)
    for i in range(out.shape[0]):
        for j in range(i + 1, out.shape[0]):
            out[i, j] = out[j, i]
    return out


@pytest.mark.parametrize("checker, answer", [
    (exercises.check_copyltu, _copyltu_loops),
    (exercises.check_copyltu, lambda m: exercises.reference_copyltu(m).astype(np.float32)),
    (exercises.check_qr_vjp, lambda q, r, qb, rb:
        exercises.reference_qr_vjp(q, r, qb, rb).astype(np.float32)),
    (exercises.check_qr_vjp, lambda q, r, qb, rb:      # with an explicit inverse: also right
        (qb + q @ exercises.reference_copyltu(r @ rb.T - qb.T @ q)) @ np.linalg.inv(r).T),
])
def test_checkers_of_03_accept_legitimate_variants(checker, answer):
    assert checker(answer) is True


# --- 04 ---------------------------------------------------------------------------------------------

def test_continued_flossing_equals_one_run_of_that_length():
    """Asking for 6 then 10 steps continues the 6-step run (Adam state included): the result is the
    engine's 10-step run (which takes its batched path: round-off apart) and the reference's
    (numpy/autograd, QR every step) to round-off."""
    from flosslab import engine
    demos.floss_continued(1.0, 3, 0.0, 9, 6, 0.01, seed=2)
    params, hist = demos.floss_continued(1.0, 3, 0.0, 9, 10, 0.01, seed=2)
    want, want_hist = engine.floss(engine.init_rnn(9, 1.0, seed=2), 10, 3, 0.0, 0.01, seed=2,
                                   reorth_every="auto")
    np.testing.assert_allclose(hist.losses, want_hist.losses, rtol=1e-9)
    np.testing.assert_allclose(params["W"], want["W"].numpy(), atol=1e-11)
    ref, ref_hist = fl.floss(fl.init_rnn(9, 1.0, seed=2), 10, 3, 0.0, 0.01, seed=2)
    np.testing.assert_allclose(hist.losses, ref_hist.losses, rtol=1e-8)
    np.testing.assert_allclose(params["W"], ref["W"], atol=1e-9)


def test_flossing_dashboard_plots_the_reference_numbers():
    dash = dashboards.flossing_dashboard(n_exponents=3, n_units=10, n_steps=12)
    r = dash.data
    bits = fl.random_bits(demos.SPECTRUM_STEPS, 1, [0, 3])
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
    dash = dashboards.flossing_dashboard(n_exponents=1, n_units=16, n_steps=16)
    assert ydata(dash.artists["cond_before"]).size == 0          # no flat line at 0
    assert "k" in dash.artists["cond_text"].get_text() and "2" in dash.artists["cond_text"].get_text()
    assert "needs k ≥ 2" in dash.note_text
    dash.controls["n_exponents"].value = 4                        # back: the panel is drawn again
    assert ydata(dash.artists["cond_before"]).size == len(dash.data.cond_times)
    assert dash.artists["cond_text"].get_text() == ""
    dash.controls["gain"].value = 3.0                             # chaotic: lambda_1 > 0
    assert dash.data.spectrum_before[0] > 0
    assert "did not converge" in dash.note_text and "chaotic" in dash.note_text


def _result(spectrum_before, spectrum_after, losses, k=2, target=0.0, distance_half=1.0):
    n = len(spectrum_before)
    return demos.FlossingResult(1.0, k, target, n, len(losses), 0.01, 0, {}, {},
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
    d = demos.diagnose_flossing(_result(before, after, losses, distance_half=half), tol=0.1)
    assert d.converged is (reason is None)
    assert d.distance_after == pytest.approx(np.sqrt(np.mean(np.asarray(after[:2]) ** 2)))
    if reason is None:
        assert d.message.startswith("converged") and d.reasons == ()
    else:
        assert d.message.startswith("did not converge") and reason in d.message


def test_the_diagnosis_uses_the_given_still_falling_test():
    r = _result([-0.3, -0.5], [-0.2, -0.3], FLAT * 6, distance_half=0.26)
    assert "still falling" in demos.diagnose_flossing(r, still_falling=lambda losses: True).message
    assert "still falling" not in demos.diagnose_flossing(r).message


def test_loss_still_falling():
    for what, losses, want in exercises._loss_curves():
        assert demos.loss_still_falling(losses) is want, what
    assert demos.loss_still_falling([1.0, 0.5]) is True                  # too short to tell


def test_condition_collapse_matches_the_reference():
    times, before, after = demos.condition_collapse(1.0, 3, 10, 8, 0.01, window=60, seed=1)
    params_after, _ = demos.floss_continued(1.0, 3, 0.0, 10, 8, 0.01, 1)
    bits = fl.random_bits(100, 1, [1, 5])
    for params, got in ((fl.init_rnn(10, 1.0, seed=1), before), (params_after, after)):
        # the torch engine's curve: a second implementation of the same subspace iteration
        _, want = engine.condition_number_curve(engine.to_torch(params), bits, n_values=3,
                                                times=times, transient=40, n_passes=2, seed=1)
        np.testing.assert_allclose(got, want, atol=1e-8)
    with pytest.raises(fl.FlosslabError, match="k >= 2"):
        demos.condition_collapse(1.0, 1, 10, 8)


def test_shipped_condition_numbers_are_the_papers_setting():
    s = demos.shipped_condition_numbers()
    assert (s["n"], s["k"]) == (80, 75) and s["times"][-1] == 300
    assert s["before"][-1] > 250 and s["after"][-1] < 15 and s["times"].shape == s["after"].shape


def test_collapse_dashboard_follows_seed_and_k():
    dash = dashboards.condition_collapse_dashboard(n_units=8, n_exponents=2, n_steps=4)
    shipped = demos.shipped_condition_numbers()
    np.testing.assert_allclose(ydata(dash.artists["shipped_after"]), shipped["after"])
    dash.controls["seed"].value = 3
    _, before, after = demos.condition_collapse(1.0, 2, 8, 4, 0.01, 300, 3)
    np.testing.assert_allclose(ydata(dash.artists["live_before"]), before)
    np.testing.assert_allclose(ydata(dash.artists["live_after"]), after)
    assert "seed 3" in dash.artists["axes"][1].get_title()


def test_learning_rate_dashboard():
    dash = dashboards.learning_rate_dashboard(n_units=8, n_exponents=2, n_steps=16)
    dash.controls["log10_lr"].value = -1.5
    assert dash.data.lr == pytest.approx(10 ** -1.5, rel=1e-5)
    np.testing.assert_allclose(ydata(dash.artists["loss"]), dash.data.losses)
    assert "from the target" in dash.note_text


def test_your_loop_equals_the_torch_loop():
    loop = demos.floss_with(exercises.reference_value_and_gradient, exercises.reference_adam_step,
                            n_units=6, n_exponents=2, n_steps=4, lr=0.02)
    want = demos.engine_loop_losses(n_units=6, n_exponents=2, n_steps=4, lr=0.02)
    np.testing.assert_allclose(loop.losses, want, rtol=1e-10)
    assert loop.spectrum_before.size == 4


# --- 04: the checkers -------------------------------------------------------------------------------

def _value_and_grad_with_readout(params, inputs, k, target):
    from autograd import value_and_grad
    return value_and_grad(lambda p: fl.flossing_loss(p, inputs, k, target))(dict(params))


def _value_and_grad_sign(params, inputs, k, target):
    loss, grads = exercises.reference_value_and_gradient(params, inputs, k, target)
    return loss, {name: -g for name, g in grads.items()}


def _adam_no_bias_correction(x, g, m, v, t, lr):
    m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
    return x - lr * m / (np.sqrt(v) + 1e-8), m, v


def _adam_uphill(x, g, m, v, t, lr):
    x_new, m, v = exercises.reference_adam_step(x, g, m, v, t, lr)
    return 2 * x - x_new, m, v


def _adam_t_from_zero(x, g, m, v, t, lr):
    return exercises.reference_adam_step(x, g, m, v, t - 1 if t > 1 else t, lr)


def _falling_last_vs_first(losses):
    return bool(losses[-1] < losses[0])


def _falling_last_two(losses):
    return bool(losses[-1] < losses[-2])


@pytest.mark.parametrize("checker, wrong, hint", [
    (exercises.check_flossing_gradient, _value_and_grad_with_readout, "only W, U"),
    (exercises.check_flossing_gradient, _value_and_grad_sign, "wrong sign"),
    (exercises.check_flossing_gradient, lambda p, i, k, t: 0.0, "pair"),
    (exercises.check_adam_step, _adam_no_bias_correction, "bias"),
    (exercises.check_adam_step, _adam_uphill, "uphill"),
    (exercises.check_adam_step, _adam_t_from_zero, "t = 1"),
    (exercises.check_still_falling, _falling_last_vs_first, "wrong on"),
    (exercises.check_still_falling, _falling_last_two, "wrong on"),
    (exercises.check_still_falling, lambda losses: "yes", "True or False"),
], ids=lambda v: getattr(v, "__name__", None) or str(v)[:12])
def test_checkers_of_04_catch_typical_mistakes(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out


def _adam_float32(x, g, m, v, t, lr):
    return tuple(np.asarray(a, dtype=np.float32)
                 for a in exercises.reference_adam_step(x, g, m, v, t, lr))


def _falling_by_means(losses):
    n = len(losses)
    return bool(np.mean(losses[3 * n // 4:]) < 0.8 * np.mean(losses[n // 2:3 * n // 4]))


def _falling_by_fit(losses):
    n = len(losses)
    tail = np.log(np.asarray(losses[n // 2:]))
    slope = np.polyfit(np.arange(tail.size), tail, 1)[0]
    return bool(slope * tail.size < -np.log(1.5))


@pytest.mark.parametrize("checker, answer", [
    (exercises.check_adam_step, _adam_float32),
    (exercises.check_still_falling, _falling_by_means),
    (exercises.check_still_falling, _falling_by_fit),
])
def test_checkers_of_04_accept_legitimate_variants(checker, answer):
    assert checker(answer) is True


# --- 07 ---------------------------------------------------------------------------------------------

def test_engine_equals_the_reference_on_the_same_trajectory_and_chaos_separates_them():
    calm, chaotic = demos.engine_vs_reference(0.5, 12, 4, 200), demos.engine_vs_reference(3.0, 32, 4,
                                                                                           400)
    for a in (calm, chaotic):
        np.testing.assert_allclose(a.same_engine, a.same_reference, atol=1e-13)
    assert calm.divergence.max() < 1e-14
    np.testing.assert_allclose(calm.separate_engine, calm.separate_reference, atol=1e-13)
    assert chaotic.separate_reference[0] > 0 and chaotic.divergence[-1] > 1e-2
    assert chaotic.divergence[10] < 1e-12                       # it starts at round-off


def test_agreement_dashboard():
    torch_mod = pytest.importorskip("torch")
    dash = dashboards.agreement_dashboard(gain=1.0, n_steps=100)
    assert dash.controls["device"].disabled is (not torch_mod.cuda.is_available())
    a = dash.data
    np.testing.assert_allclose(ydata(dash.artists["same_eng"]), a.same_engine)
    dash.controls["gain"].value = 3.0
    assert dash.data.gain == 3.0 and "lambda_1 = +" in dash.note_text


def test_ensemble_timing_spectra_are_the_references_lone_runs():
    r = demos.ensemble_timing((0.5, 1.5, 2.5), 10, 3, 120)
    for g, lam in zip(r.gains, r.spectra):
        want = fl.lyapunov_spectrum(fl.init_rnn(10, g, seed=0), fl.random_bits(120, 1, 0),
                                    n_exponents=3, seed=0)
        np.testing.assert_allclose(lam, want, atol=1e-10)
    assert r.largest_difference < 1e-12 and r.batched_seconds > 0 and r.separate_seconds > 0


def test_ensemble_dashboard():
    dash = dashboards.ensemble_dashboard(n_units=8, size=3, gains=(0.5, 1.5))
    assert ydata(dash.artists["lines"][0]).size == 3
    dash.controls["size"].value = 5
    assert ydata(dash.artists["lines"][0]).size == 5 and "5 separate calls" in dash.note_text


def test_ensemble_flossing_with_the_students_functions():
    """Step 0's losses are each member's flossing loss by the engine, computed alone with the same
    bits, frame and start; 6 steps lower every member's loss."""
    from flosslab import engine
    r = demos.ensemble_floss_with(lambda f: torch.log(torch.abs(torch.diagonal(
        torch.linalg.qr(f).R, dim1=-2, dim2=-1))), exercises.reference_ensemble_flossing_loss,
        gains=(0.5, 1.5), n_units=6, n_exponents=2, n_steps=12, lr=0.03)
    for m, g in enumerate((0.5, 1.5)):
        params = engine.init_rnn(6, g, seed=0)
        want = engine.flossing_loss(params, fl.random_bits(55, 1, [0, 0, m]), 2, 0.0, 16, seed=m)
        assert r.losses[0, m] == pytest.approx(float(want), rel=1e-10)
    assert np.all(r.losses[-3:].mean(0) < r.losses[:3].mean(0))


def test_cell_spectrum_with_a_jacobian_function():
    jac = lambda step, z, x: torch.func.jacrev(step)(z, x)            # noqa: E731
    mine, ref = demos.cell_spectrum_with(jac, "LSTM", 3, 1.0, 60)
    assert mine.size == 6
    np.testing.assert_allclose(mine, ref, atol=1e-10)
    # the tanh cell is the vanilla RNN: its spectrum from numpy Jacobians (independent of torch)
    mine, _ = demos.cell_spectrum_with(jac, "RNN (tanh)", 4, 1.5, 80)
    cell = demos.make_cell("RNN (tanh)", 4, 1.5)
    w = cell.weight_hh.detach().numpy()
    u = cell.weight_ih.detach().numpy()
    b = (cell.bias_ih + cell.bias_hh).detach().numpy()
    bits = fl.random_bits(80, 1, 0)
    h = fl.random_state(4, 0)
    jacs = []
    for x in bits:
        h = np.tanh(w @ h + u @ x + b)
        jacs.append((1 - h ** 2)[:, None] * w)
    want = fl.spectrum_from_jacobians(np.asarray(jacs), 4, transient=fl.default_transient(80),
                                      seed=0)
    np.testing.assert_allclose(mine, np.sort(want)[::-1], atol=1e-10)


def test_cell_dashboard():
    jac = lambda step, z, x: torch.func.jacrev(step)(z, x)            # noqa: E731
    dash = dashboards.cell_dashboard(jac, "GRU", 3)
    assert ydata(dash.artists["mine"]).size == 3
    dash.controls["name"].value = "LSTM"
    assert ydata(dash.artists["mine"]).size == 6 and "6 exponents" in dash.artists["ax"].get_title()


def test_floss_cell_takes_adam_steps_on_the_flossing_loss():
    """engine.floss_cell (untested before): its first recorded loss is the cell's flossing loss on
    the bits of step 0, and one call of one step is one torch Adam step on that loss."""
    from flosslab import engine
    cell = demos.make_cell("GRU", 4, 1.0, seed=1)
    copy = demos.make_cell("GRU", 4, 1.0, seed=1)
    bits0 = fl.random_bits(55, 1, [0, 0])
    want_loss = engine.cell_flossing_loss(copy, bits0, 2, 0.0, seed=0)
    opt = torch.optim.Adam(copy.parameters(), lr=0.03)
    opt.zero_grad()
    want_loss.backward()
    opt.step()
    _, hist = engine.floss_cell(cell, 1, 2, 0.0, 0.03, seed=0)
    assert hist.losses[0] == pytest.approx(float(want_loss.detach()), rel=1e-12)
    for p, q in zip(cell.parameters(), copy.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-14)
    with pytest.raises(fl.FlosslabError, match="k <= N|choose k"):
        engine.floss_cell(demos.make_cell("GRU", 3), 1, 5)


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_floss_cell_moves_a_gated_cells_exponents_to_zero(name):
    r = demos.flossed_cell(name, 4, 2, 12, 0.05)
    assert np.all(np.abs(r.after) < 0.5 * np.abs(r.before))
    assert r.losses[-3:].mean() < 0.1 * r.losses[:3].mean()


def test_sweep_sizes_and_the_cost_model():
    assert list(demos.sweep_sizes("k", 128, 128)) == [4, 8, 16, 32, 64, 128]
    assert list(demos.sweep_sizes("k", 48, 48)) == [4, 8, 16, 32, 48]
    assert list(demos.sweep_sizes("N", 256, 32)) == [32, 64, 128, 256]
    assert list(demos.sweep_sizes("N", 256, 4)) == [16, 32, 64, 128, 256]
    with pytest.raises(fl.FlosslabError):
        demos.sweep_sizes("T", 32, 4)
    n = np.array([32, 64, 128, 128, 128])
    k = np.array([16, 16, 16, 64, 128])
    secs = 0.015 + 3e-10 * demos.cost_work(n, k)
    fit = demos.fit_cost_model(n, k, secs)
    assert fit.overhead == pytest.approx(0.015, rel=1e-6)
    assert fit.per_unit == pytest.approx(3e-10, rel=1e-6) and fit.worst_misfit < 1e-8
    np.testing.assert_allclose(demos.local_slopes([1, 2, 4], [1.0, 2.0, 8.0]), [1.0, 2.0])


def test_cost_dashboard(monkeypatch):
    """Times are faked (no timing in tests): the dashboard sweeps the right sizes, fits the model
    to every point measured and draws it."""
    monkeypatch.setattr(demos, "flossing_step_seconds",
                        lambda n, k, n_steps=55, device="cpu", repeats=2, seed=0:
                        0.01 + 1e-10 * float(demos.cost_work(n, k)))
    dash = dashboards.cost_dashboard(n_units=32, n_exponents=4, sweep="k")
    assert dash.controls["device"].disabled is (not torch.cuda.is_available())
    assert list(np.asarray(dash.artists["line"].get_xdata())) == [4, 8, 16, 32]
    assert dash.data[3].overhead == pytest.approx(0.01, rel=1e-6)
    dash.controls["sweep"].value = "N"
    assert list(np.asarray(dash.artists["line"].get_xdata())) == [16, 32, 64, 128, 256]
    assert dash.data[4] == 8                   # points kept: (32, 4) was in both sweeps
    assert "slope" in dash.note_text and "c0 = 10.0 ms" in dash.note_text


def _loss_summed_over_time(log_r, target):
    return ((log_r.sum(0) - target) ** 2).mean(-1)


def _loss_over_members(log_r, target):
    return ((log_r.mean(0) - target) ** 2).mean(0)


def _loss_squares_first(log_r, target):
    return ((log_r - target) ** 2).mean((0, 2))


@pytest.mark.parametrize("checker, wrong, hint", [
    (exercises.check_ensemble_flossing_loss, _loss_summed_over_time, "MEAN of log|R_ii|"),
    (exercises.check_ensemble_flossing_loss, _loss_over_members, "shape (E,)"),
    (exercises.check_ensemble_flossing_loss, _loss_squares_first, "FIRST"),
    (exercises.check_ensemble_flossing_loss, lambda l, t: exercises.reference_ensemble_flossing_loss(
        l.detach(), t), "torch autograd"),
    (exercises.check_ensemble_flossing_loss, lambda l, t: exercises.reference_ensemble_flossing_loss(
        l, t).detach().numpy(), "torch tensor"),
    (exercises.check_cell_jacobian, lambda s, z, x: torch.func.jacrev(s)(z, x).T, "transposed"),
    (exercises.check_cell_jacobian, lambda s, z, x: torch.func.jacrev(s, argnums=1)(z, x),
     "input x"),
], ids=lambda v: getattr(v, "__name__", None) or str(v)[:12])
def test_checkers_of_07_catch_typical_mistakes(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out


@pytest.mark.parametrize("checker, answer", [
    (exercises.check_ensemble_flossing_loss, lambda l, t: torch.stack(
        [((l[:, e].mean(0) - t) ** 2).mean() for e in range(l.shape[1])])),      # a loop
    (exercises.check_cell_jacobian, lambda s, z, x: torch.autograd.functional.jacobian(
        lambda zz: s(zz, x), z)),
    (exercises.check_cell_jacobian, lambda s, z, x: torch.func.jacrev(s)(z, x).float()),
])
def test_checkers_of_07_accept_legitimate_variants(checker, answer):
    assert checker(answer) is True
