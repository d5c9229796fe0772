"""Notebook 05 (delayed tasks): its computations, figures, dashboards and checkers, in that
order."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import ipywidgets as W
import numpy as np

from ..core.conventions import random_bits
from ..core.errors import FlosslabError
from ..core.style import AFTER, BEFORE, SCHEDULE_COLOURS, SCHEDULE_LABELS, SCHEDULE_MARKERS, new_figure
from ..core.tasks import accuracy, make_batch, task_lags
from ..core.validate import check_n_exponents
from .checking import Answer, call, checker, close, run, to_array
from .dashboard_machinery import Dashboard, slider
from .display import rescale, running_median, set_line
from .loss_curves import MIN_STEPS, loss_still_falling
from .training_runs import TRAIN_SIZES, describe_spread, train_seeds, training_configs

# --- computations ----------------------------------------------------------------------------------


class TaskExample(NamedTuple):
    bits: np.ndarray            # x_t, (T,)
    targets: np.ndarray         # z_t, (T,) (0 on the steps t < d, which are not scored)
    scored: np.ndarray          # (T,) bool: t >= d
    lags: list                  # the lags the target depends on, ascending; the last is d


def task_example(task: str = "xor", delay: int = 6, order: int | None = None, seq_len: int = 24,
                 seed: int = 0) -> TaskExample:
    """One sequence of a task (from :func:`flosslab.core.tasks.make_batch`) and its lags."""
    lags = task_lags(task, delay, order)
    batch = make_batch(task, delay, 1, max(seq_len, lags[-1] + 2), seed, order)
    return TaskExample(batch.inputs[:, 0, 0].astype(int), batch.targets[:, 0, 0].astype(int),
                       batch.mask.copy(), lags)


def untrained_logits(batch, n_units: int = 32, gain: float = 1.0, seed: int = 0) -> np.ndarray:
    """Output logits y_t (T, B, 1) of a freshly initialised network on a batch (torch engine)."""
    import torch

    from .. import engine
    params = engine.init_rnn(n_units, gain, seed=seed)
    with torch.no_grad():
        states = engine.run_rnn(params, batch.inputs)
        return engine.readout(params, states).cpu().numpy()


class DelayGradient(NamedTuple):
    """||dL/dh_{T-l}|| / ||dL/dh_T|| against the lag l (loss at the last step T), before and after
    preflossing k exponents, and the largest exponent lambda_1 of each network."""
    n_exponents: int
    lags: np.ndarray
    before: np.ndarray
    after: np.ndarray
    lam1_before: float
    lam1_after: float
    floss_loss: np.ndarray      # the flossing loss at each step


@lru_cache(maxsize=8)
def delay_gradients(ks: tuple = (1, 8, 24), n_units: int = 32, floss_steps: int = 60,
                    lr: float = 0.01, seq_len: int = 80, seed: int = 0) -> dict:
    """{k: :class:`DelayGradient`} for one network (seed) preflossed with each k of ``ks``; the
    flossing runs as one ensemble (torch engine)."""
    from .. import engine
    ks = tuple(check_n_exponents(k, n_units) for k in ks)
    before = engine.init_rnn(n_units, 1.0, seed=seed)
    stacked = engine.init_ensemble(n_units, 1.0, seeds=[seed] * len(ks))
    flossed, hists = engine.floss(stacked, floss_steps, list(ks), 0.0, lr,
                                  seed=[seed] * len(ks))
    batch = make_batch("copy", 1, 16, seq_len, [seed, 11])
    bits = random_bits(300, 1, [seed, 12])

    def measure(params):
        g = engine.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask)
        lam = engine.lyapunov_spectrum(params, bits, n_exponents=1, seed=seed)
        return (g / g[-1])[::-1], float(lam[0])

    g0, lam0 = measure(before)
    out = {}
    for i, k in enumerate(ks):
        g1, lam1 = measure({name: value[i] for name, value in flossed.items()})
        out[k] = DelayGradient(k, np.arange(seq_len), g0, g1, lam0, lam1, hists[i].losses)
    return out


def prediction_ratio(result: DelayGradient) -> np.ndarray:
    """The measured signal before flossing over the prediction e^(lambda_1 l), at every lag l."""
    return result.before / np.exp(result.lam1_before * result.lags)


def training_verdict(runs, schedule: str) -> str:
    """How a run on several seeds went, in words: the final accuracy (median, quartiles, each
    seed) and what went wrong, if anything."""
    final = runs.final
    parts = [f"final accuracy {describe_spread(final)}"]
    med = float(np.median(final))
    if med < 0.6:
        parts.append("<b>at chance on most seeds</b>: not learned in this many epochs")
    elif med < 0.9:
        parts.append("partly learned")
    loss = np.median(np.asarray(runs.loss), axis=0)
    if loss.size >= MIN_STEPS and loss_still_falling(loss):
        parts.append("the loss is still falling: more epochs (size 'larger') may help")
    if schedule != "none" and np.isfinite(runs.floss_end).all():
        start, end = float(np.median(runs.floss_start)), float(np.median(runs.floss_end))
        if end > 0.01:
            parts.append(f"flossing did not converge: L<sub>floss</sub> {start:.3f} &rarr; "
                         f"{end:.3f} (median) in its episode; try more flossing steps or a smaller k")
    lam1 = np.median(runs.lam1, axis=0)
    if lam1[0] > 0.05:
        parts.append(f"&lambda;<sub>1</sub> = {lam1[0]:+.2f} &gt; 0 at the first evaluation: "
                     "chaotic, gradients may explode")
    return "; ".join(parts)


# --- figures ---------------------------------------------------------------------------------------


def task_figure(bits, targets, scored, lags, t_selected: int, title: str = ""):
    """Inputs x_t and targets z_t as two rows of cells; the unscored steps t < d are greyed; arrows
    join z_t at the selected step to the inputs x_{t - lag} it is the XOR of."""
    fig, (ax,) = new_figure(width=9.5, height=2.6)
    art = {"ax": ax, "arrows": [], "texts": []}
    art["image"] = ax.imshow(np.zeros((2, len(bits))), cmap="Greys", vmin=0, vmax=1.6,
                             aspect="auto", interpolation="nearest")
    art["shade"] = ax.axvspan(-0.5, -0.5, color="tab:orange", alpha=0.18, lw=0)
    art["target_box"], = ax.plot([], [], "s", ms=16, mfc="none", mec="tab:red", mew=2.5)
    art["input_boxes"], = ax.plot([], [], "s", ms=16, mfc="none", mec="tab:blue", mew=2.5)
    ax.set_yticks([0, 1], ["input $x_t$", "target $z_t$"])
    ax.set_xlabel("time step t (shaded: t < d, not scored)")
    update_task(art, bits, targets, scored, lags, t_selected, title)
    return fig, art


def update_task(art, bits, targets, scored, lags, t_selected: int, title: str = ""):
    ax = art["ax"]
    bits, targets = np.asarray(bits), np.asarray(targets)
    t_len = len(bits)
    art["image"].set_data(np.stack([bits, np.where(scored, targets, 0)]).astype(float))
    art["image"].set_extent((-0.5, t_len - 0.5, 1.5, -0.5))
    first = int(np.argmax(scored)) if np.any(scored) else t_len
    art["shade"].set_x(-0.5)
    art["shade"].set_width(first)
    for old in art["arrows"] + art["texts"]:
        old.remove()
    art["arrows"], art["texts"] = [], []
    for t in range(t_len):
        art["texts"].append(ax.text(t, 0, str(bits[t]), ha="center", va="center", fontsize=9,
                                    color="w" if bits[t] else "k"))
        if scored[t]:
            art["texts"].append(ax.text(t, 1, str(targets[t]), ha="center", va="center",
                                        fontsize=9, color="w" if targets[t] else "k"))
    t = int(np.clip(t_selected, 0, t_len - 1))
    if scored[t]:
        sources = [t - lag for lag in lags]
        set_line(art["target_box"], [t], [1])
        set_line(art["input_boxes"], sources, [0] * len(sources))
        for s in sources:
            art["arrows"].append(ax.annotate("", xy=(t, 0.72), xytext=(s, 0.28),
                                             arrowprops=dict(arrowstyle="->", color="tab:red",
                                                             lw=1.5)))
    else:
        set_line(art["target_box"], [], [])
        set_line(art["input_boxes"], [], [])
    ax.set_xlim(-0.5, t_len - 0.5)
    ax.set_title(title)


def delay_gradient_figure(result, delay: int):
    """||dL/dh_{T-l}|| / ||dL/dh_T|| against the lag l before and after preflossing (log axis), with
    the decay exp(lambda_1 l) the largest exponent predicts (dashed) and the delay d marked."""
    fig, (ax,) = new_figure(width=8.0, height=3.5)
    art = {"ax": ax}
    art["before"], = ax.semilogy([], [], color=BEFORE, lw=2, label="before flossing")
    art["after"], = ax.semilogy([], [], color=AFTER, lw=2, label="after preflossing")
    art["pred_before"], = ax.semilogy([], [], "--", color=BEFORE, lw=1.2,
                                      label=r"$e^{\lambda_1 l}$ (before)")
    art["pred_after"], = ax.semilogy([], [], "--", color=AFTER, lw=1.2,
                                     label=r"$e^{\lambda_1 l}$ (after)")
    art["delay"] = ax.axvline(delay, color="k", ls=":", lw=1)
    art["marks"], = ax.semilogy([], [], "o", color="k", ms=7)
    ax.set(xlabel="lag l (steps back from the loss at the last step)",
           ylabel=r"$\|\delta_{T-l}\| \,/\, \|\delta_T\|$",
           title="How much of the error signal reaches l steps back")
    ax.legend(loc="lower left", fontsize="small")
    update_delay_gradient(art, result, delay)
    return fig, art


def update_delay_gradient(art, result, delay: int):
    lags = np.asarray(result.lags)
    set_line(art["before"], lags, result.before)
    set_line(art["after"], lags, result.after)
    set_line(art["pred_before"], lags, np.exp(result.lam1_before * lags))
    set_line(art["pred_after"], lags, np.exp(result.lam1_after * lags))
    d = int(np.clip(delay, 0, lags[-1]))
    art["delay"].set_xdata([d, d])
    set_line(art["marks"], [d, d], [result.before[d], result.after[d]])
    art["ax"].set_title(f"Error signal reaching l steps back (k = {result.n_exponents} flossed)")
    rescale(art["ax"])


def seed_curves_figure():
    """Empty accuracy and loss panels; runs on several seeds are added with :func:`add_seed_runs`."""
    fig, (ax_a, ax_l) = new_figure(ncols=2, width=10.0, height=3.6)
    ax_a.axhline(0.5, color="k", lw=0.8, ls=":")
    ax_a.set(xlabel="epoch", ylabel="accuracy (fresh sequences)", ylim=(0.4, 1.02),
             title="Accuracy: median (thick), each seed (thin)")
    ax_l.set(xlabel="epoch", ylabel="task loss (BCE), running median", title="Loss (median over seeds)")
    return fig, {"ax_accuracy": ax_a, "ax_loss": ax_l, "runs": [], "legend": None}


def add_seed_runs(art, runs, label: str, colour=None, marker: str = "o"):
    """Add one schedule trained on several seeds (a :class:`~SeedRuns`):
    thin lines per seed, the median thick, the band between the lowest and highest seed."""
    ax_a, ax_l = art["ax_accuracy"], art["ax_loss"]
    acc = np.asarray(runs.accuracy)
    (median,) = ax_a.plot(runs.eval_epochs, np.median(acc, axis=0), "-", marker=marker, ms=6,
                          lw=2.4, color=colour, label=label)
    colour = median.get_color()
    artists = [median]
    artists.append(ax_a.fill_between(runs.eval_epochs, acc.min(0), acc.max(0), color=colour,
                                     alpha=0.15, lw=0))
    for row in acc:
        artists += ax_a.plot(runs.eval_epochs, row, "-", lw=0.8, alpha=0.6, color=colour)
    loss = np.median(np.asarray(runs.loss), axis=0)
    artists += ax_l.plot(np.arange(1, loss.size + 1), running_median(loss), color=colour, lw=2,
                         label=label, marker=marker, markevery=max(1, loss.size // 10), ms=6)
    art["runs"].append(artists)
    _outside_legend(art)
    rescale(ax_l)
    return artists


def _outside_legend(art):
    """One legend for both panels, below them, so it never hides a curve."""
    fig = art["ax_accuracy"].figure
    if art.get("legend") is not None:
        art["legend"].remove()
        art["legend"] = None
    handles, labels = art["ax_accuracy"].get_legend_handles_labels()
    if handles:
        art["legend"] = fig.legend(handles, labels, loc="outside lower center", ncols=3,
                                   fontsize="small")


def clear_seed_runs(art):
    for artists in art["runs"]:
        for a in artists:
            a.remove()
    art["runs"].clear()
    _outside_legend(art)


# --- dashboards ------------------------------------------------------------------------------------


def task_dashboard(task="xor", delay=6, order=3, t_selected=14, seq_len=24):
    """Task, delay d, parity order p and a time step t -> one sequence's inputs and targets, with
    the inputs the target at t depends on (cheap: updates live)."""
    controls = {
        "task": W.Dropdown(options=["copy", "xor", "parity"], value=task, description="task"),
        "delay": slider(W.IntSlider, "delay d", delay, 1, seq_len - 2, live=True),
        "order": slider(W.IntSlider, "parity order p", order, 1, 6, live=True,
                        disabled=task != "parity"),
        "t_selected": slider(W.IntSlider, "time step t", t_selected, 0, seq_len - 1, live=True),
    }
    controls["task"].observe(lambda ch: setattr(controls["order"], "disabled", ch["new"] != "parity"),
                             names="value")

    def compute(task, delay, order, t_selected):
        return task_example(task, delay, order if task == "parity" else None, seq_len), t_selected

    def title(data, values):
        example, t = data
        return (f"{values['task']}, d = {values['delay']}: lags " + ", ".join(map(str, example.lags)))

    def draw(art, data, values):
        example, t = data
        update_task(art, example.bits, example.targets, example.scored, example.lags, t,
                          title(data, values))

    def make(data, values):
        example, t = data
        return task_figure(example.bits, example.targets, example.scored, example.lags, t,
                                 title(data, values))

    def note(data, values):
        example, t = data
        if not example.scored[t]:
            return (f"t = {t} &lt; d = {values['delay']}: not scored (an input the target needs "
                    "has not arrived yet)")
        terms = " &oplus; ".join(f"x<sub>{t - lag}</sub>" for lag in example.lags)
        bits = " &oplus; ".join(str(example.bits[t - lag]) for lag in example.lags)
        return f"z<sub>{t}</sub> = {terms} = {bits} = <b>{example.targets[t]}</b>"

    return Dashboard(controls, compute, make, draw, height="230px", note=note)


def delay_gradient_dashboard(delay=20, n_exponents=24, ks=(1, 8, 24), n_units=32,
                             floss_steps=60, seq_len=80):
    """Delay d and flossed k -> how much of the error signal reaches d steps back, before and after
    preflossing (the flossing for every k of ``ks`` runs once, as one ensemble)."""
    if n_exponents not in ks:
        raise FlosslabError(f"k={n_exponents} is not among the precomputed choices {ks}")
    results = delay_gradients(tuple(ks), n_units, floss_steps, 0.01, seq_len)
    lags = next(iter(results.values())).lags
    controls = {
        "delay": slider(W.IntSlider, "delay d", delay, 1, int(lags[-1]), live=True),
        "n_exponents": W.ToggleButtons(options=list(ks), value=n_exponents,
                                       description="flossed k", style={"button_width": "50px"}),
    }

    def compute(delay, n_exponents):
        return results[n_exponents], delay

    def note(data, values):
        r, d = data
        return (f"at d = {d}: before flossing {r.before[d]:.1e} of the signal at the loss "
                f"(&lambda;<sub>1</sub> = {r.lam1_before:.3f}, e<sup>&lambda;<sub>1</sub>d</sup> = "
                f"{np.exp(r.lam1_before * d):.1e}); after preflossing k = {r.n_exponents}: "
                f"{r.after[d]:.2f} (&lambda;<sub>1</sub> = {r.lam1_after:.3f})")

    return Dashboard(controls, compute,
                     lambda data, v: delay_gradient_figure(*data),
                     lambda art, data, v: update_delay_gradient(art, *data), height="360px",
                     note=note)


#: Colours and markers of a schedule's second, third, ... run in the training dashboard (its first
#: run has the schedule's own): none of them is a schedule's colour, so runs stay apart.
EXTRA_COLOURS = ("tab:purple", "tab:brown", "black", "tab:olive", "tab:pink", "tab:cyan")
EXTRA_MARKERS = ("v", "P", "X", "*", "h", "<")


class TrainingDashboard(Dashboard):
    """Task, delay d, parity order p, k, schedule and size -> learning curves over several seeds;
    training starts with the button (all seeds as one ensemble on the torch engine, in a worker
    thread with a progress bar). Runs accumulate so that schedules can be compared; "Clear curves"
    empties the figure. The status line says how the run went in words (at chance, loss still
    falling, flossing that did not converge)."""

    def __init__(self, task="copy", delay=20, order=3, n_exponents=None, schedule="pre",
                 size="small", background: bool | None = None):
        d = TRAIN_SIZES["small"]
        controls = {
            "task": W.Dropdown(options=["copy", "xor", "parity"], value=task, description="task"),
            "delay": slider(W.IntSlider, "delay d", delay, 1, 60),
            "order": slider(W.IntSlider, "parity order p", order, 1, 6, disabled=task != "parity"),
            "n_exponents": slider(W.IntSlider, "flossed k", n_exponents or d["n_exponents"], 1, 64),
            "schedule": W.Dropdown(options=[(SCHEDULE_LABELS[s], s) for s in
                                            ("none", "pre", "inter", "penalty")],
                                   value=schedule, description="flossing"),
            "size": W.ToggleButtons(options=["small", "larger"], value=size, description="size",
                                    tooltips=["N = 32, 3 seeds: a few seconds",
                                              "N = 64, 5 seeds: tens of seconds"]),
        }
        controls["task"].observe(
            lambda ch: setattr(controls["order"], "disabled", ch["new"] != "parity"), names="value")
        self.clear_button = W.Button(description="Clear curves")
        self.clear_button.on_click(lambda _: self.clear())
        self.runs = []
        super().__init__(controls, self._train, lambda runs, values: seed_curves_figure(),
                         self._add, self._verdict, height="390px", background=background,
                         button="Train", validate=self._check, ready=self._ready_line,
                         extra_buttons=[self.clear_button])

    @staticmethod
    def _args(values) -> dict:
        return dict(task=values["task"], delay=int(values["delay"]),
                    order=int(values["order"]) if values["task"] == "parity" else None,
                    n_exponents=int(values["n_exponents"]), schedules=(values["schedule"],),
                    size=values["size"])

    def _check(self, values):
        a = self._args(values)
        training_configs(a["task"], a["delay"], a["schedules"][0], a["n_exponents"], a["size"],
                            a["order"], seeds=[0])

    def _ready_line(self, values):
        s = TRAIN_SIZES[values["size"]]
        what = "a few seconds" if values["size"] == "small" else "tens of seconds"
        if values["schedule"] == "penalty":
            what += "; the penalty computes a spectrum every epoch, so it takes ~3x longer"
        task = values["task"] + (f" of order p = {values['order']}" if values["task"] == "parity"
                                 else "")
        how = SCHEDULE_LABELS.get(values["schedule"], values["schedule"])
        if values["schedule"] != "none":
            how += f" of k = {values['n_exponents']} exponents"
        return (f"ready: {task}, d = {values['delay']}, {how}; "
                f"{s['n_seeds']} seeds at once, N = {s['n_units']}, {s['n_epochs']} epochs "
                f"({what})")

    def _train(self, progress=None, **values):
        a = self._args(values)
        return train_seeds(**a, progress=progress)[values["schedule"]]

    def _add(self, art, runs, values):
        a = self._args(values)
        s = values["schedule"]
        label = (f"{a['task']}{'' if a['order'] is None else ' p=' + str(a['order'])} "
                 f"d={a['delay']} {SCHEDULE_LABELS.get(s, s)}"
                 + (f" k={a['n_exponents']}" if s != "none" else "")
                 + ("" if values["size"] == "small" else " (larger)"))
        colour, marker = SCHEDULE_COLOURS.get(s), SCHEDULE_MARKERS.get(s, "o")
        if any(r[0]["schedule"] == s for r in self.runs):      # a second run of a schedule
            n = len(self.runs)
            colour = EXTRA_COLOURS[n % len(EXTRA_COLOURS)]
            marker = EXTRA_MARKERS[n % len(EXTRA_MARKERS)]
        add_seed_runs(art, runs, label, colour, marker)
        self.runs.append(({**values}, runs))

    def _verdict(self, runs, values):
        return training_verdict(runs, values["schedule"])

    def add(self, runs, values):
        """Add finished runs (e.g. from :func:`train_seeds`) to the figure."""
        self._add(self.artists, runs, values)
        self.n_draws += 1
        self._render()

    def clear(self):
        clear_seed_runs(self.artists)
        self.runs.clear()
        self._render()


def training_dashboard(**kwargs) -> TrainingDashboard:
    """See :class:`TrainingDashboard`."""
    return TrainingDashboard(**kwargs)


# --- checkers --------------------------------------------------------------------------------------


def reference_parity_targets(bits, delay, order):
    """Targets of temporal parity of order p for bits (T, B): z_t = XOR over j = 1..p of
    x_{t - ceil(j d / p)} on the steps t >= d, 0 before (the lags of
    :func:`flosslab.core.tasks.task_lags`)."""
    bits = np.asarray(bits).astype(int)
    targets = np.zeros_like(bits)
    for lag in task_lags("parity", delay, order):
        targets[delay:] ^= bits[delay - lag:len(bits) - lag]
    return targets


def reference_xor_targets(bits, delay):
    """Targets of the delayed-XOR task (parity of order 2) for bits (T, B)."""
    return reference_parity_targets(bits, delay, 2)


def _scored_targets(name, raw, shape, mask):
    """The answer's targets on the scored steps (``mask``), as an array: what it returns before
    the delay is not scored ("anything goes"), so NaN or junk there is not held against it."""
    got = to_array(name, raw, shape, "the targets (shaped like bits)", finite=False)
    scored = got[mask]
    if not np.isfinite(scored).all():
        raise Answer("the targets on the scored steps (t >= d) contain NaN or inf: they are "
                     "bits, 0 or 1.")
    return scored


@checker(reference_xor_targets)
def check_xor_targets(func, n_cases: int = 4) -> bool:
    """``func(bits, delay)`` -> targets of the delayed-XOR task for bits (T, B), on steps t >= d."""
    name = "xor_targets"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(600 + case)
            delay = int(rng.integers(2, 15)) | (1 if case == 1 else 0)   # case 1: an odd delay
            batch = make_batch("xor", delay, 3, delay + 20, seed=case)
            bits = batch.inputs[..., 0].astype(int)
            want = batch.targets[..., 0].astype(int)
            scored = _scored_targets(name, call(name, func, bits, delay), want.shape, batch.mask)
            if np.array_equal(scored, want[batch.mask]):
                continue
            if np.array_equal(scored % 2, want[batch.mask]):
                raise Answer("a target is 0 or 1: XOR the two bits (a ^ b, or (a + b) % 2), do not "
                             "add them (their sum is 2 where both are 1).")
            if delay % 2:                                       # floor(d/2) instead of ceil
                t = np.arange(delay, bits.shape[0])
                if np.array_equal(scored % 2, bits[t - delay // 2] ^ bits[t - delay]):
                    raise Answer("for odd d the first lag is ceil(d/2), not floor(d/2).")
            raise Answer("y_t = x_{t - ceil(d/2)} XOR x_{t - d} for t >= d (time 0-indexed; ceil "
                         "matters when d is odd).")
    return run(name, cases)


def _parity_lags(delay, order, rule):
    if rule == "floor":
        return [j * delay // order for j in range(1, order + 1)]
    if rule == "step":
        return [j * (delay // order) for j in range(1, order + 1)]
    if rule == "from0":
        return [-(-j * delay // order) for j in range(order)]
    raise ValueError(rule)


def _xor_of_lags(bits, delay, lags):
    y = np.zeros_like(bits)
    for lag in lags:
        y[delay:] ^= bits[delay - lag:len(bits) - lag]
    return y


@checker(reference_parity_targets)
def check_parity_targets(func, n_cases: int = 6) -> bool:
    """``func(bits, delay, order)`` -> targets of temporal parity of order p for bits (T, B):
    z_t = XOR over j = 1..p of x_{t - ceil(j d / p)} on the steps t >= d."""
    name = "parity_targets"
    settings = [(1, 5), (2, 7), (3, 7), (3, 9), (4, 10), (5, 13)][:n_cases]

    def cases():
        for case, (order, delay) in enumerate(settings):
            batch = make_batch("parity", delay, 3, delay + 20, seed=610 + case, order=order)
            bits = batch.inputs[..., 0].astype(int)
            want = batch.targets[..., 0].astype(int)
            got_scored = _scored_targets(name, call(name, func, bits, delay, order), want.shape,
                                         batch.mask)
            if np.array_equal(got_scored, want[batch.mask]):
                continue
            if got_scored.max() > 1 or got_scored.min() < 0:
                raise Answer("targets are bits: XOR the inputs (^, or the sum modulo 2), do not "
                             "add them.")
            for rule, hint in (("floor", "the lags are ceil(j d / p), not floor(j d / p) (they "
                                         "differ when p does not divide j d)"),
                               ("step", "spread the lags as ceil(j d / p); j (d // p) loses the "
                                        "remainder, so the longest lag is not d"),
                               ("from0", "j runs from 1 to p: the lags are ceil(d/p), ..., d "
                                         "(j = 0 would XOR in x_t itself)")):
                lags = _parity_lags(delay, order, rule)
                if min(lags) >= 0 and np.array_equal(_xor_of_lags(bits, delay, lags)[batch.mask],
                                                     got_scored):
                    raise Answer(hint + f"; with p={order}, d={delay} the lags are "
                                 f"{[-(-j * delay // order) for j in range(1, order + 1)]}.")
            raise Answer(f"wrong for p={order}, d={delay}: z_t = XOR over j = 1..p of "
                         "x_{t - ceil(j d / p)}, for t >= d (time 0-indexed). p = 1 is the copy "
                         "task and p = 2 the XOR task.")
    return run(name, cases)


def reference_task_loss(logits, targets, mask) -> float:
    """Binary cross-entropy on logits, log(1 + e^y) - z y, averaged over the scored steps and the
    batch (numpy; stable for large |y|)."""
    y, z = np.asarray(logits, dtype=float), np.asarray(targets, dtype=float)
    return float(np.mean((np.logaddexp(0.0, y) - z * y)[np.asarray(mask)]))


def _task_cases(seed, big=False):
    rng = np.random.default_rng(seed)
    delay = int(rng.integers(2, 8))
    batch = make_batch("xor", delay, int(rng.integers(2, 6)), delay + int(rng.integers(5, 15)),
                       seed)
    scale = 60.0 if big else 3.0
    logits = rng.standard_normal(batch.targets.shape) * scale
    return logits, batch.targets, batch.mask


@checker(reference_task_loss)
def check_task_loss(func, n_cases: int = 4) -> bool:
    """``func(logits, targets, mask)`` -> the binary cross-entropy on logits, averaged over the
    scored steps (mask (T,)) and the batch; logits and targets (T, B, 1)."""
    name = "task_loss"

    def cases():
        for case in range(n_cases):
            big = case == n_cases - 1                   # the last case: logits of size ~60
            logits, targets, mask = _task_cases(620 + case, big)
            want = reference_task_loss(logits, targets, mask)
            with np.errstate(all="ignore"):
                raw = call(name, func, logits, targets, mask)
            if big and np.ndim(raw) == 0 and not np.isfinite(float(np.asarray(raw))):
                raise Answer("with logits around +-60, 1 - sigmoid(y) rounds to 0 and log(0) is "
                             "-inf: use the stable form log(1 + e^y) - z y = np.logaddexp(0, y) - "
                             "z * y.")
            got = to_array(name, raw, (), "the loss (one number)")
            if close(got, want):
                continue
            scored = np.asarray(mask)
            full = float(np.mean(np.logaddexp(0.0, logits) - targets * logits))
            if close(got, full):
                raise Answer("average over the scored steps only (mask: t >= d), not every step.")
            if close(got, -want):
                raise Answer("the sign is flipped: the loss is -[z log s + (1 - z) log(1 - s)] "
                             "with s = sigmoid(y), which is >= 0.")
            total = float(np.sum((np.logaddexp(0.0, logits) - targets * logits)[scored]))
            if close(got, total):
                raise Answer("take the MEAN over the scored steps and the batch, not the sum.")
            raise Answer("per output: log(1 + e^y) - z y (np.logaddexp(0, y) - z * y), then the "
                         "mean over the steps where mask is True and over the batch.")
    return run(name, cases)


@checker(accuracy)
def check_scored_accuracy(func, n_cases: int = 4) -> bool:
    """``func(logits, targets, mask)`` -> the fraction of scored outputs predicted right:
    sigmoid(y) >= 1/2 (that is y >= 0) against z = 1."""
    name = "scored_accuracy"

    def cases():
        for case in range(n_cases):
            logits, targets, mask = _task_cases(630 + case)
            # mostly right, with many logits between 0 and 0.5 (where y >= 0.5 would differ)
            logits = logits * 0.3 + 0.4 * (2 * targets - 1)
            want = accuracy(logits, targets, mask)
            got = to_array(name, call(name, func, logits, targets, mask), (),
                           "the accuracy (one number)")
            if close(got, want):
                continue
            right = (logits >= 0) == (targets >= 0.5)
            if close(got, np.mean(right)):
                raise Answer("count the scored steps only (mask: t >= d).")
            if close(got, 1 - want):
                raise Answer("that is the error rate: return the fraction predicted RIGHT.")
            if close(got, accuracy(logits - 0.5, targets, mask)):
                raise Answer("the logit y is not a probability: sigmoid(y) >= 0.5 means y >= 0.")
            if close(got, np.sum(right[np.asarray(mask)])):
                raise Answer("return the fraction (a number between 0 and 1), not the count.")
            raise Answer("predicted bit = (y >= 0); compare with (z >= 0.5) on the steps where "
                         "mask is True; return the mean.")
    return run(name, cases)
