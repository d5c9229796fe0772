"""Command line: ``python -m flosslab <command>``.

Commands print a short human summary, or exactly one JSON object on stdout with ``--json`` (strict
JSON: a number that is not finite, such as the -inf exponent of a collapsed frame, is written as
null and said so in a ``"notes"`` field). Wrong or impossible arguments exit with status 2 and one
line saying what was wrong and what is valid; numerical trouble exits with status 1 and one line.
No traceback reaches the user.

Every command that computes runs on one *backend*, chosen once from ``--device``: the numpy
reference (no ``--device``; one network) or the torch engine (``--device cpu|cuda|auto``), which
always runs a stack of E >= 1 networks; an ensemble (``--gains``, ``--seeds``, ``--delays``) is
the engine with E > 1.

The options are built from shared groups (:func:`network_options`, :func:`ensemble_options`,
:func:`device_option`, ...), one small builder per command.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings

import numpy as onp

from .core.conventions import autonomous, init_rnn, random_bits
from .core.errors import FlosslabError, FrameCollapseWarning, NumericalError
from .core.measures import log10_condition_number
from .core.records import strict_json
from .core.settings import THREADS_ENV, threads
from .core.tasks import TASKS
from .core.trainconfig import PAPER_SCHEDULES, SCHEDULE_LABELS, SCHEDULES, TrainConfig
from .core.validate import check_int
from .paper.budgets import DEFAULT, PAPER, VARIANTS, describe, variant_help

# The numpy/autograd reference is imported inside the reference backend, so that the torch paths
# (--device, bench, reproduce) run where autograd is not installed.

#: N of ``spectrum`` and ``floss``: the paper's network (N = 80, k = 75, as in the README's
#: examples). ``train`` takes every default from :class:`TrainConfig` (N = 64, as ``fl.train``).
NETWORK_UNITS = 80
TRAIN_DEFAULTS = TrainConfig()

COLLAPSE_NOTE = ("null in an exponent list stands for -inf: the frame collapsed (a singular "
                 "Jacobian: a zero row or column of W, W = 0 at gain 0, or a slope that is "
                 "exactly zero)")
#: Why a field of the output can be null (the first matching prefix of its name).
NULL_REASONS = (
    ("exponents", COLLAPSE_NOTE),
    ("mean_abs_exponent", "a mean_abs_exponent is null when one of its exponents is -inf"),
    ("log10_condition", "a log10_condition is null when the long-term Jacobian has a zero "
                        "singular value (a collapsed frame)"),
    ("flossing_loss", "flossing_loss_first/last are null when no flossing step was taken"),
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _rounded(values, digits=6):
    """Numbers for JSON: rounded, and None where not finite (see :data:`COLLAPSE_NOTE`)."""
    return [round(float(v), digits) if math.isfinite(v) else None for v in onp.ravel(values)]


def _mean_abs(values):
    values = onp.asarray(values, dtype=float)
    return round(float(onp.mean(onp.abs(values))), 6) if onp.all(onp.isfinite(values)) else None


# --- backends -------------------------------------------------------------------------------------

class Reference:
    """The numpy/autograd reference: one network at a time."""

    def fields(self) -> dict:
        return {"engine": "numpy reference"}

    @staticmethod
    def _one(items):
        if len(items) != 1:
            raise FlosslabError("ensembles (--gains, --seeds, --delays) run on the torch engine; "
                                "add --device cpu, cuda or auto")
        return items[0]

    def spectra(self, nets, inputs, seeds, *, seq_len, n_exponents, reorth_every,
                transient) -> list:
        from .reference.lyapunov import lyapunov_spectrum
        net, bits = self._one(nets), self._one(inputs)
        return [onp.asarray(lyapunov_spectrum(net, bits, seq_len=seq_len, n_exponents=n_exponents,
                                              reorth_every=reorth_every, transient=transient,
                                              seed=self._one(seeds)))]

    def floss(self, nets, k, seeds, *, n_steps, target, lr) -> tuple:
        from .reference.flossing import floss
        flossed, history = floss(self._one(nets), n_steps, k, target, lr, seed=self._one(seeds),
                                 progress=sys.stderr.isatty())
        return [flossed], [history]

    def evaluate(self, params, k, inputs, transient, seed) -> tuple:
        from .reference.diagnostics import log_singular_values
        from .reference.lyapunov import lyapunov_spectrum
        from .reference.model import run_rnn
        lam = lyapunov_spectrum(params, inputs, n_exponents=k, transient=transient, seed=seed)
        _, pre = run_rnn(params, inputs, return_preactivations=True)
        return onp.asarray(lam), log_singular_values(params, pre[transient:], k, seed=seed)

    def train(self, configs) -> list:
        from .reference.training import train
        return [train(self._one(configs), progress=sys.stderr.isatty())[1]]


class Engine:
    """The torch engine on ``device``: every job runs as a stack of E >= 1 networks."""

    def __init__(self, device):
        from .engine.device import resolve_device
        self.device = resolve_device(device)

    def fields(self) -> dict:
        from .engine.device import describe_device
        return {"engine": "torch", "device": describe_device(self.device)}

    def spectra(self, nets, inputs, seeds, *, seq_len, n_exponents, reorth_every,
                transient) -> list:
        from .engine.ensemble import stack_params
        from .engine.lyapunov import lyapunov_spectrum
        bits = None if inputs[0] is None else onp.stack(inputs, axis=1)
        lam = lyapunov_spectrum(stack_params(nets, self.device), bits, seq_len=seq_len,
                                n_exponents=n_exponents, reorth_every=reorth_every,
                                transient=transient, seed=list(seeds))
        return list(lam.detach().cpu().numpy())

    def floss(self, nets, k, seeds, *, n_steps, target, lr) -> tuple:
        from .engine.ensemble import floss_in_chunks, stack_params, unstack_params
        from .engine.model import to_numpy
        flossed, histories = floss_in_chunks(stack_params(nets, self.device), n_steps, k, target,
                                             lr, seeds=list(seeds), progress=sys.stderr.isatty())
        return [to_numpy(p) for p in unstack_params(flossed)], histories

    def evaluate(self, params, k, inputs, transient, seed) -> tuple:
        from .engine.diagnostics import log_singular_values
        from .engine.lyapunov import lyapunov_spectrum
        from .engine.model import run_rnn, to_torch
        pt = to_torch(params, self.device)     # no gradient is recorded: nothing requires it
        lam = lyapunov_spectrum(pt, inputs, n_exponents=k, transient=transient, seed=seed)
        _, pre = run_rnn(pt, inputs, return_preactivations=True)
        log_sv = log_singular_values(pt, pre[transient:], k, seed=seed)
        return lam.cpu().numpy(), log_sv.cpu().numpy()

    def train(self, configs) -> list:
        from .engine.training import train_members
        return train_members(configs, progress=sys.stderr.isatty(), device=self.device)[1]


def backend_of(args):
    """The one place where the backend is chosen."""
    return Reference() if args.device is None else Engine(args.device)


def _output(args, rows: list, common: dict) -> dict:
    """One network: its fields at the top level. An ensemble: a ``members`` list. A ``notes``
    field says why any field is null (:data:`NULL_REASONS`)."""
    ensemble = any(getattr(args, name, None) for name in ("gains", "seeds", "delays"))
    out = {"members": rows} if ensemble else dict(rows[0])
    out |= common
    reasons = []
    for row in rows:
        for key, value in row.items():
            if value is None or (isinstance(value, list) and None in value):
                reason = next((why for prefix, why in NULL_REASONS if key.startswith(prefix)),
                              f"{key} is null: not a finite number")
                if reason not in reasons:
                    reasons.append(reason)
    if reasons:
        out["notes"] = "; ".join(reasons)
    return out


def strict_output(result: dict) -> dict:
    """The last guard of strict JSON: any number still not finite becomes null, said in notes."""
    clean, replaced = strict_json(result)
    if replaced:
        note = "not finite, written as null: " + ", ".join(replaced[:8]) + \
            (f" and {len(replaced) - 8} more" if len(replaced) > 8 else "")
        clean["notes"] = f"{clean['notes']}; {note}" if clean.get("notes") else note
    return clean


# --- commands -------------------------------------------------------------------------------------

def _pairs(args) -> list:
    """(gain, seed) of every network: one, or the product of --gains and --seeds."""
    return [(g, s) for g in (args.gains or [args.gain]) for s in (args.seeds or [args.seed])]


def cmd_course(args, backend) -> dict:
    from .course import cache, editions
    if args.action == "cache-clear":
        return {"action": args.action, **cache.clear()}
    if args.action == "warm":
        from .course.warm import warm
        check_int("--max-grid", args.max_grid, minimum=1)
        start = time.perf_counter()
        reports = warm(args.names, args.notebooks, max_grid=args.max_grid,
                       train=not args.no_train, progress=sys.stderr.isatty() and not args.json)
        return {"action": args.action, "mode": cache.mode(), "location": str(cache.location()),
                "notebooks": reports, "seconds": round(time.perf_counter() - start, 1),
                "cache_bytes": cache.size_of()}
    if args.action == "student-edition":
        written = editions.student_edition(args.out, args.notebooks)
    elif args.action == "figures":
        written = editions.figures(args.out, args.notebooks, only=args.only,
                                   formats=args.formats)
    else:
        written = editions.slides(args.out, args.notebooks, execute=args.execute,
                                  reveal_prefix=args.reveal_prefix, rise=args.rise)
    return {"action": args.action, "out": str(args.out), "written": [str(p) for p in written]}


def cmd_spectrum(args, backend) -> dict:
    pairs = _pairs(args)
    check_int("the number of steps T", args.steps, minimum=1)
    nets = [init_rnn(args.n, g, seed=s) for g, s in pairs]
    if args.autonomous:
        nets, inputs = [autonomous(p) for p in nets], [None] * len(nets)
    else:
        inputs = [random_bits(args.steps, 1, seed=[s, 1]) for _, s in pairs]
    start = time.perf_counter()
    spectra = backend.spectra(nets, inputs, [s for _, s in pairs], seq_len=args.steps,
                              n_exponents=args.k, reorth_every=args.reorth_every,
                              transient=args.transient)
    rows = [{"gain": g, "seed": s, "exponents": _rounded(lam)}
            for (g, s), lam in zip(pairs, spectra)]
    return _output(args, rows, {
        "n": args.n, "k": len(spectra[0]), "steps": args.steps, "autonomous": args.autonomous,
        "reorth_every": args.reorth_every, "seconds": round(time.perf_counter() - start, 3),
        "units": "natural log per step", **backend.fields()})


def cmd_floss(args, backend) -> dict:
    pairs = _pairs(args)
    k = args.n if args.k is None else args.k
    eval_steps = check_int("the evaluation window", args.eval_steps, minimum=300)
    check_int("the number of flossing steps", args.flossing_steps, minimum=0)
    nets = [init_rnn(args.n, g, seed=s) for g, s in pairs]

    def evaluate(params, seed):
        """Exponents and log10 condition number of the long-term Jacobian on one window."""
        transient = 100
        inputs = random_bits(transient + eval_steps, params["U"].shape[1], seed=[seed, 7])
        lam, log_sv = backend.evaluate(params, k, inputs, transient, seed)
        return lam, log10_condition_number(log_sv)

    before = [evaluate(p, s) for p, (_, s) in zip(nets, pairs)]
    start = time.perf_counter()
    flossed, histories = backend.floss(nets, k, [s for _, s in pairs], n_steps=args.flossing_steps,
                                       target=args.target, lr=args.lr)
    seconds = time.perf_counter() - start
    rows = []
    for (g, s), (lam0, cond0), params, history in zip(pairs, before, flossed, histories):
        lam1, cond1 = evaluate(params, s)
        losses = history.losses
        rows.append({"gain": g, "seed": s,
                     "exponents_before": _rounded(lam0), "exponents_after": _rounded(lam1),
                     "mean_abs_exponent_before": _mean_abs(lam0),
                     "mean_abs_exponent_after": _mean_abs(lam1),
                     "log10_condition_before": _rounded([cond0], 3)[0],
                     "log10_condition_after": _rounded([cond1], 3)[0],
                     "flossing_loss_first": _rounded(losses[:1])[0] if len(losses) else None,
                     "flossing_loss_last": _rounded(losses[-1:])[0] if len(losses) else None})
    return _output(args, rows, {
        "n": args.n, "k": k, "flossing_steps": args.flossing_steps, "eval_steps": eval_steps,
        "seconds_flossing": round(seconds, 2), **backend.fields(),
        "units": "natural log per step; condition number of the long-term Jacobian restricted "
                 "to the k flossed directions over eval_steps steps"})


def cmd_train(args, backend) -> dict:
    check_int("the number of epochs", args.epochs, minimum=1)
    configs = [TrainConfig(task=args.task, delay=d, order=args.order, n_units=args.n,
                           gain=args.gain, n_epochs=args.epochs, seq_len=args.seq_len, lr=args.lr,
                           flossing=args.flossing, n_exponents=args.k, seed=s)
               for d in (args.delays or [args.delay]) for s in (args.seeds or [args.seed])]
    start = time.perf_counter()
    histories = backend.train(configs)
    rows = [{"delay": c.delay, "seed": c.seed, "accuracy": _rounded([h.final_accuracy])[0],
             "final_loss": _rounded(h.loss[-1:])[0],
             "accuracy_curve": {"epochs": h.eval_epochs, "accuracy": _rounded(h.accuracy, 4)}}
            for c, h in zip(configs, histories)]
    common = {"task": args.task, "flossing": args.flossing, "epochs": args.epochs,
              "n": configs[0].n_units, "k": configs[0].n_exponents,
              "seconds": round(time.perf_counter() - start, 2), **backend.fields()}
    if len(rows) > 1:
        common["median_accuracy"] = round(float(onp.median([r["accuracy"] for r in rows])), 6)
    return _output(args, rows, common)


def cmd_bench(args, backend) -> dict:
    from .engine.bench import run_benchmark
    return run_benchmark(args.device or "cpu", quick=args.quick)


def cmd_reproduce(args, backend) -> dict:
    from .paper.reproduce import reproduce
    def log(line):
        print(line, file=sys.stderr, flush=True)

    results = reproduce(args.out, fast=args.fast, device=args.device,
                        progress=sys.stderr.isatty(), only=tuple(args.only), log=log,
                        budget=args.budget, tasks=tuple(args.tasks), delays=args.delays,
                        seeds=args.seeds, schedules=args.schedules, variant=args.variant,
                        chunk=args.chunk, jobs=args.jobs, scheduler=args.scheduler)
    summary = {"out": args.out, "budget": args.budget, "seconds": results["seconds"],
               "device": results["device"]}
    if "c_claims" in results:
        summary["claims"] = results["c_claims"]
    if "b_condition" in results:
        summary["log10_condition_drop"] = round(results["b_condition"]["log10_condition_drop"], 2)
    return summary


def cmd_report(args, backend) -> dict:
    from pathlib import Path

    from .paper import report
    root = report.check_root(args.root)
    if args.table:
        return {"action": "print", "table": args.table, "text": report.TABLES[args.table](root)}
    if args.figure:
        return {"action": "figure", "written": str(report.paper_delay_figure(args.figure, root))}
    if args.ship:
        return {"action": "ship", "written": str(report.ship_paper_runs(root))}
    if not args.pages:
        raise FlosslabError("--write and --check need the pages that hold the tables, e.g. "
                            "docs/results.md README.md")
    texts = {}
    for page in args.pages:
        if not Path(page).is_file():
            raise FlosslabError(f"no page at {page}; give markdown files holding marked tables")
        texts[page] = Path(page).read_text()
    if args.write:
        for page, text in texts.items():
            Path(page).write_text(report.fill(text, root))
        return {"action": "write", "pages": list(texts)}
    stale = {page: report.stale_tables(text, root) for page, text in texts.items()}
    return {"action": "check", "pages": list(texts),
            "stale": {page: names for page, names in stale.items() if names}}


def exit_status(result: dict) -> int:
    """0, or 1 where ``report --check`` found a stale table."""
    return 1 if result.get("stale") else 0


def _print_human(command: str, result: dict) -> None:
    if command == "report":
        action = result["action"]
        if action == "print":
            print(result["text"])
        elif action in ("figure", "ship"):
            print(result["written"])
        elif action == "check":
            for page, names in result["stale"].items():
                print(f"{page}: stale tables: {', '.join(names)} (run python -m flosslab report "
                      f"--write {page})")
        return
    if command == "course" and result.get("action") == "warm":
        print(f"warmed the {result['mode']}-mode cache in {result['location']} "
              f"({result['cache_bytes'] / 1e6:.1f} MB), {result['seconds']} s in all")
        for r in result["notebooks"]:
            print(f"  {r['notebook']:40s} {r['seconds']:7.1f} s  {r['dashboards']:2d} dashboards, "
                  f"{r['states']:4d} states: {r['miss']} computed, {r['hit']} already cached"
                  + (f", {r['invalid']} not valid there" if r["invalid"] else "")
                  + (f", {r['off']} not cacheable" if r["off"] else ""))
            for line in r["cell_errors"] + r["errors"]:
                print(f"    error: {line}")
        return
    if command == "course" and result.get("action") == "cache-clear":
        print(f"removed {len(result['removed'])} cache folder(s), {result['bytes'] / 1e6:.1f} MB, "
              f"under {result['location']}")
        return
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
    """A list of more than 8 numbers as its first four and last two (null as None)."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n".join(["", *("  " + v for v in value)])
    if isinstance(value, list) and len(value) > 8:
        def show(v):
            return "None" if v is None else f"{v:.4g}"
        return f"[{', '.join(map(show, value[:4]))}, ..., " \
               f"{', '.join(map(show, value[-2:]))}] ({len(value)} values)"
    return value


