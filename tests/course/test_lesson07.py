"""Notebook 07 (scaling up with torch): the engine's demos against the numpy reference, the
dashboards, and the checkers on typical mistakes and legitimate variants. Small sizes."""
import numpy as np
import pytest
from course_helpers import rejects_with_hint

import flosslab as fl
from flosslab.course import lesson07_torch as lesson

torch = pytest.importorskip("torch")


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


def test_engine_equals_the_reference_on_the_same_trajectory_and_chaos_separates_them():
    calm = lesson.engine_vs_reference(0.5, 12, 4, 200)
    chaotic = lesson.engine_vs_reference(3.0, 32, 4, 400)
    for a in (calm, chaotic):
        np.testing.assert_allclose(a.same_engine, a.same_reference, atol=1e-13)
    assert calm.divergence.max() < 1e-14
    np.testing.assert_allclose(calm.separate_engine, calm.separate_reference, atol=1e-13)
    assert chaotic.separate_reference[0] > 0 and chaotic.divergence[-1] > 1e-2
    assert chaotic.divergence[10] < 1e-12                       # it starts at round-off


def test_agreement_dashboard():
    torch_mod = pytest.importorskip("torch")
    dash = lesson.agreement_dashboard(gain=1.0, n_steps=100)
    assert dash.controls["device"].disabled is (not torch_mod.cuda.is_available())
    a = dash.data
    np.testing.assert_allclose(ydata(dash.artists["same_eng"]), a.same_engine)
    dash.controls["gain"].value = 3.0
    assert dash.data.gain == 3.0 and "lambda_1 = +" in dash.note_text


def test_ensemble_timing_spectra_are_the_references_lone_runs():
    r = lesson.ensemble_timing((0.5, 1.5, 2.5), 10, 3, 120)
    for g, lam in zip(r.gains, r.spectra):
        want = fl.lyapunov_spectrum(fl.init_rnn(10, g, seed=0), fl.random_bits(120, 1, 0),
                                    n_exponents=3, seed=0)
        np.testing.assert_allclose(lam, want, atol=1e-10)
    assert r.largest_difference < 1e-12 and r.batched_seconds > 0 and r.separate_seconds > 0


def test_ensemble_dashboard():
    dash = lesson.ensemble_dashboard(n_units=8, size=3, gains=(0.5, 1.5))
    assert ydata(dash.artists["lines"][0]).size == 3
    dash.controls["size"].value = 5
    assert ydata(dash.artists["lines"][0]).size == 5 and "5 separate calls" in dash.note_text


def test_ensemble_flossing_with_the_students_functions():
    """Step 0's losses are each member's flossing loss by the engine, computed alone with the same
    bits, frame and start; 6 steps lower every member's loss."""
    from flosslab import engine
    r = lesson.ensemble_floss_with(lambda f: torch.log(torch.abs(torch.diagonal(
        torch.linalg.qr(f).R, dim1=-2, dim2=-1))), lesson.reference_ensemble_flossing_loss,
        gains=(0.5, 1.5), n_units=6, n_exponents=2, n_steps=12, lr=0.03)
    for m, g in enumerate((0.5, 1.5)):
        params = engine.init_rnn(6, g, seed=0)
        want = engine.flossing_loss(params, fl.random_bits(55, 1, [0, 0, m]), 2, 0.0, 16, seed=m)
        assert r.losses[0, m] == pytest.approx(float(want), rel=1e-10)
    assert np.all(r.losses[-3:].mean(0) < r.losses[:3].mean(0))


def test_cell_spectrum_with_a_jacobian_function():
    jac = lambda step, z, x: torch.func.jacrev(step)(z, x)            # noqa: E731
    mine, ref = lesson.cell_spectrum_with(jac, "LSTM", 3, 1.0, 60)
    assert mine.size == 6
    np.testing.assert_allclose(mine, ref, atol=1e-10)
    # the tanh cell is the vanilla RNN: its spectrum from numpy Jacobians (independent of torch)
    mine, _ = lesson.cell_spectrum_with(jac, "RNN (tanh)", 4, 1.5, 80)
    cell = lesson.make_cell("RNN (tanh)", 4, 1.5)
    w = cell.weight_hh.detach().numpy()
    u = cell.weight_ih.detach().numpy()
    b = (cell.bias_ih + cell.bias_hh).detach().numpy()
    bits = fl.random_bits(80, 1, 0)
    h = fl.random_state(4, 0)
    jacs = []
    for x in bits:
        h = np.tanh(w @ h + u @ x + b)
        jacs.append((1 - h ** 2)[:, None] * w)
    want = fl.spectrum_from_jacobians(np.asarray(jacs), 4, transient=18,
                                      seed=0)
    np.testing.assert_allclose(mine, np.sort(want)[::-1], atol=1e-10)


