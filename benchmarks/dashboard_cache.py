"""A dashboard move in a fresh kernel, with an empty disk cache (cold) and after
``python -m flosslab course warm`` (warm).

For each notebook: (1) run it in a fresh kernel (nbclient) with an empty cache folder and, at its
end, move every dashboard it made to its first state that is not the default (the first state
``course warm`` lists after the default) and read the update's time (compute, draw and PNG);
(2) warm the cache with ``course warm NN`` (timed); (3) run the notebook again in a fresh kernel
and make the same moves. Prints a table and writes JSON with ``--out``. Times, not assertions: a
shared machine's load changes them (the load average is recorded).

    FLOSSLAB_FAST=1 python benchmarks/dashboard_cache.py 01 02 04 --out benchmarks/dashboard_cache.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from flosslab.course.editions import course_notebooks, select_notebooks  # noqa: E402

COLLECT = ("from flosslab.course import dashboard_machinery as _dm\n"
           "_collector = _dm.collecting(); _made = _collector.__enter__()")
MEASURE = """\
import json as _json, time as _time
_rows = []
for _d in _made:
    if not isinstance(_d, _dm.Dashboard):
        continue
    _states = _dm.warm_states(_d)
    if len(_states) < 2:
        continue
    _start = _time.perf_counter()
    _d.set(**{k: v for k, v in _states[1].items() if _states[0][k] != v})
    _rows.append({"dashboard": _d._compute.__qualname__.split(".<locals>")[0],
                  "first_figure_cache": _d.cache_log[0], "move_cache": _d.cache_log[-1],
                  "move_seconds": round(_time.perf_counter() - _start, 3),
                  "update_seconds": round(_d.seconds[-1], 3) if _d.seconds else None})
print("ROWS" + _json.dumps(_rows))
"""


def run_kernel(path: Path, env_cache: str) -> dict:
    nb = nbformat.read(str(path), 4)
    setup = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and "setup_notebook" in c.source)
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(COLLECT))
    nb.cells.append(nbformat.v4.new_code_cell(MEASURE))
    os.environ["FLOSSLAB_CACHE"] = env_cache            # the kernel inherits it
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    rows = json.loads(text.split("ROWS", 1)[1])
    return {"run_all_seconds": round(seconds, 1), "moves": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["01", "02", "04"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for path in select_notebooks(args.names, course_notebooks()):
            cache = str(Path(folder) / path.stem)
            cold = run_kernel(path, cache)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "flosslab", "course", "warm", path.name[:2],
                            "--json"], check=True, capture_output=True,
                           env={**os.environ, "FLOSSLAB_CACHE": cache,
                                "PYTHONPATH": str(ROOT)})
            warm_seconds = time.perf_counter() - start
            warm = run_kernel(path, cache)
            results.append({"notebook": path.name, "cold": cold, "warm_command_seconds":
                            round(warm_seconds, 1), "warm": warm})
            print(f"{path.name}: Run All cold {cold['run_all_seconds']} s, warm "
                  f"{warm['run_all_seconds']} s; course warm {warm_seconds:.1f} s")
            for c, w in zip(cold["moves"], warm["moves"]):
                print(f"  {c['dashboard']:32s} move cold {c['move_seconds']:6.3f} s "
                      f"({c['move_cache']}), warm {w['move_seconds']:6.3f} s ({w['move_cache']})")
    record = {"date": datetime.date.today().isoformat(), "machine": platform.processor()
              or platform.machine(), "cores": os.cpu_count(), "load_average": os.getloadavg(),
              "fast": os.environ.get("FLOSSLAB_FAST", "0"), "results": results}
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
