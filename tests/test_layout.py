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


def copy_package(root: Path) -> None:
    """The package's code under ``root``, for a probe module planted in the copy (data left out)."""
    shutil.copytree(PACKAGE, root / "flosslab", ignore=shutil.ignore_patterns(
        "__pycache__", "data", "*.png", "*.json", "*.jsonl"))


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
    copy_package(tmp_path)
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
    copy_package(tmp_path)
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


# --- the course through public names, and no cache of its own -----------------------------------

#: The packages the course uses through their public names only (their ``__all__``).
PUBLIC = ("flosslab.engine", "flosslab.reference")


def _public_names() -> dict:
    import importlib
    return {name: set(importlib.import_module(name).__all__) for name in PUBLIC}


def _home(target: str):
    """The public package ``target`` (a module path) belongs to, or None."""
    return next((p for p in PUBLIC if target == p or target.startswith(p + ".")), None)


def private_uses(root: Path = ROOT) -> list:
    """Each name a course module takes from the engine or the reference that is not in that
    package's ``__all__``, each import through a private module path (a part starting with "_"),
    and each ``engine.x`` / ``reference.x`` attribute outside ``__all__``; imports inside
    functions included."""
    public = _public_names()
    bad = []
    for path in sorted((root / "flosslab" / "course").glob("*.py")):
        name = module_name(path, root)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        aliases = {}                               # local name -> public package it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                    if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if _home(full) == full:        # from .. import engine
                        aliases[alias.asname or alias.name] = full
                        continue
                    home = _home(target)
                    if home is None:
                        continue
                    inner = target[len(home):].split(".")
                    if any(part.startswith("_") for part in inner if part):
                        bad.append(f"{name}:{node.lineno} imports from the private module "
                                   f"{target}")
                    if alias.name not in public[home]:
                        bad.append(f"{name}:{node.lineno} imports {alias.name} from {target}: "
                                   f"not in {home}.__all__")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    home = _home(alias.name)
                    if home is not None and alias.name != home:
                        bad.append(f"{name}:{node.lineno} imports the module {alias.name}: use "
                                   f"the names of {home}")
                    elif home is not None and alias.asname:
                        aliases[alias.asname] = home
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases
                    and node.attr not in public[aliases[node.value.id]]):
                bad.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}: not in "
                           f"{aliases[node.value.id]}.__all__")
    return bad


def test_the_course_uses_only_public_names_of_the_engine_and_the_reference():
    """One way into the engine: what a lesson needs is in ``flosslab.engine.__all__`` (or the
    reference's), so that the engine can change behind its names."""
    bad = private_uses()
    assert not bad, "\n".join(bad)


def test_the_public_name_check_catches_private_names(tmp_path):
    copy_package(tmp_path)
    assert private_uses(tmp_path) == []
    (tmp_path / "flosslab" / "course" / "lesson99_probe.py").write_text(
        "from ..engine.cells import _step_and_size\n"
        "from ..engine.training import evaluate, train\n"
        "from ..reference.lyapunov import log_abs_diag\n"
        "def f():\n"
        "    from .. import engine\n"
        "    return engine.lyapunov_spectrum, engine.workspace\n")
    assert private_uses(tmp_path) == [
        "flosslab.course.lesson99_probe:1 imports _step_and_size from flosslab.engine.cells: "
        "not in flosslab.engine.__all__",
        "flosslab.course.lesson99_probe:2 imports evaluate from flosslab.engine.training: "
        "not in flosslab.engine.__all__",
        "flosslab.course.lesson99_probe:3 imports log_abs_diag from flosslab.reference.lyapunov: "
        "not in flosslab.reference.__all__",
        "flosslab.course.lesson99_probe:6 uses engine.workspace: not in flosslab.engine.__all__"]


#: Calls that fill a container.
FILLS = {"append", "add", "extend", "insert", "setdefault", "update", "__setitem__"}
CONTAINERS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
CONTAINER_CALLS = {"dict", "list", "set", "OrderedDict", "defaultdict", "Counter"}


