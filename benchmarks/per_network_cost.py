"""Core-seconds per paper-budget network on the CPU, old code against new, with the arithmetic floor.

    git worktree add --detach /tmp/flosslab-old a9c023e      # the code before this work
    python benchmarks/per_network_cost.py --old-tree /tmp/flosslab-old [--out PREFIX]

A paper-budget network (:data:`flosslab.paper.budgets.PAPER`: N=80, k=75, 3001 epochs of 16
sequences of 300 steps, evaluation every 250 epochs, 500 flossing steps per episode, float32) costs
minutes, so its cost is assembled from measured parts, each timed as CPU time of one process
(``time.process_time``, one torch thread: core-seconds, which the other processes on a shared
machine inflate much less than wall time), for a chunk of E networks trained together as
``reproduce`` trains them. Every case runs in its own Python process importing flosslab from its
own tree: **old** = ``--old-tree`` (a checkout of commit a9c023e, the code when the per-network
cost was first measured: autograd through the training epoch, the flossing backward of that time)
at ``--chunk`` (16, reproduce's CPU default); **new** = this tree at each of ``--new-chunks``,
and **new + floss_qr_auto** (the budget variant whose flossing episodes take a QR only as often as
the frame's spread needs, :mod:`flosslab.core.schedule`; the author's code takes one every step).

* ``epoch``: one training epoch (batch, forward, backward, clipping, Adam), from two runs of
  ``train_members`` with ``a`` and ``b`` epochs and no flossing: (t_b - t_a) / (b - a);
* ``eval``: one evaluation (accuracy on 256 fresh sequences, a 200-step spectrum, the gradient's
  rank), from runs with and without evaluations after every epoch;
  both are the minimum over ``--repeats`` rounds in which the cases alternate (on a shared machine
  the other processes only ever add time);
* ``floss_step``: the mean CPU time of a step over one whole preflossing episode
  (``--episode-steps``, 500 as the budget; ``floss`` on the E networks from their initialisation).
  A whole episode, because the automatic QR interval depends on the frame's spread, which
  flossing shrinks: its first steps cost what a QR at every step costs, its later ones less.

Per network: ``(3001 epoch + 13 eval + episodes x 500 floss_step) / E`` with 0 / 1 / 3 episodes for
no flossing / preflossing / pre + periodic flossing (the periodic episodes are taken to cost what
the preflossing episode does).

The floor: the floating-point operations of each part (below), at this machine's measured rate for
their kind: batched products at the shapes of the step (E x (16 x 80) @ (80 x 80), E x (75 x 80) @
(80 x 80)) and LAPACK's Householder QR of E frames of 80 x 75 (geqrf + orgqr, 4 N k^2 - 4 k^3 / 3).
Training epoch: the recurrent product forward, and backward twice (h_b and W_b): 3 x 2 B T N^2.
Flossing step with a QR every step, per time step of its 55: frame product 2 N^2 k forward and
2 x 2 N^2 k backward and the QR's backward (5 N k^2), all at the product rate, and the QR at
LAPACK's. Evaluation: 2 N^2 per step of 256 x 300, and a 200-step spectrum (frame product + QR
each step). Elementwise work (tanh, ...) is not counted: the floor is what the products and QRs
alone would take (with fewer QRs, floss_qr_auto can go below the every-step floor).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from flosslab.core.settings import threads
from flosslab.engine.ensemble import init_ensemble
from flosslab.engine.flossing import floss
from flosslab.engine.training import train_members
from flosslab.paper.budgets import PAPER
from flosslab.paper.sweep import RunSpec

SCHEDULES = {"none": 0, "pre": 1, "inter": 3}
EPOCHS, EVALS = PAPER.n_epochs, PAPER.n_epochs // PAPER.eval_every + 1       # 3001, 13
HERE = Path(__file__).resolve().parent.parent


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def configs(e, n_epochs, eval_every):
    budget = replace(PAPER, n_epochs=n_epochs, eval_every=eval_every)
    return [RunSpec("xor", 48, "none", seed).config(budget) for seed in range(e)]


def measure_parts(e: int, a: int = 2, b: int = 12) -> dict:
    """CPU seconds of one round in this process: runs of ``a`` and ``b`` epochs and ``a`` epochs
    with evaluations after each, for a chunk of ``e`` networks (after a warm-up run)."""
    def train(n, every):
        return cpu_seconds(lambda: train_members(configs(e, n, every),
                                                                   dtype=PAPER.dtype))
    train(1, 10 ** 6)
    return {"train_a": train(a, 10 ** 6), "train_b": train(b, 10 ** 6),
            "train_a_evals": train(a, 1)}


def measure_episode(e: int, steps: int, reorth) -> dict:
    """CPU seconds per step of one flossing episode of ``steps`` steps on ``e`` fresh networks."""
    params = init_ensemble(PAPER.n_units, 1.0, list(range(e)), dtype=PAPER.dtype)
    seeds = list(range(e))
    extra = {} if reorth == 1 else {"reorth_every": reorth}
    floss(params, 1, PAPER.n_exponents, seed=seeds, **extra)                     # warm-up
    return {"floss_step": cpu_seconds(lambda: floss(params, steps, PAPER.n_exponents,
                                                    seed=seeds, **extra)) / steps}


def in_process(tree: Path, task: dict) -> dict:
    """Run ``task`` (``{"kind": "parts" | "episode", ...}``) in a fresh process importing flosslab
    from ``tree``, on one torch thread; return its JSON result."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, __file__, "--task", json.dumps(task)], env=env,
                         capture_output=True, text=True, check=False, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"the {task} measurement in {tree} failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result.pop("flosslab")) != tree / "flosslab":
        raise SystemExit(f"the measurement in {tree} imported another flosslab")
    return result


