"""Notebook 07 (scaling up with torch): its sizes, computations, figures, dashboards and checkers,
in that order."""
from __future__ import annotations

import time
from functools import lru_cache
from typing import NamedTuple

import ipywidgets as W
import matplotlib as mpl
import numpy as np

from .. import reference
from ..core.conventions import (
    DYNAMIC_PARAMS,
    FLOSS_SEQ_LEN,
    FLOSS_TRANSIENT,
    autonomous,
    default_transient,
    init_rnn,
    random_bits,
    random_frame,
    random_state,
)
from ..core.settings import fast_or_full
from ..core.style import AFTER, BEFORE, new_figure
from ..core.validate import check_choice, check_int, check_n_exponents, check_real
from .cache import Store
from .checking import Answer, call, checker, close, run, to_array, whose
from .dashboard_machinery import Dashboard, slider
from .display import integer_ticks, light_log_axis, rescale, set_line, skip_layout_pass

# --- sizes -----------------------------------------------------------------------------------------


# Everything here runs on the CPU; ``device`` ("cpu" or "cuda") moves the torch side to a GPU.

def scaling_defaults() -> dict:
    """Sizes of notebook 07's demos (smaller in fast mode where a number printed does not depend
    on them)."""
    return {"agree_units": 32, "agree_k": 8, "agree_steps": 400,
            "ens_units": 32, "ens_size": 12, "ens_steps": 300, "ens_floss_steps": 40,
            "cell_units": 8, "cell_steps": 200,
            "floss_cell_units": 8, "floss_cell_k": 4, "floss_cell_steps": fast_or_full(20, 60),
            "floss_cell_lr": 0.03, "cost_n": 128, "cost_k": 32, "cost_n_choices": (32, 64, 128),
            "cost_k_choices": (4, 16, 32, 64), "cost_n_max": 256, "cost_repeats": 2}


# --- computations ----------------------------------------------------------------------------------


def torch_vs_reference(gain: float = 1.5, n_units: int = 32, n_exponents: int = 8,
                       n_steps: int = 200, seed: int = 0, device="cpu"):
    """Exponents of one network on the same bits from the numpy reference and the torch engine."""
    from .. import engine
    params = init_rnn(n_units, gain, seed=seed)
    bits = random_bits(n_steps, 1, seed)
    ref = np.asarray(reference.lyapunov_spectrum(params, bits, n_exponents=n_exponents,
                                                 seed=seed))
    lam = engine.lyapunov_spectrum(engine.to_torch(params, device), bits,
                                   n_exponents=n_exponents, seed=seed)
    return ref, lam.detach().cpu().numpy()


class Agreement(NamedTuple):
    gain: float
    times: np.ndarray
    divergence: np.ndarray          # max_i |h_i numpy - h_i torch| at each step (same h0)
    same_reference: np.ndarray      # exponents from the reference's Jacobians, by the reference
    same_engine: np.ndarray         # ... and by the engine (the same trajectory)
    separate_reference: np.ndarray  # each integrating its own trajectory from the same h0
    separate_engine: np.ndarray


@lru_cache(maxsize=64)
def engine_vs_reference(gain: float = 2.0, n_units: int = 32, n_exponents: int = 8,
                        n_steps: int = 400, seed: int = 0, device="cpu") -> Agreement:
    """The autonomous network (no input, no bias) W ~ N(0, g^2/N) from the same h0 and frame: the
    numpy reference and the torch engine integrate it separately (their states differ by
    round-off, which a chaotic network amplifies like e^{lambda_1 t}), and both compute the
    exponents once from their own trajectories and once from the same Jacobians."""
    import torch

    from .. import engine
    gain = check_real("the gain g", gain, minimum=0.05, maximum=5.0)
    k = check_n_exponents(n_exponents, n_units)
    n_steps = check_int("the number of steps T", n_steps, minimum=20, maximum=2000)
    params = autonomous(init_rnn(n_units, gain, seed=seed))
    h0, zeros = random_state(n_units, seed), np.zeros((n_steps, 1))
    transient = default_transient(n_steps)
    tp = engine.to_torch(params, device)
    with torch.no_grad():
        states_ref = reference.run_rnn(params, zeros, h0=h0)
        states_eng = engine.run_rnn(tp, torch.zeros((n_steps, 1), dtype=torch.float64,
                                                    device=tp["W"].device),
                                    h0=torch.as_tensor(h0, device=tp["W"].device))
        jacs = (1 - states_ref ** 2)[:, :, None] * params["W"]        # D_t from the reference
        same_ref = reference.spectrum_from_jacobians(jacs, k, transient=transient, seed=seed)
        same_eng = engine.spectrum_from_jacobians(torch.as_tensor(jacs, device=tp["W"].device),
                                                  k, transient=transient, seed=seed)
        sep_ref = reference.lyapunov_spectrum(params, zeros, n_exponents=k, transient=transient,
                                              seed=seed, h0=h0)
        sep_eng = engine.lyapunov_spectrum(tp, zeros, n_exponents=k, transient=transient,
                                           seed=seed, h0=torch.as_tensor(h0, device=tp["W"].device))
    divergence = np.abs(states_ref - states_eng.cpu().numpy()).max(axis=1)
    return Agreement(gain, np.arange(1, n_steps + 1), divergence, np.asarray(same_ref),
                     same_eng.cpu().numpy(), np.asarray(sep_ref), sep_eng.cpu().numpy())