def test_cell_dashboard():
    jac = lambda step, z, x: torch.func.jacrev(step)(z, x)            # noqa: E731
    dash = lesson.cell_dashboard(jac, "GRU", 3)
    assert ydata(dash.artists["mine"]).size == 3
    dash.controls["name"].value = "LSTM"
    assert ydata(dash.artists["mine"]).size == 6 and "6 exponents" in dash.artists["ax"].get_title()


def test_floss_cell_takes_adam_steps_on_the_flossing_loss():
    """engine.floss_cell (untested before): its first recorded loss is the cell's flossing loss on
    the bits of step 0, and one call of one step is one torch Adam step on that loss."""
    from flosslab import engine
    cell = lesson.make_cell("GRU", 4, 1.0, seed=1)
    copy = lesson.make_cell("GRU", 4, 1.0, seed=1)
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
        engine.floss_cell(lesson.make_cell("GRU", 3), 1, 5)


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_floss_cell_moves_a_gated_cells_exponents_to_zero(name):
    r = lesson.flossed_cell(name, 4, 2, 12, 0.05)
    assert np.all(np.abs(r.after) < 0.5 * np.abs(r.before))
    assert r.losses[-3:].mean() < 0.1 * r.losses[:3].mean()


def test_sweep_sizes_and_the_cost_model():
    assert list(lesson.sweep_sizes("k", 128, 128)) == [4, 8, 16, 32, 64, 128]
    assert list(lesson.sweep_sizes("k", 48, 48)) == [4, 8, 16, 32, 48]
    assert list(lesson.sweep_sizes("N", 256, 32)) == [32, 64, 128, 256]
    assert list(lesson.sweep_sizes("N", 256, 4)) == [16, 32, 64, 128, 256]
    with pytest.raises(fl.FlosslabError):
        lesson.sweep_sizes("T", 32, 4)
    n = np.array([32, 64, 128, 128, 128])
    k = np.array([16, 16, 16, 64, 128])
    secs = 0.015 + 3e-10 * lesson.cost_work(n, k)
    fit = lesson.fit_cost_model(n, k, secs)
    assert fit.overhead == pytest.approx(0.015, rel=1e-6)
    assert fit.per_unit == pytest.approx(3e-10, rel=1e-6) and fit.worst_misfit < 1e-8
    np.testing.assert_allclose(lesson.local_slopes([1, 2, 4], [1.0, 2.0, 8.0]), [1.0, 2.0])


def test_cost_dashboard(monkeypatch):
    """Times are faked (no timing in tests): the dashboard sweeps the right sizes, fits the model
    to every point measured and draws it."""
    monkeypatch.setattr(lesson, "flossing_step_seconds",
                        lambda n, k, n_steps=55, device="cpu", repeats=2, seed=0:
                        0.01 + 1e-10 * float(lesson.cost_work(n, k)))
    lesson.STEP_SECONDS.clear()
    dash = lesson.cost_dashboard(n_units=32, n_exponents=4, sweep="k")
    assert dash.controls["device"].disabled is (not torch.cuda.is_available())
    assert list(np.asarray(dash.artists["line"].get_xdata())) == [4, 8, 16, 32]
    assert dash.data[3].overhead == pytest.approx(0.01, rel=1e-6)
    # only the fixed size of the current sweep can be moved (the other one would change nothing)
    assert not dash.controls["n_units"].disabled and dash.controls["n_exponents"].disabled
    dash.controls["sweep"].value = "N"
    assert dash.controls["n_units"].disabled and not dash.controls["n_exponents"].disabled
    assert list(np.asarray(dash.artists["line"].get_xdata())) == [16, 32, 64, 128, 256]
    assert dash.data[4] == 8                   # points kept: (32, 4) was in both sweeps
    assert "slope" in dash.note_text and "c0 = 10.0 ms" in dash.note_text
    lesson.STEP_SECONDS.clear()                # no fake time left for a later test


def _loss_summed_over_time(log_r, target):
    return ((log_r.sum(0) - target) ** 2).mean(-1)


