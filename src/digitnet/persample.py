"""The post's per-sample SGD epoch with its own update rule, fused for speed.

:func:`network.forward` and :func:`network.backward_blog` on one sample at a time
compute the same thing (tests/test_persample.py checks it); this version inlines
them on 1-D vectors to cut per-call overhead.
"""

from __future__ import annotations

import numpy as np


def blog_epoch(
    W1: np.ndarray, W2: np.ndarray, X: np.ndarray, Y: np.ndarray, y: np.ndarray, M: np.ndarray | None, lr: float
) -> tuple[float, int]:
    """One pass over (X, Y) in order, updating W1 and W2 in place.

    M holds one dropout mask row per sample (0 or 2), or is None.
    Returns the summed squared error and the number of argmax hits.
    """
    keep = None if M is None else (M != 0).astype(X.dtype)
    sum_sq = 0.0
    hits = 0
    for i in range(X.shape[0]):
        x = X[i]  # (d,)
        h = np.tanh(x @ W1)  # (H,)
        if M is not None:
            h *= M[i]
        e = np.exp(h @ W2)  # the post's softmax: no max subtraction
        p = e / e.sum()  # (K,)
        delta = p - Y[i]
        es = np.exp(p)
        s = es / es.sum()  # softmax of the softmax output
        dz2 = delta * s * (1.0 - s)
        dz1 = W2 @ dz2  # uses W2 before its update, as the post does
        t = np.tanh(h)
        dz1 *= 1.0 - t * t
        if keep is not None:
            dz1 *= keep[i]
        W2 -= lr * np.outer(h, dz2)
        W1 -= lr * np.outer(x, dz1)
        sum_sq += delta @ delta
        hits += int(p.argmax() == y[i])
    return float(sum_sq), hits
