"""Notebooks 05 (delayed tasks), 06 (why it works) and 08 (the paper's results): drive each
dashboard, compare what it plots with an independent computation (the numpy/autograd reference, the
shipped JSON, flosslab.paper.stats), check that bad settings give a message, and that each exercise
checker accepts right answers and catches the typical mistakes with the matching hint.

Sizes are tiny (networks of 6-8 units, a few epochs): the file runs in about a minute on two cores.
Tolerances: the torch engine follows the reference to round-off (1e-8 on losses and spectra,
tests/test_engine_flossing_training.py); accuracies are fractions of bits, equal unless a logit sits
within round-off of 0.
"""
import json

import numpy as np
import pytest
from matplotlib.lines import Line2D

import flosslab as fl
from flosslab.course import dashboards, demos
from flosslab.course import exercises as check
from flosslab.core.tasks import accuracy
from flosslab.paper import stats

torch = pytest.importorskip("torch")

TINY = {"n_units": 6, "n_epochs": 8, "n_seeds": 2, "seq_extra": 6, "lr": 0.01, "n_exponents": 3,
        "floss_steps": 3, "floss_lr": 0.01, "eval_every": 4, "eval_batch": 16}


def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


@pytest.fixture
def tiny_training(monkeypatch):
    """Training clicks of a few milliseconds; a fresh cache so that nothing leaks between tests."""
    monkeypatch.setitem(demos.TRAIN_SIZES, "small", dict(TINY))
    monkeypatch.setattr(demos, "_RUNS", {})


def reference_runs(task, delay, schedule, k=3, order=None, seeds=(0, 1)):
    """Lone runs of the numpy/autograd reference with the configurations a tiny click uses."""
    configs = demos.training_configs(task, delay, schedule, k, "small", order, seeds)
    return [fl.train(c)[1] for c in configs]


# --- 05: tasks ----------------------------------------------------------------------------------

def test_task_dashboard_shows_the_batch_and_its_lags():
    dash = dashboards.task_dashboard(task="xor", delay=6, t_selected=14, seq_len=24)
    batch = fl.make_batch("xor", 6, 1, 24, 0)
    image = np.asarray(dash.artists["image"].get_array())
    np.testing.assert_array_equal(image[0], batch.inputs[:, 0, 0])
    np.testing.assert_array_equal(image[1], np.where(batch.mask, batch.targets[:, 0, 0], 0))
    # the boxes mark x_{t-3}, x_{t-6} and z_t; the status line writes the XOR out
    np.testing.assert_array_equal(dash.artists["input_boxes"].get_xdata(), [11, 8])
    bits = batch.inputs[:, 0, 0].astype(int)
    assert f"= <b>{bits[11] ^ bits[8]}</b>" in dash.note_text
    dash.set(task="parity", delay=9, order=3, t_selected=20)
    assert not dash.controls["order"].disabled
    np.testing.assert_array_equal(dash.artists["input_boxes"].get_xdata(), [17, 14, 11])
    dash.set(t_selected=5)                               # before d: not scored, no arrows
    assert "not scored" in dash.note_text and dash.artists["arrows"] == []
    dash.set(delay=2)                                    # parity of order 3 needs d >= 3
    assert "delay >= 3" in dash.message and "Cannot show" in dash.status.value


