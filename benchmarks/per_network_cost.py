"""Core-seconds per paper-budget network on the CPU, old path against new, with the arithmetic floor.

    python benchmarks/per_network_cost.py [--chunk 16] [--new-chunks 16 32] [--repeats 3] [--out PREFIX]

A paper-budget network (:data:`flosslab.paper.budgets.PAPER`: N=80, k=75, 3001 epochs of 16
sequences of 300 steps, evaluation every 250 epochs, 500 flossing steps per episode, float32) costs
minutes, so its cost is assembled from measured parts, each timed in this process as CPU time
(``time.process_time``, one torch thread: core-seconds, which the other processes on a shared
machine inflate much less than wall time), for a chunk of E networks trained together as
``reproduce`` trains them (old path: E = 16, its CPU default; new path: E = 16 and 32, since the
per-network cost of an epoch falls with E while the per-step overhead is shared):

* ``epoch``: one training epoch (batch, forward, backward, clipping, Adam), from two runs of
  ``train_members`` with ``a`` and ``b`` epochs and no flossing: (t_b - t_a) / (b - a);
* ``eval``: one evaluation (accuracy on 256 fresh sequences, a 200-step spectrum, the gradient's
  rank), from runs with and without evaluations after every epoch;
* ``floss_step``: one flossing step of the episode (``floss`` on the E networks), per step. The
  flossing code is the same in both paths (the fused recursion of ``engine/recursion.py``, whose
  QRs are LAPACK's at its measured rate, see the floor): its old/new difference is noise.

Per network: ``(3001 epoch + 13 eval + episodes x 500 floss_step) / E`` with 0 / 1 / 3 episodes for
no flossing / preflossing / pre + periodic flossing. The old and new paths alternate in one run
(``--repeats`` rounds; the minimum of each timing is kept: on a shared machine the other processes
only ever add time, and they add much, as the saved spread of the rounds shows): old = ``train_members(fused=False)``
(autograd through run_rnn, readout, bce), new = the default (``TaskLossRecursion``).

The floor: the floating-point operations of each part (below), at this machine's measured rate for
their kind: batched products at the shapes of the step (E x (16 x 80) @ (80 x 80), E x (75 x 80) @
(80 x 80)) and LAPACK's Householder QR of E frames of 80 x 75 (geqrf + orgqr, 4 N k^2 - 4 k^3 / 3).
Training epoch: the recurrent product forward, and backward twice (h_b and W_b): 3 x 2 B T N^2.
Flossing step, per time step of its 55: frame product 2 N^2 k forward and 2 x 2 N^2 k backward and
the QR's backward (5 N k^2), all at the product rate, and the QR at LAPACK's. Evaluation: 2 N^2 per step of 256 x 300, and a 200-step
spectrum (frame product + QR each step). Elementwise work (tanh, ...) is not counted: the floor is
what the products and QRs alone would take.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace

import torch

from flosslab.core.settings import threads
from flosslab.engine.ensemble import init_ensemble
from flosslab.engine.flossing import floss
from flosslab.engine.training import train_members
from flosslab.paper.budgets import PAPER
from flosslab.paper.sweep import RunSpec

PATHS = {"old": {"fused": False}, "new": {"fused": True}}
SCHEDULES = {"none": 0, "pre": 1, "inter": 3}
EPOCHS, EVALS = PAPER.n_epochs, PAPER.n_epochs // PAPER.eval_every + 1       # 3001, 13


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def configs(e, n_epochs, eval_every):
    budget = replace(PAPER, n_epochs=n_epochs, eval_every=eval_every)
    return [RunSpec("xor", 48, "none", seed).config(budget) for seed in range(e)]


def measure_parts(path: dict, e: int, a: int = 2, b: int = 12, floss_steps: int = 2) -> dict:
    """CPU seconds of one round: runs of ``a`` and ``b`` epochs, ``a`` epochs with evaluations
    after each, and ``floss_steps`` flossing steps, for a chunk of ``e`` networks."""
    train = lambda n, every: cpu_seconds(lambda: train_members(configs(e, n, every),
                                                               dtype=PAPER.dtype, **path))
    params = init_ensemble(PAPER.n_units, 1.0, list(range(e)), dtype=PAPER.dtype)
    seeds = list(range(e))
    return {"train_a": train(a, 10 ** 6), "train_b": train(b, 10 ** 6),
            "train_a_evals": train(a, 1),
            "floss": cpu_seconds(lambda: floss(params, floss_steps, PAPER.n_exponents,
                                               seed=seeds)) / floss_steps}


def parts_from_rounds(rounds: list, a: int = 2, b: int = 12) -> dict:
    """Each timing's minimum over the rounds (the other processes only ever add time), then the
    parts: per epoch (t_b - t_a) / (b - a), per evaluation (t_a,evals - t_a) / (a - 1)."""
    best = {key: min(r[key] for r in rounds) for key in rounds[0]}
    return {"epoch": (best["train_b"] - best["train_a"]) / (b - a),
            "eval": max(0.0, best["train_a_evals"] - best["train_a"]) / (a - 1),
            "floss_step": best["floss"]}


def per_network(parts: dict, e: int) -> dict:
    return {s: (EPOCHS * parts["epoch"] + EVALS * parts["eval"]
                + n * PAPER.floss_steps * parts["floss_step"]) / e
            for s, n in SCHEDULES.items()}


def rate(fn, flops: float, repeats: int = 20) -> float:
    fn()
    return flops * repeats / cpu_seconds(lambda: [fn() for _ in range(repeats)])


def floor(e: int, repeats: int = 3) -> dict:
    n, k, batch, t = PAPER.n_units, PAPER.n_exponents, PAPER.batch_size, PAPER.seq_len
    dt = getattr(torch, PAPER.dtype)
    h, w = torch.randn(e, batch, n, dtype=dt), torch.randn(e, n, n, dtype=dt)
    fr = torch.randn(e, k, n, dtype=dt)
    a = torch.randn(e, k, n, dtype=dt).mT        # column-major frames, as the recursion's QRs
    qr_flops = 4 * n * k ** 2 - 4 * k ** 3 / 3
    # the best of a few tries: the rate this machine reaches at these shapes when least disturbed
    rates = {"gemm_state": max(rate(lambda: torch.bmm(h, w), 2 * e * batch * n * n, 200)
                               for _ in range(repeats)),
             "gemm_frame": max(rate(lambda: torch.bmm(fr, w), 2 * e * k * n * n, 100)
                               for _ in range(repeats)),
             "qr": max(rate(lambda: torch.linalg.qr(a), e * qr_flops, 20) for _ in range(repeats))}
    window, seq, spec = 55, 256 * t, 200
    epoch = 3 * 2 * batch * t * n * n / rates["gemm_state"]
    # the QR at LAPACK's rate; its backward (products and a triangular solve) at the product rate
    step = window * ((3 * 2 * n * n * k + 5 * n * k ** 2) / rates["gemm_frame"]
                     + qr_flops / rates["qr"])
    evaluation = 2 * seq * n * n / rates["gemm_state"] + spec * (
        2 * n * n * k / rates["gemm_frame"] + qr_flops / rates["qr"])
    parts = {"epoch": epoch, "eval": evaluation, "floss_step": step}
    return {"rates_gflops": {key: v / 1e9 for key, v in rates.items()},
            "parts_per_network_s": parts,
            "per_network_s": {s: EPOCHS * epoch + EVALS * evaluation
                              + m * PAPER.floss_steps * step for s, m in SCHEDULES.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk", type=int, default=16,
                        help="networks trained together (E) on the old path: reproduce's default")
    parser.add_argument("--new-chunks", type=int, nargs="+", default=[16, 32],
                        help="chunk sizes of the new path")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="write PREFIX.json and PREFIX.txt")
    args = parser.parse_args()
    chunks = sorted({args.chunk, *args.new_chunks})
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M")
    cases = [("old", args.chunk)] + [("new", c) for c in chunks]
    with threads(1):
        for name, c in cases:                                          # warm-up
            train_members(configs(c, 1, 10 ** 6), dtype=PAPER.dtype, **PATHS[name])
        rounds = {f"{name}@{c}": [] for name, c in cases}
        for _ in range(args.repeats):
            for name, c in cases:
                rounds[f"{name}@{c}"].append(measure_parts(PATHS[name], c))
        fl = floor(args.chunk)
    parts = {label: parts_from_rounds(r) for label, r in rounds.items()}
    cost = {label: per_network(p, int(label.split("@")[1])) for label, p in parts.items()}
    base = f"old@{args.chunk}"
    result = {"date": started, "machine": f"{platform.machine()} {platform.processor()}".strip(),
              "cpu": _cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
              "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "threads": 1, "dtype": PAPER.dtype, "baseline": base,
              "load_average_before_after": [round(load_before[0], 2),
                                            round(os.getloadavg()[0], 2)],
              "rounds_cpu_s": rounds, "parts_cpu_s_per_chunk": parts,
              "core_seconds_per_network": cost,
              "speedup_vs_baseline": {label: {s: cost[base][s] / cost[label][s]
                                              for s in SCHEDULES} for label in cost},
              "floor": fl,
              "extrapolation": f"per network = ({EPOCHS} epoch + {EVALS} eval + episodes x "
                               f"{PAPER.floss_steps} floss_step) / E; episodes 0/1/3"}
    lines = [f"core-seconds per paper-budget network (float32, 1 thread), {started}, "
             f"{result['cpu']} ({result['cpu_capability']}), {result['cores']} cores, load "
             f"average {result['load_average_before_after']} (before, after); "
             f"min of {args.repeats} rounds",
             f"{'path@chunk':<12}" + "".join(f"{s:>9}{'x':>7}" for s in SCHEDULES)]
    for label in cost:
        lines.append(f"{label:<12}" + "".join(
            f"{cost[label][s]:>9.1f}{result['speedup_vs_baseline'][label][s]:>6.2f}x"
            for s in SCHEDULES))
    lines.append(f"{'floor':<12}" + "".join(f"{fl['per_network_s'][s]:>9.1f}{'':>7}"
                                            for s in SCHEDULES))
    for label, p in parts.items():
        e = int(label.split("@")[1])
        lines.append(f"  {label}: per network, epoch {p['epoch'] / e * 1e3:.2f} ms, evaluation "
                     f"{p['eval'] / e * 1e3:.1f} ms, flossing step {p['floss_step'] / e * 1e3:.2f} ms")
    lines.append("  floor: epoch {epoch:.2f} ms, evaluation {eval:.1f} ms, flossing step "
                 "{floss_step:.2f} ms".format(**{k: v * 1e3 for k, v in
                                                 fl["parts_per_network_s"].items()}))
    lines.append("  measured rates (GFLOP/s, 1 thread, best of 3): " + ", ".join(
        f"{key} {v:.1f}" for key, v in fl["rates_gflops"].items()))
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out + ".json", "w") as f:
            json.dump(result, f, indent=1)
        with open(args.out + ".txt", "w") as f:
            f.write(text + "\n")


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
