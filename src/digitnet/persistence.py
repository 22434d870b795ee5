"""Model files: safetensors weights with JSON metadata, written atomically, loaded without running code.

Tensors: ``W1``, ``W2`` (and ``b1``, ``b2``), ``scaling.offset``, ``scaling.scale``,
``split.test_indices``. Metadata: ONE key, ``digitnet``, holding a JSON object with
``format`` = "digitnet", ``format_version``, ``digitnet_version``, ``architecture``,
``config``, ``scaling``, ``data``, ``history``, ``metrics`` and ``sha256`` (of the
tensor bytes, which safetensors itself does not check). One key, because safetensors
writes several in hash order, and the same model must give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save as st_save

from . import __version__
from .config import Config
from .data import Scaling
from .errors import ConfigError, ModelFileError
from .model import Model
from .trainer import History

FORMAT = "digitnet"
FORMAT_VERSION = 1
METADATA_KEY = "digitnet"
_WEIGHTS = ("W1", "W2", "b1", "b2")


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    A reader never sees a half-written file, and a failure leaves ``path`` as it was.
    """
    path = Path(path)
    check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_writable(path: str | Path) -> None:
    """Raise ModelFileError unless ``path`` can be created or replaced (checked before long work)."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory; give a file name such as {path / 'model.safetensors'}")
    if not parent.is_dir():
        raise ModelFileError(f"cannot write {path}: directory {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ModelFileError(f"cannot write {path}: no permission to write in {parent}")


def to_bytes(model: Model) -> bytes:
    """The model file's content; the same model always gives the same bytes."""
    if not model.is_finite():
        raise ModelFileError("refusing to save: the weights are not finite (training diverged); lower the learning rate")
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
            "image_shape": list(model.image_shape),
            "pixel_max": model.pixel_max,
        },
        "config": model.config.to_dict(),
        "scaling": {"method": model.scaling.method},
        "data": model.data_source,
        "history": json_safe(model.history.to_dict()),
        "metrics": json_safe(model.metrics),
    }
    info.update(format=FORMAT, format_version=FORMAT_VERSION, digitnet_version=__version__, sha256=_digest(tensors))
    return st_save(tensors, metadata={METADATA_KEY: json.dumps(info, sort_keys=True)})


def save(model: Model, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (conventionally ``*.safetensors``) atomically; returns the path."""
    return write_atomic(path, to_bytes(model))


def load(path: str | Path) -> Model:
    """Read a model file written by :func:`save`; any other file raises :class:`ModelFileError`."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFileError(f"{path}: not a readable model file (truncated or corrupted?): {_first_line(e)}") from None
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"{path}: a safetensors file, but not a digitnet model (no digitnet metadata)")
    try:
        info = json.loads(metadata[METADATA_KEY])
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise ValueError("format is not 'digitnet'")
        version = info.get("format_version")
        if not isinstance(version, int):
            raise ValueError(f"format_version {version!r} is not a number")
    except ValueError as e:
        raise ModelFileError(f"{path}: corrupted digitnet metadata: {_first_line(e)}") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written in model format {version} by digitnet {info.get('digitnet_version', '?')}; "
            f"this digitnet {__version__} reads format {FORMAT_VERSION} or older: upgrade digitnet"
        )
    if info.get("sha256") != _digest(tensors):
        raise ModelFileError(f"{path}: corrupted: the weights do not match the checksum stored in the file")
    try:
        return _build(tensors, info)
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        raise ModelFileError(f"{path}: corrupted or inconsistent model file: {_first_line(e)}") from None


def _build(tensors: dict[str, np.ndarray], info: dict) -> Model:
    arch = info["architecture"]
    config = Config.from_dict(info["config"])
    names = ("W1", "W2", "b1", "b2") if arch["bias"] else ("W1", "W2")
    expected = {
        "W1": (arch["n_inputs"], arch["n_hidden"]),
        "W2": (arch["n_hidden"], arch["n_outputs"]),
        "b1": (arch["n_hidden"],),
        "b2": (arch["n_outputs"],),
        "scaling.offset": (arch["n_inputs"],),
        "scaling.scale": (arch["n_inputs"],),
    }
    for name in (*names, "scaling.offset", "scaling.scale", "split.test_indices"):
        if name not in tensors:
            raise ValueError(f"tensor {name!r} is missing")
        if name in expected and tensors[name].shape != expected[name]:
            raise ValueError(f"tensor {name!r} has shape {tensors[name].shape}, expected {expected[name]}")
    if arch["n_hidden"] != config.n_hidden or arch["n_outputs"] != 10:
        raise ValueError("architecture does not match config")
    if arch["n_inputs"] != arch["image_shape"][0] * arch["image_shape"][1]:
        raise ValueError(f"{arch['n_inputs']} inputs do not make {arch['image_shape']} images")
    params = {name: tensors[name] for name in names}
    if not all(np.all(np.isfinite(w)) for w in params.values()):
        raise ValueError("weights are not finite")
    history = History.from_dict({k: _nan_for_none(v) for k, v in info["history"].items()})
    return Model(
        params=params,
        config=config,
        scaling=Scaling(info["scaling"]["method"], tensors["scaling.offset"], tensors["scaling.scale"]),
        history=history,
        test_indices=tensors["split.test_indices"],
        data_source=info["data"],
        image_shape=tuple(arch["image_shape"]),
        pixel_max=arch["pixel_max"],
        metrics=info["metrics"],
    )


def _digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(str(tensors[name].dtype).encode())
        h.update(str(tensors[name].shape).encode())
        h.update(np.ascontiguousarray(tensors[name]).tobytes())
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
