"""Notebook 04 (gradient flossing): its sizes, computations, figures, dashboards and checkers, in
that order."""
from __future__ import annotations

import html
from functools import lru_cache
from typing import NamedTuple

import ipywidgets as W
import numpy as np
from autograd import grad, value_and_grad

from .. import reference
from ..core.conventions import DYNAMIC_PARAMS, init_rnn, random_bits
from ..core.errors import FlosslabError
from ..core.progress import progress_bar
from ..core.records import FlossHistory
from ..core.settings import fast_or_full
from ..core.style import AFTER, BEFORE, new_figure
from ..core.tasks import make_batch
from ..core.validate import check_int, check_n_exponents, check_real
from ..paper.results import load
from ..reference import flossing_loss  # by name in the checkers
from .cache import Store
from .checking import Answer, call, checker, close, run, to_array, to_tuple, whose
from .dashboard_machinery import Dashboard, slider
from .display import (
    integer_ticks,
    lam,
    lams,
    legend_outside,
    light_log_axis,
    rescale,
    running_median,
    set_line,
    skip_layout_pass,
)
from .loss_curves import loss_rose, loss_still_falling
from .training_runs import describe_spread  # noqa: F401 (the notebook's spread over seeds)

# --- sizes -----------------------------------------------------------------------------------------


# Flossing with the torch engine (the reference's numbers to round-off, ~10x faster): a run is kept
# with its Adam state at every step count asked for, so that asking for more steps continues it
# (exactly the run of that length, see :func:`floss_continued`) instead of starting over.

def flossing_defaults() -> dict:
    """Sizes of notebook 04's demos, the same in fast mode (so that its printed claims are too)
    except the student's numpy loop (demo 1) and the bonus run: N = 16, k = 4, 80 Adam steps at lr 0.01 (the
    dashboard offers 40-160 steps and a "larger" N = 32). ``tol``: the rms distance (per step) of
    lambda_1..lambda_k from the target below which flossing counts as converged."""
    return {"n_units": 16, "larger_units": 32, "n_exponents": 4, "n_steps": 80,
            "step_choices": (40, 80, 160), "lr": 0.01, "tol": 0.1, "seeds": (0, 1, 2, 3, 4),
            "cond_times": (10, 25, 50, 75, 100), "loop_units": 8, "loop_k": 2,
            "loop_steps": fast_or_full(10, 20), "loop_lr": 0.02,
            "bonus_steps": fast_or_full(160, 320)}


# --- computations ----------------------------------------------------------------------------------


class FlossingResult(NamedTuple):
    gain: float
    n_exponents: int
    target: float
    n_units: int
    n_steps: int
    lr: float
    seed: int
    params_before: dict             # numpy
    params_after: dict
    losses: np.ndarray              # L_floss at each flossing step (its own 55-step window)
    window_exponents: np.ndarray    # (n_steps, k): the exponents each step's loss was made of
    spectrum_before: np.ndarray     # all N exponents, on the same 600 bits before and after
    spectrum_after: np.ndarray
    distance_half: float            # rms distance of lambda_1..k from the target after n_steps // 2
    grad_times: np.ndarray
    grad_before: np.ndarray         # ||dL/dh_t||, copy task, loss at the last step (t = 80)
    grad_after: np.ndarray
    cond_times: np.ndarray
    cond_before: np.ndarray | None  # log10 kappa(J_t), first k singular values; None when k = 1
    cond_after: np.ndarray | None


#: Flossing runs kept to be resumed, {(settings, n_steps): (torch params, FlossHistory,
#: FlossState)}: asking for more steps continues the longest shorter run (a bounded
#: :class:`flosslab.course.cache.Store`; training runs are in :mod:`.training_runs`).
FLOSSING_RUNS = Store("flossing runs", max_items=512)


def floss_continued(gain: float, n_exponents: int, target: float, n_units: int, n_steps: int,
                    lr: float, seed: int = 0, reorth_every="auto"):
    """``engine.floss(engine.init_rnn(n_units, gain, seed=seed), n_steps, k, target, lr, seed=seed,
    reorth_every=reorth_every)``, continued (``engine.floss``'s ``state=``) from the longest
    shorter run of the same settings kept in :data:`FLOSSING_RUNS`: the same bits, frames and
    Adam moments, so the same numbers. Returns (numpy params, :class:`FlossHistory`)."""
    from .. import engine
    n_steps = check_int("the number of flossing steps", n_steps, minimum=0, maximum=5000)
    key = (float(gain), int(n_exponents), float(target), int(n_units), float(lr), int(seed),
           reorth_every)
    starts = sorted((s for k, s in FLOSSING_RUNS.keys() if k == key and s <= n_steps),
                    reverse=True)
    kept = next(filter(None, (FLOSSING_RUNS.get((key, s)) for s in starts)), None)
    if kept is None:
        params, before, state = engine.init_rnn(n_units, gain, seed=seed), None, None
    else:
        params, before, state = kept
    start = 0 if state is None else state.step
    params, hist, state = engine.floss(params, n_steps - start, n_exponents, target, lr,
                                       reorth_every=reorth_every, seed=seed, state=state,
                                       return_state=True)
    if before is not None:
        hist = FlossHistory(np.concatenate([before.losses, hist.losses]),
                            np.concatenate([before.spectra, hist.spectra]))
    FLOSSING_RUNS.put((key, n_steps), (params, hist, state))
    return engine.to_numpy(params), hist


SPECTRUM_STEPS = 600


