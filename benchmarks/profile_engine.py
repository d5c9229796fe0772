"""Where does an engine flossing step's time go? Paper size (N=80, k=75, T=300, float64, auto QR
interval), on the CPU.

    python benchmarks/profile_engine.py

Prints (1) forward / backward / Adam times (medians), (2) torch.profiler's busiest operations over
a few steps, and (3) the floor this algorithm cannot beat: its matrix products and QRs, each timed
alone on this machine with the engine's thread setting (the per-step loops on one thread).
"""
import statistics
import time

import torch
from torch.profiler import profile

from flosslab.core.conventions import DYNAMIC_PARAMS, default_transient, random_bits
from flosslab.engine.bench import median_ms
from flosslab.engine.device import cpu_threads
from flosslab.engine.flossing import flossing_loss
from flosslab.engine.model import init_rnn

N, K, T, REPEATS = 80, 75, 300, 9


def ms(fn):
    """Median ms of ``fn()`` over REPEATS calls after one warm-up call."""
    return median_ms(fn, REPEATS, sync=lambda: None)


def main():
    params = init_rnn(N, 1.0, seed=0)
    leaves = [params[name].requires_grad_() for name in DYNAMIC_PARAMS]
    opt = torch.optim.Adam(leaves, lr=1e-3)
    bits = random_bits(T, 1, 0)
    transient = default_transient(T)

    def forward():
        return flossing_loss(params, bits, K, 0.0, transient, "auto", 0)

    def step():
        loss = forward()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def backward_only():
        loss = forward()
        start = time.perf_counter()
        loss.backward()
        return time.perf_counter() - start

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; N={N}, k={K}, T={T}")
    total = ms(step)
    with torch.no_grad():
        fwd = ms(forward)
    bwd = 1e3 * statistics.median(backward_only() for _ in range(REPEATS))
    print(f"(1) whole step {total:.1f} ms: forward {fwd:.1f} ms (without autograd bookkeeping), "
          f"backward {bwd:.1f} ms, Adam and the rest {total - fwd - bwd:.1f} ms")

    with profile() as prof:
        for _ in range(5):
            step()
    print("(2) busiest operations over 5 steps (self CPU time):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    n_qr = sum(e.count for e in prof.key_averages() if e.key == "aten::linalg_qr") // 5

    a, w = torch.randn(1, K, N, dtype=torch.float64), torch.randn(1, N, N, dtype=torch.float64)
    out, q = torch.empty_like(a), torch.randn(N, K, dtype=torch.float64)
    g, f = torch.randn(N, T * K, dtype=torch.float64), torch.randn(T * K, N, dtype=torch.float64)
    with cpu_threads(1):            # the per-step loops' setting at this size
        gemm_us = 1e3 * ms(lambda: [torch.bmm(a, w, out=out) for _ in range(100)]) / 100
        qr_us = 1e3 * ms(lambda: [torch.linalg.qr(q) for _ in range(20)]) / 20
    wgrad = ms(lambda: g @ f)       # the gradient of W: one large product, torch's threads
    gflops = 2 * K * N * N / gemm_us / 1e3
    products = 2 * T * gemm_us / 1e3   # the frame forward and backward, one product per step each
    qrs = n_qr * 2 * qr_us / 1e3       # a QR forward, and a backward of about the same cost
    floor = products + wgrad + qrs
    print(f"(3) floor: a {K}x{N} by {N}x{N} product takes {gemm_us:.1f} us on one thread "
          f"({gflops:.0f} GFLOP/s), 2 x {T} of them = {products:.1f} ms; the gradient of W "
          f"{wgrad:.1f} ms; {n_qr} QRs at {qr_us:.0f} us, twice (forward and backward) = "
          f"{qrs:.1f} ms; floor ~{floor:.0f} ms per step, measured {total:.1f} ms")

if __name__ == "__main__":
    main()
