"""Inference: class probabilities for raw inputs, checked as they are read, one compiled kernel for every
batch size (:func:`.kernels.predict_rows`), large batches split across threads."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import config as numba_config

from . import kernels

# below this many rows per thread, handing rows to another thread costs more than it saves
# (a thread's hand-off is tens of µs; an 8x8 row takes about 0.4 µs, an MNIST row 2 µs)
PARALLEL_ROWS = 4096
CONVERT_ROWS = 4096  # rows of a dtype the kernel has no version for (float16, big-endian), converted at a time


def predict_proba(X, W1, b1, W2T, b2, low, high) -> tuple[np.ndarray, int]:
    """P (n, K) for raw inputs X (n, d) with the input scaling folded into W1 (d, H), b1 (H,); W2T is W2
    transposed (K, H). Inputs outside [low, high] or NaN stop it. Returns (P, the first bad row or -1).
    X is never copied whole.

    A row's probabilities are the same bits whatever batch it is in: every row goes through the same
    compiled loop alone (no BLAS, whose order of additions changes with the shape of the product).
    """
    n = len(X)
    P = np.empty((n, W2T.shape[0]), W1.dtype)
    threads = min(numba_config.NUMBA_NUM_THREADS, n // PARALLEL_ROWS)
    if threads <= 1 and _compiled(X):  # one call: a single row takes about a microsecond
        return P, kernels.predict_rows(X, W1, b1, W2T, b2, low, high, P)
    cuts = np.linspace(0, n, max(threads, 1) + 1).astype(np.int64)
    parts = [slice(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]

    step = None if _compiled(X) else CONVERT_ROWS  # dtypes the kernel lacks are converted block by block

    def run(rows: slice) -> int:
        """The first bad row of X in ``rows``, or -1."""
        size = step or max(1, rows.stop - rows.start)
        for start in range(rows.start, rows.stop, size):
            block = slice(start, min(start + size, rows.stop))
            bad = kernels.predict_rows(compiled_dtype(X[block]), W1, b1, W2T, b2, low, high, P[block])
            if bad >= 0:
                return start + bad
        return -1

    bad = [run(parts[0])] if len(parts) == 1 else list(_pool().map(run, parts))
    return P, min((b for b in bad if b >= 0), default=-1)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads for large batches (the kernel releases the GIL): NUMBA_NUM_THREADS, by default one per core."""
    return ThreadPoolExecutor(numba_config.NUMBA_NUM_THREADS, thread_name_prefix="digitnet-predict")


def compiled_dtype(X: np.ndarray) -> np.ndarray:
    """X itself, or a float64 copy when the compiled loops have no version for its dtype (float16, big-endian)."""
    return X if _compiled(X) else X.astype(np.float64)


def _compiled(X: np.ndarray) -> bool:
    return X.dtype.isnative and X.dtype in _COMPILED_DTYPES


_COMPILED_DTYPES = {np.dtype(t) for t in (np.float32, np.float64, np.int64, np.int32, np.uint8, np.int16, np.uint16,
                                         np.int8, np.uint32, np.uint64)}
