"""Notebook 03 (differentiating through QR): the demos and dashboards against finite differences and
closed forms, and the checkers on typical mistakes and on legitimate variants."""
import numpy as np
import pytest
from course_helpers import rejects_with_hint

from flosslab.course import lesson03_qr_gradient as lesson

torch = pytest.importorskip("torch")


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


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
        ab = lesson.reference_qr_vjp(q, r, qb, rb)
        for _ in range(3):
            e = rng.standard_normal((m, n))
            f = lambda x: np.sum(qb * _qr_pair(x)[0]) + np.sum(rb * _qr_pair(x)[1])  # noqa: E731
            fd = (f(a + 1e-6 * e) - f(a - 1e-6 * e)) / 2e-6
            assert np.sum(ab * e) == pytest.approx(fd, rel=1e-7, abs=1e-8)


def test_qr_vjp_check_with_a_given_rule_equals_autograd():
    auto = lesson.qr_vjp_check(5, 3)
    given = lesson.qr_vjp_check(5, 3, vjp=lesson.reference_qr_vjp)
    np.testing.assert_allclose(given.vjp, auto.vjp, atol=1e-12)
    err, eps = given.best
    assert err < 1e-9 and 1e-7 <= eps <= 1e-4
    assert given.errors[0] > 1e-6 and given.errors[-1] > 1e-4      # round-off, truncation


def test_qr_gradient_dashboard_uses_the_given_rule_and_reports_the_best_step():
    dash = lesson.qr_gradient_dashboard(n_rows=5, n_cols=3, vjp=lesson.reference_qr_vjp)
    check = lesson.qr_vjp_check(5, 3, vjp=lesson.reference_qr_vjp)
    np.testing.assert_allclose(np.asarray(dash.artists["scatter"].get_xdata()), check.vjp.ravel())
    err, eps = check.best
    assert ydata(dash.artists["best"])[0] == err and f"{err:.1e}" in dash.note_text
    dash.controls["n_cols"].value = 9
    assert "choose n2 <= n1" in dash.message


def test_logdet_gradient_vs_conditioning_against_the_exact_gradient():
    c = lesson.logdet_gradient_vs_conditioning(6, 4)
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
    stable = lesson.logdet_gradient_vs_conditioning(6, 4, closed_form=lesson.stable_logdet_gradient)
    assert not stable.failed and np.all(stable.err_closed <= 50 * u / stable.sigma_min)


def test_a_closed_form_that_raises_is_recorded_not_raised():
    def broken(a):
        raise np.linalg.LinAlgError("Singular matrix")
    c = lesson.logdet_gradient_vs_conditioning(3, 2, (-2.0, 0.0), closed_form=broken)
    assert np.isnan(c.err_closed).all() and len(c.failed) == 2


def test_conditioning_dashboard():
    dash = lesson.conditioning_dashboard(n_rows=4, n_cols=3, log10_sigma_min=-4)
    curve = dash.data[0]
    marker = ydata(dash.artists["norm_marker"])[0]
    i = int(np.argmin(abs(np.log10(curve.sigma_min) + 4)))
    assert marker == curve.norm_vjp[i] and "1.0e-04" in dash.note_text
    dash.controls["log10_sigma_min"].value = -11.0
    assert "failed" in dash.note_text


def test_linear_network_gradient_is_w_inverse_transpose_for_k_equal_n():
    r = lesson.linear_network_gradient(5, 5, 30)
    assert r.value == pytest.approx(np.linalg.slogdet(r.w)[1], abs=1e-12)
    np.testing.assert_allclose(r.autograd, np.linalg.inv(r.w).T, atol=1e-12)
    np.testing.assert_allclose(r.running, r.log_det, atol=1e-12)     # at every step
    small = lesson.linear_network_gradient(5, 2, 30)
    assert small.closed is None
    np.testing.assert_allclose(small.directions_autograd, small.directions_fd, atol=1e-7)
    assert abs(small.running[-1] - small.value) < 1e-12


def test_linear_network_dashboard():
    dash = lesson.linear_network_dashboard(n_units=4, n_exponents=4, n_steps=20)
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
    return (qb + q @ lesson.reference_copyltu(m)) @ np.linalg.inv(r)


def _vjp_sign_of_m(q, r, qb, rb):
    m = qb.T @ q - r @ rb.T
    return np.linalg.solve(r, (qb + q @ lesson.reference_copyltu(m)).T).T