def _loss_over_members(log_r, target):
    return ((log_r.mean(0) - target) ** 2).mean(0)


def _loss_squares_first(log_r, target):
    return ((log_r - target) ** 2).mean((0, 2))


@pytest.mark.parametrize("checker, wrong, hint", [
    (lesson.check_ensemble_flossing_loss, _loss_summed_over_time, "MEAN of log|R_ii|"),
    (lesson.check_ensemble_flossing_loss, _loss_over_members, "shape (E,)"),
    (lesson.check_ensemble_flossing_loss, _loss_squares_first, "FIRST"),
    (lesson.check_ensemble_flossing_loss, lambda lam, t: lesson.reference_ensemble_flossing_loss(
        lam.detach(), t), "torch autograd"),
    (lesson.check_ensemble_flossing_loss, lambda lam, t: lesson.reference_ensemble_flossing_loss(
        lam, t).detach().numpy(), "torch tensor"),
    (lesson.check_cell_jacobian, lambda s, z, x: torch.func.jacrev(s)(z, x).T, "transposed"),
    (lesson.check_cell_jacobian, lambda s, z, x: torch.func.jacrev(s, argnums=1)(z, x),
     "input x"),
], ids=lambda v: getattr(v, "__name__", None) or str(v)[:12])
def test_checkers_of_07_catch_typical_mistakes(checker, wrong, hint, capsys):
    rejects_with_hint(checker, wrong, hint, capsys)


@pytest.mark.parametrize("checker, answer", [
    (lesson.check_ensemble_flossing_loss, lambda lam, t: torch.stack(
        [((lam[:, e].mean(0) - t) ** 2).mean() for e in range(lam.shape[1])])),      # a loop
    (lesson.check_cell_jacobian, lambda s, z, x: torch.autograd.functional.jacobian(
        lambda zz: s(zz, x), z)),
    (lesson.check_cell_jacobian, lambda s, z, x: torch.func.jacrev(s)(z, x).float()),
])
def test_checkers_of_07_accept_legitimate_variants(checker, answer):
    assert checker(answer)


def test_engine_experiments_match_the_reference():
    pytest.importorskip("torch")
    ref, eng = lesson.torch_vs_reference(gain=1.5, n_units=10, n_exponents=4, n_steps=80)
    np.testing.assert_allclose(eng, ref, atol=1e-10)
    gains = (0.5, 2.0)
    batched = lesson.ensemble_spectrum_vs_gain(gains, n_units=10, n_exponents=3, n_steps=120)
    for g, lam in zip(gains, batched):
        single = fl.lyapunov_spectrum(fl.init_rnn(10, g, seed=0), fl.random_bits(120, 1, 0),
                                      n_exponents=3, seed=0)
        np.testing.assert_allclose(lam, single, atol=1e-10)


def test_slider_tracks_keep_their_room():
    """A slider's minimum width leaves the track at least 150 px after its description (about 7 px
    a character) and its readout: a fixed 260 px let 'scale of the recurrent weights' eat it."""
    from flosslab.course import lesson06_why_it_works as lesson06
    dashes = [lesson.cell_dashboard(lambda step, z, x: torch.func.jacrev(step, argnums=0)(z, x)),
              lesson06.condition_dashboard()]
    sliders = [c for d in dashes for c in d.controls.values() if hasattr(c, "readout")
               and c.layout.min_width]
    assert len(sliders) >= 4
    for s in sliders:
        assert int(s.layout.min_width.rstrip("px")) - 7 * len(s.description) - 50 >= 150, \
            s.description


def test_legends_below_their_panels():
    """The ensemble's flossing figure: its legends (one covered the g = 0.5 points) lie outside
    both panels."""
    import types
    r = types.SimpleNamespace(gains=(0.5, 1.0, 1.5, 2.0),
                              exponents_before=-np.linspace(0.2, 1.2, 16).reshape(4, 4),
                              exponents_after=-np.linspace(0.0, 0.4, 16).reshape(4, 4),
                              losses=np.exp(-np.linspace(0, 4, 40))[:, None] * np.ones(4))
    fig, art = lesson.ensemble_flossing_figure(r)
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    for ax in art["axes"]:
        box = ax.get_legend().get_window_extent(renderer)
        for other in art["axes"]:
            o = other.get_window_extent(renderer)
            assert not (box.x0 < o.x1 and o.x0 < box.x1 and box.y0 < o.y1 and o.y0 < box.y1)
