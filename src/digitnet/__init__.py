"""digitnet: handwritten digits recognised by a three-layer neural network written from scratch in NumPy.

>>> import digitnet
>>> model = digitnet.train(config=digitnet.Config.from_recipe("modern", seed=0))
>>> digitnet.save(model, "model.safetensors")
>>> digitnet.load("model.safetensors").predict(X_raw)   # X_raw: (n, 64) pixels in 0..16
"""

__version__ = "0.1.0"

from .config import RECIPES, Config
from .data import Dataset, load_csv, load_digits, read_csv
from .errors import ConfigError, DataError, DigitnetError, ModelFileError
from .metrics import Evaluation, evaluate
from .model import Model, train
from .persistence import load, save
from .trainer import History, fit

__all__ = [
    "RECIPES",
    "Config",
    "ConfigError",
    "DataError",
    "Dataset",
    "DigitnetError",
    "Evaluation",
    "History",
    "Model",
    "ModelFileError",
    "__version__",
    "evaluate",
    "fit",
    "load",
    "load_csv",
    "load_digits",
    "read_csv",
    "save",
    "train",
]
