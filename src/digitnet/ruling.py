"""Printed lines on the paper: a notebook's ruling, squared paper, a margin's rule, a form's box.

Lines printed on the sheet are as dark as ink to every other step: taken for ink, they stretch the digit's box
to the whole picture. :func:`without_ruling` finds them and takes them out, keeping the ink that crosses them.

A printed line is found by the Hough transform (Duda and Hart 1972; scikit-image's ``hough_line``) of the ink,
on a copy at most HOUGH_SIDE pixels wide reduced by a block maximum (so a thin line stays whole), among lines
within MAX_TILT degrees of the picture's rows or columns.
Then each line, at full size, is taken out where it is no thicker than the line itself (the run of ink across
it, perpendicular to it, at most its thickness plus THICK_TOLERANCE): a stroke crossing the line, or lying
along it with a wider pen, keeps its ink there (the rule that removes a score's staff lines in optical music
recognition: Fujinaga 2004, "Staff detection and removal", Rebelo et al. 2012's review).

A digit's own strokes must not be taken for printed lines; what tells them apart:
(1) length: a line's ink runs unbroken (but for GAP pixels of the reduced copy) along COVER of its length on the
sheet (a digit rarely spans that much of its picture, except when cropped tightly; faint blotches under uneven
light cover a line in pieces), (2) thinness: at most MAX_THICK of the picture's smaller side, with paper beside it
(CLEAR of its length: specks of a noisy photo line up anywhere), (3) number: at least
MIN_LINES parallel (within PARALLEL degrees of the angle most share), or two each way (a ruling, a grid, a box; a
4's stem and bar cross, a continental 7's top and bar are two), a line across them alone (a margin's rule) only
when it runs along LONE_COVER of the sheet, and (4) something else: when nothing but lines would be left, the
lines side by side go (a blank ruled sheet, a blank form's box: a 0 drawn as a rectangle of four straight lines
goes with it, the price of answering "no digit" for an empty box); a lone line may be a digit's own (a tightly
cropped 1 on ruled paper) and stays. A sheet askew: the lines parallel to those found that run out through the
picture's edge near a corner may be as short as SHORTEST of its side.
Measured: docs/preprocessing.md ("Printed lines").
"""

from __future__ import annotations

import numpy as np

MIN_SIDE = 48  # pixels: in smaller pictures (stored digits, thumbnails) strokes are 1-2 px, as thin as printed lines
HOUGH_SIDE = 256  # pixels: lines are found on a copy at most this wide
MAX_TILT = 10.0  # degrees: a printed line runs within this angle of the picture's rows or columns (a sheet
# scanned or photographed askew by more is not handled)
TILT_STEP = 0.25  # degrees between the angles tried
COVER = 0.6  # (1) a line's ink runs along at least this share of its length on the sheet
SEPARATION = 2  # pixels of the reduced copy: lines found this close are one line (squared paper's lines lie further apart)
GAP = 2  # pixels of the reduced copy: a line's ink may break this long and run on (noise, a faint scan)
CLEAR = 0.7  # (2) ... with paper beside it (two pixels past it, both sides) along this share of its own length: in
# a noisy photo whose ink is specks all over, any line crosses specks (beside a printed line: 83-100% of it; beside
# such a line of specks: 56% or less, measured on photos of benchmarks/realworld.py)
MAX_THICK = 0.05  # (2) a line is at most this share of the picture's smaller side thick (at least 2 pixels): a form's 3-pixel box in a 60-pixel crop
MIN_LINES = 3  # (3) lines are taken out only when at least this many run side by side (parallel), or two each way,
LONE_COVER = 0.9  # ... and a line across them (a margin's rule) alone when its ink runs along this share of it
EMPTY_BOX = True  # (4) when nothing but lines would be left, a box's (two each way) go as a ruling's do (else they stay)
SHORTEST = 0.1  # a sheet askew: the lines of a family that run out past a corner may be this short (of the side)
PARALLEL = 1.0  # (3) ... and within this many degrees of the angle most of them share
THIN_PERCENTILE = 10  # a line's thickness: this percentile of the runs of ink across it (strokes along it, or across it, are wider)
THICK_TOLERANCE = 2  # pixels: ink across a line up to its thickness plus this much is the line's own


