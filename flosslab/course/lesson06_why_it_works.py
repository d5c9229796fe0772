"""Notebook 06 (why it works): its sizes, computations, figures, dashboards and checkers, in that
order."""
from __future__ import annotations

import textwrap
from functools import lru_cache
from typing import NamedTuple

import ipywidgets as W
import matplotlib as mpl
import numpy as np

from ..core.conventions import init_rnn, random_bits
from ..core.errors import FlosslabError
from ..core.measures import effective_rank, log10_condition_number
from ..core.progress import progress_bar
from ..core.settings import fast_or_full
from ..core.style import AFTER, BEFORE, SCHEDULE_COLOURS, SCHEDULE_LABELS, SCHEDULE_MARKERS, new_figure
from ..core.tasks import make_batch
from ..core.trainconfig import describe_flossing
from ..core.validate import check_int, check_n_exponents, check_real
from ..reference import run_rnn, weight_gradient  # by name in the checkers
from .checking import Answer, call, checker, close, run, to_array
from .dashboard_machinery import Dashboard, slider
from .display import rescale, set_line
from .training_runs import describe_spread, train_seeds

# --- sizes -----------------------------------------------------------------------------------------


#: Choices of k offered by the flossing-checkpoint dashboard (notebook 06); all precomputed at once.
CHECKPOINT_KS = (2, 8, 16, 32)


def checkpoint_sizes() -> dict:
    return {"n_units": 32, "steps_per_checkpoint": fast_or_full(10, 20),
            "n_checkpoints": fast_or_full(2, 5), "window": 60,
            "seeds": tuple(range(fast_or_full(3, 5)))}


#: The comparison of flossing before and during training (notebook 06): delayed XOR where plain
#: BPTT fails, the small size, five seeds.
SCHEDULE_COMPARISON = {"task": "xor", "delay": 18, "schedules": ("none", "pre", "inter", "penalty"),
                       "seeds": tuple(range(fast_or_full(3, 5)))}


# --- computations ----------------------------------------------------------------------------------


class ConditionCurve(NamedTuple):
    """log10 kappa of the long-term Jacobian J_t over windows of t steps (first k singular values),
    measured, and as the exponents predict it: (lambda_1 - lambda_k) t / ln 10."""
    times: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    exponents: np.ndarray       # lambda_1..lambda_k (natural log per step)


@lru_cache(maxsize=256)
def condition_vs_window(gain: float = 1.0, n_exponents: int = 16, n_units: int = 32,
                        max_window: int = 120, n_windows: int = 7, seed: int = 0) -> ConditionCurve:
    """Measured and predicted log10 kappa(J_t) of one network driven by random bits (torch engine).

    The windows start after 40 transient steps; the exponents come from 300 further steps."""
    from .. import engine
    gain = check_real("the gain g", gain, minimum=0.05, maximum=5.0)
    k = check_n_exponents(n_exponents, n_units)
    if k < 2:
        raise FlosslabError("a condition number compares sigma_1 with sigma_k: it needs k >= 2 "
                            "(with k = 1 it is 1 by definition)")
    params = engine.init_rnn(n_units, gain, seed=seed)
    times = np.unique(np.linspace(max_window / n_windows, max_window, n_windows).astype(int))
    bits = random_bits(40 + max_window, 1, [seed, 13])
    times, measured = engine.condition_number_curve(params, bits, n_values=k, times=times,
                                                    transient=40, n_passes=2, seed=seed)
    lam = engine.lyapunov_spectrum(params, random_bits(340, 1, [seed, 14]), n_exponents=k,
                                   transient=40, seed=seed).cpu().numpy()
    return ConditionCurve(times, measured, (lam[0] - lam[-1]) * times / np.log(10.0), lam)


def _ensemble_losses(params: dict, batch):
    """Task loss of each member of an ensemble on the same batch: (E,) tensor."""
    import torch

    from .. import engine
    from ..engine.training import bce
    e = params["W"].shape[0]
    w = params["W"]
    inputs = torch.as_tensor(batch.inputs, dtype=w.dtype).unsqueeze(1).expand(-1, e, -1, -1)
    targets = torch.as_tensor(batch.targets, dtype=w.dtype).unsqueeze(1).expand(-1, e, -1, -1)
    logits = engine.readout(params, engine.run_rnn(params, inputs))
    mask = torch.as_tensor(batch.mask)
    return bce(logits, targets)[mask].mean(dim=(0, 2, 3))


