"""scikit-learn's embedded 8x8 digits (the UCI optdigits test set): no download."""

from __future__ import annotations

import numpy as np

from .dataset import OPTDIGITS, OPTDIGITS_CLASSES, Dataset


def load_digits() -> Dataset:
    """scikit-learn's 1797 embedded 8x8 digits (the UCI optdigits test set, 43 writers); no download.

    Returns
    -------
    Dataset
        X (1797, 64) float64 pixels 0..16 (ink counted in 4x4 blocks of 32x32 bitmaps, row by row),
        y (1797,) int64 digits 0..9, inputs :data:`OPTDIGITS`.
    """
    import sklearn.datasets  # imported here: scikit-learn takes most of a second to import

    digits = sklearn.datasets.load_digits()
    return Dataset(digits.data, digits.target.astype(np.int64), {"kind": "sklearn-digits"}, OPTDIGITS, OPTDIGITS_CLASSES)

