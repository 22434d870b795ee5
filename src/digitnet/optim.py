"""Optimisers: each updates parameters in place from their gradients, one ``step`` at a time.

The trainer hands them one flat vector (``{"theta": theta}``), so each update is a
handful of passes over all parameters at once.
"""

from __future__ import annotations

import math

import numpy as np

from .network import Params


class SGD:
    """theta <- theta - lr * g"""

    def step(self, params: Params, grads: Params, lr: float) -> None:
        for name, g in grads.items():
            params[name] -= lr * g


class Adam:
    """Adam (Kingma & Ba, 2015): m and v are running means of g and g^2, bias-corrected.

    Section 2's rearrangement of theta <- theta - lr * m_hat / (sqrt(v_hat) + eps_hat): step size
    lr * sqrt(1 - beta2^t) / (1 - beta1^t) on m / (sqrt(v) + eps). It equals the first form only for
    eps_hat = eps / sqrt(1 - beta2^t) (3.2e-7 at step 1, falling to eps), so it is not
    torch.optim.Adam(eps=1e-8) bit for bit. L2, when the trainer adds it, is coupled (added to g), not AdamW.
    """

    def __init__(self, params: Params, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = {name: np.zeros_like(w) for name, w in params.items()}
        self.v = {name: np.zeros_like(w) for name, w in params.items()}
        self.tmp = {name: np.empty_like(w) for name, w in params.items()}

    def advance(self, lr: float) -> float:
        """Count one more step; returns its bias-corrected step size (a Python float: float32 stays float32)."""
        self.t += 1
        return lr * math.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)

    def step(self, params: Params, grads: Params, lr: float) -> None:
        lr_t = self.advance(lr)
        b1, b2 = self.beta1, self.beta2
        for name, g in grads.items():
            m, v, tmp = self.m[name], self.v[name], self.tmp[name]
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp  # m = b1 m + (1 - b1) g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp  # v = b2 v + (1 - b2) g^2
            np.sqrt(v, out=tmp)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr_t
            params[name] -= tmp


def make_optimizer(name: str, params: Params) -> SGD | Adam:
    return Adam(params) if name == "adam" else SGD()