def ensemble_spectrum_vs_gain(gains, n_units: int = 32, n_exponents: int = 4, n_steps: int = 300,
                              seed: int = 0, device="cpu") -> np.ndarray:
    """One batched call for a whole ensemble: member e has gain ``gains[e]``; (E, k) exponents."""
    from .. import engine
    params = engine.init_ensemble(n_units, list(gains), seeds=[seed] * len(gains), device=device)
    return np.asarray(engine.ensemble_spectrum(params, n_steps, n_exponents,
                                               seeds=[seed] * len(gains)))


class EnsembleTiming(NamedTuple):
    gains: np.ndarray
    spectra: np.ndarray             # (E, k), one batched call
    batched_seconds: float
    separate_seconds: float         # the same E networks, one call each
    largest_difference: float       # between the two


@lru_cache(maxsize=32)
def ensemble_timing(gains: tuple, n_units: int = 32, n_exponents: int = 4, n_steps: int = 300,
                    seed: int = 0, device="cpu") -> EnsembleTiming:
    """The ensemble's spectra in one batched call and one call per member, timed (after a warm-up
    call), with the largest difference between the two."""
    gains = tuple(float(g) for g in gains)
    ensemble_spectrum_vs_gain(gains[:1], n_units, n_exponents, 20, seed, device)   # warm-up
    start = time.perf_counter()
    batched = ensemble_spectrum_vs_gain(gains, n_units, n_exponents, n_steps, seed, device)
    middle = time.perf_counter()
    separate = [ensemble_spectrum_vs_gain((g,), n_units, n_exponents, n_steps, seed, device)[0]
                for g in gains]
    end = time.perf_counter()
    return EnsembleTiming(np.asarray(gains), batched, middle - start, end - middle,
                          float(np.abs(batched - np.asarray(separate)).max()))


class EnsembleFlossing(NamedTuple):
    gains: np.ndarray
    exponents_before: np.ndarray    # (E, k): the first step's window
    exponents_after: np.ndarray     # (E, k): mean over the last 5 steps' windows
    losses: np.ndarray              # (n_steps, E)


def ensemble_floss_with(batched_log_r, flossing_loss_fn, gains=(0.5, 1.0, 1.5, 2.0),
                        n_units: int = 16, n_exponents: int = 4, n_steps: int = 40,
                        lr: float = 0.02, seed: int = 0, device="cpu") -> EnsembleFlossing:
    """Floss E networks (gains ``gains``) at once, with the student's two functions: each step
    runs the E trajectories and frames together for 55 steps (a batched QR per step); the frames'
    log|R_ii| come from ``batched_log_r(frames)`` (E, k), the losses from
    ``flossing_loss_fn(log_r (39, E, k), 0.0)`` (E,) after 16 transient steps; torch Adam moves
    every member's W, U, b by the gradient of the summed loss (each member's loss depends on its
    own weights only)."""
    import torch

    from .. import engine
    e = len(gains)
    k = check_n_exponents(n_exponents, n_units)
    params = engine.init_ensemble(n_units, list(gains), seeds=[seed] * e, device=device)
    dynamic = [params[name].requires_grad_() for name in DYNAMIC_PARAMS]
    opt = torch.optim.Adam(dynamic, lr=lr)
    dev, dt = params["W"].device, params["W"].dtype
    losses, windows = [], []
    for step in range(n_steps):
        bits = torch.as_tensor(np.stack([random_bits(FLOSS_SEQ_LEN, 1, [seed, step, m])
                                         for m in range(e)], axis=1), dtype=dt, device=dev)
        h = torch.as_tensor(np.stack([random_state(n_units, seed + step + m) for m in range(e)]),
                            dtype=dt, device=dev)
        q = torch.as_tensor(np.stack([random_frame(n_units, k, seed + step + m)
                                      for m in range(e)]), dtype=dt, device=dev)
        logs = []
        for t in range(FLOSS_SEQ_LEN):
            a = torch.einsum("enm,em->en", params["W"], h) + \
                torch.einsum("eni,ei->en", params["U"], bits[t]) + params["b"]
            h = torch.tanh(a)
            q = (1 - h ** 2).unsqueeze(-1) * (params["W"] @ q)
            if t >= FLOSS_TRANSIENT:
                logs.append(batched_log_r(q))
            q = torch.linalg.qr(q, mode="reduced").Q
        log_r = torch.stack(logs)
        loss = flossing_loss_fn(log_r, 0.0)
        losses.append(loss.detach().cpu().numpy())
        windows.append(log_r.detach().mean(0).cpu().numpy())
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    windows = np.asarray(windows)
    return EnsembleFlossing(np.asarray(gains), windows[0], windows[-5:].mean(0),
                            np.asarray(losses))


def ensemble_flossing_verdicts(result: EnsembleFlossing, n_mean: int = 5) -> list:
    """One line per member: its exponents before -> after, how many of them moved toward 0
    (|after| < |before|), and its loss over the first ``n_mean`` steps -> the last ``n_mean``."""
    lines = []
    k = result.exponents_before.shape[1]
    first, last = result.losses[:n_mean].mean(0), result.losses[-n_mean:].mean(0)
    for m, g in enumerate(result.gains):
        before, after = result.exponents_before[m], result.exponents_after[m]
        toward = int(np.sum(np.abs(after) < np.abs(before)))
        trend = "falls" if last[m] < first[m] else "rises"
        lines.append(f"g = {g:.1f}: lambda_1..lambda_{k} {np.round(before, 2)} -> "
                     f"{np.round(after, 2)}; moving toward 0: {toward} of {k}; loss (mean of the "
                     f"first {n_mean} steps -> last {n_mean}) {first[m]:.3f} -> {last[m]:.3f}, "
                     f"{trend}")
    return lines


CELLS = {"RNN (tanh)": "RNNCell", "GRU": "GRUCell", "LSTM": "LSTMCell"}


