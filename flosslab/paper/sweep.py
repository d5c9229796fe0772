"""Training sweeps that survive interruption: many runs, trained in chunks, each finished chunk saved.

A sweep is a list of :class:`RunSpec` (task, delay, schedule, seed, budget variant) under one
:class:`~flosslab.paper.budgets.Budget`. The runs are split into *chunks* of at most ``chunk``
members, trained together as a torch ensemble (:func:`flosslab.engine.training.train_members`;
every member equals its lone run), so that memory and per-network speed stay steady however large
the sweep. Each finished chunk is appended to ``runs.jsonl`` in the output folder, one JSON line per
run; a rerun reads that file and trains only the chunks still missing. The chunk plan depends only
on the list of runs, so an interrupted sweep, resumed, gives exactly the numbers of an uninterrupted
one; where a chunk was only partly stored (a process killed while writing its lines), its missing
members train in a smaller ensemble and agree with the uninterrupted run to round-off. Several
chunks can train at once in separate processes (``jobs``), each on its share of the
CPU's threads, or on the workers of a Dask distributed cluster (``scheduler``: its address, or a
``distributed.Client``; dask-jobqueue and dask-kubernetes start such clusters on SLURM, PBS or
Kubernetes, see ``docs/cluster.md``). Either way only this process, the driver, appends to
``runs.jsonl``; a chunk whose worker is lost is run again on another worker by Dask's scheduler.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as onp

from ..core import __version__
from ..core.errors import FlosslabError
from ..core.validate import check_int
from .budgets import Budget


@dataclass(frozen=True)
class RunSpec:
    """One training run of a sweep."""
    task: str
    delay: int
    schedule: str
    seed: int
    variant: str = ""
    order: int | None = None
    n_exponents: int | None = None

    def key(self, budget: Budget) -> str:
        """A name unique within the budget's store: ``xor_d48_inter_k75_s3[_variant]``."""
        k = budget.n_exponents if self.n_exponents is None else self.n_exponents
        task = self.task + (str(self.order) if self.order else "")
        tail = f"_{self.variant}" if self.variant else ""
        return f"{task}_d{self.delay}_{self.schedule}_k{k}_s{self.seed}{tail}"

    def config(self, budget: Budget):
        return budget.with_variant(self.variant).config(self.task, self.delay, self.schedule,
                                                        self.seed, self.order, self.n_exponents)


