"""Training loops: ``fit(X, y, config, rng) -> (params, history)`` on scaled inputs.

Two engines share the bookkeeping: the post's per-sample loop (the post's network: plain
SGD on the squared error, batches of one, no biases; with the post's update rule or the
exact gradient, see :func:`per_sample`) and mini-batches (everything else). Both run
compiled (:mod:`.fast`) or, with ``plain=True``, through the readable
``network.forward``/``backward`` calls; both give the same weights up to rounding.

Rounding is where machines differ: the mini-batch engine's matrix products run in BLAS,
whose summation order depends on the BLAS build and the CPU's kernels, so the same seed gives
the same bits on the same machine and libraries only. The per-sample engine sums in a fixed
order without BLAS, so the post's recipes (``blog``, ``blog-exact``) are reproducible across
machines too. That matters most for ``blog-exact``, whose per-sample steps at rate 0.1 are
chaotic (a change of 1e-12 in one weight grows to the size of the weights within a few hundred
samples); ``blog``'s are not (the change stays that small). Measured in docs/backprop.md, section 4.
Training never prints; it reports each epoch to an optional callback, and with ``progress`` also inside
long epochs: their steps then run in chunks that continue the same sums, so the weights come out the same.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import memory, network
from .config import Config
from .errors import ConfigError
from .fast import augment, kernels, step as fast_step
from .fast.step import Workspace
from .network import Params
from .optim import OPTIMIZERS, Adam, Nesterov, WeightAverage

SMALL_PRODUCT = 1 << 22  # multiply-adds of a batch's first product up to which BLAS runs on one thread
PROGRESS_SECONDS = 0.1  # with a progress hook: about the time an epoch's steps run between two reports
# a run whose training loss ends above this many times a uniform guess's learnt nothing: its steps blew the
# weights up (lr 1e9: losses of 1e6 and more, 10% accuracy) without making them NaN. Only cross-entropy can get
# there: squared error of probabilities is at most 2, and diverges as NaN (the post's naive softmax).
DIVERGED_ABOVE = 3.0
STOP_REASONS = {
    "tolerance": "reached the error tolerance",
    "early_stopping": "validation loss stopped improving (early stopping)",
    "max_epochs": "ran the maximum number of epochs",
    "diverged": "diverged: the training loss became NaN or infinite, or ended far above a uniform guess's",
    "interrupted": "interrupted (Ctrl-C)",
    "stopped": "stopped on request, keeping the weights learnt so far",
}

Progress = Callable[[Params, "History", float], None]


class StopTraining(Exception):
    """Raised by a callback or a progress hook to end training now; ``fit`` returns what was learnt (stop_reason "stopped")."""


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


def guess_loss(loss: str, n_classes: int) -> float:
    """The loss per sample of a uniform guess (1/K for each of K classes): ln K for cross-entropy, 1 - 1/K for
    squared error (sum over outputs of (p - y)^2)."""
    return math.log(n_classes) if loss == "cross_entropy" else 1.0 - 1.0 / n_classes


def learning_rate(config: Config, progress: float) -> float:
    """Rate at ``progress`` = epochs done / maximum epochs; fractions count, so it changes every step. A linear
    warmup (Goyal et al. 2017, section 2.2) scales the schedule's rate by progress / (warmup / epochs) until that
    reaches 1, warmup being warmup_epochs or, in a shorter run, all its epochs."""
    rate = config.lr * 0.5 * (1.0 + math.cos(math.pi * progress)) if config.schedule == "cosine" else config.lr
    warmup = min(config.warmup_epochs, config.epochs)
    if warmup and progress * config.epochs < warmup:
        rate *= progress * config.epochs / warmup
    return rate


def distortion_strength(config: Config, epoch: int) -> float:
    """The distortions' strength in epoch ``epoch`` (0-based; past the last, the last's), relative to the config's:
    1 at the first epoch, falling linearly to ``distortion_end`` at the last epoch before the ``clean_epochs``
    ones, which have 0 (undistorted images)."""
    distorted = config.epochs - config.clean_epochs
    epoch = min(epoch, config.epochs - 1)
    if epoch >= distorted:
        return 0.0
    return 1.0 + (config.distortion_end - 1.0) * (epoch / (distorted - 1) if distorted > 1 else 0.0)


def fit(
    X: np.ndarray,
    y: np.ndarray,
    config: Config,
    rng: np.random.Generator,
    *,
    n_classes: int | None = None,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    n_total: int | None = None,
    callback: Callable[[History], None] | None = None,
    plain: bool = False,
    image_shape: tuple[int, int] | None = None,
    run: Run | None = None,
    progress: Progress | None = None,
    teacher: Teacher | None = None,
) -> tuple[Params, History]:
    """Train a network on scaled inputs: the trainer alone, without splitting, scaling or scoring.

    With a validation set the weights of the epoch with the lowest validation loss are kept. With
    ``config.ema_decay`` the weights kept (and validated) are the moving average of the steps' weights.
    Ctrl-C ends training early and returns what was learnt, with stop_reason "interrupted"; a callback
    or progress hook raising :class:`StopTraining` does the same with stop_reason "stopped".

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Scaled inputs (``digitnet.train`` scales raw ones first).
    y : ndarray of shape (n,)
        Integer labels in 0..n_classes-1.
    config : Config
        The run's settings.
    rng : numpy.random.Generator
        Draws the initial weights, the shuffles and the dropout masks.
    n_classes : int, optional
        K, the number of outputs; default the largest label + 1.
    X_val, y_val : ndarray, optional
        A validation set (m, d) and (m,): its loss chooses the kept epoch and drives early stopping.
    n_total : int, optional
        Divides the epoch's summed loss before it is compared with ``config.tol`` (the post divides
        by the size of the whole data set, 1797); default n.
    callback : callable, optional
        Called with the :class:`History` after each epoch.
    plain : bool
        Run through ``network.forward``/``backward`` instead of the compiled kernels (slower; the
        same weights up to rounding).
    image_shape : (int, int), optional
        (height, width) of X's rows: what augmentation (``config.augment``, ``rotation``, ...:
        fast/augment.py) needs to move them.
    run : Run, optional
        Train this :class:`Run` (made with ``rng`` for X's width, ``n_classes`` and ``config``) instead of
        a new one, and keep it: afterwards it holds the weights, the optimizer's state and the epochs run,
        from where ``partial_fit`` continues.
    progress : callable, optional
        ``progress(params, history, epochs_done)`` is called before the first step, inside each epoch at
        least every PROGRESS_SECONDS of its steps (epochs_done a fraction), and after each epoch (after
        ``callback``); ``params`` are the weights training would keep now (with ``config.ema_decay`` their moving
        average, else the live weights; read them, copy what you keep, never write).
        The steps then run in chunks that continue the epoch's sums: the weights and the history are the
        same bits as without it.

    teacher : (W1, b1, W2, b2), optional
        With ``config.distill`` > 0: a trained network's weights for these scaled inputs, W1 (d, H_t), b1 (H_t,),
        W2 (H_t, K), b2 (K,), any hidden width H_t, whose probabilities on each training batch (as distorted)
        make up the share ``config.distill`` of its targets (knowledge distillation; fast.kernels.distill_targets).

    Returns
    -------
    params : dict of ndarray
        ``W1`` (d, H), ``W2`` (H, K) and, with biases, ``b1`` (H,), ``b2`` (K,), in ``config.dtype``.
    history : History
        Per-epoch loss, accuracy, the post's error, validation scores, learning rates, and why it stopped.

    Raises
    ------
    ConfigError
        When the weights and training buffers would not fit in the machine's memory.
    """
    dtype = np.dtype(config.dtype)
    n_classes = n_classes if n_classes is not None else int(np.max(y)) + 1
    check_memory(len(X), X.shape[1], n_classes, config)
    X = np.ascontiguousarray(X, dtype=dtype)
    if run is None:
        run = Run(X.shape[1], n_classes, config, rng, plain=plain, image_shape=image_shape, teacher=teacher)
    theta, params = run.theta, run.params
    Y = run.targets(y)
    has_val = X_val is not None and y_val is not None and len(X_val) > 0
    if has_val:
        X_val = np.ascontiguousarray(X_val, dtype=dtype)
        Y_val = np.eye(n_classes, dtype=dtype)[y_val]
        validate = _Validation(len(X_val), config, n_classes, plain)
    history = History()
    n_total = n_total or len(X)
    best_loss, best_theta, waited = math.inf, None, 0

    try:
        # a diverging run overflows; the NaN loss below is how it is detected and reported
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), run.one_blas_thread():
            if progress is not None:
                progress(run.kept_params(), history, 0.0)
            for epoch in range(config.epochs):
                lr = learning_rate(config, epoch / config.epochs)
                report = None if progress is None else \
                    functools.partial(_report, progress, run.kept_params(), history, epoch, len(X))
                sum_loss, hits = run.epoch(X, Y, y, report)
                history.loss.append(sum_loss / len(X))
                history.accuracy.append(hits / len(X))
                history.error.append(sum_loss / n_total)
                history.lr.append(lr)
                if not math.isfinite(sum_loss):
                    history.stop_reason = "diverged"
                elif has_val:
                    val_loss, val_accuracy = validate(run.kept_params(), X_val, Y_val, y_val)
                    history.val_loss.append(val_loss)
                    history.val_accuracy.append(val_accuracy)
                    if val_loss < best_loss:
                        best_loss, waited, best_theta = val_loss, 0, run.kept_theta().copy()
                        history.best_epoch = epoch + 1
                    else:
                        waited += 1
                        if config.patience is not None and waited >= config.patience:
                            history.stop_reason = "early_stopping"
                if not history.stop_reason and config.tol is not None and history.error[-1] < config.tol:
                    history.stop_reason = "tolerance"
                if callback is not None:
                    callback(history)
                if progress is not None:
                    progress(run.kept_params(), history, float(epoch + 1))
                if history.stop_reason:
                    break
            else:
                history.stop_reason = "max_epochs"
    except KeyboardInterrupt:
        history.stop_reason = "interrupted"
    except StopTraining:
        history.stop_reason = "stopped"
    run.keep(best_theta)
    kept = history.best_epoch or history.epochs  # the epoch whose weights are returned
    if (history.loss and history.stop_reason in ("max_epochs", "early_stopping", "tolerance")
            and history.loss[kept - 1] > DIVERGED_ABOVE * guess_loss(config.loss, n_classes)):
        history.stop_reason = "diverged"
    run.release_data()
    return {name: w.copy() for name, w in params.items()}, history


def _report(progress: Progress, params: Params, history: History, epoch: int, n: int, done: int) -> None:
    progress(params, history, epoch + done / n)


class _Pace:
    """Chunks of an epoch's steps (or samples) lasting about PROGRESS_SECONDS each, their size measured as training
    goes: the first chunk is one step, each next one at most 4 times the last, so a slow machine reports in time."""

    def __init__(self) -> None:
        self.size = 1

    def chunks(self, n: int):
        """Yields (first, stop) ranges covering 0..n; the time between two yields sizes the next chunk."""
        first = 0
        while first < n:
            stop = min(n, first + self.size)
            started = time.perf_counter()
            yield first, stop
            per_step = max(time.perf_counter() - started, 1e-6) / (stop - first)
            self.size = max(1, min(4 * self.size, int(PROGRESS_SECONDS / per_step)))
            first = stop


class _Validation:
    """The validation pass after each epoch: (mean loss, accuracy) of the network on X_val (no dropout),
    the loss against unsmoothed targets; compiled, in buffers made once (or network.forward with plain)."""

    def __init__(self, n: int, config: Config, n_classes: int, plain: bool) -> None:
        self.loss, self.plain = config.loss, plain
        if not plain:
            self.a1 = np.empty((n, config.n_hidden), config.dtype)
            self.z2, self.dz2 = np.empty((2, n, n_classes), config.dtype)
            self.no_bias = np.empty(0, config.dtype)

    def __call__(self, params: Params, X: np.ndarray, Y: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        if self.plain:
            p, cache = network.forward(params, X)
            return network.LOSSES[self.loss][0](cache.z2, Y), float(np.mean(p.argmax(axis=1) == y))
        fast_step.forward(params["W1"], params.get("b1", self.no_bias), params["W2"], X, self.a1, None, self.z2)
        loss, hits = kernels.output_layer(self.z2, params.get("b2", self.no_bias), Y, y, self.dz2, _LOSS_KIND[self.loss])
        return loss / len(X), hits / len(X)


class Run:
    """A network in training: its weights, its engine (with the optimizer's state) and the epochs done.

    ``fit`` runs one for ``config.epochs`` epochs; the scikit-learn estimator's ``partial_fit``
    keeps one and runs an epoch per call, on whatever rows it is given.
    """

    def __init__(self, n_inputs: int, n_classes: int, config: Config, rng: np.random.Generator, *, plain: bool = False,
                 image_shape: tuple[int, int] | None = None, teacher: Teacher | None = None):
        self.config, self.rng, self.n_classes, self.epochs = config, rng, n_classes, 0
        self.pinned = False
        self.theta, self.params = network.flatten(network.init_params(
            rng, n_inputs, config.n_hidden, n_classes, init=config.init, bias=config.bias, dtype=config.dtype))
        self.engine = _PerSample(self.theta, self.params, config, plain) if per_sample(config) else \
            _Batches(self.theta, self.params, config, plain, image_shape, teacher)
        average = getattr(self.engine, "average", None)
        self._averaged = None if average is None else network.views(
            average.average, {name: w.shape for name, w in self.params.items()})

    def kept_theta(self) -> np.ndarray:
        """The flat weights training would keep now: the moving average with ``config.ema_decay``, else theta."""
        average = getattr(self.engine, "average", None)
        return self.theta if average is None else average.average

    def kept_params(self) -> Params:
        """:meth:`kept_theta` as named views (W1, b1, W2, b2)."""
        return self.params if self._averaged is None else self._averaged

    def keep(self, theta: np.ndarray | None = None) -> None:
        """End a fit: the weights become ``theta`` (the best epoch's), else the kept ones (:meth:`kept_theta`);
        a moving average starts afresh from them, for what continues the run (partial_fit)."""
        if theta is None:
            theta = self.kept_theta()
        if theta is not self.theta:
            self.theta[:] = theta
        average = getattr(self.engine, "average", None)
        if average is not None:
            average.restart(self.theta)

    def release_data(self) -> None:
        """Forget the data of the last epoch (kept to reuse what was computed from it): a Run kept after
        training holds its weights and optimizer state, not the training set."""
        if isinstance(self.engine, _Batches):
            self.engine.fill_of = None

    def learning_rate(self) -> float:
        """The rate the next epoch starts at: the schedule's, and past ``config.epochs`` its last epoch's."""
        return learning_rate(self.config, min(self.epochs, self.config.epochs - 1) / self.config.epochs)

    def targets(self, y: np.ndarray) -> np.ndarray:
        """One-hot rows (n, K) for labels y, smoothed by config.label_smoothing."""
        Y = np.eye(self.n_classes, dtype=self.config.dtype)[y]
        if self.config.label_smoothing:
            Y *= 1.0 - self.config.label_smoothing
            Y += self.config.label_smoothing / self.n_classes
        return Y

    def epoch(self, X: np.ndarray, Y: np.ndarray, y: np.ndarray,
              report: Callable[[int], None] | None = None) -> tuple[float, int]:
        """One pass over scaled X (n, d); returns (summed loss, argmax hits). Past config.epochs the
        learning rate stays at its last epoch's value. ``report(samples done)`` is called between chunks
        of the steps, about every PROGRESS_SECONDS (not after the last: the epoch's end is the caller's)."""
        if not self.pinned:
            with self.one_blas_thread():
                return self.epoch(X, Y, y, report)
        sums = self.engine.epoch(X, Y, y, self.rng, min(self.epochs, self.config.epochs - 1), report)
        self.epochs += 1
        return sums

    @contextlib.contextmanager
    def one_blas_thread(self):
        """BLAS on one thread while training small batches: their products are too small to split well, and
        a second thread waiting for a busy core slows a fit down several times under a competing process
        (benchmarks/RESULTS.md, "under load"). Larger products (MNIST's 128 x 784 x 200) keep BLAS's own
        threads, which are 10-15% faster there on a quiet machine. Held across epochs: setting it costs 0.1 ms."""
        n_inputs, n_hidden = self.params["W1"].shape
        small = self.config.batch_size * n_inputs * n_hidden <= SMALL_PRODUCT
        with blas_threads().limit(limits=1, user_api="blas") if small else contextlib.nullcontext():
            self.pinned = True
            try:
                yield
            finally:
                self.pinned = False


def check_memory(n: int, d: int, K: int, config: Config) -> int:
    """Bytes that training needs besides the data; raises ConfigError when that is more than the machine's memory."""
    H, size = config.n_hidden, np.dtype(config.dtype).itemsize
    n_params = d * H + H * K + H + K
    rows = min(config.batch_size, n)
    # theta, gradient, Adam's two moments and scratch, the best epoch's copy, the moving average; the batch
    # buffers; targets; masks
    needed = size * ((7 if config.ema_decay else 6) * n_params + rows * (d + 3 * K + 3 * H) + n * K + (n * H if config.dropout else 0))
    if augment.warping(config):  # an epoch's warps; elastic fields in float32, twice while they are smoothed
        float64, float32 = np.dtype(np.float64).itemsize, np.dtype(np.float32).itemsize
        needed += n * augment.WARP_COLUMNS * float64 + (2 * augment.FIELDS * 2 * d * float32 if config.elastic_alpha else 0)
        needed += 2 * n * 4 * float64 if config.stretch_to_box else 0  # the ink boxes, and the epoch's in its order
    ok, total = memory.fits(needed)
    if not ok:
        raise ConfigError(
            f"n_hidden={H}, batch_size={config.batch_size} on {n} samples of {d} inputs need {memory.gib(needed)} "
            f"for weights and training buffers; this machine has {memory.gib(total)} of memory"
        )
    return needed


def per_sample(config: Config) -> bool:
    """True when ``config`` is the post's training loop: plain SGD at a constant rate on the squared error,
    one sample at a time in the split's order, no biases, no L2 or input noise (its update rule or the exact one)."""
    return config.gradient == "blog" or (
        config.batch_size == 1 and config.optimizer == "sgd" and config.loss == "mse" and not config.bias
        and config.schedule == "constant" and not config.shuffle and config.l2 == 0 and config.input_noise == 0
        and not augment.augmenting(config) and not config.ema_decay and not config.distill
    )


class _PerSample:
    """The post's engine: per epoch one dropout mask per sample, then an update sample by sample, in order."""

    def __init__(self, theta: np.ndarray, params: Params, config: Config, plain: bool) -> None:
        self.params, self.config, self.plain = params, config, plain
        self.no_mask = np.empty((0, config.n_hidden), theta.dtype)
        self.mask: np.ndarray | None = None  # reused every epoch: a fresh megabyte array costs page faults
        self.pace = _Pace()

    def epoch(self, X: np.ndarray, Y: np.ndarray, y: np.ndarray, rng: np.random.Generator, epoch: int,
              report: Callable[[int], None] | None = None) -> tuple[float, int]:
        c = self.config
        lr = learning_rate(c, epoch / c.epochs)
        M = None
        if c.dropout:
            if self.mask is None or len(self.mask) != len(X):
                self.mask = np.empty((len(X), c.n_hidden), c.dtype)
            M = network.dropout_mask(rng, self.mask.shape, c.dropout, out=self.mask)
        exact = c.gradient == "exact"
        sum_sq, hits = 0.0, 0
        # with a report: runs of samples, each continuing the sum where the last left it (the same bits)
        for first, stop in self.pace.chunks(len(X)) if report is not None else [(0, len(X))]:
            rows = slice(first, stop)
            Mc = self.no_mask if M is None else M[rows]
            with np.errstate(over="ignore", invalid="ignore"):  # the post's softmax overflows; fit() reports it
                if self.plain:
                    sum_sq, more = _sample_epoch_plain(self.params, X[rows], Y[rows], y[rows], Mc, lr, exact, sum_sq)
                else:
                    sum_sq, more = kernels.sample_epoch(self.params["W1"], self.params["W2"], X[rows], Y[rows], y[rows],
                                                        Mc, lr, exact, sum_sq)
            hits += more
            if report is not None and stop < len(X):
                report(stop)
        return sum_sq, hits


class _Batches:
    """The mini-batch engine: per epoch a shuffle; per batch its dropout bytes and input noise, then one step."""

    def __init__(self, theta: np.ndarray, params: Params, config: Config, plain: bool,
                 image_shape: tuple[int, int] | None = None, teacher: Teacher | None = None) -> None:
        self.theta, self.params, self.config, self.plain = theta, params, config, plain
        self.grad = np.zeros_like(theta)
        self.grads = network.views(self.grad, {name: w.shape for name, w in params.items()})
        n_weights = params["W1"].size + params["W2"].size  # theta starts with W1, W2: the entries L2 decays
        self.optimizer = OPTIMIZERS[config.optimizer](theta, l2=config.l2, n_decayed=n_weights)
        self.average = WeightAverage(theta, config.ema_decay) if config.ema_decay else None
        self.ws: Workspace | None = None  # sized by the first epoch: batches of min(batch_size, rows)
        self.no_bytes = np.empty((0, config.n_hidden), np.uint8)
        self.bytes: np.ndarray | None = None  # the epoch's dropout bytes, reused
        self.image_shape = image_shape or (0, 0)
        if augment.augmenting(config) and image_shape is None:
            raise ConfigError("augment, rotation, shear, zoom, stroke, stretch_to_box and elastic_alpha move images: they need inputs "
                              "that are images (a known height and width)")
        self.fill, self.fill_of = theta.dtype.type(0), None
        self.boxes: np.ndarray | None = None  # (n, 4) augment.ink_boxes of the training images, for stretch_to_box
        self.pace = _Pace()
        self.padded = np.empty(kernels.padded_size(*self.image_shape), theta.dtype)  # kernels.warp's buffer
        if (teacher is None) != (config.distill == 0):
            raise ConfigError("distill needs a teacher network, and a teacher needs distill > 0: give both or neither")
        empty, no_bias = np.empty((0, 0), theta.dtype), np.empty(0, theta.dtype)
        self.teacher = tuple(np.ascontiguousarray(w, theta.dtype) for w in teacher) if teacher is not None else \
            (empty, no_bias, empty, no_bias)
        if teacher is not None and (self.teacher[0].shape[0] != params["W1"].shape[0]
                                    or self.teacher[2].shape[1] != params["W2"].shape[1]):
            raise ConfigError(f"the teacher network reads {self.teacher[0].shape[0]} inputs into "
                              f"{self.teacher[2].shape[1]} classes; this one {params['W1'].shape[0]} into "
                              f"{params['W2'].shape[1]}: use a teacher trained on the same kind of data")

    def epoch(self, X: np.ndarray, Y: np.ndarray, y: np.ndarray, rng: np.random.Generator, epoch: int,
              report: Callable[[int], None] | None = None) -> tuple[float, int]:
        c = self.config
        rows = min(c.batch_size, len(X))
        if self.ws is None or len(self.ws.X) < rows:
            self.ws = Workspace(rows, X.shape[1], c.n_hidden, Y.shape[1], self.theta.dtype)
            n_teacher = self.teacher[0].shape[1]
            self.teacher_a1 = np.empty((rows, n_teacher), self.theta.dtype)
            self.teacher_z2 = np.empty((rows if n_teacher else 0, Y.shape[1]), self.theta.dtype)
        ws = self.ws
        order = rng.permutation(len(X)) if c.shuffle else np.arange(len(X))
        if augment.augmenting(c) and self.fill_of is not X:
            self.fill, self.fill_of = X.dtype.type(X.min()), X  # the background of ink-high images
            # each image's ink box, measured once for stretch_to_box
            self.boxes = augment.ink_boxes(X, self.image_shape, float(self.fill)) if c.stretch_to_box else None
        # the epoch's augmentation, after the shuffle
        draw = augment.draw(c, rng, len(X), self.image_shape, distortion_strength(c, epoch),
                            boxes=None if self.boxes is None else self.boxes[order])
        if not (self.plain or c.input_noise):
            return self._compiled_epoch(X, Y, y, order, draw, rng, epoch, report)
        sum_loss, hits = 0.0, 0
        reported = time.perf_counter()
        for start in range(0, len(X), c.batch_size):
            if report is not None and start and time.perf_counter() - reported >= PROGRESS_SECONDS:
                report(start)
                reported = time.perf_counter()
            rows = order[start : start + c.batch_size]
            n = len(rows)
            # gathered into fixed buffers: no copy of the data set, no allocation per batch
            Yb, yb = np.take(Y, rows, 0, ws.Y[:n]), np.take(y, rows, 0, ws.y[:n])
            if self.plain:  # the references: NumPy, SciPy
                Xb = np.take(X, rows, 0, ws.X[:n])
                if len(draw.shifts):
                    Xb[...] = shift_images(Xb, draw.shifts[start : start + n], self.image_shape, self.fill)
                elif len(draw.warps):
                    Xb[...] = augment.warp_reference(Xb, draw.warps[start : start + n], draw.fields, self.image_shape,
                                                     self.fill)
            else:
                Xb = ws.X[:n]
                kernels.gather(X, order, start, draw.shifts, draw.warps, draw.fields, *self.image_shape, self.fill,
                               self.padded, Xb)
            u = network.dropout_bytes(rng, (n, c.n_hidden)) if c.dropout else None
            if c.input_noise:
                Xb += X.dtype.type(c.input_noise) * rng.standard_normal(Xb.shape, dtype=X.dtype)
            if c.distill:  # the teacher reads the batch the student reads, noise included
                Yb[...] = distilled(Yb, Xb, self.teacher, c)
            if self.plain:
                loss, batch_hits = self._plain_step(Xb, Yb, yb, u)
            else:
                loss, batch_hits = fast_step.step(self.params, self.grads, Xb, Yb, yb, u, c.dropout, _LOSS_KIND[c.loss], ws)
            update = self.optimizer.step_numpy if self.plain else self.optimizer.step
            update(self.theta, self.grad, learning_rate(c, (epoch + start / len(X)) / c.epochs))
            if self.average is not None:
                (self.average.step_numpy if self.plain else self.average.step)(self.theta)
            sum_loss += loss
            hits += batch_hits
        return sum_loss, hits

    def _compiled_epoch(self, X, Y, y, order, draw, rng, epoch, report=None) -> tuple[float, int]:
        """The loop above in one compiled call (kernels.batch_epoch): the same random draws in the same
        order (the epoch's dropout bytes drawn batch by batch first), the same step sizes. With ``report``,
        in several calls over runs of whole batches, each continuing the summed loss: the same bits."""
        c, ws, n = self.config, self.ws, len(X)
        starts = range(0, n, c.batch_size)
        U = self.no_bytes
        if c.dropout:
            if self.bytes is None or len(self.bytes) != n:
                self.bytes = np.empty((n, c.n_hidden), np.uint8)
            U = self.bytes
            for start in starts:
                rows = min(c.batch_size, n - start)
                U[start : start + rows] = network.dropout_bytes(rng, (rows, c.n_hidden))
        opt = self.optimizer
        rates = [learning_rate(c, (epoch + start / n) / c.epochs) for start in starts]
        adam = isinstance(opt, Adam)
        sizes = np.array([opt.advance(lr) for lr in rates] if adam else rates)
        rule = kernels.ADAM if adam else kernels.NESTEROV if isinstance(opt, Nesterov) else kernels.SGD
        average = self.average
        decays = np.array([average.advance() for _ in rates] if average is not None else [], np.float64)
        p, g = self.params, self.grads
        cut, scale = network.dropout_threshold(c.dropout)
        sum_loss, hits = 0.0, 0
        for first, stop in self.pace.chunks(len(sizes)) if report is not None else [(0, len(sizes))]:
            rows = slice(first * c.batch_size, stop * c.batch_size)
            sum_loss, more = kernels.batch_epoch(
                X, Y, y, order[rows], draw.shifts[rows], draw.warps[rows], draw.fields, *self.image_shape, self.fill,
                U[rows], sizes[first:stop], c.batch_size,
                self.theta, self.grad, p["W1"], p.get("b1", ws.no_bias), p["W2"], p.get("b2", ws.no_bias),
                g["W1"], g.get("b1", ws.no_bias), g["W2"], g.get("b2", ws.no_bias),
                getattr(opt, "m", ws.no_bias), opt.v if adam else ws.no_bias, rule,
                getattr(opt, "beta1", getattr(opt, "momentum", 0.0)), getattr(opt, "beta2", 0.0), getattr(opt, "eps", 0.0), opt.l2, opt.n_decayed,
                cut, scale, _LOSS_KIND[c.loss], ws.X, ws.Y, ws.y, ws.a1, ws.h, ws.dh, ws.p, ws.dz2,
                average.average if average is not None else ws.no_bias, decays[first:stop], *self.teacher,
                self.teacher_a1, self.teacher_z2, c.distill, 1.0 / c.distill_temperature, sum_loss,
            )
            hits += more
            if report is not None and stop < len(sizes):
                report(min(stop * c.batch_size, n))
        return sum_loss, hits

    def _plain_step(self, Xb, Yb, yb, u) -> tuple[float, int]:
        c = self.config
        m = None if u is None else network.mask_from_bytes(u, c.dropout, dtype=c.dtype)
        p, cache = network.forward(self.params, Xb, m)
        for name, g in network.backward(self.params, cache, Yb, c.loss).items():
            self.grads[name][...] = g
        loss = network.LOSSES[c.loss][0](cache.z2, Yb) * len(p)
        return loss, int(np.count_nonzero(p.argmax(axis=1) == yb))


_LOSS_KIND = {"cross_entropy": 0, "mse": 1}  # the kernels' codes

Teacher = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # W1 (d, H_t), b1 (H_t,), W2 (H_t, K), b2 (K,)


def distilled(Y: np.ndarray, X: np.ndarray, teacher: Teacher, config: Config) -> np.ndarray:
    """Targets (n, K) for the scaled batch X (n, d): (1 - distill) * Y + distill * softmax(z / distill_temperature),
    z the teacher's logits (Hinton, Vinyals and Dean 2015, "Distilling the knowledge in a neural network"):
    fast.kernels.distill_targets' reference, in NumPy."""
    W1, b1, W2, b2 = teacher
    z = (np.tanh(X @ W1 + b1) @ W2 + b2) / config.distill_temperature
    q = np.exp(z - z.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    return (1.0 - config.distill) * Y + config.distill * q.astype(Y.dtype)


def shift_images(X: np.ndarray, shifts: np.ndarray, image_shape: tuple[int, int], fill: float) -> np.ndarray:
    """Rows of X (n, height * width) moved by shifts (n, 2) = (down, right) pixels, uncovered pixels set to
    fill: kernels.gather's reference, in NumPy."""
    height, width = image_shape
    out = np.full((len(X), height, width), fill, X.dtype)
    images = X.reshape(len(X), height, width)
    for i, (dy, dx) in enumerate(shifts):
        out[i, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = \
            images[i, max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)]
    return out.reshape(len(X), -1)


@functools.cache
def blas_threads():
    """A threadpoolctl controller of the BLAS libraries loaded, made once: a fresh ``threadpool_limits``
    looks them all up again (2 ms, a tenth of a fit)."""
    import scipy.linalg.cython_blas  # noqa: F401  the BLAS behind the kernels' np.dot: loaded before the lookup
    import threadpoolctl

    return threadpoolctl.ThreadpoolController()


def _sample_epoch_plain(
    params: Params, X: np.ndarray, Y: np.ndarray, y: np.ndarray, M: np.ndarray, lr: float, exact: bool,
    sum_sq: float = 0.0,
) -> tuple[float, int]:
    """A per-sample epoch through network.forward / backward (or backward_blog), one sample at a time: kernels.sample_epoch's
    reference. M: the masks, or no rows for no dropout; ``sum_sq`` the summed squared error so far."""
    hits = 0
    for i in range(len(X)):
        p, cache = network.forward(params, X[i : i + 1], M[i : i + 1] if len(M) else None, naive=not exact)
        grads = network.backward(params, cache, Y[i : i + 1], "mse") if exact else network.backward_blog(params, cache, Y[i : i + 1])
        for name, g in grads.items():
            params[name] -= lr * g
        sum_sq += float(np.sum((p - Y[i]) ** 2))
        hits += int(p.argmax() == y[i])
    return sum_sq, hits