def without_ruling(dark: np.ndarray, ink: np.ndarray, outside: np.ndarray | None, threshold: float) -> np.ndarray:
    """``dark`` (H, W) with printed lines taken out (set to 0), or ``dark`` itself when the picture has none.

    ``ink`` (H, W) in 0..255: ``dark`` contrast-stretched, its paper at 0 (lines are sought in all of it above 0;
    whether ink above ``threshold`` is left beside them decides rule (4)); ``outside`` (H, W) bool or None: a desk or
    a frame around the sheet (:func:`.sheet.surround`), where lines are neither sought nor measured.
    """
    H, W = dark.shape
    inside = np.ones(dark.shape, dtype=bool) if outside is None else ~outside
    on = (ink > 0) & inside
    if min(H, W) < MIN_SIDE or not on.any():
        return dark
    lines = _printed_lines(on, inside, max_thick=max(2.0, MAX_THICK * min(H, W)))
    if not lines:
        return dark
    bands = [_band((H, W) if axis == 0 else (W, H), centre, thick) for axis, centre, thick, _ in lines]
    bands = [band if axis == 0 else band.T for band, (axis, *_) in zip(bands, lines)]
    across = [np.logical_or.reduce([b for b, (a, *_) in zip(bands, lines) if a == axis] or [np.zeros_like(on)])
              for axis in (0, 1)]  # every line's pixels, along the rows (0) and the columns (1)
    parts = []  # each line's own pixels
    for axis, centre, _, _ in lines:
        mine = on & ~across[1 - axis]  # where lines cross, the other's ink is no stroke across this one
        runs = _line_runs(mine if axis == 0 else mine.T, centre)
        part = np.zeros((H, W) if axis == 0 else (W, H), dtype=bool)
        if runs is not None:
            position, (first, last), _, _ = runs
            row = np.arange(part.shape[0])[:, None]
            part[:, position] = (row >= first) & (row < last)
        parts.append((part if axis == 0 else part.T) & on)

    def cut_of(chosen: list[int]) -> np.ndarray:  # the chosen lines' own pixels and where two of them cross
        rows = np.logical_or.reduce([bands[i] for i in chosen if lines[i][0] == 0] or [np.zeros_like(on)])
        cols = np.logical_or.reduce([bands[i] for i in chosen if lines[i][0] == 1] or [np.zeros_like(on)])
        return np.logical_or.reduce([on & rows & cols] + [parts[i] for i in chosen])

    cut = cut_of(list(range(len(lines))))
    if not ((ink > threshold) & inside & ~cut).any():  # (4) nothing but lines: a blank sheet or form, or a lone one
        cut = cut_of([i for i, line in enumerate(lines) if line[3]])  # is a digit's (a cropped 1): families go
    out = dark.copy()
    out[cut] = 0.0
    return out


def _printed_lines(on: np.ndarray, inside: np.ndarray, max_thick: float) -> list[tuple[int, np.ndarray, float, bool]]:
    """The printed lines of ``on`` (H, W) bool within ``inside`` (H, W) bool: (axis, centre, thickness, family) with
    axis 0 along the rows (the centre (W,) their rows) or 1 along the columns (the centre (H,) their columns);
    family: one of lines side by side (a ruling, a grid, a box; with EMPTY_BOX off, a ruling's MIN_LINES only), not a
    lone line across: these go when nothing else would be left (rule 4). Rules (1)-(3)."""
    lines = []

    def add(axis: int, found: list, k: int) -> int:  # the lines found on the copy, fitted at full size; how many new
        o = on if axis == 0 else on.T
        n = len(lines)
        for centre, cover in found:
            fitted = _fitted(o, centre, k + 1, max_thick)
            if fitted is not None and all(a != axis or np.mean(np.abs(c - fitted[0])) > t for a, c, t, _ in lines):
                lines.append((axis, *fitted, cover))  # (a thick line may be found twice)
        return len(lines) - n

    for axis in (0, 1):
        add(axis, *_long_lines(on if axis == 0 else on.T, inside if axis == 0 else inside.T))
    angles = np.array([_angle(c) for _, c, _, _ in lines])
    axes = np.array([a for a, *_ in lines], dtype=int)
    common = []  # the angle most lines of each axis share: printed lines side by side are parallel, strokes are not
    for axis in (0, 1):
        mine = angles[axes == axis]
        near = [np.count_nonzero(np.abs(mine - g) <= PARALLEL) for g in mine]
        common.append(mine[int(np.argmax(near))] if len(mine) else 0.0)
    member = [bool(abs(g - common[a]) <= PARALLEL) for g, a in zip(angles, axes)]
    for axis in (0, 1):  # a sheet askew: the family's lines that run out through an edge, past a corner, are short
        family = [c for m, (a, c, _, _) in zip(member, lines) if m and a == axis]
        if len(family) < 2:
            continue
        angle = float(np.median([_angle(c) for c in family]))
        if abs(angle) < TILT_STEP:
            continue
        tilts = angle + np.arange(-1, 2) * TILT_STEP
        member += [True] * add(axis, *_long_lines(on if axis == 0 else on.T, inside if axis == 0 else inside.T,
                                                  tilts=tilts, shortest=SHORTEST))
    members = [sum(m for m, (a, *_) in zip(member, lines) if a == axis) for axis in (0, 1)]
    # (3) a ruling shows several lines; a box or a grid two each way; a continental 7's top and bar are only two
    side_by_side = [members[axis] >= MIN_LINES or (members[axis] == 2 and members[1 - axis] >= 2) for axis in (0, 1)]
    if not any(side_by_side):
        return []
    family = [bool(m and (side_by_side[a] if EMPTY_BOX else members[a] >= MIN_LINES))
              for m, (a, *_) in zip(member, lines)]
    return [(a, c, t, f) for f, m, (a, c, t, cover) in zip(family, member, lines)
            if (side_by_side[a] and m) or cover >= LONE_COVER]


