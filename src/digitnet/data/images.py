"""Folders of pictures: one sub-folder per class (named 0, 1, ...), each picture preprocessed to the model's input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import OPTDIGITS, Dataset, Inputs
from .idx import MNIST_RANGE

IMAGE_INPUTS = {"images": Inputs(784, (28, 28), MNIST_RANGE), "images8": OPTDIGITS}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # pictures.FORMATS


def load_image_folder(directory: str | Path, inputs: Inputs = IMAGE_INPUTS["images"]) -> Dataset:
    """Pictures in one sub-folder per class (named 0, 1, ...), each preprocessed to ``inputs``."""
    from ..preprocess import ink_from_image, to_input

    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such directory (expected one sub-folder of pictures per class)")
    folders = sorted(p for p in directory.iterdir() if p.is_dir())
    if not folders:
        raise DataError(f"{directory}: no sub-folders; put each class's pictures in a folder named after it (0, 1, ...)")
    bad = [p.name for p in folders if not p.name.isdigit()]
    if bad:
        raise DataError(f"{directory}: sub-folder {bad[0]!r} is not a class number; name them 0, 1, 2, ...")
    rows, labels, digest, size, first = [], [], hashlib.sha256(), None, None
    for folder in sorted(folders, key=lambda p: int(p.name)):
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            data = _read(path)
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
            try:
                ink = ink_from_image(data)  # (height, width)
            except DataError as e:
                raise DataError(f"{path}: {e}") from None
            if size is None:
                size, first = ink.shape, path
            elif ink.shape != size:
                raise DataError(f"{path}: {ink.shape[1]}x{ink.shape[0]} pixels, but {first.name} is "
                                f"{size[1]}x{size[0]}; a folder holds pictures of one size")
            x = to_input(ink, inputs)
            if x is None:
                raise DataError(f"{path}: no digit found (blank, or the ink is too small)")
            rows.append(x)
            labels.append(int(folder.name))
    if not rows:
        raise DataError(f"{directory}: no PNG, JPEG or TIFF pictures in its sub-folders")
    X = np.asarray(rows, dtype=np.float32)
    n_classes = max(labels) + 1
    source = {"kind": "images", "path": str(directory.resolve()), "sha256": digest.hexdigest(),
              "inputs": "images" if inputs.image_shape != OPTDIGITS.image_shape else "images8"}
    return Dataset(X, np.asarray(labels), source, inputs, max(n_classes, 2))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
