"""Pen strokes in the UNIPEN text format (the UCI pen-based digits' original files), drawn as the page draws them.

A file is a header (``.INCLUDE``, ``.LEXICON``, ``.HIERARCHY`` ...), then per digit::

    .SEGMENT DIGIT 6-7 ? "4"          # segment number(s), quality, the label in quotes
    .COMMENT 4 1 117                  # label, writer, index (the UCI files' layout)
    .PEN_DOWN
     267  333                         # x y, integers; y grows UPWARD (a tablet's axes)
     ...
    .PEN_UP
    .DT 100                           # (ignored: the time to the next stroke)
    .PEN_DOWN                         # a second stroke of the same digit
    ...

Every digit is turned into the model's input exactly as the drawing page's strokes are
(:func:`render`): y flipped, the drawing scaled so that its larger side is ``DRAWN_SIZE`` pixels,
centred on the page's 280x280 pad, drawn by :func:`digitnet.preprocess.ink_from_strokes` (the
page's pen) and preprocessed by :func:`digitnet.preprocess.to_input`. So a model trained on these
rows sees what the page sends it. Each row keeps its writer (``Dataset.groups``): a held-out split
never has a writer on both sides.

Source: Alpaydin, E. and Alimoglu, F. (1998), Pen-Based Recognition of Handwritten Digits, UCI
Machine Learning Repository (CC BY 4.0); the files' format: Guyon, I. et al. (1994), UNIPEN
project of on-line data exchange and recognizer benchmarks, ICPR.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import Recorded, open_regular
from .dataset import OPTDIGITS, Dataset, Inputs
from .idx import GZIP_MAGIC

MAX_BYTES = 1 << 28  # a file (uncompressed) over 256 MiB is refused: the UCI file is 3.6 MB
# tablets report points in their own units, up to tens of thousands (the UCI file's WACOM: 0..500 per box); a point
# past this is no pen's, and 1e308 would overflow the drawing's arithmetic (its extent is infinite)
MAX_COORDINATE = 1e7
DRAWN_SIZE = 200  # the larger side of each digit on the pad, in pad pixels (the page's 280x280 pad)
N_CLASSES = 10


@dataclass(frozen=True)
class PenDigit:
    """One digit of a UNIPEN file: its strokes in the file's coordinates (y up), label, writer, and where it starts."""

    strokes: tuple[np.ndarray, ...]  # each (k, 2) float64 x, y points of one pen-down stroke
    label: int  # 0..9
    writer: int  # the writer's number in the file's .COMMENT lines
    line: int  # the line of its .SEGMENT, 1-based


def read_unipen(path: str | Path, recorded: Recorded | None = None) -> tuple[list[PenDigit], str, int]:
    """The digits of the UNIPEN file ``path`` (plain or gzipped, recognised by its magic bytes), the SHA-256
    of the file's bytes as stored, and their number.

    ``recorded``: read it only as a regular file of the recorded size and SHA-256 (a model's own training
    data, found again from its untrusted metadata), hashed as it is read and never past that size.
    Raises DataError, naming the file and the line, for anything that is not such a file: not a regular
    file (a FIFO would block, a device never end), over MAX_BYTES, a missing or malformed header, a digit
    without label or writer, a point that is not two numbers, a digit without points or with more strokes
    or points than the page accepts, a stroke left open at the end (a truncated file), a corrupt gzip stream.
    """
    path = Path(path)
    stream = recorded.open(path) if recorded is not None else open_regular(path, limit=MAX_BYTES)
    try:
        with stream:
            raw = stream.read()
            if recorded is not None:
                stream.check(recorded.sha256)
            digest = stream.sha256.hexdigest()
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    size = len(raw)
    if raw[:2] == GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
                raw = unzipped.read(MAX_BYTES + 1)
        except (OSError, EOFError, zlib.error) as e:  # a truncated gzip stream is an EOFError
            raise DataError(f"{path}: corrupt or truncated gzip data ({' '.join(str(e).split())})") from None
    if len(raw) > MAX_BYTES:
        raise DataError(f"{path}: over {MAX_BYTES >> 20} MiB of text; not a UNIPEN file of digits")
    return _parse(raw.decode("latin-1").splitlines(), path), digest, size


