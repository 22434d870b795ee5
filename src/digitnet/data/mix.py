"""Several data sets in one training run: each brought to one input shape, then joined, their provenance kept.

- :func:`convert`: an image data set in another shape (MNIST's 28x28 as 8x8, the embedded 8x8 digits as
  28x28), each image treated as a picture by :func:`digitnet.preprocess.to_input`, as a user's picture
  of that size would be;
- :func:`join`: the rows of several data sets, one after another, with each part's official test rows,
  writers and row count, and a source that names every part (kind, path, SHA-256, rows).

Which shape a mix takes, and how ``--data`` names its parts, is :mod:`.sources`' business.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .dataset import Dataset, Inputs

UPSAMPLE_TO = 64  # pixels: smaller images are enlarged (bicubic) to about this side before preprocessing
MAX_PARTS = 16  # data sets in one mix


def convert(data: Dataset, inputs: Inputs, where: str = "the data") -> Dataset:
    """``data`` with every image turned into ``inputs`` (image shape and value range) by the preprocessing;
    unchanged when it already has them.

    An image smaller than UPSAMPLE_TO pixels is first enlarged smoothly (bicubic), as a small picture is
    drawn on a screen: the 8x8 digits' 4x4 block counts become soft strokes, not squares.
    Raises DataError for inputs that are not images with a value range, or an image with no digit in it.
    """
    from PIL import Image

    from ..preprocess import to_input

    if data.inputs == inputs:
        return data
    source, target = data.inputs, inputs
    if source.image_shape is None or source.value_range is None or target.image_shape is None \
            or target.value_range is None:
        raise DataError(f"{where} has {source.describe()}; they cannot become {target.describe()}: only images with a "
                        "value range can be brought to another shape")
    low, high = source.value_range
    h, w = source.image_shape
    factor = max(1, int(np.ceil(UPSAMPLE_TO / max(h, w))))
    X = np.empty((len(data.y), target.n_features), dtype=np.float32)
    for i, row in enumerate(np.asarray(data.X)):
        ink = (row.reshape(h, w).astype(np.float64) - low) * (255.0 / (high - low))
        if factor > 1:
            enlarged = Image.fromarray(ink.astype(np.float32)).resize((w * factor, h * factor), Image.Resampling.BICUBIC)
            ink = np.clip(np.asarray(enlarged, dtype=np.float64), 0, 255)
        x = to_input(ink, target)
        if x is None:
            raise DataError(f"{where}: row {i} holds no digit that could become {target.describe()} (blank?)")
        X[i] = x
    return Dataset(X, data.y, data.source, target, data.n_classes, test_rows=data.test_rows, groups=data.groups)


def join(parts: list[tuple[str, Dataset]]) -> Dataset:
    """One data set of ``parts`` ((the path as named, data set) pairs, all of one input shape), in that order.

    Its source is ``{"kind": "mix", "parts": [each part's source with "rows" and the path as named]}``: paths
    are kept as the user gave them (relative ones to where training ran), so that a model file made from
    public data carries no path of the machine it was made on. Each part keeps its official test rows,
    writers and size (``Dataset.parts``), so that :meth:`Dataset.split_rows` splits it by its own rule.
    """
    if not 2 <= len(parts) <= MAX_PARTS:
        raise DataError(f"a mix joins 2 to {MAX_PARTS} data sets; got {len(parts)}")
    inputs = parts[0][1].inputs
    for name, data in parts[1:]:
        if data.inputs != inputs:
            raise DataError(f"{name} has {data.inputs.describe()}, the mix {inputs.describe()}")
    X = np.concatenate([np.asarray(d.X, dtype=np.float32) for _, d in parts])
    y = np.concatenate([d.y for _, d in parts])
    offsets = np.cumsum([0] + [len(d.y) for _, d in parts])
    official = [d.test_rows + start for (_, d), start in zip(parts, offsets) if d.test_rows is not None]
    groups = None
    if any(d.groups is not None for _, d in parts):
        groups = np.concatenate([d.groups if d.groups is not None else np.full(len(d.y), -1) for _, d in parts])
    described = []
    for name, data in parts:
        source = {**data.source, "rows": len(data.y)}
        if "path" in source:
            source["path"] = name
        described.append(source)
    return Dataset(X, y, {"kind": "mix", "parts": described}, inputs, max(d.n_classes for _, d in parts),
                   test_rows=np.concatenate(official) if official else None, groups=groups,
                   parts=tuple(len(d.y) for _, d in parts))
