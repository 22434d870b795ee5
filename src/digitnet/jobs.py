"""Training runs to watch as they learn: each trains in a worker process and reports events; pause, step,
resume or stop it; it ends with a model file in the server's cache. Nothing here knows HTTP
(:mod:`digitnet.web.training` maps it to routes and a stream).

    runner = Runner({"digits": load_digits()})
    job = runner.start("digits", {"recipe": "modern", "epochs": 6})
    runner.events_after(None)      # [Event(id, kind, data, text)], this run's so far; then events_after(last id)
    job.pause(); job.step(); job.resume(); job.stop()
    job.result                     # once ended: stop reason, Model, model id and file

One run at a time. The worker is a separate process (multiprocessing's "spawn": nothing of the server's
threads or locks is copied into it), niced, so a server answering requests keeps the CPU it needs. It runs
``pipeline.train`` with a progress hook (:class:`.watch.Monitor`) that sends the events and obeys pause, step
and stop between chunks of steps; the hook does not change the arithmetic (see ``trainer.fit``), so the model
is the one ``digitnet train`` writes with the same data, settings and seed, byte for byte.

Events, in order: ``start`` (from the server), ``ready`` (the untrained network), ``progress`` (inside long
epochs), ``epoch`` (1..N), ``paused`` / ``resumed`` in between, and ``end`` last. See :mod:`.watch` for what
each carries.
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import AUTO_RECIPE, Config, recipe_for
from .data import Dataset
from .errors import ConfigError, DigitnetError
from .model import Model
from .run_cache import RunCache
from .watch import work

# the settings a page may change: their names for people, and what each does, in a line (defaults: config.RECIPES)
SETTINGS = {
    "n_hidden": ("Hidden neurons", "Each learns one pattern of pixels: its input weights, drawn as a tile below."),
    "dropout": ("Dropout", "Share of hidden neurons switched off at random at each step, so none is relied on; 0: off."),
    "lr": ("Learning rate", "The size of each step down the loss. Too large and the loss blows up."),
    "epochs": ("Epochs", "Passes over the training split (the most: a recipe with a tolerance may stop sooner)."),
    "batch_size": ("Batch size", "Samples averaged into each step; 1 is the post's per-sample SGD (the blog recipes need it)."),
    "seed": ("Seed", "Seeds the split, the first weights, the shuffles and the dropout masks: the same seed, the same run."),
}
GRACE_SECONDS = 60.0  # past the time limit (plus pauses) the worker is killed: a start-up or a last evaluation that hangs
STOP_SECONDS = 10.0  # closing: how long a stopped worker may take to end before it is killed
KEPT_RUNS = 20  # ended runs whose results stay available (their files: RunCache's KEPT_FILES)


@dataclass(frozen=True)
class Limits:
    """What the server's operator lets a page ask for (``digitnet serve --max-train-...``)."""

    seconds: float = 600.0  # training time of one run, pauses excluded; then it stops, keeping what it learnt
    n_hidden: int = 1000  # hidden neurons
    epochs: int = 500  # epochs (the post's recipe needs 200)
    samples: int = 100_000  # samples of a data set a run may train on (MNIST: 70,000)
    batch_size: int = 10_000  # samples per step: all of the embedded digits at once; a batch's buffers grow with it

    def __post_init__(self) -> None:
        for name in ("seconds", "n_hidden", "epochs", "samples", "batch_size"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"the limit on {name} must be positive; got {getattr(self, name)!r}")

    def check(self, config: Config) -> None:
        """Raise LimitError naming the first setting of ``config`` over a limit, and the option that sets it."""
        for name in ("n_hidden", "epochs", "batch_size"):
            if getattr(config, name) > getattr(self, name):
                raise LimitError(f"{name} {getattr(config, name)} is more than this server allows ({getattr(self, name)}, "
                                 f"its {LIMIT_OPTIONS[name]})")

    def check_data(self, name: str, data: Dataset) -> None:
        if len(data.y) > self.samples:
            raise LimitError(f"data {name!r} has {len(data.y):,} samples, more than this server allows ({self.samples:,}, "
                             f"its {LIMIT_OPTIONS['samples']})")