# --- options: shared groups -----------------------------------------------------------------------

def device_option(p, default=None, help="run on the torch engine on this device (default: numpy "
                                         "reference)"):
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=default, help=help)


def threads_option(p):
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help=f"CPU threads for torch and BLAS (default: ${THREADS_ENV} if set, else 1, "
                        "which is fastest for these small matrices and fair to other processes)")


def json_option(p, what="one JSON object"):
    p.add_argument("--json", action="store_true", help=f"print {what} on stdout")


def run_options(p):
    """Where a computing command runs: --device, --threads, --json."""
    device_option(p)
    threads_option(p)
    json_option(p)


def network_options(p, n_units: int, gain: float, seed: int, k_help: str):
    """The random network: --gain, --n, --k, --seed."""
    group = p.add_argument_group("network")
    group.add_argument("--gain", type=float, default=gain, help="gain g of W ~ N(0, g^2/N)")
    group.add_argument("--n", type=int, default=n_units, help=f"number of units N (default "
                                                              f"{n_units})")
    group.add_argument("--k", type=int, default=None, help=k_help)
    group.add_argument("--seed", type=int, default=seed)


def ensemble_options(p, axis: str, metavar: str, type_=int):
    """An ensemble: one network per (``axis`` value, seed) pair: --gains G ... --seeds S ..."""
    group = p.add_argument_group("ensemble (the torch engine: needs --device)")
    group.add_argument(f"--{axis}s", type=type_, nargs="+", metavar=metavar,
                       help=f"one network per ({axis}, seed) pair, run together")
    group.add_argument("--seeds", type=int, nargs="+", metavar="S",
                       help=f"the seeds of its members (see --{axis}s)")