def _is_container(value) -> bool:
    if isinstance(value, CONTAINERS):
        return True
    if isinstance(value, ast.Call):
        f = value.func
        return (f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")) in CONTAINER_CALLS
    return False


def _containers(body) -> dict:
    """{name: line} of the names a block binds to a new container (not inside nested defs)."""
    out = {}
    for node in body:
        if isinstance(node, ast.Assign) and _is_container(node.value):
            out.update({t.id: node.lineno for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and node.value is not None \
                and _is_container(node.value) and isinstance(node.target, ast.Name):
            out[node.target.id] = node.lineno
    return out


def _filled(func) -> set:
    """The names a function fills (``x[k] = v``, ``x.setdefault(...)``, ``x.append(...)``, ...)."""
    names = set()
    for node in ast.walk(func):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                names.add(t.value.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in FILLS and isinstance(node.func.value, ast.Name):
            names.add(node.func.value.id)
    return names


def course_caches(root: Path = ROOT) -> list:
    """Containers the course fills as caches outside :mod:`flosslab.course.cache`: a module-level
    dict, list, set or OrderedDict that a function fills, and a function's container that a
    function nested in it fills (a closure that remembers across calls)."""
    bad = []
    for path in sorted((root / "flosslab" / "course").glob("*.py")):
        if path.name == "cache.py":
            continue
        name = module_name(path, root)
        tree = ast.parse(path.read_text())
        funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef))]
        module_level = _containers(tree.body)
        for func in funcs:
            for var in sorted(_filled(func) & set(module_level)):
                if var not in {a.arg for a in func.args.args}:
                    bad.append(f"{name}:{module_level[var]} module-level {var}, filled by "
                               f"{func.name}: use a cache.Store or functools.lru_cache")
            own = _containers(func.body)
            for inner in ast.walk(func):
                if inner is func or not isinstance(inner, (ast.FunctionDef, ast.Lambda)):
                    continue
                for var in sorted(_filled(inner) & set(own)):
                    bad.append(f"{name}:{own[var]} {func.name}'s {var}, filled by the nested "
                               f"{getattr(inner, 'name', 'lambda')}: a closure cache")
    return sorted(set(bad))


def test_the_course_keeps_no_cache_of_its_own():
    """One in-memory cache (cache.Store, bounded and locked) beside the disk cache: no module-level
    dict filled on the fly (unbounded, unlocked), no closure dict (which also kept a dashboard
    out of the disk cache)."""
    bad = course_caches()
    assert not bad, "\n".join(bad)


def test_the_cache_check_catches_a_module_dict_and_a_closure_dict(tmp_path):
    copy_package(tmp_path)
    assert course_caches(tmp_path) == []
    (tmp_path / "flosslab" / "course" / "lesson99_probe.py").write_text(
        "_SEEN: dict = {}\n"
        "def measure(key):\n"
        "    if key not in _SEEN:\n"
        "        _SEEN[key] = key * 2\n"
        "    return _SEEN[key]\n"
        "def dashboard():\n"
        "    measured = {}\n"
        "    def compute(x):\n"
        "        measured.setdefault(x, []).append(x)\n"
        "        return len(measured)\n"
        "    return compute\n")
    assert course_caches(tmp_path) == [
        "flosslab.course.lesson99_probe:1 module-level _SEEN, filled by measure: use a "
        "cache.Store or functools.lru_cache",
        "flosslab.course.lesson99_probe:7 dashboard's measured, filled by the nested compute: a "
        "closure cache"]


def test_the_architecture_page_names_every_module():
    """docs/architecture.md is the map a newcomer reads first: every module of the package is on
    it (a new module without a line there fails here)."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    missing = [str(p.relative_to(ROOT)) for p in sorted(PACKAGE.rglob("*.py"))
               if p.name != "__init__.py" and not re.search(rf"\b{re.escape(p.name)}\b", page)]
    assert not missing, f"docs/architecture.md does not name: {missing}"


# --- the tests themselves: in folders by layer, through public names only ----------------------------

TEST_LAYERS = ("core", "reference", "engine", "paper", "course", "cli")


def misplaced_tests(tests_root: Path) -> list:
    """Test files outside a layer's folder (the top keeps conftest.py and this file)."""
    return sorted(str(p.relative_to(tests_root)) for p in tests_root.rglob("test_*.py")
                  if p.parent == tests_root and p.name != "test_layout.py"
                  or p.parent != tests_root and p.relative_to(tests_root).parts[0]
                  not in TEST_LAYERS)


def private_names_in_test(path: Path) -> list:
    """``module._name`` attribute reads and ``from flosslab... import _name`` in a test file, where
    ``module`` is a name bound to a flosslab module or package (``import flosslab.x as m``,
    ``from flosslab import x``)."""
    tree = ast.parse(path.read_text())
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("flosslab"):
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flosslab"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "attr", "") == "import_module" and node.value.args \
                and isinstance(node.value.args[0], ast.Constant) \
                and str(node.value.args[0].value).startswith("flosslab"):
            modules.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__") and isinstance(node.value, ast.Name) \
                and node.value.id in modules:
            found.append(f"{path.name}:{node.lineno} reads {node.value.id}.{node.attr}")
    return sorted(found)


def test_tests_live_in_folders_by_layer():
    assert misplaced_tests(ROOT / "tests") == []


def test_the_folder_check_catches_a_flat_test(tmp_path):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "test_fine.py").write_text("")
    (tmp_path / "test_flat.py").write_text("")
    (tmp_path / "misc").mkdir()
    (tmp_path / "misc" / "test_nowhere.py").write_text("")
    assert misplaced_tests(tmp_path) == ["misc/test_nowhere.py", "test_flat.py"]


def test_no_test_touches_a_private_name_of_flosslab():
    found = [use for p in sorted((ROOT / "tests").rglob("*.py")) for use in private_names_in_test(p)]
    assert found == []


def test_the_private_name_check_catches_reads_and_imports(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("from flosslab.course import cache, training_runs as tr\n"
                     "from flosslab.cli import _strict\nimport flosslab.engine.model as M\n"
                     "import numpy as np\n\n"
                     "def test_x():\n    cache._state.clear(); tr._RUNS; M._helper(); np._x\n")
    assert sorted(private_names_in_test(probe)) == ["test_probe.py:2 imports _strict",
                                   "test_probe.py:7 reads M._helper",
                                   "test_probe.py:7 reads cache._state",
                                   "test_probe.py:7 reads tr._RUNS"]