LIMIT_OPTIONS = {name: f"--max-train-{name.removeprefix('n_').replace('_', '-')}" for name in
                 ("seconds", "n_hidden", "epochs", "samples", "batch_size")}  # digitnet serve's option setting each limit


class LimitError(ConfigError):
    """A setting is valid but over what the server's operator allows."""


class Busy(DigitnetError):
    """A run is training already (one at a time); the message says which, and who started it."""


class NotRunning(DigitnetError):
    """Pause, step, resume or stop asked of a run that has ended (or is not paused, for step and resume)."""


@dataclass(frozen=True)
class Event:
    """One event of a run: ``id`` is "<runner>.<sequence>", increasing across runs; ``text`` is ``data`` as JSON."""

    seq: int
    id: str
    kind: str
    data: dict
    text: str


@dataclass(frozen=True)
class Result:
    """How a run ended: the stop reason (a key of trainer.STOP_REASONS, or "failed"), and its model when it has one."""

    stop_reason: str
    why: str
    model: Model | None = None
    model_id: str | None = None
    file: str | None = None  # the model file's name in the cache


def config_from(settings: dict, data: Dataset | None = None) -> Config:
    """The Config a page asks for: {"recipe": name, and any of SETTINGS: value or None for the recipe's default}.
    The recipe "auto" (the default) is the one ``digitnet train`` chooses for ``data`` (config.recipe_for)."""
    settings = dict(settings)
    recipe = settings.pop("recipe", None) or AUTO_RECIPE
    if recipe == AUTO_RECIPE:
        recipe = recipe_for(data.inputs.image_shape, len(data.y)) if data is not None else "modern"
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a setting of the Train view; they are {', '.join(SETTINGS)}")
    return Config.from_recipe(recipe, **{k: v for k, v in settings.items() if v is not None})


