"""Where training data come from, as ``--data`` names them, and how a model finds its test split again.

- nothing: scikit-learn's embedded 8x8 digits;
- ``FILE.csv`` (any file): rows of pixels then the label (:func:`.csv.load_csv`);
- ``mnist:DIR``, or a ``DIR`` holding them: MNIST's four IDX files (or EMNIST-digits', Fashion-MNIST's),
  with the official test split (the ``t10k`` files);
- ``images:DIR``: one sub-folder per class (named 0, 1, ...) of PNG/JPEG pictures, each turned into
  a 28x28 input by :func:`digitnet.preprocess.to_input` (MNIST's recipe); ``images8:DIR`` into 8x8 (optdigits');
- ``unipen:FILE`` (or ``FILE.gz``): pen strokes in the UNIPEN format, drawn as the page draws them
  (:mod:`.unipen`), 28x28; ``unipen8:FILE`` 8x8;
- ``digits``: the embedded 8x8 digits, by name (a CSV file called ``digits`` is ``./digits``);
- several of these (``--data`` repeated): one mix (:mod:`.mix`) in the FIRST one's input shape. Pictures and
  strokes are drawn in that shape; images of another shape are converted by the preprocessing, as
  pictures (MNIST's 28x28 become 8x8; the embedded 8x8 digits, enlarged, become 28x28). Each part keeps its
  own test split: MNIST's official test rows, whole writers of pen strokes, a seeded share of the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError, NoTestDataError
from .csv import load_csv
from .dataset import Dataset, Inputs
from .embedded import load_digits
from .idx import find_mnist_files, load_mnist
from .images import IMAGE_INPUTS, load_image_folder
from .mix import convert, join
from .unipen import load_unipen

PEN_INPUTS = {"unipen": IMAGE_INPUTS["images"], "unipen8": IMAGE_INPUTS["images8"]}
EMBEDDED = "digits"  # --data digits: the embedded digits

if TYPE_CHECKING:
    from ..model import Model


def load_data(spec: str | Path | Sequence[str | Path] | None, inputs: Inputs | None = None) -> Dataset:
    """The data set ``spec`` names, or the mix that several specs name (see the module's docstring).

    ``inputs``: bring it to this input shape (pictures and strokes drawn in it, images converted).
    """
    if isinstance(spec, (list, tuple)):
        if len(spec) > 1:
            first = load_data(spec[0], inputs)
            return join([(_named(spec[0]), first)] + [(_named(s), load_data(s, first.inputs)) for s in spec[1:]])
        spec = spec[0] if spec else None
    text = "" if spec is None else str(spec)
    kind, sep, rest = text.partition(":")
    if sep and kind in IMAGE_INPUTS:
        return load_image_folder(rest, inputs or IMAGE_INPUTS[kind])
    if sep and kind in PEN_INPUTS:
        return load_unipen(rest, inputs or PEN_INPUTS[kind])
    if spec is None or text == EMBEDDED:
        data = load_digits()
    elif sep and kind == "mnist":
        data = load_mnist(rest)
    elif Path(text).is_dir():
        if not find_mnist_files(text):
            raise DataError(f"{text}: a directory without MNIST's IDX files; for a folder of pictures "
                            f"use --data images:{text} (one sub-folder per class)")
        data = load_mnist(text)
    else:
        data = load_csv(text)
    return data if inputs is None else convert(data, inputs, text or EMBEDDED)


def _named(spec: str | Path) -> str:
    """The path a spec names, as written (``mnist:../data`` -> ``../data``)."""
    kind, sep, rest = str(spec).partition(":")
    return rest if sep and kind in ("mnist", *IMAGE_INPUTS, *PEN_INPUTS) else str(spec)


def _spec(part: dict) -> str:
    """The ``--data`` spec that reads a (mix's part's) recorded source again."""
    kind, path = part.get("kind"), part.get("path")
    if kind == "sklearn-digits":
        return EMBEDDED
    if kind in ("mnist", "images", "unipen") and path:
        return f"{part.get('inputs', kind) if kind != 'mnist' else kind}:{path}"
    if kind == "csv" and path:
        return path
    raise NoTestDataError(f"the model's training data ({kind} data) cannot be read again")


def _reload(source: dict, model: Model) -> tuple[Dataset, str]:
    """The pen strokes or the mix a model was trained on, read again and checked against its recorded SHA-256s."""
    parts = source.get("parts") if source.get("kind") == "mix" else [source]
    if not parts:
        raise NoTestDataError("the model's mix of training data names no data sets")
    specs = [_spec(part) for part in parts]
    try:
        dataset = load_data(specs, model.inputs)
    except DataError:
        raise NoTestDataError(f"the model was trained on {', '.join(specs)}, which cannot be read now") from None
    now = dataset.source.get("parts") if len(specs) > 1 else [dataset.source]
    for spec, part, was in zip(specs, now, parts):
        if part.get("sha256") != was.get("sha256") or part.get("rows", len(dataset.y)) != was.get("rows", len(dataset.y)):
            raise NoTestDataError(f"the model was trained on {spec}, which has changed since")
    return dataset, f"held-out test split of {' + '.join(specs)}"


def held_out(model: Model, data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Data to score ``model`` on: the data set ``data`` names (its official test split when it has
    one, else all of it), or else the model's own held-out test split.

    Returns raw inputs, labels, and a description of where they came from. The split is found
    again from the model file: its data source (checked by SHA-256) and test indices.
    """
    if data is not None:
        text = str(data)
        dataset = load_data(data, model.inputs) if (":" in text or Path(text).is_dir() or text == EMBEDDED) else \
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
    elif kind in ("unipen", "mix"):
        dataset, where = _reload(source, model)
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
