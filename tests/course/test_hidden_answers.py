"""Answers and solutions stay hidden until a student opens them, in every front end.

JupyterLab renders a markdown cell whatever its ``source_hidden`` flag says once it has run, and
GitHub, nbviewer, VS Code and static sites ignore the flag; an HTML ``<details>`` block is closed
in all of them. Code solutions are collapsed by ``source_hidden`` (JupyterLab, VS Code) and are
removed from the student edition."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
DETAILS = re.compile(r"\A<details>\n<summary>.+</summary>\n\n.+\n\n</details>\Z", re.S)


def cells(path, tag):
    nb = json.loads(path.read_text())
    return [(i, c) for i, c in enumerate(nb["cells"])
            if tag in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_answer_is_a_closed_details_block(path):
    answers = cells(path, "answer")
    assert answers, "every lesson has questions with answers"
    for i, cell in answers:
        text = "".join(cell["source"])
        assert cell["cell_type"] == "markdown", f"cell {i}"
        assert DETAILS.match(text), f"cell {i}: wrap the answer in <details> (tools/nbanswers.py)"
        assert "<details open" not in text and text.count("<details>") == 1, f"cell {i}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_solution_is_collapsed(path):
    for i, cell in cells(path, "solution"):
        assert cell["cell_type"] == "code", f"cell {i}"
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, f"cell {i}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_no_question_cell_carries_its_answer(path):
    """A cell that asks (a **Question** heading) holds no answer: answers live in answer cells."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "answer" not in cell["metadata"].get("tags", []):
            assert not re.search(r"\*\*Answers?\b", text), f"cell {i} holds an answer"