def make_cell(name: str, n_units: int, scale: float = 1.0, seed: int = 0):
    """torch's cell ``name`` ("RNN (tanh)", "GRU", "LSTM") with 1 input and ``n_units`` units, its
    default initialisation from ``seed``, recurrent weights multiplied by ``scale``; float64."""
    import torch
    check_choice("the cell", name, tuple(CELLS))
    torch.manual_seed(seed)
    cell = getattr(torch.nn, CELLS[name])(1, n_units).double()
    with torch.no_grad():
        cell.weight_hh.mul_(scale)
    return cell


@lru_cache(maxsize=128)
def cell_spectrum_with(jacobian, name: str = "GRU", n_units: int = 8, scale: float = 1.0,
                       n_steps: int = 200, seed: int = 0):
    """The full spectrum of a torch cell from one-step Jacobians computed by ``jacobian(step, z, x)``
    (the student's), with the engine's QR loop; and the engine's own spectrum (vmap of jacrev) of
    the same cell, trajectory and frame. Returns (yours, engine's), each sorted descending."""
    import torch

    from .. import engine
    cell = make_cell(name, n_units, scale, seed)
    step = engine.cell_step_function(cell)
    d = engine.state_size(cell)
    bits = torch.as_tensor(random_bits(n_steps, 1, seed), dtype=torch.float64)
    z0 = torch.as_tensor(random_state(d, seed), dtype=torch.float64)
    transient = default_transient(n_steps)
    with torch.no_grad():
        states = engine.cell_trajectory(step, bits, z0)
        previous = torch.cat([z0.unsqueeze(0), states[:-1]])
        jacs = torch.stack([torch.as_tensor(jacobian(step, z, x)) for z, x in zip(previous, bits)])
        mine = engine.spectrum_from_jacobians(jacs, d, transient=transient, seed=seed)
        ref = engine.cell_spectrum(cell, bits, n_exponents=d, transient=transient, seed=seed,
                                   z0=z0)
    return np.sort(mine.numpy())[::-1], np.sort(ref.numpy())[::-1]


class CellFlossing(NamedTuple):
    name: str
    before: np.ndarray              # first k exponents on 300 fresh bits
    after: np.ndarray
    losses: np.ndarray


@lru_cache(maxsize=16)
def flossed_cell(name: str = "GRU", n_units: int = 8, n_exponents: int = 4, n_steps: int = 60,
                 lr: float = 0.03, seed: int = 0) -> CellFlossing:
    """:func:`flosslab.engine.floss_cell` on a torch GRU or LSTM cell (all its parameters, Adam),
    with the cell's first k exponents on 300 fresh bits before and after."""
    import torch

    from .. import engine
    cell = make_cell(name, n_units, 1.0, seed)
    bits = torch.as_tensor(random_bits(300, 1, [seed, 7]), dtype=torch.float64)
    with torch.no_grad():
        before = engine.cell_spectrum(cell, bits, n_exponents=n_exponents, seed=seed).numpy()
    cell, hist = engine.floss_cell(cell, n_steps, n_exponents, 0.0, lr, seed=seed,
                                   progress=n_steps >= 20)
    with torch.no_grad():
        after = engine.cell_spectrum(cell, bits, n_exponents=n_exponents, seed=seed).numpy()
    return CellFlossing(name, before, after, hist.losses)


#: Seconds per flossing step measured in this kernel, by (N, k, T, device, repeats, seed): a time
#: belongs to this machine and moment, so it is kept in memory only (never in the disk cache).
STEP_SECONDS = Store("seconds per flossing step", max_items=1024)


def step_seconds(n_units: int, n_exponents: int, n_steps: int = 55, device="cpu",
                 repeats: int = 2, seed: int = 0) -> float:
    """:func:`flossing_step_seconds`, measured once per (N, k, T, device, repeats, seed) and kept
    in :data:`STEP_SECONDS`."""
    key = (int(n_units), int(n_exponents), int(n_steps), str(device), int(repeats), int(seed))
    seconds = STEP_SECONDS.get(key)
    if seconds is None:
        seconds = STEP_SECONDS.put(key, flossing_step_seconds(*key))
    return seconds


def measured_seconds(device="cpu", n_steps: int = 55, repeats: int = 2, seed: int = 0) -> dict:
    """Every time kept in :data:`STEP_SECONDS` for ``device``: {(N, k): seconds per step}."""
    return {(n, k): s for (n, k, t, dev, r, sd), s in STEP_SECONDS.items()
            if (t, dev, r, sd) == (n_steps, str(device), repeats, seed)}


def flossing_step_seconds(n_units: int, n_exponents: int, n_steps: int = 55, device="cpu",
                          repeats: int = 2, seed: int = 0) -> float:
    """Median wall time of one flossing step (forward through T steps with a QR every step,
    backward) with the torch engine, after one warm-up call; synchronises a GPU so the time is
    real (measured at each call; :func:`step_seconds` keeps it)."""
    import torch

    from .. import engine
    params = engine.to_torch(init_rnn(n_units, 1.0, seed=seed), device, requires_grad=True)
    bits = random_bits(n_steps, 1, seed)
    times = []
    for _ in range(repeats + 1):                          # the first call warms up
        start = time.perf_counter()
        engine.flossing_loss(params, bits, n_exponents, transient=16, seed=seed).backward()
        if params["W"].device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def sweep_sizes(sweep: str, n_units: int, n_exponents: int, n_max: int = 256) -> np.ndarray:
    """The sizes a cost sweep measures, doubling: k from 4 up to N (N fixed), or N from k (at least
    16) up to ``n_max`` (k fixed)."""
    check_choice("the swept size", sweep, ("N", "k"))
    k = check_n_exponents(n_exponents, n_units)
    if sweep == "k":
        sizes = [s for s in (1, 2, 4, 8, 16, 32, 64, 128, 256) if 4 <= s < n_units] + [n_units]
    else:
        sizes = [s for s in (16, 32, 64, 128, 256, 512) if max(k, 16) <= s <= n_max]
    return np.asarray(sorted(set(sizes)))


