"""Is one BLAS thread faster than two for the reference? Prints ms per flossing step both ways.

    python benchmarks/blas_threads.py

The reference's hot loop is many small products and QRs (N=80, k=75), where thread
synchronisation costs more than it saves. The answer decides ``config.single_blas_thread``.
"""
import time

from autograd import grad
from threadpoolctl import threadpool_limits

import flosslab as fl


def ms_per_step(params, n_steps=20):
    """Forward + backward of the flossing loss (what a flossing step costs, less Adam's update)."""
    gradient = grad(fl.flossing_loss)
    start = time.perf_counter()
    for step in range(n_steps):
        gradient(params, fl.random_bits(55, 1, seed=step), 75)
    return (time.perf_counter() - start) / n_steps * 1e3


def main():
    params = fl.init_rnn(80, 1.0, seed=0)
    for _ in range(3):
        with threadpool_limits(2, user_api="blas"):
            two = ms_per_step(params)
        with threadpool_limits(1, user_api="blas"):
            one = ms_per_step(params)
        print(f"2 BLAS threads {two:7.1f} ms/step   1 BLAS thread {one:7.1f} ms/step")


if __name__ == "__main__":
    main()