# --- options: one builder per command -------------------------------------------------------------

def add_spectrum(sub):
    p = sub.add_parser("spectrum", help="Lyapunov spectrum of a random tanh RNN")
    run_options(p)
    network_options(p, NETWORK_UNITS, 1.0, 0, "number of exponents k (<= N; default N)")
    ensemble_options(p, "gain", "G", float)
    p.add_argument("--steps", type=int, default=1000, help="trajectory length T")
    p.add_argument("--autonomous", action="store_true", help="no input and zero bias")
    p.add_argument("--reorth-every", type=int, default=1, help="QR every m steps")
    p.add_argument("--transient", type=int, default=None, help="discarded steps (10 + T/10)")
    p.set_defaults(run=cmd_spectrum)


def add_floss(sub):
    p = sub.add_parser("floss", help="floss the first k exponents of a random RNN toward a target")
    run_options(p)
    network_options(p, NETWORK_UNITS, 1.0, 0, "number of flossed exponents k (<= N; default N)")
    ensemble_options(p, "gain", "G", float)
    p.add_argument("--flossing-steps", type=int, default=500,
                   help="Adam steps on the flossing loss")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--target", type=float, default=0.0, help="target exponent")
    p.add_argument("--eval-steps", type=int, default=300, help="evaluation window (>= 300)")
    p.set_defaults(run=cmd_floss)


