"""Hyperparameters: one frozen dataclass, and the named recipes built from it.

The CLI, the trainer, the scikit-learn estimator and the model file all use
:class:`Config`, so a default is written once, here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
import math
import numbers
import typing
from dataclasses import dataclass

from .errors import ConfigError, article
from .network import MASK_LEVELS

MAX_SHIFT = 4  # augmentation: larger shifts push digits off 8x8 and 28x28 frames
MAX_SHEAR = 60  # degrees: tan(60) = 1.7, a slant far past handwriting's; at 90 the shear is infinite
MAX_FOLDS = 20  # calibration_folds: each fold is a whole extra fit
MAX_SIGMA = 100  # pixels: wider smoothing makes the elastic field a plain translation, at a cost that grows with sigma
SEED_LIMIT = 2**32  # scikit-learn's random_state (the split) takes seeds below 2**32
# sizes and counts the compiled code takes as int64 and that mean something: a billion hidden neurons is past any
# machine's memory (trainer.check_memory says so for smaller ones), a batch of a billion is past any data set held
# in memory (a batch larger than the training split is all of it: one step per epoch); their products with the
# data's sizes stay far inside int64. A million epochs is years of training
MAX_SIZE = 10**9  # n_hidden, batch_size
MAX_EPOCHS = 10**6  # epochs, patience

CHOICES = {
    "init": ("uniform", "glorot"),
    "gradient": ("blog", "exact"),
    "loss": ("mse", "cross_entropy"),
    "optimizer": ("sgd", "adam", "nesterov"),
    "schedule": ("constant", "cosine"),
    "scaling": ("blog", "standard"),
    "dtype": ("float64", "float32"),
}


@dataclass(frozen=True)
class Config:
    """Every setting of one training run, in three groups (:data:`GROUPS`). Build one with :meth:`from_recipe`."""

    # --- the network: its shape and arithmetic
    n_hidden: int = 200  # neurons in the tanh hidden layer (1..MAX_SIZE)
    bias: bool = True  # learn biases b1, b2 (the post has none)
    init: str = "glorot"  # "uniform": U[-1, 1) as the post; "glorot": U[-r, r), r = sqrt(6 / (fan_in + fan_out))
    dropout: float = 0.0  # fraction of hidden neurons zeroed per training sample; kept ones scaled by 1/(1-dropout)
    dtype: str = "float32"  # floating point type of weights and arithmetic

    # --- training: the loss, the optimiser and when to stop
    gradient: str = "exact"  # "blog": the post's update rule, quirks and all; "exact": the true gradient of `loss`
    loss: str = "cross_entropy"  # "mse": sum over outputs of (p - y)^2, as the post; "cross_entropy": -sum y log p
    optimizer: str = "adam"  # "sgd" (plain steps of size lr), "adam", or "nesterov" (SGD with Nesterov momentum 0.9)
    lr: float = 0.01  # learning rate (the peak rate when a schedule is used)
    schedule: str = "cosine"  # learning rate per step: "constant", or "cosine" decay from lr to 0 over `epochs`
    warmup_epochs: int = 0  # the rate rises linearly from 0 over the first warmup_epochs epochs (all of them if fewer; Goyal et al. 2017), times the schedule's
    batch_size: int = 64  # samples per gradient step (1..MAX_SIZE; more than the training split: all of it); 1 is per-sample SGD as in the post
    epochs: int = 32  # maximum number of passes over the training set (1..MAX_EPOCHS)
    shuffle: bool = True  # reshuffle the training samples every epoch (the post keeps the split's order)
    l2: float = 1e-4  # L2 penalty (l2 / 2) * (|W1|^2 + |W2|^2) added to the loss; biases are not penalised
    label_smoothing: float = 0.2  # targets become (1 - eps) * one_hot + eps / K (K classes)
    input_noise: float = 0.0  # std of Gaussian noise added to the scaled inputs of each training batch
    augment: int = 0  # images only: each training image moved by up to `augment` pixels each way, anew every epoch
    # images only, anew every epoch, bilinear sampling (fast/augment.py); 0 turns each off
    rotation: float = 0.0  # each training image rotated by an angle drawn uniformly from [-rotation, rotation] degrees
    shear: float = 0.0  # slanted: sheared horizontally by an angle drawn from [-shear, shear] degrees
    zoom: float = 0.0  # scaled about its centre by a factor drawn from [1 - zoom, 1 + zoom]
    stroke: float = 0.0  # strokes thickened or thinned: blended toward the grey dilation or erosion (3x3 cross) by a weight drawn from [-stroke, stroke]
    stretch_to_box: float = 0.0  # the share of training images shown, anew every epoch, with their ink's box stretched to a square (the shorter side to the longer, centred), as collections that store digits stretched to their box do
    elastic_alpha: float = 0.0  # elastic distortion (Simard et al. 2003): pixels of displacement per unit of the smoothed field; their MNIST value 34
    elastic_sigma: float = 4.0  # width in pixels of the Gaussian that smooths the elastic fields' uniform noise (Simard et al.: 4 on 28x28)
    distortion_end: float = 1.0  # the distortions' strength (rotation, shear, zoom, stroke, elastic_alpha) at the last epoch, relative to the first; linear in between
    clean_epochs: int = 0  # the last clean_epochs epochs see the images undistorted (shifts by `augment` kept): a fine-tuning phase
    distill: float = 0.0  # knowledge distillation: the share of each target taken from a teacher network's probabilities on the same (distorted) input (train --teacher MODEL); 0: none
    distill_temperature: float = 1.0  # the teacher's probabilities softened as softmax(z / distill_temperature) (0.01..100), learnt as they are: above 1 the student's own probabilities come out softer too
    ema_decay: float = 0.0  # weight averaging (Polyak): the network kept is a moving average of the weights after each step, this decay per step (0: the last weights)
    tol: float | None = None  # stop once the epoch's summed loss / size of the whole data set is below tol (the post: 0.01)
    patience: int | None = None  # early stopping: epochs without a better validation loss before stopping (1..MAX_EPOCHS); None: off
    val_fraction: float = 0.0  # share of the training split held out to keep the best epoch and stop early (patience); 0: train on all of it
    calibration_fraction: float = 0.0  # share of the training split held out to fit the softmax temperature (calibration.py), whole writers where the data know them; 0: none, T = 1. Large data sets: the split needs dozens of mistakes
    calibration_folds: int = 0  # instead: the temperature fitted on every training row's logits from networks trained on the other folds (k more fits; small data sets); 0: none

    # --- the experiment: where it started, the data's split and scaling, the seed
    recipe: str = "modern"  # the recipe these settings started from (a label; the fields decide)
    scaling: str = "standard"  # "blog": (X - mean) / var, one scalar each over the whole data set; "standard": (X - mean) / std, over the training split
    deskew: bool = False  # images only: each image sheared upright and centred by its ink's second moments (deskew.py), in training and in every prediction
    stratify: bool = True  # keep class proportions equal in the train / test split
    test_size: float = 0.25  # share of the data held out for testing (the post: scikit-learn's default 0.25)
    seed: int = 0  # seeds the split, the initial weights, the shuffles and the dropout masks

    def __post_init__(self) -> None:
        for name, kind in _KINDS.items():
            object.__setattr__(self, name, _typed(name, getattr(self, name), kind))
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        _check(1 <= self.n_hidden <= MAX_SIZE, f"n_hidden must be 1..{MAX_SIZE:,}", self.n_hidden)
        _check(0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)", self.dropout)
        _check(self.lr > 0 and math.isfinite(self.lr), "lr must be a positive number", self.lr)
        _check(1 <= self.epochs <= MAX_EPOCHS, f"epochs must be 1..{MAX_EPOCHS:,}", self.epochs)
        _check(1 <= self.batch_size <= MAX_SIZE,
               f"batch_size must be 1..{MAX_SIZE:,} (a batch larger than the training split is all of it)", self.batch_size)
        _check(self.tol is None or self.tol > 0, "tol must be positive or None", self.tol)
        _check(self.patience is None or 1 <= self.patience <= MAX_EPOCHS, f"patience must be 1..{MAX_EPOCHS:,} or None",
               self.patience)
        _check(0.0 <= self.val_fraction < 0.5, "val_fraction must be in [0, 0.5)", self.val_fraction)
        _check(0.0 <= self.calibration_fraction < 0.5, "calibration_fraction must be in [0, 0.5)", self.calibration_fraction)
        _check(self.val_fraction + self.calibration_fraction < 0.5,
               "val_fraction + calibration_fraction must be below 0.5", self.val_fraction + self.calibration_fraction)
        _check(self.calibration_folds == 0 or 2 <= self.calibration_folds <= MAX_FOLDS,
               f"calibration_folds must be 0 or 2..{MAX_FOLDS}", self.calibration_folds)
        if self.calibration_folds and self.calibration_fraction:
            raise ConfigError("choose one source of calibration data: calibration_fraction (a held-out split) or "
                              "calibration_folds (cross-fitting); set the other to 0")
        _check(self.l2 >= 0, "l2 must be >= 0", self.l2)
        _check(0 <= self.warmup_epochs <= MAX_EPOCHS, f"warmup_epochs must be 0..{MAX_EPOCHS}", self.warmup_epochs)
        _check(0.0 <= self.label_smoothing < 1.0, "label_smoothing must be in [0, 1)", self.label_smoothing)
        _check(self.input_noise >= 0, "input_noise must be >= 0", self.input_noise)
        _check(0 <= self.augment <= MAX_SHIFT, f"augment must be 0..{MAX_SHIFT} pixels", self.augment)
        _check(0 <= self.rotation <= 180, "rotation must be 0..180 degrees", self.rotation)
        _check(0 <= self.shear <= MAX_SHEAR, f"shear must be 0..{MAX_SHEAR} degrees", self.shear)
        _check(0 <= self.zoom < 1, "zoom must be in [0, 1)", self.zoom)
        _check(0 <= self.stroke <= 1, "stroke must be in [0, 1]", self.stroke)
        _check(0 <= self.stretch_to_box <= 1, "stretch_to_box must be in [0, 1]", self.stretch_to_box)
        _check(0 <= self.elastic_alpha < math.inf, "elastic_alpha must be a number >= 0", self.elastic_alpha)
        _check(0 < self.elastic_sigma <= MAX_SIGMA, f"elastic_sigma must be in (0, {MAX_SIGMA}] pixels", self.elastic_sigma)
        _check(0 <= self.distortion_end <= 1, "distortion_end must be in [0, 1]", self.distortion_end)
        _check(0 <= self.clean_epochs <= self.epochs, f"clean_epochs must be in 0..epochs ({self.epochs})", self.clean_epochs)
        _check(0 <= self.ema_decay < 1, "ema_decay must be in [0, 1)", self.ema_decay)
        _check(0 <= self.distill <= 1, "distill must be in [0, 1]", self.distill)
        _check(0.01 <= self.distill_temperature <= 100, "distill_temperature must be in [0.01, 100]", self.distill_temperature)
        if self.distill_temperature != 1 and not self.distill:
            raise ConfigError("distill_temperature softens a teacher's probabilities, which count only with distill "
                              "above 0: set distill (with a teacher), or leave distill_temperature 1")
        _check(0.0 < self.test_size < 1.0, "test_size must be in (0, 1)", self.test_size)
        _check(0 <= self.seed < SEED_LIMIT, f"seed must be in 0..{SEED_LIMIT - 1} (2**32 - 1)", self.seed)
        # masks come from random bytes: the rate is rounded to a multiple of 1/256 (network.dropout_threshold)
        cut = round(self.dropout * MASK_LEVELS)
        if self.dropout > 0 and not 0 < cut < MASK_LEVELS:
            raise ConfigError(
                f"dropout must be 0 or between {0.5 / MASK_LEVELS:.4f} and {(MASK_LEVELS - 1) / MASK_LEVELS:.4f} "
                f"(masks drop neurons in steps of 1/{MASK_LEVELS}); got {self.dropout!r}"
            )
        if self.patience is not None and self.val_fraction == 0:
            raise ConfigError("early stopping (patience) needs a validation split: set val_fraction > 0 or patience None")
        if self.gradient == "blog" and self.ema_decay:
            raise ConfigError("ema_decay averages the weights of mini-batch steps; the post's per-sample rule "
                              "(gradient 'blog') keeps its last weights: set ema_decay 0")
        ignored = [name for name in ("l2", "input_noise", "augment", "rotation", "shear", "zoom", "stroke",
                                     "stretch_to_box", "elastic_alpha", "distill") if getattr(self, name)]
        if self.gradient == "blog" and ignored:
            raise ConfigError(f"the post's per-sample rule (gradient 'blog') trains on the images and labels as they "
                              f"are, with no penalty: set {', '.join(ignored)} to 0{' (no teacher)' if self.distill else ''}, "
                              "or use gradient 'exact' (the blog-exact recipe)")
        if self.gradient == "blog" and (self.loss, self.optimizer, self.batch_size) != ("mse", "sgd", 1):
            raise ConfigError(
                "gradient 'blog' is the post's per-sample rule: it needs loss 'mse', optimizer 'sgd' and batch_size 1"
            )

    @classmethod
    def from_recipe(cls, recipe: str = "modern", **overrides: object) -> Config:
        """The named recipe's settings with ``overrides`` applied (None included: ``patience=None`` turns early stopping off)."""
        if recipe not in RECIPES:
            raise ConfigError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(RECIPES[recipe], **overrides)

    @staticmethod
    def parse(name: str, text: str) -> object:
        """The value of field ``name`` written as ``text`` ("200", "0.5", "true", "none", "adam"); Config checks the rest."""
        if name not in _KINDS:
            raise ConfigError(f"unknown setting {name!r}; the settings are {', '.join(_KINDS)}")
        kind, word = _KINDS[name], text.strip()
        if type(None) in kind and word.lower() in ("none", "null"):
            return None
        if bool in kind:
            if word.lower() in ("true", "yes", "on", "1"):
                return True
            if word.lower() in ("false", "no", "off", "0"):
                return False
            raise ConfigError(f"{name} must be true or false; got {text!r}")
        for number in (int, float):
            if number in kind:
                try:
                    return number(word)
                except ValueError:
                    raise ConfigError(f"{name} must be {'an integer' if number is int else 'a number'}; got {text!r}") from None
        return word

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Config:
        """Rebuild from :meth:`to_dict`; unknown keys are an error, missing ones take defaults."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)  # type: ignore[arg-type]


_KINDS = {name: typing.get_args(t) or (t,) for name, t in typing.get_type_hints(Config).items()}


def _typed(name: str, value: object, kind: tuple[type, ...]) -> object:
    """``value`` as the field's type (NumPy scalars become Python ones); a wrong type raises ConfigError."""
    if value is None and type(None) in kind:
        return None
    if bool in kind:
        if isinstance(value, bool):
            return value
    elif int in kind:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    elif float in kind:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, str):
        return value
    expected = " or ".join("None" if k is type(None) else k.__name__ for k in kind)
    raise ConfigError(f"{name} must be {article(expected)} {expected}; got {value!r} ({type(value).__name__})")


