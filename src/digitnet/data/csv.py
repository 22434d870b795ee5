"""CSV files in the UCI optdigits layout: rows of pixels, then the class."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError, exact
from ..files import HashingReader, Recorded, open_stream
from .dataset import OPTDIGITS, OPTDIGITS_CLASSES, Dataset, Inputs


def read_csv(
    path: str | Path, *, labels: bool | None = True, inputs: Inputs = OPTDIGITS, n_classes: int = OPTDIGITS_CLASSES
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read rows of ``inputs.n_features`` values, then a class 0..n_classes-1: by default the UCI
    optdigits layout, 64 pixels 0..16 and a digit 0..9.

    A first row that is mostly not numbers is a header, and is skipped; a UTF-8 byte-order mark
    is allowed. ``labels=True`` requires the class column, ``False`` forbids it, ``None`` takes
    d + 1 columns as values and labels, d as values only.
    Returns (X (n, d) float32, y (n,) int64 or None); X is a view of the parsed table.
    Raises DataError for a missing, unreadable or malformed file, a value that is not a number or is
    outside ``inputs.value_range``, or a label outside 0..n_classes-1: the message names the line and
    the column.
    """
    X, y, _ = _read_csv(Path(path), labels, inputs, n_classes)
    return X, y


def load_csv(path: str | Path, *, inputs: Inputs = OPTDIGITS, n_classes: int = OPTDIGITS_CLASSES) -> Dataset:
    """A labelled CSV file as a :class:`Dataset` whose source records the size and SHA-256 of the bytes that were read.

    The layout is :func:`read_csv`'s, with the label column required. Raises DataError for a missing,
    unreadable or malformed file (the message names the line and the column).
    """
    X, y, source = read_labelled_csv(path, inputs=inputs, n_classes=n_classes)
    return Dataset(X, y, source, inputs, n_classes)


def read_labelled_csv(path: str | Path, *, inputs: Inputs = OPTDIGITS, n_classes: int = OPTDIGITS_CLASSES,
                      recorded: Recorded | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """A labelled CSV: (X (n, d) float32, y (n,) int64, its source: kind, path, size and SHA-256 of the bytes read).

    ``recorded``: read it only as a regular file of the recorded size and hash (a model's own training data,
    found again from its untrusted metadata); DataError otherwise.
    """
    path = Path(path)
    X, y, (size, digest) = _read_csv(path, True, inputs, n_classes, recorded)
    return X, y, {"kind": "csv", "path": str(path.resolve()), "sha256": digest, "size": size}


_PEEK = 65_536  # bytes looked at to find the first line: a header, or data
# a line longer than this is no row of values (a stream without newlines, a binary file): refused once read, so
# that it never fills memory. A row of d values may take LINE_BYTES_PER_VALUE bytes each (float32's longest
# repr with a comma is 16; spaces and quotes leave room)
MAX_LINE = 1 << 20
LINE_BYTES_PER_VALUE = 64


class _LineLimit(io.RawIOBase):
    """A binary stream read through, raising DataError once a line (bytes between newlines) passes ``limit``."""

    def __init__(self, raw: io.RawIOBase, limit: int, path: Path, row: str) -> None:
        self.raw, self.limit, self.path, self.row = raw, limit, path, row
        self.line, self.length = 1, 0  # the line being read, and its bytes so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer) or 0
        chunk = bytes(memoryview(buffer)[:n])
        last = chunk.rfind(b"\n")
        if last < 0:
            self.length += n
        else:
            self.line += chunk.count(b"\n")
            self.length = n - last - 1
        if self.length > self.limit:
            raise DataError(f"{self.path}, line {self.line}: longer than {self.limit:,} bytes, which no row of "
                            f"{self.row} needs; is it a CSV file?")
        return n


def _read_csv(path: Path, labels: bool | None, inputs: Inputs, n_classes: int,
              recorded: Recorded | None = None) -> tuple[np.ndarray, np.ndarray | None, tuple[int, str]]:
    """Parse the file in one pass (NumPy's C reader, float32), hashing the bytes as they are read: a pipe or
    FIFO is read once, and the hash is of what was parsed. Returns X, y and (bytes read, their SHA-256)."""
    d = inputs.n_features
    allowed = {True: (d + 1,), False: (d,), None: (d, d + 1)}[labels]
    what = inputs.describe().split(" (")[0]  # "64 pixels 0..16"
    layout = f"{' or '.join(map(str, allowed))} columns ({what}" + (
        f", then a label 0..{n_classes - 1})" if labels is not False else ")"
    )
    if recorded is not None:
        # first only hashed, in constant memory: parsing a file that is not the recorded one could fill memory
        with recorded.open(path) as first:
            first.check(recorded.sha256)
        hashing = recorded.open(path)  # then parsed, and checked again: it may have changed in between
    else:
        try:
            hashing = HashingReader(open_stream(path, "a CSV file or a pipe"), name=str(path))
        except FileNotFoundError:
            raise DataError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise DataError(f"{path}: is a directory, expected a CSV file") from None
        except OSError as e:
            raise DataError(f"{path}: cannot open ({e.strerror or e})") from None
    with hashing:
        row = f"{what}{' and a label' if labels is not False else ''}"
        buffered = io.BufferedReader(_LineLimit(hashing, max(MAX_LINE, LINE_BYTES_PER_VALUE * (d + 1)), path, row), _PEEK)
        try:
            head = buffered.peek(_PEEK)[:_PEEK].decode("utf-8-sig", errors="replace")
            skip = _header_lines(head, path, layout)
            text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
                values = np.loadtxt(text, delimiter=",", quotechar='"', dtype=np.float32, ndmin=2, skiprows=skip)
        except DataError:  # a line past the limit (_LineLimit)
            raise
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: cannot read as CSV text ({e.__class__.__name__}: {e})") from None
        except ValueError as e:  # a cell that is not a number, or rows of different widths
            if recorded is not None:
                hashing.check(recorded.sha256)  # a file that has changed says so, not where it stopped parsing
            raise DataError(_locate(path, skip, allowed, layout, e)) from None
        if recorded is not None:
            hashing.check(recorded.sha256)
    if len(values) == 0:
        raise DataError(f"{path}: no data rows: expected lines of {layout}")
    if values.shape[1] not in allowed:
        raise DataError(f"{path}, {_where(path, skip, 0)}: expected {layout}, got {values.shape[1]}")
    X, y = values[:, :d], (values[:, d] if values.shape[1] == d + 1 else None)
    # min and max make no temporary the size of the table; NaN propagates into both
    if not (np.isfinite(values.min()) and np.isfinite(values.max())):
        r, c = np.argwhere(~np.isfinite(values))[0]
        written = _cell(path, skip, r, c)  # float32 made 1e40 inf: say what the file says
        problem = ("is too large" if written is not None and _finite_number(written) else "is not a finite number")
        raise DataError(f"{path}, {_where(path, skip, r)}, column {c + 1}: "
                        f"{(written if written is not None else str(values[r, c]))!r} {problem}")
    if not (inputs.accepts(X.min()) and inputs.accepts(X.max())):
        r, c = np.argwhere(~inputs.accepts(X))[0]
        low, high = inputs.value_range
        raise DataError(f"{path}, {_where(path, skip, r)}, column {c + 1}: {inputs.noun[:-1]} {exact(X[r, c])} is outside {low:g}..{high:g}")
    if y is not None:
        bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= n_classes))
        if len(bad):
            r = bad[0]
            raise DataError(f"{path}, {_where(path, skip, r)}, column {d + 1}: label {y[r]:g} is not an integer 0..{n_classes - 1}")
        y = y.astype(np.int64)
    return X, y, (hashing.count, hashing.sha256.hexdigest())


