"""From a picture of a digit to the input a network was trained on: the one function behind image
folders, ``digitnet predict --image`` and the drawing page.

Two recipes, after how each data set was made (docs/preprocessing.md):

- 8x8 (scikit-learn's digits, UCI optdigits): the ink's bounding box mapped into a 32x32 frame at
  full height, the width kept in proportion but clamped to 16..24 pixels and centred, thresholded
  to a binary image, the stroke thickened or thinned until about 313 pixels are on (the digits'
  mean ink), then the "on" pixels of each 4x4 block counted: 0..16.
- 28x28 (MNIST): strokes far thinner than MNIST's thickened, the ink's bounding box scaled
  (anti-aliased) so its longer side is 20 pixels, pasted into 28x28 with its centre of mass at
  pixel (14, 14); ink bright, 0..255.

Everything starts as an "ink" image: a float array, 0 for background and 255 for full ink, from
:func:`ink_from_image` (any grey/colour/transparent picture, dark or light ink, on paper of any
level, in uneven light: the paper's level taken out, the contrast stretched) or
:func:`ink_from_strokes` (polylines drawn on a canvas with a pen that scales with the drawing).
Each step's measured effect: docs/preprocessing.md and benchmarks/REALWORLD.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .data import OPTDIGITS, Inputs
from .errors import DataError
from .pictures import MAX_PIXELS, read_picture  # noqa: F401  (MAX_PIXELS re-exported: the pictures' size limit)
from .sheet import surround
from .ruling import without_ruling

INK_THRESHOLD = 128  # ink values above this are "on" (0..255)
MIN_INK_SHARE = 0.04  # ink spanning less than this share of the picture's larger side is "no digit" (a speck) ...
DOT = 1.5  # ... as is ink spanning less than this many times its thickest part: a dot, a blot (a digit's span is 7.5
# times its stroke: MNIST's stroke is 0.134 of its box) ...
DOT_SHARE = 0.5  # ... and less than this share of the picture's larger side (a 1 stretched to its 16x16 box is a blob)
SCATTERED = 0.1  # ... as is ink whose largest connected piece spans less than this share of its box:
# specks a step left (a desk's corners, a grid's dots at the edge: 0.01-0.08), not strokes (digits' largest piece: 0.4
# or more in every photo condition measured, but 0.13 for a 1 on squared paper left in dashes, and still read right)
SCATTERED_GAP = 0.05  # ... pieces closer than this share of the box being one: a digit written in dots or dashes
SCATTERED_DOT = 3  # ... pieces of this many pixels or more (a dithered field's single pixels join nothing)
FLAT = 1 / 3  # ... and ink whose box is less than this share as tall as it is wide: a dash, a printed line's
# piece left at the edge (digits, on the page and in every photo condition measured: 0.6 or more)
FRAME = 32  # optdigits' normalised bitmaps
BLOCK = 4  # ... counted in 4x4 blocks
WIDTH_RANGE = (16, 24)  # the frame width a digit may take: 4 to 6 blocks (the embedded digits span 5-7 columns in 97%)
CENTRE_COLUMN = (3.57 + 0.5) * BLOCK - 0.5  # the digits' mean centre of mass, in the 32-pixel frame
TARGET_ON = 313  # the digits' mean ink: sum of the 64 counts (313 +- 35)
ON_RANGE = (280, 345)
MNIST_BOX = 20  # MNIST: the longer side of the digit, in pixels (of 19,997 of 20,000 training digits)
FAINT_INK = 0.1  # MNIST: ink above this share of the strongest counts into the digit's box
FAINT_CROP = 0.1
CROP_CONNECTED = True  # the digit's box: faint ink only where connected to ink above INK_THRESHOLD
# the steps' switches: on; benchmarks/realworld.py turns each off in turn to measure it (docs/preprocessing.md)
PAPER_LEVEL = True  # pictures: the paper's level taken out
CONTRAST = True  # pictures: the contrast stretched, paper to 0 and ink to 255
DITHER = True  # pictures: a dithered 1-bit picture (a scanner's black-and-white mode) blurred back to grey first
DITHER_SIDE = 64  # ... when at least this many pixels on its smaller side (smaller ones are stored digits)
DITHER_CHANGES = 0.03  # ... and this share of neighbouring pixels differ (dithered: 6-13%; thresholded: 0.2-1.4%)
DITHER_STEP = 10  # ... by at least this many grey levels (a dot against paper: 255, or 255 / f**2 >= 10 when reduced;
# a clean blank sheet's grain, clipped at white, has few levels too, but neighbours 1-6 levels apart)
DITHER_SPREAD = 0.5  # ... all over it: in this share of its 8 x 8 blocks at least (a printed box's crisp edges in a
# small picture are 3-5% of its neighbours too, along four lines)
DITHER_LEVELS = 26  # ... which has at most this many grey levels: 2, or f * f + 1 when reduced by f <= 5 on decoding
DITHER_BLUR = 2.0  # ... by a Gaussian of this standard deviation in pixels
FLOOR_ON_DESK = False  # pictures: the contrast stretch's paper floor measured with the desk (as before) or the sheet alone
RULING = True  # pictures: printed lines (a ruling, squared paper, a form's box) are no ink (ruling.without_ruling)
SURROUND = True  # pictures: a desk or a frame around the sheet is paper, not ink (sheet.surround)
PAPER_END = True  # pictures: light paper or a dark board told by the end of the grey range the paper fills (else: its median)
PAPER_END_SHARE = 0.25  # ... each end this share of the range between the 1st and 99th percentiles
SHADOW_EDGE = True  # pictures: a sheet's two levels meeting along one straight line are lit and shadowed paper (no board)
SHADOW_EDGE_LENGTH = 0.3  # ... a line at least this share of the picture's (the sheet's) smaller side long
SHADOW_EDGE_SIDE = 0.98  # ... with this share of each level's pixels on its own side of it
PAPER_PERCENTILE = 95  # the paper's level: this percentile of the grey levels around (ink darker: it may cover 95%)
BACKGROUND_SIDE = 32  # the paper's level is estimated on a copy this many pixels wide
CLOSING = True  # pictures: the paper's level refined by a grey closing: a hard shadow's edge kept (_paper_closing)
CLOSING_WIDTH = 1.5  # ... its square window this many times the thickest ink's width (faint ink included)
CLOSING_MIN = 0.05  # ... and at least this share of the picture's smaller side
CLOSING_SIDE = 1024  # ... computed on a copy at most this many pixels wide
MAX_SHADOW = 0.5  # ... and no darker than this share of the first guess below it (a shadow takes at most half the
# light; what the closing finds darker is ink wider than its window, as a stroke along a tightly cropped digit's edge)
STROKE = True  # 28x28: strokes far thinner than MNIST's (relative to the digit's size) redrawn at its width
STROKE_BOX = 64  # ... measured and redrawn with the digit's longer side this many pixels
STROKE_SHARE = 0.134  # MNIST's median stroke width over the longer side of the digit's box (stroke_width, measured)
STROKE_TOLERANCE = 1.6  # strokes thinner than MNIST's by this factor are thickened (MNIST's 5th percentile)
MIN_CONTRAST = 24  # ink within this many grey levels of the paper is no ink (a blank sheet's grain)
MIN_GRAIN = 2.0  # the contrast stretch's paper floor lies at least this far above the paper's level: a clean sheet
# whose grain is a level or two (its robust spread 0) left half its pixels above the floor, as faint "ink"
MAX_STROKES, MAX_POINTS = 64, 10_000
PEN_SHARE = 0.13  # the page's pen: this share of the drawing's larger side (MNIST's stroke width over its box: 0.134)
MIN_PEN = 1.0  # pixels: a dot is drawn, though too small to be a digit
PAD = 280  # the drawing page's pad, in its own coordinates (web/static/app.js draws and sends strokes in them)


def ink_from_image(source: bytes | str | object) -> np.ndarray:
    """The ink (H, W) in 0..255 of an image: file bytes, a path, or a PIL image (:func:`.pictures.read_picture`).

    Transparency: where the picture has transparent pixels, the ink is the opacity (a black pen
    on a transparent background is ink, not all ink). Otherwise grey levels, with the ink taken
    as whichever is rarer of dark and light (the background is the majority of the border, or of
    the sheet when a desk or a frame surrounds it), the paper's level taken out and the contrast
    stretched (:func:`_ink_from_grey`).
    Raises TooLargeError for pictures over MAX_PIXELS, DataError for bytes that are no picture.
    """
    grey, alpha = read_picture(source)
    if alpha is not None:
        opaque = alpha > INK_THRESHOLD
        # ink drawn opaque on a transparent background; a transparent "ink" on an opaque page is rare
        if opaque.mean() < 0.5:  # as a black pen on white paper: the same ink either way
            return _ink_from_grey(255.0 - alpha)
        grey = grey * alpha / 255 + 255 * (1 - alpha / 255)  # over white
    return _ink_from_grey(grey)


def _ink_from_grey(grey: np.ndarray) -> np.ndarray:
    """Ink 0..255 of a grey picture: the paper's level taken out and the contrast stretched.

    The paper is the majority of the border, light or dark whatever its level (a grey sheet of 210 is
    light paper when its ink is darker; :func:`_light_paper` tells which); where a desk or a frame surrounds the
    sheet (:func:`.sheet.surround`), the surround takes the sheet's level and the paper is the majority of the
    sheet. On light paper, light
    is multiplied by the paper's reflectance, so ink is 1 - grey / paper, the paper's level estimated locally
    (a shadow, uneven lighting): first by windows' percentiles (:func:`_background`), then, with the thickest ink
    that first guess shows, by a grey closing (:func:`_paper_closing`); on a dark board the background is
    subtracted. Then :func:`_stretch` maps the paper to 0 and the ink to 255.
    """
    if DITHER and _dithered(grey):
        from scipy.ndimage import gaussian_filter  # its greys are dots (halftoning): blurred back to greys

        grey = gaussian_filter(grey, DITHER_BLUR)
    outside = surround(grey, MIN_CONTRAST) if SURROUND else None
    if outside is None:
        low, high = np.percentile(grey, [1, 99])
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        light_paper = _light_paper(border, low, high)
        filled = grey
    else:  # a desk or a frame around the sheet: the sheet decides, its paper being most of it
        sheet = grey[~outside]
        low, high = np.percentile(sheet, [1, 99])
        level = np.median(sheet)
        light_paper = _light_paper(sheet, low, high)
        filled = np.where(outside, level, grey)
    if not light_paper and SHADOW_EDGE and _shadow_edge(grey, outside):
        light_paper = True  # a blank sheet, half in a hard shadow: its lit part is no "light ink" (step 1)
    if not PAPER_LEVEL:
        dark = 255.0 - filled if light_paper else filled.copy()
    else:
        first = _background(filled, PAPER_PERCENTILE if light_paper else 100 - PAPER_PERCENTILE)
        dark = _dark(filled, first, light_paper)
        if CLOSING:  # that first guess gives the thickest ink, which the closing's window must exceed
            paper = _paper_closing(grey, light_paper, _stretch(dark), outside)
            if light_paper:
                paper = np.maximum(paper, (1 - MAX_SHADOW) * first)
            else:
                paper = np.minimum(paper, first + MAX_SHADOW * (255 - first))
            dark = _dark(filled, paper, light_paper)
            if outside is not None:
                dark[outside] = 0.0
    if RULING:  # printed lines are ink to every step above: taken out before the stretch measures the ink
        dark = without_ruling(dark, _sheet_stretch(dark, outside), outside, INK_THRESHOLD)
    return _sheet_stretch(dark, outside) if CONTRAST else dark


def _light_paper(paper: np.ndarray, low: float, high: float) -> bool:
    """Whether ``paper`` (the grey levels of the picture's border, or of the sheet inside a desk) is light paper
    with darker ink, not a dark board with lighter ink; ``low`` and ``high``: the 1st and 99th percentiles of the
    picture's (or the sheet's) grey levels. Ink is a minority at one end of that range and the paper fills the
    other: light paper when more of ``paper`` lies in the top PAPER_END_SHARE of the range than in its bottom.
    A shadow over most of a light sheet puts its median in the middle of the range, which the rule before
    (PAPER_END False: the median above the middle) took for a board, and the shadowed paper for ink."""
    if not PAPER_END:
        return bool(np.median(paper) >= (low + high) / 2)
    end = PAPER_END_SHARE * (high - low)
    return bool(np.mean(paper >= high - end) >= np.mean(paper <= low + end))


def _shadow_edge(grey: np.ndarray, outside: np.ndarray | None) -> bool:
    """Whether the picture's (the sheet's, off the ``outside`` (H, W) bool) two levels, parted by Otsu's threshold,
    meet along one straight line with each level on its own side (SHADOW_EDGE_SIDE of its pixels): a hard shadow's
    edge across a blank sheet, whose lit part :func:`_light_paper` may take for light ink on a dark board when the
    shadow covers most of the border. Light ink on a board meets it along the strokes' outlines, never one line:
    even a 1 stretched to its box is a band between two. The line: total least squares through the light pixels
    that touch dark ones, RMS within sheet.STRAIGHT of the larger side (at least 1.5 pixels), at least
    SHADOW_EDGE_LENGTH of the smaller side long."""
    from scipy.ndimage import binary_dilation
    from skimage.filters import threshold_otsu

    from .sheet import STRAIGHT, line_through

    sheet = np.ones(grey.shape, dtype=bool) if outside is None else ~outside
    values = grey[sheet]
    if values.size < 9 or values.max() - values.min() < MIN_CONTRAST:
        return False
    light = (grey > threshold_otsu(values)) & sheet
    dark = sheet & ~light
    edge = light & binary_dilation(dark, structure=np.ones((3, 3), dtype=bool))
    if edge.sum() < 3:
        return False
    ys, xs = np.nonzero(edge)
    length, rms, signed = line_through(xs, ys, grey.shape)
    if length < SHADOW_EDGE_LENGTH * min(grey.shape) or rms > max(1.5, STRAIGHT * max(grey.shape)):
        return False
    side = np.sign(signed[light].mean())
    return bool(np.mean(signed[light] * side > -1.5) >= SHADOW_EDGE_SIDE
                and np.mean(signed[dark] * side < 1.5) >= SHADOW_EDGE_SIDE)


def _sheet_stretch(dark: np.ndarray, outside: np.ndarray | None) -> np.ndarray:
    """:func:`_stretch` of ``dark`` (H, W), measured on the sheet alone when a desk or a frame surrounds it (``outside``
    (H, W) bool, 0 there): the desk's zeros would set the paper's floor so low that the sheet's grain became ink."""
    if outside is None or FLOOR_ON_DESK:
        return _stretch(dark)
    ink = np.zeros_like(dark)
    ink[~outside] = _stretch(dark[~outside])
    return ink


