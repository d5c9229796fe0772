"""Editions of the course built from the notebooks with nbconvert: the student edition and slides.

* **Student edition** (``python -m flosslab course student-edition OUT``): every notebook without its
  ``solution`` cells (code) and ``answer`` cells (markdown), outputs cleared; the exercise stubs and
  the checkers stay, so a student's answer is still checked. nbconvert's ``TagRemovePreprocessor``
  and ``ClearOutputPreprocessor`` do the work. The demos fall back on the reference solutions while a
  student's function is not ready (``checking.pick``), so the solutions' code goes to a module beside
  the notebook (``solutions_NN.py``), imported by one cell after the setup: out of the notebook's
  sight, but a Run All still works with every exercise unsolved.
* **Slides** (``python -m flosslab course slides OUT``): reveal.js slides (nbconvert's
  ``SlidesExporter``). The slide structure is derived from the notebook when the slides are built,
  so the notebooks carry no slide metadata to keep in step: a ``#``/``##`` heading starts a slide, a
  ``###`` heading a sub-slide, solutions, answers and the setup cell are skipped, every other cell
  continues the slide before it. Run the notebooks first (``--execute``) to have figures on the
  slides. reveal.js itself is loaded by the browser from ``--reveal-prefix`` (by default the CDN that
  nbconvert names; pass a local copy of reveal.js 4 to present offline).
* **Figures** (``python -m flosslab course figures OUT``): every notebook run top to bottom
  (nbconvert's ``ExecutePreprocessor``), and every figure it shows (each demo's static figure at its
  defaults, the shipped results) written as a PNG named by notebook and cell
  (``ExtractOutputPreprocessor``), for a slide deck. Figures are PNG (the course renders PNG); the
  dashboards' live images are not saved.
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..core.errors import FlosslabError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
HIDDEN_TAGS = ("solution", "answer")


def course_notebooks(folder=None) -> list:
    """The course's notebooks, in order."""
    if folder is None:       # the repository's notebooks, or ./notebooks where flosslab is installed
        folder = NOTEBOOKS if NOTEBOOKS.is_dir() else Path("notebooks")
    folder = Path(folder)
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FlosslabError(f"no course notebooks (NN_name.ipynb) in {folder}")
    return paths


def _read(path):
    import nbformat
    return nbformat.read(str(path), as_version=4)


def solutions_module(nb) -> str:
    """The source of a module holding ``nb``'s solution cells (their checker calls dropped),
    preceded by every import line of the notebook's code cells."""
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    imports = [line for src in code for line in src.splitlines()
               if line.startswith(("import ", "from ")) and "setup_notebook" not in line]
    solutions = ["\n".join(line for line in c.source.splitlines()
                           if not line.lstrip().startswith("lesson.check_"))
                 for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    head = '"""Reference solutions of the exercises, for the demos to fall back on."""\n'
    return head + "\n".join(dict.fromkeys(imports)) + "\n\n\n" + "\n\n\n".join(solutions) + "\n"


def student_notebook(nb, module: str | None = None):
    """A copy of ``nb`` without solution and answer cells, outputs cleared; with ``module``, a cell
    after the setup imports the reference solutions from that module."""
    import nbformat
    from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
    nb = copy.deepcopy(nb)
    remove = TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_TAGS), enabled=True)
    nb, _ = remove.preprocess(nb, {})
    nb, _ = ClearOutputPreprocessor().preprocess(nb, {})
    for cell in nb.cells:
        cell.metadata.pop("jupyter", None)          # nothing left to collapse
    if module:
        setup = next((i for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and "setup_notebook" in c.source), 0)
        cell = nbformat.v4.new_code_cell(
            f"from {module} import *   # the reference solutions, which the demos use until yours "
            "pass their checks")
        cell.id = "student-solutions"
        nb.cells.insert(setup + 1, cell)
    return nb


def student_edition(out_dir, folder=None) -> list:
    """Write the student edition of every course notebook into ``out_dir`` (with each notebook's
    ``solutions_NN.py`` beside it); return the notebooks' paths."""
    import nbformat
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in course_notebooks(folder):
        nb = _read(path)
        module = None
        if any("solution" in c.metadata.get("tags", []) for c in nb.cells):
            module = f"solutions_{path.name[:2]}"
            (out / f"{module}.py").write_text(solutions_module(nb))
        target = out / path.name
        nbformat.write(student_notebook(nb, module), str(target))
        written.append(target)
    return written


def slide_type(cell, index: int) -> str:
    """The reveal.js slide type of a cell (see the module's text)."""
    tags = cell.metadata.get("tags", [])
    if any(tag in tags for tag in HIDDEN_TAGS) or (cell.cell_type == "code" and index <= 1
                                                   and "setup_notebook" in cell.source):
        return "skip"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith("# ") or first.startswith("## "):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def slides_notebook(nb):
    """A copy of ``nb`` with slide metadata on every cell."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, i)}
    return nb


def slides(out_dir, folder=None, execute: bool = False, reveal_prefix: str | None = None,
           timeout: int = 600) -> list:
    """Write ``NN_name.slides.html`` for every course notebook into ``out_dir``; return the paths.
    With ``execute`` each notebook is run first (in the current environment) so its figures show."""
    from nbconvert.exporters import SlidesExporter
    from nbconvert.preprocessors import ExecutePreprocessor
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    exporter = SlidesExporter()
    if reveal_prefix:
        exporter.reveal_url_prefix = reveal_prefix
    written = []
    for path in course_notebooks(folder):
        nb = _read(path)
        if execute:
            ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
                nb, {"metadata": {"path": str(path.parent)}})
        body, _ = exporter.from_notebook_node(slides_notebook(nb))
        target = out / (path.stem + ".slides.html")
        target.write_text(body)
        written.append(target)
    return written


def figures(out_dir, folder=None, timeout: int = 600, only=None) -> list:
    """Run each course notebook (or those whose names start with one of ``only``) and write every
    PNG figure it shows into ``out_dir/NN_name/``; return the paths."""
    from nbconvert.preprocessors import ExecutePreprocessor, ExtractOutputPreprocessor
    out = Path(out_dir)
    written = []
    for path in course_notebooks(folder):
        if only and not any(path.name.startswith(prefix) for prefix in only):
            continue
        nb = _read(path)
        ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
            nb, {"metadata": {"path": str(path.parent)}})
        extract = ExtractOutputPreprocessor(extract_output_types={"image/png"},
                                            output_filename_template=path.stem
                                            + "_cell{cell_index:02d}_{index}{extension}")
        _, resources = extract.preprocess(nb, {"outputs": {}})
        folder_out = out / path.stem
        folder_out.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(resources["outputs"].items()):
            target = folder_out / name
            target.write_bytes(data)
            written.append(target)
    return written
