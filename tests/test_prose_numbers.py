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
