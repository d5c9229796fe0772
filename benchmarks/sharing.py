"""Speed when the machine is shared: each job alone, then two copies started together.

    python benchmarks/sharing.py [--jobs train,floss,...] [--policies one,all] [--out FILE]

A shared machine is the normal case (JupyterHub, Binder, a laptop running a browser, a student
running the tests while a notebook computes). For each job this prints the wall time alone, the
wall time of the slower of two copies started at the same moment, and their ratio (fair on a 2-core
machine: ~1x, each copy has a core; the target is <= 2x). Each job runs under two thread policies:

* ``one``: flosslab's default, one thread per process (``FLOSSLAB_THREADS`` unset);
* ``all``: every core for torch and BLAS in each process (``FLOSSLAB_THREADS=all``), what torch
  does by default and what flosslab did before it set a policy.

Jobs: the CLI's ``train``, ``floss`` and ``spectrum`` at moderate sizes, ``reproduce --fast`` and
the heaviest notebook (``notebook``: executed top to bottom in full mode, as a student's Run All).
Results go to stdout and, as JSON, to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

PY = sys.executable
JOBS = {
    "train": [PY, "-m", "flosslab", "train", "--device", "cpu", "--task", "xor", "--delay", "10",
              "--epochs", "60", "--flossing", "pre", "--seed", "0", "--json"],
    "floss": [PY, "-m", "flosslab", "floss", "--n", "80", "--k", "75", "--flossing-steps", "60",
              "--json"],
    "spectrum": [PY, "-m", "flosslab", "spectrum", "--n", "80", "--k", "75", "--steps", "3000",
                 "--json"],
    "reproduce": [PY, "-m", "flosslab", "reproduce", "--fast", "--device", "cpu", "--out", "{tmp}",
                  "--json"],
    # the heaviest notebook in full mode, as a student's "Run All" (its kernel reads
    # FLOSSLAB_THREADS like every flosslab process)
    "notebook": [PY, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                 "--ExecutePreprocessor.timeout=900", "notebooks/06_why_it_works.ipynb",
                 "--output-dir", "{tmp}"],
}


def run_copies(command, copies: int, env: dict) -> list[float]:
    """Start ``copies`` processes at once; return each one's wall time (seconds)."""
    procs, starts = [], []
    for i in range(copies):
        tmp = tempfile.mkdtemp(prefix="flosslab-sharing-")
        cmd = [part.replace("{tmp}", tmp) for part in command]
        starts.append(time.perf_counter())
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    times = []
    for start, proc in zip(starts, procs):
        _, err = proc.communicate()
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{err[-2000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default=",".join(JOBS))
    parser.add_argument("--policies", default="one,all")
    parser.add_argument("--alone-only", default="",
                        help="policies timed alone only (e.g. 'all': two oversubscribed copies of a "
                             "long job can take many times longer)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    print(f"{'job':10s} {'threads':8s} {'alone s':>8s} {'two at once s':>14s} {'ratio':>6s}")
    for name in args.jobs.split(","):
        for policy in args.policies.split(","):
            env = dict(os.environ)
            env.pop("FLOSSLAB_THREADS", None)
            env["FLOSSLAB_FAST"] = "0"
            if policy == "all":
                env["FLOSSLAB_THREADS"] = "all"
            alone = run_copies(JOBS[name], 1, env)[0]
            if policy in args.alone_only.split(","):
                both = None
            else:
                both = max(run_copies(JOBS[name], 2, env))
            rows.append({"job": name, "policy": policy, "alone_s": round(alone, 2),
                         "two_at_once_s": None if both is None else round(both, 2),
                         "ratio": None if both is None else round(both / alone, 2)})
            print(f"{name:10s} {policy:8s} {alone:8.1f} "
                  + ("{:>14s} {:>6s}".format("-", "-") if both is None
                     else f"{both:14.1f} {both / alone:6.2f}"), flush=True)
            result = {"machine": f"{platform.processor() or platform.machine()}, "
                                 f"{os.cpu_count()} cores",
                      "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
            if args.out:                       # after every row: an interrupted run keeps its rows
                with open(args.out, "w") as f:
                    json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