def add_train(sub):
    d = TRAIN_DEFAULTS
    p = sub.add_parser("train", help="train on a delayed task with a flossing schedule")
    run_options(p)
    network_options(p, d.n_units, d.gain, d.seed, "flossed exponents k (default min(N, 16))")
    ensemble_options(p, "delay", "D")
    p.add_argument("--task", choices=TASKS, default=d.task)
    p.add_argument("--delay", type=int, default=d.delay, help="longest lag of the target (steps)")
    p.add_argument("--order", type=int, default=None, help="parity order p (task parity)")
    p.add_argument("--flossing", choices=SCHEDULES, default=d.flossing,
                   help="; ".join(f"{s}: {label}" for s, label in SCHEDULE_LABELS.items()))
    p.add_argument("--epochs", type=int, default=d.n_epochs)
    p.add_argument("--seq-len", type=int, default=None, help="sequence length T (delay + 50)")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    p.set_defaults(run=cmd_train)


def add_bench(sub):
    p = sub.add_parser("bench", help="time flossing steps: naive torch loop vs the engine")
    device_option(p, default="cpu", help="device to time on")
    p.add_argument("--quick", action="store_true", help="smaller sizes (about a minute on a CPU)")
    json_option(p)
    p.set_defaults(run=cmd_bench)


