"""The post's training loop, transcribed literally: the reference the `blog` recipe is tested and timed against.

One sample at a time as a (1, n) row, derivatives as diagonal matrices, the
"derivatives" taken of the already activated values, exactly as the post
describes. Randomness comes from a Generator, drawn in the post's order:
W1, W2, then one dropout mask per sample (keep a neuron when a uniform random
byte is >= 128, probability exactly 1/2). The benchmarks time this as the reference.
"""

import numpy as np


def init_weights(rng, n_in=64, n_hidden=200, n_out=10):
    W1 = 2.0 * rng.random((n_in, n_hidden)) - 1.0
    W2 = 2.0 * rng.random((n_hidden, n_out)) - 1.0
    return W1, W2


def naive_softmax(v):
    return np.exp(v) / np.exp(v).sum()


def train_epoch(W1, W2, X, Y, rng, dropout, lr=0.1, n_samples=None):
    """One pass over the first n_samples rows of X, updating W1 and W2 in place; returns the summed error."""
    total = 0.0
    for i in range(len(X) if n_samples is None else n_samples):
        x = X[i].reshape(1, -1)
        h = np.tanh(x @ W1)
        if dropout:
            keep = (np.frombuffer(rng.bytes(h.size), np.uint8).reshape(h.shape) >= 128).astype(np.int64)
            h *= 2.0 * keep
        p = naive_softmax(h @ W2)
        e = p - Y[i]
        s = naive_softmax(p)  # the output "derivative" is evaluated at the softmax output
        D2 = np.diag((s * (1.0 - s)).ravel())
        grad_W2 = np.outer(h, e @ D2)
        D1 = np.diag((1.0 - np.tanh(h) ** 2).ravel())  # and the hidden one at the dropped-out output
        if dropout:
            D1 *= np.diag(keep.ravel())
        back = D2 @ (W2.T @ D1)
        grad_W1 = np.outer(x, e @ back)
        W2 -= lr * grad_W2
        W1 -= lr * grad_W1
        total += np.sum(e**2)
    return total
