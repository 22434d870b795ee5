"""The sheet in a photo: what around the paper is a desk, a frame or a scanner's lid, not ink.

A photo of a sheet often shows what lies around it: a darker desk, a black frame or outline, a scanner's
lid, the sheet's end when the photo is partly off it. Whatever touches the picture's edge would otherwise
decide which side is paper and, taken for ink, fill the digit's box. :func:`surround` finds it.

A surround is a region of one level class (Otsu's threshold, or either of the two cuts of three-class Otsu
for a desk between the ink's and the paper's levels, parts the picture into dark and light; or, when the border is
of one level, that level give or take its spread, for a desk the shadowed paper comes near)
connected to the picture's edge that (1) runs along a whole side, corner to corner (SIDE_COVER of its
pixels), (2) stays near the edge (none of it deeper than MAX_DEPTH of the picture's smaller side), and
(3) meets the sheet in a straight, unbowed line along every side it covers (STRAIGHT); and (4) the sheet, the
rest, is mostly of the other level (MAX_INK: a surround differs from the paper it surrounds, and ink is sparse).
A digit touching the edges fails (2): a stroke that runs along a side of a tightly cropped digit (the bar
of a 7, the base of a 2) belongs to strokes that cross the picture's middle. A round 0 stretched to its box
touches the sides, not the corners, and fails (1); a 0 cropped to its box, the paper beside it covering the
left and right sides, fails (3) by its bow, and under SMALL pixels also (1), which there asks for all four
sides. The paper around a digit written large with a thick pen passes (1) and (2) and fails (3): it meets
the digit along the digit's outline. A sheet photographed turned puts a corner in a side's middle, where its
edge is two lines at a right angle: when no region passes (1) to (4) with straight edges, one whose edge holds
such a corner passes (3) (TURNED; it must cover two sides), so whatever was found before still is. A sheet turned
and photographed close shows the desk only at the picture's corners, or as a wedge along part of a side: a region
that covers no whole side passes (1) to (3) when it is the part of the picture beyond one straight line
(BEYOND_LINE: its edge fits a line, and it fills the half-plane beyond it), which no stroke nor digit is, and of
the darker level: a digit cropped to its box with a straight stroke from corner to corner (a 1) leaves paper
beyond that line at two corners.
Measured: docs/preprocessing.md (`python benchmarks/realworld.py --only photos`).
"""

from __future__ import annotations

import numpy as np

SIDE_COVER = 0.95  # (1) a surround covers at least this share of one whole side of the picture
MAX_DEPTH = 0.3  # (2) ... reaches no deeper than this share of the picture's smaller side from its edge
STRAIGHT = 0.01  # (3) ... and its inner edge along every side it covers is straight: a line fits the edge's
# depth to this share of the side (RMS, at least 1.5 pixels) over the side's middle 60%, and a parabola's bow there
# is no larger (the outline of a round digit cropped to its box is nearly a line over that span, but a bowed one)
TURNED = True  # (3) ... or a turned sheet's corner falls in that middle 60%: its edge is straight over at least
CORNER = 0.5  # ... this share of the span from one end, and beyond that the depth grows at least
CORNER_SLOPE = 1.0  # ... this many pixels a pixel (the sheet's next edge: at a right angle, 45 degrees or more away)
SPECKS = 0.001  # (3) ... its holes up to this share of the picture filled first (its grain beyond the cut); 0: none
BEYOND_LINE = True  # (1) ... or, in a picture of SMALL pixels or more, is the part of it beyond one straight line,
# darker than the sheet (a desk's corner past a turned sheet; the paper beside a digit's straight stroke is lighter)
MIN_LINE = 0.05  # ... at least this share of the picture's smaller side long (a desk's corner past a turned sheet),
BEYOND_FILL = 0.9  # ... filling this share of that half-plane and itself together
MAX_INK = 1 / 3  # (4) ... and the sheet, what is left, is mostly paper of the other level: the surround's
# level covers less than this share of it (a surround differs from the paper it surrounds; ink is sparse)
MIN_SHEET = 0.25  # what is left, the sheet, is at least this share of the picture
EDGE_BLUR = 0.01  # the surround widened by this share of the picture's larger side (at least 2 pixels):
# the sheet's anti-aliased or blurred edge, between the two levels, is no ink either
MIN_SIDE = 8  # pixels: smaller pictures have no room for a sheet and its surround
SMALL = 48  # pixels: in smaller pictures a surround runs along all four sides (a form's box around a cell): digits
# stored at that size (16x16 envelope digits, 28x28 MNIST, 32x32 bitmaps) fill them and often touch two edges
BORDER_ONE_LEVEL = 0.9  # the border's own level is a surround's candidate when this share of the border is of it


