"""Training loops: ``fit(X, y, config, rng) -> (params, history)`` on scaled inputs.

Two engines share the bookkeeping: the post's per-sample loop (``gradient="blog"``)
and mini-batches with the exact gradient (everything else, per-sample SGD included).
The mini-batch engine runs fused (:mod:`fused`) or, with ``plain=True``, through
the readable ``network.forward``/``backward`` calls; both give the same weights.
Training never prints; it reports each epoch to an optional callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import network
from .config import Config
from .fused import Workspace, batches_epoch
from .network import Params
from .optim import make_optimizer
from .persample import blog_epoch

STOP_REASONS = {
    "tolerance": "reached the error tolerance",
    "early_stopping": "validation loss stopped improving (early stopping)",
    "max_epochs": "ran the maximum number of epochs",
    "diverged": "diverged: the training loss became NaN or infinite",
    "interrupted": "interrupted (Ctrl-C)",
}


@dataclass
class History:
    """Per-epoch record of a run; index e holds epoch e + 1."""

    loss: list[float] = field(default_factory=list)  # mean training loss per sample over the epoch (dropout on)
    accuracy: list[float] = field(default_factory=list)  # training accuracy over the epoch's steps
    error: list[float] = field(default_factory=list)  # summed training loss / size of the whole data set: the post's `err`
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    stop_reason: str = ""  # a key of STOP_REASONS
    best_epoch: int | None = None  # the epoch whose weights were kept, when a validation split chose them

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> History:
        return cls(**values)  # type: ignore[arg-type]


def learning_rate(config: Config, epoch: int) -> float:
    """Rate for 0-based ``epoch``: constant, or cosine decay from lr over the maximum number of epochs."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
    return config.lr


def fit(
    X: np.ndarray,
    y: np.ndarray,
    config: Config,
    rng: np.random.Generator,
    *,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    n_total: int | None = None,
    callback: Callable[[History], None] | None = None,
    plain: bool = False,
) -> tuple[Params, History]:
    """Train a network on scaled inputs X (n, d) with integer labels y (n,).

    ``n_total`` divides the epoch's summed loss before comparing it with ``config.tol``
    (the post divides by the size of the whole data set); it defaults to n.
    With a validation set the weights of the epoch with the lowest validation loss are kept.
    Ctrl-C ends training early and returns what was learnt, with stop_reason "interrupted".
    ``plain=True`` runs mini-batches through network.forward/backward instead of the fused
    epoch (slower; the same result).
    """
    dtype = np.dtype(config.dtype)
    X = np.ascontiguousarray(X, dtype=dtype)
    n_classes = 10
    Y = np.eye(n_classes, dtype=dtype)[y]
    if config.label_smoothing:
        Y = Y * dtype.type(1.0 - config.label_smoothing) + dtype.type(config.label_smoothing / n_classes)
    has_val = X_val is not None and y_val is not None and len(X_val) > 0
    if has_val:
        X_val = np.asarray(X_val, dtype=dtype)
        Y_val = np.eye(n_classes, dtype=dtype)[y_val]
    theta, params = network.flatten(
        network.init_params(rng, X.shape[1], config.n_hidden, n_classes, init=config.init, bias=config.bias, dtype=config.dtype)
    )
    engine = _Batches(theta, params, config, plain) if config.gradient == "exact" else None
    history = History()
    n_total = n_total or len(X)
    best_loss, best_theta, waited = math.inf, None, 0

    try:
        for epoch in range(config.epochs):
            lr = learning_rate(config, epoch)
            if engine is None:
                M = network.dropout_mask(rng, (len(X), config.n_hidden), config.dropout, dtype=config.dtype) if config.dropout else None
                with np.errstate(over="ignore", invalid="ignore"):  # the post's softmax overflows; reported below
                    sum_loss, hits = blog_epoch(params["W1"], params["W2"], X, Y, y, M, lr)
            else:
                sum_loss, hits = engine.epoch(X, Y, y, rng, lr)
            history.loss.append(sum_loss / len(X))
            history.accuracy.append(hits / len(X))
            history.error.append(sum_loss / n_total)
            history.lr.append(lr)
            if not math.isfinite(sum_loss):
                history.stop_reason = "diverged"
            elif has_val:
                p_val = network.predict_proba(params, X_val)
                val_loss = network.LOSSES[config.loss][0](p_val, Y_val)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(float(np.mean(p_val.argmax(axis=1) == y_val)))
                if val_loss < best_loss:
                    best_loss, waited, best_theta = val_loss, 0, theta.copy()
                    history.best_epoch = epoch + 1
                else:
                    waited += 1
                    if config.patience is not None and waited >= config.patience:
                        history.stop_reason = "early_stopping"
            if not history.stop_reason and config.tol is not None and history.error[-1] < config.tol:
                history.stop_reason = "tolerance"
            if callback is not None:
                callback(history)
            if history.stop_reason:
                break
        else:
            history.stop_reason = "max_epochs"
    except KeyboardInterrupt:
        history.stop_reason = "interrupted"
    if best_theta is not None:
        theta[:] = best_theta
    return {name: w.copy() for name, w in params.items()}, history