COURSE_DESCRIPTION = (
    "The lecturer's kit. student-edition OUT: every notebook without its solutions and answers "
    "(the exercises' checkers stay), outputs cleared. slides OUT: reveal.js slides of every "
    "notebook (a heading starts a slide; solutions and answers are skipped); --execute runs the "
    "notebooks first so the figures show. figures OUT: run each notebook and save every figure it "
    "shows (static figures and each dashboard at its defaults) as PNG and SVG, for a slide deck. "
    "warm [NOTEBOOK ...]: fill the disk cache so that every dashboard answers from disk in the "
    "lecture (see docs/teaching.md). cache-clear: empty that cache.")
WARM_DESCRIPTION = (
    "Run each notebook's cells in this process, then compute every dashboard it made through the "
    "disk cache: all combinations of the controls' values when there are at most --max-grid, else "
    "the default state and each control over its whole range with the others at their defaults; "
    "and each Train button once, at its defaults. For the current mode (FLOSSLAB_FAST=1 fast, else "
    "full): warm with the mode the lecture uses. The cache folder is FLOSSLAB_CACHE (default: the "
    "user's cache folder; FLOSSLAB_CACHE=off turns it off).")


def course_options(q, notebooks=True):
    """What every course action takes: --notebooks (where it reads them), --threads, --json."""
    if notebooks:
        q.add_argument("--notebooks", default=None, metavar="FOLDER",
                       help="folder of the course notebooks (default: the repository's notebooks/)")
    threads_option(q)
    json_option(q)
    q.set_defaults(run=cmd_course)


