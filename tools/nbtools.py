"""Build, execute and strip the course notebooks (dev tool; not needed to run the course).

    python tools/nbtools.py build      # write notebooks/*.ipynb from tools/course_source.py
    python tools/nbtools.py execute    # run them in fast mode, keep only NBVAL_CHECK_OUTPUT outputs
    python tools/nbtools.py strip      # strip outputs (except checked cells) and widget state
    python tools/nbtools.py time       # execute each notebook and print its wall time

Committed notebooks carry no outputs except the cells marked ``# NBVAL_CHECK_OUTPUT`` (nbval
compares those) and no ``metadata.widgets`` (saved widget state breaks GitHub's renderer).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHECK = "# NBVAL_CHECK_OUTPUT"


def build():
    sys.path.insert(0, str(ROOT / "tools"))
    from course_source import COURSE
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, cells in COURSE.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                      "name": "python3"},
                       "language_info": {"name": "python"}}
        for kind, source, *tags in cells:
            if kind == "md":
                cell = nbformat.v4.new_markdown_cell(source.strip("\n"))
            else:
                cell = nbformat.v4.new_code_cell(source.strip("\n"))
            if tags and tags[0]:
                cell.metadata["tags"] = list(tags[0])
                if "solution" in tags[0]:
                    cell.metadata["jupyter"] = {"source_hidden": True}
            nb.cells.append(cell)
        for i, cell in enumerate(nb.cells):
            cell.id = f"{name[:2]}-{i:02d}"
        nbformat.write(nb, NOTEBOOKS / f"{name}.ipynb")
        print("wrote", name)


def strip_notebook(nb):
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if CHECK not in cell.source:     # nbval needs the checked cells' execution counts
            cell.execution_count = None
            cell.outputs = []
    return nb


def strip(paths=None):
    for path in paths or sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(strip_notebook(nb), path)


def execute(paths=None, fast=True, timing_only=False):
    from nbclient import NotebookClient
    os.environ["FLOSSLAB_FAST"] = "1" if fast else "0"
    times = {}
    for path in paths or sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        times[path.name] = time.perf_counter() - start
        print(f"{path.name}: {times[path.name]:.1f} s ({'fast' if fast else 'full'} mode)",
              flush=True)
        if not timing_only:
            nbformat.write(strip_notebook(nb), path)
    return times


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "build"
    paths = [Path(p).resolve() for p in sys.argv[2:]] or None
    if command == "build":
        build()
    elif command == "execute":
        execute(paths)
    elif command == "strip":
        strip(paths)
    elif command == "time":
        for fast in (True, False):
            t = execute(paths, fast=fast, timing_only=True)
            print(f"total ({'fast' if fast else 'full'}): {sum(t.values()):.1f} s")
    else:
        raise SystemExit(__doc__)
