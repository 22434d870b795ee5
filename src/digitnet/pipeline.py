"""The training pipeline: split the data, scale the inputs, fit the network, score it on the held-out split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .config import Config
from .data import Dataset, fit_scaling, load_digits, split
from .metrics import scores
from .model import Model
from .trainer import History, fit


def train(
    data: Dataset | None = None,
    config: Config | None = None,
    *,
    callback: Callable[[History], None] | None = None,
    split_indices: tuple[np.ndarray, np.ndarray] | None = None,
) -> Model:
    """Split ``data`` (default: the embedded digits), scale, train, and score on the held-out test split.

    The test split is the data set's own when it has one (``data.test_rows``), else a seeded random one,
    whole writers held out when the rows have writers (``data.groups``); joined data sets part by part
    (:meth:`Dataset.split_rows`).

    The split, the initial weights, the shuffles and the dropout masks all follow
    ``config.seed``: the same seed gives the same model, bit for bit.
    ``split_indices`` = (train rows, test rows) replaces the seeded split (cross-validation uses it).
    """
    data = data if data is not None else load_digits()
    config = config if config is not None else Config()
    if split_indices is None:  # an official split (MNIST's t10k files), by writer, or seeded at random
        split_indices = data.split_rows(config.test_size, config.seed, stratify=config.stratify)
    train_idx, test_idx = (np.asarray(i) for i in split_indices)
    model = dataclasses.replace(fit_model(data, config, train_idx, callback=callback), test_indices=test_idx)
    with np.errstate(all="ignore"):  # a diverged network's NaN outputs score as wrong
        P = model.predict_proba(data.X[test_idx])
        metrics = scores(P, data.y[test_idx])
        if data.parts is not None:
            metrics["parts"] = _part_accuracies(data, test_idx, P)
    return dataclasses.replace(model, metrics=metrics)


def _part_accuracies(data: Dataset, test_idx: np.ndarray, P: np.ndarray) -> dict[str, float]:
    """A mix's accuracy on each part's test rows, by the part's name ("mnist:DIR", "unipen:FILE", "digits")."""
    bounds = np.cumsum((0, *data.parts))
    names = [f"{p['kind']}:{p['path']}" if p.get("path") else "digits" if p["kind"] == "sklearn-digits" else p["kind"]
             for p in data.source.get("parts", [{"kind": "part"}] * len(data.parts))]
    correct = np.nan_to_num(P, nan=-np.inf).argmax(axis=1) == data.y[test_idx]
    part = np.searchsorted(bounds, test_idx, side="right") - 1
    return {name: float(correct[part == i].mean()) for i, name in enumerate(names) if np.any(part == i)}


def fit_model(
    data: Dataset, config: Config, rows: np.ndarray | None = None, *, callback: Callable[[History], None] | None = None
) -> Model:
    """Fit a network on ``rows`` of ``data`` (default: all of it), less a validation split when
    ``config.val_fraction`` > 0; the inputs are scaled with statistics of the rows it fits on.
    The model has no test split and no test metrics: ``train`` adds them, cross-validation scores it itself."""
    train_idx = np.arange(len(data.y)) if rows is None else np.asarray(rows)
    fit_idx, val_idx = train_idx, train_idx[:0]
    if config.val_fraction > 0:
        fit_idx, val_idx = split(data.y[train_idx], config.val_fraction, config.seed, stratify=config.stratify,
                                 parts=f"training and validation (val_fraction {config.val_fraction})")
        fit_idx, val_idx = train_idx[fit_idx], train_idx[val_idx]
    # the post scales with the mean and variance of the whole data set, test split included
    scaling = fit_scaling(data.X if config.scaling == "blog" else data.X[fit_idx], config.scaling)
    params, history = fit(
        scaling.apply(data.X, config.dtype, fit_idx),  # what fit trains on: no float64 copy of the data
        data.y[fit_idx],
        config,
        np.random.default_rng(config.seed),
        n_classes=data.n_classes,
        X_val=scaling.apply(data.X, config.dtype, val_idx),
        y_val=data.y[val_idx],
        n_total=len(data.y),
        callback=callback,
        image_shape=data.inputs.image_shape,
    )
    return Model(params, config, scaling, history, np.empty(0, np.int64), data.source, data.inputs)
