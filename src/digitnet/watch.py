"""A watched run's worker process (:func:`work`, started by :mod:`.jobs`) and what it reports: :class:`Monitor`,
the progress hook of ``pipeline.train`` that measures the network as it learns, sends it as events and obeys
pause, step and stop.

Every event carries ``epoch`` (epochs done: a fraction inside an epoch), ``seconds`` (of training, pauses
excluded), ``steps_per_second`` and ``seconds_left`` (null until measured; with a tolerance, at most that).
``ready`` (the untrained network, epoch 0) and ``epoch`` (each epoch's end) add the measurements below;
``progress`` (inside long epochs, every TICK_SECONDS) adds ``tiles`` every WEIGHTS_SECONDS and the rest as
often as their cost allows (MEASURE_SHARE of the time):

- ``test_loss``, ``test_accuracy``: the network on the held-out test split, the loss being the recipe's own
  against unsmoothed targets (an answer that is not a number, once a run diverged, is wrong); ``confusion``: (K+1) x (K+1) counts, rows the true label and columns the post's
  answer, both -1..K-1 (``labels``), -1 being "no output rounds to 1"; ``z_max``: the largest |z2| (the
  softmax's inputs: the post's exp(z) overflows past 709.78), null once not finite; ``mistakes``: the MISTAKES_SHOWN most
  confident wrong answers (``true``, ``said``, ``confidence``, ``pixels``: the raw input as base64 bytes 0..255);
- ``tiles``: each hidden neuron's input weights (a column of W1, as an image) on one shared scale, as the
  report draws them (plots.hidden_weights): ``limit`` = max |W1| and ``levels``, base64 of H x d bytes, each
  weight's index into a 256-colour map of [-limit, limit] (matplotlib's: floor(256 (w + limit) / 2 limit),
  the top into the last colour). 200 8x8 tiles are 13 kB; 28x28 ones 157 kB.

``epoch`` adds the training split's ``loss``, ``accuracy``, ``error`` (the post's) and ``lr`` of that epoch and,
at the last, ``stop_reason``. ``ready`` adds ``n_train``, ``n_test``, ``steps_per_epoch`` and ``epochs``.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import os
import signal
import time

import numpy as np

from . import network
from .config import Config, train_command
from .data import Dataset
from .errors import DigitnetError
from .metrics import NO_DIGIT, blog_labels, labels
from .model import Model
from .persistence import json_safe, to_bytes
from .pipeline import train
from .trainer import STOP_REASONS, StopTraining, per_sample

WORKER_NICENESS = 10  # the worker yields the CPU to the server answering requests
PAUSE_LIMIT = 30 * 60.0  # seconds a run may stay paused; then it stops (it holds the server's one training slot)
TICK_SECONDS = 0.25  # between progress events inside a long epoch
WEIGHTS_SECONDS = 0.5  # between two pictures of the weights inside a long epoch (157 kB each for MNIST's)
MEASURE_SHARE = 0.2  # inside an epoch, measuring the test split takes at most this share of the time
MISTAKES_SHOWN = 12
COLOURS = 256  # entries of the colour map the weights index (matplotlib's default N)
DIGITS = 5  # significant digits of the floats sent


class Monitor:
    """``pipeline.train``'s progress hook in the worker: ``send`` (a pipe's end) gets ("event", kind, data);
    ``go`` (set: run), ``stop`` and ``step`` (one more epoch while paused) are multiprocessing Events."""

    def __init__(self, send, go, stop, step, data: Dataset, config: Config, max_seconds: float) -> None:
        self.send, self.go, self.stop, self.step = send, go, stop, step
        self.data, self.config, self.max_seconds = data, config, max_seconds
        self.why = ""  # why it stopped, when a stop (not the trainer) ended it
        self.stepping = False
        self.started, self.paused = time.monotonic(), 0.0
        self.last_tick = self.last_measure = self.last_weights = 0.0
        self.measure_cost = 0.0
        self.test: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # raw, scaled, labels
        self.steps_per_epoch = 1

    def __call__(self, model: Model, done: float) -> None:
        now = time.monotonic()
        if self.test is None:
            self._ready(model)
        elif done == int(done):
            self._epoch(model, int(done))
        elif now - self.last_tick >= TICK_SECONDS:
            self.last_tick = now
            data = self._status(done)
            if now - self.last_measure >= max(WEIGHTS_SECONDS, self.measure_cost / MEASURE_SHARE):
                data.update(self._measure(model))
            elif now - self.last_weights >= WEIGHTS_SECONDS:
                data["tiles"] = self._tiles(model)
            self._send("progress", data)
        self._obey(done)

    def seconds(self) -> float:
        """Seconds of training so far, pauses excluded."""
        return time.monotonic() - self.started - self.paused

    def explain_divergence(self) -> str:
        c = self.config
        top = {"float64": 709.78, "float32": 88.72}[c.dtype]
        if c.gradient == "blog":
            return ("The post's update rule never stops pushing the output weights, and its softmax takes exp(z) "
                    f"without first subtracting the largest z: once an output's z passes {top} ({c.dtype}), exp "
                    "overflows to infinity, infinity / infinity is NaN, and NaN spreads into every weight it touches. "
                    "Dropout doubles the neurons it keeps, which gets z there sooner. Turn dropout off, lower the "
                    "learning rate, or try blog-exact (docs/backprop.md).")
        return "The steps were too large for this loss: lower the learning rate."

    # ---- events

    def _ready(self, model: Model) -> None:
        self.started = time.monotonic()  # the clock starts here: loading and splitting the data are not training
        rows = model.test_indices
        raw = self.data.X[rows]
        self.test = raw, model.scaling.apply(model.deskewed(raw), self.config.dtype), self.data.y[rows]
        n_train = len(self.data.y) - len(rows)
        self.steps_per_epoch = n_train if per_sample(self.config) else -(-n_train // self.config.batch_size)
        self._send("ready", {**self._status(0.0), "n_train": n_train, "n_test": len(rows),
                             "steps_per_epoch": self.steps_per_epoch, "epochs": self.config.epochs,
                             **self._measure(model)})

    def _epoch(self, model: Model, epoch: int) -> None:
        h = model.history
        self._send("epoch", {**self._status(float(epoch)), "loss": h.loss[-1], "accuracy": h.accuracy[-1],
                             "error": h.error[-1], "lr": h.lr[-1], "stop_reason": h.stop_reason or None,
                             **self._measure(model)})

    def _status(self, done: float) -> dict:
        seconds = self.seconds()
        rate = done * self.steps_per_epoch / seconds if done and seconds > 0 else None
        left = (self.config.epochs - done) * seconds / done if done else None
        return {"epoch": done, "seconds": seconds, "steps_per_second": rate, "seconds_left": left}

    def _measure(self, model: Model) -> dict:
        """The network now, on the test split: loss, accuracy, confusion, mistakes; and its hidden weights."""
        started = time.monotonic()
        raw, X, y = self.test
        K = model.n_classes
        with np.errstate(all="ignore"):  # a diverged network's NaN answers count as wrong
            P, cache = network.forward(model.params, X)
            loss = network.LOSSES[self.config.loss][0](cache.z2, np.eye(K, dtype=X.dtype)[y])
            answered = np.all(np.isfinite(P), axis=1)  # a diverged network's NaN answers choose nothing
            said = np.where(answered, np.nan_to_num(P, nan=-np.inf).argmax(axis=1), NO_DIGIT)
            blog = blog_labels(P)
        confusion = np.zeros((K + 1, K + 1), np.int64)
        np.add.at(confusion, (y + 1, blog + 1), 1)
        z_max = float(np.max(np.abs(cache.z2))) if np.all(np.isfinite(cache.z2)) else math.nan
        out = {"test_loss": loss, "test_accuracy": float(np.mean(said == y)), "z_max": z_max, "labels": labels(K),
               "confusion": confusion.tolist(), "mistakes": self._mistakes(raw, y, P, said), "tiles": self._tiles(model)}
        self.last_measure = time.monotonic()
        self.measure_cost = self.last_measure - started
        return out

    def _tiles(self, model: Model) -> dict | None:
        self.last_weights = time.monotonic()
        return tiles(model.params["W1"], model.inputs.image_shape)

    def _mistakes(self, raw: np.ndarray, y: np.ndarray, P: np.ndarray, said: np.ndarray) -> list[dict]:
        wrong = np.flatnonzero((said != y) & (said != NO_DIGIT))
        sure = P[wrong, said[wrong]]
        wrong = wrong[np.argsort(-sure, kind="stable")][:MISTAKES_SHOWN]  # as plots.mistakes orders them
        low, high = self.data.inputs.value_range or (None, None)
        out = []
        for i in wrong:
            x = raw[i].astype(np.float64)
            lo, hi = (low, high) if low is not None else (x.min(), x.max())
            pixels = np.round((x - lo) / ((hi - lo) or 1.0) * 255).clip(0, 255).astype(np.uint8)
            out.append({"true": int(y[i]), "said": int(said[i]), "confidence": float(P[i, said[i]]),
                        "pixels": base64.b64encode(pixels.tobytes()).decode()})
        return out

    def _send(self, kind: str, data: dict) -> None:
        self.send.send(("event", kind, _rounded(json_safe(data))))

    # ---- pause, step, stop, the time limit

    def _obey(self, done: float) -> None:
        if done == int(done):
            self.stepping = False  # a step is one epoch: it ends here
        if not (self.go.is_set() or self.stepping or self.stop.is_set()):
            self._pause(done)
        if self.stop.is_set():
            self.why = self.why or "stopped on request; the weights learnt so far are kept"
            raise StopTraining
        if self.seconds() > self.max_seconds:
            self.why = (f"stopped at the server's limit of {self.max_seconds:g} s of training; "
                        "the weights learnt so far are kept")
            raise StopTraining

    def _pause(self, done: float) -> None:
        self._send("paused", {**self._status(done)})
        since = time.monotonic()
        while not self.go.wait(0.1):
            if self.stop.is_set():
                break
            if self.step.is_set():
                self.step.clear()
                self.stepping = True
                break
            if time.monotonic() - since > PAUSE_LIMIT:
                self.why = f"stopped after {PAUSE_LIMIT / 60:g} minutes paused; the weights learnt so far are kept"
                self.stop.set()
        self.paused += time.monotonic() - since
        if not self.stop.is_set():
            self._send("resumed", {**self._status(done), "step": self.stepping})


def tiles(W1: np.ndarray, image_shape: tuple[int, int] | None) -> dict | None:
    """The hidden weights W1 (d, H) as colour-map indices (see the module's docstring); None when they are not
    finite (a diverged run) or not images."""
    d, H = W1.shape
    if image_shape is None:
        side = math.isqrt(d)
        if side * side != d:
            return None
        image_shape = (side, side)
    with np.errstate(invalid="ignore"):
        if not np.all(np.isfinite(W1)):
            return None
    limit = float(np.abs(W1).max()) or 1.0
    index = np.minimum(np.floor((W1.T.astype(np.float64) + limit) / (2 * limit) * COLOURS), COLOURS - 1)
    return {"limit": limit, "shape": list(image_shape), "count": H,
            "levels": base64.b64encode(index.astype(np.uint8).tobytes()).decode()}


def _rounded(value):
    """Floats to DIGITS significant digits: the events' JSON stays short; the curves lose nothing visible."""
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def work(send, go, stop, step, data: Dataset, config: Config, max_seconds: float, spec: str = "digits") -> None:
    """The worker process's body: train ``config`` on ``data`` (what ``--data spec`` names) through a Monitor,
    then send the result, its command recorded as ``digitnet train`` records it.

    Signals are the server's to handle (Ctrl-C in its terminal, ``kill`` of its process group): it stops the run
    through ``stop``. A server that is gone (its end of the pipe closed) ends the worker quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    try:
        result = _result(Monitor(send, go, stop, step, data, config, max_seconds), data, config, spec)
    except (DigitnetError, MemoryError) as e:
        result = ("failed", str(e) or "out of memory")
    except Exception as e:  # noqa: BLE001  reported to the page: the server must hear why its worker stopped
        result = ("failed", f"training failed: {type(e).__name__}: {e}")
    try:
        send.send(result)
    except OSError:  # BrokenPipeError: the server is gone, nobody listens
        pass
    finally:
        send.close()


def _result(monitor: Monitor, data: Dataset, config: Config, spec: str) -> tuple:
    """("finished", info, the model file's bytes or None): the run's end, for the server."""
    model = dataclasses.replace(train(data, config, watch=monitor), command=train_command(config, [spec]))
    h = model.history
    why = monitor.why if h.stop_reason == "stopped" and monitor.why else STOP_REASONS[h.stop_reason]
    if h.stop_reason == "diverged":
        why = f"{why} at epoch {h.epochs}. {monitor.explain_divergence()}"
    learnt = model.is_finite() and h.stop_reason != "diverged"  # finite weights can be blown up too (lr 1e9)
    if h.stop_reason == "stopped" and h.epochs == 0:  # as `digitnet train` after a Ctrl-C in its first epoch
        cause = "" if why.startswith("stopped on request") else f" ({why.split(';')[0]})"
        why, learnt = f"stopped before the first epoch ended{cause}: nothing was learnt, so there is no model", False
    info = {"stop_reason": h.stop_reason, "why": why, "epochs": h.epochs, "test": json_safe(model.metrics),
            "seconds": round(monitor.seconds(), 3)}
    return "finished", info, to_bytes(model) if learnt else None
