"""Data: the embedded digits, a CSV reader, splits, and input scaling."""

from __future__ import annotations

import csv
import hashlib
import io
import warnings
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
        object.__setattr__(self, "y", check_labels(self.y, len(self.X)))  # 3.0 becomes 3: labels index arrays


def check_pixels(X: np.ndarray, image_shape: tuple[int, int] = DIGITS_SHAPE, pixel_max: int = DIGITS_MAX) -> np.ndarray:
    """Validate raw pixels: shape (n, h * w), real, finite, within 0..pixel_max. Returns X (not copied)."""
    d = image_shape[0] * image_shape[1]
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != d:
        raise DataError(f"expected {d} pixel columns ({image_shape[0]}x{image_shape[1]} images), got shape {X.shape}")
    if len(X) == 0:
        raise DataError("no samples: expected at least one row of pixels")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise DataError(f"pixels must be real numbers, got dtype {X.dtype}")
    low, high = X.min(), X.max()  # no temporary the size of X; NaN propagates into both
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low and high <= pixel_max):
        row = int(np.argwhere(~((X >= 0) & (X <= pixel_max)))[0, 0])
        raise pixel_error(X[row], row, pixel_max)
    return X


def pixel_error(x: np.ndarray, row: int, pixel_max: float) -> DataError:
    """The error for row ``row`` of raw pixels, ``x`` (d,), which has a value that is not finite or not in 0..pixel_max."""
    if not np.all(np.isfinite(x)):
        return DataError(f"pixels must be finite numbers; row {row} has NaN or inf")
    return DataError(f"pixels must lie in 0..{pixel_max}; row {row} has values from {x.min():g} to {x.max():g}")


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

    A first row that is mostly not numbers is a header, and is skipped; a UTF-8 byte-order mark
    is allowed. ``labels=True`` requires the class column, ``False`` forbids it, ``None`` takes
    65 columns as pixels and labels, 64 as pixels only.
    Returns (X (n, 64) float32, y (n,) int64 or None); X is a view of the parsed table.
    """
    X, y, _ = _read_csv(Path(path), labels)
    return X, y


def load_csv(path: str | Path) -> Dataset:
    """A labelled CSV as a :class:`Dataset` whose source records the SHA-256 of the bytes that were read."""
    path = Path(path)
    X, y, digest = _read_csv(path, True)
    return Dataset(X, y, {"kind": "csv", "path": str(path.resolve()), "sha256": digest})


_PEEK = 1 << 16  # bytes looked at to find the first line: a header, or data


def _read_csv(path: Path, labels: bool | None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Parse the file in one pass (NumPy's C reader, float32), hashing the bytes as they are read:
    a pipe or FIFO is read once, and the hash is of what was parsed."""
    d = DIGITS_SHAPE[0] * DIGITS_SHAPE[1]
    allowed = {True: (d + 1,), False: (d,), None: (d, d + 1)}[labels]
    layout = f"{' or '.join(map(str, allowed))} columns ({d} pixels 0..{DIGITS_MAX}" + (
        f", then a label 0..{N_CLASSES - 1})" if labels is not False else ")"
    )
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot open ({e.strerror or e})") from None
    with raw:
        hashing = _HashingReader(raw)
        buffered = io.BufferedReader(hashing, _PEEK)
        try:
            head = buffered.peek(_PEEK)[:_PEEK].decode("utf-8-sig", errors="replace")
            skip = _header_lines(head)
            text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
                values = np.loadtxt(text, delimiter=",", quotechar='"', dtype=np.float32, ndmin=2, skiprows=skip)
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: cannot read as CSV text ({e.__class__.__name__}: {e})") from None
        except ValueError as e:  # a cell that is not a number, or rows of different widths
            raise DataError(_locate(path, skip, allowed, layout, e)) from None
    if len(values) == 0:
        raise DataError(f"{path}: no data rows: expected lines of {layout}")
    if values.shape[1] not in allowed:
        raise DataError(f"{path}, {_where(path, skip, 0)}: expected {layout}, got {values.shape[1]}")
    X, y = values[:, :d], (values[:, d] if values.shape[1] == d + 1 else None)
    # min and max make no temporary the size of the table; NaN propagates into both
    if not (np.isfinite(values.min()) and np.isfinite(values.max())):
        r, c = np.argwhere(~np.isfinite(values))[0]
        raise DataError(f"{path}, {_where(path, skip, r)}, column {c + 1}: '{values[r, c]}' is not a finite number")
    if X.min() < 0 or X.max() > DIGITS_MAX:
        r, c = np.argwhere((X < 0) | (X > DIGITS_MAX))[0]
        raise DataError(f"{path}, {_where(path, skip, r)}, column {c + 1}: pixel {X[r, c]:g} is outside 0..{DIGITS_MAX}")
    if y is not None:
        bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= N_CLASSES))
        if len(bad):
            r = bad[0]
            raise DataError(f"{path}, {_where(path, skip, r)}, column {d + 1}: label {y[r]:g} is not an integer 0..{N_CLASSES - 1}")
        y = y.astype(np.int64)
    return X, y, hashing.sha256.hexdigest()


