"""Wall time of every course notebook, executed top to bottom as nbval and a student's "Run All" do.

    python benchmarks/notebook_times.py [--fast-only] [notebooks/NAME.ipynb ...]

Runs each notebook in a fresh kernel with nbclient, first in fast mode (FLOSSLAB_FAST=1, what CI
runs), then in full mode, and prints one line per notebook and a total per mode. Nothing is
written back to the notebooks.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path, fast: bool) -> float:
    os.environ["FLOSSLAB_FAST"] = "1" if fast else "0"
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-only", action="store_true")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for fast in (True,) if args.fast_only else (True, False):
        total = 0.0
        for path in paths:
            seconds = run(path, fast)
            total += seconds
            print(f"{path.name}: {seconds:.1f} s ({'fast' if fast else 'full'} mode)", flush=True)
        print(f"total ({'fast' if fast else 'full'}): {total:.1f} s", flush=True)


if __name__ == "__main__":
    main()
