"""The architecture as the import graph: each layer imports only from the layers below it, and the
committed notebooks carry no outputs or widget state except the cells nbval checks."""
import ast
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flosslab"
#: Layer of each part of the package; a module may import from its own layer or lower ones.
LAYERS = {"core": 0, "reference": 1, "engine": 1, "paper": 2, "course": 3, "front": 4}
#: The two implementations mirror each other and must not import one another.
SIBLINGS = {("reference", "engine"), ("engine", "reference")}


def part_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "front"                       # flosslab/__init__, cli, __main__


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT):
    """Every flosslab module imported by ``path`` (top-level and inside functions)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("flosslab"):
                if node.module is None or target == "flosslab":    # from . import x
                    for alias in node.names:
                        yield f"{target}.{alias.name}", node.lineno
                else:
                    yield target, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("flosslab"):
                    yield alias.name, node.lineno


def upward_imports(root: Path = ROOT) -> list:
    """Each import, in the package ``root / "flosslab"``, of a layer above the importing module's."""
    bad = []
    for path in sorted((root / "flosslab").rglob("*.py")):
        source = module_name(path, root)
        here = part_of(source)
        for target, line in imports_of(path, root):
            there = part_of(target)
            if target == "flosslab" and here != "front":
                bad.append(f"{source}:{line} imports the front door 'flosslab'")
            elif LAYERS[there] > LAYERS[here] or (here, there) in SIBLINGS:
                bad.append(f"{source}:{line} ({here}) imports {target} ({there})")
    return bad


def test_no_module_imports_from_a_layer_above_it():
    bad = upward_imports()
    assert not bad, "\n".join(bad)


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The checker itself, on a copy of the package in a temporary folder (nothing is written into
    the project, so an interrupted run leaves nothing behind): the copy is clean, and a core module
    importing the course, or the engine importing the reference, is reported."""
    shutil.copytree(PACKAGE, tmp_path / "flosslab", ignore=shutil.ignore_patterns(
        "__pycache__", "data", "*.png", "*.json", "*.jsonl"))
    assert upward_imports(tmp_path) == []
    (tmp_path / "flosslab" / "core" / "_layer_probe.py").write_text("from ..course import demos\n")
    (tmp_path / "flosslab" / "engine" / "_sibling_probe.py").write_text(
        "def f():\n    from flosslab.reference import qr\n")
    bad = upward_imports(tmp_path)
    assert len(bad) == 2
    assert "flosslab.core._layer_probe:1 (core) imports flosslab.course (course)" in bad
    assert "flosslab.engine._sibling_probe:2 (engine) imports flosslab.reference (reference)" \
        in bad
    assert not (PACKAGE / "core" / "_layer_probe.py").exists()


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_clean(path):
    """No stored outputs except the cells nbval checks (marked keep_output for nbstripout), no
    saved widget state: a lecturer's edit saved in JupyterLab goes through nbstripout."""
    nb = json.loads(path.read_text())
    assert "widgets" not in nb.get("metadata", {}), "saved widget state: run nbstripout"
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        checked = "NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
        assert bool(cell["metadata"].get("keep_output")) == checked, \
            f"cell {i}: keep_output must mark exactly the NBVAL_CHECK_OUTPUT cells"
        if not checked:
            assert not cell.get("outputs"), f"cell {i} has stored outputs: run nbstripout"
        else:
            assert cell["outputs"] and cell["execution_count"], \
                f"cell {i} is checked by nbval but has no stored output to compare"


def lesson_imports(root: Path = ROOT) -> list:
    """Each import, by a lesson module in ``root / "flosslab/course"``, of another lesson."""
    bad = []
    for path in sorted((root / "flosslab" / "course").glob("lesson*.py")):
        source = module_name(path, root)
        for target, line in imports_of(path, root):
            if target.startswith("flosslab.course.lesson") and target != source:
                bad.append(f"{source}:{line} imports the lesson {target}")
    return bad


def test_a_lesson_module_imports_no_other_lesson():
    """One lesson, one module: what several lessons use lives in a shared course module."""
    bad = lesson_imports()
    assert not bad, "\n".join(bad)


def test_the_lesson_check_catches_a_lesson_importing_another(tmp_path):
    """On a copy of the package in a temporary folder, so nothing is left in the project."""
    shutil.copytree(PACKAGE, tmp_path / "flosslab", ignore=shutil.ignore_patterns(
        "__pycache__", "data", "*.png", "*.json", "*.jsonl"))
    assert lesson_imports(tmp_path) == []
    (tmp_path / "flosslab" / "course" / "lesson99_probe.py").write_text(
        "from . import lesson04_flossing\n")
    assert lesson_imports(tmp_path) == [
        "flosslab.course.lesson99_probe:1 imports the lesson flosslab.course.lesson04_flossing"]


def test_every_notebook_imports_its_own_lesson():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                       if c["cell_type"] == "code")
        lessons = set(re.findall(r"\blesson\d\d_\w+", code))
        assert lessons and all(name.startswith(f"lesson{path.name[:2]}_") for name in lessons), \
            f"{path.name} imports {sorted(lessons)}"
