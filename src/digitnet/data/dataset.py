"""What data are: :class:`Inputs` (how many values, image or not, valid range), :class:`Dataset`, labels, splits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, exact

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
        return DataError(f"{self.noun} must lie in {low:g}..{high:g}; row {row} has values from {exact(x.min())} to {exact(x.max())}")

    def bounds(self) -> tuple[float, float]:
        """(low, high) for the compiled checks: the largest finite floats when any finite value is valid."""
        if self.value_range is not None:
            return float(self.value_range[0]), float(self.value_range[1])
        top = float(np.finfo(np.float64).max)
        return -top, top


#: The inputs of scikit-learn's load_digits (the UCI optdigits test set): 64 pixels 0..16, "on" pixels of
#: 32x32 bitmaps counted in 4x4 blocks, as 8x8 images.
OPTDIGITS = Inputs(64, (8, 8), (0.0, 16.0))
OPTDIGITS_CLASSES = 10


@dataclass(frozen=True)
class Dataset:
    """Raw inputs and integer labels 0..n_classes-1, what the inputs are, and where they came from: data to
    learn from, so samples of at least 2 distinct classes (DataError otherwise, naming the one class).

    ``inputs`` defaults to plain features (any finite values); ``n_classes`` to the largest label + 1.
    Encoding other class values (strings, say) as 0..K-1 is the caller's job.
    """

    X: np.ndarray  # (n, d) raw inputs
    y: np.ndarray  # (n,) integer labels 0..n_classes-1
    source: dict = field(default_factory=lambda: {"kind": "arrays"})  # how to find these data again
    inputs: Inputs | None = None
    n_classes: int | None = None
    test_rows: np.ndarray | None = None  # a fixed test split (MNIST's t10k files); None: a seeded random one
    groups: np.ndarray | None = None  # (n,) each row's writer: a split never puts one on both sides; -1: unknown
    parts: tuple[int, ...] | None = None  # row counts of the data sets joined into this one, each split by its own rule

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if self.inputs is None and X.ndim != 2:
            raise DataError(f"expected a 2-D array of inputs (samples, features), got shape {X.shape}")
        inputs = self.inputs or Inputs(X.shape[1])
        inputs.check(X)
        y = check_labels(self.y, len(X), self.n_classes)  # 3.0 becomes 3: labels index arrays
        if y.min() == y.max():  # one class: a constant model would score 100% on its test split
            raise DataError(f"need samples of at least 2 classes; all {len(y):,} are of class {int(y[0])}, "
                            f"so a model could only ever answer {int(y[0])}")
        n_classes = self.n_classes if self.n_classes is not None else int(y.max()) + 1
        test_rows = self.test_rows
        if test_rows is not None:
            test_rows = np.asarray(test_rows)
            if test_rows.ndim != 1 or not np.issubdtype(test_rows.dtype, np.integer) or len(test_rows) == 0 \
                    or test_rows.min() < 0 or test_rows.max() >= len(X) or len(test_rows) >= len(X):
                raise DataError(f"test_rows must be distinct row numbers 0..{len(X) - 1}, leaving rows to train on")
        groups = self.groups
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(X),) or not np.issubdtype(groups.dtype, np.integer) or groups.min() < -1:
                raise DataError(f"groups must be {len(X)} integers >= -1 (one writer per row; -1: unknown)")
        parts = self.parts
        if parts is not None:
            parts = tuple(int(n) for n in parts)
            if sum(parts) != len(X) or min(parts) < 1:
                raise DataError(f"parts must be positive row counts adding up to {len(X)}; got {parts}")
        for name, value in (("X", X), ("y", y), ("inputs", inputs), ("n_classes", n_classes), ("test_rows", test_rows),
                            ("groups", groups), ("parts", parts)):
            object.__setattr__(self, name, value)

    def split_rows(self, test_size: float, seed: int, *, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
        """Train and test row numbers, part by part (``parts``; one part when None): a part's official test rows
        (``test_rows``) stay its test rows and the rest of it trains; a part without them is split seeded, by
        writer when its rows have ``groups`` (scikit-learn's GroupShuffleSplit: no writer on both sides),
        else by :func:`split`. One part without groups gives exactly :func:`split`'s rows."""
        bounds = np.cumsum((0, *(self.parts or (len(self.y),))))
        train, test = [], []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            rows = np.arange(start, stop)
            official = np.empty(0, np.int64) if self.test_rows is None else \
                self.test_rows[(self.test_rows >= start) & (self.test_rows < stop)]
            groups = None if self.groups is None else self.groups[start:stop]
            if len(official):
                part_train, part_test = np.setdiff1d(rows, official), official
            elif groups is not None and groups.min() >= 0:
                tr, te = split_groups(groups, test_size, seed)
                part_train, part_test = rows[tr], rows[te]
            else:
                tr, te = split(self.y[start:stop], test_size, seed, stratify=stratify)
                part_train, part_test = rows[tr], rows[te]
            train.append(part_train)
            test.append(part_test)
        return np.concatenate(train), np.concatenate(test)


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



def split_groups(groups: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with every group (writer) wholly on one side: scikit-learn's GroupShuffleSplit
    seeded with ``seed``, ``test_size`` being the share of groups held out."""
    from sklearn.model_selection import GroupShuffleSplit

    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    try:
        return next(splitter.split(np.empty((len(groups), 0)), groups=groups))
    except ValueError as e:
        raise DataError(f"cannot split {len(np.unique(groups))} writers into train and test: {' '.join(str(e).split())}") from None


def split_held_out(y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int, *, stratify: bool,
                   parts: str = "train and test") -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) of rows with labels y (n,) and writers ``groups`` (n,) (-1: unknown; None: none
    known): a share ``fraction`` held out, whole writers at a time where the writer is known, so that what
    is held out (to calibrate, to validate) is as new to the network as a test writer is.

    Rows of known writers are split by :func:`split_groups` (``fraction`` of the writers); the others by
    :func:`split`. Without known writers this is :func:`split`, row for row. Raises DataError when a part
    cannot be split (a single writer, a class with too few rows), naming ``parts``.
    """
    known = _known_writers(groups, len(y))
    if not known.any():
        return split(y, fraction, seed, stratify=stratify, parts=parts)
    rows, kept, held = np.arange(len(y)), [], []
    where = np.flatnonzero(known)
    if len(np.unique(groups[where])) < 2:
        raise DataError(f"cannot split the rows of 1 writer into {parts}: whole writers are held out, so at least 2 "
                        "are needed")
    k, h = split_groups(groups[where], fraction, seed)
    kept.append(where[k])
    held.append(where[h])
    unknown = rows[~known]
    if len(unknown):
        k, h = split(y[unknown], fraction, seed, stratify=stratify, parts=parts)
        kept.append(unknown[k])
        held.append(unknown[h])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def held_out_folds(y: np.ndarray, groups: np.ndarray | None, k: int, seed: int, *, stratify: bool,
                   what: str | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (kept, held out) index pairs over rows with labels y (n,) and writers ``groups`` (n,) (-1: unknown;
    None: none known), each row held out once, a known writer's rows all in one fold (scikit-learn's
    GroupKFold, shuffled by ``seed``); the other rows by StratifiedKFold (KFold when not ``stratify``), as
    without writers. Raises DataError when the rows cannot be cut so (fewer writers than folds, a class with
    fewer rows than folds), naming the folds ``what`` (default "k folds")."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    known = _known_writers(groups, len(y))
    held = [[] for _ in range(k)]
    rows = np.arange(len(y))
    try:
        if known.any():
            where = rows[known]
            n_writers = len(np.unique(groups[where]))
            if n_writers < k:
                raise ValueError(f"{n_writers} writers, each held out whole, cannot fill {k} folds; use {n_writers} "
                                 "folds or fewer")
            for i, (_, h) in enumerate(GroupKFold(k, shuffle=True, random_state=seed).split(where, groups=groups[where])):
                held[i].append(where[h])
        unknown = rows[~known]
        if len(unknown):
            splitter = StratifiedKFold(k, shuffle=True, random_state=seed) if stratify else \
                KFold(k, shuffle=True, random_state=seed)
            for i, (_, h) in enumerate(splitter.split(unknown, y[unknown])):
                held[i].append(unknown[h])
    except ValueError as e:
        raise DataError(f"cannot cut {len(y)} samples into {what or f'{k} folds'}: {' '.join(str(e).split())}") from None
    folds = []
    for h in held:
        h = np.sort(np.concatenate(h))
        folds.append((np.setdiff1d(rows, h), h))
    return folds


def _known_writers(groups: np.ndarray | None, n: int) -> np.ndarray:
    """(n,) True where a row's writer is known (groups >= 0)."""
    return np.zeros(n, bool) if groups is None else np.asarray(groups) >= 0