class RunStore:
    """``runs.jsonl``: one finished run per line, appended chunk by chunk (a torn last line, from a
    process killed while writing, is ignored and its chunk is trained again)."""

    def __init__(self, folder):
        self.path = Path(folder) / "runs.jsonl"

    def load(self) -> dict:
        records = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                records[record["key"]] = record
        return records

    def append(self, records) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            for record in records:
                f.write(json.dumps(record, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


def plan_chunks(specs, budget: Budget, chunk: int) -> list:
    """Split the runs into chunks of at most ``chunk`` that can train together (same sequence
    length, so no padding is wasted), in the order given. Depends only on ``specs``."""
    chunk = check_int("the chunk size", chunk, minimum=1)
    groups = {}
    for spec in specs:
        groups.setdefault(spec.config(budget).seq_len, []).append(spec)
    chunks = []
    for members in groups.values():
        n = math.ceil(len(members) / chunk)
        size = math.ceil(len(members) / n)          # equal sizes rather than a small remainder
        chunks += [members[i:i + size] for i in range(0, len(members), size)]
    return chunks


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _record(spec: RunSpec, budget: Budget, config, history, seconds, members, device, threads):
    spectra = onp.asarray(history.spectra)
    losses = onp.asarray(history.loss)
    per = max(1, len(losses) // 30)                   # ~30 points of the loss curve
    return {"key": spec.key(budget), "budget": budget.name, **asdict(spec),
            "n_exponents": config.n_exponents, "seq_len": config.seq_len,
            "final_accuracy": history.final_accuracy, "eval_epochs": history.eval_epochs,
            "accuracy": history.accuracy, "grad_rank": history.grad_rank,
            "step_rank": history.step_rank,
            "lambda_1": spectra[:, 0].tolist(), "lambda_k": spectra[:, -1].tolist(),
            "mean_abs_lambda": onp.mean(onp.abs(spectra), axis=1).tolist(),
            "loss_epochs": list(range(per, len(losses) + 1, per)),
            "loss": [float(onp.mean(losses[i - per:i])) for i in range(per, len(losses) + 1, per)],
            "floss_epochs": history.floss_epochs,
            "floss_loss_first_last": [[float(f[0]), float(f[-1])] for f in history.floss_losses],
            "seconds_per_run": seconds / members, "chunk_members": members, "device": device,
            "dtype": budget.dtype, "threads": threads, "flosslab": __version__,
            "commit": _git_commit()}


def train_chunk(specs, budget: Budget, device: str = "cpu", progress: bool = False) -> list:
    """Train one chunk together; return one record per run."""
    import torch

    from ..engine.device import resolve_device
    from ..engine.training import train_members
    configs = [spec.config(budget) for spec in specs]
    device = resolve_device(device)        # "auto" is resolved where the chunk trains
    start = time.perf_counter()
    _, histories = train_members(configs, progress=progress, device=device, dtype=budget.dtype)
    seconds = time.perf_counter() - start
    threads = torch.get_num_threads()
    return [_record(s, budget, c, h, seconds, len(specs), str(device), threads)
            for s, c, h in zip(specs, configs, histories)]


def _address(scheduler) -> str:
    return scheduler if isinstance(scheduler, str) else \
        getattr(getattr(scheduler, "scheduler", None), "address", None) or repr(scheduler)


def _worker_init(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)


def train_chunk_on_worker(specs, budget: Budget, device: str = "cpu", threads: int = 1) -> list:
    """:func:`train_chunk` as a Dask task: torch runs on ``threads`` threads (default 1, as Dask's
    nanny sets OMP_NUM_THREADS=1 for its workers: one chunk per worker thread, one core each)."""
    import torch
    torch.set_num_threads(threads)
    return train_chunk(specs, budget, device)


def _dask_client(scheduler):
    """A ``distributed.Client`` for ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``, or a
    client already made); returns (client, whether we made it and must close it)."""
    try:
        from distributed import Client
    except ImportError as exc:               # pragma: no cover - dask is in requirements.txt
        raise FlosslabError("a sweep on a Dask cluster needs dask.distributed: "
                            "pip install 'dask[distributed]'") from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler:
        raise FlosslabError(f"scheduler must be a Dask scheduler address like "
                            f"tcp://HOST:8786 or a distributed.Client, got {scheduler!r}")
    try:
        return Client(scheduler, timeout="30s"), True
    except (OSError, TimeoutError) as exc:
        raise FlosslabError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc


def _run_on_dask(todo, budget, device, scheduler, worker_threads, finished):
    """Submit every chunk of ``todo`` to the cluster; hand each finished chunk's records to
    ``finished`` here, in the driver, as they arrive. A worker that dies (killed, out of memory,
    its SLURM job ended) takes its chunk with it: the scheduler gives that chunk to another worker
    (up to ``distributed.scheduler.allowed-failures`` times, default 3). An exception raised by the
    training itself is not retried (it would recur): it is raised here, after the chunks already
    finished were saved."""
    from distributed import as_completed as dask_completed
    client, own = _dask_client(scheduler)
    futures = []
    try:
        for i, members in enumerate(todo):
            futures.append(client.submit(train_chunk_on_worker, members, budget, device,
                                         worker_threads, pure=False,
                                         key=f"flosslab-chunk-{i}-{os.getpid()}-{time.time_ns()}"))
        for future in dask_completed(futures):
            finished(future.result())
            future.release()
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if own:
            client.close()


def run_sweep(specs, budget: Budget, out_dir, device: str = "cpu", chunk: int = 16, jobs: int = 1,
              progress: bool = False, log=print, scheduler=None, worker_threads: int = 1) -> dict:
    """Train every run of ``specs`` not yet in ``out_dir/runs.jsonl``; return all their records.

    ``jobs`` > 1 trains that many chunks at once in separate processes, each with
    ``cores // jobs`` torch threads (CPU only). ``scheduler`` (a Dask scheduler address, or a
    ``distributed.Client``) sends the chunks to a Dask cluster instead, each trained on a worker
    with ``worker_threads`` torch threads; ``device`` is then resolved on the worker ("auto": its
    GPU if it has one). Only this process writes ``runs.jsonl``, so an interrupted sweep resumes
    the same way whatever ran its chunks. ``log`` receives one line per finished chunk, with the
    runs done and an estimate of the time left.
    """
    specs = list(dict.fromkeys(specs))                      # drop repeats, keep the order
    keys = [s.key(budget) for s in specs]
    jobs = check_int("jobs", jobs, minimum=1)
    worker_threads = check_int("worker_threads", worker_threads, minimum=1)
    if scheduler is not None and jobs > 1:
        raise FlosslabError("give either jobs (processes on this machine) or scheduler (a Dask "
                            "cluster), not both")
    if jobs > 1 and str(device) != "cpu":
        raise FlosslabError("jobs > 1 runs chunks in parallel CPU processes; on a GPU use jobs=1 "
                            "and a larger chunk")
    store = RunStore(out_dir)
    done = store.load()
    todo = []
    for members in plan_chunks(specs, budget, chunk):
        missing = [s for s in members if s.key(budget) not in done]
        if missing:
            todo.append(missing)
    total, remaining = len(specs), sum(len(c) for c in todo)
    log(f"[sweep {budget.name}] {total} runs, {total - remaining} already done, {remaining} to train "
        f"in {len(todo)} chunks on {device}" + (f" with {jobs} processes" if jobs > 1 else "")
        + (f" on the Dask cluster at {_address(scheduler)}" if scheduler is not None else ""))
    start, trained = time.perf_counter(), 0

    def finished(records):
        nonlocal trained
        store.append(records)
        done.update({r["key"]: r for r in records})
        trained += len(records)
        elapsed = time.perf_counter() - start
        eta = elapsed / trained * (remaining - trained)
        log(f"[sweep {budget.name}] {total - remaining + trained}/{total} runs done, "
            f"{elapsed / 60:.1f} min so far, about {eta / 60:.1f} min left")

    if scheduler is not None:
        if todo:
            _run_on_dask(todo, budget, device, scheduler, worker_threads, finished)
    elif jobs == 1:
        for members in todo:
            finished(train_chunk(members, budget, device, progress))
    else:
        threads = max(1, (os.cpu_count() or jobs) // jobs)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                 initializer=_worker_init, initargs=(threads,)) as pool:
            futures = [pool.submit(train_chunk, members, budget, device) for members in todo]
            try:
                for future in as_completed(futures):
                    finished(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    return {key: done[key] for key in keys}
