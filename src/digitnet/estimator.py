"""``DigitNetClassifier``: digitnet as a scikit-learn estimator, a thin adapter over Config and the trainer.

Parameters are :class:`~digitnet.config.Config`'s fields, with the same names and defaults
(``random_state`` stands for ``seed``); ``test_size`` and ``stratify`` only matter to
``digitnet.train``'s own test split: the estimator trains on what it is given, less the
validation split that early stopping uses. Class labels may be anything ``np.unique`` sorts
(strings, non-contiguous integers); inputs any finite numbers (the estimator learns its scaling).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .config import Config
from .data import Dataset, Inputs
from .errors import DataError
from .pipeline import fit_model


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
        lr=0.02,
        schedule="cosine",
        batch_size=64,
        epochs=16,
        shuffle=True,
        l2=1e-4,
        label_smoothing=0.1,
        input_noise=0.0,
        tol=None,
        patience=5,
        val_fraction=0.1,
        recipe="modern",
        scaling="standard",
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
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.l2 = l2
        self.label_smoothing = label_smoothing
        self.input_noise = input_noise
        self.tol = tol
        self.patience = patience
        self.val_fraction = val_fraction
        self.recipe = recipe
        self.scaling = scaling
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
        return Config(**params, seed=seed)

    def fit(self, X, y):
        """Fit on X (n, d) of finite numbers with class labels y (n,)."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"DigitNetClassifier needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})")
        config = self.config()
        data = Dataset(X, y_codes, {"kind": "arrays"}, Inputs(X.shape[1]), len(self.classes_))
        try:
            model = fit_model(data, config)
        except DataError as e:
            if config.val_fraction == 0 or "training and validation" not in str(e):
                raise ValueError(str(e)) from None
            # too few samples of some class for a validation split: train on all of them, without early stopping
            warnings.warn(f"{e}; training without a validation split", UserWarning, stacklevel=2)
            model = fit_model(data, Config(**{**config.to_dict(), "val_fraction": 0.0, "patience": None}))
        history = model.history
        if history.stop_reason == "diverged":
            raise ValueError(
                f"training diverged at epoch {history.epochs} (the loss became NaN or infinite); lower lr (now {config.lr})"
            )
        if history.stop_reason == "max_epochs" and model.config.patience and history.best_epoch == history.epochs:
            warnings.warn(
                f"the validation loss was still falling after the last of {config.epochs} epochs; "
                "more epochs may help", ConvergenceWarning, stacklevel=2,
            )
        self.model_ = model
        self.loss_curve_ = list(history.loss)
        self.validation_scores_ = list(history.val_accuracy)
        self.best_epoch_ = history.best_epoch
        self.n_iter_ = history.epochs
        return self

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