def test_delay_gradient_dashboard_matches_the_reference():
    ks = (1, 3)
    dash = dashboards.delay_gradient_dashboard(delay=10, n_exponents=3, ks=ks, n_units=8,
                                               floss_steps=4, seq_len=30)
    batch = fl.make_batch("copy", 1, 16, 30, [0, 11])
    before = fl.init_rnn(8, 1.0, seed=0)
    after, _ = fl.floss(before, 4, 3, 0.0, 0.01, seed=0)
    for params, line in ((before, "before"), (after, "after")):
        g = fl.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask)
        np.testing.assert_allclose(ydata(dash.artists[line]), (g / g[-1])[::-1], rtol=1e-6)
    lam1 = fl.lyapunov_spectrum(after, fl.random_bits(300, 1, [0, 12]), n_exponents=1, seed=0)
    assert dash.data[0].lam1_after == pytest.approx(float(lam1[0]), abs=1e-8)
    marks = ydata(dash.artists["marks"]).copy()
    dash.set(delay=20)
    assert ydata(dash.artists["marks"])[0] == pytest.approx(dash.data[0].before[20])
    assert not np.allclose(marks, ydata(dash.artists["marks"]))
    assert "at d = 20" in dash.note_text
    with pytest.raises(fl.FlosslabError, match="precomputed"):
        dashboards.delay_gradient_dashboard(n_exponents=5, ks=ks, n_units=8, floss_steps=4,
                                            seq_len=30)


# --- 05: training -------------------------------------------------------------------------------

def test_training_click_trains_every_seed_as_its_lone_run(tiny_training):
    dash = dashboards.training_dashboard(task="copy", delay=3, n_exponents=3, schedule="pre",
                                         background=False)
    assert not dash.button.disabled and "2 seeds" in dash.status.value
    dash.button.click()
    runs = dash.data
    assert runs.accuracy.shape == (2, 2) and len(dash.runs) == 1
    lone = reference_runs("copy", 3, "pre")
    np.testing.assert_allclose(runs.accuracy, [h.accuracy for h in lone], atol=1e-12)
    np.testing.assert_allclose(runs.loss, [h.loss for h in lone], atol=1e-8)
    # the thick line is the median over seeds, at the evaluation epochs
    median_line = dash.artists["runs"][0][0]
    np.testing.assert_allclose(ydata(median_line), np.median([h.accuracy for h in lone], axis=0))
    np.testing.assert_allclose(median_line.get_xdata(), lone[0].eval_epochs)
    assert "done in" in dash.status.value and "final accuracy" in dash.status.value
    assert dash.bar.value == dash.bar.max and dash.seconds
    dash.set(schedule="none").button.click()
    assert len(dash.artists["runs"]) == 2
    dash.clear()
    assert dash.runs == [] and dash.artists["runs"] == []


def test_training_dashboard_refuses_bad_settings(tiny_training, capsys):
    dash = dashboards.training_dashboard(background=False)
    dash.set(n_exponents=20)                             # k > N = 6
    assert dash.button.disabled and "choose k <= N" in dash.message
    assert dash.run() is None and dash.runs == []
    dash.set(n_exponents=2, task="parity", order=3, delay=2)
    assert dash.button.disabled and "delay &gt;= 3" in dash.status.value
    assert "Traceback" not in dash.status.value + capsys.readouterr().out
    dash.set(delay=5)
    assert not dash.button.disabled


def test_training_verdict_says_what_went_wrong():
    e = np.arange(1, 101)
    falling = demos.SeedRuns("pre", (0, 1, 2), np.array([50, 100]), np.full((3, 2), 0.5),
                             np.tile(1.0 / e, (3, 1)), np.zeros((3, 2)), np.zeros((3, 2)),
                             np.ones((3, 2)), np.full(3, 0.4), np.full(3, 0.2), 1.0)
    text = dashboards.training_verdict(falling, "pre")
    assert "at chance" in text and "still falling" in text and "did not converge" in text
    fine = falling._replace(accuracy=np.full((3, 2), 0.99), loss=np.ones((3, 100)),
                            floss_end=np.full(3, 1e-3))
    text = dashboards.training_verdict(fine, "pre")
    assert "at chance" not in text and "falling" not in text and "converge" not in text


def test_train_seeds_caches_per_schedule(tiny_training):
    first = demos.train_seeds("xor", 4, ("none", "pre"), 3)
    again = demos.train_seeds("xor", 4, ("pre", "inter"), 3)       # only "inter" is trained
    assert again["pre"] is first["pre"]
    lone = reference_runs("xor", 4, "inter")
    np.testing.assert_allclose(again["inter"].accuracy, [h.accuracy for h in lone], atol=1e-12)


