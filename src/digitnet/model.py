"""A trained model: weights, input scaling and description, history; it predicts. ``pipeline.train`` builds one."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .fast import predict as fast_predict
from .config import Config
from .data import OPTDIGITS, Inputs, Scaling
from .metrics import Evaluation, evaluate
from .network import Params
from .trainer import History


@dataclass(frozen=True)
class Model:
    """A network with its config, input scaling, training history, and the split it was tested on.

    ``predict`` and ``predict_proba`` take RAW inputs (n, d), as ``inputs`` describes them
    (for the embedded digits: 64 pixels 0..16): the model scales them itself.
    """

    params: Params
    config: Config
    scaling: Scaling
    history: History
    test_indices: np.ndarray  # (n_test,) rows of the training data set held out for testing
    data_source: dict = field(default_factory=lambda: {"kind": "sklearn-digits"})
    inputs: Inputs = OPTDIGITS  # how many inputs, whether an image, which raw values are valid
    metrics: dict = field(default_factory=dict)  # test-split scores measured after training
    command: str | None = None  # the command line that trained it, when `digitnet train` did

    @property
    def n_inputs(self) -> int:
        return self.params["W1"].shape[0]

    @property
    def n_classes(self) -> int:
        return self.params["W2"].shape[1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, K) for raw inputs X (n, d), in the network's dtype.

        The same numbers as ``network.predict_proba(params, scaling.apply(X))`` up to rounding,
        computed with the scaling folded into the first layer: one compiled call for a few
        rows, blocks of BLAS products for many.
        """
        X = np.asarray(X)  # no copy: blocks are checked and converted as they go
        if X.ndim != 2 or X.shape[1] != self.n_inputs or len(X) == 0 or X.dtype.kind not in "iuf":
            self.inputs.check(X)  # raises, naming the problem
        W1, b1, W2, b2 = self.folded
        P, bad = fast_predict.predict_proba(X, W1, b1, W2, b2, *self.inputs.bounds())
        if bad >= 0:
            raise self.inputs.error(X[bad], bad)
        return P

    @functools.cached_property
    def folded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """W1, b1 with the input scaling folded in: ((x - o) / s) @ W1 + b1 = x @ (W1 / s) + (b1 - (o / s) @ W1)."""
        dtype = self.params["W1"].dtype
        W1 = self.params["W1"].astype(np.float64)
        o, s = self.scaling.offset, self.scaling.scale
        b1 = self.params["b1"] if "b1" in self.params else np.zeros(W1.shape[1])
        b2 = self.params["b2"] if "b2" in self.params else np.zeros(self.params["W2"].shape[1])
        W1f = np.ascontiguousarray(W1 / s[:, None], dtype=dtype)
        return W1f, (b1 - (o / s) @ W1).astype(dtype), np.ascontiguousarray(self.params["W2"]), b2.astype(dtype)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class (n,) for raw inputs X (n, d)."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> Evaluation:
        """Scores on raw inputs X (n, d) with labels y (n,)."""
        return evaluate(self.predict_proba(X), np.asarray(y))

    def is_finite(self) -> bool:
        return all(np.all(np.isfinite(w)) for w in self.params.values())