OTHER_SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}  # what spreadsheets write instead of commas


def _header_lines(head: str, path: Path, layout: str) -> int:
    """Lines to skip: through the first non-blank line when that line is mostly not numbers (a header), else 0.
    DataError: a first line of one cell holding another separator (a ';' CSV would be taken for a header)."""
    for number, line in enumerate(head.splitlines(), start=1):
        cells = next(csv.reader([line]), [])
        if any(cell.strip() for cell in cells):
            if len(cells) == 1:
                spaced = len(cells[0].split()) > 1 and all(map(is_number, cells[0].split()))
                for sep, name in {**OTHER_SEPARATORS, **({" ": "spaces"} if spaced else {})}.items():
                    if sep in cells[0]:
                        raise DataError(f"{path}, line {number}: one column of values separated by {name}; digitnet "
                                        f"reads comma-separated values: expected {layout} separated by commas")
            return number if sum(not is_number(cell) for cell in cells) > len(cells) / 2 else 0
    return 0


def _line(path: Path, skip: int, row: int) -> tuple[int, str] | None:
    """(line number, text) of data row ``row`` (0-based), found by counting lines again; None where the file cannot
    be re-read."""
    if path.is_file():
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            seen = -1
            for number, line in enumerate(f, start=1):
                if number > skip and line.strip() and not line.lstrip().startswith("#"):
                    seen += 1
                    if seen == row:
                        return number, line
    return None


def _where(path: Path, skip: int, row: int) -> str:
    """'line L' for data row ``row`` (0-based), found by counting lines again; 'data row R' where the file cannot be re-read."""
    found = _line(path, skip, row)
    return f"line {found[0]}" if found else f"data row {row + 1}"


def _cell(path: Path, skip: int, row: int, column: int) -> str | None:
    """The text of one cell as the file writes it; None where the file cannot be re-read."""
    found = _line(path, skip, row)
    cells = next(csv.reader([found[1]]), []) if found else []
    return cells[column].strip() if column < len(cells) else None


def _finite_number(cell: str) -> bool:
    try:
        return np.isfinite(float(cell))
    except ValueError:
        return False


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