class _Batches:
    """The mini-batch engine: per epoch, draw the order, the dropout masks and the input noise, then step."""

    def __init__(self, theta: np.ndarray, params: Params, config: Config, plain: bool) -> None:
        self.theta, self.params, self.config, self.plain = theta, params, config, plain
        self.grad = np.zeros_like(theta)
        self.grads = network.views(self.grad, {name: w.shape for name, w in params.items()})
        self.n_weights = params["W1"].size + params["W2"].size
        self.optimizer = make_optimizer(config.optimizer, {"theta": theta})
        self.ws = Workspace(config.batch_size, config.n_hidden, params["W2"].shape[1], theta.dtype)
        self.epoch_buffers: tuple[np.ndarray, ...] | None = None

    def epoch(self, X: np.ndarray, Y: np.ndarray, y: np.ndarray, rng: np.random.Generator, lr: float) -> tuple[float, int]:
        c = self.config
        if self.epoch_buffers is None:  # reused every epoch: fresh megabyte arrays cost page faults
            self.epoch_buffers = (np.empty_like(X), np.empty_like(Y), np.empty_like(y), np.empty((len(X), c.n_hidden), X.dtype))
        Xe, Ye, ye, M = self.epoch_buffers
        if c.shuffle:
            order = rng.permutation(len(X))
            X, Y, y = np.take(X, order, axis=0, out=Xe), np.take(Y, order, axis=0, out=Ye), np.take(y, order, out=ye)
        M = network.dropout_mask(rng, M.shape, c.dropout, out=M) if c.dropout else None
        if c.input_noise:
            X = X + rng.standard_normal(X.shape, dtype=X.dtype) * X.dtype.type(c.input_noise)

        def step() -> None:
            self.optimizer.step({"theta": self.theta}, {"theta": self.grad}, lr)

        if not self.plain:
            return batches_epoch(
                self.theta, self.params, self.grad, self.grads, X, Y, y, M, batch_size=c.batch_size, loss=c.loss,
                l2=c.l2, n_weights=self.n_weights, step=step, ws=self.ws,
            )
        loss_value = network.LOSSES[c.loss][0]
        sum_loss, hits = 0.0, 0
        for start in range(0, len(X), c.batch_size):
            batch = slice(start, start + c.batch_size)
            p, cache = network.forward(self.params, X[batch], None if M is None else M[batch])
            for name, g in network.backward(self.params, cache, Y[batch], c.loss).items():
                self.grads[name][...] = g
            if c.l2:
                self.grad[: self.n_weights] += c.l2 * self.theta[: self.n_weights]
            step()
            sum_loss += loss_value(p, Y[batch]) * len(p)
            hits += int(np.count_nonzero(p.argmax(axis=1) == y[batch]))
        return sum_loss, hits
