"""Command line: ``python -m flosslab <command>``.

Commands print a short human summary, or exactly one JSON object on stdout with ``--json``.
Wrong or impossible arguments exit with status 2 and one line saying what was wrong and what is
valid; numerical trouble exits with status 1 and one line. No traceback reaches the user.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as onp

from .common import autonomous, init_rnn, log10_condition_number, random_bits
from .config import FlosslabError, NumericalError, check_int, single_blas_thread
from .tasks import TASKS
from .paper.budgets import DEFAULT, PAPER, VARIANTS, describe
from .trainconfig import SCHEDULES, TrainConfig

# The numpy/autograd reference is imported inside the commands that use it, so that the torch
# paths (--device, bench) run where autograd is not installed.


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _rounded(values, digits=6):
    return [round(float(v), digits) if onp.isfinite(v) else float(v) for v in onp.ravel(values)]


def _members(args) -> list:
    """The (gain, seed) of each member when an ensemble was asked for (--gains/--seeds), else []."""
    if not (args.gains or args.seeds):
        return []
    if args.device is None:
        raise FlosslabError("ensembles (--gains, --seeds) run on the torch engine; add --device "
                            "cpu, cuda or auto")
    return [(g, s) for g in (args.gains or [args.gain]) for s in (args.seeds or [args.seed])]


def cmd_spectrum(args) -> dict:
    if _members(args):
        return _spectrum_ensemble(args)
    params = init_rnn(args.n, args.gain, seed=args.seed)
    check_int("the number of steps T", args.steps, minimum=1)
    if args.autonomous:
        params, inputs = autonomous(params), None
    else:
        inputs = random_bits(args.steps, 1, seed=[args.seed, 1])
    start = time.perf_counter()
    if args.device is None:
        from .lyapunov import lyapunov_spectrum
        lam = lyapunov_spectrum(params, inputs, n_steps=args.steps, n_exponents=args.k,
                                reorth_every=args.reorth_every, transient=args.transient,
                                seed=args.seed)
    else:
        from .engine import lyapunov_spectrum as engine_spectrum, to_torch
        lam = engine_spectrum(to_torch(params, args.device), inputs, n_steps=args.steps,
                              n_exponents=args.k, reorth_every=args.reorth_every,
                              transient=args.transient, seed=args.seed).cpu().numpy()
    return {"exponents": _rounded(lam), "n": args.n, "k": len(lam), "gain": args.gain,
            "steps": args.steps, "autonomous": args.autonomous,
            "reorth_every": args.reorth_every, "seconds": round(time.perf_counter() - start, 3),
            "units": "natural log per step", **_engine_fields(args)}


def _spectrum_ensemble(args) -> dict:
    """All (gain, seed) members at once on the engine; member e equals its lone run."""
    from .engine import lyapunov_spectrum as engine_spectrum, stack_params
    members = _members(args)
    check_int("the number of steps T", args.steps, minimum=1)
    nets = [init_rnn(args.n, g, seed=s) for g, s in members]
    if args.autonomous:
        nets, inputs = [autonomous(p) for p in nets], None
    else:
        inputs = onp.stack([random_bits(args.steps, 1, seed=[s, 1]) for _, s in members], axis=1)
    start = time.perf_counter()
    lam = engine_spectrum(stack_params(nets, args.device), inputs, n_steps=args.steps,
                          n_exponents=args.k, reorth_every=args.reorth_every,
                          transient=args.transient, seed=[s for _, s in members]).cpu().numpy()
    return {"members": [{"gain": g, "seed": s, "exponents": _rounded(row)}
                        for (g, s), row in zip(members, lam)],
            "n": args.n, "k": lam.shape[1], "steps": args.steps, "autonomous": args.autonomous,
            "reorth_every": args.reorth_every, "seconds": round(time.perf_counter() - start, 3),
            "units": "natural log per step", **_engine_fields(args)}


def _engine_fields(args) -> dict:
    """Which implementation ran: the numpy reference, or the torch engine on which device."""
    if args.device is None:
        return {"engine": "numpy reference"}
    from .engine import describe_device
    return {"engine": "torch", "device": describe_device(args.device)}


def _evaluate(params, k, eval_steps, seed, device=None):
    """Exponents and log10 condition number of the long-term Jacobian on one evaluation window of
    the numpy parameters ``params``: the reference's, or the engine's with a ``device`` (the two
    agree to round-off; tested)."""
    transient = 100
    inputs = random_bits(transient + eval_steps, params["U"].shape[1], seed=[seed, 7])
    if device is None:
        from .diagnostics import log_singular_values
        from .lyapunov import lyapunov_spectrum
        from .model import run_rnn
        lam = lyapunov_spectrum(params, inputs, n_exponents=k, transient=transient, seed=seed)
        states = run_rnn(params, inputs)[transient:]
        log_sv = log_singular_values(params, states, k, seed=seed)
    else:
        from .engine import lyapunov_spectrum, run_rnn, to_torch
        from .engine.diagnostics import log_singular_values
        pt = to_torch(params, device)          # no gradient is recorded: nothing requires it
        lam = lyapunov_spectrum(pt, inputs, n_exponents=k, transient=transient,
                                seed=seed).cpu().numpy()
        states = run_rnn(pt, inputs)[transient:]
        log_sv = log_singular_values(pt, states, k, seed=seed).cpu().numpy()
    return lam, log10_condition_number(log_sv)


def cmd_floss(args) -> dict:
    if _members(args):
        return _floss_ensemble(args)
    params = init_rnn(args.n, args.gain, seed=args.seed)
    k = args.n if args.k is None else args.k
    eval_steps = check_int("the evaluation window", args.eval_steps, minimum=300)
    lam0, cond0 = _evaluate(params, k, eval_steps, args.seed, args.device)
    start = time.perf_counter()
    if args.device is None:
        from .flossing import floss
        params, history = floss(params, args.flossing_steps, k, args.target, args.lr,
                                seed=args.seed, progress=sys.stderr.isatty())
    else:
        from .engine import floss as engine_floss, to_numpy, to_torch
        flossed, history = engine_floss(to_torch(params, args.device), args.flossing_steps, k,
                                        args.target, args.lr, seed=args.seed,
                                        progress=sys.stderr.isatty())
        params = to_numpy(flossed)
    seconds = time.perf_counter() - start
    lam1, cond1 = _evaluate(params, k, eval_steps, args.seed, args.device)
    return {"exponents_before": _rounded(lam0), "exponents_after": _rounded(lam1),
            "mean_abs_exponent_before": round(float(onp.mean(onp.abs(lam0))), 6),
            "mean_abs_exponent_after": round(float(onp.mean(onp.abs(lam1))), 6),
            "log10_condition_before": round(cond0, 3), "log10_condition_after": round(cond1, 3),
            "flossing_loss_first": round(float(history.losses[0]), 6) if len(history.losses) else None,
            "flossing_loss_last": round(float(history.losses[-1]), 6) if len(history.losses) else None,
            "n": args.n, "k": k, "gain": args.gain, "flossing_steps": args.flossing_steps,
            "eval_steps": eval_steps, "seconds_flossing": round(seconds, 2), **_engine_fields(args),
            "units": "natural log per step; condition number of the long-term Jacobian restricted "
                     "to the k flossed directions over eval_steps steps"}


def _floss_ensemble(args) -> dict:
    """Floss all (gain, seed) members at once on the engine; each is evaluated as a lone run."""
    from .engine import floss as engine_floss, stack_params, to_numpy, unstack_params
    members = _members(args)
    k = args.n if args.k is None else args.k
    eval_steps = check_int("the evaluation window", args.eval_steps, minimum=300)
    nets = [init_rnn(args.n, g, seed=s) for g, s in members]
    start = time.perf_counter()
    flossed, histories = engine_floss(stack_params(nets, args.device), args.flossing_steps, k,
                                      args.target, args.lr, seed=[s for _, s in members],
                                      progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    rows = []
    for (g, s), before, after, history in zip(members, nets, unstack_params(flossed), histories):
        lam0, cond0 = _evaluate(before, k, eval_steps, s, args.device)
        lam1, cond1 = _evaluate(to_numpy(after), k, eval_steps, s, args.device)
        rows.append({"gain": g, "seed": s,
                     "mean_abs_exponent_before": round(float(onp.mean(onp.abs(lam0))), 6),
                     "mean_abs_exponent_after": round(float(onp.mean(onp.abs(lam1))), 6),
                     "log10_condition_before": round(cond0, 3),
                     "log10_condition_after": round(cond1, 3),
                     "flossing_loss_last": round(float(history.losses[-1]), 6)
                     if len(history.losses) else None,
                     "exponents_after": _rounded(lam1)})
    return {"members": rows, "n": args.n, "k": k, "flossing_steps": args.flossing_steps,
            "eval_steps": eval_steps, "seconds_flossing": round(seconds, 2),
            **_engine_fields(args)}


def cmd_train(args) -> dict:
    if args.seeds or args.delays:
        return _train_ensemble(args)

    config = TrainConfig(task=args.task, delay=args.delay, order=args.order, n_units=args.n,
                         gain=args.gain, n_epochs=args.epochs, seq_len=args.seq_len, lr=args.lr,
                         flossing=args.flossing, n_exponents=args.k, seed=args.seed)
    start = time.perf_counter()
    if args.device is None:
        from .training import train
        _, history = train(config, progress=sys.stderr.isatty())
    else:
        from .engine import train as engine_train
        _, history = engine_train(config, progress=sys.stderr.isatty(), device=args.device)
    return {"accuracy": round(history.final_accuracy, 6), "task": config.task,
            "delay": config.delay, "flossing": config.flossing, "epochs": config.n_epochs,
            "n": config.n_units, "k": config.n_exponents, "seed": config.seed,
            "final_loss": round(history.loss[-1], 6) if history.loss else None,
            "accuracy_curve": {"epochs": history.eval_epochs,
                               "accuracy": _rounded(history.accuracy, 4)},
            "seconds": round(time.perf_counter() - start, 2), **_engine_fields(args)}


def _train_ensemble(args) -> dict:
    """Train one member per (delay, seed) at once on the engine."""
    if args.device is None:
        raise FlosslabError("ensembles (--delays, --seeds) run on the torch engine; add --device "
                            "cpu, cuda or auto")
    from .engine import train_ensemble
    configs = [TrainConfig(task=args.task, delay=d, order=args.order, n_units=args.n,
                           gain=args.gain, n_epochs=args.epochs, seq_len=args.seq_len, lr=args.lr,
                           flossing=args.flossing, n_exponents=args.k, seed=s)
               for d in (args.delays or [args.delay]) for s in (args.seeds or [args.seed])]
    start = time.perf_counter()
    _, histories = train_ensemble(configs, progress=sys.stderr.isatty(), device=args.device)
    rows = [{"delay": c.delay, "seed": c.seed, "accuracy": round(h.final_accuracy, 6),
             "final_loss": round(h.loss[-1], 6) if h.loss else None}
            for c, h in zip(configs, histories)]
    return {"members": rows, "median_accuracy": round(float(onp.median([r["accuracy"]
                                                                          for r in rows])), 6),
            "task": args.task, "flossing": args.flossing, "epochs": args.epochs, "n": args.n,
            "k": configs[0].n_exponents, "seconds": round(time.perf_counter() - start, 2),
            **_engine_fields(args)}


def cmd_bench(args) -> dict:
    from .bench import run_benchmark
    return run_benchmark(args.device or "cpu", quick=args.quick)


def cmd_reproduce(args) -> dict:
    from .paper.reproduce import reproduce
    log = lambda line: print(line, file=sys.stderr, flush=True)
    results = reproduce(args.out, fast=args.fast, device=args.device,
                        progress=sys.stderr.isatty(), only=tuple(args.only), log=log,
                        budget=args.budget, tasks=tuple(args.tasks), delays=args.delays,
                        seeds=args.seeds, schedules=args.schedules, variant=args.variant,
                        chunk=args.chunk, jobs=args.jobs)
    summary = {"out": args.out, "budget": args.budget, "seconds": results["seconds"],
               "device": results["device"]}
    if "c_claims" in results:
        summary["claims"] = results["c_claims"]
    if "b_condition" in results:
        summary["log10_condition_drop"] = round(results["b_condition"]["log10_condition_drop"], 2)
    return summary


def _print_human(command: str, result: dict) -> None:
    if command == "bench":
        print(f"device {result['device']}, torch {result['torch']}, median of {result['repeats']}"
              f" runs, {result['date']}")
        print(f"{'case':16s} {'baseline ms':>12s} {'(1 thread)':>10s} {'engine ms':>10s} "
              f"{'speedup':>8s} {'(1 thread)':>10s} {'max|dlambda|':>13s}")
        for row in result["rows"]:
            one = row.get("baseline_1thread_ms")
            one_ms, one_x = ("", "") if one is None else (f"{one:.1f}",
                                                          f"{row['speedup_vs_1thread']:.2f}")
            print(f"{row['case']:16s} {row['baseline_ms']:12.1f} {one_ms:>10s} "
                  f"{row['engine_ms']:10.1f} {row['speedup']:8.2f} {one_x:>10s} "
                  f"{row['max_abs_dlambda']:13.2e}")
        return
    for key, value in result.items():
        if key == "members":
            print(f"{key:28s} {len(value)}")
            for member in value:
                print("  " + ", ".join(f"{k} {_short(v)}" for k, v in member.items()))
            continue
        print(f"{key:28s} {_short(value)}")


def _short(value):
    """A list of more than 8 numbers as its first four and last two."""
    if isinstance(value, list) and len(value) > 8:
        return f"[{', '.join(f'{v:.4g}' for v in value[:4])}, ..., " \
               f"{', '.join(f'{v:.4g}' for v in value[-2:])}] ({len(value)} values)"
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flosslab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def device(p):
        p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                       help="run on the torch engine on this device (default: numpy reference)")

    def common(p, k_default=None):
        device(p)
        p.add_argument("--gain", type=float, default=1.0, help="gain g of W ~ N(0, g^2/N)")
        p.add_argument("--n", type=int, default=80, help="number of units N")
        p.add_argument("--k", type=int, default=k_default, help="number of exponents k (<= N)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    def ensemble(p):
        p.add_argument("--gains", type=float, nargs="+", metavar="G",
                       help="ensemble: one network per (gain, seed) pair, run together on the "
                            "torch engine (needs --device)")
        p.add_argument("--seeds", type=int, nargs="+", metavar="S",
                       help="ensemble: the seeds of its members (see --gains)")

    p = sub.add_parser("spectrum", help="Lyapunov spectrum of a random tanh RNN")
    common(p)
    ensemble(p)
    p.add_argument("--steps", type=int, default=1000, help="trajectory length T")
    p.add_argument("--autonomous", action="store_true", help="no input and zero bias")
    p.add_argument("--reorth-every", type=int, default=1, help="QR every m steps")
    p.add_argument("--transient", type=int, default=None, help="discarded steps (10 + T/10)")
    p.set_defaults(run=cmd_spectrum)

    p = sub.add_parser("floss", help="floss the first k exponents of a random RNN toward a target")
    common(p)
    ensemble(p)
    p.add_argument("--flossing-steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--target", type=float, default=0.0, help="target exponent")
    p.add_argument("--eval-steps", type=int, default=300, help="evaluation window (>= 300)")
    p.set_defaults(run=cmd_floss)

    p = sub.add_parser("train", help="train on a delayed task with a flossing schedule")
    p.add_argument("--task", choices=TASKS, default="copy")
    p.add_argument("--delay", type=int, default=5, help="longest lag of the target (steps)")
    p.add_argument("--order", type=int, default=None, help="parity order h (task parity)")
    p.add_argument("--flossing", choices=SCHEDULES, default="none")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--seq-len", type=int, default=None, help="sequence length (delay + 50)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--gain", type=float, default=1.0)
    p.add_argument("--n", type=int, default=64, help="number of units N")
    p.add_argument("--k", type=int, default=None, help="flossed exponents (min(N, 16))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    device(p)
    p.add_argument("--seeds", type=int, nargs="+", metavar="S",
                   help="ensemble: one network per (delay, seed) pair, trained together on the "
                        "torch engine (needs --device)")
    p.add_argument("--delays", type=int, nargs="+", metavar="D",
                   help="ensemble: the delays of its members (see --seeds)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("bench", help="time flossing steps: naive torch loop vs the engine")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    p.add_argument("--quick", action="store_true", help="smaller sizes (about a minute on a CPU)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser(
        "reproduce", help="run the paper's experiments: figures and results.json",
        description="Run the paper's experiments (a spectra, b condition number, c accuracy "
                    "against delay, d accuracy against k, e effective rank, f cost) and write "
                    "figures and results.json. Training runs (c, d, e) follow a budget: "
                    f"'default' ({describe(DEFAULT)}) or 'paper', the author's XOR example "
                    f"({describe(PAPER)}). Delays are the longest lag d (XOR: "
                    "x_{t-ceil(d/2)} XOR x_{t-d}; the author's code calls d/2 the XOR delay). "
                    "Finished runs are saved in OUT/runs.jsonl: an interrupted run, started "
                    "again with the same arguments, continues where it stopped.")
    p.add_argument("--fast", action="store_true", help="small sizes (a few minutes on 2 cores)")
    p.add_argument("--budget", choices=("default", "paper"), default="default",
                   help="training budget of c, d, e (see above)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto")
    p.add_argument("--out", default="reproduce_out", help="folder for the PNGs and results.json")
    p.add_argument("--only", default="abcdef",
                   help="which experiments, e.g. 'ab' (a-f; e comes with c)")
    p.add_argument("--tasks", nargs="+", choices=("copy", "xor"), default=["copy", "xor"],
                   help="tasks of the delay sweep (c)")
    p.add_argument("--delays", type=int, nargs="+", metavar="D",
                   help="delays of the delay sweep (default: the budget's)")
    p.add_argument("--seeds", type=int, nargs="+", metavar="S", help="seeds (default 0-9)")
    p.add_argument("--schedules", nargs="+", choices=("none", "pre", "inter"),
                   help="flossing schedules of the delay sweep (default: all three)")
    p.add_argument("--variant", default="", choices=tuple(VARIANTS),
                   help="change one budget setting: 200 flossing steps per episode, episodes at "
                        "epochs/4 and epochs/2, clipping at 1.0, sequences of delay + 50")
    p.add_argument("--chunk", type=int, default=None,
                   help="runs trained together (default 16 on a CPU, 256 on a GPU)")
    p.add_argument("--jobs", type=int, default=1,
                   help="chunks trained at once in separate processes (CPU)")
    p.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    p.set_defaults(run=cmd_reproduce)
    sub.metavar = "{" + ",".join(sub.choices) + "}"
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with single_blas_thread():
            result = args.run(args)
    except FlosslabError as exc:
        print(f"flosslab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except NumericalError as exc:
        print(f"flosslab {args.command}: numerical trouble: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"flosslab {args.command}: interrupted", file=sys.stderr)
        return 130
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").split(".")[0] == "autograd":
            print(f"flosslab {args.command}: error: this command uses the numpy/autograd "
                  "reference, which needs autograd (pip install -r requirements.txt); the torch "
                  "paths (spectrum and train with --device, bench) work without it",
                  file=sys.stderr)
            return 2
        print(f"flosslab {args.command}: missing package: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the promise is one line, never a traceback
        print(f"flosslab {args.command}: unexpected error ({type(exc).__name__}): {exc}",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        _print_human(args.command, result)
    return 0
