"""Drive each dashboard programmatically: change a control, check that the plotted data changed and
equals an independent computation from the reference; bad combinations give a message, not an
exception. Sizes are small so that the whole file runs in a few seconds."""
import numpy as np
import pytest

import flosslab as fl
from flosslab.course import demos as ex
from flosslab.course import dashboards as widgets


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


# --- 01 ---------------------------------------------------------------------------------------------

def test_gradient_norm_dashboard_follows_the_controls():
    dash = widgets.gradient_norm_dashboard(n_units=16, seq_len=30, n_curves=3)
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
    dash = widgets.gradient_norm_dashboard(n_units=64, seq_len=300, n_curves=2)
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


# --- 02 ---------------------------------------------------------------------------------------------

def independent_spectrum(gain, n, k, m, steps=300, seed=0):
    """Dense Jacobians from the trajectory, then the generic QR routine (not the RNN path)."""
    params = fl.autonomous(fl.init_rnn(n, gain, seed=seed))
    h0 = np.random.default_rng(seed + 1).uniform(-1, 1, size=n)     # the library's start
    states = fl.run_rnn(params, np.zeros((steps, 1)), h0=h0)
    jacs = np.stack([(1 - h ** 2)[:, None] * params["W"] for h in states])  # from the states
    return fl.spectrum_from_jacobians(jacs, k, reorth_every=m,
                                      transient=fl.default_transient(steps), seed=seed)


def test_spectrum_dashboard_matches_an_independent_computation():
    dash = widgets.spectrum_dashboard(gain=2.0, n_units=20, n_exponents=20)
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
    dash = widgets.spectrum_dashboard(n_units=10, n_exponents=10)
    shown = ydata(dash.artists["spectrum"]).copy()
    draws = dash.n_draws
    dash.controls["n_exponents"].value = 30
    assert "choose k <= N" in dash.message
    assert "Cannot show this combination" in dash.status.value
    assert dash.n_draws == draws and np.array_equal(shown, ydata(dash.artists["spectrum"]))
    dash.controls["n_exponents"].value = 3          # back to a valid setting: drawn again
    assert dash.message is None and ydata(dash.artists["spectrum"]).size == 3


def test_dashboard_shows_a_message_before_its_first_figure():
    dash = widgets.spectrum_dashboard(n_units=5, n_exponents=9)
    assert dash.fig is None and "k=9" in dash.message
    dash.controls["n_exponents"].value = 5
    assert dash.fig is not None and ydata(dash.artists["spectrum"]).size == 5


# --- 03 ---------------------------------------------------------------------------------------------

def test_qr_gradient_dashboard():
    dash = widgets.qr_gradient_dashboard(n_rows=5, n_cols=3, log10_eps=-6)
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
    assert "choose n <= m" in dash.message


def test_qr_vjp_matches_the_closed_form_on_the_log_term():
    """With weights C = 0 the test loss is sum log|R_ii|: its gradient is A (A^T A)^{-1}."""
    from autograd import grad
    a = np.random.default_rng(0).standard_normal((6, 4))
    g = grad(ex.qr_test_loss)(a, np.zeros((6, 4)))
    np.testing.assert_allclose(g, a @ np.linalg.inv(a.T @ a), atol=1e-10)


# --- 04 ---------------------------------------------------------------------------------------------
# The flossing dashboards of notebook 04 are tested in tests/test_course_03_04_07.py.


# --- 05 ---------------------------------------------------------------------------------------------
# The dashboards of notebooks 05, 06 and 08 are tested in tests/test_course_05_06_08.py.


# --- 06 ---------------------------------------------------------------------------------------------

def test_device_helper_reports_cpu_without_gpu():
    torch = pytest.importorskip("torch")
    from flosslab.course.setup import available_device
    assert available_device() == ("cuda" if torch.cuda.is_available() else "cpu")


# --- 07 ---------------------------------------------------------------------------------------------

def test_engine_experiments_match_the_reference():
    pytest.importorskip("torch")
    ref, eng = ex.torch_vs_reference(gain=1.5, n_units=10, n_exponents=4, n_steps=80)
    np.testing.assert_allclose(eng, ref, atol=1e-10)
    gains = (0.5, 2.0)
    batched = ex.ensemble_spectrum_vs_gain(gains, n_units=10, n_exponents=3, n_steps=120)
    for g, lam in zip(gains, batched):
        single = fl.lyapunov_spectrum(fl.init_rnn(10, g, seed=0), fl.random_bits(120, 1, 0),
                                      n_exponents=3, seed=0)
        np.testing.assert_allclose(lam, single, atol=1e-10)