def weight_gradients(params: dict, batch) -> np.ndarray:
    """dL/dW of the task loss on ``batch`` for every member of an ensemble: (E, N, N) (torch
    autograd)."""
    import torch
    w = params["W"].detach().clone().requires_grad_(True)
    losses = _ensemble_losses({**{n: v.detach() for n, v in params.items()}, "W": w}, batch)
    (grad,) = torch.autograd.grad(losses.sum(), w)
    return grad.cpu().numpy()


class GradientPieces(NamedTuple):
    """What dL/dW is made of, for one network on one batch (time-major, float64 numpy)."""
    states: np.ndarray          # (T+1, B, N): h_0 (zeros), h_1, ..., h_T
    pre: np.ndarray             # (T, B, N): a_1, ..., a_T
    deltas: np.ndarray          # (T, B, N): delta_t = dL/dh_t (total derivative), t = 1..T
    grad_w: np.ndarray          # (N, N): dL/dW by torch autograd


def gradient_pieces(params: dict, batch) -> GradientPieces:
    """States, pre-activations and backpropagated errors delta_t = dL/dh_t (by autograd: a zero
    perturbation added to each state is differentiated), and dL/dW (torch engine)."""
    import torch

    from .. import engine
    from ..engine.training import task_loss
    p = engine.to_torch(params)
    w = p["W"].detach().clone().requires_grad_(True)
    p["W"] = w
    inputs = torch.as_tensor(batch.inputs, dtype=w.dtype)
    t_len, b = inputs.shape[:2]
    n = w.shape[0]
    eps = torch.zeros((t_len, b, n), dtype=w.dtype, requires_grad=True)
    h = torch.zeros((b, n), dtype=w.dtype)
    states, pre = [h], []
    for t in range(t_len):
        a = h @ w.mT + inputs[t] @ p["U"].mT + p["b"]
        h = torch.tanh(a) + eps[t]
        pre.append(a)
        states.append(h)
    loss = task_loss(engine.readout(p, torch.stack(states[1:])),
                     torch.as_tensor(batch.targets, dtype=w.dtype), batch.mask)
    deltas, grad_w = torch.autograd.grad(loss, (eps, w))
    def as_np(x):
        return x.detach().cpu().numpy()
    return GradientPieces(as_np(torch.stack(states)), as_np(torch.stack(pre)), as_np(deltas),
                          as_np(grad_w))


@lru_cache(maxsize=4)
def flossed_pair(n_units: int = 32, n_exponents: int = 16, floss_steps: int = 100,
                 lr: float = 0.01, seed: int = 0) -> tuple:
    """(before, after): a network (g = 1) and the same network flossed (numpy parameters)."""
    from .. import engine
    before = engine.init_rnn(n_units, 1.0, seed=seed)
    after, _ = engine.floss(before, floss_steps, n_exponents, 0.0, lr, seed=seed)
    return engine.to_numpy(before), engine.to_numpy(after)


def jacobian_log_sv(params: dict, n_exponents: int, window: int = 60, seed: int = 0) -> np.ndarray:
    """Natural logs of the k largest singular values of J_t over ``window`` steps of random bits
    (after 40 transient steps), torch engine."""
    from .. import engine
    p = engine.to_torch(params)
    _, pre = engine.run_rnn(p, random_bits(40 + window, 1, [seed, 8]), return_preactivations=True)
    return engine.log_singular_values(p, pre[40:], n_values=n_exponents, seed=seed).cpu().numpy()


class SeedCheckpoints(NamedTuple):
    """Networks flossed in episodes, measured after each; one row per seed."""
    n_exponents: int
    seeds: tuple
    steps: np.ndarray           # (C+1,) flossing steps done at each checkpoint
    cond: np.ndarray            # (E, C+1) log10 kappa of J_t over the window (first k)
    eff_rank: np.ndarray        # (E, C+1) effective rank of dL/dW on a fixed task batch
    log_sv: np.ndarray          # (E, C+1, k) natural-log singular values of J_t
    window: int


