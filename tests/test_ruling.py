"""Printed lines on the paper (a notebook's ruling, squared paper, a margin's rule, a form's box) are no ink; a
digit's own straight strokes are kept (digitnet.ruling)."""

import io

import numpy as np
import pytest
from PIL import Image

import digitnet.preprocess as preprocess
from digitnet.answer import answers
from digitnet.models import load_drawing
from digitnet.preprocess import PAD, ink_from_image, ink_from_strokes, to_input
from digitnet.ruling import without_ruling

from test_preprocess import ALL_DIGITS, STROKES

LINE = (0.7, 0.8, 0.97)  # a light blue ruling: the light it leaves of each colour (a notebook's)
MARGIN = (0.97, 0.6, 0.6)  # a red margin's rule
SPACING = 24  # pixels between the ruling's lines on the 280-pixel sheet


@pytest.fixture(scope="module")
def drawing():
    return load_drawing()


def ruled(strokes, kind: str, rng, scale: int = 1, offset: int = 5, pen: float | None = None, tilt: float = 0.0,
          strength: float = 1.0, grain: float = 2.0, jpeg: bool = False) -> bytes:
    """A PNG of black strokes on white paper printed with ``kind``: "lines" (2 px, every SPACING px), "grid" (the
    same both ways), "margin" (lines and a red rule down the left), "box" (a form's dark 3 px box, 8% in), "none";
    the printing turned by ``tilt`` degrees (a sheet photographed askew) at ``strength`` of its ink; enlarged
    ``scale`` times (bilinear), with ``grain`` (standard deviation), PNG or JPEG at quality 60."""
    line = 1 - strength * (1 - np.array(LINE))
    a = ink_from_strokes(strokes, PAD, PAD, line_width=pen)[..., None] / 255
    m = (a.shape[0] - PAD) // 2  # the canvas's margin of half a pen: the pad's own coordinates kept
    a = a[m : m + PAD, m : m + PAD]
    paper = np.full((PAD, PAD, 3), 250.0)
    if kind in ("lines", "grid", "margin"):
        big = np.full((2 * PAD, 2 * PAD, 3), 250.0)  # printed larger, turned, cut: lines run out through the edges
        first = (offset - PAD // 2) % SPACING  # the cut's lines at offset, offset + SPACING, ...
        for y in range(first, 2 * PAD, SPACING):
            big[y : y + 2] *= line
        if kind == "grid":
            for x in range(first, 2 * PAD, SPACING):
                big[:, x : x + 2] *= line
        if kind == "margin":
            big[:, PAD // 2 + 30 : PAD // 2 + 32] *= MARGIN
        if tilt:
            big = np.stack([np.asarray(Image.fromarray(big[..., c].astype(np.float32)).rotate(
                tilt, Image.Resampling.BILINEAR)) for c in range(3)], axis=-1)
        paper = big[PAD // 2 : PAD // 2 + PAD, PAD // 2 : PAD // 2 + PAD]
    elif kind == "box":
        m = round(0.08 * PAD)
        for rows, cols in ((slice(m, m + 3), slice(m, PAD - m)), (slice(PAD - m - 3, PAD - m), slice(m, PAD - m)),
                           (slice(m, PAD - m), slice(m, m + 3)), (slice(m, PAD - m), slice(PAD - m - 3, PAD - m))):
            paper[rows, cols] *= 0.25
    image = paper * (1 - a) + 20.0 * a
    if scale > 1:
        image = np.stack([np.asarray(Image.fromarray(image[..., c].astype(np.float32)).resize(
            (PAD * scale, PAD * scale), Image.Resampling.BILINEAR)) for c in range(3)], axis=-1)
    image = np.clip(image + rng.normal(0, grain, image.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format="JPEG" if jpeg else "PNG", **({"quality": 60} if jpeg else {}))
    return buffer.getvalue()


def box(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.max(axis=1) > 25), np.flatnonzero(ink.max(axis=0) > 25)
    return np.array([rows[0], rows[-1], cols[0], cols[-1]])


@pytest.mark.parametrize("kind", ["lines", "grid", "margin", "box"])
def test_printed_lines_are_no_ink_and_every_digit_reads_as_written(drawing, kind):
    """Taken for ink, the lines made the digit's box the whole sheet (a ruling: 48% of MNIST's test digits read
    right, squared paper 14%, a form's box 9%, in the tester's photos): now the ink's box is the digit's."""
    rng = np.random.default_rng(0)
    X = []
    for digit in range(10):
        ink = ink_from_image(ruled(ALL_DIGITS[digit], kind, rng))
        clean = ink_from_image(ruled(ALL_DIGITS[digit], "none", rng))
        np.testing.assert_allclose(box(ink), box(clean), atol=3)
        X.append(to_input(ink, drawing.inputs))
    assert list(answers(drawing.predict_proba(np.array(X)))[0]) == list(range(10))


def test_a_large_scan_of_squared_paper(drawing):
    """Lines are found on a reduced copy (block maximum), then taken out at full size: a 840-pixel scan."""
    rng = np.random.default_rng(1)
    for digit in (1, 4, 7):
        ink = ink_from_image(ruled(ALL_DIGITS[digit], "grid", rng, scale=3))
        clean = ink_from_image(ruled(ALL_DIGITS[digit], "none", rng, scale=3))
        np.testing.assert_allclose(box(ink), box(clean), atol=6)
        assert answers(drawing.predict_proba(to_input(ink, drawing.inputs)[None]))[0][0] == digit


@pytest.mark.parametrize("tilt", [-4.0, 8.5])
def test_a_sheet_photographed_askew(drawing, tilt):
    """The ruling turned (up to MAX_TILT degrees, 10): lines are sought at every angle to 10 degrees, 0.25 apart."""
    rng = np.random.default_rng(7)
    X = []
    for digit in range(10):
        ink = ink_from_image(ruled(ALL_DIGITS[digit], "grid" if digit % 2 else "lines", rng, tilt=tilt))
        clean = ink_from_image(ruled(ALL_DIGITS[digit], "none", rng))
        np.testing.assert_allclose(box(ink), box(clean), atol=3)
        X.append(to_input(ink, drawing.inputs))
    assert list(answers(drawing.predict_proba(np.array(X)))[0]) == list(range(10))


def test_faint_lines_in_a_grainy_jpeg():
    """A light ruling (40% of the usual), heavy grain, JPEG at 60: the lines' ink breaks into pieces, bridged over
    GAP pixels."""
    rng = np.random.default_rng(8)
    for digit in range(10):
        ink = ink_from_image(ruled(ALL_DIGITS[digit], "grid", rng, strength=0.4, grain=8.0, jpeg=True))
        clean = ink_from_image(ruled(ALL_DIGITS[digit], "none", rng))
        np.testing.assert_allclose(box(ink), box(clean), atol=3)


def test_ink_crossing_a_line_is_kept():
    """The 1 (a straight stroke down the middle) crosses every line of the ruling: its ink there is the stroke's."""
    rng = np.random.default_rng(2)
    ink = ink_from_image(ruled(STROKES[1], "lines", rng, offset=5))
    rows = [y for y in range(5, PAD, SPACING) if 50 < y < 230]  # the lines the stroke crosses
    assert len(rows) == 8
    assert all(ink[y, 140] > 200 and ink[y + 1, 140] > 200 for y in rows)  # the crossings: full ink
    assert all(ink[y, 20] == 0 and ink[y, 260] == 0 for y in rows)  # the lines beside the digit: none


def test_blank_ruled_sheets_are_no_digit():
    """A ruling alone goes. (A margin's rule alone stays, as a tightly cropped 1 would: a blank page with a margin
    is read as a digit.)"""
    rng = np.random.default_rng(3)
    for kind in ("lines", "grid"):
        assert to_input(ink_from_image(ruled([], kind, rng)), load_drawing().inputs) is None, kind


def test_a_square_zero_drawn_thin_is_taken_for_an_empty_box(drawing, monkeypatch):
    """Four straight strokes cropped tightly, two each way, make a form's box or a 0 written square: with nothing
    else in the picture they go, as an empty form's box must (it was read as 0, sure of it): the price is a 0 drawn
    as a rectangle of ruler-straight thin lines, "no digit". Without EMPTY_BOX the 0 is read."""
    import digitnet.ruling as ruling

    rng = np.random.default_rng(9)
    square = [[[90, 40], [190, 40], [190, 240], [90, 240], [90, 40]]]
    grey = np.asarray(Image.open(io.BytesIO(ruled(square, "none", rng, pen=5.0))).convert("RGB"))[30:251, 80:201]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grey)).save(buffer, format="PNG")
    assert to_input(ink_from_image(buffer.getvalue()), drawing.inputs) is None
    monkeypatch.setattr(ruling, "EMPTY_BOX", False)
    ink = ink_from_image(buffer.getvalue())
    assert ink[100:120, 8:12].max() > 200 and ink[8:12, 50:70].max() > 200  # its left side and top, kept
    assert answers(drawing.predict_proba(to_input(ink, drawing.inputs)[None]))[0][0] == 0


def test_a_forms_box_in_a_small_crop(drawing):
    """A cell of a form cropped to 60 px: its box 3 px wide (5% of the side) is a printed line too. Where the digit
    touches the box, the ink stays (the digit's); everywhere else the box is gone."""
    from scipy.ndimage import maximum_filter

    rng = np.random.default_rng(10)
    for digit in (2, 5, 7):
        small = Image.open(io.BytesIO(ruled(ALL_DIGITS[digit], "none", rng))).convert("L").resize((60, 60),
                                                                                                 Image.Resampling.LANCZOS)
        pictures = []
        for with_box in (False, True):
            grey = np.asarray(small, float).copy()
            if with_box:
                grey[4:7, 4:56] = grey[53:56, 4:56] = grey[4:56, 4:7] = grey[4:56, 53:56] = 60.0
            buffer = io.BytesIO()
            Image.fromarray(grey.astype(np.uint8)).save(buffer, format="PNG")
            pictures.append(ink_from_image(buffer.getvalue()))
        clean, ink = pictures
        frame = np.zeros((60, 60), bool)
        frame[4:7, 4:56] = frame[53:56, 4:56] = frame[4:56, 4:7] = frame[4:56, 53:56] = True
        away = frame & ~maximum_filter(clean > 0, size=9)  # the box where no stroke comes within 4 px
        assert away.sum() > 300 and ink[away].max() == 0, digit
        assert answers(drawing.predict_proba(to_input(ink, drawing.inputs)[None]))[0][0] == digit


@pytest.mark.parametrize("kind", ["lines", "margin"])
def test_a_tightly_cropped_straight_one_on_ruled_paper_is_kept(drawing, kind):
    """A 1 cropped to its height runs the picture's height, straight, and a fine pen makes it as thin as the ruling's
    lines: a lone line across them. Taken out with them it would leave nothing: it stays, and reads as 1."""
    rng = np.random.default_rng(4)
    png = ruled(STROKES[1], kind, rng, pen=4.0)
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[38:243, 40:240]  # the 1 spans rows 40-240
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grey)).save(buffer, format="PNG")
    ink = ink_from_image(buffer.getvalue())
    assert ink[5:200, 99:101].min() > 128  # the stroke, whole
    assert answers(drawing.predict_proba(to_input(ink, drawing.inputs)[None]))[0][0] == 1