def _fitted(on: np.ndarray, centre: np.ndarray, search: int, max_thick: float) -> tuple[np.ndarray, float] | None:
    """A near-horizontal line of ``on`` (H, W) bool found along ``centre`` (W,) on the reduced copy, at full size: its
    centre (W,) fitted to the middle of its own runs of ink (:func:`_line_runs`, ``search`` pixels about the
    centre), and its thickness; None when it is no line as thin as ``max_thick`` pixels with paper beside it."""
    runs = _line_runs(on, centre, search=search)
    if runs is None or runs[2] > max_thick or runs[3] < CLEAR or len(runs[0]) < 2:
        return None
    position, (first, last), thick, _ = runs
    slope, offset = np.polyfit(position, (first + last - 1) / 2, 1)
    return offset + slope * np.arange(on.shape[1]), thick


def _angle(centre: np.ndarray) -> float:
    """The angle in degrees of a near-horizontal line along ``centre`` (W,) rows, from the rows."""
    return float(np.degrees(np.arctan((centre[-1] - centre[0]) / max(len(centre) - 1, 1))))


def _long_lines(on: np.ndarray, inside: np.ndarray, tilts: np.ndarray | None = None,
                shortest: float = 0.5) -> tuple[list[tuple[np.ndarray, float]], int]:
    """The near-horizontal lines of ``on`` (H, W) bool whose ink runs unbroken (but for GAP pixels) along COVER of
    their length ``inside`` (H, W) bool, one per line however thick: (their rows' centres (W,) float at full size,
    that share), and the factor k of the reduced copy they were found on (the centres are as exact as its pixels).
    Lines at ``tilts`` (degrees from the rows; every TILT_STEP to MAX_TILT by default) whose length inside is at
    least ``shortest`` of the width."""
    from skimage.transform import hough_line

    H, W = on.shape
    k = max(1, int(np.ceil(max(H, W) / HOUGH_SIDE)))
    small_on, small_inside = _block(on, k, np.max), _block(inside, k, np.min)
    h, w = small_on.shape
    if tilts is None:
        tilts = np.arange(-MAX_TILT, MAX_TILT + TILT_STEP / 2, TILT_STEP)
    theta = np.deg2rad(90.0 + tilts)  # the normal of a horizontal line points down the rows
    count, angles, distances = hough_line(small_on, theta=theta)
    length, _, _ = hough_line(small_inside, theta=theta)
    # the transform counts ink anywhere along a line: on squared paper a line across the grid's other lines counts
    # many short crossings. Where it counts enough, the ink must also run unbroken along the line.
    d, t = np.nonzero((length >= max(shortest * w, 2)) & (count >= COVER * length))
    if len(d) == 0:
        return [], k
    x = np.arange(w)
    y = np.round((distances[d, None] - x[None, :] * np.cos(angles[t])[:, None]) / np.sin(angles[t])[:, None]).astype(int)
    valid = (y >= 0) & (y < h)
    y = np.clip(y, 0, h - 1)
    ink, sheet = small_on[y, x] & valid, small_inside[y, x] & valid  # (n, w): along each candidate line
    cover = np.zeros(count.shape)
    cover[d, t] = _longest_run(_bridged(ink, GAP)) / np.maximum(sheet.sum(axis=1), 1)
    best = cover.max(axis=1)
    lines, taken = [], np.zeros(len(distances), dtype=bool)
    columns = (np.arange(W) - (k - 1) / 2) / k  # full-size columns in the copy's coordinates
    for b in np.argsort(-best, kind="stable"):  # the best first; the distances beside a line taken are that line
        if best[b] < COVER:
            break
        if taken[max(0, b - SEPARATION) : b + SEPARATION + 1].any():
            continue
        taken[b] = True
        a = angles[int(np.argmax(cover[b]))]
        lines.append(((distances[b] - columns * np.cos(a)) / np.sin(a) * k + (k - 1) / 2, best[b]))
    return lines, k