class Job:
    """One run: its settings, its state (starting, running, paused, ended) and, once ended, its Result."""

    def __init__(self, runner: Runner, data: str, config: Config, started_by: str, paused: bool, auto: bool = False) -> None:
        self.id = secrets.token_hex(4)
        self.auto = auto  # the recipe was auto's choice for the data
        self.model_id = f"{config.recipe}-{self.id}"
        self.data, self.config, self.started_by, self.started_at = data, config, started_by, time.time()
        self.state, self.epoch, self.result = "starting", 0.0, None
        self._runner = runner
        context = multiprocessing.get_context("spawn")
        self._go, self._stop, self._step = context.Event(), context.Event(), context.Event()
        if not paused:
            self._go.set()
        self._paused_seconds, self._paused_since = 0.0, None
        self._receive, self._send = context.Pipe(duplex=False)
        self._thread: threading.Thread | None = None  # the server's side, watching the worker (Runner.start)
        self._process = context.Process(
            target=work, name=f"digitnet-train-{self.id}", daemon=True,
            args=(self._send, self._go, self._stop, self._step, runner.datasets[data], config, runner.limits.seconds,
                  data))

    def summary(self) -> dict:
        return {"run": self.id, "state": self.state, "data": self.data, "recipe": self.config.recipe,
                "recipe_chosen_by": AUTO_RECIPE if self.auto else "request", "config": self.config.to_dict(),
                "epoch": self.epoch, "epochs": self.config.epochs,
                "started_by": self.started_by, "started_at": self.started_at,
                "stop_reason": self.result.stop_reason if self.result else None,
                "model": self.result.model_id if self.result else None}

    def describe(self) -> str:
        """'modern on digits, epoch 3 of 32, started by 127.0.0.1 at 12:03:04'."""
        clock = time.strftime("%H:%M:%S", time.localtime(self.started_at))
        who = f" by {self.started_by}" if self.started_by else ""
        return f"{self.config.recipe} on {self.data}, epoch {int(self.epoch)} of {self.config.epochs}, started{who} at {clock}"

    def pause(self) -> dict:
        self._alive("pause")
        self._go.clear()
        return self.summary()

    def resume(self) -> dict:
        self._alive("resume")
        self._go.set()
        return self.summary()

    def step(self) -> dict:
        """Train one more epoch, then pause again; only while paused."""
        self._alive("step")
        if self.state != "paused":
            raise NotRunning(f"run {self.id} is {self.state}: pause it first, then step one epoch at a time")
        self._step.set()
        return self.summary()

    def stop(self) -> dict:
        """End the run at its next report (within PROGRESS_SECONDS of training), keeping what it learnt."""
        self._alive("stop")
        self._stop.set()
        self._go.set()
        return self.summary()

    def _alive(self, what: str) -> None:
        if self.result is not None:
            raise NotRunning(f"cannot {what} run {self.id}: it has ended ({self.result.stop_reason})")

    # ---- the server's side of the worker: started and watched in a thread of its own

    def _watch(self) -> None:
        try:
            try:
                self._process.start()  # spawn pickles the data set into the new process: seconds for MNIST
            finally:
                self._send.close()  # the worker's end, now in the worker
            self._watch_messages()
        except Exception as e:  # noqa: BLE001  the run must end with an event whatever went wrong
            self._end(Result("failed", f"the training process failed: {e}"))
        finally:
            if self._process.is_alive():
                self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
            if self._process.pid is not None:
                self._process.join(5)
            self._receive.close()
            if self.result is None:
                code = self._process.exitcode
                self._end(Result("failed", f"the training process ended unexpectedly (exit code {code})"))

    def _watch_messages(self) -> None:
        started = time.monotonic()
        while True:
            if self._receive.poll(0.5):
                try:
                    message = self._receive.recv()
                except EOFError:
                    return
                if message[0] == "event":
                    self._on_event(message[1], message[2])
                elif message[0] == "finished":
                    return self._finish(*message[1:])
                elif message[0] == "failed":
                    return self._end(Result("failed", message[1]))
            elif not self._process.is_alive():
                return
            paused = self._paused_seconds + (time.monotonic() - self._paused_since if self._paused_since else 0.0)
            if time.monotonic() - started - paused > self._runner.limits.seconds + GRACE_SECONDS:
                self._process.kill()
                return self._end(Result("failed", f"the training process did not stop at the time limit "
                                                  f"({self._runner.limits.seconds:g} s); it was ended"))

    def _on_event(self, kind: str, data: dict) -> None:
        if kind in ("ready", "resumed"):
            self.state = "running"
        elif kind == "paused":
            self.state = "paused"
        if kind == "paused":
            self._paused_since = time.monotonic()
        elif kind == "resumed" and self._paused_since is not None:
            self._paused_seconds += time.monotonic() - self._paused_since
            self._paused_since = None
        if "epoch" in data:
            self.epoch = data["epoch"]
        self._runner._emit(kind, {"run": self.id, **data})

    def _finish(self, info: dict, data: bytes | None) -> None:
        why = info["why"]
        model = file = None
        if data is not None:
            from .persistence import load

            file = f"{self.model_id}.safetensors"
            try:
                model = load(self._runner.cache.write(file, data))
            except DigitnetError as e:
                why, file = f"{why}; the model could not be kept: {e}", None
        self._end(Result(info["stop_reason"], why, model, self.model_id if model else None, file), info)

    def _end(self, result: Result, info: dict | None = None) -> None:
        self.result, self.state = result, "ended"
        info = info or {"epochs": int(self.epoch), "test": None, "seconds": None}
        self._runner._emit("end", {"run": self.id, **info, "stop_reason": result.stop_reason, "why": result.why,
                                   "model": result.model_id})