def cost_sweep(sweep: str, n_units: int, n_exponents: int, device="cpu", repeats: int = 2,
               n_max: int = 256):
    """Seconds per flossing step over :func:`sweep_sizes`. Returns (sizes, seconds)."""
    sizes = sweep_sizes(sweep, n_units, n_exponents, n_max)
    if sweep == "N":
        secs = [step_seconds(int(s), n_exponents, device=device, repeats=repeats) for s in sizes]
    else:
        secs = [step_seconds(n_units, int(s), device=device, repeats=repeats) for s in sizes]
    return sizes, np.asarray(secs)


class CostModel(NamedTuple):
    overhead: float                 # c0, seconds per flossing step whatever the size
    per_unit: float                 # c1, seconds per unit of T (N^2 k + N k^2)
    worst_misfit: float             # largest |model - measured| / measured over the points


def cost_work(n_units, n_exponents, n_steps: int = 55):
    """The arithmetic of a flossing step, up to a constant: T (N^2 k + N k^2)."""
    n, k = np.asarray(n_units, float), np.asarray(n_exponents, float)
    return n_steps * (n ** 2 * k + n * k ** 2)


def fit_cost_model(n_units, n_exponents, seconds, n_steps: int = 55) -> CostModel:
    """seconds ~ c0 + c1 T (N^2 k + N k^2), fitted by least squares on relative errors (every point
    counts alike, small or large), c0, c1 >= 0."""
    from scipy.optimize import nnls
    t = np.asarray(seconds, float)
    work = cost_work(n_units, n_exponents, n_steps)
    coef, _ = nnls(np.stack([np.ones_like(t), work], axis=1) / t[:, None], np.ones_like(t))
    model = coef[0] + coef[1] * work
    return CostModel(float(coef[0]), float(coef[1]), float(np.max(np.abs(model - t) / t)))


def local_slopes(sizes, seconds) -> np.ndarray:
    """d log(seconds) / d log(size) between neighbouring points."""
    return np.diff(np.log(seconds)) / np.diff(np.log(np.asarray(sizes, float)))


class CostSummary(NamedTuple):
    k_sizes: np.ndarray             # the k sweep at N = n_units
    k_seconds: np.ndarray
    n_sizes: np.ndarray             # the N sweep at k = n_exponents
    n_seconds: np.ndarray
    fit: CostModel                  # over both sweeps
    k_model: np.ndarray             # the fitted model at the k sweep's sizes
    n_model: np.ndarray


def cost_summary(n_units: int = 128, n_exponents: int = 32, device="cpu", repeats: int = 2,
                 n_max: int = 256) -> CostSummary:
    """Both sweeps (k at N = ``n_units``, N at k = ``n_exponents``) and the model fitted to all
    their points, evaluated at the measured sizes (for slopes to compare)."""
    ks, kt = cost_sweep("k", n_units, n_units, device, repeats)
    ns, nt = cost_sweep("N", n_max, n_exponents, device, repeats, n_max)
    fit = fit_cost_model(np.r_[np.full(ks.size, n_units), ns], np.r_[ks, np.full(ns.size,
                                                                                 n_exponents)],
                         np.r_[kt, nt])
    return CostSummary(ks, kt, ns, nt, fit,
                       fit.overhead + fit.per_unit * cost_work(n_units, ks),
                       fit.overhead + fit.per_unit * cost_work(ns, n_exponents))


# --- figures ---------------------------------------------------------------------------------------


#: A legend below its panel, outside the data (constrained layout makes room for it).
_BELOW = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "frameon": False}


def agreement_figure(agreement):
    """Left: max_i |h_numpy - h_torch| against t, with 1e-16 e^{lambda_1 t}. Right: the exponents
    of each computation (reference and engine, same Jacobians or separate trajectories)."""
    fig, (ax_d, ax_e) = new_figure(ncols=2, width=10.0, height=4.2)
    art = {"axes": (ax_d, ax_e), "fig": fig}
    art["div"], = ax_d.semilogy([], [], color="tab:blue", label="numpy state - torch state")
    art["pred"], = ax_d.semilogy([], [], ":", color="k", label=r"$10^{-16}\,e^{\lambda_1 t}$")
    ax_d.set(xlabel="step t", ylabel=r"$\max_i |h_{t,i}^{numpy} - h_{t,i}^{torch}|$",
             title="Two integrations of the same network")
    ax_d.legend(**_BELOW, ncols=2)
    light_log_axis(ax_d)
    art["sep_ref"], = ax_e.plot([], [], "o", ms=8, mfc="none", color=BEFORE,
                                label="reference, own trajectory")
    art["sep_eng"], = ax_e.plot([], [], "x", ms=8, color=AFTER, label="engine, own trajectory")
    art["same_eng"], = ax_e.plot([], [], ".", ms=6, color="tab:blue",
                                 label="engine, reference's Jacobians")
    ax_e.axhline(0.0, color="k", lw=0.8)
    ax_e.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Exponents")
    ax_e.legend(**_BELOW, ncols=2, fontsize="small")
    integer_ticks(ax_e)
    update_agreement(art, agreement)
    return fig, art


