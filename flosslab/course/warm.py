"""``python -m flosslab course warm``: fill the disk cache before class, so that every dashboard
answers from disk in the lecture.

For each notebook: run its code cells top to bottom in this process (an IPython shell, outputs
discarded; this makes the dashboards exactly as the notebook makes them, with its arguments, and
caches the training runs its cells start), then compute, through the disk cache
(:mod:`flosslab.course.cache`), every state of every dashboard it made
(:func:`~flosslab.course.dashboard_machinery.warm_states`: all combinations of the controls'
values when there are at most ``max_grid``, else the defaults and each control over its whole range
with the others at their defaults), and the default click of every Train button. Results are for the
current mode: run it with the ``FLOSSLAB_FAST`` setting the lecture will use.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from ..core.errors import FlosslabError
from . import cache as disk_cache
from .editions import course_notebooks, select_notebooks


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    return shell


@contextlib.contextmanager
def _in_folder(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_notebook(path: Path, bar=None) -> list:
    """Run the code cells of ``path`` in this process (outputs discarded); returns the errors as
    "cell N: Type: message" lines."""
    import nbformat
    from IPython.utils.capture import capture_output
    nb = nbformat.read(str(path), as_version=4)
    # IPython's shell installs its namespace as sys.modules["__main__"] (a module without
    # __spec__); put the real one back afterwards, or a process started later by
    # multiprocessing or Dask from this process fails to start
    main_module = sys.modules.get("__main__")
    errors = []
    try:
        shell = _shell()
        with _in_folder(path.parent), capture_output(display=True):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                result = shell.run_cell(cell.source, store_history=False, silent=False)
                err = result.error_before_exec or result.error_in_exec
                if err is not None:
                    errors.append(f"cell {index}: {type(err).__name__}: {err}")
                if bar is not None:
                    bar.update(1)
    finally:
        if main_module is not None:
            sys.modules["__main__"] = main_module
    return errors


def _set_controls(dashboard, values: dict) -> None:
    for name, value in values.items():
        if dashboard.controls[name].value != value:
            dashboard.controls[name].value = value


def warm_dashboard(dashboard, max_grid: int = 64, train: bool = True, bar=None) -> dict:
    """Compute every warm state of one dashboard through the cache; counts by outcome."""
    from .dashboard_machinery import USER_ERRORS, warm_states
    counts = {"states": 0, "hit": 0, "miss": 0, "off": 0, "invalid": 0, "errors": []}
    if dashboard.button is None:
        if not dashboard.cache:
            return counts
        seen = []
        with dashboard.paused():
            defaults = dashboard.values()
            for wanted in warm_states(dashboard, max_grid):
                counts["states"] += 1
                if bar is not None:
                    bar.update(1)
                try:                  # through the controls, so that their observers run
                    _set_controls(dashboard, defaults)
                    _set_controls(dashboard, wanted)
                except Exception:     # a value the controls do not offer (anymore)
                    counts["invalid"] += 1
                    continue
                values = dashboard.values()
                if values in seen:    # the observers made it a state already computed
                    counts["hit"] += 1
                    continue
                seen.append(values)
                try:
                    dashboard.computed(values)
                    counts[dashboard.cache_log[-1]] += 1
                except USER_ERRORS:
                    counts["invalid"] += 1        # a combination the dashboard refuses
                except Exception as err:          # a bug: reported, the rest still warmed
                    counts["errors"].append(f"{type(dashboard).__name__} {values}: "
                                            f"{type(err).__name__}: {err}")
            _set_controls(dashboard, defaults)
    elif train and dashboard.validate():          # a Train button at its default settings
        counts["states"] += 1
        misses = disk_cache.counts()["miss"]
        from IPython.utils.capture import capture_output
        try:
            with capture_output(display=True):
                dashboard.computed(dashboard.values())
            counts["miss" if disk_cache.counts()["miss"] > misses else "hit"] += 1
        except USER_ERRORS:
            counts["invalid"] += 1
        except Exception as err:
            counts["errors"].append(f"{type(dashboard).__name__}: {type(err).__name__}: {err}")
        if bar is not None:
            bar.update(1)
    return counts


def warm(names=None, folder=None, max_grid: int = 64, train: bool = True,
         progress: bool = True) -> list:
    """Warm the cache for the notebooks ``names`` (all when empty; "01", "01_exploding..." or the
    file name); one dict per notebook: its states, how many were computed or already cached,
    the dashboards, errors and seconds."""
    import nbformat
    from tqdm.auto import tqdm

    from .dashboard_machinery import collecting, warm_states
    if disk_cache.location() is None:
        raise FlosslabError(f"the cache is off ({disk_cache.ENV}="
                            f"{os.environ.get(disk_cache.ENV)}): nothing to warm; unset "
                            f"{disk_cache.ENV} or set it to a folder")
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", disk_cache.CacheWarning)
        usable = disk_cache.enabled()
    if not usable:
        why = str(caught[0].message) if caught else f"cannot write to {disk_cache.location()}"
        raise FlosslabError(why.removeprefix("flosslab cache: ").split("; computing")[0]
                            + f": set {disk_cache.ENV} to a writable folder")
    paths = select_notebooks(names, course_notebooks(folder))
    reports = []
    for path in paths:
        start = time.perf_counter()
        n_cells = sum(1 for c in nbformat.read(str(path), 4).cells if c.cell_type == "code")
        with tqdm(total=n_cells, desc=f"{path.name[:2]} run cells", unit="cell",
                  disable=not progress, leave=False) as bar, collecting() as dashboards:
            errors = run_notebook(path, bar)
        total = sum(len(warm_states(d, max_grid)) if d.button is None else int(train)
                    for d in dashboards)
        counts = {"states": 0, "hit": 0, "miss": 0, "off": 0, "invalid": 0, "errors": []}
        with tqdm(total=total, desc=f"{path.name[:2]} dashboard states", unit="state",
                  disable=not progress) as bar:
            for dashboard in dashboards:
                one = warm_dashboard(dashboard, max_grid, train, bar)
                for key in counts:
                    counts[key] += one[key]
        reports.append({"notebook": path.name, "dashboards": len(dashboards), **counts,
                        "cell_errors": errors,
                        "seconds": round(time.perf_counter() - start, 1)})
    return reports