@lru_cache(maxsize=8)
def flossing_checkpoints_seeds(ks: tuple = CHECKPOINT_KS, n_units: int = 32,
                               steps_per_checkpoint: int = 20, n_checkpoints: int = 5,
                               window: int = 60, seeds: tuple = (0, 1, 2, 3, 4),
                               task: str = "copy", delay: int = 20, lr: float = 0.01,
                               progress=False) -> dict:
    """{k: :class:`SeedCheckpoints`}: every (k, seed) network (g = 1) flossed in episodes of
    ``steps_per_checkpoint`` steps (a fresh Adam each, as in interflossing), all as one ensemble on
    the torch engine; after each episode log10 kappa of J_t over a ``window``-step stretch of
    random bits (after 40 transient steps) and the effective rank of dL/dW on a fixed batch."""
    from .. import engine
    ks = tuple(check_n_exponents(k, n_units) for k in ks)
    window = check_int("the window length t", window, minimum=2, maximum=1000)
    members = [(k, s) for k in ks for s in seeds]
    params = engine.init_ensemble(n_units, 1.0, seeds=[s for _, s in members])
    batch = make_batch(task, delay, 16, None, [0, 6])
    e = len(members)
    bits = np.stack([random_bits(40 + window, 1, [s, 8]) for _, s in members], axis=1)
    cond = np.zeros((e, n_checkpoints + 1))
    rank = np.zeros((e, n_checkpoints + 1))
    log_sv = [[None] * (n_checkpoints + 1) for _ in range(e)]
    bar = progress_bar(progress, n_checkpoints + 1,
                       f"{n_checkpoints} episodes of "
                       + describe_flossing(list(ks), steps_per_checkpoint, e)
                       + ", measured after each")
    try:
        for c in range(n_checkpoints + 1):
            if c:
                params, _ = engine.floss_in_chunks(params, steps_per_checkpoint,
                                                   [k for k, _ in members], 0.0, lr,
                                                   seeds=[s + 100 * c for _, s in members])
            _, pre = engine.run_rnn(params, bits, return_preactivations=True)
            for i, (k, s) in enumerate(members):
                one = {name: value[i] for name, value in params.items()}
                sv = engine.log_singular_values(one, pre[40:, i], n_values=k, n_passes=3,
                                                seed=s).cpu().numpy()
                log_sv[i][c] = sv
                cond[i, c] = log10_condition_number(sv)
            for i, g in enumerate(weight_gradients(params, batch)):
                rank[i, c] = effective_rank(g)
            bar.update(1)
    finally:
        bar.close()
    steps = np.arange(n_checkpoints + 1) * steps_per_checkpoint
    out = {}
    for k in ks:
        rows = [i for i, (kk, _) in enumerate(members) if kk == k]
        out[k] = SeedCheckpoints(k, tuple(seeds), steps, cond[rows], rank[rows],
                                 np.asarray([log_sv[i] for i in rows]), window)
    return out


def schedule_comparison(progress=False) -> dict:
    """{schedule: :class:`SeedRuns`} for :data:`SCHEDULE_COMPARISON` (one ensemble, cached)."""
    c = SCHEDULE_COMPARISON
    return train_seeds(c["task"], c["delay"], c["schedules"], seeds=c["seeds"], progress=progress)


# --- figures ---------------------------------------------------------------------------------------


def condition_window_figure(curve, gain: float):
    """log10 kappa(J_t) against the window t: measured (points) and (lambda_1 - lambda_k) t / ln 10
    (line); right: the exponents lambda_1..lambda_k."""
    fig, (ax, ax_s) = new_figure(ncols=2, width=10.0, height=3.5)
    art = {"axes": (ax, ax_s)}
    art["measured"], = ax.plot([], [], "o", ms=7, color="tab:blue", label="measured (subspace iteration)")
    art["predicted"], = ax.plot([], [], "-", color="tab:red",
                                label=r"$(\lambda_1-\lambda_k)\,t\,/\ln 10$")
    ax.set(xlabel="window length t (steps)", ylabel=r"$\log_{10}\kappa(J_t)$",
           title="Condition number of the long-term Jacobian")
    ax.legend(fontsize="small", loc="upper left")
    art["spectrum"], = ax_s.plot([], [], "o-", ms=4, color="tab:blue")
    art["ends"], = ax_s.plot([], [], "o", ms=9, mfc="none", mec="tab:red", mew=2)
    ax_s.axhline(0.0, color="k", lw=0.8)
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Exponents")
    ax_s.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    update_condition_window(art, curve, gain)
    return fig, art


def update_condition_window(art, curve, gain: float):
    ax, ax_s = art["axes"]
    set_line(art["measured"], curve.times, curve.measured)
    t = np.linspace(0, curve.times[-1], 50)
    set_line(art["predicted"], t, (curve.exponents[0] - curve.exponents[-1]) * t / np.log(10))
    lam = np.asarray(curve.exponents)
    set_line(art["spectrum"], np.arange(1, lam.size + 1), lam)
    set_line(art["ends"], [1, lam.size], [lam[0], lam[-1]])
    ax_s.set_title(rf"Exponents at g = {gain:.2f}: $\lambda_1-\lambda_k$ = {lam[0] - lam[-1]:.3f}")
    rescale(ax)
    ax.set_ylim(bottom=0)
    rescale(ax_s)


