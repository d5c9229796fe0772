"""Every notebook, executed top to bottom in a fresh kernel (fast mode), shows its figures as
pictures and no errors: a figure printed as the text ``<Figure size ... with N Axes>``, an error
output or a traceback on stderr fails the test (nbval does not look at these)."""
import os
from pathlib import Path

import nbformat
import pytest

#: In CI (the ``CI`` variable, or FLOSSLAB_FAST=1 as .ci/run sets) nbclient, named in
#: requirements.txt, must be there: a missing one is an error, not a silent skip. Elsewhere (a
#: trimmed environment) the notebooks are skipped, with the reason.
REQUIRED = bool(os.environ.get("CI")) or os.environ.get("FLOSSLAB_FAST") == "1"
if REQUIRED:
    import nbclient
else:
    nbclient = pytest.importorskip("nbclient", reason="nbclient (requirements.txt) not installed")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def problems_of(nb) -> list:
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
            elif kind == "stream" and out.get("name") == "stderr" and "Traceback" in out["text"]:
                found.append(f"cell {i}: a traceback on stderr")
            elif kind in ("display_data", "execute_result"):
                data = out.get("data", {})
                text = data.get("text/plain", "")
                if text.startswith("<Figure size") and "image/png" not in data:
                    found.append(f"cell {i}: a figure shown as text: {text}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_notebook_shows_figures_and_no_errors(path, monkeypatch):
    monkeypatch.setenv("FLOSSLAB_FAST", "1")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    assert not problems_of(nb), "\n".join(problems_of(nb))
    figures = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if "image/png" in o.get("data", {}))
    assert figures >= 1, "a notebook without a single figure"


def test_the_check_catches_a_figure_shown_as_text():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from matplotlib.figure import Figure\nfig = Figure()\nfig.add_subplot()\nfig")]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert any("figure shown as text" in p for p in problems_of(nb))
