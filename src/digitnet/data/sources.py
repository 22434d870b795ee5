"""Where training data come from, as ``--data`` names them, and how a model finds its test split again.

- nothing, or ``digits``: scikit-learn's embedded 8x8 digits (a CSV file called ``digits`` is ``./digits``);
- ``FILE.csv`` (any file): rows of pixels then the label (:func:`.csv.load_csv`);
- ``mnist:DIR``, or a ``DIR`` holding them: MNIST's four IDX files (or EMNIST-digits', Fashion-MNIST's; the
  names read: :func:`.idx.find_mnist_files`), with the official test split (the ``t10k``/``test`` files);
- ``images:DIR``: one sub-folder per class (named 0, 1, ...) of PNG/JPEG/TIFF pictures, each turned into
  a 28x28 input by :func:`digitnet.preprocess.to_input` (MNIST's recipe); ``images8:DIR`` into 8x8 (optdigits');
- ``unipen:FILE`` (or ``FILE.gz``): pen strokes in the UNIPEN format, drawn as the page draws them
  (:mod:`.unipen`), 28x28; ``unipen8:FILE`` 8x8;
- several of these (``--data`` repeated): one mix (:mod:`.mix`) in the FIRST one's input shape. Pictures and
  strokes are drawn in that shape; images of another shape are converted by the preprocessing, as
  pictures (MNIST's 28x28 become 8x8; the embedded 8x8 digits, enlarged, become 28x28). Each part keeps its
  own test split: MNIST's official test rows, whole writers of pen strokes, a seeded share of the rest.

A model file records where its data came from (kind, path, size and SHA-256 of the files; a mix, each of its
parts): untrusted, since anyone can write a model file whose checksum matches. :func:`held_out` reads a
recorded path again only as regular files of the recorded sizes, hashed as they are read, and stops at the
recorded size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError, NoTestDataError
from ..files import Recorded
from .csv import load_csv, read_labelled_csv
from .dataset import OPTDIGITS, OPTDIGITS_CLASSES, Dataset, Inputs
from .embedded import load_digits
from .idx import MNIST_CLASSES, find_mnist_files, read_mnist_source
from .images import IMAGE_INPUTS, IMAGE_SUFFIXES, class_folders, read_image_folder
from .mix import MAX_PARTS, convert, join
from .unipen import load_unipen

PEN_INPUTS = {"unipen": IMAGE_INPUTS["images"], "unipen8": IMAGE_INPUTS["images8"]}
EMBEDDED = "digits"  # --data digits: the embedded digits

if TYPE_CHECKING:
    from ..model import Model


@dataclass(frozen=True)
class Spec:
    """What one ``--data`` names: ``kind`` ("embedded", "csv", "mnist", "images", "images8", "unipen", "unipen8")
    and a path."""

    kind: str
    path: Path | None = None


def parse(spec: str | Path | None) -> Spec:
    """The kind and path that one ``spec`` names (see the module's docstring); nothing is read. A leading ``~`` in
    any kind's path is the home folder, as a shell would expand it. DataError: an empty spec or path."""
    if spec is None or str(spec) == EMBEDDED:
        return Spec("embedded")
    text = str(spec)
    if not text.strip():
        raise DataError(f"--data {text!r}: empty; give a CSV file, mnist:DIR, images:DIR, unipen:FILE or {EMBEDDED}")
    kind, sep, rest = text.partition(":")
    if sep and (kind == "mnist" or kind in IMAGE_INPUTS or kind in PEN_INPUTS):
        if not rest.strip():
            raise DataError(f"--data {text!r}: no path after the colon (write {kind}:{'FILE' if kind in PEN_INPUTS else 'DIR'})")
        return Spec(kind, _expand(rest))
    path = _expand(text)
    if path.is_dir():
        if find_mnist_files(path):
            return Spec("mnist", path)
        raise DataError(f"{path}: a directory without MNIST's IDX files; for a folder of pictures "
                        f"use --data images:{path} (one sub-folder per class)")
    return Spec("csv", path)


def _expand(text: str) -> Path:
    """The path ``text`` names, ``~`` and ``~user`` expanded; DataError for an unknown user."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # ~nobody-here: pathlib cannot find that home folder
        raise DataError(f"--data {text}: no such user's home folder") from None


def load_data(spec: str | Path | Sequence[str | Path] | None, inputs: Inputs | None = None) -> Dataset:
    """The data set ``spec`` names, or the mix that several specs name (see the module's docstring).

    ``inputs``: bring it to this input shape (pictures and strokes drawn in it, images converted).
    Raises DataError naming the file and what is wrong with it.
    """
    if isinstance(spec, (list, tuple)):
        if len(spec) > 1:
            if len(spec) > MAX_PARTS:  # said before any is read
                raise DataError(f"a mix joins 2 to {MAX_PARTS} data sets; got {len(spec)}")
            _refuse_repeats(spec)
            first = load_data(spec[0], inputs)
            return join([(_named(spec[0]), first)] + [(_named(s), load_data(s, first.inputs)) for s in spec[1:]])
        spec = spec[0] if spec else None
    return _read(parse(spec), inputs, where=str(spec) if spec is not None else EMBEDDED)


def _refuse_repeats(specs: Sequence[str | Path | None]) -> None:
    """DataError when two specs name the same data (the same kind and file or folder): a mix would hold each of
    its digits twice, once perhaps in training and once in the test split."""
    seen: dict[tuple, str] = {}
    for spec in specs:
        where = parse(spec)
        key = (where.kind, where.path.resolve() if where.path is not None else None)
        if key in seen:
            raise DataError(f"--data {spec} names the same data as --data {seen[key]}: give each source once")
        seen[key] = str(spec)


def _read(spec: Spec, inputs: Inputs | None, where: str, recorded: Recorded | dict[str, Recorded] | None = None) -> Dataset:
    """One data set, brought to ``inputs`` when given; ``recorded``: read only as a model recorded it."""
    if spec.kind in IMAGE_INPUTS:
        shape = inputs or IMAGE_INPUTS[spec.kind]
        X, y, source = read_image_folder(spec.path, shape, recorded)
        try:
            return Dataset(X, y, source, shape, int(y.max()) + 1)
        except DataError as e:
            raise DataError(f"{spec.path}: {e}") from None
    if spec.kind in PEN_INPUTS:
        return load_unipen(spec.path, inputs or PEN_INPUTS[spec.kind], recorded)
    if spec.kind == "embedded":
        data = load_digits()
    elif spec.kind == "mnist":
        X, y, source, shape, test_rows = read_mnist_source(spec.path, recorded)
        data = Dataset(X, y, source, shape, MNIST_CLASSES, test_rows=test_rows)
    elif recorded is None:
        data = load_csv(spec.path)
    else:
        X, y, source = read_labelled_csv(spec.path, inputs=OPTDIGITS, n_classes=OPTDIGITS_CLASSES, recorded=recorded)
        data = Dataset(X, y, source, OPTDIGITS, OPTDIGITS_CLASSES)
    return data if inputs is None else convert(data, inputs, where)


def _named(spec: str | Path) -> str:
    """The path a spec names, as written (``mnist:../data`` -> ``../data``)."""
    kind, sep, rest = str(spec).partition(":")
    return rest if sep and kind in ("mnist", *IMAGE_INPUTS, *PEN_INPUTS) else str(spec)


def input_files(spec: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """The files that loading ``spec`` (one, or several) reads (what a command must not overwrite); [] for the
    embedded digits, or where ``spec`` names nothing readable (loading it will say what is wrong)."""
    if isinstance(spec, (list, tuple)):
        return [path for one in spec for path in input_files(one)]
    try:
        where = parse(spec)
    except DataError:
        return []
    return _files(where.kind, where.path)


def recorded_files(model: Model) -> list[Path]:
    """The files that :func:`held_out` would read again for ``model`` without ``--data``."""
    source = model.data_source
    parts = source.get("parts") if source.get("kind") == "mix" else [source]
    files = []
    for part in parts or []:
        try:
            spec = _recorded_spec(part)
        except NoTestDataError:
            continue
        files += _files(spec.kind, spec.path)
    return files


def _files(kind: str, path: Path | None) -> list[Path]:
    try:
        if kind in ("csv", *PEN_INPUTS):
            return [path]
        if kind == "mnist":
            return list((find_mnist_files(path) or {}).values())
        if kind in IMAGE_INPUTS and path.is_dir():
            return [p for _, folder in class_folders(path) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    except (DataError, OSError):
        pass
    return []


def _recorded_spec(part: dict) -> Spec:
    """The spec that reads a (mix's part's) recorded source again."""
    kind, path = part.get("kind"), part.get("path")
    if kind == "sklearn-digits":
        return Spec("embedded")
    if kind in ("mnist", "csv") and path:
        return Spec(kind, Path(path))
    if kind in ("images", "unipen") and path:
        shape = part.get("inputs", kind)
        return Spec(shape if shape in (IMAGE_INPUTS if kind == "images" else PEN_INPUTS) else kind, Path(path))
    raise NoTestDataError(f"the model's training data ({kind} data) cannot be read again")


def _recorded(part: dict) -> Recorded | dict[str, Recorded]:
    """What a model recorded of a part's files (untrusted): their SHA-256s and sizes, checked for their types."""
    sha256, size = part.get("sha256"), part.get("size")
    if part.get("kind") == "mnist":
        if not isinstance(sha256, dict):
            raise DataError(f"{part.get('path')}: the model records no SHA-256 of its files")
        sizes = size if isinstance(size, dict) else {}
        return {name: Recorded(h, sizes.get(name)) for name, h in sha256.items()}
    if not isinstance(sha256, str) or not (size is None or isinstance(size, int)):
        raise DataError(f"{part.get('path')}: the model records no SHA-256 of it")
    return Recorded(sha256, size)


def held_out(model: Model, data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Data to score ``model`` on: the data set ``data`` names (its official test split when it has
    one, else all of it, of any number of classes, brought to the model's input shape), or else the
    model's own held-out test split.

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
    elif kind in ("csv", "mnist", "images", "unipen", "mix") and (path or kind == "mix"):
        try:
            X, y, where = _read_recorded(model, source)
        except DataError as e:
            raise NoTestDataError(f"cannot find the model's test split again: {e}") from None
    else:
        raise NoTestDataError("the model does not record where its training data came from")
    if model.test_indices.max() >= len(y):
        raise NoTestDataError("the model's test split does not fit its training data")
    return X[model.test_indices], y[model.test_indices], where


def _read_recorded(model: Model, source: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """The recorded data, every file read as :class:`~digitnet.files.Recorded` only: (X, y, where)."""
    kind, path = source.get("kind"), source.get("path")
    if kind == "csv":  # a model's own CSV: its inputs and classes, whatever they are
        X, y, _ = read_labelled_csv(Path(path), inputs=model.inputs, n_classes=model.n_classes,
                                    recorded=_recorded(source))
        return X, y, f"held-out test split of {path}"
    if kind == "mnist":
        X, y, *_ = read_mnist_source(Path(path), _recorded(source))
        return X, y, f"official test split of {path}"
    if kind in ("images", "unipen"):
        data = _read(_recorded_spec(source), model.inputs, path, _recorded(source))
        return data.X, data.y, f"held-out test split of {path}"
    parts = source.get("parts")
    if not isinstance(parts, list) or len(parts) < 2:
        raise DataError("the model's mix of training data names no data sets")
    read = []
    for part in parts:
        spec = _recorded_spec(part)
        name = EMBEDDED if spec.kind == "embedded" else str(spec.path) if spec.kind == "csv" else f"{spec.kind}:{spec.path}"
        data = _read(spec, model.inputs, name, None if spec.kind == "embedded" else _recorded(part))
        if part.get("rows") is not None and part["rows"] != len(data.y):
            raise DataError(f"{name}: has {len(data.y):,} rows, not the {part['rows']:,} the model trained on")
        read.append((name, data))
    mix = join(read)
    return mix.X, mix.y, f"held-out test split of {' + '.join(name for name, _ in read)}"


def _scoring_data(model: Model, data: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """The data set ``data`` names, as arrays (one class is enough to be scored on) in the model's input shape:
    its official test split when it has one, else all of it."""
    where, text = parse(data), str(data)
    test_rows = None
    image_model = model.inputs.image_shape is not None and model.inputs.value_range is not None
    if where.kind == "csv":
        inputs, n_classes = model.inputs, _class_numbers(model, text)
        X, y, _ = read_labelled_csv(where.path, inputs=inputs, n_classes=n_classes)
    elif where.kind in IMAGE_INPUTS:  # drawn straight in the model's shape: no data set, so one class will do
        inputs = model.inputs if image_model else IMAGE_INPUTS[where.kind]
        X, y, _ = read_image_folder(where.path, inputs)
        n_classes = int(y.max()) + 1
    else:
        dataset = _read(where, model.inputs if image_model else None, text)
        X, y, inputs, n_classes, test_rows = dataset.X, dataset.y, dataset.inputs, dataset.n_classes, dataset.test_rows
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