@lru_cache(maxsize=512)
def _measure(params_key, k: int, seed: int):
    """Spectrum (600 bits), gradient norms (copy task, T = 80, loss at the last step) and log10
    kappa of J_t for t = 10, 25, 50, 75, 100 (first k singular values; None for k = 1) of one network.

    kappa comes from subspace iteration (4 passes, :func:`flosslab.engine.log_singular_values`):
    when the k singular values are close, as after flossing, the split between sigma_1 and sigma_k
    converges slowly; 4 passes keep log10 kappa within ~0.1 of an exact SVD (tested)."""
    import torch

    from .. import engine
    params = engine.to_torch(dict(params_key.value))
    with torch.no_grad():
        spec = engine.lyapunov_spectrum(params, random_bits(SPECTRUM_STEPS, 1, [seed, 3]),
                                        seed=seed)
    batch = make_batch("copy", 1, 4, 80, [seed, 4])
    grads = engine.state_gradient_norms(params, batch.inputs, batch.targets, batch.mask,
                                        loss_at="last")
    times = np.asarray(flossing_defaults()["cond_times"])
    cond = None
    if k >= 2:
        _, cond = engine.condition_number_curve(params, random_bits(140, 1, [seed, 5]),
                                                n_values=k, transient=40, times=times,
                                                n_passes=4, seed=seed)
    return spec.numpy(), grads, times, cond


class _Frozen:
    """A hashable stand-in for a parameter dict (by the bytes of its arrays), for the cache."""

    def __init__(self, params: dict):
        self.value = tuple((name, np.asarray(v)) for name, v in sorted(params.items()))
        self._hash = hash(tuple((name, v.tobytes()) for name, v in self.value))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return isinstance(other, _Frozen) and self._hash == other._hash and all(
            a == b and np.array_equal(x, y) for (a, x), (b, y) in zip(self.value, other.value))