def surround(grey: np.ndarray, min_contrast: float = 24.0) -> np.ndarray | None:
    """The surround (H, W) bool of a grey picture (H, W) in 0..255, widened over the sheet's blurred edge,
    or None when the picture has none (most pictures: the paper fills them).

    ``min_contrast``: grey levels closer than this are one level (a blank picture has no surround).
    When regions of several levels qualify, the one covering more of the picture's edge is the surround.
    """
    from scipy.ndimage import binary_dilation
    from skimage.filters import threshold_multiotsu, threshold_otsu

    H, W = grey.shape
    if min(H, W) < MIN_SIDE or float(grey.max() - grey.min()) < min_contrast:
        return None
    cuts = [threshold_otsu(grey)]
    try:  # ink, a desk and paper are three levels: a grey desk may lie on either side of Otsu's one cut
        cuts += list(threshold_multiotsu(grey, classes=3))
    except ValueError:  # fewer than three levels
        pass
    masks = [grey <= cut if dark else grey > cut for cut in cuts for dark in (True, False)]
    darker = [dark for _ in cuts for dark in (True, False)]
    around = _border_level(grey, min_contrast)
    if around is not None:
        masks.append(around)
        darker.append(False)  # the border's level, darker or lighter than the sheet: only whole sides
    best = _best(masks, darker)
    if best is None:
        return None
    widen = max(2, round(EDGE_BLUR * max(H, W)))
    best = binary_dilation(best, iterations=widen)
    if best.mean() > 1 - MIN_SHEET:
        return None
    return best


def _best(masks: list[np.ndarray], darker: list[bool]) -> np.ndarray | None:
    """Of the regions of ``masks`` (each (H, W) bool: one level class) that pass (1) to (4), those of the mask covering
    most of the picture's edge, (H, W) bool; None when no region passes. A region beyond one straight line passes
    (1) only in a mask that ``darker`` (one bool a mask) marks as the darker level class: a desk
    darker than the sheet (the paper beside a straight stroke of a digit cropped to its box is beyond a line too).
    Only when none passes, regions whose edge holds a turned sheet's corner pass (3) too (TURNED;
    :func:`_straight`) if they cover two sides at least (a desk around a turned sheet does; light falling across
    plain paper, its lit part's edge bumped by a stroke, may cover one) in a picture of SMALL pixels or more, so
    that whatever has straight edges is found as before."""
    from scipy.ndimage import find_objects, label, maximum

    H, W = masks[0].shape
    rows, cols = np.arange(H)[:, None], np.arange(W)[None, :]
    depth = np.minimum(np.minimum(rows, H - 1 - rows), np.minimum(cols, W - 1 - cols))  # pixels from the edge
    best = {False: (None, 0), True: (None, 0)}  # corner allowed: (the surround, its cover of the picture's edge)
    for mask, dark in zip(masks, darker):
        labels, _ = label(mask, structure=np.ones((3, 3)))  # 8-connected: a thin anti-aliased line is one region
        sides = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
        found = {corner: np.zeros(1 + labels.max(), dtype=bool) for corner in (False, True)}
        touching = np.unique(np.concatenate(sides))
        touching = touching[touching > 0]
        if not len(touching):
            continue
        deepest = np.atleast_1d(maximum(depth, labels, touching))
        sizes = boxes = None  # computed once a region needs them: most masks of a noisy picture have none
        for region, deep in zip(touching, deepest):
            if deep > MAX_DEPTH * min(H, W):
                continue
            covered = [k for k, side in enumerate(sides) if np.mean(side == region) >= SIDE_COVER]
            if min(H, W) < SMALL and len(covered) < 4:
                continue
            if not covered:  # a piece of desk beyond a turned sheet's edge, at a corner or along part of a side
                if not (BEYOND_LINE and dark):
                    continue
                if sizes is None:
                    sizes, boxes = np.bincount(labels.ravel()), find_objects(labels)
                found[False][region] = found[True][region] = _beyond_line(labels, region, boxes[region - 1], sizes[region])
                continue
            inside = labels == region
            if SPECKS:  # pixels of the desk's grain beyond the cut (a blank sheet's cut lies near the desk's level)
                inside = _small_holes_filled(inside, max(2, round(SPECKS * H * W)))
            straight = [_straight(inside, k) for k in covered]
            found[False][region] = all(straight)
            found[True][region] = found[False][region] or (TURNED and len(covered) >= 2 and min(H, W) >= SMALL and all(
                s or _straight(inside, k, corner=True) for s, k in zip(straight, covered)))
        for corner in (False, True):
            if not found[corner].any():
                continue
            outside = found[corner][labels]
            if SPECKS:  # and its grain is desk too
                outside = _small_holes_filled(outside, max(2, round(SPECKS * H * W)))
            if mask[~outside].mean() >= MAX_INK:  # the sheet is mostly paper of the other level
                continue
            cover = sum(int(found[corner][side].sum()) for side in sides)
            if cover > best[corner][1]:
                best[corner] = (outside, cover)
    return best[False][0] if best[False][0] is not None else best[True][0]