def _dithered(grey: np.ndarray) -> bool:
    """Whether a grey picture (H, W) is a dithered 1-bit one: at most DITHER_LEVELS grey levels (two, or the
    averages of f x f blocks of two when a large scan was reduced while decoding: pictures.MAX_SIDE), at least
    DITHER_SIDE pixels on its smaller side, and DITHER_CHANGES of its neighbouring pixels (across and down) differ
    by DITHER_STEP levels or more, in DITHER_SPREAD of its 8 x 8 blocks (a halftone's dots are everywhere; a
    thresholded scan changes only along its strokes' edges, a printed box along its lines, a clean blank sheet's
    grain by a few levels)."""
    if min(grey.shape) < DITHER_SIDE or len(np.unique(grey[::2, ::2])) > DITHER_LEVELS:
        return False
    across, down = (np.abs(np.diff(grey, axis=axis)) >= DITHER_STEP for axis in (1, 0))
    if (np.mean(across) + np.mean(down)) / 2 <= DITHER_CHANGES:
        return False
    changed = across[:-1] | down[:, :-1]  # (H - 1, W - 1): differs from its right or lower neighbour
    h, w = changed.shape[0] // 8 * 8, changed.shape[1] // 8 * 8
    blocks = changed[:h, :w].reshape(h // 8, 8, w // 8, 8).any(axis=(1, 3))
    return bool(np.mean(blocks) >= DITHER_SPREAD)


def _dark(grey: np.ndarray, paper: np.ndarray, light_paper: bool) -> np.ndarray:
    """How much darker (light paper) or lighter (a dark board) than its paper each pixel is, 0..255. On light
    paper, light is multiplied by the paper's reflectance, so the ink is 1 - grey / paper; on a board, grey - paper."""
    if light_paper:
        return np.clip(1.0 - grey / np.maximum(paper, 1.0), 0.0, 1.0) * 255.0
    return np.clip(grey - paper, 0.0, 255.0)


def _background(grey: np.ndarray, percentile: float) -> np.ndarray:
    """The paper's level (H, W) under the ink: a percentile of the grey levels in windows of a quarter of the
    picture's side, on a copy at most BACKGROUND_SIDE pixels wide, smoothed and enlarged back. Ink covering
    less than (100 - percentile)% of any window leaves the paper's level (light paper: percentile 75)."""
    from scipy.ndimage import gaussian_filter, percentile_filter

    H, W = grey.shape
    k = min(1.0, BACKGROUND_SIDE / max(H, W))
    h, w = max(1, round(H * k)), max(1, round(W * k))
    small = _scaled(grey, h, w, "BOX")
    size = max(3, max(h, w) // 2)
    level = gaussian_filter(percentile_filter(small, percentile, size=size, mode="nearest"), size / 4, mode="nearest")
    return _scaled(level, H, W, "BILINEAR")


def _thickest(ink: np.ndarray) -> float:
    """The width in pixels of the thickest ink, faint ink included (above FAINT_INK of full strength): the diameter of
    the largest disc inside it (twice the largest Euclidean distance to the paper, scipy's distance_transform_edt);
    0 for no ink."""
    from scipy.ndimage import distance_transform_edt

    on = ink > FAINT_INK * 255
    return 2.0 * float(distance_transform_edt(on).max()) if on.any() else 0.0


def _paper_closing(grey: np.ndarray, light_paper: bool, ink: np.ndarray, outside: np.ndarray | None) -> np.ndarray:
    """The paper's level (H, W) as a grey closing of the picture (Sternberg's rolling ball, 1983; Gonzalez and Woods,
    *Digital Image Processing*, ch. 9): a maximum filter then a minimum filter with a square window (the reverse for
    light ink on a dark board), the window CLOSING_WIDTH times the thickest ``ink``'s width (a first guess of the ink
    (H, W), 0..255) and at least CLOSING_MIN of the smaller side. Ink narrower than the window is removed; the paper's
    own level is kept wherever a window of paper fits, across a hard shadow's edge too (a step or a ramp is its own
    closing), where windows' percentiles (:func:`_background`) smear the edge into a band of "ink". The minimum's
    window is one pixel wider on every side, so that a blurred edge's pixels lean to the darker side.
    Beyond the picture's edge, half a window wide, and over the ``outside`` (H, W) bool (a desk, a frame) lies "no
    paper" (0; 255 on a board), so that light falling towards an edge keeps its level there. Ink along the edge
    of a tightly cropped digit may then be taken for paper: the caller bounds the closing by MAX_SHADOW.
    Computed on a copy at most CLOSING_SIDE wide."""
    from scipy.ndimage import maximum_filter, minimum_filter

    H, W = grey.shape
    none = 0.0 if light_paper else 255.0
    grey = grey if outside is None else np.where(outside, none, grey)
    k = min(1.0, CLOSING_SIDE / max(H, W))
    h, w = max(1, round(H * k)), max(1, round(W * k))
    if k < 1.0:
        grey, ink = _scaled(grey, h, w, "BOX"), _scaled(ink, h, w, "BOX")
    size = max(3, int(round(CLOSING_MIN * min(h, w))), int(np.ceil(CLOSING_WIDTH * _thickest(ink))))
    pad = size // 2
    padded = np.pad(grey, pad, constant_values=none)
    first, then = (maximum_filter, minimum_filter) if light_paper else (minimum_filter, maximum_filter)
    level = then(first(padded, size=size, mode="nearest"), size=size + 2, mode="nearest")[pad : pad + h, pad : pad + w]
    return level if k == 1.0 else _scaled(level, H, W, "BILINEAR")


def _stretch(dark: np.ndarray) -> np.ndarray:
    """Contrast stretched: the paper (below Otsu's threshold, plus its noise, at least MIN_GRAIN) to 0, the ink's typical
    strength (its 90th percentile) to 255. A picture whose ink is within MIN_CONTRAST of its paper is blank."""
    from skimage.filters import threshold_otsu

    if dark.max() - dark.min() < MIN_CONTRAST:
        return np.zeros_like(dark)
    cut = threshold_otsu(dark)
    paper, ink = dark[dark <= cut], dark[dark > cut]
    grain = 3 * 1.4826 * np.median(np.abs(paper - np.median(paper)))  # 3 robust std of the grain
    floor = np.median(paper) + max(grain, MIN_GRAIN)
    top = np.percentile(ink, 90)
    if top - floor < MIN_CONTRAST:
        return np.zeros_like(dark)
    return np.clip((dark - floor) / (top - floor) * 255.0, 0.0, 255.0)


def ink_from_strokes(strokes: Sequence[Sequence[Sequence[float]]], width: float, height: float,
                     *, line_width: float | None = None) -> np.ndarray:
    """Polylines (each a list of [x, y] points on a width x height canvas) drawn as ink, anti-aliased.

    The line is ``line_width`` wide, by default PEN_SHARE of the drawing's larger side (the box of its
    points): the pen scales with the drawing, so a digit drawn small or large gives the same input.
    Returns the ink (H + 2m, W + 2m), 0..255: the canvas with a margin m of half the line's width (rounded
    up) on every side, so that a wide line at the canvas's edge is not cut.
    """
    from PIL import Image, ImageDraw

    if not (np.isfinite(width) and np.isfinite(height) and 1 <= width <= 4096 and 1 <= height <= 4096):
        raise DataError(f"canvas width and height must be 1..4096; got {width} x {height}")
    if len(strokes) > MAX_STROKES:
        raise DataError(f"too many strokes: {len(strokes)}; the limit is {MAX_STROKES}")
    if sum(len(s) for s in strokes) > MAX_POINTS:
        raise DataError(f"too many points: the limit is {MAX_POINTS:,} in all")
    scale = 4  # drawn 4x larger, then averaged down: anti-aliasing
    arrays = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in strokes]
    for points in arrays:
        if not np.all(np.isfinite(points)):
            raise DataError("stroke points must be finite numbers")
        if np.any(points < -width) or np.any(points[:, 0] > 2 * width) or np.any(points[:, 1] > 2 * height):
            raise DataError("stroke points must lie on the canvas (0..width, 0..height)")
    if line_width is None:
        every = np.concatenate([*arrays, np.zeros((0, 2))])
        extent = float((every.max(axis=0) - every.min(axis=0)).max()) if len(every) else 0.0
        line_width = max(MIN_PEN, PEN_SHARE * extent)
    margin = int(np.ceil(line_width / 2))
    W, H = int(np.ceil(width)) + 2 * margin, int(np.ceil(height)) + 2 * margin
    canvas = Image.new("L", (W * scale, H * scale), 0)
    draw = ImageDraw.Draw(canvas)
    line = line_width * scale
    for points in arrays:
        xy = [(float(x + margin) * scale, float(y + margin) * scale) for x, y in points]
        r = line / 2
        for x, y in xy:  # round caps and joints
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        if len(xy) > 1:
            draw.line(xy, fill=255, width=max(1, int(round(line))))
    small = canvas.resize((W, H), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64)


def to_input(ink: np.ndarray, inputs: Inputs = OPTDIGITS) -> np.ndarray | None:
    """The network's input (n_features,) for an ink image, or None when there is too little ink for a digit.

    8x8 inputs 0..16 follow optdigits' recipe, 28x28 inputs 0..255 MNIST's (see the module's docstring).
    """
    if inputs.image_shape == OPTDIGITS.image_shape and inputs.value_range == OPTDIGITS.value_range:
        return _optdigits(ink)
    if inputs.image_shape is not None and inputs.value_range is not None:
        return _mnist_like(ink, inputs)
    raise DataError(f"cannot turn a picture into {inputs.describe()}: pictures become 8x8 (0..16) or "
                    "square images with a value range, such as 28x28 (0..255)")


def _crop(ink: np.ndarray, faint: float = INK_THRESHOLD) -> np.ndarray | None:
    """The bounding box of the ink above ``faint`` (with CROP_CONNECTED, only where it touches ink above
    INK_THRESHOLD: hysteresis, skimage.filters.apply_hysteresis_threshold), or None when there is no digit: no ink above
    INK_THRESHOLD, its box smaller than MIN_INK_SHARE of the picture, or smaller than DOT_SHARE of it and no longer
    than DOT times its thickest part (the diameter of the largest disc inside it: a dot, a blot), less than FLAT as
    tall as it is wide (a dash, a line), or its largest connected piece spanning less than SCATTERED of its box
    (specks)."""
    on = ink > INK_THRESHOLD
    if on.sum() < 3:
        return None
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    span = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    if span < MIN_INK_SHARE * max(ink.shape):
        return None
    if rows[-1] - rows[0] + 1 < FLAT * (cols[-1] - cols[0] + 1):
        return None
    if SCATTERED and _largest_piece(on[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], SCATTERED_GAP * span) < SCATTERED * span:
        return None
    if span < DOT_SHARE * max(ink.shape):  # small: a dot? (its box alone, with a rim of paper, is measured)
        box = np.pad(on[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 1)
        if span < DOT * _thickest(np.where(box, 255.0, 0.0)):
            return None
    if CROP_CONNECTED:  # faint ink counts where it touches the digit's strong ink: specks of grain or JPEG blocks do not
        from skimage.filters import apply_hysteresis_threshold

        seen = apply_hysteresis_threshold(ink, faint, INK_THRESHOLD) if faint < INK_THRESHOLD else on
    else:
        seen = ink > faint
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _largest_piece(on: np.ndarray, gap: float = 0.0) -> int:
    """The span in pixels (the longer side of its box) of the largest piece of ``on`` (H, W) bool: its connected
    pieces (8-connectivity), those less than ``gap`` pixels apart joined (a digit of dots or dashes), measured by
    their boxes, as the digit's box is."""
    from scipy.ndimage import find_objects, label, maximum_filter

    eight = np.ones((3, 3), dtype=bool)
    pieces, _ = label(on, structure=eight)
    span = max(max(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in find_objects(pieces))
    reach = int(np.ceil(gap / 2))
    dots = np.bincount(pieces.ravel())[pieces] >= SCATTERED_DOT  # single pixels (a dithered field's) join nothing
    if not reach or not (dots & on).any():
        return span
    grown = maximum_filter(np.pad(on & dots, reach), size=2 * reach + 1)  # each grown by half the gap: near ones touch
    pieces, _ = label(grown, structure=eight)
    return max(span, max(max(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in find_objects(pieces)) - 2 * reach)


def _resize(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    return _scaled(ink, height, width, "LANCZOS" if ink.shape[0] > height else "BILINEAR")


def _scaled(image: np.ndarray, height: int, width: int, resample: str) -> np.ndarray:
    """A float image (H, W) resized by Pillow (mode "F") with the named filter (BOX, BILINEAR, LANCZOS), as float64."""
    from PIL import Image

    return np.asarray(Image.fromarray(image.astype(np.float32)).resize((width, height), Image.Resampling[resample]),
                      dtype=np.float64)


def _optdigits(ink: np.ndarray) -> np.ndarray | None:
    crop = _crop(ink, faint=FAINT_CROP * ink.max())
    if crop is None:
        return None
    h, w = crop.shape
    width = int(np.clip(round(FRAME * w / h), *WIDTH_RANGE))
    grey = _resize(crop, FRAME, width)
    digit = grey > _threshold(grey)
    # centred by its centre of mass, not its box: a "1" with a flag sits where the data's 1s do
    # (the digits' centre of mass: column 3.57 +- 0.30 of 8, 16.3 pixels of 32)
    centre = (digit.sum(axis=0) @ np.arange(width)) / max(1, digit.sum())
    left = int(np.clip(round(CENTRE_COLUMN - centre), 0, FRAME - width))
    frame = np.zeros((FRAME, FRAME), dtype=bool)
    frame[:, left : left + width] = digit
    frame = _normalise_thickness(frame)
    return frame.reshape(FRAME // BLOCK, BLOCK, FRAME // BLOCK, BLOCK).sum(axis=(1, 3)).ravel().astype(np.float64)


def _threshold(grey: np.ndarray) -> float:
    """Half strength, or for grey strokes (a photo, an enlarged small picture) the level at which about
    TARGET_ON pixels are on, kept within 10%..90% of full ink: thickness normalised by the threshold."""
    on = int((grey > INK_THRESHOLD).sum())
    if ON_RANGE[0] <= on <= ON_RANGE[1]:
        return INK_THRESHOLD
    level = np.sort(grey, axis=None)[::-1][min(TARGET_ON, grey.size) - 1]
    return float(np.clip(level, 0.1 * 255, 0.9 * 255))


def _normalise_thickness(frame: np.ndarray) -> np.ndarray:
    """Thicken (3x3 dilation) or thin (erosion) the binary stroke until its pixel count is nearest TARGET_ON."""
    from scipy.ndimage import binary_dilation, binary_erosion

    plus = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    candidates = [frame]
    grown = frame
    for _ in range(4):
        if grown.sum() >= ON_RANGE[0]:
            break
        grown = binary_dilation(grown, plus)
        candidates.append(grown)
    thin = frame
    for _ in range(2):
        if thin.sum() <= ON_RANGE[1]:
            break
        thin = binary_erosion(thin, plus)
        if thin.sum() >= 0.5 * TARGET_ON:
            candidates.append(thin)
    return min(candidates, key=lambda f: abs(int(f.sum()) - TARGET_ON))


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes of an ink image, in its pixels: the area of the ink above half strength over
    the length of its skeleton (scikit-image's skeletonize, Zhang and Suen 1984); 0 for no ink."""
    from skimage.morphology import skeletonize

    on = ink > INK_THRESHOLD
    length = int(skeletonize(on).sum())
    return float(on.sum() / length) if length else 0.0


def _thickened(crop: np.ndarray) -> np.ndarray | None:
    """The cropped ink redrawn, when its strokes are thinner than MNIST's by more than STROKE_TOLERANCE: at
    STROKE_BOX pixels on its longer side, with an anti-aliased tube STROKE_SHARE of that wide around the
    skeleton. None when the strokes are wide enough (most pictures, every drawing on the page)."""
    from scipy.ndimage import distance_transform_edt
    from skimage.morphology import skeletonize

    h, w = crop.shape
    k = STROKE_BOX / max(h, w)
    pad = STROKE_BOX // 4  # room for the thicker stroke
    work = np.zeros((max(1, round(h * k)) + 2 * pad, max(1, round(w * k)) + 2 * pad))
    work[pad:-pad, pad:-pad] = np.clip(_resize(crop, work.shape[0] - 2 * pad, work.shape[1] - 2 * pad), 0, 255)
    skeleton = skeletonize(work > INK_THRESHOLD)
    length = int(skeleton.sum())
    target = STROKE_SHARE * STROKE_BOX
    if not length or (work > INK_THRESHOLD).sum() / length >= target / STROKE_TOLERANCE:
        return None
    return np.maximum(work, np.clip(target / 2 + 0.5 - distance_transform_edt(~skeleton), 0.0, 1.0) * 255.0)


def _mnist_like(ink: np.ndarray, inputs: Inputs) -> np.ndarray | None:
    # the box of all the ink, anti-aliased edges included (MNIST's boxes are of every non-zero pixel),
    # above a tenth of the strongest ink so that a photo's paper grain does not count
    crop = _crop(ink, faint=FAINT_INK * ink.max())
    if crop is None:
        return None
    thick = _thickened(crop) if STROKE else None
    if thick is not None:
        # the thickened strokes are drawn from the ink above INK_THRESHOLD; ink that barely reaches it (a faint,
        # uncontrasted picture) may leave too little of them to crop: the unthickened crop is the digit then
        recropped = _crop(thick, faint=FAINT_INK * 255)
        crop = crop if recropped is None else recropped
    H, W = inputs.image_shape
    box = round(MNIST_BOX * min(H, W) / 28)
    h, w = crop.shape
    scale = box / max(h, w)
    height, width = max(1, round(h * scale)), max(1, round(w * scale))
    digit = np.clip(_resize(crop, height, width), 0, 255)
    total = digit.sum()
    rows, cols = np.arange(height), np.arange(width)
    # paste so that the centre of mass lands on pixel (H / 2, W / 2): (14, 14) in MNIST, as measured
    # (14.00 +- 0.29 over 20,000 training digits; not the geometric centre 13.5)
    cy, cx = (digit.sum(axis=1) @ rows) / total, (digit.sum(axis=0) @ cols) / total
    top, left = int(round(H / 2 - cy)), int(round(W / 2 - cx))
    top, left = int(np.clip(top, 0, H - height)), int(np.clip(left, 0, W - width))
    out = np.zeros((H, W))
    out[top : top + height, left : left + width] = digit
    low, high = inputs.value_range
    return np.round(low + out / 255 * (high - low)).ravel()
