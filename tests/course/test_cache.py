"""The course's disk cache (joblib): a cached result equals a fresh computation, a second call reads
it instead of computing, keys separate modes, arguments, closures and code, and a cache that cannot
be used is a warning and a computation, never an error. The warm command fills it."""
import json
import subprocess
import sys
import textwrap
import threading
import warnings

import ipywidgets as W
import nbformat
import numpy as np
import pytest

from flosslab.cli import main
from flosslab.core import settings
from flosslab.core.errors import FlosslabError
from flosslab.core.style import new_figure
from flosslab.course import cache, training_runs
from flosslab.course.dashboard_machinery import Dashboard, collecting, warm_states

#: Calls of the computations below (module globals are not part of a key, so counting is safe).
CALLS = []


def slow_square(x):
    CALLS.append(x)
    return np.arange(4.0) * x ** 2


def mode_and_x(x):
    CALLS.append(x)
    return (settings.FAST, x)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    CALLS.clear()
    return tmp_path / "cache"


def test_a_cached_result_equals_a_fresh_one_and_is_read_not_recomputed(cache_dir):
    from flosslab.course.lesson01_gradients import gradient_norms_vs_gain
    func = gradient_norms_vs_gain.__wrapped__           # past the in-memory lru_cache
    args = dict(gains=(0.5, 2.0), n_units=8, seq_len=30)
    first, how1 = cache.call(func, args)
    again, how2 = cache.call(func, args)
    fresh = func(**args)
    assert (how1, how2) == ("miss", "hit")
    for a, b, c in zip(first, again, fresh):
        np.testing.assert_array_equal(np.asarray(a, dtype=object), np.asarray(c, dtype=object))
        np.testing.assert_array_equal(np.asarray(b, dtype=object), np.asarray(c, dtype=object))
    assert list(cache_dir.glob("flosslab-*/joblib")), "the results are on disk"


def test_a_second_call_does_not_compute(cache_dir):
    assert cache.call(slow_square, {"x": 3})[1] == "miss"
    value, how = cache.call(slow_square, {"x": 3})
    assert how == "hit" and CALLS == [3]
    np.testing.assert_array_equal(value, np.arange(4.0) * 9)


