"""A trained model: weights, input scaling and description, history; it predicts. ``pipeline.train`` builds one."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .fast import predict as fast_predict
from .config import Config
from .data import OPTDIGITS, Inputs, Scaling
from .deskew import deskew
from .errors import DataError
from .metrics import Evaluation, evaluate
from .network import Params
from .trainer import History


@dataclass(frozen=True)
class Model:
    """A network with its config, input scaling, training history, and the split it was tested on.

    ``predict`` and ``predict_proba`` take RAW inputs (n, d), as ``inputs`` describes them
    (for the embedded digits: 64 pixels 0..16): the model scales them itself. Outputs are columns
    0..K-1; ``classes[k]`` is column k's label when the model has labels (an estimator's network).
    """

    params: Params
    config: Config
    scaling: Scaling
    history: History
    test_indices: np.ndarray  # (n_test,) rows of the training data set held out for testing
    data_source: dict = field(default_factory=lambda: {"kind": "sklearn-digits"})
    inputs: Inputs = OPTDIGITS  # how many inputs, whether an image, which raw values are valid
    metrics: dict = field(default_factory=dict)  # test-split scores measured after training
    # (K,) the outputs' class labels, for a DigitNetClassifier's network (its classes_); None: the classes 0..K-1
    classes: np.ndarray | None = None
    temperature: float = 1.0  # p = softmax(z2 / temperature), fitted on held-out data (calibration.py); 1: as trained
    command: str | None = None  # the command line that trained it, when `digitnet train` did

    @property
    def n_inputs(self) -> int:
        return self.params["W1"].shape[0]

    @property
    def n_classes(self) -> int:
        return self.params["W2"].shape[1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, K) for raw inputs X (n, d), in the dtype of ``folded`` (the network's, as a rule).

        The same numbers as ``network.predict_proba(params, scaling.apply(X))`` up to rounding,
        computed with the scaling folded into the first layer, row by row in one compiled loop (large
        batches split across threads): a row's probabilities do not depend on the batch it is in.

        Parameters
        ----------
        X : array_like of shape (n, d)
            Raw inputs as ``self.inputs`` describes them (the embedded digits: 64 pixels 0..16).

        Returns
        -------
        ndarray of shape (n, K)
            Probabilities in the network's dtype, each row summing to 1.

        Raises
        ------
        DataError
            For a wrong shape, a non-numeric dtype, an empty array, or a value that is not finite or
            outside :attr:`input_bounds` (the inputs' range, and what the arithmetic can take; the message
            names the first bad row).
        """
        X = np.asarray(X)  # no copy: blocks are checked and converted as they go
        if X.ndim != 2 or X.shape[1] != self.n_inputs or len(X) == 0 or X.dtype.kind not in "iuf":
            self.inputs.check(X)  # raises, naming the problem
        if self.config.deskew:
            X = self.deskewed(X)
        W1, b1, W2, b2 = self.folded
        P, bad = fast_predict.predict_proba(X, W1, b1, self._W2T, b2, *self.input_bounds)
        if bad >= 0:
            raise self.input_error(X[bad], bad)
        return P

    def deskewed(self, X: np.ndarray) -> np.ndarray:
        """What the network reads for raw inputs X (n, d): X itself, or, for a model trained with
        ``config.deskew``, each image sheared upright and centred (:func:`digitnet.deskew.deskew`, float64).

        Raises DataError, naming the first bad row, for a value that is not finite, outside
        :attr:`input_bounds`, or negative (deskewing weighs pixels as ink: paper must be 0)."""
        if not self.config.deskew:
            return X
        X = np.asarray(X)
        low, high = self.input_bounds
        with np.errstate(invalid="ignore"):
            bad = ~np.all((X >= max(low, 0)) & (X <= high), axis=1)
        if np.any(bad):
            row = int(np.argmax(bad))
            if np.all(X[row][np.isfinite(X[row])] >= 0) or not np.all(np.isfinite(X[row])):
                raise self.input_error(X[row], row)
            raise DataError(f"this model deskews its inputs, which weighs pixels as ink: they must be >= 0 "
                            f"(paper 0); row {row} has {float(X[row].min()):g}")
        return deskew(X, self.inputs.image_shape)

    @functools.cached_property
    def input_bounds(self) -> tuple[float, float]:
        """(low, high): the raw values ``predict_proba`` accepts, ends included.

        The inputs' valid range, and within it (for plain features: any finite number) values small enough
        that the first layer cannot overflow the network's dtype: with ``abs(x) <= high``, every hidden unit's
        ``abs(x @ W1f + b1f) <= high * max_j sum_i abs(W1f[i, j]) + max abs(b1f)`` stays under a quarter of the
        dtype's largest float (float32: 3.4e38), and so does every scaled input ``abs(x - o) / s`` (what
        explain computes).
        """
        W1, b1, _, _ = self.folded
        top = float(np.finfo(W1.dtype).max) / 4
        column = float(np.abs(W1.astype(np.float64)).sum(axis=0).max())
        room = top - float(np.abs(b1.astype(np.float64)).max(initial=0.0))
        s, o = self.scaling.scale, self.scaling.offset
        limit = min(room / column if column > 0 else top, top * float(s.min()) - float(np.abs(o).max()), top)
        low, high = self.inputs.bounds()
        return max(low, -limit), min(high, limit)

    def input_error(self, x: np.ndarray, row: int | None = None) -> DataError:
        """The DataError for ``x`` (n_features,), row ``row`` of an input (None: the only one), which has a value
        outside :attr:`input_bounds`."""
        x = np.asarray(x, dtype=np.float64)
        low, high = self.input_bounds
        if np.all(self.inputs.accepts(x)):  # valid inputs, but too large for the network's arithmetic
            worst = float(x[np.argmax(np.abs(x))])
            return DataError(f"{self.inputs.noun} must lie within {low:.3g}..{high:.3g} for this model (larger ones "
                             f"overflow its {self.folded[0].dtype} arithmetic); "
                             + (f"row {row} has {worst:g}" if row is not None else f"got {worst:g}"))
        return self.inputs.error(x, 0 if row is None else row)

    @functools.cached_property
    def folded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """W1, b1 with the input scaling folded in: ((x - o) / s) @ W1 + b1 = x @ (W1 / s) + (b1 - (o / s) @ W1);
        W2, b2 with the temperature: (h @ W2 + b2) / T = h @ (W2 / T) + b2 / T.

        In the network's dtype; in float64 when the folded weights do not fit it (inputs of size 1e200 or
        1e-300 make W1 / s leave float32's range), so that inference stays what training learnt.
        """
        dtype = self.params["W1"].dtype
        W1 = self.params["W1"].astype(np.float64)
        o, s = self.scaling.offset, self.scaling.scale
        b1 = self.params["b1"] if "b1" in self.params else np.zeros(W1.shape[1])
        b2 = self.params["b2"] if "b2" in self.params else np.zeros(self.params["W2"].shape[1])
        W1f, b1f = W1 / s[:, None], b1 - (o / s) @ W1
        W2, T = self.params["W2"], self.temperature
        if T != 1:
            W2, b2 = W2.astype(np.float64) / T, b2.astype(np.float64) / T
        if not (_fits(W1f, dtype) and _fits(b1f, dtype)):
            dtype = np.dtype(np.float64)
        return (np.ascontiguousarray(W1f, dtype=dtype), b1f.astype(dtype),
                np.ascontiguousarray(W2, dtype=dtype), b2.astype(dtype))

    @functools.cached_property
    def _W2T(self) -> np.ndarray:
        """W2 transposed, (K, H), contiguous, in the dtype of ``folded``: the kernel sums along its rows."""
        return np.ascontiguousarray(self.folded[2].T)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class (n,) for raw inputs X (n, d); raises DataError as :meth:`predict_proba`."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> Evaluation:
        """Scores (:func:`digitnet.evaluate`) on raw inputs X (n, d) with labels y (n,) in 0..K-1."""
        return evaluate(self.predict_proba(X), np.asarray(y))

    def is_finite(self) -> bool:
        return all(np.all(np.isfinite(w)) for w in self.params.values())

    def _repr_html_(self) -> str:
        """Jupyter's view of a model: a small HTML card (:func:`digitnet.card.model_card`)."""
        from .card import model_card

        return model_card(self)


def _fits(values: np.ndarray, dtype: np.dtype) -> bool:
    """Whether float64 ``values`` keep their size in ``dtype``: none beyond its largest number, none of its
    normal numbers lost below its smallest one."""
    info = np.finfo(dtype)
    size = np.abs(values[values != 0])
    return bool(np.all(np.isfinite(values))) and (not size.size or (size.max() <= info.max and size.min() >= info.tiny))
