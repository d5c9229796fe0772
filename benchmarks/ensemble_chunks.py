"""Networks flossed per second on the CPU against the ensemble size E, with and without chunks.

    python benchmarks/ensemble_chunks.py [--sizes 1,16,64,256,1024] [--threads 1] [--out FILE]

Each row floss E networks (N = 80, k = 75, window T = 55 with 16 discarded, QR every step, float64,
the paper's flossing setting) for a few steps with :func:`flosslab.engine.ensemble.floss_in_chunks`,
once as one batch of E (``chunk=None``) and once in chunks of
:data:`flosslab.engine.ensemble.CPU_CHUNK`, and prints networks per second (E x steps / seconds,
after one warm-up step). The target: at every E, chunked throughput within 1.5x of the best.
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from flosslab.core.settings import threads
from flosslab.engine.ensemble import CPU_CHUNK, floss_in_chunks, init_ensemble


def networks_per_second(e: int, chunk, steps: int) -> float:
    params = init_ensemble(80, 1.0, list(range(e)))
    seeds = list(range(e))
    floss_in_chunks(params, 1, 75, seeds=seeds, chunk=chunk)          # warm-up (buffers, caches)
    start = time.perf_counter()
    floss_in_chunks(params, steps, 75, seeds=seeds, chunk=chunk)
    return e * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,16,64,256,1024")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    with threads(args.threads):
        print(f"threads {torch.get_num_threads()}, chunk {CPU_CHUNK}")
        print(f"{'E':>6s} {'one batch, nets/s':>18s} {'chunked, nets/s':>16s}")
        for e in map(int, args.sizes.split(",")):
            steps = max(2, min(20, 320 // e))
            whole = networks_per_second(e, None, steps)
            chunked = networks_per_second(e, CPU_CHUNK, steps) if e > CPU_CHUNK else whole
            rows.append({"members": e, "steps": steps, "one_batch_networks_per_s": round(whole, 1),
                         "chunked_networks_per_s": round(chunked, 1)})
            print(f"{e:6d} {whole:18.1f} {chunked:16.1f}", flush=True)
    best = max(max(r["one_batch_networks_per_s"], r["chunked_networks_per_s"]) for r in rows)
    for r in rows:
        r["chunked_vs_best"] = round(best / r["chunked_networks_per_s"], 2)
    print("chunked: within", max(r["chunked_vs_best"] for r in rows), "x of the best")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": platform.processor() or platform.machine(),
                       "torch": torch.__version__, "threads": args.threads, "chunk": CPU_CHUNK,
                       "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