def parts_from_rounds(rounds: list, a: int = 2, b: int = 12) -> dict:
    """Each timing's minimum over the rounds (the other processes only ever add time), then the
    parts: per epoch (t_b - t_a) / (b - a), per evaluation (t_a,evals - t_a) / (a - 1)."""
    best = {key: min(r[key] for r in rounds) for key in rounds[0]}
    return {"epoch": (best["train_b"] - best["train_a"]) / (b - a),
            "eval": max(0.0, best["train_a_evals"] - best["train_a"]) / (a - 1)}


def per_network(parts: dict, e: int) -> dict:
    return {s: (EPOCHS * parts["epoch"] + EVALS * parts["eval"]
                + n * PAPER.floss_steps * parts["floss_step"]) / e
            for s, n in SCHEDULES.items()}


def rate(fn, flops: float, repeats: int = 20) -> float:
    """FLOP/s of ``fn``; its results are dropped as they come (kept in a list, each would be a
    fresh array that is page-faulted in, which halved the measured product rate)."""
    def loop():
        for _ in range(repeats):
            fn()
    fn()
    return flops * repeats / cpu_seconds(loop)


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
    parser.add_argument("--old-tree", type=Path, required=False,
                        help="a checkout of the old code (e.g. git worktree add --detach DIR a9c023e)")
    parser.add_argument("--chunk", type=int, default=16,
                        help="networks trained together (E) on the old path: reproduce's default")
    parser.add_argument("--new-chunks", type=int, nargs="+", default=[16, 32],
                        help="chunk sizes of the new path")
    parser.add_argument("--auto-chunk", type=int, default=32,
                        help="chunk size of the new path with floss_qr_auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--episode-steps", type=int, default=PAPER.floss_steps)
    parser.add_argument("--out", default=None, help="write PREFIX.json and PREFIX.txt")
    parser.add_argument("--task", help=argparse.SUPPRESS)      # one measurement, in a subprocess
    args = parser.parse_args()
    if args.task:
        task = json.loads(args.task)
        with threads(1):
            result = measure_parts(task["e"]) if task["kind"] == "parts" else \
                measure_episode(task["e"], task["steps"], task["reorth"])
        import flosslab
        print(json.dumps({**result, "flosslab": str(Path(flosslab.__file__).resolve().parent)}))
        return
    if args.old_tree is None or not (args.old_tree / "flosslab").is_dir():
        parser.error("--old-tree must name a checkout of the old code holding flosslab/ "
                     "(git worktree add --detach DIR a9c023e)")
    old_tree = args.old_tree.resolve()
    old_commit = subprocess.run(["git", "-C", str(old_tree), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    new_commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M")
    cases = {f"old@{args.chunk}": (old_tree, args.chunk, 1)}
    cases.update({f"new@{c}": (HERE, c, 1) for c in sorted(set(args.new_chunks))})
    auto = f"new@{args.auto_chunk}+floss_qr_auto"
    rounds = {label: [] for label in cases}
    for r in range(args.repeats):
        for label, (tree, e, _) in cases.items():
            rounds[label].append(in_process(tree, {"kind": "parts", "e": e}))
            print(f"round {r + 1}/{args.repeats} {label}: {rounds[label][-1]}", flush=True)
    parts = {label: parts_from_rounds(r) for label, r in rounds.items()}
    if f"new@{args.auto_chunk}" not in parts:
        parts[f"new@{args.auto_chunk}"] = parts_from_rounds(
            [in_process(HERE, {"kind": "parts", "e": args.auto_chunk})
             for _ in range(args.repeats)])
    parts[auto] = dict(parts[f"new@{args.auto_chunk}"])
    cases[auto] = (HERE, args.auto_chunk, "auto")
    for label, (tree, e, reorth) in cases.items():
        parts[label].update(in_process(tree, {"kind": "episode", "e": e,
                                              "steps": args.episode_steps, "reorth": reorth}))
        print(f"episode {label}: {parts[label]['floss_step'] / e * 1e3:.2f} ms per network and "
              f"step", flush=True)
    with threads(1):
        fl = floor(args.chunk)
    chunk_of = {label: e for label, (_, e, _) in cases.items()}
    cost = {label: per_network(p, chunk_of[label]) for label, p in parts.items()}
    base = f"old@{args.chunk}"
    result = {"date": started, "machine": f"{platform.machine()} {platform.processor()}".strip(),
              "cpu": _cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
              "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "threads": 1, "dtype": PAPER.dtype, "baseline": base,
              "old_commit": old_commit, "new_commit": new_commit,
              "episode_steps": args.episode_steps,
              "load_average_before_after": [round(load_before[0], 2),
                                            round(os.getloadavg()[0], 2)],
              "rounds_cpu_s": rounds, "parts_cpu_s_per_chunk": parts,
              "core_seconds_per_network": cost,
              "speedup_vs_baseline": {label: {s: cost[base][s] / cost[label][s]
                                              for s in SCHEDULES} for label in cost},
              "floor": fl,
              "extrapolation": f"per network = ({EPOCHS} epoch + {EVALS} eval + episodes x "
                               f"{PAPER.floss_steps} floss_step) / E; episodes 0/1/3"}
    width = max(len(label) for label in cost) + 2
    lines = [f"core-seconds per paper-budget network (float32, 1 thread), {started}, "
             f"{result['cpu']} ({result['cpu_capability']}), {result['cores']} cores, load "
             f"average {result['load_average_before_after']} (before, after); epoch and "
             f"evaluation: min of {args.repeats} rounds; flossing: one {args.episode_steps}-step "
             f"episode; old = {old_commit}, new = {new_commit}",
             f"{'path@chunk':<{width}}" + "".join(f"{s:>9}{'x':>7}" for s in SCHEDULES)]
    for label in cost:
        lines.append(f"{label:<{width}}" + "".join(
            f"{cost[label][s]:>9.1f}{result['speedup_vs_baseline'][label][s]:>6.2f}x"
            for s in SCHEDULES))
    lines.append(f"{'floor':<{width}}" + "".join(f"{fl['per_network_s'][s]:>9.1f}{'':>7}"
                                               for s in SCHEDULES))
    for label, p in parts.items():
        e = chunk_of[label]
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