def test_seed_spread_and_its_description():
    med, lo, hi = demos.seed_spread([0.5, 1.0, 0.9, 0.6, 0.95])
    assert (med, lo, hi) == (0.9, 0.6, 0.95)
    assert demos.describe_spread([0.5, 1.0, 0.9]).startswith("0.90 [0.70-0.95] (3 seeds")


def test_untrained_logits_are_the_reference_readout():
    batch = fl.make_batch("copy", 3, 4, 10, 0)
    params = fl.init_rnn(7, 1.0, seed=2)
    want = fl.readout(params, fl.run_rnn(params, batch.inputs))
    np.testing.assert_allclose(demos.untrained_logits(batch, 7, seed=2), want, atol=1e-12)


# --- 06 ---------------------------------------------------------------------------------------------

def test_condition_dashboard_matches_the_reference():
    dash = dashboards.condition_dashboard(gain=1.2, n_exponents=4, n_units=8, max_window=40)
    params = fl.init_rnn(8, 1.2, seed=0)
    c = dash.data[0]
    _, want = fl.condition_number_curve(params, fl.random_bits(80, 1, [0, 13]), n_values=4,
                                        times=c.times, transient=40, n_passes=2, seed=0)
    np.testing.assert_allclose(ydata(dash.artists["measured"]), want, atol=1e-8)
    lam = fl.lyapunov_spectrum(params, fl.random_bits(340, 1, [0, 14]), n_exponents=4,
                               transient=40, seed=0)
    np.testing.assert_allclose(ydata(dash.artists["spectrum"]), lam, atol=1e-10)
    t = np.asarray(dash.artists["predicted"].get_xdata())
    np.testing.assert_allclose(ydata(dash.artists["predicted"]),
                               (lam[0] - lam[-1]) * t / np.log(10), atol=1e-10)
    assert "measured slope" in dash.note_text
    dash.set(n_exponents=1)
    assert "k >= 2" in dash.message


@pytest.fixture(scope="module")
def tiny_checkpoints():
    return demos.flossing_checkpoints_seeds(ks=(2, 3), n_units=6, steps_per_checkpoint=3,
                                            n_checkpoints=2, window=20, seeds=(0, 1))


def test_flossing_checkpoints_match_the_reference(tiny_checkpoints):
    """Every member of the ensemble equals the reference's lone run: floss in episodes (seeds
    s + 100 c), then log10 kappa of J_t by subspace iteration and the effective rank of dL/dW."""
    batch = fl.make_batch("copy", 20, 16, None, [0, 6])
    for k, c in tiny_checkpoints.items():
        for row, seed in enumerate(c.seeds):
            params = fl.init_rnn(6, 1.0, seed=seed)
            bits = fl.random_bits(60, 1, [seed, 8])
            for ckpt in range(3):
                if ckpt:
                    params, _ = fl.floss(params, 3, k, 0.0, 0.01, seed=seed + 100 * ckpt)
                _, pre = fl.run_rnn(params, bits, return_preactivations=True)
                sv = fl.log_singular_values(params, pre[40:], n_values=k, n_passes=3, seed=seed)
                assert c.cond[row, ckpt] == pytest.approx(fl.log10_condition_number(sv), abs=1e-6)
                assert c.eff_rank[row, ckpt] == pytest.approx(
                    fl.effective_rank(fl.weight_gradient(params, batch)), rel=1e-6)


def test_why_dashboard_redraws_precomputed_medians(tiny_checkpoints):
    dash = dashboards.why_dashboard(n_exponents=3, checkpoints=tiny_checkpoints)
    c = tiny_checkpoints[3]
    lines = [a for a in dash.artists["lines"] if hasattr(a, "get_ydata")]
    np.testing.assert_allclose(ydata(lines[0]), np.median(c.cond, axis=0))
    dash.set(checkpoint=2)
    marker = [a for a in dash.artists["lines"] if hasattr(a, "get_ydata")
              and len(a.get_ydata()) == 1][0]
    assert ydata(marker)[0] == pytest.approx(np.median(c.cond[:, 2]))
    assert "median over 2 seeds after 6 steps" in dash.note_text
    dash.set(n_exponents=2)
    lines = [a for a in dash.artists["lines"] if hasattr(a, "get_ydata")]
    np.testing.assert_allclose(ydata(lines[0]), np.median(tiny_checkpoints[2].cond, axis=0))
    assert dash.message is None and dash.n_draws == 3


