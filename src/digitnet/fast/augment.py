"""Training images changed anew every epoch, inside the compiled batch gather (:func:`.kernels.gather`):
each batch's images are written straight into the batch buffer, so the data set is never copied or changed.

What one epoch draws, per image (:func:`draw`), in this order from the run's generator:

1. ``augment``: a shift of up to that many whole pixels each way (the recipes' exact moves, drawn first so
   their random stream is what it always was);
2. with any of the settings below, four uniform numbers in [-1, 1): rotation, shear (slant), zoom and stroke
   width, each scaled by its setting (always all four, so turning one on does not change the others' draws);
3. with ``stretch_to_box``, one uniform number in [0, 1) per image: below the setting, the image's ink box
   is first stretched to a square (its shorter side scaled to its longer one) and centred, as collections
   that store every digit stretched to its box do (the trainer measures each image's box once: :func:`ink_boxes`);
4. with ``elastic_alpha``, a bank of fresh elastic fields and one field per image, chosen at random.

The image is then read through one affine map plus the elastic field, output pixel by output pixel, by
bilinear interpolation; pixels read from outside the image are the background ``fill`` (the data set's
smallest value: the paper of ink-high images). Stroke width is changed before the geometry.

Elastic fields (Simard, Steinkraus & Platt 2003, "Best practices for convolutional neural networks applied
to visual document analysis", section 2): uniform noise in [-1, 1] per pixel and direction, smoothed by a
Gaussian of width ``elastic_sigma`` (SciPy's ``gaussian_filter``, wrapped around, truncated at 4 sigma)
and scaled by ``elastic_alpha``. Smoothing a field for every image and epoch costs more than the epoch's
training (on MNIST: 94 million random numbers and ~6 GFLOP of filtering against ~38 GFLOP of training at BLAS
speed), so each epoch smooths a bank of :data:`FIELDS` fresh fields (about 15 ms on 28x28) and every image
takes one of them at random: exact Simard fields, a new set every epoch, each shared by n / FIELDS images of
the epoch, each under its own affine map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FIELDS = 256  # elastic fields smoothed per epoch, shared at random by the epoch's images
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)  # the stroke-width element: a pixel and its 4 neighbours
# the columns of a warp row: the 2x2 map from an output pixel's offset from the centre (row, column) to the
# source's, the source's extra offset (row, column) in pixels, the stroke weight, the elastic field's index (-1: none)
WARP_COLUMNS = 8
M_RR, M_RC, M_CR, M_CC, T_R, T_C, STROKE, FIELD = range(WARP_COLUMNS)


@dataclass(frozen=True)
class Draw:
    """One epoch's augmentation for n images of height x width pixels; arrays with no rows mean "none"."""

    shifts: np.ndarray  # (n, 2) int64 (down, right) whole-pixel moves, when nothing but shifts is asked for
    warps: np.ndarray  # (n, WARP_COLUMNS) float64, see M_RR..FIELD; the shifts are folded into T_R, T_C
    fields: np.ndarray  # (FIELDS, 2, height, width) float32 displacements in pixels (row, column), or no rows


NONE = Draw(np.empty((0, 2), np.int64), np.empty((0, WARP_COLUMNS)), np.empty((0, 2, 0, 0), np.float32))


def warping(config) -> bool:
    """Whether ``config`` asks for more than whole-pixel shifts."""
    return bool(config.rotation or config.shear or config.zoom or config.stroke or config.stretch_to_box
                or config.elastic_alpha)


def augmenting(config) -> bool:
    return bool(config.augment) or warping(config)


