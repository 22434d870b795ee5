"""Optimisers: each owns its state and its update, on one flat vector theta of all parameters.

``step`` runs the compiled update (:mod:`.fast.kernels`); ``step_numpy`` the same arithmetic
in readable NumPy, the reference the tests compare it with. L2 is coupled: ``l2 * theta`` is
added to the gradient of the first ``n_decayed`` entries (the weights; biases are not decayed).
"""

from __future__ import annotations

import math

import numpy as np

from .fast import kernels


class SGD:
    """theta <- theta - lr * g"""

    def __init__(self, theta: np.ndarray, *, l2: float = 0.0, n_decayed: int = 0) -> None:
        self.l2, self.n_decayed = l2, n_decayed

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        kernels.sgd_step(theta, grad, lr, self.l2, self.n_decayed)

    def step_numpy(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        _add_l2(theta, grad, self.l2, self.n_decayed)
        theta -= lr * grad


class Nesterov:
    """SGD with Nesterov momentum, in the form of Sutskever et al. (2013, eq. 3-4) that PyTorch's
    ``SGD(nesterov=True)`` uses: b <- mu b + g; theta <- theta - lr (g + mu b), b starting at 0, with mu =
    ``momentum`` (0.9: their usual value). L2 coupled, as for the others (for SGD, coupled and decoupled
    weight decay are the same thing)."""

    def __init__(self, theta: np.ndarray, *, l2: float = 0.0, n_decayed: int = 0, momentum: float = 0.9) -> None:
        self.l2, self.n_decayed, self.momentum = l2, n_decayed, momentum
        self.m = np.zeros_like(theta)  # the velocity b

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        kernels.nesterov_step(theta, grad, self.m, lr, self.momentum, self.l2, self.n_decayed)

    def step_numpy(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        _add_l2(theta, grad, self.l2, self.n_decayed)
        mu = theta.dtype.type(self.momentum)
        self.m *= mu
        self.m += grad  # b = mu b + g
        theta -= theta.dtype.type(lr) * (grad + mu * self.m)


class Adam:
    """Adam (Kingma & Ba, 2015): m and v are running means of g and g^2, bias-corrected.

    Section 2's rearrangement of theta <- theta - lr * m_hat / (sqrt(v_hat) + eps_hat): step size
    lr * sqrt(1 - beta2^t) / (1 - beta1^t) on m / (sqrt(v) + eps). It equals the first form only for
    eps_hat = eps / sqrt(1 - beta2^t) (3.2e-7 at step 1, falling to eps), so it is not
    torch.optim.Adam(eps=1e-8) bit for bit. L2 is coupled (added to g), not AdamW.
    """

    def __init__(self, theta: np.ndarray, *, l2: float = 0.0, n_decayed: int = 0,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.l2, self.n_decayed = l2, n_decayed
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = np.zeros_like(theta)
        self.v = np.zeros_like(theta)

    def advance(self, lr: float) -> float:
        """Count one more step; returns its bias-corrected step size (a Python float: float32 stays float32)."""
        self.t += 1
        return lr * math.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        kernels.adam_step(theta, grad, self.m, self.v, self.advance(lr), self.beta1, self.beta2, self.eps,
                          self.l2, self.n_decayed)

    def step_numpy(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        lr_t = self.advance(lr)
        _add_l2(theta, grad, self.l2, self.n_decayed)
        b1, b2 = self.beta1, self.beta2
        self.m *= b1
        self.m += (1.0 - b1) * grad  # m = b1 m + (1 - b1) g
        self.v *= b2
        self.v += grad * grad * (1.0 - b2)  # v = b2 v + (1 - b2) g^2
        theta -= lr_t * (self.m / (np.sqrt(self.v) + self.eps))


class WeightAverage:
    """Polyak averaging (Polyak & Juditsky 1992) as an exponential moving average of theta after every step:
    average <- d_t average + (1 - d_t) theta, starting from theta, with d_t = min(decay, (1 + t) / (10 + t)) at
    step t = 0, 1, ... (TensorFlow's ``ExponentialMovingAverage(num_updates=t)``): the first steps move it
    faster, so that a short run is not averaged with its initial weights."""

    def __init__(self, theta: np.ndarray, decay: float) -> None:
        self.decay = decay
        self.average = theta.copy()
        self.t = 0

    def advance(self) -> float:
        """Count one more step; returns its decay d_t."""
        d = min(self.decay, (1.0 + self.t) / (10.0 + self.t))
        self.t += 1
        return d

    def step(self, theta: np.ndarray) -> None:
        kernels.ema_step(self.average, theta, self.advance())

    def step_numpy(self, theta: np.ndarray) -> None:
        d = self.advance()
        self.average += (1.0 - d) * (theta - self.average)

    def restart(self, theta: np.ndarray) -> None:
        """Average from theta afresh: a continued run starts from the weights it was given."""
        self.average[...] = theta
        self.t = 0


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "nesterov": Nesterov}


def _add_l2(theta: np.ndarray, grad: np.ndarray, l2: float, n: int) -> None:
    if l2:
        grad[:n] += l2 * theta[:n]