#: Seed lines drawn at most per schedule when every seed is asked for (faint): more turn a panel
#: into a tangle that cannot be read from the back of a room.
MAX_SEED_LINES = 5


def _band(ax, x, values, colour, label=None, seeds=False, marker="o"):
    """Median (thick, with markers), interquartile band and, if ``seeds``, the first
    :data:`MAX_SEED_LINES` rows of ``values`` as faint thin lines."""
    values = np.asarray(values, dtype=float)
    q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=0)
    out = ax.plot(x, q50, "-", marker=marker, ms=6, lw=2.6, color=colour, label=label)
    out.append(ax.fill_between(x, q25, q75, color=colour, alpha=0.18, lw=0))
    if seeds:
        for row in values[:MAX_SEED_LINES]:
            out += ax.plot(x, row, "-", lw=0.7, alpha=0.35, color=colour)
    return out


def seed_checkpoints_figure(ckpt, selected: int = 0):
    """log10 kappa(J_t) and the effective rank of dL/dW against flossing steps (median and
    quartiles over seeds), and the singular values of J_t at the selected checkpoint against those
    before flossing (median over seeds, legend below the panel)."""
    fig, axes = new_figure(ncols=3, width=11.0, height=3.8)
    art = {"axes": axes, "lines": []}
    axes[0].set(xlabel="flossing steps", ylabel=r"$\log_{10}\kappa(J_t)$")
    axes[1].set(xlabel="flossing steps", ylabel="effective rank",
                title=r"Effective rank of $\partial L/\partial W$")
    axes[2].set(xlabel="index i", ylabel=r"$\log_{10}\sigma_i(J_t)$",
                title=r"Singular values of $J_t$ (median)")
    ax_s = axes[2]
    art["sv_now"], = ax_s.plot([], [], "o-", ms=4, lw=2.4, color=AFTER)
    art["sv_before"], = ax_s.plot([], [], "--", lw=1.8, color=BEFORE, label="before flossing")
    update_seed_checkpoints(art, ckpt, selected)
    art["sv_legend"] = ax_s.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2,
                                   frameon=False)
    _sync_sv_legend(art)
    return fig, art


def _sync_sv_legend(art):
    """The singular-value panel's legend says what its lines now show (the "before" entry only
    while a later checkpoint is drawn)."""
    legend = art.get("sv_legend")
    if legend is None:
        return
    shown = art["sv_before"].get_visible()
    legend.get_texts()[0].set_text(art["sv_now"].get_label())
    legend.get_lines()[1].set_visible(shown)
    legend.get_texts()[1].set_visible(shown)


def update_seed_checkpoints(art, ckpt, selected: int):
    ax_c, ax_r, ax_s = art["axes"]
    for a in art["lines"]:
        a.remove()
    art["lines"] = []
    steps = np.asarray(ckpt.steps)
    art["lines"] += _band(ax_c, steps, ckpt.cond, "tab:blue")
    art["lines"] += _band(ax_r, steps, ckpt.eff_rank, "tab:green", marker="s")
    i = int(selected)
    for ax, values in ((ax_c, ckpt.cond), (ax_r, ckpt.eff_rank)):
        art["lines"] += ax.plot([steps[i]], [np.median(values[:, i])], "o", ms=13, mfc="none",
                                mec="k", mew=2.2)
    log_sv = np.asarray(ckpt.log_sv) / np.log(10.0)
    idx = np.arange(1, log_sv.shape[2] + 1)
    art["lines"].append(ax_s.fill_between(idx, *np.percentile(log_sv[:, i, :], [25, 75], axis=0),
                                          color=AFTER, alpha=0.18, lw=0))
    set_line(art["sv_now"], idx, np.median(log_sv[:, i, :], axis=0))
    set_line(art["sv_before"], idx, np.median(log_sv[:, 0, :], axis=0))
    art["sv_now"].set_label(f"after {steps[i]} flossing steps")
    art["sv_before"].set_visible(bool(i))
    _sync_sv_legend(art)
    ax_s.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax_c.set_title(f"Condition number, k = {ckpt.n_exponents}, t = {ckpt.window}")
    for ax in art["axes"]:
        rescale(ax)


