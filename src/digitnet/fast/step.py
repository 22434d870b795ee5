"""The forward pass, and one mini-batch step: the arithmetic of ``network.forward`` +
``network.backward`` in preallocated buffers, matrix products in BLAS, the rest in compiled
loops (:mod:`.kernels`), gradients written straight into the flat gradient vector.
:func:`forward` serves training and its validation scores. tests/test_fused.py checks the step
against the plain calls.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from ..network import Params, dropout_threshold

_NONE = np.empty((0, 0), np.uint8)  # "no dropout" for the kernels


class Workspace:
    """Buffers for batches of up to ``batch_size`` samples."""

    def __init__(self, batch_size: int, n_inputs: int, n_hidden: int, n_outputs: int, dtype: np.dtype) -> None:
        self.X = np.empty((batch_size, n_inputs), dtype)  # the batch's inputs, gathered
        self.Y = np.empty((batch_size, n_outputs), dtype)
        self.y = np.empty(batch_size, np.int64)
        self.a1 = np.empty((batch_size, n_hidden), dtype)
        self.h = np.empty((batch_size, n_hidden), dtype)
        self.dh = np.empty((batch_size, n_hidden), dtype)  # dL/dh, then dL/dz1
        self.p = np.empty((batch_size, n_outputs), dtype)  # z2, then softmax(z2)
        self.dz2 = np.empty((batch_size, n_outputs), dtype)
        self.no_bias = np.empty(0, dtype)


def forward(W1, b1, W2, X, a1, h, z2, u=None, cut=0, scale=1.0) -> np.ndarray:
    """In the buffers: a1 = tanh(X @ W1 + b1); h = a1 * m, with the dropout mask m of the bytes u (training
    only; without u, h is a1); z2 = h @ W2, the logits before b2 (the output kernels add it). Returns h.
    b1 with no entries means no bias."""
    np.matmul(X, W1, out=a1)
    if b1.shape[0]:
        a1 += b1
    np.tanh(a1, out=a1)
    if u is None:
        h = a1
    else:
        kernels.dropout_apply(a1, u, cut, scale, h)
    np.matmul(h, W2, out=z2)
    return h


def step(
    params: Params, grads: Params, Xb: np.ndarray, Yb: np.ndarray, yb: np.ndarray, u: np.ndarray | None,
    rate: float, loss_kind: int, ws: Workspace,
) -> tuple[float, int]:
    """Forward and backward for one batch; fills ``grads``. u: the dropout bytes (network.dropout_bytes) or None.

    Returns (summed loss, argmax hits).
    """
    W1, W2 = params["W1"], params["W2"]
    n = len(Xb)
    a1, h, dh, p, dz2 = ws.a1[:n], ws.h[:n], ws.dh[:n], ws.p[:n], ws.dz2[:n]
    cut, scale = dropout_threshold(rate)
    h = forward(W1, params.get("b1", ws.no_bias), W2, Xb, a1, h, p, u, cut, scale)
    loss, hits = kernels.output_layer(p, params.get("b2", ws.no_bias), Yb, yb, dz2, loss_kind)
    np.matmul(h.T, dz2, out=grads["W2"])
    if "b2" in grads:
        kernels.column_sums(dz2, grads["b2"])
    np.matmul(dz2, W2.T, out=dh)
    kernels.hidden_delta(dh, _NONE if u is None else u, cut, scale, a1, grads.get("b1", ws.no_bias))
    np.matmul(Xb.T, dh, out=grads["W1"])
    return loss, hits