def _check(ok: bool, message: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"{message}; got {value!r}")


# Every field spelled out, so that tuning the modern defaults never changes the post's recipe.
_BLOG = Config(
    recipe="blog",
    n_hidden=200,
    dropout=0.5,
    bias=False,
    init="uniform",
    gradient="blog",
    loss="mse",
    optimizer="sgd",
    lr=0.1,
    batch_size=1,
    epochs=200,
    tol=0.01,
    patience=None,
    val_fraction=0.0,
    calibration_fraction=0.0,
    calibration_folds=0,
    l2=0.0,
    label_smoothing=0.0,
    input_noise=0.0,
    augment=0,
    rotation=0.0,
    shear=0.0,
    zoom=0.0,
    stroke=0.0,
    stretch_to_box=0.0,
    elastic_alpha=0.0,
    elastic_sigma=4.0,
    distortion_end=1.0,
    clean_epochs=0,
    ema_decay=0.0,
    distill=0.0,
    distill_temperature=1.0,
    schedule="constant",
    shuffle=False,
    scaling="blog",
    deskew=False,
    stratify=False,
    test_size=0.25,
    dtype="float64",
    seed=0,
)

GROUPS = {  # every field in one group: the settings' three concerns
    "network": ("n_hidden", "bias", "init", "dropout", "dtype"),
    "training": ("gradient", "loss", "optimizer", "lr", "schedule", "warmup_epochs", "batch_size", "epochs", "shuffle", "l2",
                 "label_smoothing", "input_noise", "augment", "rotation", "shear", "zoom", "stroke", "stretch_to_box", "elastic_alpha",
                 "elastic_sigma", "distortion_end", "clean_epochs", "ema_decay", "distill", "distill_temperature", "tol", "patience", "val_fraction", "calibration_fraction", "calibration_folds"),
    "experiment": ("recipe", "scaling", "deskew", "stratify", "test_size", "seed"),
}

