"""Benchmark: time per flossing step (forward + backward + Adam step) of a naive torch loop against
flosslab's engine, and ensemble throughput.

* baseline (written here, as a newcomer would): one network, float32, the one-step Jacobian formed
  as a dense matrix ``diag(1 - h_t^2) @ W``, a Householder QR after every step, plain autograd.
* engine: :func:`flosslab.engine.flossing.flossing_loss` with the fused recursion and hand-written
  backward, float64, QR interval ``"auto"`` (from the frame's spread), Householder QR on the CPU and
  checked Cholesky-QR2 on a GPU (``method="auto"``).
* ``max_abs_dlambda``: the largest |difference| between the engine's exponents and a float64
  QR-every-step computation (generic autograd path) on the same network, inputs, frame and start.
* On a CPU the baseline is also timed on one thread (``baseline_1thread_ms``,
  ``speedup_vs_1thread``): torch's default of one thread per core makes LAPACK's QR of an 80 x 75
  frame take either ~110 or ~300 microseconds (measured, varying between runs), so the naive loop's
  time at torch's defaults is bimodal; its one-thread time is the stable, stricter comparison.

Times are medians over ``repeats`` runs after one warm-up run, in milliseconds. Cases: ``paper``
(N=80, k=75, T=300), ``large`` (N=1024, k=128, T=256 on a GPU; N=512 on a CPU, where the dense
baseline would take tens of seconds per step), ``paper_float32`` (the engine in float32: accuracy
shown, not assumed) and ``ensemble_E<E>`` (N=80, k=75, T=55, transient 16; the baseline runs the
naive loop network by network, E x its one-network time; E = 1, 64, 1024 on a GPU, 1, 64, 256 on a
CPU, where 1024 members need ~10 GB and minutes per step). ``--quick`` shrinks every case.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from datetime import date

import numpy as onp
import torch

from ..core.conventions import DYNAMIC_PARAMS, default_transient, random_bits, random_frame, random_state
from ..core.validate import check_int
from .device import cpu_threads, describe_device, resolve_device
from .ensemble import init_ensemble
from .flossing import exponent_loss, flossing_loss
from .lyapunov import lyapunov_spectrum, member_frames
from .model import init_rnn


def median_ms(step, repeats: int, sync) -> float:
    step()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def naive_flossing_step(params: dict, inputs, frame, h0, transient: int):
    """One naive flossing step (a closure to time): dense Jacobian, QR every step, autograd."""
    leaves = [params[name] for name in DYNAMIC_PARAMS]
    opt = torch.optim.Adam(leaves, lr=1e-3)

    def step():
        w, u, b = leaves
        h, q, total = h0, frame, 0.0
        for t, x in enumerate(inputs):
            h = torch.tanh(w @ h + u @ x + b)
            jac = torch.diag(1.0 - h ** 2) @ w
            q, r = torch.linalg.qr(jac @ q)
            if t >= transient:
                total = total + torch.log(torch.abs(torch.diagonal(r)))
        lam = total / (inputs.shape[0] - transient)
        loss = torch.mean(lam ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return lam
    return step


def engine_flossing_step(params: dict, inputs, seeds, frame, transient: int, method: str,
                         reorth_every="auto"):
    """One engine flossing step over one network or a stacked ensemble (a closure to time)."""
    leaves = [params[name] for name in DYNAMIC_PARAMS]
    opt = torch.optim.Adam(leaves, lr=1e-3)

    def step():
        if frame.ndim == 2:
            loss = flossing_loss(params, inputs, frame.shape[-1], 0.0, transient, reorth_every,
                                 seeds, method=method)
        else:              # ensemble: one frame per member
            lam = lyapunov_spectrum(params, inputs, n_exponents=frame.shape[-1],
                                    reorth_every=reorth_every, transient=transient, seed=seeds,
                                    method=method, frame=frame)
            loss = exponent_loss(lam)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    return step


def _reference_exponents(params, inputs, seeds, frame, transient):
    """float64, QR every step, generic autograd path: the accuracy yardstick."""
    p64 = {name: value.detach().double() for name, value in params.items()}
    with torch.no_grad():
        return lyapunov_spectrum(p64, inputs, n_exponents=frame.shape[-1], reorth_every=1,
                                 transient=transient, seed=seeds, method="householder",
                                 fused=False, frame=frame.double())


def _engine_exponents(params, inputs, seeds, frame, transient, method):
    with torch.no_grad():
        return lyapunov_spectrum({n: v.detach() for n, v in params.items()}, inputs,
                                 n_exponents=frame.shape[-1], reorth_every="auto",
                                 transient=transient, seed=seeds, method=method, frame=frame)


def single_case(name, n, k, t, device, dtype, repeats, baseline=True, seed=0) -> dict:
    """Time the baseline and the engine on one network; exponent difference against float64."""
    transient = default_transient(t)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    bits = random_bits(t, 1, seed)
    h0 = random_state(n, seed)
    q0 = random_frame(n, k, seed)
    row = {"case": name, "n": n, "k": k, "steps": t, "dtype": str(dtype).split(".")[-1]}
    if baseline:
        p32 = init_rnn(n, 1.0, seed=seed, device=device, dtype=torch.float32)
        for v in p32.values():
            v.requires_grad_()
        def as32(a):
            return torch.as_tensor(a, device=device, dtype=torch.float32)
        naive = naive_flossing_step(p32, as32(bits), as32(q0), as32(h0), transient)
        row["baseline_ms"] = median_ms(naive, repeats, sync)
        if device.type == "cpu" and torch.get_num_threads() > 1:
            with cpu_threads(1):
                row["baseline_1thread_ms"] = median_ms(naive, repeats, sync)
    method = "auto"
    params = init_rnn(n, 1.0, seed=seed, device=device, dtype=dtype)
    for v in params.values():
        v.requires_grad_()
    frame = torch.as_tensor(q0, device=device, dtype=dtype)
    ref = _reference_exponents(params, bits, seed, frame, transient)
    lam = _engine_exponents(params, bits, seed, frame, transient, method)
    row["max_abs_dlambda"] = float((lam.double() - ref).abs().max())
    row["engine_ms"] = median_ms(engine_flossing_step(params, bits, seed, frame, transient, method),
                                  repeats, sync)
    if baseline:
        row["speedup"] = row["baseline_ms"] / row["engine_ms"]
        if "baseline_1thread_ms" in row:
            row["speedup_vs_1thread"] = row["baseline_1thread_ms"] / row["engine_ms"]
    return row


def ensemble_case(e, naive_ms, device, dtype, repeats, n=80, k=75, t=55, transient=16) -> dict:
    """Throughput of an ensemble of E networks against the naive loop run E times."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seeds = list(range(e))
    params = init_ensemble(n, 1.0, seeds, device=device, dtype=dtype)
    for v in params.values():
        v.requires_grad_()
    bits = onp.stack([random_bits(t, 1, s) for s in seeds], axis=1)
    frame = member_frames(n, [k] * e, seeds, device, dtype)
    probe = slice(0, min(e, 16))      # accuracy checked on (up to) 16 members
    sub = {name: v[probe] for name, v in params.items()}
    ref = _reference_exponents(sub, bits[:, probe], seeds[probe], frame[probe], transient)
    lam = _engine_exponents(sub, bits[:, probe], seeds[probe], frame[probe], transient, "auto")
    engine_ms = median_ms(engine_flossing_step(params, bits, seeds, frame, transient, "auto"),
                           repeats, sync)
    return {"case": f"ensemble_E{e}", "n": n, "k": k, "steps": t, "members": e,
            "dtype": str(dtype).split(".")[-1], "baseline_ms": naive_ms * e, "engine_ms": engine_ms,
            "speedup": naive_ms * e / engine_ms, "networks_per_s": 1e3 * e / engine_ms,
            "baseline_networks_per_s": 1e3 / naive_ms,
            "max_abs_dlambda": float((lam.double() - ref).abs().max())}


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo) and core count, for the record."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            name = next(line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} cores"


