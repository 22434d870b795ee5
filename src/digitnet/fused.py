"""The mini-batch epoch of :mod:`trainer`, fused: the same arithmetic as
``network.forward`` + ``network.backward`` + an optimiser step, in preallocated
buffers with in-place operations and gradients written straight into one flat
vector. tests/test_fused.py checks it against the plain calls.
"""

from __future__ import annotations

import numpy as np

from .network import Params


class Workspace:
    """Buffers for batches of up to ``batch_size`` samples."""

    def __init__(self, batch_size: int, n_hidden: int, n_outputs: int, dtype: np.dtype) -> None:
        self.a1 = np.empty((batch_size, n_hidden), dtype)  # tanh(z1), then 1 - a1^2
        self.h = np.empty((batch_size, n_hidden), dtype)  # a1 * m
        self.dh = np.empty((batch_size, n_hidden), dtype)  # dL/dh, then dL/dz1
        self.p = np.empty((batch_size, n_outputs), dtype)  # z2, then softmax(z2)
        self.dz2 = np.empty((batch_size, n_outputs), dtype)
        self.rowk = np.empty((batch_size, 1), dtype)  # a per-row reduction


def batches_epoch(
    theta: np.ndarray,
    params: Params,
    grad: np.ndarray,
    grads: Params,
    X: np.ndarray,
    Y: np.ndarray,
    y: np.ndarray,
    M: np.ndarray | None,
    *,
    batch_size: int,
    loss: str,
    l2: float,
    n_weights: int,
    step,
    ws: Workspace,
) -> tuple[float, int]:
    """One epoch over (X, Y, y, M), already in this epoch's order; updates ``theta`` in place.

    ``params``/``grads`` are named views of ``theta``/``grad``; the first ``n_weights``
    entries are W1 and W2 (L2-penalised). ``step(lr)`` applies the optimiser to theta
    from grad. Returns (summed loss, argmax hits).
    """
    W1, W2, b1, b2 = params["W1"], params["W2"], params.get("b1"), params.get("b2")
    gW1, gW2, gb1, gb2 = grads["W1"], grads["W2"], grads.get("b1"), grads.get("b2")
    tiny = np.finfo(theta.dtype).tiny
    sum_loss, hits = 0.0, 0
    for start in range(0, len(X), batch_size):
        Xb, Yb = X[start : start + batch_size], Y[start : start + batch_size]
        n = len(Xb)
        a1, h, dh, p, dz2, rowk = ws.a1[:n], ws.h[:n], ws.dh[:n], ws.p[:n], ws.dz2[:n], ws.rowk[:n]
        # forward
        np.matmul(Xb, W1, out=a1)
        if b1 is not None:
            a1 += b1
        np.tanh(a1, out=a1)
        if M is not None:
            np.multiply(a1, M[start : start + batch_size], out=h)
        else:
            h = a1
        np.matmul(h, W2, out=p)
        if b2 is not None:
            p += b2
        np.max(p, axis=1, keepdims=True, out=rowk)
        p -= rowk
        np.exp(p, out=p)
        np.sum(p, axis=1, keepdims=True, out=rowk)
        p /= rowk
        hits += int(np.count_nonzero(p.argmax(axis=1) == y[start : start + batch_size]))
        # loss and dL/dz2
        np.subtract(p, Yb, out=dz2)
        if loss == "cross_entropy":
            sum_loss -= float(np.sum(Yb * np.log(np.maximum(p, tiny))))
            dz2 /= n
        else:
            sum_loss += float(np.sum(dz2 * dz2))
            dz2 *= 2.0 / n  # g = dL/dp; then dz2 = p * (g - sum_k g_k p_k)
            np.sum(dz2 * p, axis=1, keepdims=True, out=rowk)
            dz2 -= rowk
            dz2 *= p
        # backward
        np.matmul(h.T, dz2, out=gW2)
        if gb2 is not None:
            np.sum(dz2, axis=0, out=gb2)
        np.matmul(dz2, W2.T, out=dh)
        if M is not None:
            dh *= M[start : start + batch_size]
        np.square(a1, out=a1)
        np.subtract(1.0, a1, out=a1)
        dh *= a1
        np.matmul(Xb.T, dh, out=gW1)
        if gb1 is not None:
            np.sum(dh, axis=0, out=gb1)
        if l2:
            grad[:n_weights] += l2 * theta[:n_weights]
        step()
    return sum_loss, hits
