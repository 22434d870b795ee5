"""Where training data come from, as ``--data`` names them, and how a model finds its test split again.

- nothing: scikit-learn's embedded 8x8 digits;
- ``FILE.csv`` (any file): rows of pixels then the label (:func:`.data.load_csv`);
- ``mnist:DIR``, or a ``DIR`` holding them: MNIST's four IDX files (or EMNIST-digits', Fashion-MNIST's),
  with the official test split (the ``t10k`` files);
- ``images:DIR``: one sub-folder per class (named 0, 1, ...) of PNG/JPEG pictures, each turned into
  a 28x28 input by :func:`.preprocess.to_input` (MNIST's recipe); ``images8:DIR`` into 8x8 (optdigits').
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data import OPTDIGITS, Dataset, Inputs, load_csv, load_digits
from .errors import DataError, NoTestDataError

if TYPE_CHECKING:
    from .model import Model

MNIST_RANGE = (0.0, 255.0)
IMAGE_INPUTS = {"images": Inputs(784, (28, 28), MNIST_RANGE), "images8": OPTDIGITS}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


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
        from .idx import find_mnist_files

        if find_mnist_files(path):
            return load_mnist(path)
        raise DataError(f"{path}: a directory without MNIST's IDX files; for a folder of pictures "
                        f"use --data images:{path} (one sub-folder per class)")
    return load_csv(path)


def load_mnist(directory: str | Path) -> Dataset:
    """MNIST's IDX files in ``directory``: 60,000 training then 10,000 test images, 28x28, 0..255 (uint8)."""
    from .idx import MNIST_CLASSES, read_mnist

    directory = Path(directory)
    X, y, shape, n_train, hashes = read_mnist(directory)
    inputs = Inputs(shape[0] * shape[1], shape, MNIST_RANGE)
    source = {"kind": "mnist", "path": str(directory.resolve()), "sha256": hashes}
    return Dataset(X, y, source, inputs, MNIST_CLASSES, test_rows=np.arange(n_train, len(y)))


def load_image_folder(directory: str | Path, inputs: Inputs = IMAGE_INPUTS["images"]) -> Dataset:
    """Pictures in one sub-folder per class (named 0, 1, ...), each preprocessed to ``inputs``."""
    from .preprocess import ink_from_image, to_input

    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such directory (expected one sub-folder of pictures per class)")
    folders = sorted(p for p in directory.iterdir() if p.is_dir())
    if not folders:
        raise DataError(f"{directory}: no sub-folders; put each class's pictures in a folder named after it (0, 1, ...)")
    bad = [p.name for p in folders if not p.name.isdigit()]
    if bad:
        raise DataError(f"{directory}: sub-folder {bad[0]!r} is not a class number; name them 0, 1, 2, ...")
    rows, labels, digest, size, first = [], [], hashlib.sha256(), None, None
    for folder in sorted(folders, key=lambda p: int(p.name)):
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            data = _read(path)
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
            try:
                ink = ink_from_image(data)  # (height, width)
            except DataError as e:
                raise DataError(f"{path}: {e}") from None
            if size is None:
                size, first = ink.shape, path
            elif ink.shape != size:
                raise DataError(f"{path}: {ink.shape[1]}x{ink.shape[0]} pixels, but {first.name} is "
                                f"{size[1]}x{size[0]}; a folder holds pictures of one size")
            x = to_input(ink, inputs)
            if x is None:
                raise DataError(f"{path}: no digit found (blank, or the ink is too small)")
            rows.append(x)
            labels.append(int(folder.name))
    if not rows:
        raise DataError(f"{directory}: no PNG or JPEG pictures in its sub-folders")
    X = np.asarray(rows, dtype=np.float32)
    n_classes = max(labels) + 1
    source = {"kind": "images", "path": str(directory.resolve()), "sha256": digest.hexdigest(),
              "inputs": "images" if inputs.image_shape != OPTDIGITS.image_shape else "images8"}
    return Dataset(X, np.asarray(labels), source, inputs, max(n_classes, 2))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None


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