def update_agreement(art, a):
    skip_layout_pass(art["fig"])
    ax_d, ax_e = art["axes"]
    div = np.maximum(a.divergence, 1e-17)
    set_line(art["div"], a.times, div)
    lam1 = a.separate_reference[0]
    pred = 1e-16 * np.exp(lam1 * a.times)
    shown = pred <= 10
    set_line(art["pred"], a.times[shown], pred[shown])
    idx = np.arange(1, a.separate_reference.size + 1)
    set_line(art["sep_ref"], idx, a.separate_reference)
    set_line(art["sep_eng"], idx, a.separate_engine)
    set_line(art["same_eng"], idx, a.same_engine)
    ax_d.set_title(f"Two integrations of the same network, g = {a.gain:.2f}")
    rescale(ax_d)
    ax_d.set_ylim(1e-17, 1e2)
    rescale(ax_e)


def ensemble_figure(gains, spectra, n_shown: int = 4):
    """lambda_1..lambda_n of each member against its gain (spectra (E, k)): one batched call."""
    fig, (ax,) = new_figure(width=7.0, height=3.6)
    art = {"ax": ax, "fig": fig, "lines": [ax.plot([], [], "o-", ms=4,
                                                   label=fr"$\lambda_{i + 1}$")[0]
                                           for i in range(n_shown)]}
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="gain g of the member", ylabel="exponent (per step)",
           title="An ensemble's spectra (driven by random bits), one batched call")
    ax.legend(loc="lower right")
    update_ensemble(art, gains, spectra)
    return fig, art


def update_ensemble(art, gains, spectra):
    skip_layout_pass(art["fig"])
    spectra = np.asarray(spectra)
    for i, line in enumerate(art["lines"]):
        set_line(line, gains, spectra[:, i])
    rescale(art["ax"])


def ensemble_flossing_figure(result):
    """Each member's leading exponents before (first step's window) and after flossing (last five
    windows), against its gain; and every member's loss per step."""
    fig, (ax_e, ax_l) = new_figure(ncols=2, width=10.0, height=3.6)
    k = result.exponents_before.shape[1]
    for i in range(k):
        ax_e.plot(result.gains, result.exponents_before[:, i], "o--", ms=4, color=BEFORE,
                  alpha=0.4 + 0.6 * (i == 0), label="before" if i == 0 else None)
        ax_e.plot(result.gains, result.exponents_after[:, i], "o-", ms=4, color=AFTER,
                  alpha=0.4 + 0.6 * (i == 0), label="after" if i == 0 else None)
    ax_e.axhline(0.0, color="k", lw=0.8)
    ax_e.set(xlabel="gain g of the member", ylabel=r"$\lambda_1 \dots \lambda_k$ (per step)",
             title=r"Flossed together (dark: $\lambda_1$)")
    ax_e.legend(**_BELOW, ncols=2)
    steps = np.arange(1, result.losses.shape[0] + 1)
    colours = mpl.colormaps["viridis"](np.linspace(0.0, 0.85, len(result.gains)))
    for j, (g, colour) in enumerate(zip(result.gains, colours)):
        ax_l.semilogy(steps, result.losses[:, j], lw=1.6, color=colour, label=f"g = {g:.1f}")
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$ of each member", title="Losses")
    ax_l.legend(**_BELOW, ncols=len(result.gains))
    return fig, {"axes": (ax_e, ax_l)}


def cell_spectra_figure(spectra: dict):
    """One spectrum per named cell, sorted in descending order for display."""
    fig, (ax,) = new_figure(width=7.0, height=3.4)
    for name, lam in spectra.items():
        lam = np.sort(np.asarray(lam))[::-1]
        ax.plot(np.arange(1, lam.size + 1), lam, "o-", ms=3, label=f"{name} ({lam.size})")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)", title="Spectra of torch cells")
    integer_ticks(ax)
    ax.legend(loc="lower left")
    return fig, {"ax": ax}


def cell_spectrum_figure(mine, reference, label: str, who: str = "your"):
    """A cell's full spectrum from the student's Jacobians (dots) and the engine's (circles)."""
    fig, (ax,) = new_figure(width=7.0, height=3.4)
    art = {"ax": ax, "fig": fig}
    art["ref"], = ax.plot([], [], "o", ms=9, mfc="none", color=BEFORE, label="engine (vmap, jacrev)")
    art["mine"], = ax.plot([], [], ".-", ms=6, color=AFTER, label=f"{who} cell_jacobian")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step)")
    ax.legend(loc="lower left")
    integer_ticks(ax)
    update_cell_spectrum(art, mine, reference, label)
    return fig, art


def update_cell_spectrum(art, mine, reference, label: str):
    skip_layout_pass(art["fig"])
    idx = np.arange(1, len(mine) + 1)
    set_line(art["mine"], idx, mine)
    set_line(art["ref"], idx, reference)
    art["ax"].set_title(label)
    rescale(art["ax"])


def flossed_cells_figure(results):
    """For each flossed cell: its first k exponents before and after (left), its loss (right)."""
    fig, (ax_e, ax_l) = new_figure(ncols=2, width=10.0, height=3.5)
    markers = ("o", "s", "^")
    for r, marker in zip(results, markers):
        idx = np.arange(1, r.before.size + 1)
        ax_e.plot(idx, r.before, marker + "--", ms=5, color=BEFORE, label=f"{r.name} before")
        ax_e.plot(idx, r.after, marker + "-", ms=5, color=AFTER, label=f"{r.name} after")
        ax_l.semilogy(np.arange(1, r.losses.size + 1), r.losses, marker + "-", ms=3, lw=1,
                      label=r.name)
    ax_e.axhline(0.0, color="k", lw=0.8)
    ax_e.set(xlabel="index i", ylabel=r"$\lambda_i$ (per step, 300 fresh bits)",
             title="Flossing torch cells: floss_cell")
    ax_e.legend(**_BELOW, ncols=2)
    integer_ticks(ax_e)
    light_log_axis(ax_l)
    integer_ticks(ax_l)
    ax_l.set(xlabel="flossing step", ylabel=r"$L_{floss}$", title="Loss")
    ax_l.legend(**_BELOW, ncols=len(results))
    return fig, {"axes": (ax_e, ax_l)}


