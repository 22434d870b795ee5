"""Data: the embedded digits, a CSV reader, splits, and input scaling."""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sklearn.datasets
from sklearn.model_selection import train_test_split

from .errors import DataError

N_CLASSES = 10
DIGITS_SHAPE = (8, 8)
DIGITS_MAX = 16  # load_digits counts "on" pixels in 4x4 blocks: 0..16


@dataclass(frozen=True)
class Dataset:
    """Raw pixels and labels, and where they came from."""

    X: np.ndarray  # (n, d) raw pixel values in 0..pixel_max, ink high
    y: np.ndarray  # (n,) integer labels 0..9
    source: dict = field(default_factory=lambda: {"kind": "arrays"})  # how to find these data again
    image_shape: tuple[int, int] = DIGITS_SHAPE
    pixel_max: int = DIGITS_MAX

    def __post_init__(self) -> None:
        check_pixels(self.X, self.image_shape, self.pixel_max)
        check_labels(self.y, len(self.X))


def check_pixels(X: np.ndarray, image_shape: tuple[int, int] = DIGITS_SHAPE, pixel_max: int = DIGITS_MAX) -> np.ndarray:
    """Validate raw pixels: shape (n, h * w), finite, within 0..pixel_max. Returns X as float64."""
    d = image_shape[0] * image_shape[1]
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != d:
        raise DataError(f"expected {d} pixel columns ({image_shape[0]}x{image_shape[1]} images), got shape {X.shape}")
    if len(X) == 0:
        raise DataError("no samples: expected at least one row of pixels")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise DataError(f"pixels must be real numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        row = int(np.argwhere(~np.isfinite(X))[0, 0])
        raise DataError(f"pixels must be finite numbers; row {row} has NaN or inf")
    if X.min() < 0 or X.max() > pixel_max:
        row = int(np.argwhere((X < 0) | (X > pixel_max))[0, 0])
        raise DataError(f"pixels must lie in 0..{pixel_max}; row {row} has values from {X[row].min():g} to {X[row].max():g}")
    return X


def check_labels(y: np.ndarray, n: int) -> np.ndarray:
    """Validate labels: n integers in 0..9. Returns them as int64."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise DataError(f"expected {n} labels, one per sample, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y)) or np.any((y < 0) | (y >= N_CLASSES)):
        raise DataError(f"labels must be integers 0..{N_CLASSES - 1}; got {np.unique(y)[:12].tolist()}")
    return y.astype(np.int64)


def load_digits() -> Dataset:
    """scikit-learn's 1797 embedded 8x8 digits (the UCI optdigits test set); no download."""
    digits = sklearn.datasets.load_digits()
    return Dataset(digits.data, digits.target.astype(np.int64), {"kind": "sklearn-digits"})


def read_csv(path: str | Path, *, labels: bool | None = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Read 8x8 digits in the UCI optdigits layout: 64 pixel columns 0..16, then the class 0..9.

    A first row that is mostly not numbers is a header, and is skipped. ``labels=True``
    requires the class column, ``False`` forbids it, ``None`` accepts both.
    Returns (X (n, 64) float64, y (n,) int64 or None).
    """
    d = DIGITS_SHAPE[0] * DIGITS_SHAPE[1]
    path = Path(path)
    rows = _read_rows(path)
    if rows and sum(not is_number(cell) for cell in rows[0][1]) > len(rows[0][1]) / 2:
        rows = rows[1:]
    if not rows:
        raise DataError(f"{path}: no data rows: expected lines of {d} pixels 0..16 and a label 0..9")
    allowed = {True: (d + 1,), False: (d,), None: (d, d + 1)}[labels]
    want = " or ".join(str(a) for a in allowed)
    width = len(rows[0][1])
    values = np.empty((len(rows), width))
    for r, (line, cells) in enumerate(rows):
        if len(cells) not in allowed or len(cells) != width:
            raise DataError(
                f"{path}, line {line}: expected {want} columns ({d} pixels 0..16"
                f"{', then a label 0..9' if labels is not False else ''}), got {len(cells)}"
            )
        for c, cell in enumerate(cells):
            try:
                values[r, c] = float(cell)
            except ValueError:
                raise DataError(f"{path}, line {line}, column {c + 1}: {cell.strip()!r} is not a number") from None
            if not math.isfinite(values[r, c]):
                raise DataError(f"{path}, line {line}, column {c + 1}: {cell.strip()!r} is not a finite number")
    X, y = values[:, :d], (values[:, d] if width == d + 1 else None)
    bad = np.argwhere((X < 0) | (X > DIGITS_MAX))
    if len(bad):
        r, c = bad[0]
        raise DataError(f"{path}, line {rows[r][0]}, column {c + 1}: pixel {X[r, c]:g} is outside 0..{DIGITS_MAX}")
    if y is not None:
        bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= N_CLASSES))
        if len(bad):
            r = bad[0]
            raise DataError(f"{path}, line {rows[r][0]}, column {d + 1}: label {y[r]:g} is not an integer 0..9")
        y = y.astype(np.int64)
    return X, y


def load_csv(path: str | Path) -> Dataset:
    """A labelled CSV as a :class:`Dataset` whose source records the file's SHA-256."""
    X, y = read_csv(path, labels=True)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return Dataset(X, y, {"kind": "csv", "path": str(Path(path).resolve()), "sha256": digest})


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every non-blank line."""
    try:
        with path.open(newline="") as f:
            return [(i, row) for i, row in enumerate(csv.reader(f), start=1) if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a CSV file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot read as CSV text ({e.__class__.__name__}: {e})") from None


def is_number(cell: str) -> bool:
    """True when ``float(cell)`` parses (NaN and inf included: they are rejected later, by name)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def split(y: np.ndarray, test_size: float, seed: int, *, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices, from scikit-learn's ``train_test_split`` seeded with ``seed``.

    Unstratified, this is the post's ``train_test_split(X, y)`` with ``random_state=seed``.
    """
    index = np.arange(len(y))
    try:
        train, test = train_test_split(index, test_size=test_size, random_state=seed, stratify=y if stratify else None)
    except ValueError as e:
        raise DataError(f"cannot split {len(y)} samples into train and test: {e}") from None
    return train, test


@dataclass(frozen=True)
class Scaling:
    """x_scaled = (x - offset) / scale, per pixel; offset and scale are (d,) arrays."""

    method: str
    offset: np.ndarray
    scale: np.ndarray

    def apply(self, X: np.ndarray) -> np.ndarray:
        return (X - self.offset) / self.scale


def fit_scaling(X: np.ndarray, method: str) -> Scaling:
    """One mean and one spread over all pixels of X (per-pixel statistics scored lower in
    cross-validation: rarely inked border pixels get blown up).

    ``"blog"``: the mean and the variance (not the standard deviation), as the post.
    ``"standard"``: the mean and the standard deviation.
    """
    d = X.shape[1]
    spread = X.var() if method == "blog" else X.std()
    if not spread > 0:
        raise DataError("cannot scale the inputs: every pixel of the training data has the same value")
    return Scaling(method, np.full(d, X.mean()), np.full(d, spread))
