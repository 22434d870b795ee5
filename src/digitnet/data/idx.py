"""MNIST's IDX files: a reader that trusts no header, a writer, and the MNIST directory layout.

An IDX file is two zero bytes, a type code (0x08: unsigned bytes), the number of dimensions, each
dimension as a big-endian uint32, then the values row by row. MNIST ships them gzipped
(``train-images-idx3-ubyte.gz``); gzip is recognised by its magic bytes, not by the name.
The same layout holds EMNIST (digits) and Fashion-MNIST.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from .. import memory
from ..errors import DataError
from ..files import Recorded, open_regular, write_atomic
from .dataset import Dataset, Inputs

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
_CHUNK = 1 << 20  # bytes read at a time from a gzip stream: memory follows the data, never the header's claim

MNIST_CLASSES = 10
MNIST_RANGE = (0.0, 255.0)
# (part, kind, dimensions): the four files of the official split
MNIST_FILES = (("train", "images", 3), ("train", "labels", 1), ("t10k", "images", 3), ("t10k", "labels", 1))


def read_idx(path: str | Path, *, ndim: int | None = None, recorded: Recorded | None = None) -> tuple[np.ndarray, str]:
    """The unsigned-byte array in the IDX file ``path`` (raw or gzipped), and the SHA-256 of the file's bytes.

    The header's dimensions are checked against the data actually there, and against this machine's
    memory, before anything is allocated; the values are read straight into the one array returned.
    ``ndim`` (1 for labels, 3 for images) is what the caller expects; ``recorded``: read it only as a
    regular file of that size and hash (a model's own data, found again).
    """
    with _IdxFile(Path(path), ndim, recorded) as f:
        _check_memory(f.size, f"{f.path}: {_shape_text(f.shape)} = {f.size:,} values")
        values = np.empty(f.shape, np.uint8)
        f.read_into(values.reshape(-1))
        return values, f.digest


class _IdxFile:
    """An IDX file, opened (a regular file only) and its header read; :meth:`read_into` reads the values."""

    def __init__(self, path: Path, ndim: int | None, recorded: Recorded | None) -> None:
        self.path, self.recorded = path, recorded
        self.raw = recorded.open(path) if recorded is not None else open_regular(path)
        try:
            self._read_header(ndim)
        except BaseException:
            self.close()
            raise

    def _read_header(self, ndim: int | None) -> None:
        path = self.path
        self.buffered = io.BufferedReader(self.raw, _CHUNK)
        self.gzipped = self.buffered.peek(2)[:2] == GZIP_MAGIC
        self.stream = gzip.GzipFile(fileobj=self.buffered) if self.gzipped else self.buffered
        header = self._read(4)
        if len(header) < 4 or header[:2] != b"\0\0":
            raise DataError(f"{path}: not an IDX file (wrong magic number {header.hex() or 'none'}; "
                            "expected 0000 08 then the number of dimensions)")
        if header[2] != UBYTE:
            raise DataError(f"{path}: IDX type code 0x{header[2]:02x} is not supported; expected 0x08 (unsigned bytes)")
        n_dims = header[3]
        if ndim is not None and n_dims != ndim:
            what = "labels (1 dimension)" if ndim == 1 else f"images ({ndim} dimensions: count, rows, columns)"
            raise DataError(f"{path}: has {n_dims} dimensions; expected {what}")
        dims_bytes = self._read(4 * n_dims)
        if len(dims_bytes) < 4 * n_dims:
            raise DataError(f"{path}: truncated in its header ({n_dims} dimensions announced)")
        self.shape = struct.unpack(f">{n_dims}I", dims_bytes)
        self.size = math.prod(self.shape)
        if self.size == 0:
            raise DataError(f"{path}: holds no values (dimensions {_shape_text(self.shape)})")
        if not self.gzipped:  # a raw file's size says whether the header tells the truth, before any reading
            held = os.fstat(self.raw.raw.fileno()).st_size - 4 - 4 * n_dims
            if held != self.size:
                _wrong_size(path, self.shape, held)

    def _read(self, n: int) -> bytes:
        try:
            return self.stream.read(n)
        except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{self.path}: corrupt gzip data ({e})") from None

    def read_into(self, out: np.ndarray) -> None:
        """The values into ``out`` ((size,) uint8, contiguous), chunk by chunk: memory holds them once."""
        view, have = memoryview(out).cast("B"), 0
        try:
            while have < self.size:
                n = self.stream.readinto(view[have : have + _CHUNK])
                if not n:
                    break
                have += n
            extra = self.stream.read(1) if have == self.size else b""  # and, for gzip, its checksum verified
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{self.path}: corrupt gzip data ({e})") from None
        if have < self.size or extra:
            _wrong_size(self.path, self.shape, have + len(extra))
        while self.buffered.read(_CHUNK):  # the rest of the file (gzip's trailer) is hashed too
            pass
        if self.recorded is not None:
            self.raw.check(self.recorded.sha256)

    @property
    def digest(self) -> str:
        return self.raw.sha256.hexdigest()

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _IdxFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _wrong_size(path: Path, shape: tuple[int, ...], got: int):
    size = math.prod(shape)
    problem = "truncated" if got < size else "longer than its header says"
    raise DataError(f"{path}: {problem}: the header announces {_shape_text(shape)} = {size:,} values, "
                    f"the file holds {got:,}" + (" or more" if got > size else ""))


# bytes per value of an IDX data set in memory: the uint8 images, and the float32 copy that training scales them into
_BYTES_PER_VALUE = 1 + 4


def _check_memory(n_values: int, what: str) -> None:
    """Refuse, before reading, a data set that would not fit in this machine's memory (a gzip bomb, say)."""
    needed = n_values * _BYTES_PER_VALUE
    ok, total = memory.fits(needed)
    if not ok:
        raise DataError(f"{what} need {memory.gib(needed)} to read and train on (the bytes, then a float32 copy); "
                        f"this machine has {memory.gib(total)} of memory")


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write an unsigned-byte array as an IDX file (gzipped when ``compress``, by default when the name ends
    in .gz), atomically."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.integer) or array.min() < 0 or array.max() > 255:
            raise DataError(f"IDX unsigned-byte files hold integers 0..255; got {array.dtype} values")
        array = array.astype(np.uint8)
    if not 1 <= array.ndim <= 255:
        raise DataError(f"an IDX file holds 1 to 255 dimensions; got {array.ndim}")
    payload = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path = Path(path)
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    return write_atomic(path, payload, example="train-images-idx3-ubyte.gz")


# [PREFIX-]PART-KIND{-|.}idxD-ubyte[.gz]: MNIST's and Fashion-MNIST's names (no prefix), EMNIST's ("emnist-digits-"),
# the '.idx' spelling of some copies; PART is train, or t10k / test (the test split); KIND images (D = 3) or labels (D = 1)
IDX_NAME = re.compile(r"(?P<prefix>(?:.*[-_.])?)(?P<part>train|t10k|test)-(?P<kind>images|labels)"
                      r"(?P<sep>[-.])idx(?P<dims>\d)-ubyte(?P<gz>\.gz)?")
IDX_NAMES = "[PREFIX-]{train,t10k,test}-{images-idx3,labels-idx1}-ubyte[.gz] ('.idx3'/'.idx1' spellings too)"


def find_mnist_files(directory: str | Path) -> dict[tuple[str, str], Path] | None:
    """The four files of an MNIST-layout directory, by (part, kind) with part "train" or "t10k"; None when it has
    none of them.

    The names looked for are :data:`IDX_NAME`'s: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (``test`` for ``t10k`` too), each raw or ``.gz``,
    with ``.idx3``/``.idx1`` for ``-idx3``/``-idx1`` too, and all four behind one prefix, as EMNIST's
    ``emnist-digits-train-images-idx3-ubyte.gz``. Where a name has several spellings, the first of
    ``-``/``.`` then raw/``.gz`` is taken. A folder holding complete sets under two prefixes is ambiguous
    (DataError); an incomplete one gives the files found, for the caller to say what is missing.
    """
    directory = Path(directory)
    sets: dict[str, dict[tuple[str, str], list]] = {}
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError:
        return None
    for name in names:
        m = IDX_NAME.fullmatch(name)
        if m is None or m["dims"] != {"images": "3", "labels": "1"}[m["kind"]]:
            continue
        part = "train" if m["part"] == "train" else "t10k"
        preference = (m["sep"] != "-", m["gz"] is not None)
        sets.setdefault(m["prefix"], {}).setdefault((part, m["kind"]), []).append((preference, directory / name))
    if not sets:
        return None
    found = {prefix: {key: min(paths)[1] for key, paths in files.items()} for prefix, files in sets.items()}
    complete = sorted(prefix for prefix, files in found.items() if len(files) == len(MNIST_FILES))
    if len(complete) > 1:
        shown = ", ".join(repr(p + "train-images-...") for p in complete)
        raise DataError(f"{directory}: holds several IDX data sets ({shown}); put each in a folder of its own")
    return found[complete[0]] if complete else max(found.values(), key=len)


def read_mnist(directory: str | Path, recorded: dict[str, Recorded] | None = None
               ) -> tuple[np.ndarray, np.ndarray, tuple[int, int], int, dict[str, str], dict[str, int]]:
    """Images (n, rows * columns) uint8 and labels (n,) of an MNIST-layout directory: the training files'
    rows first, then the t10k files' (the official test split).

    The four headers are read and checked against each other and against this machine's memory first; then
    the images go straight into one array (never a second copy). ``recorded`` ({file name: Recorded}): read
    only files of those names, sizes and hashes (a model's own data, found again).
    Returns (X, y, (rows, columns), number of training rows, {file name: sha256}, {file name: size in bytes}).
    """
    directory = Path(directory)
    if not directory.is_dir():
        missing = "not a directory" if directory.exists() else "no such directory"
        raise DataError(f"{directory}: {missing} (expected a folder with MNIST's IDX files)")
    found = find_mnist_files(directory) or {}
    missing = [f"{part}-{kind}-idx{dims}-ubyte[.gz]" for part, kind, dims in MNIST_FILES if (part, kind) not in found]
    if missing:
        raise DataError(f"{directory}: missing {', '.join(missing)} (MNIST's IDX files; the names read: {IDX_NAMES})")
    with contextlib.ExitStack() as stack:
        files = {}
        for part, kind, dims in MNIST_FILES:
            path = found[part, kind]
            expected = None
            if recorded is not None:
                expected = recorded.get(path.name)
                if expected is None:
                    raise DataError(f"{path}: not one of the files recorded ({', '.join(sorted(recorded))})")
            files[part, kind] = stack.enter_context(_IdxFile(path, dims, expected))
        counts = {}
        for part in ("train", "t10k"):
            images, labels = files[part, "images"], files[part, "labels"]
            if images.shape[0] != labels.shape[0]:
                raise DataError(f"{images.path}: {images.shape[0]:,} images but {labels.path.name} "
                                f"has {labels.shape[0]:,} labels")
            counts[part] = images.shape[0]
        shape = files["train", "images"].shape[1:]
        if files["t10k", "images"].shape[1:] != shape:
            raise DataError(f"{directory}: training images are {_shape_text(shape)}, "
                            f"test images {_shape_text(files['t10k', 'images'].shape[1:])}")
        n_train, n = counts["train"], counts["train"] + counts["t10k"]
        _check_memory(n * math.prod(shape), f"{directory}: {n:,} images of {_shape_text(shape)}")
        X = np.empty((n, math.prod(shape)), np.uint8)
        y = np.empty(n, np.uint8)
        files["train", "images"].read_into(X[:n_train].reshape(-1))
        files["t10k", "images"].read_into(X[n_train:].reshape(-1))
        files["train", "labels"].read_into(y[:n_train])
        files["t10k", "labels"].read_into(y[n_train:])
        hashes = {f.path.name: f.digest for f in files.values()}
        sizes = {f.path.name: f.raw.count for f in files.values()}
    for part, rows in (("train", slice(0, n_train)), ("t10k", slice(n_train, n))):
        labels = y[rows]
        if labels.max() >= MNIST_CLASSES:
            row = int(np.argmax(labels >= MNIST_CLASSES))
            raise DataError(f"{files[part, 'labels'].path}: label {labels[row]} at position {row} is out of range; "
                            f"expected 0..{MNIST_CLASSES - 1}")
    return X, y.astype(np.int64), shape, n_train, hashes, sizes


def load_mnist(directory: str | Path) -> Dataset:
    """MNIST's IDX files in ``directory`` (or EMNIST-digits', Fashion-MNIST's: see :func:`find_mnist_files`):
    60,000 training then 10,000 test images, 28x28, 0..255 (uint8)."""
    X, y, source, inputs, test_rows = read_mnist_source(directory)
    return Dataset(X, y, source, inputs, MNIST_CLASSES, test_rows=test_rows)


def read_mnist_source(directory: str | Path, recorded: dict[str, Recorded] | None = None):
    """(X, y, source, inputs, test rows) of an MNIST-layout directory; the source records each file's size and hash."""
    directory = Path(directory)
    X, y, shape, n_train, hashes, sizes = read_mnist(directory, recorded)
    inputs = Inputs(shape[0] * shape[1], shape, MNIST_RANGE)
    source = {"kind": "mnist", "path": str(directory.resolve()), "sha256": hashes, "size": sizes}
    return X, y, source, inputs, np.arange(n_train, len(y))
