"""Deskewing: each image sheared upright and centred by its ink's second moments, before the network sees it.

LeCun et al. (1998, "Gradient-based learning applied to document recognition"; the MNIST page's
"deskewing" rows) straighten each digit by the shear that zeroes the covariance of its ink's row and column
coordinates. A model trained with ``Config.deskew`` applies it to every input, in training and in
prediction alike (``Model.predict_proba``, calibration, the live view, ``explain``, the ONNX graph), so
the images a user sends are straightened exactly as the training images were.

With the image's pixel values as masses (ink high, paper 0), rows r = 0..h-1 down, columns c = 0..w-1:

    M = sum x,   my = sum x r / M,   mx = sum x c / M,
    var_r = sum x (r - my)^2 / M,   cov = sum x (r - my)(c - mx) / M,   s = cov / var_r,

and the output pixel (r, c) is the input read (bilinearly, paper 0 outside the image) at

    row  r + my - cy,   column  c + mx - cx + s (r - cy),   (cy, cx) = ((h - 1) / 2, (w - 1) / 2):

the centre of mass moved to the image's centre and each row shifted along the slant. An image with no
ink (M = 0) or whose ink lies in one row (var_r = 0) is not sheared (s = 0).
"""

from __future__ import annotations

import numpy as np

from .fast import augment, kernels

BLOCK = 4096  # rows deskewed at a time: the float64 work arrays of a block stay near 100 MB for 28x28


def deskew(X: np.ndarray, shape: tuple[int, int], dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Deskewed images (n, h * w) in ``dtype`` (computed in float64) from rows of images X (n, h * w) of non-negative finite values
    (ink high, paper 0), each read row by row; see the module's formulas.

    Each row's result depends on that row alone (sums along rows, no matrix products), so an image is
    deskewed the same in any batch. Raises ValueError when X is not (n, h * w).
    """
    h, w = (int(v) for v in shape)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"deskew needs rows of {h}x{w} = {h * w} pixels; got an array of shape {X.shape}")
    out = np.empty(X.shape, dtype)
    with np.errstate(over="ignore"):  # a float32 ``dtype`` too small for the values: inf, which callers refuse
        for start in range(0, len(X), BLOCK):
            out[start:start + BLOCK] = _deskew_block(X[start:start + BLOCK].astype(np.float64), h, w)
    return out


def _deskew_block(X: np.ndarray, h: int, w: int) -> np.ndarray:
    n = len(X)
    rows = np.repeat(np.arange(h, dtype=np.float64), w)  # (h * w,): each pixel's row, row-major
    cols = np.tile(np.arange(w, dtype=np.float64), h)
    mass = X.sum(axis=1)
    safe = np.where(mass > 0, mass, 1.0)
    my = (X * rows).sum(axis=1) / safe
    mx = (X * cols).sum(axis=1) / safe
    dr = rows - my[:, None]
    var_r = (X * dr * dr).sum(axis=1) / safe
    cov = (X * dr * (cols - mx[:, None])).sum(axis=1) / safe
    s = np.where(var_r > 0, cov / np.where(var_r > 0, var_r, 1.0), 0.0)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # the shear and shift as the augmentation's affine warp (fast/augment.py: source = M (out - c) + c + T), read
    # bilinearly with paper (0) outside by the same compiled gather; a blank image samples paper: it stays 0
    warps = np.zeros((n, augment.WARP_COLUMNS))
    warps[:, augment.M_RR] = warps[:, augment.M_CC] = 1.0
    warps[:, augment.M_CR] = s
    warps[:, augment.T_R], warps[:, augment.T_C] = my - cy, mx - cx
    warps[:, augment.FIELD] = -1
    out = np.empty((n, h * w))
    kernels.gather(X, np.arange(n), 0, augment.NONE.shifts, warps, augment.NONE.fields, h, w, 0.0,
                   np.empty(kernels.padded_size(h, w)), out)
    # a weighted mean of a row's pixels cannot pass the row's largest, but its rounding can (255.00000000000003):
    # the network's input range is checked after deskewing
    return np.minimum(out, X.max(axis=1, initial=0.0)[:, None])