def draw(config, rng: np.random.Generator, n: int, image_shape: tuple[int, int], strength: float = 1.0,
         boxes: np.ndarray | None = None) -> Draw:
    """The epoch's augmentation of n images (see the module's docstring for the order of the draws), its
    distortions (rotation, shear, zoom, stroke, elastic_alpha) at ``strength`` times the config's (in [0, 1]:
    the trainer's :func:`~digitnet.trainer.distortion_strength`; 0 leaves the shifts alone, and stretches nothing).
    ``boxes`` (n, 4): the images' :func:`ink_boxes`, in the epoch's order; needed with ``stretch_to_box``.
    Draws nothing, and returns :data:`NONE`, when ``config`` asks for none."""
    shifts = NONE.shifts
    if config.augment:
        shifts = rng.integers(-config.augment, config.augment + 1, size=(n, 2))
    if not warping(config) or strength == 0:
        return Draw(shifts, NONE.warps, NONE.fields)
    u = rng.uniform(-1.0, 1.0, size=(n, 4))
    u *= strength
    warps = np.empty((n, WARP_COLUMNS))
    warps[:, M_RR:T_R] = affine_inverse(config.rotation * u[:, 0], config.shear * u[:, 1],
                                        1.0 + config.zoom * u[:, 2]).reshape(n, 4)
    warps[:, T_R:STROKE] = -shifts if len(shifts) else 0.0  # the source is read from where the image moves from
    warps[:, STROKE] = config.stroke * u[:, 3]
    warps[:, FIELD] = -1
    if config.stretch_to_box:
        if boxes is None or boxes.shape != (n, 4):
            raise ValueError(f"stretch_to_box needs the {n} images' ink boxes (n, 4)")
        chosen = rng.random(n) < config.stretch_to_box
        # stretched about the box's centre, which moves to the image's: source = S^-1 (M (out - c) - shift) + box
        # centre, so that the whole-pixel shift moves the stretched image as far as any other, not S times as far
        stretched = warps[chosen]
        stretched[:, [M_RR, M_RC, T_R]] /= boxes[chosen, 0:1]
        stretched[:, [M_CR, M_CC, T_C]] /= boxes[chosen, 1:2]
        stretched[:, T_R:STROKE] += boxes[chosen, 2:4]
        warps[chosen] = stretched
    fields = NONE.fields
    if config.elastic_alpha:
        fields = elastic_fields(rng, FIELDS, image_shape, config.elastic_sigma, config.elastic_alpha * strength)
        warps[:, FIELD] = rng.integers(0, FIELDS, size=n)
    return Draw(NONE.shifts, warps, fields)


def ink_boxes(X: np.ndarray, image_shape: tuple[int, int], fill: float, block: int = 4096) -> np.ndarray:
    """(n, 4) float64 for rows of images X (n, height * width) whose paper is ``fill`` (ink higher): the factors
    (rows, columns) that stretch each image's ink box to a square, max(h, w) / h and max(h, w) / w (one of them
    1), and the box centre's offset (rows, columns) from the image's centre. Ink: a pixel above fill by more
    than a tenth of its image's range. A blank image: 1, 1, 0, 0 (nothing to stretch)."""
    height, width = image_shape
    out = np.empty((len(X), 4))
    for start in range(0, len(X), block):
        images = np.asarray(X[start:start + block], dtype=np.float64).reshape(-1, height, width) - fill
        top = images.max(axis=(1, 2))
        ink = images > 0.1 * top[:, None, None]
        rows, cols = ink.any(axis=2), ink.any(axis=1)
        r0, r1 = rows.argmax(axis=1), height - 1 - rows[:, ::-1].argmax(axis=1)
        c0, c1 = cols.argmax(axis=1), width - 1 - cols[:, ::-1].argmax(axis=1)
        h, w = (r1 - r0 + 1).astype(np.float64), (c1 - c0 + 1).astype(np.float64)
        side = np.maximum(h, w)
        blank = top <= 0
        part = out[start:start + block]
        part[:, 0], part[:, 1] = np.where(blank, 1.0, side / h), np.where(blank, 1.0, side / w)
        part[:, 2] = np.where(blank, 0.0, (r0 + r1) / 2 - (height - 1) / 2)
        part[:, 3] = np.where(blank, 0.0, (c0 + c1) / 2 - (width - 1) / 2)
    return out


