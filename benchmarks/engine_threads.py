"""What do CPU threads and buffer recycling do to the torch engine? Prints ms per engine flossing
step (forward + backward + Adam) for several sizes, three ways.

    python benchmarks/engine_threads.py

* ``engine``: what the engine does (its per-step loops on one thread only for the frame sizes in
  ``flosslab.engine.recursion.SINGLE_THREAD_STEP``, recycled buffers);
* ``torch threads``: the loops on torch's thread count (``SINGLE_THREAD_STEP = 0``);
* ``1 thread``: everything on one thread (``flosslab.engine.device.cpu_threads(1)``);
* ``no pool``: buffer recycling off (``flosslab.engine.workspace``), so every step's (T, E, k, N)
  arrays are fresh allocations whose pages are faulted in on first write.

Run it on a quiet machine. Its numbers set ``SINGLE_THREAD_STEP`` and the buffer pool.
"""
import numpy as onp
import torch

from flosslab.core.conventions import default_transient, random_bits, random_frame
from flosslab.engine import recursion, workspace
from flosslab.engine.bench import engine_flossing_step, median_ms
from flosslab.engine.device import cpu_threads
from flosslab.engine.ensemble import init_ensemble
from flosslab.engine.lyapunov import member_frames
from flosslab.engine.model import init_rnn


def ms_per_step(n, k, t, members, repeats=5):
    """Median ms per engine flossing step of one network (members=1) or an ensemble."""
    seeds = list(range(members))
    if members == 1:
        params = init_rnn(n, 1.0, seed=0)
        frame = torch.as_tensor(random_frame(n, k, 0))
        bits, seed = random_bits(t, 1, 0), 0
    else:
        params = init_ensemble(n, 1.0, seeds)
        frame = member_frames(n, [k] * members, seeds, None, torch.float64)
        bits, seed = onp.stack([random_bits(t, 1, s) for s in seeds], axis=1), seeds
    for v in params.values():
        v.requires_grad_()
    step = engine_flossing_step(params, bits, seed, frame, default_transient(t), "auto")
    return median_ms(step, repeats, sync=lambda: None)


def main():
    cases = [(80, 75, 300, 1), (128, 128, 256, 1), (256, 64, 256, 1), (512, 128, 256, 1),
             (80, 75, 55, 16), (80, 75, 55, 64)]
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads by default; ms per flossing step")
    print(f"{'N':>5s} {'k':>4s} {'T':>4s} {'E':>3s} {'engine':>8s} {'torch threads':>14s} "
          f"{'1 thread':>9s} {'no pool':>8s}")
    policy = recursion.SINGLE_THREAD_STEP
    for n, k, t, e in cases:
        engine = ms_per_step(n, k, t, e)
        recursion.SINGLE_THREAD_STEP = 0
        try:
            default = ms_per_step(n, k, t, e)
        finally:
            recursion.SINGLE_THREAD_STEP = policy
        with cpu_threads(1):
            one = ms_per_step(n, k, t, e)
        workspace.POOL.max_idle_bytes = 0
        workspace.clear()
        try:
            no_pool = ms_per_step(n, k, t, e)
        finally:
            workspace.POOL.max_idle_bytes = workspace.MAX_IDLE_BYTES
        print(f"{n:5d} {k:4d} {t:4d} {e:3d} {engine:8.1f} {default:14.1f} {one:9.1f} "
              f"{no_pool:8.1f}")


if __name__ == "__main__":
    main()