@lru_cache(maxsize=256)
def flossing_run(gain: float = 1.0, n_exponents: int = 4, target: float = 0.0,
                 n_units: int = 16, n_steps: int = 80, lr: float = 0.01,
                 seed: int = 0) -> FlossingResult:
    """Floss a fresh network (torch engine, Adam) and measure it before and after on the same
    inputs: spectrum, gradient norms through time, condition number of the long-term Jacobian;
    also the distance of lambda_1..lambda_k from the target half way (is it still shrinking?)."""
    import torch

    from .. import engine
    gain = check_real("the gain g", gain, minimum=0.05, maximum=5.0)
    target = check_real("the target exponent", target, minimum=-2.0, maximum=1.0)
    k = check_n_exponents(n_exponents, n_units)
    before = init_rnn(n_units, gain, seed=seed)
    half, _ = floss_continued(gain, k, target, n_units, n_steps // 2, lr, seed)
    after, hist = floss_continued(gain, k, target, n_units, n_steps, lr, seed)
    with torch.no_grad():
        lam_half = engine.lyapunov_spectrum(engine.to_torch(half),
                                            random_bits(SPECTRUM_STEPS, 1, [seed, 3]),
                                            n_exponents=k, seed=seed).numpy()
    sb, gb, times, cb = _measure(_Frozen(before), k, seed)
    sa, ga, _, ca = _measure(_Frozen(after), k, seed)
    return FlossingResult(gain, k, target, n_units, n_steps, lr, seed, before, after, hist.losses,
                          hist.spectra, sb, sa, rms_distance(lam_half, target),
                          np.arange(1, gb.size + 1), gb, ga, times, cb, ca)


def rms_distance(exponents, target: float) -> float:
    """sqrt(mean_i (lambda_i - target)^2): how far the exponents are from the target, per step."""
    return float(np.sqrt(np.mean((np.asarray(exponents, dtype=float) - target) ** 2)))


class FlossingDiagnosis(NamedTuple):
    converged: bool
    distance_before: float          # rms over i <= k of (lambda_i - target), before flossing
    distance_after: float
    reasons: tuple                  # why it did not converge (empty when it did)
    message: str                    # one line for a status bar


def diagnose_flossing(result: FlossingResult, tol: float | None = None,
                      still_falling=loss_still_falling) -> FlossingDiagnosis:
    """Did flossing bring lambda_1..lambda_k (measured on 600 fresh bits) within ``tol`` (rms, per
    step; default ``flossing_defaults()["tol"]``) of the target? If not, say why, from the
    evidence (every reason that applies):

    - *chaotic*: lambda_1 > 0 before flossing;
    - *the loss rose*: the median of the last quarter of the steps is more than 1.5 times the
      first quarter's (the learning rate is too large for these dynamics);
    - *too few steps*: the loss is still falling (``still_falling(losses)``), or the distance to
      the target shrank by more than 20 % over the second half of the steps;
    - *the windows disagree with a long trajectory*: the loss (on 55-step windows) levelled
      off well below the squared distance seen on 600 steps: the exponents wander from window to
      window (a smaller learning rate helps);
    - *the target looks out of reach* (from this start, at this learning rate): none of these.
    """
    tol = flossing_defaults()["tol"] if tol is None else tol
    k, target = result.n_exponents, result.target
    before = rms_distance(result.spectrum_before[:k], target)
    after = rms_distance(result.spectrum_after[:k], target)
    losses = np.asarray(result.losses)
    n = losses.size
    reasons = []
    if after > tol:
        if result.spectrum_before[0] > 0:
            reasons.append(f"chaotic network ({lam(1)} = {result.spectrum_before[0]:+.2f} > 0 "
                           "before flossing)")
        if loss_rose(losses):
            reasons.append("the loss rose: the learning rate is too large for these dynamics")
        elif bool(still_falling(losses)):
            reasons.append(f"too few steps: the loss is still falling after {n} steps")
        elif after < 0.8 * result.distance_half:
            reasons.append(f"too few steps: the distance was still shrinking "
                           f"({result.distance_half:.2f} at step {n // 2})")
        level = float(np.median(losses[3 * n // 4:])) if n else float("nan")
        if not reasons and level < 0.5 * after ** 2:
            reasons.append(f"the 55-step windows look closer to the target (loss {level:.2g}) "
                           f"than 600 steps show ({after:.2f} squared = {after ** 2:.2g}): the "
                           "exponents wander; a smaller learning rate helps")
        if not reasons:
            reasons.append(f"the target looks out of reach from this start at this learning "
                           f"rate: the loss levelled off at {level:.2g}")
    word = "converged" if not reasons else "did not converge"
    message = (f"{word}: {lams(k)} {'is' if k == 1 else 'are'} {after:.3f} (rms) from the target "
               f"{target:+.2f} (tolerance {tol}; {before:.3f} before flossing)")
    if reasons:
        message += ". Why: " + "; ".join(reasons)
    return FlossingDiagnosis(not reasons, before, after, tuple(reasons), message)


@lru_cache(maxsize=64)
def condition_collapse(gain: float = 1.0, n_exponents: int = 4, n_units: int = 16,
                       n_steps: int = 80, lr: float = 0.01, window: int = 300, seed: int = 0):
    """log10 kappa(J_t) for t up to ``window`` before and after flossing (the live, small version
    of the measurement at the author's code-example size, N = 80, k = 75), at 7 window lengths.
    Returns (times, before, after).
    The curves come from the numpy reference (twice as fast as torch at these sizes); cached."""
    k = check_n_exponents(n_exponents, n_units)
    if k < 2:
        raise FlosslabError("a condition number needs k >= 2 singular values; choose k >= 2")
    after, _ = floss_continued(gain, k, 0.0, n_units, n_steps, lr, seed)
    times = _collapse_times(window)
    return (times, _condition_curve_initial(gain, k, n_units, window, seed),
            _condition_curve(after, k, window, seed))


def _collapse_times(window: int) -> np.ndarray:
    return np.unique(np.r_[1, np.linspace(window / 6, window, 6).astype(int)])


@lru_cache(maxsize=128)
def _condition_curve_initial(gain, k, n_units, window, seed):
    return _condition_curve(init_rnn(n_units, gain, seed=seed), k, window, seed)


def _condition_curve(params, k, window, seed):
    bits = random_bits(40 + window, 1, [seed, 5])
    return reference.condition_number_curve(params, bits, n_values=k, transient=40,
                                            times=_collapse_times(window), n_passes=2,
                                            seed=seed)[1]


class SeedSummary(NamedTuple):
    seeds: tuple
    lambda_1: np.ndarray            # (n_seeds, 2): before, after
    lambda_k: np.ndarray
    spread: np.ndarray              # lambda_1 - lambda_k
    log10_cond: np.ndarray          # log10 kappa(J_t) at the last window length t
    distance: np.ndarray            # rms distance of lambda_1..k from the target
    converged: np.ndarray           # (n_seeds,) bool
    t: int


def flossing_over_seeds(seeds=(0, 1, 2, 3, 4), gain: float = 1.0, n_exponents: int = 4,
                        n_units: int = 16, n_steps: int = 80, lr: float = 0.01,
                        target: float = 0.0) -> SeedSummary:
    """:func:`flossing_run` for each seed; before/after numbers per seed (for medians and ranges)."""
    rows = []
    for s in seeds:
        r = flossing_run(gain, n_exponents, target, n_units, n_steps, lr, s)
        d = diagnose_flossing(r)
        k = r.n_exponents
        rows.append(([r.spectrum_before[0], r.spectrum_after[0]],
                     [r.spectrum_before[k - 1], r.spectrum_after[k - 1]],
                     [r.cond_before[-1], r.cond_after[-1]] if k > 1 else [np.nan, np.nan],
                     [d.distance_before, d.distance_after], d.converged))
    l1, lk, cond, dist, conv = (np.asarray(c) for c in zip(*rows))
    return SeedSummary(tuple(seeds), l1, lk, l1 - lk, cond, dist, conv,
                       int(flossing_defaults()["cond_times"][-1]))


def shipped_condition_numbers(name: str = "default") -> dict:
    """The reproduction's condition numbers of J_t before and after 500 flossing steps (N = 80,
    k = 75), from the shipped results (:func:`flosslab.paper.results.load`)."""
    b = load(name)["b_condition"]
    return {"n": b["n"], "k": b["k"], "floss_steps": b["floss_steps"],
            "times": np.asarray(b["before"]["times"]),
            "before": np.asarray(b["before"]["log10_condition"]),
            "after": np.asarray(b["after"]["log10_condition"])}


class LoopResult(NamedTuple):
    losses: np.ndarray
    params_before: dict
    params_after: dict
    spectrum_before: np.ndarray     # first 2k exponents on 600 fresh bits
    spectrum_after: np.ndarray
    who: str = "your"               # "your" where a student's function ran, else "the reference"


def floss_with(value_and_gradient, adam_step, gain: float = 1.0, n_units: int = 8,
               n_exponents: int = 2, target: float = 0.0, n_steps: int = 30, lr: float = 0.01,
               seed: int = 0) -> LoopResult:
    """A flossing loop assembled from its two parts (numpy/autograd, the student's exercises):
    at step s, bits = random_bits(55, 1, [seed, s]); (loss, grads) = value_and_gradient(params,
    bits, k, target); each of W, U, b moves by ``adam_step(x, g, m, v, t = s + 1, lr)``."""
    k = check_n_exponents(n_exponents, n_units)
    params = init_rnn(n_units, gain, seed=seed)
    before = dict(params)
    moments = {name: (np.zeros_like(params[name]), np.zeros_like(params[name]))
               for name in DYNAMIC_PARAMS}
    losses = []
    who = "your" if "your" in (whose(value_and_gradient), whose(adam_step)) else "the reference"
    bar = progress_bar(n_steps >= 10, n_steps, f"{who} flossing loop: k = {k}, {n_steps} steps",
                       leave=False)
    for step in range(n_steps):
        loss, grads = value_and_gradient(params, random_bits(55, 1, [seed, step]), k, target)
        losses.append(float(loss))
        for name, (m, v) in moments.items():
            x, m, v = adam_step(params[name], np.asarray(grads[name]), m, v, step + 1, lr)
            params = {**params, name: np.asarray(x)}
            moments[name] = (m, v)
        bar.update(1)
    bar.close()
    bits = random_bits(600, 1, [seed, 3])
    spectra = [np.asarray(reference.lyapunov_spectrum(p, bits, n_exponents=min(2 * k, n_units),
                                                seed=seed))
               for p in (before, params)]
    return LoopResult(np.asarray(losses), before, params, spectra[0], spectra[1], who)


def engine_loop_losses(gain: float = 1.0, n_units: int = 8, n_exponents: int = 2,
                       target: float = 0.0, n_steps: int = 30, lr: float = 0.01,
                       seed: int = 0) -> np.ndarray:
    """The losses of :func:`floss_with`'s loop run by the torch engine instead (torch autograd,
    ``torch.optim.Adam``; the exponents with the default frame and start, seed 0, as
    ``fl.lyapunov_spectrum`` gives them): an independent computation of the same numbers."""
    import torch

    from .. import engine
    params = engine.init_rnn(n_units, gain, seed=seed)
    dynamic = [params[name].requires_grad_() for name in DYNAMIC_PARAMS]
    opt = torch.optim.Adam(dynamic, lr=lr)
    losses = []
    for step in range(n_steps):
        loss = engine.flossing_loss(params, random_bits(55, 1, [seed, step]), n_exponents,
                                    target, 16, seed=0)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.asarray(losses)


# --- figures ---------------------------------------------------------------------------------------


LN10 = float(np.log(10.0))


def flossing_figure(result):
    """Four panels from a :class:`FlossingResult`: spectrum, loss, gradient
    norm through time, condition number of the long-term Jacobian (measured, and the prediction
    (lambda_1 - lambda_k) t / ln 10 dashed)."""
    fig, axes = new_figure(ncols=2, nrows=2, width=10.0, height=5.4)    # fits 800 px with controls
    ax_s, ax_l, ax_g, ax_c = axes
    art = {"axes": axes}
    art["spec_before"], = ax_s.plot([], [], "o-", ms=3, lw=1, color=BEFORE, label="before")
    art["spec_after"], = ax_s.plot([], [], "o-", ms=3, lw=1, color=AFTER, label="after")
    art["k_line"] = ax_s.axvline(1, color="k", ls=":", lw=1)
    art["target_line"] = ax_s.axhline(0, color="k", lw=0.8, ls="--", label="target")
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)",
             title=r"Spectrum (dotted: the $k$ flossed)")
    ax_s.legend(loc="lower left")
    art["loss"], = ax_l.semilogy([], [], color=AFTER, lw=0.8, alpha=0.6, label="each step")
    art["loss_median"], = ax_l.semilogy([], [], color="k", lw=1.8, label="running median")
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Flossing loss")
    legend_outside(ax_l, "below")       # inside, a chaotic network's or k = 1's loss runs under it
    art["fig"] = fig
    art["grad_before"], = ax_g.semilogy([], [], color=BEFORE, label="before")
    art["grad_after"], = ax_g.semilogy([], [], color=AFTER, label="after")
    art["grad_text"] = ax_g.text(0.02, 0.04, "", transform=ax_g.transAxes, fontsize="small")
    ax_g.set(xlabel="time step t (loss at the last step)",
             ylabel=r"$\|\partial L/\partial h_t\|$", title="Gradient norm through time")
    ax_g.legend(loc="best")
    art["cond_before"], = ax_c.plot([], [], "o-", ms=4, color=BEFORE, label="before")
    art["cond_after"], = ax_c.plot([], [], "o-", ms=4, color=AFTER, label="after")
    art["pred_before"], = ax_c.plot([], [], "--", lw=1.2, color=BEFORE,
                                    label=r"$(\lambda_1-\lambda_k)\,t/\ln 10$")
    art["pred_after"], = ax_c.plot([], [], "--", lw=1.2, color=AFTER)
    art["cond_text"] = ax_c.text(0.5, 0.5, "", transform=ax_c.transAxes, ha="center",
                                 va="center")
    ax_c.set(xlabel="window length t", ylabel=r"$\log_{10}\,\kappa(J_t)$",
             title=r"Condition number of $J_t$ (first $k$ singular values)")
    art["cond_legend"] = ax_c.legend(loc="upper left")
    light_log_axis(ax_l)
    light_log_axis(ax_g)
    for ax in (ax_s, ax_l, ax_g):
        integer_ticks(ax)
    update_flossing(art, result)
    return fig, art


def update_flossing(art, result):
    skip_layout_pass(art["fig"])
    k = result.n_exponents
    n = len(result.spectrum_before)
    idx = np.arange(1, n + 1)
    set_line(art["spec_before"], idx, result.spectrum_before)
    set_line(art["spec_after"], idx, result.spectrum_after)
    art["k_line"].set_xdata([k + 0.5] * 2)
    art["target_line"].set_ydata([result.target] * 2)
    steps = np.arange(1, len(result.losses) + 1)
    set_line(art["loss"], steps, result.losses)
    set_line(art["loss_median"], steps, running_median(result.losses))
    notes = []
    for key, values in (("grad_before", result.grad_before), ("grad_after", result.grad_after)):
        values = np.asarray(values, dtype=float)
        shown = values > 0
        set_line(art[key], result.grad_times[shown], values[shown])
        if not shown.all():
            notes.append(f"{key[5:]}: norm reads 0 (its squares underflow, below "
                         f"{np.sqrt(np.finfo(float).smallest_subnormal):.0e}) for "
                         f"t <= {result.grad_times[~shown].max()}")
    art["grad_text"].set_text("\n".join(notes))
    ax_c = art["axes"][3]
    if result.cond_before is None:
        for key in ("cond_before", "cond_after", "pred_before", "pred_after"):
            set_line(art[key], [], [])
        art["cond_text"].set_text(r"$\kappa = \sigma_1/\sigma_k$ needs $k \geq 2$" + "\n"
                                  r"(with $k = 1$ there is one singular value)")
        art["cond_legend"].set_visible(False)
        ax_c.set_xlim(0, result.cond_times[-1] + 5)
        ax_c.set_ylim(0, 1)
    else:
        art["cond_text"].set_text("")
        art["cond_legend"].set_visible(True)
        ax_c.set_autoscale_on(True)
        t = np.asarray(result.cond_times)
        set_line(art["cond_before"], t, result.cond_before)
        set_line(art["cond_after"], t, result.cond_after)
        for key, spec in (("pred_before", result.spectrum_before),
                          ("pred_after", result.spectrum_after)):
            set_line(art[key], t, (spec[0] - spec[k - 1]) * t / LN10)
    for ax in art["axes"][:3]:
        rescale(ax)
    if result.cond_before is not None:
        rescale(ax_c)
        ax_c.set_ylim(bottom=0)


def flossing_history_figure(losses, window_exponents, target: float, label: str = "",
                            reference=None, reference_label: str = ""):
    """Left: the loss per flossing step (with its running median; ``reference`` another loss
    curve, its running median in grey). Right: the k exponents each step's loss was made of
    (running medians) and the target."""
    fig, (ax_l, ax_e) = new_figure(ncols=2, width=10.0, height=3.5)
    art = {"axes": (ax_l, ax_e)}
    if reference is not None:
        ax_l.semilogy(np.arange(1, len(reference) + 1), running_median(reference), color=BEFORE,
                      lw=1.8, label=reference_label)
    art["loss"], = ax_l.semilogy([], [], color=AFTER, lw=0.8, alpha=0.5)
    art["loss_median"], = ax_l.semilogy([], [], color=AFTER, lw=1.8)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Flossing loss")
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    integer_ticks(ax_e)
    art["exponents"] = []
    art["target"] = ax_e.axhline(target, color="k", ls="--", lw=1, label="target")
    ax_e.set(xlabel="flossing step", ylabel="exponent per step (running median)",
             title="The exponents each step saw (55-step windows)")
    update_flossing_history(art, losses, window_exponents, label or "running median")
    return fig, art


def update_flossing_history(art, losses, window_exponents, label: str):
    ax_l, ax_e = art["axes"]
    steps = np.arange(1, len(losses) + 1)
    set_line(art["loss"], steps, losses)
    set_line(art["loss_median"], steps, running_median(losses))
    art["loss_median"].set_label(label)
    legend_outside(ax_l, "below")       # inside, a rising loss (large learning rate) runs under it
    window_exponents = np.asarray(window_exponents)
    k = window_exponents.shape[1]
    while len(art["exponents"]) < k:
        i = len(art["exponents"])
        art["exponents"].append(ax_e.plot([], [], lw=1.2, label=fr"$\lambda_{{{i + 1}}}$"
                                          if i < 6 else None)[0])
    for i, line in enumerate(art["exponents"]):
        set_line(line, steps[:len(window_exponents)] if i < k else [],
                 running_median(window_exponents[:, i]) if i < k else [])
    legend_outside(ax_e, "right")       # inside, a large learning rate puts exponents under it
    rescale(ax_l)
    rescale(ax_e)


def condition_collapse_figure(shipped: dict, live: tuple, live_label: str):
    """Left: the reproduction's log10 kappa(J_t) over 300 steps (N = 80, k = 75) before and after
    flossing (shipped results). Right: the same measurement live on a small network; ``live`` is
    (times, before, after)."""
    fig, (ax_p, ax_l) = new_figure(ncols=2, width=10.0, height=3.6)
    art = {"axes": (ax_p, ax_l)}
    for ax, key in ((ax_p, "shipped"), (ax_l, "live")):
        art[key + "_before"], = ax.plot([], [], "o-", ms=3, color=BEFORE, label="before flossing")
        art[key + "_after"], = ax.plot([], [], "o-", ms=3, color=AFTER, label="after flossing")
        art[key + "_text_before"] = ax.annotate("", (0, 0), textcoords="offset points",
                                                xytext=(-12, 0), ha="right", va="center",
                                                color=BEFORE, bbox=dict(fc="white", ec="none",
                                                                        pad=1))
        art[key + "_text_after"] = ax.annotate("", (0, 0), textcoords="offset points",
                                               xytext=(-4, 8), ha="right", color=AFTER)
        ax.set(xlabel="window length t", ylabel=r"$\log_{10}\,\kappa(J_t)$")
        ax.legend(loc="upper left")
    ax_p.set_title(f"shipped: N = {shipped['n']}, k = {shipped['k']}, "
                   f"{shipped['floss_steps']} flossing steps")
    _set_collapse(art, "shipped", (shipped["times"], shipped["before"], shipped["after"]))
    update_condition_collapse(art, live, live_label)
    return fig, art


def _set_collapse(art, key, data):
    times, before, after = (np.asarray(x, dtype=float) for x in data)
    set_line(art[key + "_before"], times, before)
    set_line(art[key + "_after"], times, after)
    art[key + "_text_before"].set_text(f"{before[-1]:.1f}")
    art[key + "_text_before"].xy = (times[-1], before[-1])
    art[key + "_text_after"].set_text(f"{after[-1]:.1f}")
    art[key + "_text_after"].xy = (times[-1], after[-1])
    ax = art["axes"][0 if key == "shipped" else 1]
    rescale(ax)
    ax.set_ylim(0, max(before.max(), after.max()) * 1.08)


def update_condition_collapse(art, live, live_label: str):
    _set_collapse(art, "live", live)
    art["axes"][1].set_title(live_label)


def flossing_loop_figure(result, reference_losses, n_exponents: int, target: float):
    """Demo 1: the loss of the student's loop against the reference loop's (left), and the
    leading exponents before and after (right; dotted: k)."""
    fig, (ax_l, ax_s) = new_figure(ncols=2, width=10.0, height=3.5)
    steps = np.arange(1, len(result.losses) + 1)
    ax_l.semilogy(steps, reference_losses, "-", color=BEFORE, lw=3, alpha=0.6,
                  label="torch engine's loop")
    ax_l.semilogy(steps, result.losses, "o-", ms=3, color=AFTER, lw=1, label=f"{result.who} loop")
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    integer_ticks(ax_s)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Loss, step by step")
    ax_l.legend(loc="upper right")
    idx = np.arange(1, len(result.spectrum_before) + 1)
    ax_s.plot(idx, result.spectrum_before, "o-", ms=4, color=BEFORE, label="before")
    ax_s.plot(idx, result.spectrum_after, "o-", ms=4, color=AFTER, label="after")
    ax_s.axvline(n_exponents + 0.5, color="k", ls=":", lw=1)
    ax_s.axhline(target, color="k", ls="--", lw=0.8, label="target")
    ax_s.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step, 600 fresh bits)",
             title=r"Leading exponents (dotted: the $k$ flossed)")
    ax_s.legend(loc="lower left")
    return fig, {"axes": (ax_l, ax_s)}