def affine_inverse(rotation: np.ndarray, shear: np.ndarray, zoom: np.ndarray) -> np.ndarray:
    """(n, 2, 2) maps from an output pixel's offset from the image's centre, as (row, column), to the source
    pixel's, for images rotated by ``rotation`` degrees counterclockwise (as displayed: rows down), slanted by
    ``shear`` degrees (tops to the right) and scaled by ``zoom``, in that order: the inverse of
    R(rotation) Sh(shear) Z(zoom). Rotation by 90 degrees is ``np.rot90``."""
    theta, phi = np.radians(rotation), np.radians(shear)
    cos, sin, tan = np.cos(theta), np.sin(theta), np.tan(phi)
    # in (x, y) = (column, row): R^-1 = [[cos, -sin], [sin, cos]], Sh^-1 = [[1, tan], [0, 1]], Z^-1 = I / zoom
    xx = (cos + tan * sin) / zoom
    xy = (-sin + tan * cos) / zoom
    yx = sin / zoom
    yy = cos / zoom
    # rows are y, columns x
    return np.stack([np.stack([yy, yx], -1), np.stack([xy, xx], -1)], -2)


def elastic_fields(rng: np.random.Generator, n_fields: int, image_shape: tuple[int, int], sigma: float,
                   alpha: float) -> np.ndarray:
    """(n_fields, 2, height, width) float32 displacement fields in pixels (rows, columns): alpha times uniform
    noise in [-1, 1) smoothed by a Gaussian of standard deviation sigma pixels (Simard et al. 2003)."""
    from scipy.ndimage import gaussian_filter

    noise = rng.random(size=(n_fields, 2, *image_shape), dtype=np.float32)  # in float32: half the memory and time
    noise *= 2.0
    noise -= 1.0
    # wrapped around: the same variance everywhere (reflecting borders doubles it in the corners), and only
    # opposite borders, far from a digit, are correlated
    fields = gaussian_filter(noise, (0, 0, sigma, sigma), mode="wrap", truncate=4.0)
    fields *= np.float32(alpha)
    return fields


def warp_reference(X: np.ndarray, warps: np.ndarray, fields: np.ndarray, image_shape: tuple[int, int],
                   fill: float) -> np.ndarray:
    """Rows of X (n, height * width) changed as warps (n, WARP_COLUMNS) say, with SciPy (grey dilation or
    erosion, then ``map_coordinates`` of order 1): kernels.gather's reference, slow."""
    from scipy.ndimage import grey_dilation, grey_erosion, map_coordinates

    height, width = image_shape
    rows, cols = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    out = np.empty_like(X)
    for i, w in enumerate(warps):
        image = X[i].reshape(height, width).astype(np.float64)
        t = w[STROKE]
        if t:
            morph = grey_dilation if t > 0 else grey_erosion
            image = (1 - abs(t)) * image + abs(t) * morph(image, footprint=CROSS, mode="constant", cval=fill)
        u, v = rows - cy, cols - cx
        source_r = w[M_RR] * u + w[M_RC] * v + cy + w[T_R]
        source_c = w[M_CR] * u + w[M_CC] * v + cx + w[T_C]
        if w[FIELD] >= 0:
            source_r = source_r + fields[int(w[FIELD]), 0]
            source_c = source_c + fields[int(w[FIELD]), 1]
        out[i] = map_coordinates(image, [source_r, source_c], order=1, mode="grid-constant", cval=fill).ravel()
    return out


def field_statistics(sigma: float, alpha: float) -> tuple[float, float]:
    """What the elastic fields should measure at every pixel: (standard deviation in pixels, correlation
    of neighbouring pixels) of alpha * (Gaussian sigma * uniform noise in [-1, 1]), from SciPy's own 1-D kernel."""
    radius = int(4.0 * sigma + 0.5)  # gaussian_filter's truncation
    x = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    energy = float(np.sum(g * g))  # per axis; the 2-D kernel is the outer product
    return alpha * math.sqrt(energy * energy / 3.0), float(np.sum(g[:-1] * g[1:])) / energy