class _HashingReader(io.RawIOBase):
    """A binary file that updates a SHA-256 with every byte read through it."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self.raw, self.sha256 = raw, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        self.sha256.update(memoryview(buffer)[:n])
        return n


def _header_lines(head: str) -> int:
    """Lines to skip: through the first non-blank line when that line is mostly not numbers (a header), else 0."""
    for number, line in enumerate(head.splitlines(), start=1):
        cells = next(csv.reader([line]), [])
        if any(cell.strip() for cell in cells):
            return number if sum(not is_number(cell) for cell in cells) > len(cells) / 2 else 0
    return 0


def _where(path: Path, skip: int, row: int) -> str:
    """'line L' for data row ``row`` (0-based), found by counting lines again; 'data row R' where the file cannot be re-read."""
    if path.is_file():
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            seen = -1
            for number, line in enumerate(f, start=1):
                if number > skip and line.strip() and not line.lstrip().startswith("#"):
                    seen += 1
                    if seen == row:
                        return f"line {number}"
    return f"data row {row + 1}"


def _locate(path: Path, skip: int, allowed: tuple[int, ...], layout: str, error: ValueError) -> str:
    """The message for a parse error: the first bad line and cell, found by re-reading a regular file line by line."""
    if path.is_file():
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            width = None
            for number, cells in enumerate(csv.reader(f), start=1):
                if number <= skip or not cells or cells[0].lstrip().startswith("#"):
                    continue
                if not any(cell.strip() for cell in cells):
                    return f"{path}, line {number}: a line of only spaces or commas; remove it or leave it empty"
                if len(cells) not in allowed or (width is not None and len(cells) != width):
                    return f"{path}, line {number}: expected {layout}, got {len(cells)}"
                width = len(cells)
                for c, cell in enumerate(cells):
                    if not is_number(cell):
                        return f"{path}, line {number}, column {c + 1}: {cell.strip()!r} is not a number"
    return f"{path}: {str(error).split(';')[0]} (expected {layout})"


def is_number(cell: str) -> bool:
    """True when ``float(cell)`` parses (NaN and inf included: they are rejected later, by name)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def split(
    y: np.ndarray, test_size: float, seed: int, *, stratify: bool, parts: str = "train and test"
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices, from scikit-learn's ``train_test_split`` seeded with ``seed``.

    Unstratified, this is the post's ``train_test_split(X, y)`` with ``random_state=seed``.
    ``parts`` names the two parts in the error message.
    """
    index = np.arange(len(y))
    try:
        train, test = train_test_split(index, test_size=test_size, random_state=seed, stratify=y if stratify else None)
    except ValueError as e:
        raise DataError(f"cannot split {len(y)} samples into {parts}: {' '.join(str(e).split())}") from None
    return train, test


@dataclass(frozen=True)
class Scaling:
    """x_scaled = (x - offset) / scale, per pixel; offset and scale are (d,) arrays."""

    method: str
    offset: np.ndarray
    scale: np.ndarray

    def apply(self, X: np.ndarray, dtype: str | None = None) -> np.ndarray:
        """Scaled X, computed in float64; ``dtype`` rounds it to that type block by block, with no float64 copy of X."""
        if dtype is None:
            return (X - self.offset) / self.scale
        out = np.empty(X.shape, dtype)
        for start in range(0, len(X), _SCALE_BLOCK):
            rows = slice(start, start + _SCALE_BLOCK)
            out[rows] = (X[rows] - self.offset) / self.scale
        return out


_SCALE_BLOCK = 65536  # rows scaled at a time: a few tens of MB of float64


def fit_scaling(X: np.ndarray, method: str) -> Scaling:
    """One mean and one spread over all pixels of X (per-pixel statistics scored lower in
    cross-validation: rarely inked border pixels get blown up).

    ``"blog"``: the mean and the variance (not the standard deviation), as the post.
    ``"standard"``: the mean and the standard deviation.
    """
    d = X.shape[1]
    # in float64 whatever X's dtype: a float32 CSV and the embedded float64 digits give the same scaling
    spread = X.var(dtype=np.float64) if method == "blog" else X.std(dtype=np.float64)
    if not spread > 0:
        raise DataError("cannot scale the inputs: every pixel of the training data has the same value")
    return Scaling(method, np.full(d, X.mean(dtype=np.float64)), np.full(d, spread))
