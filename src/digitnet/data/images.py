"""Folders of pictures: one sub-folder per class (named 0, 1, ...), each picture preprocessed to the model's input."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import Recorded, open_regular
from .dataset import OPTDIGITS, Dataset, Inputs
from .idx import MNIST_RANGE

IMAGE_INPUTS = {"images": Inputs(784, (28, 28), MNIST_RANGE), "images8": OPTDIGITS}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # pictures.FORMATS
# pictures digitnet does not read (pictures.FORMATS): in a class folder they are refused by name, never skipped
# unsaid, as `predict --image` refuses them; other files (a README, .DS_Store) are not pictures and are left alone
OTHER_PICTURE_SUFFIXES = (".gif", ".bmp", ".webp", ".ico", ".heic", ".heif", ".avif", ".jp2", ".svg")
MAX_CLASSES = 1000  # class folders are numbered 0..999: the network has one output per class 0..K-1
MAX_PICTURE_BYTES = 1 << 27  # 128 MiB: a picture file larger than this is refused (no digit needs it)


def load_image_folder(directory: str | Path, inputs: Inputs = IMAGE_INPUTS["images"]) -> Dataset:
    """Pictures in one sub-folder per class (named 0, 1, ...), each preprocessed to ``inputs``; at least 2 classes."""
    X, y, source = read_image_folder(directory, inputs)
    try:
        return Dataset(X, y, source, inputs, int(y.max()) + 1)
    except DataError as e:
        raise DataError(f"{directory}: {e}") from None


def read_image_folder(directory: str | Path, inputs: Inputs = IMAGE_INPUTS["images"], recorded: Recorded | None = None
                      ) -> tuple[np.ndarray, np.ndarray, dict]:
    """The pictures of ``directory``'s class folders as (X (n, d) float32, y (n,) int64, source), the source
    recording the total size of the pictures and one SHA-256 of their names and contents.

    Every picture must be a regular file (a FIFO would block, a device never end) of at most
    MAX_PICTURE_BYTES. ``recorded``: read the folder only if it still holds exactly the pictures recorded
    (a model's own data, found again), stopping once more bytes than recorded were read.
    Raises DataError naming the folder or file and the problem.
    """
    from ..preprocess import ink_from_image, to_input

    directory = Path(directory)
    if not directory.is_dir():
        missing = "not a directory" if directory.exists() else "no such directory"
        raise DataError(f"{directory}: {missing} (expected one sub-folder of pictures per class)")
    if recorded is not None:  # first only hashed, one picture at a time: decoding what was not recorded could fill memory
        for _ in _Pictures(directory, recorded):
            pass
    rows, labels, size, first = [], [], None, None
    pictures = _Pictures(directory, recorded)
    for label, path, data in pictures:
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
        labels.append(label)
    if not rows:
        raise DataError(f"{directory}: no PNG, JPEG or TIFF pictures in its sub-folders")
    source = {"kind": "images", "path": str(directory.resolve()), "sha256": pictures.digest.hexdigest(),
              "size": pictures.total, "inputs": "images" if inputs.image_shape != OPTDIGITS.image_shape else "images8"}
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.int64), source


class _Pictures:
    """(class, path, bytes) of each picture of ``directory``'s class folders, in order, each a regular file of at most
    MAX_PICTURE_BYTES, hashed into one digest of names and contents; with ``recorded``, reads stop past the recorded
    size and the end checks the digest (DataError: it has changed)."""

    def __init__(self, directory: Path, recorded: Recorded | None = None) -> None:
        self.directory, self.recorded = directory, recorded
        self.digest, self.total = hashlib.sha256(), 0

    def __iter__(self):
        budget = self.recorded.size if self.recorded is not None else None
        for label, folder in class_folders(self.directory):
            for path in _picture_files(folder):
                limit = MAX_PICTURE_BYTES if budget is None else max(0, min(MAX_PICTURE_BYTES, budget - self.total))
                if budget is not None and _size(path) > limit:  # more pictures, or larger ones, than recorded
                    raise self._changed()
                with open_regular(path, limit=limit) as f:
                    data = f.read()
                self.total += len(data)
                self.digest.update(path.relative_to(self.directory).as_posix().encode() + b"\0"
                                   + hashlib.sha256(data).digest())
                yield label, path, data
        if self.recorded is not None and (self.digest.hexdigest() != self.recorded.sha256
                                          or budget not in (None, self.total)):
            raise self._changed()

    def _changed(self) -> DataError:
        return DataError(f"{self.directory}: its pictures are not the ones recorded (their names, sizes or "
                         "contents differ): it has changed since")


def _picture_files(folder: Path) -> list[Path]:
    """The PNG, JPEG and TIFF files of a class folder, by name. DataError, naming it, for a picture in another format
    or a symbolic link (the pictures read are regular files in the folder, never what a link points to)."""
    paths = []
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix in OTHER_PICTURE_SUFFIXES:
            raise DataError(f"{path}: a {suffix[1:].upper()} picture: digitnet reads PNG, JPEG and TIFF pictures only; "
                            "convert it to PNG, or move it out of the folder")
        if suffix in IMAGE_SUFFIXES:
            if path.is_symlink():
                raise DataError(f"{path}: a symbolic link; a class folder's pictures are read only as regular files: "
                                "copy the picture in")
            paths.append(path)
    return paths


def _size(path: Path) -> int:
    """The size of a regular file; 0 for anything else (open_regular then says what it is)."""
    try:
        st = path.stat()
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def class_folders(directory: Path) -> list[tuple[int, Path]]:
    """(class, folder) for each sub-folder of ``directory``, by class. A folder's name is its class number in
    ASCII digits, below MAX_CLASSES, one folder per class; anything else is refused by name."""
    folders = sorted(p for p in directory.iterdir() if p.is_dir())
    if not folders:
        raise DataError(f"{directory}: no sub-folders; put each class's pictures in a folder named after it (0, 1, ...)")
    classes: dict[int, Path] = {}
    for folder in folders:
        name = folder.name
        if not re.fullmatch(r"[0-9]+", name):  # not str.isdigit: '²' and '٣' are digits to it, and int() refuses them
            raise DataError(f"{directory}: sub-folder {name!r} is not a class number; name the class folders "
                            "0, 1, 2, ... (ASCII digits)")
        number = name.lstrip("0") or "0"
        if len(number) > len(str(MAX_CLASSES - 1)) or int(number) >= MAX_CLASSES:
            raise DataError(f"{directory}: sub-folder {name!r} names class {number}; class numbers go up to "
                            f"{MAX_CLASSES - 1} (the network has one output per class 0..K-1)")
        label = int(number)
        if label in classes:
            raise DataError(f"{directory}: sub-folders {classes[label].name!r} and {name!r} are both class {label}; "
                            "keep one")
        classes[label] = folder
    return sorted(classes.items())