# --- dashboards ------------------------------------------------------------------------------------


def flossing_note(result, still_falling=None) -> str:
    """The status line: converged or not (and why), and what happened to kappa."""
    kw = {} if still_falling is None else {"still_falling": still_falling}
    d = diagnose_flossing(result, **kw)
    colour = "#070" if d.converged else "#a50"
    k = result.n_exponents
    if k == 1:
        kappa = "κ = σ₁/σₖ needs k ≥ 2 singular values: its panel is empty at k = 1"
    else:
        sb, sa = result.spectrum_before, result.spectrum_after
        kappa = (f"spread {lam(1)} − {lam(k)}: {sb[0] - sb[k - 1]:.3f} → "
                 f"{sa[0] - sa[k - 1]:.3f} per step; log10 κ(J_{result.cond_times[-1]}): "
                 f"{result.cond_before[-1]:.1f} → {result.cond_after[-1]:.1f}")
    return (f"<span style='color:{colour}'><b>{html.escape(d.message)}</b></span><br>"
            f"{html.escape(kappa)}")


def flossing_dashboard(n_exponents=None, target=0.0, gain=1.0, n_units=None, n_steps=None,
                       still_falling=None):
    """k, target, gain, flossing steps and network size -> spectrum, loss, gradient norms and
    condition number before/after flossing (torch engine); the status line says whether flossing
    converged and, if not, why (:func:`diagnose_flossing`, which uses
    ``still_falling``, e.g. the student's function)."""
    d = flossing_defaults()
    small = n_units or d["n_units"]
    sizes = [(f"N = {small}", small), (f"larger: N = {d['larger_units']}", d["larger_units"])]
    steps = n_steps or d["n_steps"]
    choices = sorted(set(d["step_choices"]) | {steps})
    controls = {
        "n_exponents": slider(W.IntSlider, "flossed k", n_exponents or d["n_exponents"], 1,
                              d["larger_units"]),
        "target": slider(W.FloatSlider, "target", target, -0.5, 0.2, 0.05),
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 3.0, 0.1),
        "n_steps": W.SelectionSlider(options=choices, value=steps, description="flossing steps",
                                     continuous_update=False,
                                     style={"description_width": "initial"}),
        "n_units": W.ToggleButtons(options=sizes, value=small, description="network",
                                   style={"description_width": "initial"}),
    }
    note = W.HTML(f"Adam, learning rate {d['lr']}; each flossing step uses its own 55 random bits. "
                  "A new setting flosses a fresh network; more steps continue the run already "
                  "made.")

    def compute(n_exponents, target, gain, n_steps, n_units):
        return flossing_run(round(float(gain), 4), n_exponents, round(float(target), 4),
                               n_units, n_steps, d["lr"])

    return Dashboard(controls, compute, lambda r, v: flossing_figure(r),
                     lambda art, r, v: update_flossing(art, r), height="540px", extra=[note],
                     note=lambda r, v: flossing_note(r, still_falling))


