"""The network, in plain NumPy: initialisation, forward pass, backward passes, losses.

Shapes, batch-first (n samples, d = 64 inputs, H = 200 hidden, K = 10 classes)::

    X  (n, d)   inputs, already scaled
    z1 = X @ W1 + b1        (n, H)    W1 (d, H), b1 (H,)
    a1 = tanh(z1)           (n, H)
    h  = a1 * m             (n, H)    m: dropout mask, 0 or 1/(1-rate); no mask at inference
    z2 = h @ W2 + b2        (n, K)    W2 (H, K), b2 (K,)
    p  = softmax(z2)        (n, K)
    Y  (n, K)   one-hot (or smoothed) targets

Losses are summed over the K outputs and averaged over the n samples, so a
batch of one is the post's per-sample loss. The derivation of every line of
:func:`backward` is in docs/backprop.md. This module does no I/O and owns no
random state: randomness comes in as a ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Params = dict[str, np.ndarray]  # "W1", "W2", and "b1", "b2" when the network has biases
PARAM_ORDER = ("W1", "W2", "b1", "b2")
MASK_LEVELS = 256  # dropout masks come from random bytes: rates are multiples of 1/256  # weights first: L2 touches one contiguous prefix of the flat vector


@dataclass
class Cache:
    """What the backward pass needs from the forward pass."""

    X: np.ndarray  # (n, d)
    a1: np.ndarray  # (n, H) tanh activations before dropout
    h: np.ndarray  # (n, H) activations after dropout
    m: np.ndarray | None  # (n, H) dropout mask, None without dropout
    z2: np.ndarray  # (n, K) output pre-activations (logits)
    p: np.ndarray  # (n, K) softmax outputs


def init_params(
    rng: np.random.Generator,
    n_inputs: int,
    n_hidden: int,
    n_outputs: int,
    *,
    init: str = "glorot",
    bias: bool = True,
    dtype: str = "float64",
) -> Params:
    """Initial weights; W1 is drawn before W2 so that the post's draws are reproduced.

    ``"uniform"`` is the post's U[-1, 1); ``"glorot"`` is U[-r, r) with
    r = sqrt(6 / (fan_in + fan_out)), which keeps tanh out of saturation.
    """
    params: Params = {}
    for name, fan_in, fan_out in (("W1", n_inputs, n_hidden), ("W2", n_hidden, n_outputs)):
        r = 1.0 if init == "uniform" else np.sqrt(6.0 / (fan_in + fan_out))
        params[name] = (r * (2.0 * rng.random((fan_in, fan_out)) - 1.0)).astype(dtype)
    if bias:
        params["b1"] = np.zeros(n_hidden, dtype=dtype)
        params["b2"] = np.zeros(n_outputs, dtype=dtype)
    return params


def flatten(params: Params) -> tuple[np.ndarray, Params]:
    """Copy the parameters into one flat vector theta; returns theta and views of it by name.

    Optimisers update theta in one pass instead of one pass per array.
    """
    names = [name for name in PARAM_ORDER if name in params]
    theta = np.concatenate([params[name].ravel() for name in names])
    return theta, views(theta, {name: params[name].shape for name in names})


def views(flat: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> Params:
    """Named, reshaped views into consecutive slices of ``flat``."""
    out, start = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        out[name] = flat[start : start + size].reshape(shape)
        start += size
    return out


def dropout_mask(
    rng: np.random.Generator, shape: tuple[int, ...], rate: float, *, dtype: str = "float64", out: np.ndarray | None = None
) -> np.ndarray:
    """Inverted-dropout mask: each entry is 0 with probability ``rate``, else 1 / (1 - rate).

    One random byte per entry (a quarter of the cost of a float draw), so the rate is
    rounded to a multiple of 1/256 and the scale uses the rounded rate, keeping the
    expected activation unchanged. Rate 1/2, the post's, is exact: half the neurons
    zeroed, the others doubled. ``out`` receives the mask when given.
    """
    return mask_from_bytes(dropout_bytes(rng, shape), rate, dtype=dtype, out=out)


def dropout_bytes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The random bytes behind a dropout mask: uniform on 0..255."""
    return np.frombuffer(rng.bytes(math.prod(shape)), dtype=np.uint8).reshape(shape)


def dropout_threshold(rate: float) -> tuple[int, float]:
    """(cut, scale): a neuron is dropped when its byte is below cut = round(256 rate), else scaled by 256 / (256 - cut)."""
    cut = round(rate * MASK_LEVELS)
    return cut, MASK_LEVELS / (MASK_LEVELS - cut)


