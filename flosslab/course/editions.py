"""Editions of the course built from the notebooks with nbconvert: the student edition and slides.

* **Student edition** (``python -m flosslab course student-edition OUT``): every lesson notebook
  without its ``solution`` cells (code) and ``answer`` cells (markdown), outputs cleared; the exercise
  stubs and the checkers stay, so a student's answer is still checked. nbconvert's
  ``TagRemovePreprocessor`` and ``ClearOutputPreprocessor`` do the work. No answer code goes into
  OUT: while a student's function does not pass its check the demos fall back on the package's
  reference function for that exercise (``checking.pick``, through the reference each checker
  names), so a Run All works with every exercise unsolved and nothing beside the notebooks holds a
  solution. The lecturer's guide (``00_*``, speaking notes that repeat answers) stays out.
* **Slides** (``python -m flosslab course slides OUT``): reveal.js slides (nbconvert's
  ``SlidesExporter``). The slide structure is derived from the notebook when the slides are built,
  so the notebooks carry no slide metadata to keep in step: a ``#``/``##`` heading starts a slide, a
  ``###`` heading a sub-slide, solutions, answers and the setup cell are skipped, every other cell
  continues the slide before it. Run the notebooks first (``--execute``) to have figures on the
  slides. reveal.js itself is loaded by the browser from ``--reveal-prefix`` (by default the CDN that
  nbconvert names; pass a local copy of reveal.js 4 to present offline). ``--rise`` writes the
  notebooks with that slide metadata instead, to present live in JupyterLab with RISE
  (``jupyterlab-rise``, offline: reveal.js is bundled in its wheel).
* **Figures** (``python -m flosslab course figures OUT``): every notebook run top to bottom
  (nbconvert's ``ExecutePreprocessor``), and every figure it shows (static figures, and each
  dashboard's figure at its defaults: a dashboard's output carries a PNG of its figure) written as
  PNG and SVG files named by notebook and cell (``ExtractOutputPreprocessor``), for a slide deck.
  ``formats`` chooses (``--format png svg``); for SVG a cell after the setup asks the figures for
  SVG too (:func:`flosslab.core.style.figure_formats`).
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


def select_notebooks(names, paths) -> list:
    """The notebooks among ``paths`` named by ``names`` ("01", "01_exploding_vanishing_gradients"
    or its file name), in course order; all of them when ``names`` is empty. An unknown name is a
    :class:`FlosslabError` listing the valid ones."""
    if not names:
        return list(paths)
    chosen = []
    for name in names:
        stem = Path(str(name)).name.removesuffix(".ipynb")
        found = [p for p in paths if p.stem == stem or p.name[:2] == stem]
        if not found:
            raise FlosslabError(f"no course notebook {name!r}; choose from "
                                + ", ".join(p.name[:2] for p in paths)
                                + " (or a full name such as " + paths[0].stem + ")")
        chosen += [p for p in found if p not in chosen]
    return [p for p in paths if p in chosen]


def _read(path):
    import nbformat
    return nbformat.read(str(path), as_version=4)


#: Notebooks for the lecturer only, left out of the student edition: the lecturer's guide.
LECTURER_ONLY = ("00_",)


def student_notebook(nb):
    """A copy of ``nb`` without solution and answer cells, outputs cleared."""
    from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
    nb = copy.deepcopy(nb)
    remove = TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_TAGS), enabled=True)
    nb, _ = remove.preprocess(nb, {})
    nb, _ = ClearOutputPreprocessor().preprocess(nb, {})
    for cell in nb.cells:
        cell.metadata.pop("jupyter", None)          # nothing left to collapse
    return nb


def student_edition(out_dir, folder=None) -> list:
    """Write the student edition of every course notebook but the lecturer's guide into
    ``out_dir``; return the notebooks' paths."""
    import nbformat
    out = Path(out_dir)
    _writable(out)
    written = []
    for path in course_notebooks(folder):
        if path.name.startswith(LECTURER_ONLY):
            continue
        target = out / path.name
        nbformat.write(student_notebook(_read(path)), str(target))
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
           timeout: int = 600, rise: bool = False) -> list:
    """Write ``NN_name.slides.html`` for every course notebook into ``out_dir``; return the paths.
    With ``execute`` each notebook is run first (in the current environment) so its figures show.
    With ``rise``, write the notebooks themselves with slide metadata on every cell instead
    (``NN_name.ipynb``), to present live in JupyterLab with RISE (``jupyterlab-rise``)."""
    from nbconvert.exporters import SlidesExporter
    from nbconvert.preprocessors import ExecutePreprocessor
    out = Path(out_dir)
    _writable(out)
    if rise:
        import nbformat
        written = []
        for path in course_notebooks(folder):
            target = out / path.name
            nbformat.write(slides_notebook(_read(path)), str(target))
            written.append(target)
        return written
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


FIGURE_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def with_figure_formats(nb, formats):
    """A copy of ``nb`` with a cell after the setup that shows each figure in ``formats``."""
    import nbformat
    nb = copy.deepcopy(nb)
    if "svg" in formats:
        setup = next((i for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and "setup_notebook" in c.source), -1)
        cell = nbformat.v4.new_code_cell("from flosslab.core.style import figure_formats\n"
                                         f"figure_formats(*{tuple(formats)!r});")
        cell.id = "figure-formats"
        nb.cells.insert(setup + 1, cell)
    return nb


def figures(out_dir, folder=None, timeout: int = 600, only=None, formats=("png", "svg")) -> list:
    """Run each course notebook (or those named in ``only``, see :func:`select_notebooks`) and
    write every figure it shows into ``out_dir/NN_name/``, in each of ``formats`` ("png", "svg");
    return the paths."""
    from nbconvert.preprocessors import ExecutePreprocessor, ExtractOutputPreprocessor
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown or not formats:
        raise FlosslabError(f"figure formats are png and svg, got {', '.join(unknown) or 'none'}")
    out = Path(out_dir)
    _writable(out)
    written = []
    for path in select_notebooks(only, course_notebooks(folder)):
        nb = with_figure_formats(_read(path), formats)
        ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
            nb, {"metadata": {"path": str(path.parent)}})
        # without the added cell, files are numbered by the notebook's own cell numbers
        nb.cells = [c for c in nb.cells if c.get("id") != "figure-formats"]
        extract = ExtractOutputPreprocessor(extract_output_types={FIGURE_FORMATS[f]
                                                                  for f in formats},
                                            output_filename_template=path.stem
                                            + "_cell{cell_index:02d}_{index}{extension}")
        _, resources = extract.preprocess(nb, {"outputs": {}})
        folder_out = out / path.stem
        folder_out.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(resources["outputs"].items()):
            target = folder_out / name
            target.write_bytes(data if isinstance(data, bytes) else data.encode())
            written.append(target)
    return written


def _writable(out: Path) -> None:
    """Create ``out`` or say in one line why it cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".flosslab-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise FlosslabError(f"cannot write to {out}: {err.strerror or err}") from None