def learning_rate_dashboard(log10_lr=-2.0, n_exponents=None, gain=1.0, n_units=None,
                            n_steps=None):
    """The Adam learning rate -> the loss and the exponents step by step (against lr 0.01),
    and whether flossing converged."""
    d = flossing_defaults()
    n = n_units or d["n_units"]
    k = n_exponents or d["n_exponents"]
    steps = n_steps or d["n_steps"]
    controls = {"log10_lr": slider(W.FloatSlider, "log10 learning rate", log10_lr, -3.0, -1.0,
                                   0.25)}

    def compute(log10_lr):
        return flossing_run(gain, k, 0.0, n, steps, round(10 ** float(log10_lr), 6))

    def make(r, v):
        ref = flossing_run(gain, k, 0.0, n, steps, d["lr"])
        fig, art = flossing_history_figure(r.losses, r.window_exponents, 0.0,
                                                 fr"$\eta$ = {r.lr:.3g}", ref.losses,
                                                 fr"$\eta$ = {d['lr']} (for comparison)")
        return fig, art

    def draw(art, r, v):
        update_flossing_history(art, r.losses, r.window_exponents, fr"$\eta$ = {r.lr:.3g}")

    return Dashboard(controls, compute, make, draw, height="360px",
                     note=lambda r, v: flossing_note(r),
                     extra=[W.HTML(f"N = {n}, k = {k}, gain {gain}, {steps} steps, target 0.")])