def schedules_figure(runs: dict, shown=None, seeds: bool = False):
    """Several schedules on several seeds: accuracy, lambda_1 and the effective rank of dL/dW over
    training (median and quartile band per schedule; faint seed lines on request), and the final
    accuracy of every seed. One legend, below the panels."""
    fig, axes = new_figure(ncols=2, nrows=2, width=10.5, height=5.4)    # fits 800 px with controls
    art = {"axes": axes, "lines": []}
    axes[0].set(xlabel="epoch", ylabel="accuracy", title="Accuracy (fresh sequences)",
                ylim=(0.4, 1.02))
    axes[1].set(ylabel="final accuracy", title="Final accuracy, every seed", ylim=(0.4, 1.02))
    axes[2].set(xlabel="epoch", ylabel=r"$\lambda_1$ (per step)", title=r"Largest exponent $\lambda_1$")
    axes[3].set(xlabel="epoch", ylabel="effective rank",
                title=r"Effective rank of $\partial L/\partial W$")
    update_schedules(art, runs, shown, seeds)
    return fig, art


def update_schedules(art, runs: dict, shown=None, seeds: bool = False):
    ax_a, ax_f, ax_l, ax_r = art["axes"]
    for a in art["lines"]:
        a.remove()
    art["lines"] = []
    shown = list(runs) if shown is None else [s for s in runs if s in shown]
    for j, s in enumerate(shown):
        r, colour = runs[s], SCHEDULE_COLOURS.get(s)
        label, marker = SCHEDULE_LABELS.get(s, s), SCHEDULE_MARKERS.get(s, "o")
        art["lines"] += _band(ax_a, r.eval_epochs, r.accuracy, colour, label, seeds, marker)
        art["lines"] += _band(ax_l, r.eval_epochs, r.lam1, colour, None, seeds, marker)
        art["lines"] += _band(ax_r, r.eval_epochs, r.grad_rank, colour, None, seeds, marker)
        final = np.asarray(r.final)
        jitter = np.linspace(-0.15, 0.15, final.size)
        art["lines"] += ax_f.plot(j + jitter, final, marker, ms=8, color=colour, alpha=0.8)
        art["lines"] += ax_f.plot([j - 0.3, j + 0.3], [np.median(final)] * 2, "-", lw=3,
                                  color=colour)
    ax_f.set_xticks(range(len(shown)), [textwrap.fill(SCHEDULE_LABELS.get(s, s), 14)
                                        for s in shown])
    ax_f.set_xlim(-0.6, max(len(shown), 1) - 0.4)
    art["lines"].append(ax_l.axhline(0.0, color="k", lw=0.8))
    if art.get("legend") is not None:
        art["legend"].remove()
        art["legend"] = None
    handles, labels = ax_a.get_legend_handles_labels()
    if handles:
        art["legend"] = ax_a.figure.legend(handles, labels, loc="outside lower center",
                                           ncols=len(handles))
    for ax in (ax_a, ax_l, ax_r):
        rescale(ax)
    ax_a.set_ylim(0.4, 1.02)


def gradient_sv_figure(sv_before, sv_after, rank_before: float, rank_after: float):
    """The effective-rank weights pi_i = s_i / sum s of dL/dW before and after flossing."""
    fig, (ax,) = new_figure(width=6.5, height=3.4)
    for sv, colour, label, rank in ((sv_before, BEFORE, "before flossing", rank_before),
                                    (sv_after, AFTER, "after flossing", rank_after)):
        sv = np.sort(np.asarray(sv, dtype=float))[::-1]
        ax.semilogy(np.arange(1, sv.size + 1), sv / sv.sum(), "o-", ms=4, color=colour,
                    label=f"{label}: effective rank {rank:.1f}")
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="index i", ylabel=r"$\pi_i = s_i / \sum_j s_j$",
           title=r"Singular values of $\partial L/\partial W$ (normalised)")
    ax.legend(fontsize="small", loc="lower left")
    return fig, {"ax": ax}


def rank_vs_condition_figure(checkpoints: dict):
    """Effective rank of dL/dW against log10 kappa(J_t) at every checkpoint of every seed, one
    colour per k."""
    fig, (ax,) = new_figure(width=6.5, height=3.6)
    colours = mpl.colormaps["viridis"](np.linspace(0.1, 0.85, len(checkpoints)))
    for (k, c), colour in zip(checkpoints.items(), colours):
        ax.plot(np.ravel(c.cond), np.ravel(c.eff_rank), "o", ms=5, alpha=0.7, color=colour,
                label=f"k = {k}")
    ax.set(xlabel=r"$\log_{10}\kappa(J_t)$", ylabel=r"effective rank of $\partial L/\partial W$",
           title="Every checkpoint of every seed")
    ax.legend(fontsize="small")
    return fig, {"ax": ax}


