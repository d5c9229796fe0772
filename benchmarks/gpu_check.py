"""The GPU check: one script, one JSON, about five minutes on one GPU.

    python benchmarks/gpu_check.py [--device cuda] [--out DIR] [--toy] [--only bench,ensemble,paper]
    python benchmarks/gpu_check.py --sweep [--dtype float32|float64] [--device cuda] [--out DIR]

1. ``bench``: ``python -m flosslab bench`` (naive torch loop against the engine; paper size, large,
   float32, ensembles of 1, 64 and 1024 networks).
2. ``ensemble``: flosses an ensemble of 1024 networks (N=80, k=75, T=55, seeds 0..1023) for a few
   steps on the device in float64 and in float32, and the same ensemble on the CPU in float64; reports
   the largest difference of the exponents (every step's, every member's) to the CPU float64 run, and
   the time per flossing step and networks per second.
3. ``paper``: trains one chunk of the paper budget (``flosslab.paper.budgets.PAPER``: N=80, k=75,
   3001 epochs, ...) on delayed XOR at d=48, three schedules x 10 seeds trained together, in float64
   (Cholesky-QR2 flossing on the GPU), as ``reproduce --budget paper`` would; its runs are saved in
   OUT/runs.jsonl like any sweep, and their accuracies are in the JSON.

4. ``sweep`` (only with ``--sweep``, or ``--only sweep``): the whole paper-budget XOR sweep, 7
   delays x 3 schedules x 10 seeds = 210 networks (``reproduce --budget paper --only c --tasks
   xor``), trained as few large ensembles on the device (``--sweep-chunk``, default all 210 in one;
   float32 as the author, ``--dtype float64`` on request), the epochs replayed as CUDA graphs where
   they apply (:mod:`flosslab.engine.graphs`; the JSON says whether they did). Reports the sweep's
   seconds against the target (600 s on one H100/H200-class GPU), and one network's flossing step
   on the device against the CPU (target: no slower). Records go to OUT/sweep/runs.jsonl.

Each section that fails records its error and the script goes on. After each section the JSON so far
is written to OUT/gpu_check.json, and at the end printed on stdout. ``--toy`` shrinks every size so
the script runs in seconds on a CPU (the test suite runs it so, with ``--device cpu``).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as onp
import torch

from flosslab.engine.bench import run_benchmark
from flosslab.engine.device import describe_device, resolve_device
from flosslab.engine.ensemble import init_ensemble
from flosslab.engine.flossing import floss
from flosslab.paper.budgets import PAPER
from flosslab.paper.sweep import RunSpec, run_sweep

SECTIONS = ("bench", "ensemble", "paper")
SWEEP_TARGET_S = 600.0


def environment(device) -> dict:
    info = {"device": describe_device(device), "torch": torch.__version__,
            "python": platform.python_version(), "cpu_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info |= {"cuda": torch.version.cuda,
                 "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
                 "tf32_cudnn": torch.backends.cudnn.allow_tf32,
                 "memory_gb": round(torch.cuda.get_device_properties(device).total_memory / 2**30,
                                    1)}
    return info


def timed_floss(params, n_steps, k, device, method):
    """One warm-up step, then ``n_steps`` timed; returns the histories and seconds per step."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seeds = list(range(params["W"].shape[0]))
    floss(params, 1, k, seed=seeds, method=method)
    sync()
    start = time.perf_counter()
    _, histories = floss(params, n_steps, k, seed=seeds, method=method)
    sync()
    return histories, (time.perf_counter() - start) / n_steps


def ensemble_check(device, e, n, k, n_steps) -> dict:
    """Float64 and float32 on the device against float64 on the CPU, same ensemble and draws."""
    out = {"members": e, "n": n, "k": k, "window": 55, "flossing_steps": n_steps}
    cpu = torch.device("cpu")
    runs = {}
    for label, dev, dtype, method in (("device_float64", device, "float64", "auto"),
                                      ("device_float32", device, "float32", "cholesky_qr2"),
                                      ("cpu_float64", cpu, "float64", "householder")):
        params = init_ensemble(n, 1.0, list(range(e)), device=dev, dtype=dtype)
        histories, seconds = timed_floss(params, n_steps, k, dev, method)
        runs[label] = onp.stack([h.spectra for h in histories])        # (E, steps, k)
        out[label] = {"seconds_per_step": seconds, "networks_per_s": e / seconds,
                      "method": method, "device": describe_device(dev)}
    ref = runs["cpu_float64"]
    for label in ("device_float64", "device_float32"):
        diff = onp.abs(runs[label] - ref)
        out[label]["max_abs_dlambda_all_steps"] = float(diff.max())
        out[label]["max_abs_dlambda_first_step"] = float(diff[:, 0].max())
        out[label]["max_abs_dlambda_by_index"] = diff[:, 0].max(axis=0).round(12).tolist()
    out["float64_within_1e-8"] = out["device_float64"]["max_abs_dlambda_all_steps"] <= 1e-8
    return out