def test_schedules_dashboard_plots_medians_and_hides_schedules(tiny_training):
    runs = demos.train_seeds("copy", 3, ("none", "pre"), 3)
    dash = dashboards.schedules_dashboard(runs)
    ax_a = dash.artists["axes"][0]
    medians = [line for line in ax_a.get_lines() if line.get_linewidth() > 2]
    np.testing.assert_allclose(ydata(medians[1]), np.median(runs["pre"].accuracy, axis=0))
    assert "preflossing" in dash.note_text
    n_lines = len(ax_a.get_lines())
    dash.set(shown=("pre",), seeds=False)
    assert len(ax_a.get_lines()) < n_lines and "no flossing" not in dash.note_text


def test_gradient_pieces_and_the_weight_gradient():
    params = fl.init_rnn(7, 1.3, seed=1)
    batch = fl.make_batch("copy", 3, 4, 12, seed=2)
    pieces = demos.gradient_pieces(params, batch)
    want = fl.weight_gradient(params, batch)                     # autograd, independent
    np.testing.assert_allclose(pieces.grad_w, want, atol=1e-12)
    # the pieces assemble to it (the formula of exercise 3), and the numpy recursion of the
    # exercise checker gives the same errors delta_t
    assembled = np.einsum("tbi,tbj->ij", (1 - np.tanh(pieces.pre) ** 2) * pieces.deltas,
                          pieces.states[:-1])
    np.testing.assert_allclose(assembled, want, atol=1e-12)
    np.testing.assert_allclose(check.reference_deltas(params, batch, pieces.pre), pieces.deltas,
                               atol=1e-12)
    stacked = {k: torch.stack([torch.as_tensor(v)] * 2) for k, v in params.items()}
    np.testing.assert_allclose(demos.weight_gradients(stacked, batch)[1], want, atol=1e-12)


# --- 08 ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    from flosslab.paper import results
    return json.loads((results.DATA / "default.json").read_text())


def test_shipped_accuracy_and_horizons_match_the_json(shipped):
    summary, reason = demos.paper_summary("default")
    assert reason is None
    for task, sweep in shipped["c_delay"].items():
        for schedule, (delays, acc) in demos.shipped_accuracy(summary, task).items():
            assert list(delays) == sorted(int(d) for d in sweep["accuracy"][schedule])
            for d, row in zip(delays, acc):
                np.testing.assert_array_equal(row, sweep["accuracy"][schedule][str(d)])
    horizons = demos.shipped_horizons(summary, 0.9, 0.9)
    for (task, schedule), h in horizons.items():
        ref = stats.bootstrap_horizon(shipped["c_delay"][task]["accuracy"][schedule], 0.9)
        assert (h["horizon"], h["low"], h["high"]) == (ref["horizon"], ref["low"], ref["high"])
        assert h["horizon"] == shipped["c_delay"][task]["horizon_0.9"][schedule]


def test_the_paper_summary_is_reported_missing_not_faked(monkeypatch, tmp_path):
    from flosslab.paper import results
    monkeypatch.setattr(results, "DATA", tmp_path)
    (tmp_path / "default.json").write_text((results.Path(results.__file__).parent / "data"
                                            / "default.json").read_text())
    summary, reason = demos.paper_summary("paper")
    assert summary is None and "not in this copy" in reason
    assert list(dashboards.available_summaries()) == ["default"]
    dash = dashboards.paper_delay_dashboard()
    assert dash.controls["dataset"].disabled
    # once a paper summary is shipped, it can be chosen
    paper = json.loads((tmp_path / "default.json").read_text())
    n_seeds = len(paper["c_delay"]["xor"]["accuracy"]["none"]["12"])
    paper["c_delay"]["xor"]["accuracy"]["none"]["12"] = [0.6] * n_seeds
    (tmp_path / "paper.json").write_text(json.dumps(paper))
    dash = dashboards.paper_delay_dashboard(task="xor", highlight=12)
    assert not dash.controls["dataset"].disabled
    dash.set(dataset="paper")
    assert "no flossing: median 0.60" in dash.note_text


