"""A trained model: weights plus everything needed to use and re-evaluate them; ``train`` builds one."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import network
from .config import Config
from .data import Dataset, Scaling, check_pixels, fit_scaling, load_digits, split
from .metrics import Evaluation, evaluate
from .network import Params
from .trainer import History, fit


@dataclass(frozen=True)
class Model:
    """A network with its config, input scaling, training history, and the split it was tested on.

    ``predict`` and ``predict_proba`` take RAW pixels (n, 64) in 0..16: the model scales them itself.
    """

    params: Params
    config: Config
    scaling: Scaling
    history: History
    test_indices: np.ndarray  # (n_test,) rows of the training data set held out for testing
    data_source: dict = field(default_factory=lambda: {"kind": "sklearn-digits"})
    image_shape: tuple[int, int] = (8, 8)
    pixel_max: int = 16
    metrics: dict = field(default_factory=dict)  # test-split scores measured after training

    @property
    def n_inputs(self) -> int:
        return self.params["W1"].shape[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 10) for raw pixels X (n, 64)."""
        X = check_pixels(X, self.image_shape, self.pixel_max)
        return network.predict_proba(self.params, self.scaling.apply(X).astype(self.config.dtype))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable digit (n,) for raw pixels X (n, 64)."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> Evaluation:
        """Scores on raw pixels X (n, 64) with labels y (n,)."""
        return evaluate(self.predict_proba(X), np.asarray(y))

    def is_finite(self) -> bool:
        return all(np.all(np.isfinite(w)) for w in self.params.values())


def train(
    data: Dataset | None = None,
    config: Config | None = None,
    *,
    callback: Callable[[History], None] | None = None,
    split_indices: tuple[np.ndarray, np.ndarray] | None = None,
) -> Model:
    """Split ``data`` (default: the embedded digits), scale, train, and score on the held-out test split.

    The split, the initial weights, the shuffles and the dropout masks all follow
    ``config.seed``: the same seed gives the same model, bit for bit.
    ``split_indices`` = (train rows, test rows) replaces the seeded split (cross-validation uses it).
    """
    data = data if data is not None else load_digits()
    config = config if config is not None else Config()
    if split_indices is None:
        split_indices = split(data.y, config.test_size, config.seed, stratify=config.stratify)
    train_idx, test_idx = (np.asarray(i) for i in split_indices)
    fit_idx, val_idx = train_idx, train_idx[:0]
    if config.val_fraction > 0:
        fit_idx, val_idx = split(data.y[train_idx], config.val_fraction, config.seed, stratify=config.stratify)
        fit_idx, val_idx = train_idx[fit_idx], train_idx[val_idx]
    # the post scales with the mean and variance of the whole data set, test split included
    scaling = fit_scaling(data.X if config.scaling == "blog" else data.X[fit_idx], config.scaling)
    X = scaling.apply(data.X)
    params, history = fit(
        X[fit_idx],
        data.y[fit_idx],
        config,
        np.random.default_rng(config.seed),
        X_val=X[val_idx],
        y_val=data.y[val_idx],
        n_total=len(data.y),
        callback=callback,
    )
    model = Model(params, config, scaling, history, test_idx, data.source, data.image_shape, data.pixel_max)
    with np.errstate(all="ignore"):  # a diverged network's NaN outputs score as wrong
        scores = model.evaluate(data.X[test_idx], data.y[test_idx])
    metrics = {"n_test": scores.n, "accuracy": scores.accuracy, "blog_score": scores.blog_score,
               "squared_error": scores.squared_error}
    return dataclasses.replace(model, metrics=metrics)