def mask_from_bytes(u: np.ndarray, rate: float, *, dtype: str = "float64", out: np.ndarray | None = None) -> np.ndarray:
    """The mask (0 or scale) that the random bytes u give, see :func:`dropout_threshold`."""
    cut, scale = dropout_threshold(rate)
    if out is None:
        out = np.empty(u.shape, dtype)
    return np.multiply(u >= cut, scale, out=out)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax; subtracting the row maximum changes nothing but avoids overflow."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log p = z - max - log(sum(exp(z - max))): finite where log(softmax(z)) would be log(0)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def softmax_naive(z: np.ndarray) -> np.ndarray:
    """Softmax as the post computes it, exp(z) / sum(exp(z)): inf / inf = NaN once z > ~709."""
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def forward(params: Params, X: np.ndarray, m: np.ndarray | None = None, *, naive: bool = False) -> tuple[np.ndarray, Cache]:
    """Forward pass; ``m`` is the dropout mask (training only), ``naive`` the post's softmax."""
    z1 = X @ params["W1"]
    if "b1" in params:
        z1 += params["b1"]
    a1 = np.tanh(z1)
    h = a1 if m is None else a1 * m
    z2 = h @ params["W2"]
    if "b2" in params:
        z2 += params["b2"]
    p = softmax_naive(z2) if naive else softmax(z2)
    return p, Cache(X, a1, h, m, z2, p)


def predict_proba(params: Params, X: np.ndarray) -> np.ndarray:
    """Class probabilities (n, K) without dropout."""
    return forward(params, X)[0]


# Each loss: value(z2, Y) averaged over the batch, from the logits; delta(p, Y) = dL/dz2.
def mse(z2: np.ndarray, Y: np.ndarray) -> float:
    """Sum over outputs of (p - y)^2, p = softmax(z2), averaged over the batch."""
    return float(np.sum((softmax(z2) - Y) ** 2) / len(z2))


def mse_delta(p: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Through the softmax Jacobian diag(p) - p p^T: dz2 = p * (g - sum_k g_k p_k), g = dL/dp."""
    g = (p - Y) * (2.0 / len(p))
    return p * (g - np.sum(g * p, axis=1, keepdims=True))


def cross_entropy(z2: np.ndarray, Y: np.ndarray) -> float:
    """-sum_k y_k log p_k averaged over the batch, with log p from log_softmax (log-sum-exp)."""
    return float(-np.sum(Y * log_softmax(z2)) / len(z2))


def cross_entropy_delta(p: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Softmax and cross-entropy fused: dz2 = p - Y (Y's rows sum to 1)."""
    return (p - Y) / len(p)


LOSSES = {
    "mse": (mse, mse_delta),
    "cross_entropy": (cross_entropy, cross_entropy_delta),
}


def backward(params: Params, cache: Cache, Y: np.ndarray, loss: str = "cross_entropy") -> Params:
    """Exact gradient of ``loss`` with respect to every parameter."""
    dz2 = LOSSES[loss][1](cache.p, Y)  # (n, K)
    grads = {"W2": cache.h.T @ dz2}  # (H, K)
    dh = dz2 @ params["W2"].T  # (n, H)
    da1 = dh if cache.m is None else dh * cache.m
    dz1 = da1 * (1.0 - cache.a1**2)  # tanh'(z1) = 1 - a1^2
    grads["W1"] = cache.X.T @ dz1  # (d, H)
    if "b1" in params:
        grads["b1"] = dz1.sum(axis=0)
        grads["b2"] = dz2.sum(axis=0)
    return grads


def input_gradient(params: Params, cache: Cache, c: np.ndarray) -> np.ndarray:
    """d log p_c / dX (n, d) for one class c (n,) per row, from a forward pass without dropout:
    how each input pushes the answer toward class c. The backward pass above, carried one layer further."""
    dz2 = -cache.p  # d log p_c / dz2 = onehot(c) - p
    dz2[np.arange(len(c)), c] += 1.0
    dz1 = (dz2 @ params["W2"].T) * (1.0 - cache.a1**2)  # (n, H)
    return dz1 @ params["W1"].T  # (n, d)


def backward_blog(params: Params, cache: Cache, Y: np.ndarray) -> Params:
    """The post's update direction, reproduced with its three departures from the gradient of the squared error.

    1. The output "derivative" s * (1 - s) is taken of s = softmax(p), softmax applied a second time,
       and only the diagonal of the softmax Jacobian is kept; the factor 2 of d(p - y)^2 is dropped.
    2. The hidden derivative 1 - tanh(h)^2 is taken of h, the already activated, dropped-out and
       doubled value, instead of 1 - tanh(z1)^2 = 1 - a1^2.
    3. That derivative is multiplied by the 0/1 mask, not by the mask's doubled value.

    Use with :func:`forward` (``naive=True``) one sample at a time, as the post does.
    """
    s = softmax_naive(cache.p)
    dz2 = (cache.p - Y) * s * (1.0 - s)  # (n, K)
    grads = {"W2": cache.h.T @ dz2}
    dz1 = (dz2 @ params["W2"].T) * (1.0 - np.tanh(cache.h) ** 2)  # (n, H)
    if cache.m is not None:
        dz1 *= cache.m != 0
    grads["W1"] = cache.X.T @ dz1
    return grads