class Runner:
    """The server's training: named data sets, the operator's limits, one run at a time, the latest run's events."""

    def __init__(self, datasets: dict[str, Dataset], limits: Limits | None = None, cache: RunCache | None = None) -> None:
        self.limits = limits or Limits()
        for name, data in datasets.items():
            self.limits.check_data(name, data)
        self.datasets, self.cache = dict(datasets), cache or RunCache()
        self.cache.check()  # a link or a stranger's directory in the cache is said now, not after a run has trained
        self.instance = secrets.token_hex(3)  # event ids of another server (or an earlier one) never match
        self.job: Job | None = None  # the latest run
        self.runs: dict[str, Job] = {}  # the latest KEPT_RUNS runs by id
        self._lock = threading.Lock()
        self._seq, self._log, self._listeners = 0, [], []
        self._heavy: list[int] = []  # positions in the log of epoch events that still carry their weights
        self._live: int | None = None  # position of the progress event with the latest weights

    def start(self, data: str, settings: dict, *, started_by: str = "", paused: bool = False) -> Job:
        """Start a run on data set ``data`` with ``settings`` (see config_from). Raises Busy while one trains,
        ConfigError (LimitError) for a bad setting, KeyError naming the data sets for an unknown one.
        ``paused``: wait before the first step (then step or resume)."""
        if data not in self.datasets:
            raise KeyError(f"unknown data {data!r}; this server trains on {', '.join(self.datasets)}")
        config = config_from(settings, self.datasets[data])
        auto = (settings.get("recipe") or AUTO_RECIPE) == AUTO_RECIPE
        self.limits.check(config)
        with self._lock:
            if self.job is not None and self.job.result is None:
                raise Busy(f"a run is training: {self.job.describe()}; stop it or wait for it to end")
            job = self.job = Job(self, data, config, started_by, paused, auto)
            self.runs[job.id] = job
            while len(self.runs) > KEPT_RUNS:
                self.runs.pop(next(iter(self.runs)))
            self._log, self._heavy, self._live = [], [], None
        d = self.datasets[data]
        self._emit("start", {**job.summary(), "paused": paused, "n_samples": len(d.y), "n_inputs": d.inputs.n_features,
                             "image_shape": list(d.inputs.image_shape) if d.inputs.image_shape else None,
                             "n_classes": d.n_classes, "max_seconds": self.limits.seconds})
        job._thread = threading.Thread(target=job._watch, name=f"digitnet-watch-{job.id}", daemon=True)
        job._thread.start()
        return job

    def events_after(self, last_id: str | None) -> list[Event]:
        """The latest run's events after the one with id ``last_id``; all of them for None, or an id of
        another run or another server (a client that missed a run's start catches up from it)."""
        with self._lock:
            log = self._log
        instance, _, seq = (last_id or "").partition(".")
        if instance != self.instance or not seq.isdigit() or not log or int(seq) < log[0].seq - 1:
            return list(log)
        return [e for e in log if e.seq > int(seq)]

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (from another thread) after each new event; returns the function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._unsubscribe(listener)

    def close(self) -> None:
        """Stop the run in training, if any, and wait (briefly) for its process to end."""
        job = self.job
        if job is not None and job.result is None:
            job._stop.set()
            job._go.set()
            job._process.join(STOP_SECONDS)
            if job._process.is_alive():
                job._process.kill()
            job._thread.join(STOP_SECONDS)  # the run's end written (its model kept in the cache) before the server exits

    def _unsubscribe(self, listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, kind: str, data: dict) -> None:
        with self._lock:
            self._seq += 1
            event = _event(self._seq, f"{self.instance}.{self._seq}", kind, data)
            log = self._log = [*self._log, event]  # a new list: readers hold the old one without the lock
            if "tiles" in data:
                if self._live is not None:  # newer weights: the last progress event's are dropped
                    log[self._live] = _light(log[self._live])
                self._live = len(log) - 1 if kind == "progress" else None
                if kind == "epoch":
                    self._heavy.append(len(log) - 1)
                    self._thin()
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def _thin(self) -> None:
        """Past WEIGHTS_LOG_BYTES of weights kept in the log, every other epoch keeps only its numbers (the
        first and the latest stay whole): a late joiner's history stays a few megabytes, even for MNIST."""
        if sum(len(self._log[i].text) for i in self._heavy) <= WEIGHTS_LOG_BYTES or len(self._heavy) < 3:
            return
        for i in self._heavy[1:-1:2]:
            self._log[i] = _light(self._log[i])
        self._heavy = [self._heavy[0], *self._heavy[2:-1:2], self._heavy[-1]]


WEIGHTS_LOG_BYTES = 32 << 20
HEAVY = ("tiles", "mistakes")  # what a superseded event gives up


def _event(seq: int, id: str, kind: str, data: dict) -> Event:
    return Event(seq, id, kind, data, json.dumps(data, separators=(",", ":"), allow_nan=False))


def _light(event: Event) -> Event:
    if not any(k in event.data for k in HEAVY):
        return event
    return _event(event.seq, event.id, event.kind, {k: v for k, v in event.data.items() if k not in HEAVY})