def condition_collapse_dashboard(seed=0, n_exponents=None, n_units=None, n_steps=None):
    """Seed and k -> log10 kappa(J_t) over 300 steps before/after flossing (live, small), beside
    the reproduction's N = 80, k = 75 curves (shipped)."""
    d = flossing_defaults()
    n = n_units or d["n_units"]
    steps = n_steps or d["n_steps"]
    shipped = shipped_condition_numbers()
    controls = {"seed": slider(W.IntSlider, "seed", seed, 0, 9),
                "n_exponents": slider(W.IntSlider, "flossed k", n_exponents or d["n_exponents"],
                                      2, n)}

    def compute(seed, n_exponents):
        return condition_collapse(1.0, n_exponents, n, steps, d["lr"], 300, seed)

    def label(v):
        return f"live: N = {n}, k = {v['n_exponents']}, {steps} steps, seed {v['seed']}"

    return Dashboard(controls, compute,
                     lambda data, v: condition_collapse_figure(shipped, data, label(v)),
                     lambda art, data, v: update_condition_collapse(art, data, label(v)),
                     height="380px",
                     note=lambda data, v: (f"log10 κ(J_t) before → after flossing: live, t = "
                                           f"{data[0][-1]}: {data[1][-1]:.1f} → "
                                           f"{data[2][-1]:.1f}; shipped, t = "
                                           f"{shipped['times'][-1]}: "
                                           f"{shipped['before'][-1]:.0f} → "
                                           f"{shipped['after'][-1]:.1f}"))