def test_paper_delay_dashboard_plots_the_shipped_medians(shipped):
    dash = dashboards.paper_delay_dashboard(task="xor", highlight=28)
    xor = shipped["c_delay"]["xor"]["accuracy"]
    medians = [a for a in dash.artists["lines"] if isinstance(a, Line2D) and a.get_linewidth() > 2]
    delays = sorted(int(d) for d in xor["none"])
    np.testing.assert_allclose(ydata(medians[0]), [np.median(xor["none"][str(d)]) for d in delays])
    inter_28 = np.asarray(xor["inter"]["28"])                # pre + periodic at d = 28
    assert f"{int(np.sum(inter_28 >= 0.9))} of {inter_28.size} seeds &ge; 0.9" in dash.note_text
    dash.set(task="copy")
    assert dash.controls["delay"].value in (20, 30) and list(dash.controls["delay"].options) == \
        [10, 20, 30, 40, 50, 60]
    dash.set(shown=("none",))
    assert "preflossing" not in dash.note_text


def test_horizon_dashboard_follows_level_and_coverage(shipped):
    copy = shipped["c_delay"]["copy"]["accuracy"]

    def ratio_text(level):                                   # from the JSON and the statistics
        a, b = (stats.bootstrap_horizon(copy[s], level)["horizon"] for s in ("inter", "none"))
        return "undefined" if a is None or b is None else f"{a / b:.1f}x"

    dash = dashboards.horizon_dashboard()
    assert f"copy pre + periodic flossing / none: {ratio_text(0.9)}" in dash.note_text
    dash.set(level=0.7)
    h = dash.data[0]
    ref = stats.bootstrap_horizon(copy["none"], 0.7)
    assert h["copy", "none"]["horizon"] == ref["horizon"]
    assert f"copy pre + periodic flossing / none: {ratio_text(0.7)}" in dash.note_text


def test_live_delay_dashboard_reruns_small(tiny_training, monkeypatch):
    monkeypatch.setitem(demos.LIVE, "delays", {"copy": (2, 4), "xor": (2, 4)})
    monkeypatch.setitem(demos.LIVE, "seeds", (0, 1))
    dash = dashboards.live_delay_dashboard(task="copy")
    dash.background = False
    dash.run()
    sweep, task = dash.data
    for schedule in ("none", "pre"):
        want = [[h.final_accuracy for h in reference_runs("copy", d, schedule, k=None)]
                for d in (2, 4)]
        np.testing.assert_allclose(sweep[schedule][1], want, atol=1e-12)
    assert "medians" in dash.status.value


def test_live_parity_dashboard_reruns_small(tiny_training, monkeypatch):
    monkeypatch.setitem(demos.LIVE, "parity_ks", (1, 3))
    monkeypatch.setitem(demos.LIVE, "seeds", (0, 1))
    dash = dashboards.live_parity_dashboard()
    dash.background = False
    dash.set(delay=6).run()
    ks, acc, _ = dash.data
    want = [h.final_accuracy for h in reference_runs("parity", 6, "pre", k=3, order=3)]
    np.testing.assert_allclose(acc[3], want, atol=1e-12)
    assert "k=3" in dash.status.value


