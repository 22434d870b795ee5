"""Where training data come from, as ``--data`` names them, and how a model finds its test split again.

- nothing: scikit-learn's embedded 8x8 digits;
- ``FILE.csv`` (any file): rows of pixels then the label (:func:`.csv.load_csv`);
- ``mnist:DIR``, or a ``DIR`` holding them: MNIST's four IDX files (or EMNIST-digits', Fashion-MNIST's),
  with the official test split (the ``t10k`` files);
- ``images:DIR``: one sub-folder per class (named 0, 1, ...) of PNG/JPEG/TIFF pictures, each turned into
  a 28x28 input by :func:`digitnet.preprocess.to_input` (MNIST's recipe); ``images8:DIR`` into 8x8 (optdigits').
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError, NoTestDataError
from .csv import load_csv
from .dataset import Dataset
from .embedded import load_digits
from .idx import find_mnist_files, load_mnist
from .images import IMAGE_INPUTS, load_image_folder

if TYPE_CHECKING:
    from ..model import Model


def load_data(spec: str | Path | None) -> Dataset:
    """The data set ``spec`` names (see the module's docstring)."""
    if spec is None:
        return load_digits()
    text = str(spec)
    kind, sep, rest = text.partition(":")
    if sep and kind == "mnist":
        return load_mnist(rest)
    if sep and kind in IMAGE_INPUTS:
        return load_image_folder(rest, IMAGE_INPUTS[kind])
    path = Path(text)
    if path.is_dir():
        if find_mnist_files(path):
            return load_mnist(path)
        raise DataError(f"{path}: a directory without MNIST's IDX files; for a folder of pictures "
                        f"use --data images:{path} (one sub-folder per class)")
    return load_csv(path)


def held_out(model: Model, data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Data to score ``model`` on: the data set ``data`` names (its official test split when it has
    one, else all of it), or else the model's own held-out test split.

    Returns raw inputs, labels, and a description of where they came from. The split is found
    again from the model file: its data source (checked by SHA-256) and test indices.
    """
    if data is not None:
        text = str(data)
        dataset = load_data(data) if (":" in text or Path(text).is_dir()) else \
            load_csv(data, inputs=model.inputs, n_classes=model.n_classes)
        _check_compatible(model, dataset, text)
        if dataset.test_rows is not None:
            return dataset.X[dataset.test_rows], dataset.y[dataset.test_rows], f"official test split of {text}"
        return dataset.X, dataset.y, text
    source = model.data_source
    kind, path = source.get("kind"), source.get("path")
    if kind == "sklearn-digits":
        dataset = load_digits()
        where = "held-out test split of the embedded digits"
    elif kind in ("csv", "mnist", "images"):
        try:
            if kind == "csv":
                dataset = load_csv(path, inputs=model.inputs, n_classes=model.n_classes)
            elif kind == "mnist":
                dataset = load_mnist(path)
            else:
                dataset = load_image_folder(path, IMAGE_INPUTS[source.get("inputs", "images")])
        except DataError:
            raise NoTestDataError(f"the model was trained on {path}, which cannot be read now") from None
        if dataset.source["sha256"] != source.get("sha256"):
            raise NoTestDataError(f"the model was trained on {path}, which has changed since")
        where = f"{'official' if kind == 'mnist' else 'held-out'} test split of {path}"
    else:
        raise NoTestDataError("the model does not record where its training data came from")
    if len(model.test_indices) == 0:
        raise NoTestDataError("the model has no held-out test split (it was fitted on all its data)")
    if model.test_indices.max() >= len(dataset.y):
        raise NoTestDataError("the model's test split does not fit its training data")
    return dataset.X[model.test_indices], dataset.y[model.test_indices], where


def _check_compatible(model: Model, dataset: Dataset, where: str) -> None:
    if dataset.inputs.n_features != model.n_inputs:
        raise DataError(f"{where} has {dataset.inputs.describe()}; the model takes {model.inputs.describe()}")
    if dataset.n_classes > model.n_classes:
        raise DataError(f"{where} has {dataset.n_classes} classes; the model knows {model.n_classes}")
