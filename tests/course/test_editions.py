"""The student edition and the slides, built from the notebooks with nbconvert."""
import json
import os

import nbformat
import pytest

from flosslab.course import editions

NOTEBOOKS = editions.course_notebooks()


def tags_of(nb):
    return [t for c in nb.cells for t in c.metadata.get("tags", [])]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, editions.student_edition(out)


def test_student_edition_drops_solutions_and_answers_and_keeps_every_checker(student):
    out, written = student
    lessons = [p for p in NOTEBOOKS if not p.name.startswith(editions.LECTURER_ONLY)]
    assert [p.name for p in written] == [p.name for p in lessons] and len(lessons) == 8
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # nothing else
    for original, path in zip(lessons, written):
        full, cut = nbformat.read(original, 4), nbformat.read(path, 4)
        nbformat.validate(cut)
        assert "solution" not in tags_of(cut) and "answer" not in tags_of(cut)
        kept = [c for c in full.cells if not {"solution", "answer"} & set(c.metadata.get("tags", []))]
        assert [c.source for c in cut.cells] == [c.source for c in kept]     # nothing else lost
        assert all(not c.get("outputs") for c in cut.cells if c.cell_type == "code")
        text = json.dumps(cut)
        assert "<details>" not in text                       # no answer text left at all
        stubs = sum("raise NotImplementedError" in c.source for c in cut.cells)
        checks = sum("check_" in c.source for c in cut.cells if c.cell_type == "code")
        assert checks >= stubs                               # every stub is followed by a check


def solution_lines(path):
    """The distinctive lines of a notebook's solution cells: code lines (20 characters or more,
    stripped) that appear in no other cell of the instructor's notebook, so that finding one in
    the student edition means an answer leaked."""
    nb = nbformat.read(path, 4)
    elsewhere = {line.strip() for c in nb.cells if "solution" not in c.metadata.get("tags", [])
                 for line in c.source.splitlines()}
    return {line.strip() for c in nb.cells if "solution" in c.metadata.get("tags", [])
            for line in c.source.splitlines()
            if len(line.strip()) >= 20 and line.strip() not in elsewhere
            and not line.strip().startswith("#")}


def test_no_solution_line_is_anywhere_in_the_student_edition(student):
    """Every file under the edition's folder (notebooks and anything beside them) is searched for
    every distinctive line of every solution cell of the instructor's notebooks."""
    out, _ = student
    lines = {line for path in NOTEBOOKS for line in solution_lines(path)}
    assert len(lines) >= 26                                  # at least a line per exercise
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text(errors="replace")
        # notebooks store each source line as a JSON string: search the decoded sources too
        if path.suffix == ".ipynb":
            text += "\n".join(c.source for c in nbformat.read(path, 4).cells)
        leaked = sorted(line for line in lines if line in text)
        assert not leaked, f"{path.name} holds solution code: {leaked[:3]}"
    assert not any(p.name.startswith(editions.LECTURER_ONLY) for p in files)   # speaking notes