def _vjp_upper_copy(q, r, qb, rb):
    m = r @ rb.T - qb.T @ q
    return np.linalg.solve(r, (qb + q @ _copyutl(m)).T).T


@pytest.mark.parametrize("checker, wrong, hint", [
    (lesson.check_copyltu, _copyutl, "UPPER"),
    (lesson.check_copyltu, lambda m: np.tril(m) + np.tril(m).T, "twice"),
    (lesson.check_copyltu, np.tril, "AND copy"),
    (lesson.check_copyltu, lambda m: None, "return statement"),
    (lesson.check_qr_vjp, _vjp_inverse_not_transpose, "R^{-T}"),
    (lesson.check_qr_vjp, _vjp_sign_of_m, "opposite signs"),
    (lesson.check_qr_vjp, _vjp_upper_copy, "LOWER"),
    (lesson.check_qr_vjp, lambda q, r, qb, rb: np.full_like(qb, np.nan), "NaN"),
], ids=lambda v: getattr(v, "__name__", None) or str(v)[:12])
def test_checkers_of_03_catch_typical_mistakes(checker, wrong, hint, capsys):
    rejects_with_hint(checker, wrong, hint, capsys)


def _copyltu_loops(m):
    out = np.array(m, dtype=float)
    for i in range(out.shape[0]):
        for j in range(i + 1, out.shape[0]):
            out[i, j] = out[j, i]
    return out


@pytest.mark.parametrize("checker, answer", [
    (lesson.check_copyltu, _copyltu_loops),
    (lesson.check_copyltu, lambda m: lesson.reference_copyltu(m).astype(np.float32)),
    (lesson.check_qr_vjp, lambda q, r, qb, rb:
     lesson.reference_qr_vjp(q, r, qb, rb).astype(np.float32)),
    (lesson.check_qr_vjp, lambda q, r, qb, rb:      # with an explicit inverse: also right
     (qb + q @ lesson.reference_copyltu(r @ rb.T - qb.T @ q)) @ np.linalg.inv(r).T),
])
def test_checkers_of_03_accept_legitimate_variants(checker, answer):
    assert checker(answer)


def test_qr_gradient_dashboard():
    dash = lesson.qr_gradient_dashboard(n_rows=5, n_cols=3, log10_eps=-6)
    vjp = np.asarray(dash.artists["scatter"].get_xdata())
    fd = ydata(dash.artists["scatter"])
    np.testing.assert_allclose(fd, vjp, rtol=1e-6, atol=1e-7)   # central differences at 1e-6
    marker = ydata(dash.artists["marker"]).copy()
    dash.controls["log10_eps"].value = -11.0
    assert not np.allclose(marker, ydata(dash.artists["marker"]))
    # at eps = 1e-11 round-off dominates: the plotted finite differences are visibly worse
    err = np.abs(ydata(dash.artists["scatter"]) - vjp).max()
    assert err > 1e-6
    dash.controls["n_cols"].value = 9
    assert "choose n2 <= n1" in dash.message


def test_qr_vjp_matches_the_closed_form_on_the_log_term():
    """With weights C = 0 the test loss is sum log|R_ii|: its gradient is A (A^T A)^{-1}."""
    from autograd import grad
    a = np.random.default_rng(0).standard_normal((6, 4))
    g = grad(lesson.qr_test_loss)(a, np.zeros((6, 4)))
    np.testing.assert_allclose(g, a @ np.linalg.inv(a.T @ a), atol=1e-10)


def test_03_shape_controls_follow_the_notation_sheet():
    """m is the QR interval (notebook 00's sheet); A is n1 x n2."""
    for dash in (lesson.qr_gradient_dashboard(), lesson.conditioning_dashboard()):
        names = [dash.controls[k].description for k in ("n_rows", "n_cols")]
        assert names == ["rows n₁", "columns n₂"]


@pytest.mark.parametrize("settings", [{}, {"n_cols": 1}, {"log10_sigma_min": -10.0}])
def test_03_conditioning_legends_cover_no_data(settings):
    """n2 = 1 (question 2) puts both errors at round-off, where the legend used to be."""
    from course_helpers import data_under_legends
    dash = lesson.conditioning_dashboard().set(**settings)
    assert dash.message is None and data_under_legends(dash.fig) == []
