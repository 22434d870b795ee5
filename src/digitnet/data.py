"""Data: the embedded digits, a CSV reader, splits, and input scaling."""

from __future__ import annotations

import csv
import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError

@dataclass(frozen=True)
class Inputs:
    """What a network's inputs are: how many, whether they are an image's pixels, which raw values are valid."""

    n_features: int
    image_shape: tuple[int, int] | None = None  # (height, width) when the features are an image's pixels, row by row
    value_range: tuple[float, float] | None = None  # raw values accepted, ends included; None: any finite number

    def __post_init__(self) -> None:
        if self.image_shape is not None and self.image_shape[0] * self.image_shape[1] != self.n_features:
            raise DataError(f"{self.n_features} inputs do not make {self.image_shape[0]}x{self.image_shape[1]} images")
        if self.value_range is not None and not self.value_range[0] < self.value_range[1]:
            raise DataError(f"value_range must be (low, high) with low < high; got {self.value_range}")

    @property
    def noun(self) -> str:
        return "pixels" if self.image_shape else "values"

    def describe(self) -> str:
        """'64 pixels 0..16 (8x8 images)', or '5 values'."""
        text = f"{self.n_features} {self.noun}"
        if self.value_range is not None:
            text += f" {self.value_range[0]:g}..{self.value_range[1]:g}"
        if self.image_shape is not None:
            text += f" ({self.image_shape[0]}x{self.image_shape[1]} images)"
        return text

    def check(self, X: np.ndarray) -> np.ndarray:
        """Validate raw inputs: shape (n, n_features), real, finite, within value_range. Returns X (not copied)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            what = f"{self.n_features} pixel columns ({self.image_shape[0]}x{self.image_shape[1]} images)" \
                if self.image_shape else f"{self.n_features} feature columns"
            raise DataError(f"expected {what}, got shape {X.shape}")
        if len(X) == 0:
            raise DataError(f"no samples: expected at least one row of {self.noun}")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise DataError(f"{self.noun} must be real numbers, got dtype {X.dtype}")
        low, high = X.min(), X.max()  # no temporary the size of X; NaN propagates into both
        if not (np.isfinite(low) and np.isfinite(high) and self.accepts(low) and self.accepts(high)):
            row = int(np.argwhere(~self.accepts(X))[0, 0])
            raise self.error(X[row], row)
        return X

    def accepts(self, x):
        """Elementwise: x is finite and within value_range."""
        low, high = self.value_range if self.value_range is not None else (-np.inf, np.inf)
        return np.isfinite(x) & (x >= low) & (x <= high)

    def error(self, x: np.ndarray, row: int) -> DataError:
        """The error for row ``row``, ``x`` (n_features,), which has a value that is not finite or not in range."""
        if not np.all(np.isfinite(x)):
            return DataError(f"{self.noun} must be finite numbers; row {row} has NaN or inf")
        low, high = self.value_range
        return DataError(f"{self.noun} must lie in {low:g}..{high:g}; row {row} has values from {x.min():g} to {x.max():g}")

    def bounds(self) -> tuple[float, float]:
        """(low, high) for the compiled checks: the largest finite floats when any finite value is valid."""
        if self.value_range is not None:
            return float(self.value_range[0]), float(self.value_range[1])
        top = float(np.finfo(np.float64).max)
        return -top, top


# scikit-learn's load_digits (the UCI optdigits test set): "on" pixels of 32x32 bitmaps counted in 4x4 blocks
OPTDIGITS = Inputs(64, (8, 8), (0.0, 16.0))
OPTDIGITS_CLASSES = 10


@dataclass(frozen=True)
class Dataset:
    """Raw inputs and integer labels 0..n_classes-1, what the inputs are, and where they came from.

    ``inputs`` defaults to plain features (any finite values); ``n_classes`` to the largest label + 1.
    Encoding other class values (strings, say) as 0..K-1 is the caller's job.
    """

    X: np.ndarray  # (n, d) raw inputs
    y: np.ndarray  # (n,) integer labels 0..n_classes-1
    source: dict = field(default_factory=lambda: {"kind": "arrays"})  # how to find these data again
    inputs: Inputs | None = None
    n_classes: int | None = None
    test_rows: np.ndarray | None = None  # a fixed test split (MNIST's t10k files); None: a seeded random one

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if self.inputs is None and X.ndim != 2:
            raise DataError(f"expected a 2-D array of inputs (samples, features), got shape {X.shape}")
        inputs = self.inputs or Inputs(X.shape[1])
        inputs.check(X)
        y = check_labels(self.y, len(X), self.n_classes)  # 3.0 becomes 3: labels index arrays
        n_classes = self.n_classes if self.n_classes is not None else int(y.max()) + 1
        if n_classes < 2:
            raise DataError(f"need at least 2 classes to learn from; got labels {np.unique(y).tolist()}")
        test_rows = self.test_rows
        if test_rows is not None:
            test_rows = np.asarray(test_rows)
            if test_rows.ndim != 1 or not np.issubdtype(test_rows.dtype, np.integer) or len(test_rows) == 0 \
                    or test_rows.min() < 0 or test_rows.max() >= len(X) or len(test_rows) >= len(X):
                raise DataError(f"test_rows must be distinct row numbers 0..{len(X) - 1}, leaving rows to train on")
        for name, value in (("X", X), ("y", y), ("inputs", inputs), ("n_classes", n_classes), ("test_rows", test_rows)):
            object.__setattr__(self, name, value)


def check_labels(y: np.ndarray, n: int, n_classes: int | None = None) -> np.ndarray:
    """Validate labels: n integers >= 0 (and < n_classes when given). Returns them as int64."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise DataError(f"expected {n} labels, one per sample, got shape {y.shape}")
    top = n_classes if n_classes is not None else np.inf
    if not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y)) or np.any((y < 0) | (y >= top)):
        expected = f"0..{n_classes - 1}" if n_classes is not None else ">= 0"
        raise DataError(f"labels must be integers {expected}; got {np.unique(y)[:12].tolist()}")
    return y.astype(np.int64)