@pytest.mark.skipif(os.environ.get("FLOSSLAB_FAST") != "1", reason="runs notebooks: fast mode")
@pytest.mark.parametrize("number", ["01", "02", "03", "04", "05", "06", "07", "08"])
def test_student_edition_runs_top_to_bottom_with_the_stubs_unsolved(student, number):
    """The unsolved stubs raise NotImplementedError when checked: each checker says so in one line,
    and the demos after it fall back to the package's reference, so Run All shows no error."""
    from nbclient import NotebookClient
    out, written = student
    path = next(p for p in written if p.name.startswith(number))
    nb = nbformat.read(path, 4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(out)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == [], [(e.ename, e.evalue) for e in errors]
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    assert "not written yet" in printed and "Correct" not in printed
    assert "the demos below use the reference" in printed      # the unsolved stubs fell back


def test_slides_start_at_headings_and_skip_answers(tmp_path):
    path = NOTEBOOKS[4]
    nb = editions.slides_notebook(nbformat.read(path, 4))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    for cell, kind in zip(nb.cells, kinds):
        tags = cell.metadata.get("tags", [])
        if "answer" in tags or "solution" in tags:
            assert kind == "skip"
        elif cell.cell_type == "markdown" and cell.source.startswith("## "):
            assert kind == "slide"
    assert kinds[0] == "slide" and kinds.count("slide") >= 5
    written = editions.slides(tmp_path, folder=path.parent)
    html = written[4].read_text()
    assert "reveal" in html.lower() and html.count('<section') >= kinds.count("slide")
    assert "click to open" not in html                       # answers are not on the slides


@pytest.mark.skipif(os.environ.get("FLOSSLAB_FAST") != "1", reason="runs a notebook: fast mode")
def test_figures_are_exported_as_png_and_svg_named_by_notebook_and_cell(tmp_path):
    written = editions.figures(tmp_path, only=["01"])
    assert written, "notebook 01 shows figures"
    pngs = {p.stem for p in written if p.suffix == ".png"}
    svgs = {p.stem for p in written if p.suffix == ".svg"}
    assert pngs == svgs and len(pngs) * 2 == len(written)     # every figure in both formats
    nb = nbformat.read(NOTEBOOKS[1], 4)
    dashboards = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  and "_dashboard(" in c.source.strip().splitlines()[-1]]
    cells = {int(stem.split("_cell")[1][:2]) for stem in pngs}
    assert dashboards and set(dashboards) <= cells      # the dashboards' figures too
    for path in written:
        assert path.parent.name == "01_exploding_vanishing_gradients"
        assert path.name.startswith("01_exploding_vanishing_gradients_cell")
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert "<svg" in path.read_text()


def test_figure_formats_and_folders_are_checked(tmp_path):
    from flosslab.core.errors import FlosslabError
    with pytest.raises(FlosslabError, match="png and svg"):
        editions.figures(tmp_path, formats=("pdf",))
    (tmp_path / "a_file").write_text("")
    with pytest.raises(FlosslabError, match="cannot write to"):
        editions.student_edition(tmp_path / "a_file" / "out")
    with pytest.raises(FlosslabError, match="no course notebook '42'"):
        editions.select_notebooks(["42"], NOTEBOOKS)
    assert editions.select_notebooks(["04", "01_exploding_vanishing_gradients.ipynb"],
                                     NOTEBOOKS) == [NOTEBOOKS[1], NOTEBOOKS[4]]
    nb = editions.with_figure_formats(nbformat.read(NOTEBOOKS[1], 4), ("png", "svg"))
    setup = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and "setup_notebook" in c.source)
    assert nb.cells[setup + 1].source.endswith("figure_formats(*('png', 'svg'));")


def test_rise_notebooks_carry_slide_metadata_on_every_cell(tmp_path):
    written = editions.slides(tmp_path, rise=True)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for original, path in zip(NOTEBOOKS, written):
        nb = nbformat.read(path, 4)
        nbformat.validate(nb)
        kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
        assert kinds[0] == "slide" and set(kinds) <= {"slide", "subslide", "-", "skip"}
        assert [c.source for c in nb.cells] == [c.source for c in nbformat.read(original, 4).cells]


def test_rise_is_a_jupyterlab_extension_when_installed():
    """RISE (jupyterlab-rise, requirements.txt) is listed by JupyterLab; reveal.js comes in its
    wheel, so presenting needs no network."""
    import importlib.util
    import subprocess
    import sys
    if importlib.util.find_spec("jupyterlab_rise") is None:
        pytest.skip("jupyterlab-rise is not installed here (pip install -r requirements.txt)")
    done = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                          capture_output=True, text=True)
    out = done.stdout + done.stderr                      # the list goes to stderr
    assert "jupyterlab-rise" in out and "enabled" in out
