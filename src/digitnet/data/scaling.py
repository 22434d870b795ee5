"""Input scaling: one offset and one spread over all pixels of the training rows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DataError


@dataclass(frozen=True)
class Scaling:
    """x_scaled = (x - offset) / scale, per pixel; offset and scale are (d,) arrays."""

    method: str
    offset: np.ndarray
    scale: np.ndarray

    def apply(self, X: np.ndarray, dtype: str | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Scaled X (or its ``rows``), computed in float64; ``dtype`` rounds it to that type block by block,
        with no float64 copy of X and no copy of the rows before scaling."""
        if dtype is None:
            return ((X if rows is None else X[rows]) - self.offset) / self.scale
        n = len(X) if rows is None else len(rows)
        out = np.empty((n, X.shape[1]), dtype)
        if X.size > _SCALE_BLOCK and X.ndim == 2 and X.dtype.isnative and X.dtype.kind in "uif":
            from ..fast import kernels  # the same float64 arithmetic, compiled: 7x faster on MNIST

            X = np.ascontiguousarray(X)
            kernels.scale_rows(X, np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64),
                               self.offset.astype(np.float64), self.scale.astype(np.float64), out)
            return out
        step = _block_rows(X)
        for start in range(0, n, step):
            block = slice(start, start + step)
            out[block] = ((X[block] if rows is None else X[rows[block]]) - self.offset) / self.scale
        return out


_SCALE_BLOCK = 1 << 22  # values scaled at a time: 32 MB of float64


def _block_rows(X: np.ndarray) -> int:
    return max(1, _SCALE_BLOCK // max(1, X.shape[1]))


# Values whose largest magnitude lies in 2**-100..2**100 have sums of squares far from float64's limits; others
# (features of 1e200 or 1e-300) are first brought near 1 by a power of two, exactly, and the statistics scaled back
_SAFE_EXPONENTS = range(-100, 101)


def fit_scaling(X: np.ndarray, method: str) -> Scaling:
    """One mean and one spread over all pixels of X (per-pixel statistics scored lower in
    cross-validation: rarely inked border pixels get blown up).

    ``"blog"``: the mean and the variance (not the standard deviation), as the post.
    ``"standard"``: the mean and the standard deviation.
    Any finite X: values far from 1 (1e200, 1e-300) are scaled by a power of two first, so no sum
    overflows or underflows. Raises DataError when every value is the same, or when the post's
    variance itself is beyond float64.
    """
    d = X.shape[1]
    top = max(abs(float(X.min())), abs(float(X.max())))
    exponent = math.frexp(top)[1] if top else 0
    if exponent in _SAFE_EXPONENTS:
        mean, var = _moments(X)
        spread = var if method == "blog" else math.sqrt(var)
    else:
        mean, var = _moments_scaled(X, -exponent)  # of X / 2**exponent: values below 1 in size
        mean = math.ldexp(mean, exponent)
        if method == "blog":
            try:
                spread = math.ldexp(var, 2 * exponent)
            except OverflowError:
                spread = math.inf
            if var > 0 and not 0 < spread < math.inf:
                raise DataError(f"cannot scale the inputs: the post's scaling divides by the variance of the inputs, "
                                f"which {'overflows' if spread else 'underflows'} float64 (values up to {top:.3g}); "
                                "use scaling 'standard' (the standard deviation)")
        else:
            spread = math.ldexp(math.sqrt(var), exponent)
    if not spread > 0:
        raise DataError("cannot scale the inputs: every pixel of the training data has the same value")
    return Scaling(method, np.full(d, mean), np.full(d, spread))


def _moments(X: np.ndarray) -> tuple[float, float]:
    """Mean and variance of all of X, in float64 whatever X's dtype: a float32 CSV and the embedded float64
    digits give the same scaling."""
    mean = X.mean(dtype=np.float64)
    if X.size <= _SCALE_BLOCK:
        squares = np.sum((X - mean) ** 2)  # NumPy's own var, exactly
    else:  # NumPy's var makes a float64 copy of X (430 MB for MNIST): summed row by row, compiled, instead
        from ..fast import kernels

        squares = kernels.squared_deviations(np.ascontiguousarray(X), float(mean))
    return float(mean), float(squares / X.size)


def _moments_scaled(X: np.ndarray, exponent: int) -> tuple[float, float]:
    """Mean and variance of X * 2**exponent (exact: a power of two), two passes over blocks of rows."""
    step = _block_rows(X)
    blocks = [slice(start, start + step) for start in range(0, len(X), step)]
    mean = sum(float(np.ldexp(X[b], exponent, dtype=np.float64).sum()) for b in blocks) / X.size
    squares = sum(float(np.sum((np.ldexp(X[b], exponent, dtype=np.float64) - mean) ** 2)) for b in blocks)
    return mean, squares / X.size