# MNIST-sized data (60,000 28x28 images): bigger batches, a lower rate, 1-pixel random shifts, less smoothing; like
# modern, all the training data and a fixed number of epochs (no validation split, no early stopping); chosen by
# cross-validation on MNIST's training images only (benchmarks/TUNING_MNIST.md)
_MNIST = Config(recipe="mnist", batch_size=256, lr=0.004, epochs=20, augment=1, label_smoothing=0.1)

# MNIST with elastic distortions (Simard et al. 2003): the `mnist` recipe's batches, rate, smoothing and shifts, plus
# elastic fields (alpha 34, sigma 6) and rotations up to 10 degrees, for 300 epochs (a fixed budget: anew every epoch,
# the data never repeat); every image deskewed (LeCun et al. 1998), in training and prediction; 5% of the training
# images held out to calibrate the probabilities. Chosen on the last 10,000 training images
# (benchmarks/TUNING_MNIST.md); `mnist` stays as documented
_MNIST_ELASTIC = dataclasses.replace(_MNIST, recipe="mnist-elastic", epochs=300, elastic_alpha=34.0, elastic_sigma=6.0,
                                     rotation=10.0, deskew=True, calibration_fraction=0.05,
                                     optimizer="nesterov", lr=0.1, warmup_epochs=5)