# --- dashboards ------------------------------------------------------------------------------------


def condition_dashboard(gain=1.0, n_exponents=16, n_units=32, max_window=120):
    """Gain g and k -> log10 kappa(J_t) against the window t, measured and predicted from the
    exponents (one network, torch engine; each setting computed once, then cached)."""
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 2.0, 0.1),
        "n_exponents": slider(W.IntSlider, "k (σ₁ / σₖ)", n_exponents, 1,
                              n_units),
    }

    def compute(gain, n_exponents):
        return (condition_vs_window(round(float(gain), 2), n_exponents, n_units, max_window),
                round(gain, 2))

    def note(data, values):
        c, g = data
        slope = np.polyfit(c.times, c.measured, 1)[0]
        spread = c.exponents[0] - c.exponents[-1]
        return (f"measured slope {slope:.3f} decades per step; (&lambda;<sub>1</sub> - "
                f"&lambda;<sub>k</sub>) / ln 10 = {spread / np.log(10):.3f}")

    return Dashboard(controls, compute, lambda d, v: condition_window_figure(*d),
                     lambda art, d, v: update_condition_window(art, *d), height="350px", note=note)


def checkpoint_note(c, i: int) -> str:
    """The status line of the flossing-checkpoint dashboard: medians over seeds, and how steady."""
    cond, rank = np.median(c.cond, axis=0), np.median(c.eff_rank, axis=0)
    ups = int(np.sum(np.diff(rank) > 0))
    downs = int(np.sum(np.diff(cond) < 0))
    return (f"median over {len(c.seeds)} seeds after {c.steps[i]} steps: log<sub>10</sub>&kappa; "
            f"{cond[0]:.1f} &rarr; {cond[i]:.1f}, effective rank {rank[0]:.1f} &rarr; "
            f"{rank[i]:.1f}. Between checkpoints the median &kappa; fell {downs} of "
            f"{len(cond) - 1} times and the rank rose {ups} of {len(rank) - 1} times"
            + (": not monotone, the single steps are noisy" if min(ups, downs) < len(cond) - 1
               else ""))


def why_dashboard(n_exponents=16, checkpoints: dict | None = None):
    """k and the number of flossing steps -> condition number, gradient effective rank and
    singular values over several seeds. Everything is precomputed (one ensemble for all k and
    seeds, :func:`flossing_checkpoints_seeds`): a change only redraws."""
    if checkpoints is None:
        checkpoints = flossing_checkpoints_seeds(CHECKPOINT_KS, **checkpoint_sizes())
    first = next(iter(checkpoints.values()))
    controls = {
        "n_exponents": W.ToggleButtons(options=list(checkpoints), value=n_exponents,
                                       description="flossed k", style={"button_width": "50px"}),
        "checkpoint": W.SelectionSlider(options=[(str(s), i) for i, s in enumerate(first.steps)],
                                        value=0, description="flossing steps",
                                        continuous_update=True,
                                        style={"description_width": "initial"}),
    }
    info = W.HTML(f"N = 32, gain 1, window t = {first.window} steps, seeds "
                  f"{', '.join(map(str, first.seeds))}; flossing in episodes of "
                  f"{first.steps[1] - first.steps[0]} steps (a fresh Adam each).")

    def compute(n_exponents, checkpoint):
        return checkpoints[n_exponents], checkpoint

    return Dashboard(controls, compute, lambda d, v: seed_checkpoints_figure(*d),
                     lambda art, d, v: update_seed_checkpoints(art, *d), height="360px",
                     extra=[info], note=lambda d, v: checkpoint_note(*d))


def schedules_dashboard(runs: dict):
    """Which schedules, and whether the seeds are drawn (faint) -> accuracy, lambda_1 and effective
    rank over training (median and quartiles over seeds) from finished runs (redraw only)."""
    options = [(SCHEDULE_LABELS.get(s, s), s) for s in runs]
    controls = {
        "shown": W.SelectMultiple(options=options, value=tuple(runs), rows=len(runs),
                                  description="schedules"),
        "seeds": W.Checkbox(value=False, description=f"draw the seeds (at most {MAX_SEED_LINES})"),
    }

    def note(data, values):
        return "; ".join(f"{SCHEDULE_LABELS.get(s, s)}: {describe_spread(runs[s].final)}"
                         for s in values["shown"])

    return Dashboard(controls, lambda shown, seeds: (runs, shown, seeds),
                     lambda d, v: schedules_figure(*d),
                     lambda art, d, v: update_schedules(art, *d), height="540px", note=note)