def load_digits() -> Dataset:
    """scikit-learn's 1797 embedded 8x8 digits (the UCI optdigits test set); no download."""
    import sklearn.datasets  # imported here: scikit-learn takes most of a second to import

    digits = sklearn.datasets.load_digits()
    return Dataset(digits.data, digits.target.astype(np.int64), {"kind": "sklearn-digits"}, OPTDIGITS, OPTDIGITS_CLASSES)


def read_csv(
    path: str | Path, *, labels: bool | None = True, inputs: Inputs = OPTDIGITS, n_classes: int = OPTDIGITS_CLASSES
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read rows of ``inputs.n_features`` values, then a class 0..n_classes-1: by default the UCI
    optdigits layout, 64 pixels 0..16 and a digit 0..9.

    A first row that is mostly not numbers is a header, and is skipped; a UTF-8 byte-order mark
    is allowed. ``labels=True`` requires the class column, ``False`` forbids it, ``None`` takes
    d + 1 columns as values and labels, d as values only.
    Returns (X (n, d) float32, y (n,) int64 or None); X is a view of the parsed table.
    """
    X, y, _ = _read_csv(Path(path), labels, inputs, n_classes)
    return X, y


def load_csv(path: str | Path, *, inputs: Inputs = OPTDIGITS, n_classes: int = OPTDIGITS_CLASSES) -> Dataset:
    """A labelled CSV as a :class:`Dataset` whose source records the SHA-256 of the bytes that were read."""
    path = Path(path)
    X, y, digest = _read_csv(path, True, inputs, n_classes)
    return Dataset(X, y, {"kind": "csv", "path": str(path.resolve()), "sha256": digest}, inputs, n_classes)


_PEEK = 1 << 16  # bytes looked at to find the first line: a header, or data


def _read_csv(path: Path, labels: bool | None, inputs: Inputs, n_classes: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Parse the file in one pass (NumPy's C reader, float32), hashing the bytes as they are read:
    a pipe or FIFO is read once, and the hash is of what was parsed."""
    d = inputs.n_features
    allowed = {True: (d + 1,), False: (d,), None: (d, d + 1)}[labels]
    what = inputs.describe().split(" (")[0]  # "64 pixels 0..16"
    layout = f"{' or '.join(map(str, allowed))} columns ({what}" + (
        f", then a label 0..{n_classes - 1})" if labels is not False else ")"
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
    if not (inputs.accepts(X.min()) and inputs.accepts(X.max())):
        r, c = np.argwhere(~inputs.accepts(X))[0]
        low, high = inputs.value_range
        raise DataError(f"{path}, {_where(path, skip, r)}, column {c + 1}: {inputs.noun[:-1]} {X[r, c]:g} is outside {low:g}..{high:g}")
    if y is not None:
        bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= n_classes))
        if len(bad):
            r = bad[0]
            raise DataError(f"{path}, {_where(path, skip, r)}, column {d + 1}: label {y[r]:g} is not an integer 0..{n_classes - 1}")
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
    ``parts`` names the two parts in the error message. The splitter behind ``train_test_split``
    is called directly: the same indices without its argument checks (3 ms, a tenth of a fit).
    """
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(n_splits=1, test_size=test_size, random_state=seed)
    try:
        train, test = next(splitter.split(np.empty((len(y), 0)), y))
    except ValueError as e:
        raise DataError(f"cannot split {len(y)} samples into {parts}: {' '.join(str(e).split())}") from None
    return train, test


@dataclass(frozen=True)
class Scaling:
    """x_scaled = (x - offset) / scale, per pixel; offset and scale are (d,) arrays."""

    method: str
    offset: np.ndarray
    scale: np.ndarray

    def apply(self, X: np.ndarray, dtype: str | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Scaled X (or its ``rows``), computed in float64; ``dtype`` rounds it to that type block by block,
        with no float64 copy of X and no copy of the rows before scaling."""
        if dtype is None:
            return ((X if rows is None else X[rows]) - self.offset) / self.scale
        n = len(X) if rows is None else len(rows)
        out = np.empty((n, X.shape[1]), dtype)
        if X.size > _SCALE_BLOCK and X.ndim == 2 and X.dtype.isnative and X.dtype.kind in "uif":
            from .fast import kernels  # the same float64 arithmetic, compiled: 7x faster on MNIST

            X = np.ascontiguousarray(X)
            kernels.scale_rows(X, np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64),
                               self.offset.astype(np.float64), self.scale.astype(np.float64), out)
            return out
        step = _block_rows(X)
        for start in range(0, n, step):
            block = slice(start, start + step)
            out[block] = ((X[block] if rows is None else X[rows[block]]) - self.offset) / self.scale
        return out