def _bridged(ink: np.ndarray, gap: int) -> np.ndarray:
    """``ink`` (n, w) bool with breaks of up to ``gap`` pixels along each row filled (ink on both sides within gap)."""
    before = np.zeros_like(ink)
    after = np.zeros_like(ink)
    for g in range(1, gap + 1):
        before[:, g:] |= ink[:, :-g]
        after[:, :-g] |= ink[:, g:]
    return ink | (before & after)


def _longest_run(ink: np.ndarray) -> np.ndarray:
    """The longest run of True along each row of ``ink`` (n, w) bool: (n,) int."""
    n, w = ink.shape
    position = np.arange(1, w + 1)
    last_break = np.maximum.accumulate(np.where(ink, 0, position), axis=1)
    return (position - last_break).max(axis=1)


def _band(shape: tuple[int, int], centre: np.ndarray, thick: float) -> np.ndarray:
    """The pixels (H, W) bool within half of ``thick`` (plus a pixel) of a near-horizontal line along ``centre`` (W,)."""
    rows = np.arange(shape[0])[:, None]
    return np.abs(rows - centre[None, :]) <= thick / 2 + 1


def _block(image: np.ndarray, k: int, reduce) -> np.ndarray:
    """``image`` (H, W) bool reduced by ``reduce`` over k x k blocks (the edge's blocks padded with their own edge)."""
    if k == 1:
        return image
    H, W = image.shape
    padded = np.pad(image, ((0, -H % k), (0, -W % k)), mode="edge")
    return reduce(padded.reshape(padded.shape[0] // k, k, padded.shape[1] // k, k), axis=(1, 3))


def _line_runs(on: np.ndarray, centre: np.ndarray, search: int = 1):
    """Where a near-horizontal line of ``on`` (H, W) bool along ``centre`` (W,) rows lies, and which of its pixels are
    the line's own: (columns (n,), (first rows (n,), end rows (n,)), thickness, clear) of the columns where ink lies
    at the centre (give or take ``search`` pixels, the nearest first) and the run of ink across the line there is at
    most its thickness (THIN_PERCENTILE of the runs) plus THICK_TOLERANCE; clear: the share of those columns with
    paper two pixels past the run on both sides. None when the line has no such column."""
    H, W = on.shape
    columns = np.arange(W)
    c = np.round(centre).astype(int)  # beyond the edge where a line askew runs out
    reach = max(3, int(np.ceil(MAX_THICK * min(H, W))) + THICK_TOLERANCE + 2) + search
    offsets = np.arange(-reach, reach + 1)
    rows = c[None, :] + offsets[:, None]
    inside = (rows >= 0) & (rows < H)  # beyond the picture's edge: no ink (a line running out through it stays thin)
    profile = on[np.clip(rows, 0, H - 1), columns[None, :]] & inside  # (2 reach + 1, W): the ink across the line
    start = None
    for o in [0] + [sign * d for d in range(1, search + 1) for sign in (-1, 1)]:  # the nearest ink to the centre
        hit = profile[reach + o]
        start = np.where(hit, reach + o, -1) if start is None else np.where(start < 0, np.where(hit, reach + o, -1), start)
    present = start >= 0
    if not present.any():
        return None
    up = np.zeros(W, dtype=int)
    down = np.zeros(W, dtype=int)
    for step in range(1, reach + 1):  # how far the run reaches each way from where it was met
        i = start - step
        ok = present & (i >= 0) & (up == step - 1)
        ok &= profile[np.clip(i, 0, 2 * reach), columns]
        up += ok
        i = start + step
        ok = present & (i <= 2 * reach) & (down == step - 1)
        ok &= profile[np.clip(i, 0, 2 * reach), columns]
        down += ok
    run = up + down + 1
    thickness = float(np.percentile(run[present], THIN_PERCENTILE))
    own = present & (run <= thickness + THICK_TOLERANCE)
    if not own.any():
        return None
    beside = (profile[np.clip(start - up - 2, 0, 2 * reach), columns]
              | profile[np.clip(start + down + 2, 0, 2 * reach), columns])  # ink two pixels past the run
    first = (c + start - reach - up)[own]
    last = (c + start - reach + down)[own] + 1
    return columns[own], (np.clip(first, 0, H), np.clip(last, 0, H)), thickness, float(np.mean(~beside[own]))