# --- checkers --------------------------------------------------------------------------------------


@checker(effective_rank)
def check_effective_rank(func, n_cases: int = 4) -> bool:
    """``func(M)`` -> exp(entropy of the normalised singular values); tested on full-rank,
    rank-deficient and diagonal matrices with zero singular values (0 log 0 counts as 0)."""
    name = "my_effective_rank"

    def cases():
        mats = []
        for case in range(n_cases):
            rng = np.random.default_rng(700 + case)
            m, n = int(rng.integers(2, 9)), int(rng.integers(2, 9))
            r = int(rng.integers(1, min(m, n) + 1))
            mats.append(rng.standard_normal((m, r)) @ rng.standard_normal((r, n)))
        mats += [np.diag([1.0, 0.0]), np.diag([3.0, 3.0, 0.0])]      # exact zeros: 0 log 0 = 0
        # near-zero but nonzero singular values, as the demo's dL/dW (32 x 32) has: a cut-off
        # ("numerical rank") changes the result
        rng = np.random.default_rng(704)
        u, _ = np.linalg.qr(rng.standard_normal((32, 32)))
        v, _ = np.linalg.qr(rng.standard_normal((32, 32)))
        mats.append((u * np.geomspace(1.0, 1e-9, 32)) @ v.T)
        for mat in mats:
            want = effective_rank(mat)
            with np.errstate(all="ignore"):
                raw = call(name, func, mat)
            s = np.linalg.svd(mat, compute_uv=False)
            try:
                nan = bool(np.isnan(np.asarray(raw, dtype=float)).any())
            except (TypeError, ValueError):
                nan = False
            if nan and np.any(s <= 1e-12 * s.max()):
                raise Answer("this matrix has singular values of exactly 0: leave them out (0 log 0 "
                             "counts as 0; np.log(0) is -inf and 0 * -inf is NaN), e.g. "
                             "p = p[p > 0].")
            got = to_array(name, raw, (), "the effective rank (one number)")
            if close(got, want, rtol=1e-6):
                continue
            s = np.linalg.svd(mat, compute_uv=False)
            p2 = s[s > 0] ** 2 / np.sum(s ** 2)
            if close(got, np.exp(-np.sum(p2 * np.log(p2))), rtol=1e-6):
                raise Answer("normalise the singular values themselves, p_i = s_i / sum s, not "
                             "their squares.")
            if s.min() > 0 and s.min() < 1e-6 * s.max():
                raise Answer("keep every nonzero singular value, however small (this matrix has "
                             f"singular values from {s.max():.0e} down to {s.min():.0e}, like the "
                             "demo's gradient): leave out only exact zeros (p = p[p > 0]), no "
                             "cut-off.")
            raise Answer("p_i = s_i / sum_j s_j from the singular values, then "
                         "exp(-sum p_i log p_i).")
    return run(name, cases)


@checker(log10_condition_number)
def check_log10_condition(func, n_cases: int = 4) -> bool:
    """``func(log_sv)`` -> log10(sigma_1 / sigma_k) from the natural logs of the k largest singular
    values, in descending order."""
    name = "log10_condition"

    def cases():
        rng = np.random.default_rng(640)
        tests = [np.sort(rng.uniform(-40, 5, size=int(rng.integers(2, 9))))[::-1]
                 for _ in range(n_cases)]
        tests.append(np.array([-2.0, -300.0, -800.0]))          # sigma_k underflows: 1e-348
        tests.append(np.array([-1.5]))                          # k = 1: kappa = 1
        for log_sv in tests:
            want = log10_condition_number(log_sv)
            with np.errstate(all="ignore"):
                raw = call(name, func, log_sv.copy())
            if log_sv[-1] < -745 and np.ndim(raw) == 0 and not np.isfinite(float(np.asarray(raw))):
                raise Answer("sigma_k = e^-800 underflows to 0 in float64 (the long-term Jacobian "
                             "spans hundreds of orders of magnitude): never exponentiate, subtract "
                             "the logs.")
            got = to_array(name, raw, (), "log10 kappa (one number)")
            if close(got, want):
                continue
            if close(got, want * np.log(10.0)):
                raise Answer("the inputs are NATURAL logs: divide the difference by ln 10 to get "
                             "log10.")
            if close(got, -want):
                raise Answer("the sign is flipped: kappa = sigma_1 / sigma_k >= 1, so its log is "
                             ">= 0 (the largest singular value comes first).")
            raise Answer("log10 kappa = (log sigma_1 - log sigma_k) / ln 10, with the first and "
                         "the last entry of log_sv.")
    return run(name, cases)