def add_course(sub):
    p = sub.add_parser("course", help="the lecturer's kit: student edition, slides, figures, the "
                                      "dashboards' cache", description=COURSE_DESCRIPTION)
    course = p.add_subparsers(dest="action", required=True, parser_class=_Parser,
                              metavar="{student-edition,slides,figures,warm,cache-clear}")
    q = course.add_parser("student-edition", help="notebooks without solutions and answers")
    q.add_argument("out", help="folder to write into")
    course_options(q)
    q = course.add_parser("slides", help="reveal.js slides (HTML) of every notebook")
    q.add_argument("out", help="folder to write into")
    q.add_argument("--execute", action="store_true", help="run each notebook first (figures)")
    q.add_argument("--rise", action="store_true",
                   help="write the notebooks with slide metadata instead of HTML, to present live "
                        "in JupyterLab with RISE (offline)")
    q.add_argument("--reveal-prefix", default=None,
                   help="where the browser loads reveal.js 4 from (default: nbconvert's CDN "
                        "address; a local copy of reveal.js 4 presents offline, see docs/cli.md)")
    course_options(q)
    q = course.add_parser("figures", help="every figure of every lesson as PNG and SVG")
    q.add_argument("out", help="folder to write into")
    q.add_argument("--only", nargs="+", metavar="NN", default=None,
                   help="only these notebooks (e.g. 01 04)")
    q.add_argument("--format", nargs="+", choices=("png", "svg"), default=["png", "svg"],
                   dest="formats", help="file formats (default: both)")
    course_options(q)
    q = course.add_parser("warm", help="compute every dashboard's states into the disk cache, "
                                       "before class", description=WARM_DESCRIPTION)
    q.add_argument("names", nargs="*", metavar="NOTEBOOK",
                   help="notebooks to warm, e.g. 01 04 or 01_exploding_vanishing_gradients "
                        "(default: all)")
    q.add_argument("--max-grid", type=int, default=64, metavar="N",
                   help="a dashboard with at most N combinations of values gets all of them "
                        "(default 64)")
    q.add_argument("--no-train", action="store_true",
                   help="skip the Train buttons (training takes seconds per click)")
    course_options(q)
    q = course.add_parser("cache-clear", help="remove the dashboards' disk cache (all versions)")
    course_options(q, notebooks=False)


