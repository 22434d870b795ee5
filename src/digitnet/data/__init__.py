"""Data: what inputs are, data sets, and their readers, one module per format.

- :mod:`.dataset`: :class:`Inputs`, :class:`Dataset`, labels, seeded splits;
- :mod:`.scaling`: the input scaling fitted on training rows;
- :mod:`.embedded`: scikit-learn's embedded 8x8 digits;
- :mod:`.csv`: CSV files in the UCI optdigits layout;
- :mod:`.idx`: MNIST's IDX files (and EMNIST's, Fashion-MNIST's);
- :mod:`.images`: folders of pictures, one sub-folder per class;
- :mod:`.sources`: what ``--data`` names, parsed in one place, and a model's held-out split found again.
"""

from .csv import is_number, load_csv, read_csv
from .dataset import OPTDIGITS, OPTDIGITS_CLASSES, Dataset, Inputs, check_labels, split
from .embedded import load_digits
from .scaling import Scaling, fit_scaling
from .sources import held_out, load_data

__all__ = [
    "OPTDIGITS", "OPTDIGITS_CLASSES", "Dataset", "Inputs", "Scaling", "check_labels", "fit_scaling", "held_out",
    "is_number", "load_csv", "load_data", "load_digits", "read_csv", "split",
]