def run_benchmark(device="cpu", quick: bool = False, repeats: int | None = None) -> dict:
    """Run every case; returns ``{"device": ..., "torch": ..., "rows": [{"case", "baseline_ms",
    "engine_ms", "speedup", "max_abs_dlambda", ...}, ...]}``."""
    device = resolve_device(device)
    gpu = device.type == "cuda"
    repeats = check_int("repeats", repeats if repeats is not None else (3 if quick else 7),
                        minimum=1)
    rows = []
    if quick:
        sizes = [("paper", 80, 75, 300), ("large", 256, 64, 128)]
        ensembles = [1, 16, 64]
    else:
        sizes = [("paper", 80, 75, 300), ("large", 1024 if gpu else 512, 128, 256)]
        ensembles = [1, 64, 1024] if gpu else [1, 64, 256]
    for name, n, k, t in sizes:
        rows.append(single_case(name, n, k, t, device, torch.float64, repeats))
    paper32 = single_case("paper_float32", 80, 75, 300, device, torch.float32, repeats,
                          baseline=False)
    for key, speedup in (("baseline_ms", "speedup"), ("baseline_1thread_ms", "speedup_vs_1thread")):
        if key in rows[0]:
            paper32[key] = rows[0][key]
            paper32[speedup] = paper32[key] / paper32["engine_ms"]
    rows.append(paper32)
    naive = single_case("ensemble_naive", 80, 75, 55, device, torch.float64, repeats)
    for e in ensembles:
        rows.append(ensemble_case(e, naive["baseline_ms"], device, torch.float64,
                                  max(1, repeats // 2) if e > 64 else repeats))
    return {"device": describe_device(device), "cpu": cpu_name(),
            "date": date.today().isoformat(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "repeats": repeats, "quick": quick, "rows": rows}