def paper_chunk(device, out_dir, toy: bool) -> dict:
    budget = replace(PAPER, dtype="float64")
    if toy:
        budget = replace(budget, n_units=8, n_exponents=4, n_epochs=12, floss_steps=3,
                         inter_epochs=(4, 8), eval_every=6, eval_batch=16, seq_len=30)
    delay, seeds = (48, range(10)) if not toy else (6, range(2))
    specs = [RunSpec("xor", delay, s, seed) for s in ("none", "pre", "inter") for seed in seeds]
    start = time.perf_counter()
    records = run_sweep(specs, budget, out_dir, str(device), chunk=len(specs),
                        log=lambda line: print(line, file=sys.stderr, flush=True))
    seconds = time.perf_counter() - start
    acc = {s: [records[sp.key(budget)]["final_accuracy"] for sp in specs if sp.schedule == s]
           for s in ("none", "pre", "inter")}
    return {"task": "xor", "delay": delay, "budget": "paper (float64)", "members": len(specs),
            "n_epochs": budget.n_epochs, "seconds_whole_chunk": seconds,
            "seconds_per_network": seconds / len(specs),
            "accuracy": {s: {"median": float(onp.median(v)), "all": v} for s, v in acc.items()}}


def one_network_floss_step(device, toy: bool, dtype: str, n_steps: int) -> dict:
    """Seconds per flossing step of one network (N=80, k=75) on the device and on the CPU."""
    n, k = (8, 4) if toy else (80, 75)
    out = {"n": n, "k": k, "dtype": dtype}
    for label, dev in (("device", device), ("cpu", torch.device("cpu"))):
        params = init_ensemble(n, 1.0, [0], device=dev, dtype=dtype)
        _, seconds = timed_floss(params, n_steps, k, dev, "auto")
        out[f"{label}_ms_per_step"] = seconds * 1e3
    out["device_no_slower_than_cpu"] = out["device_ms_per_step"] <= out["cpu_ms_per_step"]
    return out


def sweep_check(device, out_dir, toy: bool, dtype: str, chunk: int | None) -> dict:
    """The paper-budget XOR sweep (210 networks) on the device, timed whole."""
    from flosslab.engine import graphs
    budget = replace(PAPER, dtype=dtype)
    delays, seeds = dict(PAPER.delays)["xor"], range(10)
    if toy:
        budget = replace(budget, n_units=8, n_exponents=4, n_epochs=12, floss_steps=3,
                         inter_epochs=(4, 8), eval_every=6, eval_batch=16, seq_len=30)
        delays, seeds = (4, 6), range(2)
    specs = [RunSpec("xor", d, s, seed) for d in delays for s in ("none", "pre", "inter")
             for seed in seeds]
    chunk = chunk or len(specs)
    before = dict(captured=graphs.STATS["captured"], fallbacks=len(graphs.STATS["fallbacks"]))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    records = run_sweep(specs, budget, Path(out_dir) / "sweep", str(device), chunk=chunk,
                        log=lambda line: print(line, file=sys.stderr, flush=True))
    sync()
    seconds = time.perf_counter() - start
    acc = {s: float(onp.median([records[sp.key(budget)]["final_accuracy"] for sp in specs
                                if sp.schedule == s])) for s in ("none", "pre", "inter")}
    return {"task": "xor", "delays": list(delays), "seeds": len(seeds), "networks": len(specs),
            "chunk": chunk, "dtype": dtype, "n_epochs": budget.n_epochs,
            "seconds_whole_sweep": seconds, "seconds_per_network": seconds / len(specs),
            "target_seconds": SWEEP_TARGET_S, "within_target": seconds <= SWEEP_TARGET_S,
            "note": "records already in OUT/sweep/runs.jsonl are not retrained: use a fresh --out",
            "records": len(records),
            "cuda_graphs": {"captured": graphs.STATS["captured"] - before["captured"],
                            "fallbacks": graphs.STATS["fallbacks"][before["fallbacks"]:]},
            "median_accuracy": acc,
            "one_network_floss_step": one_network_floss_step(device, toy, dtype,
                                                             3 if toy else 20)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default="gpu_check_out")
    parser.add_argument("--toy", action="store_true", help="tiny sizes (for tests on a CPU)")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--sweep", action="store_true",
                        help="time the 210-network paper-budget XOR sweep on the device (alone)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                        help="precision of the --sweep section (float32 as the author)")
    parser.add_argument("--sweep-chunk", type=int, default=None,
                        help="networks per ensemble in --sweep (default: all in one)")
    args = parser.parse_args(argv)
    if args.sweep:
        args.only = "sweep"
    device = resolve_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "toy": args.toy,
              "environment": environment(device), "seconds": {}}

    def save():
        (out / "gpu_check.json").write_text(json.dumps(result, indent=1, allow_nan=False))

    jobs = {
        "bench": lambda: run_benchmark(device, quick=args.toy, repeats=1 if args.toy else 5),
        "ensemble": lambda: ensemble_check(device, *((8, 10, 6, 3) if args.toy
                                                     else (1024, 80, 75, 5))),
        "paper": lambda: paper_chunk(device, out, args.toy),
        "sweep": lambda: sweep_check(device, out, args.toy, args.dtype, args.sweep_chunk),
    }
    for name in args.only.split(","):
        start = time.perf_counter()
        try:
            result[name] = jobs[name]()
        except Exception as exc:             # keep going: the other sections still tell something
            result[name] = {"error": f"{type(exc).__name__}: {exc}",
                            "traceback": traceback.format_exc()[-4000:]}
        result["seconds"][name] = round(time.perf_counter() - start, 1)
        print(f"[gpu_check] {name} done in {result['seconds'][name]} s", file=sys.stderr,
              flush=True)
        save()
    result["seconds"]["total"] = round(sum(result["seconds"].values()), 1)
    save()
    print(json.dumps(result, allow_nan=False))
    return 0 if not any("error" in result[name] for name in args.only.split(",")) else 1


if __name__ == "__main__":
    sys.exit(main())
