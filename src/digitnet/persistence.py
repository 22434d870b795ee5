"""Model files: safetensors weights with JSON metadata, written atomically, loaded without running code.

Tensors: ``W1``, ``W2`` (and ``b1``, ``b2``), ``scaling.offset``, ``scaling.scale``,
``split.test_indices``. Metadata: ONE key, ``digitnet``, holding a JSON object with
``format`` = "digitnet", ``format_version``, ``digitnet_version``, ``architecture``,
``config``, ``scaling``, ``data``, ``history``, ``metrics``, ``temperature`` (the softmax's, from
calibration; absent in files before format 4: 1) and ``sha256``: a checksum of the
tensor bytes and of the rest of the metadata (safetensors checks neither). One key, because
safetensors writes several in hash order, and the same model must give the same bytes.
Loading checks the metadata against a strict schema (:class:`ModelInfo`) and every tensor's
name, dtype, shape and values, so a damaged or crafted file fails with one clear message.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save as st_save

from ._version import __version__
from .calibration import MAX_TEMPERATURE, MIN_TEMPERATURE
from .config import Config
from .data import Inputs, Scaling
from .errors import ConfigError, ModelFileError
from .files import write_atomic
from .model import Model
from .trainer import STOP_REASONS, History

FORMAT = "digitnet"
FORMAT_VERSION = 4  # 4: data sizes and a softmax temperature; 3: any inputs and classes; 2: the checksum covers the metadata too; 1: the tensors only
METADATA_KEY = "digitnet"
_WEIGHTS = ("W1", "W2", "b1", "b2")
_SHA256 = r"^[0-9a-f]{64}$"

__all__ = ["ModelInfo", "load", "load_model", "save", "to_bytes"]


class _Strict(BaseModel):
    # strict: no "16" for 16, no true for 1; extra="forbid": no unknown keys
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ArchitectureInfo(_Strict):
    n_inputs: PositiveInt
    n_hidden: PositiveInt
    n_outputs: int = Field(ge=2)  # the number of classes
    bias: bool
    activation: Literal["tanh"]
    output: Literal["softmax"]
    image_shape: tuple[PositiveInt, PositiveInt] | None  # the inputs are an image's pixels, row by row
    value_range: tuple[float, float] | None  # raw inputs accepted; null: any finite number


class ScalingInfo(_Strict):
    method: Literal["blog", "standard"]


Sha256 = Annotated[str, Field(pattern=_SHA256)]


class PartInfo(_Strict):
    kind: Literal["sklearn-digits", "csv", "arrays", "mnist", "images", "unipen"]
    path: str | None = None
    # one hash (csv, images, unipen: of the files read), or one per file (mnist: the four IDX files)
    sha256: Sha256 | dict[Annotated[str, Field(max_length=255)], Sha256] | None = None
    # bytes read, as sha256 (format 4; older files have none): the data are read again only at these sizes
    size: NonNegativeInt | dict[Annotated[str, Field(max_length=255)], NonNegativeInt] | None = None
    # images, unipen: the shape they were drawn in (sources.IMAGE_INPUTS, sources.PEN_INPUTS)
    inputs: Literal["images", "images8", "unipen", "unipen8"] | None = None
    rows: PositiveInt | None = None  # a mix's part: its number of rows


class DataInfo(PartInfo):
    kind: Literal["sklearn-digits", "csv", "arrays", "mnist", "images", "unipen", "mix"]
    parts: list[PartInfo] | None = Field(None, min_length=2, max_length=16)  # a mix (data.mix.join): its data sets


Curve = list[float | None]  # NaN and inf are stored as null


class HistoryInfo(_Strict):
    loss: Curve
    accuracy: Curve
    error: Curve
    val_loss: Curve
    val_accuracy: Curve
    lr: Curve
    stop_reason: Literal[tuple(STOP_REASONS)]  # type: ignore[valid-type]
    best_epoch: PositiveInt | None


class MetricsInfo(_Strict):
    n_test: NonNegativeInt
    accuracy: float = Field(ge=0, le=1)
    blog_score: float = Field(ge=0, le=1)
    squared_error: float | None = Field(ge=0)
    # a mix: the accuracy on each part's held-out rows (its official test rows, held-out writers ...)
    parts: dict[Annotated[str, Field(max_length=300)], Annotated[float, Field(ge=0, le=1)]] | None = \
        Field(None, max_length=16)


class EstimatorInfo(_Strict):
    """What a fitted DigitNetClassifier adds: its class labels and what its inputs were called."""

    classes: list[bool | int | float | str] = Field(min_length=2)
    classes_dtype: str = Field(pattern=r"^[<>|=]?[biufUO]\d*$")  # the NumPy dtype of classes_
    feature_names: list[str] | None = None


class ModelInfo(_Strict):
    """The metadata of a model file (format 4), as JSON."""

    format: Literal["digitnet"]
    format_version: int
    digitnet_version: str
    architecture: ArchitectureInfo
    config: dict[str, object]  # Config.from_dict checks every field
    scaling: ScalingInfo
    data: DataInfo
    history: HistoryInfo
    metrics: MetricsInfo | None  # null: no held-out test split (a scikit-learn estimator's model)
    estimator: EstimatorInfo | None = None
    # p = softmax(z2 / temperature): finite and within the range calibration fits it in
    temperature: float = Field(1.0, ge=MIN_TEMPERATURE, le=MAX_TEMPERATURE, allow_inf_nan=False)
    command: str | None = Field(None, max_length=4096)  # the command line that trained it
    sha256: str = Field(pattern=_SHA256)


def to_bytes(model: Model, estimator: dict | None = None) -> bytes:
    """The model file's content; the same model always gives the same bytes. ``estimator``: see EstimatorInfo."""
    if not model.is_finite():
        raise ModelFileError("refusing to save: the weights are not finite (training diverged); lower the learning rate")
    if not MIN_TEMPERATURE <= model.temperature <= MAX_TEMPERATURE:
        raise ModelFileError(f"refusing to save: the softmax temperature {model.temperature!r} is not in "
                             f"{MIN_TEMPERATURE:g}..{MAX_TEMPERATURE:g}")
    tensors = {name: np.ascontiguousarray(w) for name, w in model.params.items()}
    tensors["scaling.offset"] = np.ascontiguousarray(model.scaling.offset, dtype=np.float64)
    tensors["scaling.scale"] = np.ascontiguousarray(model.scaling.scale, dtype=np.float64)
    tensors["split.test_indices"] = np.ascontiguousarray(model.test_indices, dtype=np.int64)
    W1, W2 = model.params["W1"], model.params["W2"]
    info = {
        "architecture": {
            "n_inputs": W1.shape[0],
            "n_hidden": W1.shape[1],
            "n_outputs": W2.shape[1],
            "bias": "b1" in model.params,
            "activation": "tanh",
            "output": "softmax",
            "image_shape": list(model.inputs.image_shape) if model.inputs.image_shape else None,
            "value_range": list(model.inputs.value_range) if model.inputs.value_range else None,
        },
        "config": model.config.to_dict(),
        "scaling": {"method": model.scaling.method},
        "data": model.data_source,
        "history": json_safe(model.history.to_dict()),
        "metrics": json_safe(model.metrics) if model.metrics else None,
        "temperature": float(model.temperature),
    }
    if estimator is not None:
        info["estimator"] = estimator
    if model.command is not None:
        info["command"] = model.command
    info.update(format=FORMAT, format_version=FORMAT_VERSION, digitnet_version=__version__)
    info["sha256"] = _digest(tensors, info)
    return st_save(tensors, metadata={METADATA_KEY: json.dumps(info, sort_keys=True)})