def test_live_condition_dashboard_matches_the_reference():
    grid = demos.live_condition_grid(ks=(2, 4), steps=(3, 6), n_units=8, window=30)
    dash = dashboards.live_condition_dashboard(n_exponents=4, floss_steps=6, grid=grid)
    before = fl.init_rnn(8, 1.0, seed=0)
    bits = fl.random_bits(70, 1, [0, 15])
    for k, steps in grid:
        c = grid[k, steps]
        after, _ = fl.floss(before, steps, k, 0.0, 0.01, seed=0)     # the lone reference run
        for params, got in ((before, c.before), (after, c.after)):
            _, want = fl.condition_number_curve(params, bits, n_values=k, times=c.times,
                                                transient=40, n_passes=2, seed=0)
            np.testing.assert_allclose(got, want, atol=1e-6)
    assert "after 6 flossing steps" in dash.note_text
    np.testing.assert_allclose(ydata(dash.artists["axes"][0].lines[1]), grid[4, 6].after)
    dash.set(n_exponents=2, floss_steps=3)
    np.testing.assert_allclose(ydata(dash.artists["axes"][0].lines[1]), grid[2, 3].after)
    assert dash.message is None


# --- exercises of 05, 06, 08: right answers pass, typical mistakes get their hint -----------------

def _parity(bits, delay, order, lag=lambda j, d, p: -(-j * d // p)):
    y = np.zeros_like(bits)
    for j in range(1, order + 1):
        y[delay:] ^= bits[delay - lag(j, delay, order):len(bits) - lag(j, delay, order)]
    return y


def _loss(logits, targets, mask):
    return float(np.mean((np.logaddexp(0, logits) - targets * logits)[mask]))


def _naive_loss(logits, targets, mask):
    s = 1 / (1 + np.exp(-logits))
    return float(np.mean(-(targets * np.log(s) + (1 - targets) * np.log(1 - s))[mask]))


def _weight_gradient(states, pre, deltas):
    return np.einsum("tbi,tbj->ij", (1 - np.tanh(pre) ** 2) * deltas, states[:-1])


def _bootstrap(acc, delays, idx, level, shared=False, statistic=np.median):
    out = np.zeros(idx.shape[1], dtype=int)
    for j in np.argsort(delays):
        m = statistic(acc[j][idx[0 if shared else j]], axis=1)
        out[m >= level] = delays[j]
    return out


def _horizon(delays, medians, level):
    ok = [d for d, m in zip(delays, medians) if m >= level]
    return max(ok) if ok else None


def _horizon_first_failure(delays, medians, level):
    out = None
    for d, m in zip(delays, medians):
        if m < level:
            break
        out = d
    return out


RIGHT = [
    (check.check_parity_targets, _parity),
    (check.check_task_loss, _loss),
    (check.check_scored_accuracy, lambda y, z, m: accuracy(y, z, m)),
    (check.check_log10_condition, lambda s: (s[0] - s[-1]) / np.log(10)),
    (check.check_log10_condition, lambda s: np.float32((s[0] - s[-1]) / np.log(10))),
    (check.check_weight_gradient, _weight_gradient),
    (check.check_seed_summary, lambda v: tuple(np.percentile(v, [50, 25, 75]))),
    (check.check_horizon, _horizon),
    (check.check_bootstrap_horizons, _bootstrap),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=[r[0].__name__ for r in RIGHT])
def test_right_answers_pass(checker, right, capsys):
    assert checker(right) is True
    assert "Correct" in capsys.readouterr().out


WRONG = [
    (check.check_parity_targets, lambda b, d, p: _parity(b, d, p, lambda j, d_, p_: j * d_ // p_),
     "ceil(j d / p), not floor"),
    (check.check_parity_targets, lambda b, d, p: sum(_parity(b, d, 1, lambda j, d_, p_:
                                                             -(-i * d_ // p)) for i in
                                                     range(1, p + 1)), "do not add"),
    (check.check_task_loss, _naive_loss, "np.logaddexp"),
    (check.check_task_loss, lambda y, z, m: float(np.mean(np.logaddexp(0, y) - z * y)),
     "scored steps only"),
    (check.check_task_loss, lambda y, z, m: -_loss(y, z, m), "sign"),
    (check.check_task_loss, lambda y, z, m: float(np.sum((np.logaddexp(0, y) - z * y)[m])),
     "MEAN"),
    (check.check_scored_accuracy, lambda y, z, m: accuracy(y - 0.5, z, m), "y >= 0"),
    (check.check_scored_accuracy, lambda y, z, m: float(np.mean((y >= 0) == (z >= 0.5))),
     "scored steps only"),
    (check.check_scored_accuracy, lambda y, z, m: 1 - accuracy(y, z, m), "error rate"),
    (check.check_log10_condition, lambda s: np.log10(np.exp(s[0]) / np.exp(s[-1])),
     "never exponentiate"),
    (check.check_log10_condition, lambda s: s[0] - s[-1], "NATURAL logs"),
    (check.check_log10_condition, lambda s: (s[-1] - s[0]) / np.log(10), "sign is flipped"),
    (check.check_weight_gradient, lambda h, a, d: _weight_gradient(h, a, d).T, "transposed"),
    (check.check_weight_gradient,
     lambda h, a, d: np.einsum("tbi,tbj->ij", (1 - np.tanh(a) ** 2) * d, h[1:]), "off by one"),
    (check.check_weight_gradient, lambda h, a, d: np.einsum("tbi,tbj->ij", d, h[:-1]), "tanh"),
    (check.check_weight_gradient, lambda h, a, d: _weight_gradient(h, a, d) / h.shape[1],
     "sum over the batch"),
    (check.check_seed_summary, lambda v: (np.mean(v), *np.percentile(v, [25, 75])), "not the mean"),
    (check.check_seed_summary, lambda v: (np.median(v), v.min(), v.max()), "min and max"),
    (check.check_seed_summary, lambda v: tuple(np.percentile(v, [50, 75, 25])), "order"),
    (check.check_horizon, _horizon_first_failure, "LONGEST"),
    (check.check_horizon, lambda d, m, lv: _horizon(d, m, lv) or 0, "None"),
    (check.check_horizon, lambda d, m, lv: _horizon(d, np.asarray(m) - 1e-12, lv), ">="),
    (check.check_bootstrap_horizons, lambda a, d, i, lv: _bootstrap(a, d, i, lv, shared=True),
     "own indices"),
    (check.check_bootstrap_horizons,
     lambda a, d, i, lv: _bootstrap(a, d, i, lv, statistic=np.mean), "MEDIAN"),
    (check.check_bootstrap_horizons,
     lambda a, d, i, lv: np.where(_bootstrap(a, d, i, lv) == 0, -1, _bootstrap(a, d, i, lv)),
     "not -1"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG,
                         ids=[f"{w[0].__name__}-{w[2]}" for w in WRONG])
def test_wrong_answers_fail_with_the_matching_hint(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out, out


def test_checkers_survive_crashes_and_nan(capsys):
    assert check.check_task_loss(lambda y, z, m: 1 / 0) is False
    assert check.check_weight_gradient(lambda h, a, d: np.full((h.shape[-1],) * 2, np.nan)) is False
    assert check.check_horizon(lambda d, m, lv: "ten") is False
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "NaN" in out


def test_the_bootstrap_reference_draws_as_the_paper_statistics(shipped):
    """exercises.bootstrap_indices + reference_bootstrap_horizons reproduce
    flosslab.paper.stats.bootstrap_horizon exactly (same resamples, same quantile rule)."""
    for task, sweep in shipped["c_delay"].items():
        for schedule, by_delay in sweep["accuracy"].items():
            delays = np.array(sorted(int(d) for d in by_delay))
            acc = np.array([by_delay[str(d)] for d in delays])
            idx = check.bootstrap_indices(len(delays), acc.shape[1], 2000, seed=0)
            boot = check.reference_bootstrap_horizons(acc, delays, idx)
            low, high = np.quantile(boot, [0.05, 0.95], method="inverted_cdf")
            ref = stats.bootstrap_horizon(by_delay, 0.9)
            assert (low or None, high or None) == (ref["low"], ref["high"])
