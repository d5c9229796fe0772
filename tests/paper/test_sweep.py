"""Resumable training sweeps and the statistics over seeds.

An interrupted sweep, resumed, must give exactly the records of an uninterrupted one (the chunk
plan depends only on the list of runs, so every chunk trains the same members with the same draws);
timing fields aside, the comparison is exact equality. The bootstrap interval of the horizon is
checked against the exact bootstrap distribution, enumerated over every resample of a tiny sweep.
"""
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest

from flosslab.paper.budgets import DEFAULT, PAPER, VARIANTS
from flosslab.paper.stats import bootstrap_horizon, horizon
from flosslab.paper.sweep import RunSpec, RunStore, plan_chunks, run_sweep

TOY = replace(DEFAULT, name="toy", n_units=5, n_exponents=3, n_epochs=6, floss_steps=2,
              inter_epochs=(2, 4), eval_every=3, eval_batch=16)
SPECS = [RunSpec(task, d, s, seed) for task, d in (("copy", 2), ("xor", 4))
         for s in ("none", "pre", "inter") for seed in (0, 1)]
TIMING = {"seconds_per_run", "commit", "threads"}


def strip_timing(records):
    return {k: {f: v for f, v in r.items() if f not in TIMING} for k, r in records.items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    return run_sweep(SPECS, TOY, out, chunk=3, log=lambda line: None)


def test_chunks_cover_every_run_once_and_group_equal_lengths():
    chunks = plan_chunks(SPECS, TOY, 3)
    flat = [s for c in chunks for s in c]
    assert sorted(flat, key=str) == sorted(SPECS, key=str)
    for c in chunks:
        assert len({s.config(TOY).seq_len for s in c}) == 1 and len(c) <= 3


def test_an_interrupted_sweep_resumes_to_the_same_numbers(tmp_path, uninterrupted):
    seen = []

    def stop_after_first_chunk(line):
        seen.append(line)
        if "runs done" in line:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_sweep(SPECS, TOY, tmp_path, chunk=3, log=stop_after_first_chunk)
    partial = RunStore(tmp_path).load()
    assert 0 < len(partial) < len(SPECS)
    # a process killed while writing leaves a torn line: it is ignored, that run trains again
    with open(tmp_path / "runs.jsonl", "a") as f:
        f.write('{"key": "torn')
    lines = []
    resumed = run_sweep(SPECS, TOY, tmp_path, chunk=3, log=lines.append)
    assert f"{len(partial)} already done" in lines[0]
    assert strip_timing(resumed) == strip_timing(uninterrupted)


def test_a_killed_process_resumes_to_the_same_numbers(tmp_path, uninterrupted):
    """A real SIGKILL between chunks, then the same call again."""
    script = textwrap.dedent("""
        import sys
        from dataclasses import replace
        from flosslab.paper.budgets import DEFAULT
        from flosslab.paper.sweep import RunSpec, run_sweep
        TOY = replace(DEFAULT, name="toy", n_units=5, n_exponents=3, n_epochs=6, floss_steps=2,
                      inter_epochs=(2, 4), eval_every=3, eval_batch=16)
        SPECS = [RunSpec(t, d, s, seed) for t, d in (("copy", 2), ("xor", 4))
                 for s in ("none", "pre", "inter") for seed in (0, 1)]
        import time
        def slow_log(line):
            print(line, flush=True)
            time.sleep(2.0)          # room for the test to kill between chunks
        run_sweep(SPECS, TOY, sys.argv[1], chunk=3, log=slow_log)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        for line in proc.stdout:
            if "runs done" in line:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    partial = RunStore(tmp_path).load()
    assert 0 < len(partial) < len(SPECS)
    resumed = run_sweep(SPECS, TOY, tmp_path, chunk=3, log=lambda line: None)
    assert strip_timing(resumed) == strip_timing(uninterrupted)


def test_records_are_strict_json_and_hold_the_run(uninterrupted):
    for key, record in uninterrupted.items():
        json.loads(json.dumps(record), parse_constant=lambda c: pytest.fail(f"{c} in {key}"))
        assert record["budget"] == "toy" and 0.0 <= record["final_accuracy"] <= 1.0
        assert record["eval_epochs"][-1] == TOY.n_epochs
        assert len(record["floss_epochs"]) == {"none": 0, "pre": 1, "inter": 3}[record["schedule"]]


def test_parallel_jobs_give_the_same_numbers(tmp_path, uninterrupted):
    got = run_sweep(SPECS, TOY, tmp_path, chunk=3, jobs=2, log=lambda line: None)
    for key, record in strip_timing(got).items():
        want = strip_timing(uninterrupted)[key]
        assert record.keys() == want.keys()
        assert record["final_accuracy"] == want["final_accuracy"]
        np.testing.assert_allclose(record["loss"], want["loss"], rtol=1e-10)


def test_variants_change_one_setting_each():
    """Every variant but ``author`` changes one setting; ``author`` makes its four single changes
    together and moves the episodes one update earlier (99 and 199)."""
    base = PAPER.config("xor", 48, "inter", 0)
    changes = {}
    for name in VARIANTS:
        got = RunSpec("xor", 48, "inter", 0, name).config(PAPER)
        changes[name] = {f: getattr(got, f) for f in vars(base) if getattr(base, f) != getattr(got, f)}
        if name != "author":
            assert len(changes[name]) == (0 if name == "" else 1), (name, changes[name])
    assert RunSpec("xor", 48, "inter", 0, "seq_d50").config(PAPER).seq_len == 98
    singles = {}
    for name in ("author_readout", "author_adam", "author_init_state", "author_frame"):
        singles.update(changes[name])
    assert changes["author"] == {**singles, "inter_epochs": (99, 199)}
    assert RunSpec("xor", 70, "inter", 3, "author").key(PAPER) == "xor_d70_inter_k75_s3_author"


def exact_bootstrap_quantiles(acc_by_delay, level, tail):
    """Enumerate every resample (with replacement) of every delay's seeds: the exact bootstrap
    distribution of the horizon, then its tail quantiles (inverted CDF, -1 = below range)."""
    delays = sorted(acc_by_delay)
    per_delay = [list(itertools.product(acc_by_delay[d], repeat=len(acc_by_delay[d])))
                 for d in delays]
    outcomes = []
    for combo in itertools.product(*per_delay):
        reached = [d for d, sample in zip(delays, combo) if np.median(sample) >= level]
        outcomes.append(max(reached) if reached else -1)
    outcomes = np.sort(outcomes)
    cdf = np.arange(1, len(outcomes) + 1) / len(outcomes)
    def pick(p):
        return outcomes[np.searchsorted(cdf, p - 1e-12)]
    return pick(tail), pick(1 - tail)


def test_bootstrap_interval_matches_the_exact_bootstrap_distribution():
    acc = {10: [1.0, 0.98, 0.95], 20: [0.97, 0.5, 0.93], 30: [0.5, 0.91, 0.51]}
    got = bootstrap_horizon(acc, 0.9, n_boot=40000, coverage=0.8, seed=1)
    lo, hi = exact_bootstrap_quantiles(acc, 0.9, 0.1)
    assert got["horizon"] == horizon({d: {"median": np.median(v)} for d, v in acc.items()}) == 20
    assert (got["low"], got["high"]) == (None if lo < 0 else lo, hi)


def test_bootstrap_interval_of_unanimous_seeds_is_the_point():
    acc = {8: [1.0] * 5, 16: [0.99] * 5, 24: [0.5] * 5}
    got = bootstrap_horizon(acc, 0.9)
    assert got["horizon"] == got["low"] == got["high"] == 16 and got["below_range"] == 0.0
    none = bootstrap_horizon({8: [0.5] * 4}, 0.9)
    assert none["horizon"] is None and none["low"] is None and none["below_range"] == 1.0


def same_up_to_round_off(got, want, where=""):
    """Equal structure, keys, strings and integers; floats within 1e-12 (absolute and relative)."""
    if isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for key in want:
            same_up_to_round_off(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            same_up_to_round_off(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), where
    else:
        assert got == want and type(got) is type(want), where


def test_a_partly_finished_chunk_trains_only_its_missing_members(tmp_path, uninterrupted):
    """runs.jsonl holding every run but two members of one chunk (the third member of that chunk
    stored, as a process killed while appending a chunk's lines leaves it): the resumed sweep trains
    exactly those two, together, leaves the stored lines as they were, and ends with the
    uninterrupted sweep's records. The two train in an ensemble of 2 instead of 3, whose batched
    flossing episodes sum in another order: their numbers agree to round-off (measured 4e-16;
    1e-12 allowed), every other field exactly (chunk size and timing aside)."""
    import flosslab.paper.sweep as sweep
    chunks = plan_chunks(SPECS, TOY, 3)
    partial = chunks[1]
    assert len(partial) == 3
    missing = [s.key(TOY) for s in partial[1:]]
    kept = [key for key in (s.key(TOY) for s in SPECS) if key not in missing]
    stored = "".join(json.dumps(uninterrupted[key], allow_nan=False) + "\n" for key in kept)
    (tmp_path / "runs.jsonl").write_text(stored)
    trained, real = [], sweep.train_chunk

    def watched(specs, *args, **kwargs):
        trained.append([s.key(TOY) for s in specs])
        return real(specs, *args, **kwargs)
    lines = []
    try:
        sweep.train_chunk = watched
        resumed = run_sweep(SPECS, TOY, tmp_path, chunk=3, log=lines.append)
    finally:
        sweep.train_chunk = real
    assert trained == [missing]                          # only the missing members, together
    assert f"{len(kept)} already done, 2 to train in 1 chunks" in lines[0]
    text = (tmp_path / "runs.jsonl").read_text()
    assert text.startswith(stored) and len(text.splitlines()) == len(SPECS)
    assert list(resumed) == [s.key(TOY) for s in SPECS]
    assert all(resumed[key]["chunk_members"] == 2 for key in missing)
    def drop(records):
        return {k: {f: v for f, v in r.items() if f != "chunk_members"}
                                for k, r in strip_timing(records).items()}
    for key in kept:                                     # read back as stored
        assert drop(resumed)[key] == drop(uninterrupted)[key]
    same_up_to_round_off(drop(resumed), drop(uninterrupted))
    same_up_to_round_off(drop(RunStore(tmp_path).load()), drop(uninterrupted))