#: The named recipes, name -> Config: ``modern`` (the default), ``mnist``, ``mnist-elastic``, ``blog`` (the post's algorithm
#: exactly) and ``blog-exact`` (the post's with the exact gradient). ``Config.from_recipe`` starts from one.
RECIPES: dict[str, Config] = {
    "modern": Config(),
    "mnist": _MNIST,
    "mnist-elastic": _MNIST_ELASTIC,
    "blog": _BLOG,
    # the post's network, loss, optimiser and stopping rule, with the exact gradient
    "blog-exact": dataclasses.replace(_BLOG, recipe="blog-exact", gradient="exact"),
}


AUTO_RECIPE = "auto"  # what `train --recipe auto` (the default) and `sweep --recipe auto` mean: recipe_for the data
MNIST_IMAGE = (28, 28)
MNIST_MIN_ROWS = 10_000  # the mnist recipe was tuned on 60,000 images; below this, modern's settings fit better


def recipe_for(image_shape: tuple[int, int] | None, n_rows: int) -> str:
    """The recipe for data of this shape and size: "mnist" for 28x28 images, MNIST_MIN_ROWS rows or more (what
    it was tuned on: batches of 256, 1-pixel shifts); "modern" for anything else (8x8 digits, plain features)."""
    if image_shape is not None and tuple(image_shape) == MNIST_IMAGE and n_rows >= MNIST_MIN_ROWS:
        return "mnist"
    return "modern"


