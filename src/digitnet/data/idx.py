"""MNIST's IDX files: a reader that trusts no header, a writer, and the MNIST directory layout.

An IDX file is two zero bytes, a type code (0x08: unsigned bytes), the number of dimensions, each
dimension as a big-endian uint32, then the values row by row. MNIST ships them gzipped
(``train-images-idx3-ubyte.gz``); gzip is recognised by its magic bytes, not by the name.
The same layout holds EMNIST (digits) and Fashion-MNIST.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import write_atomic
from .dataset import Dataset, Inputs

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
_CHUNK = 1 << 20  # bytes read at a time from a gzip stream: memory follows the data, never the header's claim

MNIST_CLASSES = 10
MNIST_RANGE = (0.0, 255.0)
# (part, kind, dimensions): the four files of the official split
MNIST_FILES = (("train", "images", 3), ("train", "labels", 1), ("t10k", "images", 3), ("t10k", "labels", 1))


def read_idx(path: str | Path, *, ndim: int | None = None) -> tuple[np.ndarray, str]:
    """The unsigned-byte array in the IDX file ``path`` (raw or gzipped), and the SHA-256 of the file's bytes.

    The header's dimensions are checked against the data actually there: nothing is allocated
    because a header claims it. ``ndim`` (1 for labels, 3 for images) is what the caller expects.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not an IDX file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    digest = hashlib.sha256(raw).hexdigest()
    gzipped = raw[:2] == GZIP_MAGIC
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if gzipped else io.BytesIO(raw)
    try:
        header = _read_up_to(stream, 4, path)
        if len(header) < 4 or header[:2] != b"\0\0":
            raise DataError(f"{path}: not an IDX file (wrong magic number {header.hex() or 'none'}; "
                            "expected 0000 08 then the number of dimensions)")
        if header[2] != UBYTE:
            raise DataError(f"{path}: IDX type code 0x{header[2]:02x} is not supported; expected 0x08 (unsigned bytes)")
        n_dims = header[3]
        if ndim is not None and n_dims != ndim:
            what = "labels (1 dimension)" if ndim == 1 else f"images ({ndim} dimensions: count, rows, columns)"
            raise DataError(f"{path}: has {n_dims} dimensions; expected {what}")
        dims_bytes = _read_up_to(stream, 4 * n_dims, path)
        if len(dims_bytes) < 4 * n_dims:
            raise DataError(f"{path}: truncated in its header ({n_dims} dimensions announced)")
        shape = struct.unpack(f">{n_dims}I", dims_bytes)
        size = math.prod(shape)
        if size == 0:
            raise DataError(f"{path}: holds no values (dimensions {'x'.join(map(str, shape))})")
        if not gzipped and len(raw) - 4 - 4 * n_dims != size:
            return _wrong_size(path, shape, len(raw) - 4 - 4 * n_dims)
        data = _read_up_to(stream, size + 1, path) if gzipped else raw[4 + 4 * n_dims :]
        if len(data) != size:
            return _wrong_size(path, shape, len(data))
    finally:
        stream.close()
    return np.frombuffer(data, np.uint8).reshape(shape), digest


def _wrong_size(path: Path, shape: tuple[int, ...], got: int):
    size = math.prod(shape)
    problem = "truncated" if got < size else "longer than its header says"
    raise DataError(f"{path}: {problem}: the header announces {'x'.join(map(str, shape))} = {size:,} values, "
                    f"the file holds {got:,}" + (" or more" if got > size else ""))


def _read_up_to(stream, n: int, path: Path) -> bytes:
    """At most n bytes, read in chunks so that memory grows only with what is really there."""
    parts, have = [], 0
    try:
        while have < n:
            chunk = stream.read(min(_CHUNK, n - have))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: corrupt gzip data ({e})") from None
    return b"".join(parts)


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


def find_mnist_files(directory: str | Path) -> dict[tuple[str, str], Path] | None:
    """The four files of an MNIST-layout directory, by (part, kind); None when it has none of them.

    Both spellings (``train-images-idx3-ubyte`` and ``train-images.idx3-ubyte``), each raw or .gz.
    """
    directory = Path(directory)
    found: dict[tuple[str, str], Path] = {}
    for part, kind, dims in MNIST_FILES:
        for sep in ("-", "."):
            for suffix in ("", ".gz"):
                candidate = directory / f"{part}-{kind}{sep}idx{dims}-ubyte{suffix}"
                if candidate.is_file():
                    found.setdefault((part, kind), candidate)
    return found or None


def read_mnist(directory: str | Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int], int, dict[str, str]]:
    """Images (n, rows * columns) uint8 and labels (n,) of an MNIST-layout directory: the training files'
    rows first, then the t10k files' (the official test split).
    Returns (X, y, (rows, columns), number of training rows, {file name: sha256})."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such directory (expected a folder with MNIST's IDX files)")
    found = find_mnist_files(directory) or {}
    missing = [f"{part}-{kind}-idx{dims}-ubyte[.gz]" for part, kind, dims in MNIST_FILES if (part, kind) not in found]
    if missing:
        raise DataError(f"{directory}: missing {', '.join(missing)} (MNIST's IDX files; '.idx' spellings work too)")
    parts, hashes = {}, {}
    for part in ("train", "t10k"):
        images, images_hash = read_idx(found[part, "images"], ndim=3)
        labels, labels_hash = read_idx(found[part, "labels"], ndim=1)
        hashes[found[part, "images"].name], hashes[found[part, "labels"].name] = images_hash, labels_hash
        if len(images) != len(labels):
            raise DataError(f"{found[part, 'images']}: {len(images):,} images but {found[part, 'labels'].name} "
                            f"has {len(labels):,} labels")
        if labels.max() >= MNIST_CLASSES:
            row = int(np.argmax(labels >= MNIST_CLASSES))
            raise DataError(f"{found[part, 'labels']}: label {labels[row]} at position {row} is out of range; "
                            f"expected 0..{MNIST_CLASSES - 1}")
        parts[part] = images, labels
    (train_images, train_labels), (test_images, test_labels) = parts["train"], parts["t10k"]
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(f"{directory}: training images are {'x'.join(map(str, train_images.shape[1:]))}, "
                        f"test images {'x'.join(map(str, test_images.shape[1:]))}")
    X = np.concatenate([train_images.reshape(len(train_images), -1), test_images.reshape(len(test_images), -1)])
    y = np.concatenate([train_labels, test_labels]).astype(np.int64)
    return X, y, train_images.shape[1:], len(train_images), hashes


def load_mnist(directory: str | Path) -> Dataset:
    """MNIST's IDX files in ``directory``: 60,000 training then 10,000 test images, 28x28, 0..255 (uint8)."""
    directory = Path(directory)
    X, y, shape, n_train, hashes = read_mnist(directory)
    inputs = Inputs(shape[0] * shape[1], shape, MNIST_RANGE)
    source = {"kind": "mnist", "path": str(directory.resolve()), "sha256": hashes}
    return Dataset(X, y, source, inputs, MNIST_CLASSES, test_rows=np.arange(n_train, len(y)))