def reference_deltas(params, batch, pre):
    """delta_t = dL/dh_t (total derivative) by the backward recursion, numpy, for the task loss
    (mean binary cross-entropy over the scored steps and the batch, readout y_t = V h_t + c)."""
    v, w = params["V"], params["W"]
    h = np.tanh(pre)
    y = h @ v.T + params["c"]
    n_scored = np.sum(batch.mask) * batch.inputs.shape[1]
    direct = ((1.0 / (1.0 + np.exp(-y)) - batch.targets) * batch.mask[:, None, None]
              / n_scored) @ v                                      # (T, B, N)
    deltas = np.zeros_like(pre)
    deltas[-1] = direct[-1]
    slope = 1.0 - h ** 2
    for t in range(len(pre) - 1, 0, -1):
        deltas[t - 1] = direct[t - 1] + (slope[t] * deltas[t]) @ w
    return deltas


def reference_weight_gradient(states, pre, deltas):
    """dL/dW = sum over t and the batch of outer(tanh'(a_t) * delta_t, h_{t-1}), from the states
    h_0..h_T (T+1, B, N), the pre-activations a_1..a_T and delta_t = dL/dh_t (T, B, N)."""
    states, pre, deltas = (np.asarray(x, dtype=float) for x in (states, pre, deltas))
    return np.einsum("tbi,tbj->ij", (1.0 - np.tanh(pre) ** 2) * deltas, states[:-1])


@checker(reference_weight_gradient)
def check_weight_gradient(func, n_cases: int = 3) -> bool:
    """``func(states, pre, deltas)`` -> dL/dW = sum over t and the batch of
    (tanh'(a_t) * delta_t) h_{t-1}^T; states (T+1, B, N) are h_0 (zeros), ..., h_T; pre (T, B, N)
    a_1..a_T; deltas (T, B, N) delta_t = dL/dh_t. Compared with autograd's dL/dW."""
    name = "weight_gradient"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(650 + case)
            n, delay = int(rng.integers(3, 9)), int(rng.integers(2, 6))
            params = init_rnn(n, float(rng.uniform(0.7, 1.8)), seed=case)
            batch = make_batch("copy", delay, int(rng.integers(2, 5)), delay + 8, seed=case)
            states, pre = run_rnn(params, batch.inputs, return_preactivations=True)
            states = np.concatenate([np.zeros_like(states[:1]), states])
            deltas = reference_deltas(params, batch, pre)
            want = weight_gradient(params, batch)
            got = to_array(name, call(name, func, states.copy(), pre.copy(), deltas.copy()),
                           want.shape, "dL/dW (N x N)")
            if close(got, want, rtol=1e-6, atol=1e-10):
                continue
            scaled = (1.0 - np.tanh(pre) ** 2) * deltas
            if close(got, want.T, rtol=1e-6, atol=1e-10):
                raise Answer("transposed: row i of dL/dW belongs to unit i's error, so it is "
                             "(tanh'(a_t) * delta_t) h_{t-1}^T, error first.")
            if close(got, np.einsum("tbi,tbj->ij", scaled, states[1:]), rtol=1e-6, atol=1e-10):
                raise Answer("off by one step: W multiplies the PREVIOUS state, so pair a_t and "
                             "delta_t with h_{t-1} = states[t-1] (states[0] is h_0).")
            if close(got, np.einsum("tbi,tbj->ij", deltas, states[:-1]), rtol=1e-6, atol=1e-10):
                raise Answer("the error must pass through the tanh first: multiply delta_t by "
                             "tanh'(a_t) = 1 - tanh(a_t)^2 elementwise.")
            if close(got * batch.inputs.shape[1], want, rtol=1e-6, atol=1e-10):
                raise Answer("sum over the batch (the loss already averages), do not take the "
                             "mean.")
            raise Answer("dL/dW = sum over t and b of outer(tanh'(a_t) * delta_t, h_{t-1}); "
                         "np.einsum('tbi,tbj->ij', ...) does it in one line.")
    return run(name, cases)