EMBEDDED_DATA = "digits"  # what --data calls the embedded digits (data.sources.EMBEDDED)


def train_command(config: Config, data: Sequence[str] | None = None, teachers: Sequence[str] | None = None) -> str:
    """The ``digitnet train`` command that trains ``config`` on ``data`` (``--data`` specs as given; None or just
    the embedded digits: none), as a model file records it: the recipe, then ``--set NAME=VALUE`` for every
    setting that differs from it, in Config's order, then the data, then ``--teacher`` for each of ``teachers``. Canonical, so that the same settings give
    the same words, the same file bytes, whoever trains them (the CLI, the Train view); no ``--out``.
    """
    import shlex

    base = RECIPES[config.recipe] if config.recipe in RECIPES else Config()
    words = ["digitnet", "train", "--recipe", config.recipe]
    for f in dataclasses.fields(Config):
        value = getattr(config, f.name)
        if f.name != "recipe" and value != getattr(base, f.name):
            text = "none" if value is None else str(value).lower() if isinstance(value, bool) else repr(value) \
                if isinstance(value, float) else str(value)
            words += ["--set", f"{f.name}={text}"]
    specs = [str(d) for d in (data or [])]
    if specs != [EMBEDDED_DATA]:
        for spec in specs:
            words += ["--data", spec]
    for teacher in teachers or []:
        words += ["--teacher", str(teacher)]
    return shlex.join(words)