def cost_figure(sizes, seconds, xlabel: str, model=None, label: str = "measured"):
    """Measured seconds per flossing step against a size (log-log); ``model`` (sizes, seconds)
    the fitted c0 + c1 T (N^2 k + N k^2), dashed."""
    fig, (ax,) = new_figure(width=7.0, height=3.6)
    art = {"ax": ax, "fig": fig}
    art["line"], = ax.loglog([], [], "o-", label=label)
    art["model"], = ax.loglog([], [], "--", color="k",
                              label=r"fit: $c_0 + c_1 T (N^2 k + N k^2)$")
    art["overhead"] = ax.axhline(np.nan, color="tab:gray", ls=":", label=r"overhead $c_0$")
    ax.set(xlabel=xlabel, ylabel="seconds per flossing step", title="Measured cost")
    ax.legend(loc="upper left", fontsize="small")
    update_cost(art, sizes, seconds, xlabel, model)
    return fig, art


def update_cost(art, sizes, seconds, xlabel: str, model=None, overhead=None, label=None):
    skip_layout_pass(art["fig"])
    set_line(art["line"], sizes, seconds)
    if label:
        art["line"].set_label(label)
    if model is not None:
        set_line(art["model"], *model)
    art["overhead"].set_ydata([overhead if overhead else np.nan] * 2)
    art["ax"].set_xlabel(xlabel)
    art["ax"].legend(loc="upper left", fontsize="small")
    rescale(art["ax"])


# --- dashboards ------------------------------------------------------------------------------------


def device_control(value: str = "cpu") -> W.Dropdown:
    """CPU / CUDA choice; disabled (with a tooltip saying why) when torch sees no GPU."""
    from .setup import available_device
    has_gpu = available_device() == "cuda"
    return W.Dropdown(options=["cpu", "cuda"] if has_gpu else ["cpu"],
                      value=value if has_gpu else "cpu", description="device",
                      disabled=not has_gpu,
                      tooltip="" if has_gpu else "no GPU visible to torch: CPU only")


def agreement_dashboard(gain=2.0, n_steps=None):
    """Gain, T and device -> the numpy reference and the torch engine integrating the same
    autonomous network: how far their states drift apart, and their exponents."""
    d = scaling_defaults()
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 3.5, 0.25),
        "n_steps": slider(W.IntSlider, "steps T", n_steps or d["agree_steps"], 100, 1000, 100),
        "device": device_control(),
    }

    def compute(gain, n_steps, device):
        return engine_vs_reference(round(float(gain), 4), d["agree_units"], d["agree_k"],
                                      n_steps, 0, device)

    def note(a, values):
        same = np.abs(a.same_engine - a.same_reference).max()
        sep = np.abs(a.separate_engine - a.separate_reference).max()
        return (f"lambda_1 = {a.separate_reference[0]:+.3f}; states differ by "
                f"{a.divergence[-1]:.1e} at t = {a.times[-1]}; exponents: same Jacobians "
                f"{same:.1e}, own trajectories {sep:.1e}")

    return Dashboard(controls, compute, lambda a, v: agreement_figure(a),
                     lambda art, a, v: update_agreement(art, a), height="380px", note=note)


def ensemble_dashboard(n_units=None, size=None, gains=(0.5, 3.0)):
    """N, ensemble size E, gain range, device -> the E spectra in one batched call, and the time
    of that call against E separate ones."""
    d = scaling_defaults()
    controls = {
        "n_units": slider(W.IntSlider, "units N", n_units or d["ens_units"], 8, 64, 8),
        "size": slider(W.IntSlider, "ensemble size E", size or d["ens_size"], 2, 24),
        "gains": slider(W.FloatRangeSlider, "gain range g", gains, 0.1, 4.0, 0.1),
        "device": device_control(),
    }

    def compute(n_units, size, gains, device):
        g = tuple(float(x) for x in np.round(np.linspace(gains[0], gains[1], size), 4))
        return ensemble_timing(g, n_units, 4, d["ens_steps"], 0, device)

    def note(r, values):
        return (f"one batched call: {r.batched_seconds:.3f} s; {len(r.gains)} separate calls: "
                f"{r.separate_seconds:.3f} s ({r.separate_seconds / r.batched_seconds:.1f} times "
                f"longer); largest difference between the two: {r.largest_difference:.1e}")

    return Dashboard(controls, compute,
                     lambda r, v: ensemble_figure(r.gains, r.spectra),
                     lambda art, r, v: update_ensemble(art, r.gains, r.spectra), height="380px",
                     note=note)


def cell_dashboard(jacobian, name="GRU", n_units=None, scale=1.0):
    """Cell type, N and a scale of the recurrent weights -> the cell's full spectrum from the
    student's ``jacobian(step, z, x)`` against the engine's."""
    d = scaling_defaults()
    controls = {
        "name": W.ToggleButtons(options=list(CELLS), value=name, description="cell",
                                style={"button_width": "110px"}),
        "n_units": slider(W.IntSlider, "units N", n_units or d["cell_units"], 2, 12),
        "scale": slider(W.FloatSlider, "recurrent weight scale", scale, 0.5, 4.0, 0.25),
    }

    def compute(name, n_units, scale):
        return cell_spectrum_with(jacobian, name, n_units, round(float(scale), 4),
                                     d["cell_steps"])

    def label(v):
        dim = 2 * v["n_units"] if v["name"] == "LSTM" else v["n_units"]
        return f"{v['name']}, N = {v['n_units']}: {dim} exponents"

    def note(data, values):
        mine, ref = data
        return (f"lambda_1 = {ref[0]:+.3f}; {whose(jacobian)} Jacobians give the engine's "
                f"spectrum to "
                f"{np.abs(mine - ref).max():.1e}")

    return Dashboard(controls, compute,
                     lambda data, v: cell_spectrum_figure(*data, label(v), whose(jacobian)),
                     lambda art, data, v: update_cell_spectrum(art, *data, label(v)),
                     height="360px", note=note)