def add_reproduce(sub):
    p = sub.add_parser(
        "reproduce", help="run the paper's experiments: figures and results.json",
        description="Run the paper's experiments (a spectra, b condition number, c accuracy "
                    "against delay, d accuracy against k, e effective rank, f cost) and write "
                    "figures and results.json. Training runs (c, d, e) follow a budget: "
                    f"'default' ({describe(DEFAULT)}) or 'paper', the author's XOR example "
                    f"({describe(PAPER)}). Delays are the longest lag d (XOR: "
                    "x_{t-ceil(d/2)} XOR x_{t-d}, the author's published notation; his code's "
                    "variable 'delay' is d/2). Finished runs are saved in OUT/runs.jsonl: an "
                    "interrupted run, started again with the same arguments, continues where it "
                    "stopped.")
    p.add_argument("--fast", action="store_true", help="small sizes (a few minutes on 2 cores)")
    p.add_argument("--budget", choices=("default", "paper"), default="default",
                   help="training budget of c, d, e (see above)")
    device_option(p, default="auto", help="torch device")
    p.add_argument("--out", default="reproduce_out", help="folder for the PNGs and results.json")
    p.add_argument("--only", default="abcdef",
                   help="which experiments, e.g. 'ab' (a-f; e comes with c)")
    p.add_argument("--tasks", nargs="+", choices=("copy", "xor"), default=["copy", "xor"],
                   help="tasks of the delay sweep (c)")
    p.add_argument("--delays", type=int, nargs="+", metavar="D",
                   help="delays of the delay sweep (default: the budget's)")
    p.add_argument("--seeds", type=int, nargs="+", metavar="S", help="seeds (default 0-9)")
    p.add_argument("--schedules", nargs="+", choices=PAPER_SCHEDULES,
                   help="flossing schedules of the delay sweep (default: all three)")
    p.add_argument("--variant", default="", choices=tuple(VARIANTS), help=variant_help())
    threads_option(p)
    p.add_argument("--chunk", type=int, default=None,
                   help="runs trained together (default 16 on a CPU, 256 on a GPU)")
    p.add_argument("--jobs", type=int, default=1,
                   help="chunks trained at once in separate processes (CPU)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="train the sweeps' chunks on a Dask distributed cluster, e.g. "
                        "tcp://10.0.0.5:8786 (dask-scheduler, or dask-jobqueue's SLURMCluster: "
                        "see docs/cluster.md); the workers resolve --device and train each chunk "
                        "on one torch thread; this process alone writes OUT/runs.jsonl, so "
                        "resuming works as without it, and a lost worker's chunk is run again. "
                        "Default: processes on this machine (--jobs)")
    json_option(p, "one JSON summary")
    p.set_defaults(run=cmd_reproduce)