def _small_holes_filled(inside: np.ndarray, most: int, notches: bool = True) -> np.ndarray:
    """``inside`` (H, W) bool with its holes of at most ``most`` pixels filled: the pieces of what is not inside
    (4-connected), those that reach the array's edge too when ``notches`` (the picture's edge: grain there is a notch
    in the desk; not a crop's edge, which may cut through the sheet)."""
    from scipy.ndimage import label

    pieces, _ = label(~inside)
    small = np.bincount(pieces.ravel(), minlength=1) <= most
    if not notches:
        small[np.unique(np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]]))] = False
    small[0] = False  # inside itself
    return inside | small[pieces]


def _straight(inside: np.ndarray, side: int, corner: bool = False) -> bool:
    """Whether the region ``inside`` (H, W) bool, seen from side 0 (top), 1 (bottom), 2 (left) or 3 (right),
    ends in a straight line: its depth from that side, over the side's middle 60%, fits a line (STRAIGHT); or, with
    ``corner`` (a turned sheet's corner falling there), fits one over at least CORNER of that span from one end,
    beyond which the depth turns away from the side at least as steeply as CORNER_SLOPE (the sheet's next edge, at
    a right angle)."""
    view = (inside, inside[::-1], inside.T, inside.T[::-1])[side]
    n = view.shape[1]
    middle = view[:, int(0.2 * n) : max(int(0.2 * n) + 2, int(0.8 * n))]
    run = np.where(middle.all(axis=0), middle.shape[0], np.argmin(middle, axis=0)).astype(np.float64)
    tolerance = max(1.5, STRAIGHT * n)
    if _line(run, tolerance):
        return True
    if not corner:
        return False
    m = len(run)
    for keep in range(m - max(1, m // 20), int(CORNER * m) - 1, -max(1, m // 20)):
        for part, beyond in ((run[:keep], run[keep - 1 :]), (run[::-1][:keep], run[::-1][keep - 1 :])):
            if len(beyond) > 1 and np.all(np.diff(beyond) >= -tolerance) and \
                    beyond[-1] - beyond[0] >= CORNER_SLOPE * (len(beyond) - 1) and _line(part, tolerance):
                return True
    return False


def _beyond_line(labels: np.ndarray, region: int, box: tuple[slice, slice], size: int) -> bool:
    """Whether ``region`` of ``labels`` (H, W) int, of ``size`` pixels within ``box`` (its bounding box), is the part
    of the picture beyond one straight line (a desk's corner or sliver past a turned sheet's edge): its edge within
    the picture fits a line (STRAIGHT: RMS distance, at least 1.5 pixels) at least MIN_LINE of the picture's
    smaller side long, and the region fills the half-plane beyond it (BEYOND_FILL of their union). A stroke
    touching the edge is no half-plane, nor a digit's piece."""
    from scipy.ndimage import binary_erosion

    H, W = labels.shape
    if size < MIN_LINE * min(H, W) / 2:  # too few pixels for an edge that long: a speck (most regions of a noisy desk)
        return False
    top, left = max(0, box[0].start - 1), max(0, box[1].start - 1)  # its box and a pixel more, within the picture
    near = (slice(top, box[0].stop + 1), slice(left, box[1].stop + 1))
    inside = labels[near] == region
    if SPECKS:  # pixels of the desk's grain beyond the cut
        inside = _small_holes_filled(inside, max(2, round(SPECKS * H * W)), notches=False)
        size = int(inside.sum())
    edge = inside & ~binary_erosion(inside, border_value=1)  # the region's edge inside the picture, not the picture's
    ys, xs = np.nonzero(edge)
    length, rms, signed = line_through(xs + left, ys + top, (H, W))
    if length < MIN_LINE * min(H, W) or rms > max(1.5, STRAIGHT * max(H, W)):
        return False
    half = signed * np.sign(signed[near][inside].mean()) >= -0.5  # the pixels the line passes through: either side
    both = int(half[near][inside].sum())
    return both >= BEYOND_FILL * (int(half.sum()) + size - both)  # of their union


def line_through(xs: np.ndarray, ys: np.ndarray, shape: tuple[int, int]) -> tuple[float, float, np.ndarray]:
    """The straight line fitted to points (``xs``, ``ys``: pixel columns and rows, (n,) each, n >= 1) by total
    least squares: its length (the points' spread along it), the points' RMS distance from it (pixels), and every
    pixel's signed distance from it over a picture of ``shape`` (H, W)."""
    points = np.column_stack([xs, ys]).astype(np.float64)
    centre = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)  # vt[0] along the line, vt[1] across it
    along, across = (points - centre) @ vt[0], (points - centre) @ vt[1]
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    signed = (cols - centre[0]) * vt[1][0] + (rows - centre[1]) * vt[1][1]
    return float(np.ptp(along)), float(np.sqrt(np.mean(across**2))), signed


def _line(run: np.ndarray, tolerance: float) -> bool:
    """Whether the depths ``run`` (n,) fit a line within ``tolerance`` pixels (RMS) with a parabola's bow no larger."""
    t = np.linspace(-1.0, 1.0, len(run))
    residual = run - np.polyval(np.polyfit(t, run, 1), t)
    sagitta = abs(float(np.polyfit(t, run, 2)[0])) if len(run) > 2 else 0.0  # a parabola's bow over the span
    return float(np.sqrt(np.mean(residual**2))) <= tolerance and sagitta <= tolerance


def _border_level(grey: np.ndarray, min_contrast: float) -> np.ndarray | None:
    """The pixels (H, W) bool within reach of the picture's border level, when the border is of one level: its
    median grey level, give or take half of ``min_contrast`` or three robust standard deviations of the border
    (1.4826 MAD), whichever is more, holding BORDER_ONE_LEVEL of the border's pixels; else None.

    A desk all around a sheet is the whole border, so its level is the border's; where a shadow brings the
    sheet's paper near that level, every global cut (Otsu's) falls beyond the darkest paper and joins it to
    the desk, while the desk's own spread does not. A border of several levels (paper reaching the edge, a
    shadow across the picture) is left to the global cuts: there the border's median may be paper."""
    from scipy.ndimage import binary_opening

    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]).astype(np.float64)
    level = float(np.median(border))
    spread = max(min_contrast / 2, 3 * 1.4826 * float(np.median(np.abs(border - level))))
    if np.mean(np.abs(border - level) <= spread) < BORDER_ONE_LEVEL:
        return None
    # opened (3x3): a stroke's blurred edge passes through the desk's level too, in a line too thin to be a desk
    return binary_opening(np.abs(grey - level) <= spread, structure=np.ones((3, 3)))