def _parse(lines: list[str], path: Path) -> list[PenDigit]:
    from ..preprocess import MAX_POINTS, MAX_STROKES  # what the page accepts of one drawing

    digits: list[PenDigit] = []
    segment: dict | None = None  # the digit being read: label, line, writer, strokes
    stroke: list[tuple[float, float]] | None = None  # the open pen-down stroke
    stroke_line = 0
    seen_keyword = False

    def fail(n: int, message: str) -> DataError:
        return DataError(f"{path}, line {n}: {message}")

    def close(n: int) -> None:
        if segment is None:
            return
        if not segment["strokes"]:
            raise fail(segment["line"], f"digit \"{segment['label']}\" has no points (no .PEN_DOWN ... .PEN_UP with x y lines)")
        if segment["writer"] is None:
            raise fail(segment["line"], "digit without a .COMMENT line (label, writer, index) after its .SEGMENT")
        points = sum(len(s) for s in segment["strokes"])
        if len(segment["strokes"]) > MAX_STROKES or points > MAX_POINTS:
            raise fail(segment["line"], f"digit of {len(segment['strokes'])} strokes and {points:,} points; a drawing "
                                        f"has at most {MAX_STROKES} strokes and {MAX_POINTS:,} points")
        digits.append(PenDigit(tuple(segment["strokes"]), segment["label"], segment["writer"], segment["line"]))

    for n, text in enumerate(lines, start=1):
        line = text.strip()
        if not line:
            continue
        if not line.startswith("."):
            if stroke is None:
                where = "before any .PEN_DOWN" if seen_keyword else "where a UNIPEN header (.INCLUDE, .LEXICON, ...) was expected"
                raise fail(n, f"{_short(line)!r} {where}; not a UNIPEN file of pen strokes?")
            fields = line.split()
            try:
                x, y = (float(v) for v in fields)
            except ValueError:
                raise fail(n, f"expected a point: two numbers x y; got {_short(line)!r}") from None
            if not (np.isfinite(x) and np.isfinite(y)):
                raise fail(n, f"point coordinates must be finite numbers; got {_short(line)!r}")
            if max(abs(x), abs(y)) > MAX_COORDINATE:
                raise fail(n, f"point coordinates must lie within -{MAX_COORDINATE:g}..{MAX_COORDINATE:g} (a tablet's "
                              f"units); got {_short(line)!r}")
            stroke.append((x, y))
            continue
        keyword, _, rest = line.partition(" ")
        seen_keyword = True
        if keyword == ".SEGMENT":
            if stroke is not None:
                raise fail(stroke_line, ".PEN_DOWN without its .PEN_UP before the next .SEGMENT")
            close(n)
            segment = {"label": _segment_label(rest, lambda m: fail(n, m)), "line": n, "writer": None, "strokes": []}
        elif keyword == ".COMMENT" and segment is not None and segment["writer"] is None and not segment["strokes"]:
            fields = rest.split()
            if len(fields) < 2 or not all(f.isdigit() for f in fields[:2]):
                raise fail(n, f"expected .COMMENT <label> <writer> <index> (the UCI pen digits' layout); got {_short(line)!r}")
            if int(fields[0]) != segment["label"]:
                raise fail(n, f".COMMENT says label {fields[0]}, its .SEGMENT says \"{segment['label']}\"")
            segment["writer"] = int(fields[1])
        elif keyword == ".PEN_DOWN":
            if segment is None:
                raise fail(n, ".PEN_DOWN before any .SEGMENT DIGIT: the strokes belong to no digit")
            if stroke is not None:
                raise fail(n, f".PEN_DOWN while the stroke of line {stroke_line} is still down (no .PEN_UP)")
            stroke, stroke_line = [], n
        elif keyword == ".PEN_UP":
            if stroke is None:
                raise fail(n, ".PEN_UP without a .PEN_DOWN")
            if stroke:
                segment["strokes"].append(np.asarray(stroke, dtype=np.float64))
            stroke = None
        # other keywords (.INCLUDE, .LEXICON, .HIERARCHY, .DT, comments between digits ...) say nothing of the strokes
    if stroke is not None:
        raise fail(stroke_line, ".PEN_DOWN without its .PEN_UP at the end of the file: the file is truncated")
    close(len(lines))
    if not digits:
        raise DataError(f"{path}: no digits (.SEGMENT DIGIT ... with strokes); not a UNIPEN file of pen digits?")
    return digits


