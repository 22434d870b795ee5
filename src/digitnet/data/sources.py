"""Where training data come from, as ``--data`` names them, and how a model finds its test split again.

- nothing: scikit-learn's embedded 8x8 digits;
- ``FILE.csv`` (any file): rows of pixels then the label (:func:`.csv.load_csv`);
- ``mnist:DIR``, or a ``DIR`` holding them: MNIST's four IDX files (or EMNIST-digits', Fashion-MNIST's; the
  names read: :func:`.idx.find_mnist_files`), with the official test split (the ``t10k``/``test`` files);
- ``images:DIR``: one sub-folder per class (named 0, 1, ...) of PNG/JPEG/TIFF pictures, each turned into
  a 28x28 input by :func:`digitnet.preprocess.to_input` (MNIST's recipe); ``images8:DIR`` into 8x8 (optdigits').

A model file records where its data came from (kind, path, size and SHA-256 of the files): untrusted, since
anyone can write a model file whose checksum matches. :func:`held_out` reads a recorded path again only as
regular files of the recorded sizes, hashed as they are read, and stops at the recorded size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError, NoTestDataError
from ..files import Recorded
from .csv import load_csv, read_labelled_csv
from .dataset import Dataset
from .embedded import load_digits
from .idx import MNIST_CLASSES, find_mnist_files, load_mnist, read_mnist_source
from .images import IMAGE_INPUTS, IMAGE_SUFFIXES, class_folders, load_image_folder, read_image_folder

if TYPE_CHECKING:
    from ..model import Model


@dataclass(frozen=True)
class Spec:
    """What ``--data`` names: ``kind`` ("embedded", "csv", "mnist", "images", "images8") and a path."""

    kind: str
    path: Path | None = None


def parse(spec: str | Path | None) -> Spec:
    """The kind and path that ``spec`` names (see the module's docstring); nothing is read."""
    if spec is None:
        return Spec("embedded")
    text = str(spec)
    kind, sep, rest = text.partition(":")
    if sep and kind == "mnist":
        return Spec("mnist", Path(rest))
    if sep and kind in IMAGE_INPUTS:
        return Spec(kind, Path(rest))
    path = Path(text)
    if path.is_dir():
        if find_mnist_files(path):
            return Spec("mnist", path)
        raise DataError(f"{path}: a directory without MNIST's IDX files; for a folder of pictures "
                        f"use --data images:{path} (one sub-folder per class)")
    return Spec("csv", path)


def load_data(spec: str | Path | None) -> Dataset:
    """The data set ``spec`` names (see the module's docstring)."""
    where = parse(spec)
    if where.kind == "embedded":
        return load_digits()
    if where.kind == "mnist":
        return load_mnist(where.path)
    if where.kind in IMAGE_INPUTS:
        return load_image_folder(where.path, IMAGE_INPUTS[where.kind])
    return load_csv(where.path)


def input_files(spec: str | Path | None) -> list[Path]:
    """The files that loading ``spec`` reads (what a command must not overwrite); [] for the embedded digits, or
    where ``spec`` names nothing readable (loading it will say what is wrong)."""
    try:
        where = parse(spec)
    except DataError:
        return []
    return _files(where.kind, where.path)


def recorded_files(model: Model) -> list[Path]:
    """The files that :func:`held_out` would read again for ``model`` without ``--data``."""
    source = model.data_source
    kind, path = source.get("kind"), source.get("path")
    if kind not in ("csv", "mnist", "images") or not path:
        return []
    return _files(source.get("inputs", "images") if kind == "images" else kind, Path(path))


def _files(kind: str, path: Path | None) -> list[Path]:
    try:
        if kind == "csv":
            return [path]
        if kind == "mnist":
            return list((find_mnist_files(path) or {}).values())
        if kind in IMAGE_INPUTS and path.is_dir():
            return [p for _, folder in class_folders(path) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    except (DataError, OSError):
        pass
    return []


def held_out(model: Model, data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Data to score ``model`` on: the data set ``data`` names (its official test split when it has
    one, else all of it, of any number of classes), or else the model's own held-out test split.

    Returns raw inputs, labels, and a description of where they came from. The split is found again
    from the model file: its data source, read again only as regular files of the recorded sizes and
    SHA-256 (NoTestDataError, saying why, otherwise), and its test indices.
    """
    if data is not None:
        return _scoring_data(model, data)
    if len(model.test_indices) == 0:
        raise NoTestDataError("the model has no held-out test split (it was fitted on all its data)")
    source = model.data_source
    kind, path = source.get("kind"), source.get("path")
    if kind == "sklearn-digits":
        dataset = load_digits()
        X, y = dataset.X, dataset.y
        where = "held-out test split of the embedded digits"
    elif kind in ("csv", "mnist", "images") and path:
        try:
            X, y = _read_recorded(model, kind, Path(path), source)
        except DataError as e:
            raise NoTestDataError(f"cannot find the model's test split again: {e}") from None
        where = f"{'official' if kind == 'mnist' else 'held-out'} test split of {path}"
    else:
        raise NoTestDataError("the model does not record where its training data came from")
    if model.test_indices.max() >= len(y):
        raise NoTestDataError("the model's test split does not fit its training data")
    return X[model.test_indices], y[model.test_indices], where


def _read_recorded(model: Model, kind: str, path: Path, source: dict) -> tuple[np.ndarray, np.ndarray]:
    """The recorded data, read as :class:`~digitnet.files.Recorded` files only."""
    sha256, size = source.get("sha256"), source.get("size")
    if kind == "mnist":
        if not isinstance(sha256, dict):
            raise DataError(f"{path}: the model records no SHA-256 of its files")
        sizes = size if isinstance(size, dict) else {}
        X, y, *_ = read_mnist_source(path, {name: Recorded(h, sizes.get(name)) for name, h in sha256.items()})
        return X, y
    if not isinstance(sha256, str) or not (size is None or isinstance(size, int)):
        raise DataError(f"{path}: the model records no SHA-256 of it")
    if kind == "csv":
        X, y, _ = read_labelled_csv(path, inputs=model.inputs, n_classes=model.n_classes, recorded=Recorded(sha256, size))
    else:
        X, y, _ = read_image_folder(path, IMAGE_INPUTS[source.get("inputs", "images")], Recorded(sha256, size))
    return X, y


def _scoring_data(model: Model, data: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """The data set ``data`` names, as arrays (one class is enough to be scored on): its official test split
    when it has one, else all of it."""
    where, text = parse(data), str(data)
    test_rows = None
    if where.kind == "embedded":  # not reachable from a string; kept for completeness
        dataset = load_digits()
        X, y, inputs, n_classes = dataset.X, dataset.y, dataset.inputs, dataset.n_classes
    elif where.kind == "mnist":
        X, y, _, inputs, test_rows = read_mnist_source(where.path)
        n_classes = MNIST_CLASSES
    elif where.kind in IMAGE_INPUTS:
        inputs = IMAGE_INPUTS[where.kind]
        X, y, _ = read_image_folder(where.path, inputs)
        n_classes = int(y.max()) + 1
    else:
        inputs, n_classes = model.inputs, _class_numbers(model, text)
        X, y, _ = read_labelled_csv(where.path, inputs=inputs, n_classes=n_classes)
    if inputs.n_features != model.n_inputs:
        raise DataError(f"{text} has {inputs.describe()}; the model takes {model.inputs.describe()}")
    y = _as_outputs(model, y, n_classes, text)
    if test_rows is not None:
        return X[test_rows], y[test_rows], f"official test split of {text}"
    return X, y, text


def _class_numbers(model: Model, where: str) -> int:
    """How many class numbers (0..n-1) a data set may use to label samples for ``model``."""
    classes = model.classes
    if classes is None:
        return model.n_classes
    if classes.dtype.kind not in "iu" or classes.min() < 0:
        shown = ", ".join(repr(c) for c in classes[:2].tolist())
        raise DataError(f"{where} labels its samples with class numbers, and this model was fitted with other labels: "
                        f"its classes are labels ({shown}, ...); score it in Python with DigitNetClassifier.score")
    return int(classes.max()) + 1


def _as_outputs(model: Model, y: np.ndarray, n_classes: int, where: str) -> np.ndarray:
    """Class numbers y as the model's output columns: themselves, or their places in ``model.classes``."""
    classes = model.classes
    if classes is None:
        if n_classes > model.n_classes and y.max() >= model.n_classes:
            raise DataError(f"{where} has samples of class {int(y.max())}; the model knows classes 0..{model.n_classes - 1}")
        return y
    _class_numbers(model, where)
    columns = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    unknown = classes[columns] != y
    if unknown.any():
        raise DataError(f"{where} has samples of class {int(y[unknown][0])}, which is not one of the model's classes "
                        f"{classes[:12].tolist()}")
    return columns
