"""A sheet photographed on a darker desk, in a frame or partly off the picture: the digit on the paper is read,
not the surround; and what already read right (light ink on dark, a digit touching every edge) still does."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet.answer import answer
from digitnet.models import load_drawing
from digitnet.pictures import read_picture
from digitnet.preprocess import INK_THRESHOLD, MIN_CONTRAST, PAD, ink_from_image, ink_from_strokes, to_input
from digitnet.sheet import surround

from test_preprocess import ALL_DIGITS

DESK = 40  # a dark-grey desk


@pytest.fixture(scope="module")
def drawing():
    return load_drawing()


def sheet(digit: int) -> np.ndarray:
    """The grey levels (280, 280) of a black digit (the page's strokes) on white paper."""
    return 255.0 - ink_from_strokes(ALL_DIGITS[digit], PAD, PAD, line_width=14)[7:-7, 7:-7]


def png(grey: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L").save(buffer, format="PNG")
    return buffer.getvalue()


def on_desk(grey: np.ndarray, top: int, bottom: int, left: int, right: int, level: float = DESK) -> np.ndarray:
    H, W = grey.shape
    desk = np.full((H + top + bottom, W + left + right), float(level))
    desk[top : top + H, left : left + W] = grey
    return desk


def framed(grey: np.ndarray, width: int) -> np.ndarray:
    grey = grey.copy()
    grey[:width], grey[-width:], grey[:, :width], grey[:, -width:] = 0, 0, 0, 0
    return grey


def read(model, grey: np.ndarray) -> int:
    x = to_input(ink_from_image(png(grey)), model.inputs)
    return -1 if x is None else answer(model.predict_proba(x[None])[0]).digit


@pytest.mark.parametrize("digit", [2, 3, 5, 7])
@pytest.mark.parametrize("border", [(10, 10, 10, 10), (50, 50, 50, 50), (30, 0, 45, 0)], ids=["10px", "50px", "2 sides"])
def test_a_sheet_on_a_dark_desk_reads_its_digit(drawing, digit, border):
    assert read(drawing, sheet(digit)) == digit  # the sheet alone
    assert read(drawing, on_desk(sheet(digit), *border)) == digit


@pytest.mark.parametrize("width", [1, 2, 3])
@pytest.mark.parametrize("digit", [2, 3, 7])
def test_a_black_frame_around_the_picture_is_no_ink(drawing, digit, width):
    assert read(drawing, framed(sheet(digit), width)) == digit


def test_the_desk_leaves_the_same_ink_as_the_sheet_alone():
    """The surround is paper: the desk's picture gives the sheet's ink, and nothing where the desk was."""
    alone = ink_from_image(png(sheet(3)))
    ink = ink_from_image(png(on_desk(sheet(3), 20, 20, 20, 20)))
    assert not ink[:22].any() and not ink[-22:].any() and not ink[:, :22].any() and not ink[:, -22:].any()
    on = (ink[20:-20, 20:-20] > INK_THRESHOLD), (alone > INK_THRESHOLD)
    assert np.mean(on[0] != on[1]) < 0.002


@pytest.mark.parametrize("digit", [0, 1, 2, 3, 7])
def test_light_ink_on_dark_paper_still_reads(drawing, digit):
    assert read(drawing, 255.0 - sheet(digit)) == digit
    assert read(drawing, on_desk(255.0 - sheet(digit), 25, 25, 25, 25, level=200)) == digit  # a board on a light wall


def tight(digit: int) -> np.ndarray:
    """The digit's box stretched to the whole picture, as a 16x16 collection's digits are: it touches every edge."""
    grey = sheet(digit)
    rows, cols = np.flatnonzero((grey < 128).any(axis=1)), np.flatnonzero((grey < 128).any(axis=0))
    box = Image.fromarray(grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32))
    small = np.asarray(box.resize((16, 16), Image.Resampling.BOX)) < 128
    rows, cols = np.flatnonzero(small.any(axis=1)), np.flatnonzero(small.any(axis=0))
    small = small[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # a faint edge row lost by the binarising
    return np.asarray(Image.fromarray(np.where(small, 0, 255).astype(np.uint8)).resize((160, 160), Image.Resampling.NEAREST),
                      dtype=np.float64)


@pytest.mark.parametrize("digit", [0, 2, 3, 4, 5, 6, 7, 8, 9])  # a straight 1 stretched to its box is all ink
def test_a_digit_touching_all_four_edges_is_no_surround(digit):
    """A tightly cropped digit is all digit: its box stays the whole picture (the bar of a 7 along the top,
    the base of a 2 along the bottom, the ring of a 0 are strokes)."""
    grey = tight(digit)
    assert (grey[0] < 128).any() and (grey[-1] < 128).any() and (grey[:, 0] < 128).any() and (grey[:, -1] < 128).any()
    assert surround(grey) is None
    on = ink_from_image(png(grey)) > INK_THRESHOLD
    assert on[0].any() and on[-1].any() and on[:, 0].any() and on[:, -1].any()


def test_a_surround_is_found_only_where_there_is_one():
    # the desk and the sheet's blurred edge: 3 pixels (EDGE_BLUR of 300) into the sheet
    assert surround(on_desk(sheet(3), 10, 10, 10, 10)).mean() == pytest.approx(1 - 274**2 / 300**2, abs=0.005)
    assert surround(framed(sheet(3), 1)) is not None
    assert surround(sheet(3)) is None  # paper to the edges
    assert surround(np.full((50, 50), 200.0)) is None  # blank


@pytest.mark.parametrize("digit", [0, 8])
def test_the_paper_around_a_big_thick_digit_is_no_surround(drawing, digit):
    """The paper around a digit written large with a thick pen runs along every side and stays near the edge
    too; but it meets the digit along the digit's outline, not a sheet's straight edge."""
    grey = 255.0 - ink_from_strokes(ALL_DIGITS[digit], PAD, PAD, line_width=56)[28:-28, 28:-28]
    assert surround(grey) is None
    assert read(drawing, grey) == digit


def shadowed(grey: np.ndarray, darkest: float) -> np.ndarray:
    """The sheet under a shadow falling from left to right: light multiplied by 1 down to ``darkest``."""
    return grey * np.linspace(1.0, darkest, grey.shape[1])[None, :]


@pytest.mark.parametrize("digit", [2, 3, 5, 7])
def test_a_shadowed_sheet_on_a_grey_desk_reads_its_digit(drawing, digit):
    """A grey desk (110) around a grey sheet (220) whose shadowed side (down to 120) comes near the desk's level:
    every global cut joins that side to the desk, the desk's own level does not; found, the sheet is read
    light paper with dark ink, not the reverse."""
    grey = on_desk(shadowed(sheet(digit) * 220 / 255, 120 / 220), 25, 25, 25, 25, level=110)
    outside = surround(grey)
    assert outside is not None and not outside[40:-40, 40:-40].any()
    assert outside[:22].all() and outside[-22:].all() and outside[:, :22].all() and outside[:, -22:].all()
    ink = ink_from_image(png(grey))
    assert ink[30:-30, 30:-30].mean() < 0.2 * 255  # ink is sparse: the paper is not taken for ink
    assert read(drawing, grey) == digit


PHOTOS = sorted((Path(__file__).parent / "data" / "photos").glob("[0-9]_*"))


@pytest.mark.parametrize("photo", PHOTOS, ids=[p.name for p in PHOTOS])
def test_a_testers_photos_read_as_written(drawing, photo):
    """tests/data/photos/README.md: a border of several levels is left to the global cuts, and a stroke's blurred
    edge at the desk's level is too thin to be desk."""
    x = to_input(ink_from_image(photo.read_bytes()), drawing.inputs)
    assert x is not None and answer(drawing.predict_proba(x[None])[0]).digit == int(photo.name[0])


def test_a_strokes_blurred_edge_at_the_desks_level_is_not_desk():
    """tests/data/photos/README.md: a thick 0 reaching the sheet's edge on a grey desk; the stroke's blurred edge
    passes through the desk's level all along the 0, a line too thin to be desk (opened away). The surround is
    the desk (43% of this picture), not the desk and the 0's outline (49%)."""
    grey, _ = read_picture((Path(__file__).parent / "data" / "greydesk-thick-0.jpg").read_bytes())
    outside = surround(grey, MIN_CONTRAST)
    assert outside is not None and 0.40 < outside.mean() < 0.45


STORED = sorted((Path(__file__).parent / "data" / "stored").glob("[0-9]_*"))


@pytest.mark.parametrize("picture", STORED, ids=[p.name for p in STORED])
def test_a_digit_stored_small_is_no_sheet_on_a_desk(drawing, picture):
    """tests/data/stored/README.md: 16x16 and 48x48 digits touching their picture's top and bottom; the paper beside
    them is no desk (pictures under MIN_SIDE have none; a 48-px 0's outline bows), and each is read as written."""
    grey, _ = read_picture(picture.read_bytes())
    assert surround(grey, MIN_CONTRAST) is None
    x = to_input(ink_from_image(picture.read_bytes()), drawing.inputs)
    assert x is not None and answer(drawing.predict_proba(x[None])[0]).digit == int(picture.name[0])


def test_a_bowed_edge_is_no_sheets_edge():
    """A surround's inner edge must be straight over the middle 60% of its side: a line fits it within the tolerance
    (1.5 px here) and a parabola's bow is no larger. The paper beside an oval whose middle bows 4 px is not a desk."""
    from digitnet.sheet import _straight

    H = W = 100
    rows = np.arange(H)[:, None]
    for bow, straight in ((0.0, True), (1.0, True), (4.0, False)):
        depth = 20 + bow * (1 - ((rows[:, 0] - H / 2) / (0.3 * H)) ** 2)  # the edge's depth from the left, each row
        inside = np.arange(W)[None, :] < depth[:, None]
        assert _straight(inside, 2) is straight, bow


def turned(grey: np.ndarray, degrees: float, margin: int, level: float = DESK) -> np.ndarray:
    """The sheet turned by ``degrees`` on a desk of ``level`` showing ``margin`` px beyond its corners on every side."""
    im = Image.fromarray(grey.astype(np.float32)).rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=level)
    return on_desk(np.asarray(im, dtype=np.float64), margin, margin, margin, margin, level)


@pytest.mark.parametrize("degrees, margin", [(7, 70), (-7, 70), (10, 40)])
@pytest.mark.parametrize("digit", [2, 3, 7])
def test_a_turned_sheet_on_a_desk_reads_its_digit(drawing, digit, degrees, margin):
    """A sheet photographed turned: its corners fall in the middle of the picture's sides, where a surround's edge
    was to be one straight line, so the desk was not found, the desk became the paper and the sheet the ink. One
    straight edge meeting the sheet's next edge at a corner is a sheet's edge too."""
    grey = turned(sheet(digit), degrees, margin)
    outside = surround(grey)
    assert outside is not None and outside[: margin - 5].all() and outside[-margin + 5 :].all()
    assert not outside[margin + 90 : -margin - 90, margin + 90 : -margin - 90].any()  # the sheet's middle
    assert read(drawing, grey) == digit


def test_a_corner_is_a_sheets_edge_but_a_bow_is_not():
    """(3) with a turned sheet's corner allowed: a straight edge over at least half the side's middle, then one
    turning away at 45 degrees or more, is a sheet's edge; a bow (the paper beside an oval) still is not, nor a
    straight edge turning away gently."""
    from digitnet.sheet import _straight

    H = W = 100
    r = np.arange(H).astype(float)
    for depth, corner in ((20 + 0.1 * r + np.maximum(0, r - 60) * 3.0, True),  # a corner at 60% of the side
                          (20 + 4 * (1 - ((r - H / 2) / (0.3 * H)) ** 2), False),  # a bow of 4 px
                          (20 + np.maximum(0, r - 60) * 0.3, False)):  # bending away gently
        inside = np.arange(W)[None, :] < depth[:, None]
        assert not _straight(inside, 2)
        assert _straight(inside, 2, corner=True) is corner


@pytest.mark.parametrize("side", [24, 35, 47])
@pytest.mark.parametrize("digit", [3, 7])
def test_a_small_boxed_cell_of_a_form_is_read_inside_its_box(drawing, digit, side):
    """A cell cut from a form, under 48 px: its box's dark border, 1-2 px, runs along all four sides and is a
    surround; the digit inside is read, and an empty box is no digit."""
    cell = np.asarray(Image.fromarray(sheet(digit).astype(np.float32)).resize((side, side), Image.Resampling.BOX),
                      dtype=np.float64) * 235 / 255
    b = max(1, side // 16)
    cell[:b], cell[-b:], cell[:, :b], cell[:, -b:] = 70, 70, 70, 70
    assert surround(cell) is not None
    assert read(drawing, cell) == digit
    empty = np.full((side, side), 235.0)
    empty[:b], empty[-b:], empty[:, :b], empty[:, -b:] = 70, 70, 70, 70
    assert read(drawing, empty) == -1


@pytest.mark.parametrize("degrees, crop", [(8, 12), (-6, 8), (11, 25)])
@pytest.mark.parametrize("digit", [0, 2, 5, 7])
def test_a_turned_sheet_photographed_close_reads_its_digit(drawing, digit, degrees, crop):
    """A sheet turned and photographed close: the desk shows only as triangles at the picture's corners, none
    running along a whole side. Each is the part of the picture beyond one straight line (the sheet's edge),
    so it is desk, not ink that would stretch the digit's box to the corners."""
    grey = turned(sheet(digit), degrees, 0)[crop:-crop, crop:-crop]
    assert (grey[0, 0], grey[-1, -1]) == (DESK, DESK) and (grey[:, 0] != DESK).any()  # desk at corners, no side
    outside = surround(grey)
    assert outside is not None and outside[0, 0] and outside[-1, -1] and outside[0, -1] and outside[-1, 0]
    assert not outside[60:-60, 60:-60].any()  # the sheet's middle
    assert read(drawing, grey) == digit


def test_beyond_one_line_is_a_desks_corner_but_a_stroke_or_a_bow_is_not():
    """_beyond_line: the part of the picture beyond one straight line (a corner's triangle, a wedge along part of
    a side) is; a stroke touching the edge (a band: two edges), a round piece (a bowed edge), and a line too short
    to tell (under MIN_LINE of the picture's smaller side) are not."""
    from scipy.ndimage import find_objects, label

    from digitnet.sheet import _beyond_line

    def beyond_line(inside):
        labels, n = label(inside, structure=np.ones((3, 3)))
        assert n == 1
        return _beyond_line(labels, 1, find_objects(labels)[0], int(inside.sum()))

    H, W = 120, 100
    rows, cols = np.mgrid[0:H, 0:W]
    assert beyond_line(rows + cols < 30)  # a corner's triangle
    assert beyond_line(cols > W - 1 - (rows - 50) * 0.15)  # a wedge along the lower part of the right side
    assert not beyond_line((np.abs(cols - 0.3 * rows - 20) < 4) & (rows < 50))  # a stroke from the top edge
    assert not beyond_line((np.abs(cols - 0.3 * rows - 20) < 1) & (rows < 50))  # a thin one: its edge fits a line
    assert not beyond_line((rows - 60) ** 2 + cols**2 < 25**2)  # half a disk on the left side: bowed
    assert not beyond_line(rows + cols < 40 - 8 * (1 - ((rows - cols) / 40) ** 2))  # a corner's piece, bowed 8 px
    assert not beyond_line(rows + cols < 3)  # a corner's speck: an edge 3 pixels long, no line to judge


def test_paper_beyond_a_digits_straight_edge_is_no_desk():
    """A thick 1 cropped to its box (MNIST's test digit 196, stretched: read as a 4 by this rule's first version): light
    paper shows only as triangles at two corners, each beyond the stroke's straight edge. A desk beyond one line
    is asked to be the darker level; paper beside a stroke is the lighter, so it stays paper."""
    rows, cols = np.mgrid[0:125, 0:125]
    grey = np.full((125, 125), 35.0)
    grey[(rows + (124 - cols) < 30) | ((124 - rows) + cols < 30)] = 235.0
    assert surround(grey) is None
    assert surround(255.0 - grey) is not None  # dark triangles beyond a line at a light sheet's corners: a desk