def add_report(sub):
    from .paper.report import TABLES
    p = sub.add_parser(
        "report", help="fill in or check the results pages' tables from the committed runs",
        description="Every table of the results pages (docs/results.md, README.md) is marked "
                    "<!-- table: NAME --> ... <!-- /table --> and computed from the committed "
                    "runs under ROOT/docs/results/ (a checkout of the repository). --check exits "
                    "with status 1 if a table is stale.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the tables of PAGES in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if a table of PAGES is stale")
    mode.add_argument("--print", dest="table", choices=sorted(TABLES), help="print one table")
    mode.add_argument("--figure", metavar="PNG", help="draw the paper budget's accuracy against "
                      "delay, every delay swept, into PNG")
    mode.add_argument("--ship", action="store_true",
                      help="write flosslab/paper/data/paper_runs.json from the paper-budget runs")
    p.add_argument("pages", nargs="*", metavar="PAGES", help="markdown files holding marked tables")
    p.add_argument("--root", default=".", metavar="FOLDER",
                   help="the checkout whose docs/results/ holds the runs (default: the current "
                        "folder)")
    json_option(p)
    p.set_defaults(run=cmd_report)


COMMANDS = (add_spectrum, add_floss, add_train, add_bench, add_course, add_reproduce, add_report)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flosslab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    sub.metavar = "{" + ",".join(sub.choices) + "}"
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            # a collapsed frame's -inf is reported as null with a note, not as a warning
            warnings.simplefilter("ignore", FrameCollapseWarning)
            if args.command in ("bench", "report"):   # bench sets its own thread counts
                result = args.run(args, None)
            else:
                with threads(args.threads):
                    backend = backend_of(args) if args.command in {"spectrum", "floss", "train"} \
                        else None
                    result = args.run(args, backend)
        result = strict_output(result)
        text = json.dumps(result, allow_nan=False)
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
                  "paths (--device, bench, reproduce) work without it", file=sys.stderr)
            return 2
        print(f"flosslab {args.command}: missing package: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the promise is one line, never a traceback
        print(f"flosslab {args.command}: unexpected error ({type(exc).__name__}): {exc}",
              file=sys.stderr)
        return 1
    if args.json:
        print(text)
    else:
        _print_human(args.command, result)
    return exit_status(result)
