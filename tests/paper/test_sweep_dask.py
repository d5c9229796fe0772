"""Sweeps on a Dask distributed cluster (``run_sweep(..., scheduler=...)``, ``reproduce
--scheduler``), tested on a LocalCluster of worker processes on loopback.

The driver alone writes ``runs.jsonl``; a worker killed while it trains a chunk loses only that
chunk, which the scheduler runs again elsewhere. The records must equal those of an uninterrupted
local run exactly (timing fields aside), with no run lost or written twice. The workers train with
one torch thread, so the local reference runs on one thread too (same products, same round-off).
"""
import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import pytest

distributed = pytest.importorskip("distributed")

from flosslab.core.errors import FlosslabError  # noqa: E402
from flosslab.core.settings import threads  # noqa: E402
from flosslab.paper.budgets import DEFAULT  # noqa: E402
from flosslab.paper.sweep import RunSpec, RunStore, run_sweep  # noqa: E402

# long enough (about a second a chunk) that a worker can be killed while it trains one
TOY = replace(DEFAULT, name="toy", n_units=5, n_exponents=3, n_epochs=40, floss_steps=2,
              inter_epochs=(2, 4), eval_every=20, eval_batch=16)
SPECS = [RunSpec(task, d, s, seed) for task, d in (("copy", 2), ("xor", 4))
         for s in ("none", "pre", "inter") for seed in (0, 1)]
TIMING = {"seconds_per_run", "commit", "threads"}


def strip_timing(records):
    return {k: {f: v for f, v in r.items() if f not in TIMING} for k, r in records.items()}


def stored_lines(folder):
    return [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with threads(1):
        return run_sweep(SPECS, TOY, tmp_path_factory.mktemp("local"), chunk=3,
                         log=lambda line: None)


def test_a_dask_sweep_gives_the_records_of_a_local_one(tmp_path, client, local):
    lines = []
    got = run_sweep(SPECS, TOY, tmp_path, chunk=3, scheduler=client, log=lines.append)
    assert strip_timing(got) == strip_timing(local)
    assert "Dask cluster at tcp://127.0.0.1:" in lines[0]
    assert sum("runs done" in line for line in lines) == 4 and "12/12 runs done" in lines[-1]
    assert sorted(r["key"] for r in stored_lines(tmp_path)) == sorted(local)


def test_a_worker_killed_midway_loses_nothing_and_duplicates_nothing(tmp_path, client, local):
    pids = client.run(os.getpid)                       # worker address -> process id
    killed = []

    def kill_busy_workers(line):
        if "runs done" in line and not killed:
            busy = [w for w, tasks in client.processing().items() if tasks]
            for worker in busy:
                os.kill(pids[worker], signal.SIGKILL)
            killed.extend(busy)
    got = run_sweep(SPECS, TOY, tmp_path, chunk=3, scheduler=client, log=kill_busy_workers)
    assert killed, "no worker was busy after the first chunk"
    assert strip_timing(got) == strip_timing(local)
    keys = [r["key"] for r in stored_lines(tmp_path)]
    assert len(keys) == len(set(keys)) == len(SPECS)
    client.wait_for_workers(2, timeout=120)            # the nanny restarts the killed worker(s)
    assert set(client.run(os.getpid).values()).isdisjoint(pids[w] for w in killed)


def test_an_interrupted_dask_sweep_resumes_to_the_same_records(tmp_path, client, local):
    def stop_after_first_chunk(line):
        if "runs done" in line:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_sweep(SPECS, TOY, tmp_path, chunk=3, scheduler=client, log=stop_after_first_chunk)
    partial = RunStore(tmp_path).load()
    assert 0 < len(partial) < len(SPECS)
    lines = []
    resumed = run_sweep(SPECS, TOY, tmp_path, chunk=3, scheduler=client.scheduler.address,
                        log=lines.append)
    assert f"{len(partial)} already done" in lines[0]
    assert strip_timing(resumed) == strip_timing(local)
    keys = [r["key"] for r in stored_lines(tmp_path)]
    assert len(keys) == len(set(keys)) == len(SPECS)


def test_jobs_and_a_scheduler_together_are_refused(tmp_path):
    with pytest.raises(FlosslabError, match="not both"):
        run_sweep(SPECS, TOY, tmp_path, jobs=2, scheduler="tcp://127.0.0.1:1")


def test_reproduce_help_documents_the_scheduler():
    out = subprocess.run([sys.executable, "-m", "flosslab", "reproduce", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--scheduler" in out and "Dask" in out and "docs/cluster.md" in out
