"""digitnet: handwritten digits recognised by a three-layer neural network written from scratch in NumPy.

>>> import digitnet
>>> model = digitnet.train(config=digitnet.Config.from_recipe("modern", seed=0))
>>> digitnet.save(model, "model.safetensors")
>>> digitnet.load("model.safetensors").predict(X_raw)   # X_raw: (n, 64) pixels in 0..16

The names below are imported on first use, so that ``import digitnet`` (and the command's
start-up, where Ctrl-C must already be handled) loads no NumPy, numba or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

_WHERE = {
    "RECIPES": "config",
    "Config": "config",
    "Dataset": "data",
    "DigitNetClassifier": "estimator",
    "Inputs": "data",
    "OPTDIGITS": "data",
    "load_csv": "data",
    "load_digits": "data",
    "read_csv": "data",
    "ConfigError": "errors",
    "DataError": "errors",
    "DigitnetError": "errors",
    "ModelFileError": "errors",
    "Evaluation": "metrics",
    "evaluate": "metrics",
    "Model": "model",
    "train": "pipeline",
    "load": "persistence",
    "save": "persistence",
    "History": "trainer",
    "fit": "trainer",
}

__all__ = sorted([*_WHERE, "__version__"])


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'digitnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


if TYPE_CHECKING:
    from .config import RECIPES, Config
    from .data import OPTDIGITS, Dataset, Inputs, load_csv, load_digits, read_csv
    from .estimator import DigitNetClassifier
    from .errors import ConfigError, DataError, DigitnetError, ModelFileError
    from .metrics import Evaluation, evaluate
    from .model import Model
    from .pipeline import train
    from .persistence import load, save
    from .trainer import History, fit