def test_a_digits_own_straight_strokes_are_no_printed_lines(monkeypatch):
    """A 4 of straight strokes cropped tightly, thin pen: its stem and bar run the picture's height and width, but
    they cross (not side by side) and run past none of its other ink: the ink is the same as without the step."""
    rng = np.random.default_rng(5)
    four = ruled(STROKES[4], "none", rng, pen=8.0)
    grey = np.asarray(Image.open(io.BytesIO(four)).convert("RGB"))[36:250, 66:214]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grey)).save(buffer, format="PNG")
    with_step = ink_from_image(buffer.getvalue())
    monkeypatch.setattr(preprocess, "RULING", False)
    np.testing.assert_array_equal(with_step, ink_from_image(buffer.getvalue()))


def blotchy(png: bytes, rng) -> bytes:
    """The sheet under blotchy light (a smooth random field taking up to 45% of it), with grain, on a dark desk
    showing 12% of its side all round: the desk's zeros in the ink's map set its paper's floor so low that fields of
    faint blotches are ink, along which a line of any angle is "covered"."""
    from scipy.ndimage import gaussian_filter

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), float)
    field = gaussian_filter(rng.normal(size=image.shape[:2]), image.shape[0] / 10)
    light = 1 - 0.45 * (field - field.min()) / np.ptp(field)
    d = round(0.12 * image.shape[0])
    desk = np.full((image.shape[0] + 2 * d, image.shape[1] + 2 * d, 3), 60.0)
    desk[d:-d, d:-d] = image * light[..., None]
    desk = np.clip(desk + rng.normal(0, 3, desk.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(desk, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def small_jpeg(png: bytes, side: int, rng) -> bytes:
    """The picture made ``side`` px wide, under a shadow falling to 55% of the light, JPEG at quality 60: its ink is
    faint specks over a third of the sheet, lined up along the JPEG's 8-pixel blocks."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB").resize((side, side), Image.Resampling.BICUBIC), float)
    image = image * (1 - 0.45 * np.linspace(0, 1, side))[None, :, None]
    image = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=60)
    return buffer.getvalue()


def test_noisy_small_photos_keep_their_box_and_answer(drawing, monkeypatch):
    """Specks of a noisy photo line up (along a JPEG's blocks), but without paper beside them (CLEAR). What may still
    be taken out is faint: the digit's box and the answer are those without the step."""
    rng = np.random.default_rng(11)
    pictures = [small_jpeg(ruled(ALL_DIGITS[d % 10], "none", rng), int(rng.integers(56, 180)), rng) for d in range(30)]
    with_step = [ink_from_image(p) for p in pictures]
    monkeypatch.setattr(preprocess, "RULING", False)
    without = [ink_from_image(p) for p in pictures]
    for a, b in zip(with_step, without):
        np.testing.assert_allclose(box(a), box(b), atol=1)
    P = [drawing.predict_proba(np.array([to_input(i, drawing.inputs) for i in inks])) for inks in (with_step, without)]
    assert list(answers(P[0])[0]) == list(answers(P[1])[0])


def test_pictures_without_printed_lines_are_unchanged(monkeypatch):
    rng = np.random.default_rng(6)
    pictures = [ruled(ALL_DIGITS[d], "none", rng) for d in range(10)]
    pictures += [blotchy(ruled(ALL_DIGITS[d], "none", rng), rng) for d in range(10)]
    with_step = [ink_from_image(p) for p in pictures]
    monkeypatch.setattr(preprocess, "RULING", False)
    for p, ink in zip(pictures, with_step):
        np.testing.assert_array_equal(ink, ink_from_image(p))


def test_without_ruling_on_arrays():
    """The function itself: three parallel lines across a stroke; the lines go, the stroke stays, dark is not changed
    in place. Two lines alone (a continental 7's top and bar, cropped tightly) and a picture too small are returned
    as they are."""
    dark = np.zeros((80, 100))
    dark[15:17, :] = dark[40:42, :] = dark[65:67, :] = 80.0  # three printed lines
    dark[5:75, 48:53] = 250.0  # a stroke across them
    ink = np.clip(dark * 1.2, 0, 255)
    out = without_ruling(dark, ink, None, 128)
    assert out[15, 0] == out[66, 99] == out[41, 20] == 0 and dark[15, 0] == 80.0
    assert (out[5:75, 48:53] == 250.0).all()
    assert np.count_nonzero(out) == 70 * 5
    two = dark.copy()
    two[65:67, :] = 0.0
    assert without_ruling(two, np.clip(two * 1.2, 0, 255), None, 128) is two
    small = dark[:60, :60]  # under MIN_SIDE: strokes there are as thin as printed lines
    assert without_ruling(small, ink[:60, :60], None, 128) is small
