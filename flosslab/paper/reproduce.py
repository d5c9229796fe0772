"""Reproduce the paper's claims:
``python -m flosslab reproduce [--budget default|paper] [--fast] [--out DIR]``.

Six experiments, each written to one PNG, with every number behind the figures in ``results.json``:

a. spectra before and after flossing k of N exponents, for several gains and several k;
b. log10 condition number of the long-term Jacobian, and ||dL/dh_t||, against t, before and after
   flossing (the paper's size, N=80, k=75);
c. delayed copy and delayed XOR: final accuracy against delay for no flossing, preflossing and
   pre + periodic flossing, over several seeds (median and quartiles);
d. accuracy against the number of flossed exponents k on temporal parity of order 3;
e. effective rank of dL/dW over training, with and without flossing (from the runs of c);
f. the measured cost of one flossing step (forward + backward) against N and against k.

The training experiments (c, d, e) run under a *budget* (:mod:`flosslab.paper.budgets`: ours,
``default``, or the author's, ``paper``) as resumable sweeps (:mod:`flosslab.paper.sweep`): chunks of
runs trained together as torch ensembles, each finished chunk saved in ``runs.jsonl`` in the output
folder, so an interrupted run continues where it stopped. Every seed is reported, none is picked;
horizons come with a bootstrap interval over seeds (:mod:`flosslab.paper.stats`). Delay convention:
:mod:`flosslab.core.tasks` (d = the longest lag, as in the author's published notation).
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as onp
import torch

from ..core.conventions import random_bits
from ..core.errors import FlosslabError
from ..core.records import strict_json
from ..core.tasks import make_batch
from ..core.trainconfig import PAPER_SCHEDULES
from ..core.validate import check_choice
from .budgets import DEFAULT, Budget, budget_delays, get_budget
from .results import write_summary
from .stats import bootstrap_horizon, horizon, quartiles
from .sweep import RunSpec, run_sweep


@dataclass
class Sizes:
    """The sizes of the experiments that do not train (a, b, f), the parity k sweep (d) and the
    seeds of every training sweep; ``full()`` and ``fast()`` are the two presets. The training
    settings themselves come from a :class:`~flosslab.paper.budgets.Budget`."""
    spec_units: int = 64
    spec_gains: tuple = (1.0, 2.0)
    spec_ks: tuple = (4, 16, 48)
    spec_floss_steps: int = 300
    cond_units: int = 80
    cond_k: int = 75
    cond_floss_steps: int = 500
    cond_window: int = 300
    seeds: tuple = tuple(range(10))
    parity_delay: int = 18
    parity_ks: tuple = (1, 4, 16, 48)
    cost_ns: tuple = (32, 64, 128, 256)
    cost_ks: tuple = (8, 16, 32, 64, 128)
    cost_n_for_k: int = 128
    cost_steps: int = 55
    cost_repeats: int = 3
    lr: float = 3e-3

    @classmethod
    def full(cls) -> "Sizes":
        return cls()

    @classmethod
    def fast(cls) -> "Sizes":
        return cls(spec_units=32, spec_ks=(4, 16), spec_floss_steps=100, cond_units=40,
                   cond_k=36, cond_floss_steps=150, seeds=(0, 1, 2), parity_delay=12,
                   parity_ks=(1, 16), cost_ns=(32, 64, 128), cost_ks=(8, 32), cost_n_for_k=64,
                   cost_repeats=2)


#: ``--fast``: the default budget shrunk to run in about a minute on two cores.
FAST_BUDGET = replace(DEFAULT, name="default-fast", n_units=32, n_exponents=16, n_epochs=250,
                      floss_steps=100, inter_epochs=(62, 125), eval_every=25,
                      delays=(("copy", (10, 25, 40)), ("xor", (8, 16, 24))))


# --- a. spectra before and after flossing -----------------------------------------------------

def spectra_before_after(sizes: Sizes, device, progress=False) -> dict:
    from ..engine.ensemble import ensemble_spectrum, floss_in_chunks, init_ensemble
    members = [(g, k) for g in sizes.spec_gains for k in sizes.spec_ks]
    seeds = list(range(len(members)))
    params = init_ensemble(sizes.spec_units, [g for g, _ in members], [0] * len(members),
                           device=device)
    n = sizes.spec_units
    before = ensemble_spectrum(params, seq_len=500, n_exponents=n, seeds=seeds)
    flossed, _ = floss_in_chunks(params, sizes.spec_floss_steps, [k for _, k in members],
                                lr=sizes.lr, seeds=seeds, progress=progress)
    after = ensemble_spectrum(flossed, seq_len=500, n_exponents=n, seeds=seeds)
    return {"n": n, "floss_steps": sizes.spec_floss_steps,
            "runs": [{"gain": g, "k": k, "before": b.tolist(), "after": a.tolist(),
                      "mean_abs_flossed_after": float(onp.mean(onp.abs(a[:k]))),
                      "mean_abs_flossed_before": float(onp.mean(onp.abs(b[:k])))}
                     for (g, k), b, a in zip(members, before, after)]}


# --- b. condition number and gradient norms against t -------------------------------------------

def condition_and_gradients(sizes: Sizes, device, progress=False) -> dict:
    from ..engine.diagnostics import condition_number_curve, state_gradient_norms
    from ..engine.flossing import floss
    from ..engine.model import init_rnn
    n, k, window = sizes.cond_units, sizes.cond_k, sizes.cond_window
    params = init_rnn(n, 1.0, seed=0, device=device)
    flossed, history = floss(params, sizes.cond_floss_steps, k, lr=1e-3, seed=0,
                             progress=progress)
    transient = 100
    inputs = random_bits(transient + window, 1, seed=11)
    batch = make_batch("copy", 1, batch_size=8, seq_len=window, seed=12)
    out = {"n": n, "k": k, "window": window, "floss_steps": sizes.cond_floss_steps,
           "floss_loss": [float(x) for x in history.losses]}
    for label, p in (("before", params), ("after", flossed)):
        times, kappa = condition_number_curve(p, inputs, n_values=k, transient=transient,
                                              times=onp.unique(onp.linspace(1, window, 16)
                                                               .astype(int)))
        norms = state_gradient_norms(p, batch.inputs, batch.targets, batch.mask, loss_at="last")
        out[label] = {"times": times.tolist(), "log10_condition": kappa.tolist(),
                      "grad_norm": norms.tolist()}
    out["log10_condition_drop"] = out["before"]["log10_condition"][-1] - \
        out["after"]["log10_condition"][-1]
    return out


# --- c, e. accuracy against delay; effective rank over training ---------------------------------

def delay_sweep(task: str, delays, budget: Budget, seeds, out_dir, device, schedules=None,
                variant: str = "", chunk: int = 16, jobs: int = 1, progress=False,
                log=print, scheduler=None) -> dict:
    """Final accuracy against delay for each schedule over ``seeds`` (a resumable sweep)."""
    schedules = tuple(schedules or PAPER_SCHEDULES)
    specs = [RunSpec(task, d, s, seed, variant) for d in delays for s in schedules for seed in seeds]
    records = run_sweep(specs, budget, out_dir, device, chunk, jobs, progress, log,
                        scheduler=scheduler)
    acc, ranks, seconds = {s: {} for s in schedules}, {s: {} for s in schedules}, []
    steps = {s: {} for s in schedules}
    for spec in specs:
        r = records[spec.key(budget)]
        acc[spec.schedule].setdefault(spec.delay, []).append(r["final_accuracy"])
        ranks[spec.schedule].setdefault(spec.delay, []).append(r["grad_rank"])
        steps[spec.schedule].setdefault(spec.delay, []).append(r.get("step_rank") or None)
        seconds.append(r["seconds_per_run"])
    summary = {s: {str(d): quartiles(v) for d, v in acc[s].items()} for s in schedules}
    example = records[specs[0].key(budget)]
    config = specs[0].config(budget)
    inter = [RunSpec(task, delays[0], "inter", 0, variant).config(budget).inter_epochs]
    # the rank of Adam's step on W (the author's svdvals(gs[J])), where every run recorded it
    step_rank = None if any(v is None for by in steps.values() for vs in by.values() for v in vs) \
        else {s: {str(d): onp.median(onp.asarray(v, dtype=float), axis=0).tolist()
                  for d, v in steps[s].items()} for s in schedules}
    return {"task": task, "budget": budget.name, "variant": variant, "delays": list(delays),
            "epochs": config.n_epochs, "n": config.n_units, "k": config.n_exponents,
            "floss_steps": config.floss_steps, "inter_epochs": list(inter[0]),
            "clip": config.clip, "lr": config.lr, "dtype": budget.dtype,
            "seq_len": config.seq_len if budget.with_variant(variant).seq_len else "delay + 50",
            "seeds": list(seeds), "accuracy": summary, "eval_epochs": example["eval_epochs"],
            "grad_rank": {s: {str(d): onp.median(onp.asarray(v), axis=0).tolist()
                              for d, v in ranks[s].items()} for s in schedules},
            **({"step_rank": step_rank} if step_rank else {}),
            "horizon_0.9": {s: horizon(summary[s], 0.9) for s in schedules},
            "horizon_0.9_interval": {s: bootstrap_horizon(acc[s], 0.9) for s in schedules},
            "seconds_per_run_median": float(onp.median(seconds)),
            "device": example["device"]}


def claims_from_sweep(sweep: dict) -> dict:
    """The acceptance numbers of the reproduction, from a delay sweep.

    d_fail: the shortest delay at which no flossing fails (median <= 0.6), i.e. the first delay past
    plain BPTT's reach; preflossing's median there. And horizon(pre + periodic) / horizon(none) at
    the 0.9 level.
    """
    acc = sweep["accuracy"]
    failing = sorted(int(d) for d, q in acc["none"].items() if q["median"] <= 0.6)
    d_fail = failing[0] if failing else None
    h_none, h_inter = sweep["horizon_0.9"]["none"], sweep["horizon_0.9"]["inter"]
    return {"delay_where_none_fails": d_fail,
            "pre_median_there": acc["pre"][str(d_fail)]["median"] if d_fail else None,
            "none_median_there": acc["none"][str(d_fail)]["median"] if d_fail else None,
            "horizon_none": h_none, "horizon_pre": sweep["horizon_0.9"]["pre"],
            "horizon_inter": h_inter,
            "horizon_ratio_inter_over_none": (h_inter / h_none) if h_none and h_inter else None}


# --- d. accuracy against k ----------------------------------------------------------------------

def k_sweep(sizes: Sizes, budget: Budget, out_dir, device, chunk: int = 16, jobs: int = 1,
            progress=False, log=print, scheduler=None) -> dict:
    """Final accuracy against the number of preflossed exponents k on parity of order 3."""
    settings = [("none", 1)] + [("pre", k) for k in sizes.parity_ks if k <= budget.n_units]
    specs = [RunSpec("parity", sizes.parity_delay, s, seed, order=3, n_exponents=k)
             for s, k in settings for seed in sizes.seeds]
    records = run_sweep(specs, budget, out_dir, device, chunk, jobs, progress, log,
                        scheduler=scheduler)
    acc = {}
    for spec in specs:
        key = "none" if spec.schedule == "none" else str(spec.n_exponents)
        acc.setdefault(key, []).append(records[spec.key(budget)]["final_accuracy"])
    return {"task": "parity", "order": 3, "delay": sizes.parity_delay, "n": budget.n_units,
            "budget": budget.name, "ks": [k for s, k in settings if s == "pre"],
            "seeds": list(sizes.seeds), "accuracy": {key: quartiles(v) for key, v in acc.items()}}


# --- f. cost ------------------------------------------------------------------------------------

def flossing_cost(sizes: Sizes, device) -> dict:
    from ..core.conventions import random_frame
    from ..engine.bench import engine_flossing_step, median_ms
    from ..engine.model import init_rnn
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    bits = random_bits(sizes.cost_steps, 1, seed=0)

    def ms(n, k):
        params = init_rnn(n, 1.0, seed=0, device=device)
        for v in params.values():
            v.requires_grad_()
        frame = torch.as_tensor(random_frame(n, k, 0), device=device, dtype=params["W"].dtype)
        step = engine_flossing_step(params, bits, 0, frame, 16, "auto", reorth_every=1)
        return median_ms(step, sizes.cost_repeats, sync)

    by_n = [(n, n // 2, ms(n, n // 2)) for n in sizes.cost_ns]
    by_k = [(sizes.cost_n_for_k, k, ms(sizes.cost_n_for_k, k)) for k in sizes.cost_ks
            if k <= sizes.cost_n_for_k]
    def slope(x, y):
        return float(onp.polyfit(onp.log(x), onp.log(y), 1)[0])
    return {"steps": sizes.cost_steps, "reorth_every": 1,
            "by_n": [{"n": n, "k": k, "ms": t} for n, k, t in by_n],
            "by_k": [{"n": n, "k": k, "ms": t} for n, k, t in by_k],
            "loglog_slope_n_at_k_n_over_2": slope([r[0] for r in by_n], [r[2] for r in by_n]),
            "loglog_slope_k": slope([r[1] for r in by_k], [r[2] for r in by_k])}


# --- the whole run ------------------------------------------------------------------------------

EXPERIMENTS = ("a", "b", "c", "d", "e", "f")


def reproduce(out_dir="reproduce_out", fast: bool = False, device="auto", progress: bool = False,
              sizes: Sizes | None = None, only=EXPERIMENTS, log=print, budget="default",
              tasks=("copy", "xor"), delays=None, seeds=None, schedules=None, variant: str = "",
              chunk: int | None = None, jobs: int = 1, scheduler=None) -> dict:
    """Run the experiments, write one PNG per figure and ``results.json`` into ``out_dir``.

    ``budget`` (``"default"``, ``"paper"`` or a :class:`Budget`) sets the training runs of c, d
    and e; their finished runs are kept in ``out_dir/runs.jsonl`` and a rerun trains only what is
    missing. ``tasks``, ``delays`` (default: the budget's), ``seeds`` (default: ``sizes.seeds``),
    ``schedules`` and ``variant`` (one budget setting changed, see
    :data:`flosslab.paper.budgets.VARIANTS`) choose the delay sweep's runs; ``chunk`` runs train
    together (default 16 on a CPU, 256 on a GPU) and ``jobs`` chunks at once in separate processes;
    ``scheduler`` (a Dask scheduler address or ``distributed.Client``) trains the chunks on a Dask
    cluster's workers instead, where ``device`` is resolved (this process still runs a, b, f).
    With ``only`` a subset, an existing ``results.json`` there is updated, not replaced.
    """
    from ..engine.device import describe_device, resolve_device
    from . import figures
    only = tuple(check_choice("experiment", x, EXPERIMENTS) for x in only)
    sizes = (Sizes.fast() if fast else Sizes.full()) if sizes is None else sizes
    if isinstance(budget, str):
        budget = FAST_BUDGET if (fast and budget == "default") else get_budget(budget)
    seeds = tuple(sizes.seeds if seeds is None else seeds)
    if not seeds:
        raise FlosslabError("give at least one seed")
    requested = str(device) if isinstance(device, (str, torch.device)) else device
    device = resolve_device("cpu" if scheduler is not None and requested == "cuda"
                            and not torch.cuda.is_available() else device)
    on_gpu = device.type == "cuda" or (scheduler is not None and requested == "cuda")
    chunk = chunk or (256 if on_gpu else 16)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    previous = out / "results.json"
    if previous.exists():
        # a partial rerun updates the stored results instead of discarding the others
        results = json.loads(previous.read_text())
        results.pop("notes", None)            # written afresh below
    results |= {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                "cores": torch.get_num_threads(), "device": describe_device(device),
                "torch": torch.__version__, "fast": fast, "date": time.strftime("%Y-%m-%d"),
                "sizes": asdict(sizes), "budget": budget.as_dict()}
    results.setdefault("seconds", {})
    # on a cluster the workers pick their own device ("auto": a worker's GPU if it has one)
    sweep_device = str(device) if scheduler is None or requested in ("cpu", None) else requested
    sweep_args = dict(out_dir=out, device=sweep_device, chunk=chunk, jobs=jobs, progress=progress,
                      log=log, scheduler=scheduler)

    def timed(name, fn):
        t0 = time.perf_counter()
        value = fn()
        results["seconds"][name] = round(time.perf_counter() - t0, 1)
        log(f"[{name}] done in {results['seconds'][name]:.0f} s")
        return value

    if "a" in only:
        results["a_spectra"] = timed("a", lambda: spectra_before_after(sizes, device, progress))
        figures.spectra(results["a_spectra"], out / "fig_a_spectra.png")
    if "b" in only:
        results["b_condition"] = timed("b", lambda: condition_and_gradients(sizes, device,
                                                                            progress))
        figures.condition(results["b_condition"], out / "fig_b_condition_gradients.png")
    if "c" in only or "e" in only:
        suffix = f"_{variant}" if variant else ""
        sweeps = timed("c" + suffix, lambda: {
            task: delay_sweep(task, tuple(delays or budget_delays(budget, task)), budget, seeds,
                              schedules=schedules, variant=variant, **sweep_args)
            for task in tasks})
        results.setdefault("c_delay" + suffix, {}).update(sweeps)
        if not variant and set(schedules or PAPER_SCHEDULES) >= set(PAPER_SCHEDULES):
            results["c_claims"] = {t: claims_from_sweep(s) for t, s in results["c_delay"].items()}
        figures.accuracy_vs_delay(results["c_delay" + suffix],
                                  out / f"fig_c_accuracy_vs_delay{suffix}.png")
        if "xor" in results["c_delay" + suffix]:
            figures.effective_rank(results["c_delay" + suffix]["xor"],
                                   out / f"fig_e_effective_rank{suffix}.png")
    if "d" in only:
        results["d_k"] = timed("d", lambda: k_sweep(sizes, budget, **sweep_args))
        figures.accuracy_vs_k(results["d_k"], out / "fig_d_accuracy_vs_k.png")
    if "f" in only:
        results["f_cost"] = timed("f", lambda: flossing_cost(sizes, device))
        figures.cost(results["f_cost"], out / "fig_f_cost.png")
    results["seconds"]["total"] = round(sum(v for key, v in results["seconds"].items()
                                            if key != "total"), 1)
    stored, replaced = strict_json(results)        # strict JSON: -inf exponents become null
    if replaced:
        stored["notes"] = ("not finite (a -inf exponent is a collapsed frame), written as null: "
                           + ", ".join(replaced[:20]) + (" ..." if len(replaced) > 20 else ""))
    (out / "results.json").write_text(json.dumps(stored, indent=1, allow_nan=False))
    write_summary(stored, out / "summary.json")
    return results