def _segment_label(rest: str, fail) -> int:
    """The label of ``.SEGMENT DIGIT <numbers> <quality> "<label>"``, 0..9."""
    fields = rest.split()
    if len(fields) < 2 or fields[0] != "DIGIT":
        raise fail(f"expected .SEGMENT DIGIT <number> <quality> \"<label>\"; got .SEGMENT {_short(rest)!r}")
    label = fields[-1]
    if not (len(label) == 3 and label[0] == label[2] == '"' and label[1].isdigit()):
        raise fail(f"the label must be one digit in quotes, such as \"7\"; got {_short(label)!r}")
    return int(label[1])


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def on_pad(strokes: tuple[np.ndarray, ...], size: float = DRAWN_SIZE) -> list[np.ndarray]:
    """Strokes in a tablet's coordinates (y up) as the page would send them: y flipped, the larger side of the
    drawing ``size`` pad pixels (aspect kept), centred on the PAD x PAD pad. Returns (k, 2) arrays."""
    from ..preprocess import PAD

    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = size / max(float((high - low).max()), 1.0)
    centre = (low + high) / 2
    return [np.column_stack([(s[:, 0] - centre[0]) * scale + PAD / 2, (centre[1] - s[:, 1]) * scale + PAD / 2])
            for s in strokes]


def render(digit: PenDigit, inputs: Inputs, size: float = DRAWN_SIZE) -> np.ndarray | None:
    """The model's input (n_features,) for one pen digit, through the page's own code path, or None when
    :func:`~digitnet.preprocess.to_input` sees no digit (a dot)."""
    from ..preprocess import PAD, ink_from_strokes, to_input

    return to_input(ink_from_strokes(on_pad(digit.strokes, size), PAD, PAD), inputs)


def load_unipen(path: str | Path, inputs: Inputs | None = None, recorded: Recorded | None = None) -> Dataset:
    """The digits of a UNIPEN file, each rendered to ``inputs`` (default 28x28, 0..255, MNIST's) as the drawing
    page renders strokes; ``groups`` holds each digit's writer, ``source`` the file's SHA-256.

    ``recorded``: read the file only as recorded (:func:`read_unipen`).
    Raises DataError (file and line) for a malformed file, or a digit too small to be one (a dot).
    """
    from .images import IMAGE_INPUTS

    inputs = inputs or IMAGE_INPUTS["images"]
    digits, digest, size = read_unipen(path, recorded)
    X = np.empty((len(digits), inputs.n_features), dtype=np.float32)
    for i, digit in enumerate(digits):
        x = render(digit, inputs)
        if x is None:
            raise DataError(f"{path}, line {digit.line}: the digit's strokes are a dot, not a digit")
        X[i] = x
    y = np.array([d.label for d in digits], dtype=np.int64)
    writers = np.array([d.writer for d in digits], dtype=np.int64)
    source = {"kind": "unipen", "path": str(Path(path).resolve()), "sha256": digest, "size": size,
              "inputs": "unipen8" if inputs.image_shape == OPTDIGITS.image_shape else "unipen"}
    return Dataset(X, y, source, inputs, N_CLASSES, groups=writers)