def save(model, path: str | Path) -> Path:
    """Write a model file: safetensors weights and checked JSON metadata, atomically.

    Parameters
    ----------
    model : Model or DigitNetClassifier
        A trained model, or a fitted estimator (saved with its class labels and feature names); a
        Model with class labels (an estimator's network, as :func:`load_model` gives) is saved as one.
    path : str or Path
        Where to write, conventionally ``*.safetensors``. An existing file is replaced only by a whole one.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ModelFileError
        When the weights are not finite (training diverged): nothing is written.
    OutputFileError
        When ``path`` cannot be written (a directory, a device, read-only, no space left); nothing changes.
    TypeError
        For anything but a Model or a DigitNetClassifier.
    """
    return write_atomic(path, file_bytes(model))


def file_bytes(model) -> bytes:
    """What :func:`save` writes for ``model`` (a Model or a fitted DigitNetClassifier); its errors but OutputFileError."""
    if isinstance(model, Model):  # one with class labels is an estimator's network: its file says so
        return to_bytes(model, None if model.classes is None else classes_info(model.classes))
    from .estimator import DigitNetClassifier

    if not isinstance(model, DigitNetClassifier):
        raise TypeError(f"can save a digitnet Model or DigitNetClassifier, not {type(model).__name__}")
    return to_bytes(*model.file_contents())