_SCALE_BLOCK = 1 << 22  # values scaled at a time: 32 MB of float64


def _block_rows(X: np.ndarray) -> int:
    return max(1, _SCALE_BLOCK // max(1, X.shape[1]))


def fit_scaling(X: np.ndarray, method: str) -> Scaling:
    """One mean and one spread over all pixels of X (per-pixel statistics scored lower in
    cross-validation: rarely inked border pixels get blown up).

    ``"blog"``: the mean and the variance (not the standard deviation), as the post.
    ``"standard"``: the mean and the standard deviation.
    """
    d = X.shape[1]
    # in float64 whatever X's dtype: a float32 CSV and the embedded float64 digits give the same scaling
    mean = X.mean(dtype=np.float64)
    if X.size <= _SCALE_BLOCK:
        squares = np.sum((X - mean) ** 2)  # NumPy's own var, exactly
    else:  # NumPy's var makes a float64 copy of X (430 MB for MNIST): summed row by row, compiled, instead
        from .fast import kernels

        squares = kernels.squared_deviations(np.ascontiguousarray(X), float(mean))
    var = squares / X.size
    spread = var if method == "blog" else np.sqrt(var)
    if not spread > 0:
        raise DataError("cannot scale the inputs: every pixel of the training data has the same value")
    return Scaling(method, np.full(d, mean), np.full(d, spread))