# --- checkers --------------------------------------------------------------------------------------


def _flossing_case(rng_seed: int, case: int, max_units: int, max_gain: float):
    """A random (params, inputs, k, target) for the flossing checkers: N in [4, max_units),
    1 <= k < N, target in [-0.3, 0.1), gain in [0.7, max_gain), 40 input bits."""
    rng = np.random.default_rng(rng_seed)
    n = int(rng.integers(4, max_units))
    k = int(rng.integers(1, n))
    target = float(rng.uniform(-0.3, 0.1))
    params = init_rnn(n, float(rng.uniform(0.7, max_gain)), seed=case)
    return params, random_bits(40, 1, case), k, target


@checker(flossing_loss)
def check_flossing_loss(func, n_cases: int = 3) -> bool:
    """``func(params, inputs, k, target)`` -> mean_{i<=k} (lambda_i - target)^2, differentiable."""
    name = "my_flossing_loss"

    def cases():
        for case in range(n_cases):
            params, inputs, k, target = _flossing_case(500 + case, case, 10, 2.0)
            n = params["W"].shape[0]
            want = flossing_loss(params, inputs, k, target)
            got = to_array(name, call(name, func, params, inputs, k, target), (),
                           "the loss (one number)")
            if not close(got, want):
                if close(got, flossing_loss(params, inputs, n, target)):
                    raise Answer("only the first k exponents enter the loss.")
                if close(got, np.sqrt(want)):
                    raise Answer("square the distance to the target (mean of squares).")
                if close(got, want * k):
                    raise Answer("take the MEAN over the k exponents, not the sum.")
                raise Answer("use fl.lyapunov_spectrum(params, inputs, n_exponents=k, "
                             "transient=16) and average (lambda_i - target)^2.")
            g_want = grad(lambda w: flossing_loss({**params, "W": w}, inputs, k, target))(
                params["W"])
            g_got = to_array(name, call(name + "'s gradient",
                                        grad(lambda w: func({**params, "W": w}, inputs, k,
                                                            target)), params["W"]),
                             g_want.shape, "its gradient")
            if not close(g_got, g_want, rtol=1e-6, atol=1e-8):
                raise Answer("the value is right but autograd cannot differentiate it the same "
                             "way: use autograd.numpy (np) operations only.")
    return run(name, cases)


def reference_value_and_gradient(params, inputs, k, target):
    """(L_floss, {"W", "U", "b": dL_floss/d...}) by autograd through the reference's flossing loss."""
    dynamic = {name: params[name] for name in DYNAMIC_PARAMS}
    return value_and_grad(lambda d: reference.flossing_loss({**params, **d}, inputs, k, target))(
        dynamic)


@checker(reference_value_and_gradient)
def check_flossing_gradient(func, n_cases: int = 3) -> bool:
    """``func(params, inputs, k, target)`` -> (loss, {"W": dL/dW, "U": dL/dU, "b": dL/db})."""
    name = "flossing_value_and_gradient"

    def cases():
        for case in range(n_cases):
            params, inputs, k, target = _flossing_case(520 + case, case, 9, 1.8)
            loss_want, grads_want = reference_value_and_gradient(params, inputs, k, target)
            got = to_tuple(name, call(name, func, params, inputs, k, target), 2,
                           "a pair (loss, gradients), e.g. autograd's value_and_grad")
            loss = to_array(name, got[0], (), "the loss (one number)")
            if not close(loss, loss_want):
                raise Answer("the loss is not the flossing loss: use your my_flossing_loss "
                             "(exercise 1).")
            grads = got[1]
            if not isinstance(grads, dict):
                raise Answer("return the gradients as a dict {'W': ..., 'U': ..., 'b': ...} "
                             "(differentiate with respect to a dict of the three arrays).")
            if {"V", "c"} & set(grads):
                raise Answer("flossing changes only W, U and b: the readout V, c has no effect "
                             "on the exponents; differentiate with respect to W, U, b only.")
            for key in DYNAMIC_PARAMS:
                if key not in grads:
                    raise Answer(f"the gradient with respect to {key} is missing.")
                g = to_array(name, grads[key], grads_want[key].shape, f"dL/d{key}")
                if close(g, grads_want[key], rtol=1e-6, atol=1e-9):
                    continue
                if close(g, -grads_want[key], rtol=1e-6, atol=1e-9):
                    raise Answer(f"dL/d{key} has the wrong sign.")
                if close(g, np.zeros_like(g)):
                    raise Answer(f"dL/d{key} is zero: autograd did not see the loss depend on "
                                 f"{key}; pass the dict you differentiate into the loss.")
                raise Answer(f"dL/d{key} is off: differentiate your loss with autograd "
                             "(value_and_grad) with respect to {'W', 'U', 'b'}.")
    return run(name, cases)


ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8