def load(path: str | Path):
    """Read a model file written by :func:`save`. Runs no code: no pickle.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    Model or DigitNetClassifier
        What was saved. Files of older formats are upgraded on load.

    Raises
    ------
    ModelFileError
        For a missing, truncated, corrupted, crafted, foreign or newer-format file: its metadata is
        checked against a strict schema and its checksum, every tensor's name, dtype and shape.
    """
    model, info = _read(Path(path))
    if info.estimator is None:
        return model
    from .estimator import DigitNetClassifier

    try:
        return DigitNetClassifier.from_file_contents(model, info.estimator.model_dump())
    except ValueError as e:
        raise ModelFileError(f"{path}: corrupted or inconsistent model file: {_first_line(e)}") from None


def load_model(path: str | Path) -> Model:
    """Read any model file digitnet writes as a :class:`Model`: what ``train`` wrote, or the network of a
    DigitNetClassifier (``digitnet.save(estimator)``, ``sweep --save-best``), its class labels in
    ``Model.classes``. What the commands load: each of them takes every model file.
    Any other file raises :class:`ModelFileError`."""
    return _read(Path(path))[0]


def _read(path: Path) -> tuple[Model, ModelInfo]:
    """The model in the file at ``path`` and its checked metadata; ModelFileError for anything else."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a regular file (a device, pipe or socket), not a model file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        raise ModelFileError(f"{path}: not a readable model file (truncated or corrupted?): {_first_line(e)}") from None
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"{path}: a safetensors file, but not a digitnet model (no digitnet metadata)")
    try:
        info = json.loads(metadata[METADATA_KEY])
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise ValueError("format is not 'digitnet'")
        version = info.get("format_version")
        if type(version) is not int or version < 1:
            raise ValueError(f"format_version {version!r} is not a positive integer")
    except (ValueError, RecursionError) as e:
        raise ModelFileError(f"{path}: corrupted digitnet metadata: {_first_line(e)}") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written in model format {version} by digitnet {info.get('digitnet_version', '?')}; "
            f"this digitnet {__version__} reads format {FORMAT_VERSION} or older: upgrade digitnet"
        )
    # format 1 checksummed the tensors only
    if info.get("sha256") != _digest(tensors, info if version >= 2 else None):
        what = "the weights or the metadata do not" if version >= 2 else "the weights do not"
        raise ModelFileError(f"{path}: corrupted: {what} match the checksum stored in the file")
    try:
        text = metadata[METADATA_KEY] if version >= 3 else json.dumps(_upgrade(info))
        info = ModelInfo.model_validate_json(text)
        return _build(tensors, info), info
    except ValidationError as e:
        error = e.errors()[0]
        where = ".".join(str(part) for part in error["loc"])  # empty when the metadata as a whole is bad
        raise ModelFileError(f"{path}: corrupted or inconsistent model file: {where + ': ' if where else ''}"
                             f"{error['msg']}") from None
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        raise ModelFileError(f"{path}: corrupted or inconsistent model file: {_first_line(e)}") from None


def classes_info(classes: np.ndarray, feature_names: list[str] | None = None) -> dict:
    """The ``estimator`` entry of a model file (:class:`EstimatorInfo`) for these class labels and feature names."""
    return {
        "classes": [c.item() if isinstance(c, np.generic) else c for c in classes],
        "classes_dtype": classes.dtype.str if classes.dtype != object else "O",
        "feature_names": feature_names,
    }


def _upgrade(info: dict) -> dict:
    """Formats 1 and 2 described 8x8 images of pixels 0..pixel_max: as format 3 says it."""
    arch = info.get("architecture")
    if isinstance(arch, dict) and "pixel_max" in arch:
        arch = {**arch}
        pixel_max = arch.pop("pixel_max")
        arch["value_range"] = [0.0, float(pixel_max)] if type(pixel_max) is int else pixel_max
        info = {**info, "architecture": arch}
    return info


def _build(tensors: dict[str, np.ndarray], info: ModelInfo) -> Model:
    arch = info.architecture
    config = Config.from_dict(info.config)
    names = _WEIGHTS if arch.bias else _WEIGHTS[:2]
    expected = {
        "W1": (arch.n_inputs, arch.n_hidden),
        "W2": (arch.n_hidden, arch.n_outputs),
        "b1": (arch.n_hidden,),
        "b2": (arch.n_outputs,),
        "scaling.offset": (arch.n_inputs,),
        "scaling.scale": (arch.n_inputs,),
    }
    dtypes = {name: np.dtype(config.dtype) for name in names}
    dtypes.update({"scaling.offset": np.dtype(np.float64), "scaling.scale": np.dtype(np.float64),
                   "split.test_indices": np.dtype(np.int64)})
    unknown = set(tensors) - set(dtypes)
    if unknown:
        raise ValueError(f"unexpected tensor(s) {', '.join(sorted(unknown))}")
    for name, dtype in dtypes.items():
        if name not in tensors:
            raise ValueError(f"tensor {name!r} is missing")
        if tensors[name].dtype != dtype:
            raise ValueError(f"tensor {name!r} has dtype {tensors[name].dtype}, expected {dtype}")
        if name in expected and tensors[name].shape != expected[name]:
            raise ValueError(f"tensor {name!r} has shape {tensors[name].shape}, expected {expected[name]}")
    if arch.n_hidden != config.n_hidden or arch.bias != config.bias:
        raise ValueError("architecture does not match config")
    inputs = Inputs(arch.n_inputs, arch.image_shape, arch.value_range)  # checks image size and range
    if config.deskew and (inputs.image_shape is None or (inputs.value_range and inputs.value_range[0] < 0)):
        raise ValueError("config.deskew straightens images of pixels >= 0, and the inputs are "
                         f"{inputs.describe()}")
    params = {name: tensors[name] for name in names}
    if not all(np.all(np.isfinite(w)) for w in params.values()):
        raise ValueError("weights are not finite")
    offset, scale, test = tensors["scaling.offset"], tensors["scaling.scale"], tensors["split.test_indices"]
    if not (np.all(np.isfinite(offset)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise ValueError("the input scaling is not finite and positive")
    if test.ndim != 1 or (len(test) and test.min() < 0) or len(np.unique(test)) != len(test):
        raise ValueError("the test split's indices are not distinct row numbers >= 0")
    if len(test) and test.max() >= np.iinfo(np.int32).max:
        raise ValueError("the test split's indices are out of range")
    if (info.metrics is None) != (len(test) == 0):
        raise ValueError("test metrics and a test split go together")
    h = info.history
    curves = (h.loss, h.accuracy, h.error, h.lr)
    if len({len(c) for c in curves}) != 1 or len(h.val_loss) != len(h.val_accuracy) or len(h.val_loss) > len(h.loss):
        raise ValueError("the training history's curves have different lengths")
    if h.best_epoch is not None and h.best_epoch > len(h.loss):
        raise ValueError(f"history.best_epoch {h.best_epoch} is past the last epoch {len(h.loss)}")
    history = History.from_dict({k: _nan_for_none(v) for k, v in h.model_dump().items()})
    classes = None
    if info.estimator is not None:
        classes = np.array(info.estimator.classes, dtype=np.dtype(info.estimator.classes_dtype))
        if classes.shape != (arch.n_outputs,):
            raise ValueError(f"{len(classes)} class labels for a network of {arch.n_outputs} outputs")
    return Model(
        params=params,
        config=config,
        scaling=Scaling(info.scaling.method, offset, scale),
        history=history,
        test_indices=test,
        data_source=info.data.model_dump(exclude_none=True),
        inputs=inputs,
        metrics={k: (math.nan if v is None else v) for k, v in info.metrics.model_dump().items()
                 if k != "parts" or v is not None} if info.metrics else {},
        classes=classes,
        temperature=info.temperature,
        command=info.command,
    )


def _digest(tensors: dict[str, np.ndarray], info: dict | None) -> str:
    """SHA-256 of the tensors (names, dtypes, shapes, bytes) and of the metadata without its ``sha256`` entry."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(str(tensors[name].dtype).encode())
        h.update(str(tensors[name].shape).encode())
        h.update(np.ascontiguousarray(tensors[name]).tobytes())
    if info is not None:
        h.update(json.dumps({k: v for k, v in info.items() if k != "sha256"}, sort_keys=True).encode())
    return h.hexdigest()


def json_safe(value):
    """NaN and inf are not JSON: store them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value


def _nan_for_none(value):
    if isinstance(value, list):
        return [math.nan if v is None else v for v in value]
    return value


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or e.__class__.__name__
    return text.splitlines()[0]