def test_the_cache_survives_the_process(cache_dir):
    """What a kernel computed is read by the next one (here: another Python process)."""
    code = textwrap.dedent("""
        import sys; sys.path.insert(0, %r)
        from flosslab.course import cache
        from flosslab.course.lesson01_gradients import gradient_norms_vs_gain
        print(cache.call(gradient_norms_vs_gain.__wrapped__, dict(gains=(1.0,), n_units=6,
                                                                  seq_len=20))[1])
    """ % str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    def run():
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout.split()
    assert run() == ["miss"]
    assert run() == ["hit"]


def test_modes_and_arguments_do_not_collide(cache_dir, monkeypatch):
    monkeypatch.setattr(settings, "FAST", True)
    assert cache.call(mode_and_x, {"x": 1}) == ((True, 1), "miss")
    monkeypatch.setattr(settings, "FAST", False)
    assert cache.call(mode_and_x, {"x": 1}) == ((False, 1), "miss")     # full mode: its own
    assert cache.call(mode_and_x, {"x": 2}) == ((False, 2), "miss")     # another argument
    monkeypatch.setattr(settings, "FAST", True)
    assert cache.call(mode_and_x, {"x": 1}) == ((True, 1), "hit")
    assert CALLS == [1, 1, 2]


def test_a_browser_float_finds_the_rounded_value(cache_dir):
    cache.call(slow_square, {"x": 0.3})
    assert cache.call(slow_square, {"x": 0.1 + 0.2})[1] == "hit"        # 0.30000000000000004


def test_closures_are_part_of_the_key(cache_dir):
    def builder(scale):
        def compute(x):
            CALLS.append(x)
            return x * scale
        return compute
    assert cache.call(builder(2), {"x": 5}) == (10, "miss")
    assert cache.call(builder(3), {"x": 5}) == (15, "miss")
    assert cache.call(builder(2), {"x": 5}) == (10, "hit")


def test_a_code_change_is_a_new_key(cache_dir):
    """A redefined function (a student's new answer) and a redefined helper it calls are new keys;
    flosslab's own code is covered by the cache folder's name, a hash of the package."""
    ns = {"__name__": "student_notebook"}
    exec("def helper(x):\n    return x + 1\ndef answer(x):\n    return helper(x) * 10", ns)
    assert cache.call(ns["answer"], {"x": 1}) == (20, "miss")
    assert cache.call(ns["answer"], {"x": 1}) == (20, "hit")
    exec("def helper(x):\n    return x + 2", ns)                 # only the helper changes
    assert cache.call(ns["answer"], {"x": 1}) == (30, "miss")
    exec("def answer(x):\n    return helper(x) * 100", ns)
    assert cache.call(ns["answer"], {"x": 1}) == (300, "miss")


def test_the_package_hash_follows_its_files(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(cache, "PACKAGE", tmp_path)
    cache.code_version.cache_clear()
    before = cache.code_version()
    (tmp_path / "a.py").write_text("x = 2\n")
    cache.code_version.cache_clear()
    after = cache.code_version()
    monkeypatch.undo()
    cache.code_version.cache_clear()
    assert before != after


def test_a_corrupt_file_is_a_warning_and_a_fresh_result(cache_dir):
    cache.call(slow_square, {"x": 4})
    outputs = list(cache_dir.rglob("output.pkl"))
    assert len(outputs) == 1
    outputs[0].write_bytes(b"not a pickle")
    cache.forget_warnings()
    with pytest.warns(cache.CacheWarning, match="could not be read"):
        value, how = cache.call(slow_square, {"x": 4})
    assert how == "miss" and CALLS == [4, 4]
    np.testing.assert_array_equal(value, np.arange(4.0) * 16)
    assert cache.call(slow_square, {"x": 4})[1] == "hit"              # rewritten


def test_an_unwritable_folder_is_a_warning_and_a_computation(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv(cache.ENV, str(tmp_path / "a_file" / "cache"))   # below a file
    cache.forget_warnings()
    CALLS.clear()
    with pytest.warns(cache.CacheWarning, match="cannot write"):
        value, how = cache.call(slow_square, {"x": 2})
    assert how == "off" and CALLS == [2]
    np.testing.assert_array_equal(value, np.arange(4.0) * 4)


def test_the_off_switch(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.location() is None and not cache.enabled()
    assert cache.call(slow_square, {"x": 1})[1] == "off"


def test_a_closure_that_cannot_be_hashed_is_computed_uncached(cache_dir):
    lock = threading.Lock()

    def compute(x):
        with lock:
            return x + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.call(compute, {"x": 1}) == (2, "off")


def make_dashboard(compute, **kw):
    def make(data, values):
        fig, (ax,) = new_figure(width=3, height=2)
        (line,) = ax.plot([0, 1], [data[0], data[0]])
        return fig, {"line": line}

    def draw(art, data, values):
        art["line"].set_ydata([data[0], data[0]])

    controls = {"x": W.IntSlider(value=1, min=0, max=4), "y": W.Dropdown(options=["a", "b"])}
    return Dashboard(controls, compute, make, draw, background=False, **kw)


def pair(x, y):
    CALLS.append((x, y))
    return (float(x), y)


def test_a_new_dashboard_reads_what_an_earlier_one_computed(cache_dir):
    first = make_dashboard(pair)
    first.set(x=3)
    second = make_dashboard(pair)                  # as in a new kernel: same function, new object
    second.set(x=3)
    assert first.cache_log == ["miss", "miss"] and second.cache_log == ["hit", "hit"]
    assert CALLS == [(1, "a"), (3, "a")] and second.data == first.data == (3.0, "a")
    off = make_dashboard(pair, cache=False)
    assert off.cache_log == ["off"] and CALLS[-1] == (1, "a")


def test_warm_states_all_combinations_or_one_control_at_a_time():
    dash = make_dashboard(lambda x, y: (x, y), cache=False)
    states = warm_states(dash, max_grid=64)
    assert len(states) == 10 and states[0] == {"x": 1, "y": "a"}      # 5 x 2, default first
    assert {(s["x"], s["y"]) for s in states} == {(x, y) for x in range(5) for y in "ab"}
    star = warm_states(dash, max_grid=4)
    assert star == [{"x": 1, "y": "a"}, {"x": 0, "y": "a"}, {"x": 2, "y": "a"},
                    {"x": 3, "y": "a"}, {"x": 4, "y": "a"}, {"x": 1, "y": "b"}]
    gains = W.FloatRangeSlider(value=(0.5, 1.0), min=0.0, max=1.5, step=0.5)
    ranged = Dashboard({"g": gains}, lambda g: (g[0],),
                       lambda d, v: (new_figure(width=2, height=2)[0], None), lambda *a: None,
                       background=False,
                       cache=False)
    assert [s["g"] for s in warm_states(ranged)] == [(0.5, 1.0), (0.0, 1.0), (1.0, 1.0),
                                                     (0.5, 0.5), (0.5, 1.5)]


def test_training_runs_are_kept_on_disk(cache_dir):
    run = {"accuracy": np.array([0.5, 0.75])}
    training_runs.keep_run(("test", 1), run)
    training_runs.RUNS.clear()                           # as in a new kernel
    back = training_runs.kept_run(("test", 1))
    np.testing.assert_array_equal(back["accuracy"], run["accuracy"])
    assert ("test", 1) in training_runs.RUNS              # read from disk, kept in memory again
    assert training_runs.kept_run(("test", 2)) is None
    training_runs.RUNS.clear()


# --- the in-memory store ---------------------------------------------------------------------------

def test_a_store_drops_its_oldest_entry_past_its_bound_and_counts():
    store = cache.Store("test", max_items=3)
    for i in range(5):
        assert store.put(i, i * i) == i * i
    assert store.keys() == [2, 3, 4] and len(store) == 3      # 0 and 1, the oldest, dropped
    store.put(3, "again")                                     # a kept key: updated, nothing dropped
    assert store.keys() == [2, 3, 4] and store.get(3) == "again"
    assert store.get(0) is None and store.get(0, "none") == "none" and store.get(4) == 16
    assert store.stats() == {"name": "test", "size": 3, "max_items": 3, "hits": 2, "misses": 2,
                             "evictions": 2}
    store.clear()
    assert len(store) == 0 and store.stats()["hits"] == store.stats()["evictions"] == 0


def test_a_store_refuses_a_bound_below_one():
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(FlosslabError, match="whole number >= 1"):
            cache.Store("bad", max_items=bad)


def test_a_store_shared_by_threads_loses_nothing():
    """8 threads put and get 2000 distinct keys each at once: every get counted, the bound kept
    exactly, and what is kept is the newest entries of each thread (no entry torn or lost)."""
    import threading
    store = cache.Store("threads", max_items=4000)
    n_threads, n_keys = 8, 2000
    start = threading.Barrier(n_threads)

    def work(t):
        start.wait()
        for i in range(n_keys):
            store.put((t, i), i)
            store.get((t, i))
            store.get(("absent", t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = store.stats()
    assert s["size"] == 4000 and s["evictions"] == n_threads * n_keys - 4000
    assert s["hits"] + s["misses"] == 2 * n_threads * n_keys and s["misses"] >= n_threads * n_keys
    assert s["hits"] >= n_threads * n_keys - s["evictions"]
    for (t, i), value in store.items():
        assert value == i
    per_thread = {}
    for t, i in store.keys():
        per_thread.setdefault(t, []).append(i)
    for kept in per_thread.values():          # a thread's entries go oldest first: its newest stay
        assert kept == sorted(kept) and kept[-1] == n_keys - 1


def test_the_disk_counts_are_counted_under_the_lock(cache_dir):
    """Dashboards compute on worker threads: 8 threads calling through the disk cache at once lose
    no count."""
    import threading
    before = cache.counts()
    f = lambda x: x + 1                                          # noqa: E731
    threads = [threading.Thread(target=lambda: [cache.call(f, {"x": i % 3}) for i in range(30)])
               for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    after = cache.counts()
    assert sum(after.values()) - sum(before.values()) == 8 * 30


TINY = """\
import numpy as np
import ipywidgets as W
from flosslab.core.style import new_figure
from flosslab.course.dashboard_machinery import Dashboard

def compute(x, y):
    return np.full(3, x * (2 if y else 1))

def make(data, values):
    fig, (ax,) = new_figure(width=3, height=2)
    return fig, ax.plot(data)

dash = Dashboard({"x": W.IntSlider(value=2, min=0, max=5), "y": W.Checkbox(value=False)},
                 compute, make, lambda art, d, v: art[0].set_ydata(d))
dash
"""


def tiny_course(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny lesson"), nbformat.v4.new_code_cell(TINY)]
    nbformat.write(nb, str(folder / "00_tiny.ipynb"))
    return folder


def test_warm_computes_every_state_once_and_a_notebook_then_reads_them(cache_dir, tmp_path,
                                                                       capsys):
    folder = tiny_course(tmp_path)
    assert main(["course", "warm", "--notebooks", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (nb,) = report["notebooks"]
    assert nb["dashboards"] == 1 and nb["states"] == 12                 # 6 x values of x, 2 of y
    assert nb["miss"] == 11 and nb["hit"] == 1                         # the default: by the cell
    assert nb["cell_errors"] == nb["errors"] == [] and report["mode"] == cache.mode()
    assert main(["course", "warm", "00", "--notebooks", str(folder), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["notebooks"][0]
    assert again["hit"] == 12 and again["miss"] == 0
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()           # what a kernel runs the cell in
    shell.reset(new_session=False)
    with collecting() as made:
        assert shell.run_cell(TINY.replace("dash\n", ""), store_history=False).success
    dash = made[0]
    dash.set(x=5)
    dash.set(y=True)
    assert dash.cache_log == ["hit", "hit", "hit"]
    np.testing.assert_array_equal(dash.data, np.full(3, 10))


def test_warm_and_clear_say_what_is_wrong_in_one_line(cache_dir, tmp_path, capsys, monkeypatch):
    folder = tiny_course(tmp_path)
    assert main(["course", "warm", "07", "--notebooks", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("flosslab course: error: no course notebook '07'; choose from 00 (or a full "
                   "name such as 00_tiny)")
    assert main(["course", "warm", "--notebooks", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "00_tiny.ipynb" in out and "12 states: 11 computed, 1 already cached" in out
    assert main(["course", "cache-clear"]) == 0
    assert "removed 1 cache folder(s)" in capsys.readouterr().out
    assert not list(cache_dir.glob("flosslab-*"))
    monkeypatch.setenv(cache.ENV, "off")
    assert main(["course", "warm", "--notebooks", str(folder)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_warming_a_notebook_in_this_process_leaves_multiprocessing_working(tmp_path):
    """The notebook runs in IPython's shell, which replaces sys.modules["__main__"]; afterwards
    the real one is back, so a spawned process (multiprocessing, Dask's nanny) still starts."""
    import multiprocessing
    import sys

    from flosslab.course.warm import run_notebook
    main_before = sys.modules["__main__"]
    nb = tmp_path / "tiny.ipynb"
    nb.write_text('{"cells": [{"cell_type": "code", "execution_count": null, "metadata": {}, '
                  '"outputs": [], "source": "x = 1 + 1"}], "metadata": {}, "nbformat": 4, '
                  '"nbformat_minor": 5}')
    assert run_notebook(nb) == []
    assert sys.modules["__main__"] is main_before
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(abs, (-3,)) == 3
