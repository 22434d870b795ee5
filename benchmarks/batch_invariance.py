"""Model.predict_proba at 1, 8 and ~100k rows (8x8 digits; MNIST-sized 784 inputs too), and whether a row's
probabilities depend on the batch it is computed in: ``python benchmarks/batch_invariance.py [--json FILE]``.

Medians of several timed runs; the 1- and 8-row latencies are medians of many calls. Threads: as the
environment sets them (OpenBLAS/numba defaults), stated in the output. On a busy machine, compare one thread's
CPU time instead (``OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/batch_invariance.py --cpu-time``):
wall time there measures the other processes as much as the code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

import digitnet
from digitnet.data import Dataset, Inputs, load_digits


CLOCK = time.perf_counter


def timed(f, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = CLOCK()
        f()
        times.append(CLOCK() - start)
    return statistics.median(times)


def measure(model, X) -> dict:
    big = np.tile(X, (-(-100_000 // len(X)), 1))[:100_000]
    model.predict_proba(big[:1000])
    one, eight = big[:1], big[:8]
    result = {
        "1 row (µs)": 1e6 * statistics.median(timed(lambda: model.predict_proba(one), 200) for _ in range(15)),
        "8 rows (µs)": 1e6 * statistics.median(timed(lambda: model.predict_proba(eight), 200) for _ in range(15)),
        "100k rows (M rows/s)": len(big) / timed(lambda: model.predict_proba(big), 15) / 1e6,
    }
    full = model.predict_proba(big[:2000])
    alone = np.concatenate([model.predict_proba(big[i : i + 1]) for i in range(2000)])
    result["max |P(row in 2000) - P(row alone)|"] = float(np.abs(full - alone).max())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--cpu-time", action="store_true", help="time the process's CPU time, not the wall clock")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.cpu_time else time.perf_counter
    digits = load_digits()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 3000)
    X28 = (rng.random((3000, 784)) < 0.15) * rng.integers(0, 256, (3000, 784))
    mnist_like = Dataset(X28.astype(np.float32), y, {"kind": "arrays"}, Inputs(784, (28, 28), (0.0, 255.0)), 10)
    figures = {
        "8x8 digits (64-200-10, float32)": measure(digitnet.train(digits), digits.X),
        "784-200-10, float32": measure(digitnet.train(mnist_like, digitnet.Config(epochs=1)), X28),
    }
    threads = {k: os.environ.get(k, "default") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}
    print(f"threads: {threads}; {os.cpu_count()} CPUs; clock: {'CPU time' if args.cpu_time else 'wall'}")
    for name, result in figures.items():
        print(name)
        for key, value in result.items():
            print(f"  {key:40s} {value:.3g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