def cost_dashboard(n_units=None, n_exponents=None, sweep="k"):
    """Device, swept size and the fixed size -> measured seconds per flossing step (torch engine)
    over a doubling sweep, log-log, with c0 + c1 T (N^2 k + N k^2) fitted to every point measured
    so far on that device."""
    d = scaling_defaults()
    controls = {
        "device": device_control(),
        "sweep": W.ToggleButtons(options=["k", "N"], value=sweep, description="sweep"),
        "n_units": W.SelectionSlider(options=list(d["cost_n_choices"]),
                                     value=n_units or d["cost_n"],
                                     description="N (k sweep)", continuous_update=False,
                                     style={"description_width": "initial"}),
        "n_exponents": W.SelectionSlider(options=list(d["cost_k_choices"]),
                                         value=n_exponents or d["cost_k"],
                                         description="k (N sweep)", continuous_update=False,
                                         style={"description_width": "initial"}),
    }
    def only_the_fixed_size_of_this_sweep(change=None):
        """The fixed size of the other sweep does nothing here: disabled, so no move is idle."""
        n_sweep = controls["sweep"].value == "N"
        controls["n_units"].disabled, controls["n_exponents"].disabled = n_sweep, not n_sweep

    controls["sweep"].observe(only_the_fixed_size_of_this_sweep, names="value")
    only_the_fixed_size_of_this_sweep()

    def compute(device, sweep, n_units, n_exponents):
        if sweep == "N":
            sizes, secs = cost_sweep("N", d["cost_n_max"], n_exponents, device,
                                        d["cost_repeats"], d["cost_n_max"])
        else:
            sizes, secs = cost_sweep("k", n_units, n_units, device, d["cost_repeats"])
        pts = measured_seconds(device, repeats=d["cost_repeats"])
        nk = np.asarray(list(pts))
        fit = fit_cost_model(nk[:, 0], nk[:, 1], list(pts.values()))
        fine = np.geomspace(sizes[0], sizes[-1], 50)
        if sweep == "N":
            model = fit.overhead + fit.per_unit * cost_work(fine, n_exponents)
        else:
            model = fit.overhead + fit.per_unit * cost_work(n_units, fine)
        return sizes, secs, (fine, model), fit, len(pts)

    def xlabel(v):
        return (f"N (k = {v['n_exponents']} fixed)" if v["sweep"] == "N"
                else f"k (N = {v['n_units']} fixed)")

    def draw(art, data, v):
        sizes, secs, model, fit, _ = data
        update_cost(art, sizes, secs, xlabel(v), model, fit.overhead,
                          f"measured, {v['device']}")

    def make(data, v):
        sizes, secs, model, fit, _ = data
        fig, art = cost_figure(sizes, secs, xlabel(v), model, f"measured, {v['device']}")
        draw(art, data, v)
        return fig, art

    def note(data, v):
        sizes, secs, _, fit, n_points = data
        slopes = local_slopes(sizes, secs)
        return (f"slope d log t / d log {v['sweep']}: first doubling {slopes[0]:.2f}, last "
                f"{slopes[-1]:.2f}; fit over {n_points} points: overhead c0 = "
                f"{1e3 * fit.overhead:.1f} ms, worst misfit {100 * fit.worst_misfit:.0f} %")

    # timings are measurements of this machine, not computations: never in the disk cache
    return Dashboard(controls, compute, make, draw, height="380px", note=note, cache=False,
                     extra=[W.HTML("Each setting is measured on first use (median of 2 flossing "
                                   "steps after a warm-up, T = 55, QR every step) and kept.")])


# --- checkers --------------------------------------------------------------------------------------


def reference_batched_log_r(frames):
    """log|R_ii| of the reduced QR of each frame: (B, N, k) torch tensor -> (B, k)."""
    import torch
    r = torch.linalg.qr(frames, mode="reduced").R
    return torch.log(torch.abs(torch.diagonal(r, dim1=-2, dim2=-1)))


def reference_cell_jacobian(step, z, x):
    """The D x D Jacobian dz_next/dz of ``step(z, x)`` at (z, x), by torch.func (which
    differentiates under an outer ``torch.no_grad()`` too, as the cell demos call it)."""
    import torch
    return torch.func.jacrev(step, argnums=0)(z, x)


