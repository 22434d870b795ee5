"""``DigitNetClassifier``: digitnet as a scikit-learn estimator, a thin adapter over Config and the trainer.

Parameters are :class:`~digitnet.config.Config`'s fields, with the same names and defaults
(``random_state`` stands for ``seed``); ``test_size`` and ``stratify`` only matter to
``digitnet.train``'s own test split: the estimator trains on what it is given, less the
validation split that early stopping uses and the calibration split (``calibration_fraction``) that
its softmax temperature is fitted on (or with ``calibration_folds``, cross-fitted on all of it), as
``digitnet.train`` does; ``partial_fit`` does not calibrate.
Class labels may be anything ``np.unique`` sorts (strings, non-contiguous integers); inputs any finite
numbers (the estimator learns its scaling).
"""

from __future__ import annotations

import math

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .config import Config
from .data import Dataset, Inputs, fit_scaling
from .errors import ConfigError, DataError
from .model import Model
from .pipeline import deskewed_inputs, fit_model
from .trainer import STOP_REASONS, History, Run


class DigitNetClassifier(ClassifierMixin, BaseEstimator):
    """The 64-200-10 network of digitnet (any number of inputs and classes), trained by its trainer.

    Learned attributes: ``classes_``, ``n_features_in_`` (``feature_names_in_`` for DataFrames),
    ``model_`` (the :class:`~digitnet.model.Model`), ``loss_curve_``, ``validation_scores_``,
    ``best_epoch_``, ``n_iter_``.
    """

    def __init__(
        self,
        *,
        n_hidden=200,
        bias=True,
        init="glorot",
        dropout=0.0,
        dtype="float32",
        gradient="exact",
        loss="cross_entropy",
        optimizer="adam",
        lr=0.01,
        schedule="cosine",
        warmup_epochs=0,
        batch_size=64,
        epochs=32,
        shuffle=True,
        l2=1e-4,
        label_smoothing=0.2,
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
        tol=None,
        patience=None,
        val_fraction=0.0,
        calibration_fraction=0.0,
        calibration_folds=0,
        recipe="modern",
        scaling="standard",
        deskew=False,
        stratify=True,
        test_size=0.25,
        random_state=0,
    ):
        self.n_hidden = n_hidden
        self.bias = bias
        self.init = init
        self.dropout = dropout
        self.dtype = dtype
        self.gradient = gradient
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.schedule = schedule
        self.warmup_epochs = warmup_epochs
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.l2 = l2
        self.label_smoothing = label_smoothing
        self.input_noise = input_noise
        self.augment = augment
        self.rotation = rotation
        self.shear = shear
        self.zoom = zoom
        self.stroke = stroke
        self.stretch_to_box = stretch_to_box
        self.elastic_alpha = elastic_alpha
        self.elastic_sigma = elastic_sigma
        self.distortion_end = distortion_end
        self.clean_epochs = clean_epochs
        self.ema_decay = ema_decay
        self.distill = distill  # needs a teacher, which only digitnet.train and `digitnet train --teacher` take
        self.distill_temperature = distill_temperature
        self.tol = tol
        self.patience = patience
        self.val_fraction = val_fraction
        self.calibration_fraction = calibration_fraction
        self.calibration_folds = calibration_folds
        self.recipe = recipe
        self.scaling = scaling
        self.deskew = deskew
        self.stratify = stratify
        self.test_size = test_size
        self.random_state = random_state

    def config(self) -> Config:
        """The estimator's parameters as the Config the trainer takes (checked there)."""
        params = self.get_params()
        seed = params.pop("random_state")
        if seed is None:  # scikit-learn's convention: None draws a fresh seed
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        elif isinstance(seed, np.random.RandomState):
            seed = int(seed.randint(0, 2**32 - 1))
        config = Config(**params, seed=seed)
        if config.distill:
            raise ConfigError("distill learns from a teacher network, which DigitNetClassifier does not take: set "
                              "distill 0, or train with digitnet.train(data, config, teacher=MODEL) or "
                              "`digitnet train --teacher MODEL`")
        return config

    def fit(self, X, y):
        """Fit on X (n, d) of finite numbers with class labels y (n,)."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"DigitNetClassifier needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})")
        config = self.config()
        data = Dataset(X, y_codes, {"kind": "arrays"}, _inputs(X.shape[1]), len(self.classes_))
        run = self._new_run(X.shape[1], config)
        try:
            model = fit_model(data, config, run=run)
        except DataError as e:
            if "training and validation" in str(e) and config.val_fraction:
                # too few samples of some class for a validation split: train on all of them, without early stopping
                warnings.warn(f"{e}; training without a validation split", UserWarning, stacklevel=2)
                config = Config(**{**config.to_dict(), "val_fraction": 0.0, "patience": None})
            elif "training and calibration" in str(e) and config.calibration_fraction:
                warnings.warn(f"{e}; training without calibration (temperature 1)", UserWarning, stacklevel=2)
                config = Config(**{**config.to_dict(), "calibration_fraction": 0.0})
            else:
                raise ValueError(str(e)) from None
            run = self._new_run(X.shape[1], config)
            model = fit_model(data, config, run=run)
        history = model.history
        if history.stop_reason == "diverged":
            raise ValueError(
                f"training diverged at epoch {history.epochs} ({STOP_REASONS['diverged'].split(': ', 1)[1]}); lower lr (now {config.lr})"
            )
        # a cosine schedule anneals the rate to 0 by the last epoch, which is then often the best: converged
        # by design; at a constant rate, a validation loss still falling at the end means it stopped early
        if (history.stop_reason == "max_epochs" and model.config.schedule == "constant" and model.config.patience
                and history.best_epoch == history.epochs):
            warnings.warn(
                f"the validation loss was still falling after the last of {config.epochs} epochs; "
                "more epochs may help", ConvergenceWarning, stacklevel=2,
            )
        self._continue(model, run)
        self._learnt(model)
        return self

    def _new_run(self, n_features: int, config: Config) -> Run:
        return Run(n_features, len(self.classes_), config, np.random.default_rng(config.seed),
                   image_shape=_inputs(n_features).image_shape)

    def _continue(self, model: Model, run: Run) -> None:
        """What partial_fit continues: ``run`` (weights, optimizer state, epochs), the model's scaling, a copy of its history."""
        curves = {k: list(v) if isinstance(v, list) else v for k, v in model.history.to_dict().items()}
        self._run, self._scaling = run, model.scaling
        self._history = History(**{**curves, "stop_reason": "max_epochs"})

    def partial_fit(self, X, y, classes=None):
        """One epoch on X, y, continuing the weights and the optimizer's state of earlier calls.

        Without an earlier ``fit``, the first call needs ``classes`` (every label that will ever come)
        and sets the input scaling from its X; the learning rate follows the schedule over ``epochs``
        calls, then stays at its last epoch's rates.

        After ``fit``, it continues fit's run where it ended: the same weights and scaling, Adam's
        moments and step count, at the learning rate of the schedule's last epoch (the cosine
        schedule's end: about 0.2% of ``lr`` and falling), so a continuation refines the fit and
        never undoes it. An estimator loaded from a file keeps no optimizer state: its continuation
        starts a fresh Adam at those same last-epoch rates. Early stopping and the validation split
        do not apply.
        """
        fitted = hasattr(self, "model_")
        first = getattr(self, "_run", None) is None
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=first and not fitted)
        check_classification_targets(y)
        network_X = None  # X as the network reads it (deskewed, with config.deskew): made once per call
        if first and fitted:  # a loaded estimator: continue its weights, with no optimizer state to continue
            classes = self.classes_ if classes is None else classes
            if not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={np.unique(classes).tolist()} differ from fit's {self.classes_.tolist()}")
            model = self.model_
            run = self._new_run(X.shape[1], model.config)
            for name, w in model.params.items():
                run.params[name][...] = w
            run.keep(run.theta)  # a moving average (ema_decay) starts from these weights, not the initial ones
            run.epochs = model.history.epochs
            self._continue(model, run)
        elif first:
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes=, every class label that will come")
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError(f"DigitNetClassifier needs at least 2 classes; got {self.classes_.tolist()}")
            config = self.config()
            network_X = deskewed_inputs(X, _inputs(X.shape[1]), config)
            self._scaling = fit_scaling(network_X, config.scaling)
            self._run = self._new_run(X.shape[1], config)
            self._history = History(stop_reason="max_epochs")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={np.unique(classes).tolist()} differ from the first call's {self.classes_.tolist()}")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"labels {unknown.tolist()} are not among classes {self.classes_.tolist()}")
        run, h = self._run, self._history
        if network_X is None:
            network_X = deskewed_inputs(X, _inputs(X.shape[1]), run.config)
        y_codes = np.searchsorted(self.classes_, y)
        lr = run.learning_rate()
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, by name
            sum_loss, hits = run.epoch(self._scaling.apply(network_X, dtype=run.config.dtype), run.targets(y_codes), y_codes)
        run.release_data()
        if not np.isfinite(sum_loss):
            raise ValueError(f"training diverged (the loss became NaN or infinite); lower lr (now {run.config.lr})")
        h.loss.append(sum_loss / len(X))
        h.accuracy.append(hits / len(X))
        h.error.append(sum_loss / len(X))
        h.lr.append(lr)
        params = {name: w.copy() for name, w in run.kept_params().items()}
        self._learnt(Model(params, run.config, self._scaling, h, np.empty(0, np.int64), {"kind": "arrays"},
                           _inputs(X.shape[1])))
        return self

    def _learnt(self, model: Model) -> None:
        history = model.history
        self.model_ = model
        self.loss_curve_ = list(history.loss)
        self.validation_scores_ = list(history.val_accuracy)
        self.best_epoch_ = history.best_epoch
        self.n_iter_ = history.epochs

    def file_contents(self) -> tuple[Model, dict]:
        """What ``digitnet.save`` writes: the model, and the labels and feature names it was fitted with."""
        from .persistence import classes_info

        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        return self.model_, classes_info(self.classes_, None if names is None else [str(n) for n in names])

    @classmethod
    def from_file_contents(cls, model: Model, info: dict) -> DigitNetClassifier:
        """The fitted estimator that ``file_contents`` described (what ``digitnet.load`` returns)."""
        params = model.config.to_dict()
        params["random_state"] = params.pop("seed")
        estimator = cls(**params)
        estimator.classes_ = np.array(info["classes"], dtype=np.dtype(info["classes_dtype"]))
        if len(estimator.classes_) != model.n_classes:
            raise ValueError(f"{len(estimator.classes_)} class labels for a network of {model.n_classes} outputs")
        estimator.n_features_in_ = model.n_inputs
        if info.get("feature_names") is not None:
            estimator.feature_names_in_ = np.array(info["feature_names"], dtype=object)
        estimator._run = None
        estimator._learnt(model)
        return estimator

    def predict_proba(self, X):
        """Class probabilities (n, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        try:
            return self.model_.predict_proba(X).astype(np.float64)
        except DataError as e:
            raise ValueError(str(e)) from None

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        P = self.predict_proba(X)
        return self.classes_[P.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _inputs(n_features: int) -> Inputs:
    """Plain features; square images when their number is a square (what ``augment`` and the other
    augmentations need to move them)."""
    side = math.isqrt(n_features)
    return Inputs(n_features, (side, side) if side * side == n_features and side > 1 else None)