def reference_adam_step(theta, grad, mom1, mom2, tau, lr):
    """One Adam update (Kingma & Ba 2015; as autograd's and torch's): tau = 1 at the first step,
    epsilon outside the square root."""
    mom1 = ADAM_B1 * mom1 + (1 - ADAM_B1) * grad
    mom2 = ADAM_B2 * mom2 + (1 - ADAM_B2) * grad ** 2
    m_hat, v_hat = mom1 / (1 - ADAM_B1 ** tau), mom2 / (1 - ADAM_B2 ** tau)
    return theta - lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS), mom1, mom2


@checker(reference_adam_step)
def check_adam_step(func, n_cases: int = 5) -> bool:
    """``func(theta, grad, mom1, mom2, tau, lr)`` -> (theta_new, mom1_new, mom2_new), one Adam step
    (tau = 1 first). The last case has gradients of size 1e-6, where epsilon inside or outside the
    square root makes a difference of order one."""
    name = "adam_step"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(540 + case)
            shape = (int(rng.integers(2, 5)), int(rng.integers(1, 4)))
            scale = 1e-6 if case == 4 else 1.0
            x, g = rng.standard_normal(shape), scale * rng.standard_normal(shape)
            t = [1, 2, 7, 30, 3][case]
            m = np.zeros(shape) if t == 1 else 0.1 * scale * rng.standard_normal(shape)
            v = np.zeros(shape) if t == 1 else 0.1 * scale ** 2 * rng.random(shape)
            lr = float(rng.choice([0.01, 0.003]))
            want = reference_adam_step(x, g, m, v, t, lr)
            got = to_tuple(name, call(name, func, x, g, m, v, t, lr), 3,
                           "three arrays: (theta_new, mom1_new, mom2_new)")
            raw = to_array(name, got[0], None, "theta_new", finite=False)
            if t == 1 and raw.shape == shape and not np.isfinite(raw).all():
                raise Answer("tau counts steps from 1: the bias correction is 1 - b**tau, and at the "
                             "first step (tau = 1) it is 1 - b, not 1 - b**0 = 0.")
            x_new, m_new, v_new = (to_array(name, a, shape, what) for a, what in
                                   zip(got, ("theta_new", "mom1_new", "mom2_new")))
            if not close(m_new, want[1]):
                raise Answer("mom1_new = b1 mom1 + (1 - b1) grad with b1 = 0.9.")
            if not close(v_new, want[2]):
                raise Answer("mom2_new = b2 mom2 + (1 - b2) grad**2 with b2 = 0.999.")
            if close(x_new, want[0]):
                continue
            m_hat, v_hat = m_new / (1 - ADAM_B1 ** t), v_new / (1 - ADAM_B2 ** t)
            if close(x_new, 2 * x - want[0]):
                raise Answer("the step goes uphill: subtract lr * m_hat / (sqrt(v_hat) + eps).")
            if close(x_new, x - lr * m_hat / np.sqrt(v_hat + ADAM_EPS)):
                raise Answer("add eps OUTSIDE the square root: sqrt(v_hat) + eps (inside, it swamps "
                             "small gradients).")
            if close(x_new, x - lr * m_new / (np.sqrt(v_new) + ADAM_EPS)):
                raise Answer("correct the bias of the moments: m_hat = mom1 / (1 - b1**tau), "
                             "v_hat = mom2 / (1 - b2**tau).")
            if t > 1 and close(x_new, reference_adam_step(x, g, m, v, t - 1, lr)[0]):
                raise Answer("tau counts steps from 1: the first step has tau = 1 (bias correction "
                             "1 - b**tau).")
            raise Answer("theta_new = theta - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = "
                         "mom1_new / (1 - b1**tau), v_hat = mom2_new / (1 - b2**tau), eps = 1e-8 "
                         "outside the root.")
    return run(name, cases)


def synthetic_loss_curves():
    """Synthetic flossing-loss curves (noisy like a real one: each step its own window) and
    whether each is still falling at its end."""
    rng = np.random.default_rng(560)
    def noise(n):
        return np.exp(0.35 * rng.standard_normal(n))
    steps = np.arange(80)
    return [
        ("a loss still falling exponentially", 0.2 * np.exp(-steps / 25) * noise(80), True),
        ("a slow power-law decay, still falling", 0.3 / (1 + steps / 3) ** 1.5 * noise(80),
         True),
        ("a loss that fell and then levelled off at its noise floor",
         (0.2 * np.exp(-steps / 6) + 0.004) * noise(80), False),
        ("a flat noisy loss", 0.01 * noise(80), False),
        ("a rising loss", 0.01 * np.exp(steps / 30) * noise(80), False),
        ("a short falling curve", 0.2 * np.exp(-np.arange(40) / 8) * noise(40), True),
    ]


@checker(loss_still_falling)
def check_still_falling(func) -> bool:
    """``func(losses)`` -> True when a noisy loss curve is still falling at its end, else False."""
    name = "loss_still_falling"

    def cases():
        for what, losses, want in synthetic_loss_curves():
            got = call(name, func, losses.copy())
            if not isinstance(got, (bool, np.bool_)):
                raise Answer(f"return True or False, got {type(got).__name__}.")
            if bool(got) != want:
                raise Answer(f"wrong on {what} (should be {want}). Compare the recent losses "
                             "with somewhat older ones, using medians over many steps (one "
                             "step's loss is noisy), e.g. the last quarter against the quarter "
                             "before.")
        # A rule with no margin passes the cases above by luck about half the time on a flat
        # curve: on 200 flat noisy curves the reference says "still falling" on 5 %, a plain
        # "recent median < older median" on 48 %. Allowed: at most 20 %.
        rng = np.random.default_rng(561)
        flat = [0.01 * np.exp(0.35 * rng.standard_normal(80)) for _ in range(200)]
        rate = float(np.mean([bool(call(name, func, losses.copy())) for losses in flat]))
        if rate > 0.2:
            raise Answer(f"on 200 flat noisy curves your rule says 'still falling' {rate:.0%} of "
                         "the time (the reference: 5 %): noise alone makes the recent median lower "
                         "half the time; ask for a margin, e.g. lower by a factor 0.8.")
    return run(name, cases)