@checker(reference_batched_log_r)
def check_batched_log_r(func, n_cases: int = 3) -> bool:
    """``func(frames)`` with frames a torch tensor (B, N, k) -> (B, k) tensor of log|R_ii|."""
    import torch
    name = "batched_log_r"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(800 + case)
            b, n = int(rng.integers(1, 6)), int(rng.integers(2, 9))
            k = int(rng.integers(1, n + 1))
            frames = rng.standard_normal((b, n, k))
            # as the flossing demo calls it: frames inside autograd's graph (requires_grad), in
            # float64 and float32
            dtype = torch.float32 if case == n_cases - 1 else torch.float64
            tensor = torch.tensor(frames, dtype=dtype, requires_grad=True)
            result = call(name, func, tensor)
            if not isinstance(result, torch.Tensor):
                raise Answer(f"return a torch tensor, got {type(result).__name__}.")
            want = np.stack([np.log(np.abs(np.diag(np.linalg.qr(f)[1]))) for f in frames])
            if result.shape == want.shape and torch.isnan(result).any():
                raise Answer("take the absolute value before the log.")
            got = to_array(name, result, want.shape, "log|R_ii| per frame, shape (B, k)")
            if not close(got, want):
                raise Answer("use torch.linalg.qr(frames, mode='reduced') (it is batched) and "
                             "torch.diagonal(R, dim1=-2, dim2=-1).")
            if not result.requires_grad:
                raise Answer("the result does not depend on the frames for torch autograd (the "
                             "flossing demo differentiates through it): use torch operations "
                             "only (no .numpy(), .item() or .detach()).")
    return run(name, cases)


def reference_ensemble_flossing_loss(log_r, target):
    """(T, E, k) per-step log|R_ii| -> (E,) losses: lambda = mean over T, then mean over k of
    (lambda - target)^2."""
    lam = log_r.mean(0)
    return ((lam - target) ** 2).mean(-1)


@checker(reference_ensemble_flossing_loss)
def check_ensemble_flossing_loss(func, n_cases: int = 3) -> bool:
    """``func(log_r, target)`` with log_r a torch tensor (T, E, k) of per-step log|R_ii| -> the (E,)
    flossing losses, differentiable by torch autograd."""
    import torch
    name = "ensemble_flossing_loss"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(820 + case)
            t, e, k = int(rng.integers(5, 30)), int(rng.integers(2, 6)), int(rng.integers(1, 5))
            target = float(rng.uniform(-0.3, 0.1))
            raw = torch.tensor(rng.normal(-0.3, 0.5, size=(t, e, k)), requires_grad=True)
            result = call(name, func, raw, target)
            if not isinstance(result, torch.Tensor):
                raise Answer(f"return a torch tensor (so that torch can differentiate it), got "
                             f"{type(result).__name__}.")
            want = reference_ensemble_flossing_loss(raw.detach(), target).numpy()
            got = to_array(name, result, None, "the losses")
            if got.shape != want.shape:
                hint = ("one loss per member: average over time (axis 0) and over the k "
                        "exponents (the last axis), not over the members")
                raise Answer(f"the result must have shape (E,) = {want.shape}, got {got.shape}: "
                             + hint + ".")
            if not close(got, want):
                lam = raw.detach().numpy()
                if close(got, ((lam.sum(0) - target) ** 2).mean(-1)):
                    raise Answer("the exponents are the MEAN of log|R_ii| over the steps "
                                 "(per step), not the sum.")
                if close(got, ((lam.mean(0) - target) ** 2).sum(-1)):
                    raise Answer("take the MEAN over the k exponents, not the sum.")
                if close(got, ((lam - target) ** 2).mean((0, 2))):
                    raise Answer("average log|R_ii| over the steps FIRST (that is lambda), then "
                                 "square the distance to the target.")
                raise Answer("lambda = log_r.mean(0) (E, k); loss = ((lambda - target)**2)"
                             ".mean(-1).")
            if not result.requires_grad:
                raise Answer("the result does not depend on log_r for torch autograd: use torch "
                             "operations on log_r (no .numpy(), .item() or .detach()).")
            (grad,) = torch.autograd.grad(result.sum(), raw)
            lam = raw.detach().mean(0)
            want_grad = (2 * (lam - target) / (k * t)).expand(t, e, k)
            if not close(grad.numpy(), want_grad.numpy()):
                raise Answer("the value is right but its gradient is not: use differentiable "
                             "torch operations only.")
    return run(name, cases)


@checker(reference_cell_jacobian)
def check_cell_jacobian(func, n_cases: int = 3) -> bool:
    """``func(step, z, x)`` -> the D x D Jacobian dz_next/dz of a cell's step function
    ``step(z, x)`` at (z, x) (torch tensors)."""
    import torch
    name = "cell_jacobian"

    def cases():
        from ..engine.cells import cell_step_function
        for case, cls in enumerate((torch.nn.GRUCell, torch.nn.LSTMCell, torch.nn.RNNCell)
                                   [:n_cases]):
            torch.manual_seed(830 + case)
            n = 3 + case
            cell = cls(2, n).double()
            step = cell_step_function(cell)
            d = 2 * n if cls is torch.nn.LSTMCell else n
            z = torch.rand(d, dtype=torch.float64) * 2 - 1
            x = torch.rand(2, dtype=torch.float64)
            want = torch.autograd.functional.jacobian(lambda zz: step(zz, x), z).detach().numpy()
            # the demos call it under torch.no_grad() (cell_spectrum_with)
            got = to_array(name, call(name, func, step, z, x, no_grad=True), None, "the Jacobian")
            if got.shape == (d, 2):
                raise Answer("that is the Jacobian with respect to the input x; differentiate "
                             "with respect to the state z (jacrev's argnums=0).")
            if got.shape != (d, d):
                raise Answer(f"the Jacobian of a state of size D = {d} is D x D, got {got.shape}"
                             + (" (an LSTM's state is (h, c): D = 2N)" if d == 2 * n else "")
                             + ".")
            if close(got, want, rtol=1e-6, atol=1e-9):
                continue
            if close(got.T, want, rtol=1e-6, atol=1e-9):
                raise Answer("transposed: entry (i, j) is d z_next[i] / d z[j] "
                             "(torch.func.jacrev(step)(z, x) gives exactly that).")
            raise Answer("use torch.func.jacrev(step, argnums=0)(z, x).")
    return run(name, cases)
