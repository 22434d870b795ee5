"""From pictures and strokes to the network's input: the 8x8 and 28x28 recipes, tested once for the
image folders, `predict --image` and the drawing page, which all call them."""

import io

import numpy as np
import pytest
from PIL import Image

import digitnet
from digitnet.data import Inputs
from digitnet.errors import DataError, TooLargeError
from digitnet.preprocess import MAX_PIXELS, ink_from_image, ink_from_strokes, to_input

MNIST28 = Inputs(784, (28, 28), (0.0, 255.0))


def ellipse(cx, cy, rx, ry, n=48):
    t = np.linspace(-np.pi / 2, 1.5 * np.pi, n)
    return [[float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))] for a in t]


# scripted drawings on a 280 x 280 pad, as the browser tests draw them
STROKES = {
    0: [ellipse(140, 140, 60, 95)],
    1: [[[140, 40], [140, 240]]],
    4: [[[160, 40], [70, 170], [210, 170]], [[160, 40], [160, 245]]],
    7: [[[80, 50], [200, 50], [120, 245]], [[110, 150], [190, 150]]],  # crossed, as the data's writers did
    2: [[[80, 80], [110, 45], [170, 45], [195, 85], [175, 130], [85, 235], [205, 235]]],
    3: [[[85, 55], [185, 55], [130, 125], [190, 170], [170, 230], [85, 235]]],
}
# the other digits, and the continental habits the embedded digits' writers lack
MORE_STROKES = {
    5: [[[190, 45], [100, 45], [92, 130], [150, 118], [192, 160], [185, 222], [140, 245], [88, 228]]],
    6: [[[185, 50], [125, 75], [92, 150], [98, 222], [145, 245], [188, 212], [182, 162], [135, 148], [97, 178]]],
    8: [ellipse(140, 92, 45, 50), ellipse(140, 192, 55, 52)],
    9: [ellipse(140, 95, 50, 52), [[190, 95], [185, 245]]],
}
ALL_DIGITS = {**STROKES, **MORE_STROKES}
FLAGGED_ONE = [[[105, 85], [150, 40], [150, 245]]]
CONTINENTAL_SEVEN = STROKES[7]  # with a bar


@pytest.fixture(scope="module")
def default_model():
    return digitnet.train()


def picture_of(x8: np.ndarray, size=96) -> np.ndarray:
    """An 8x8 training digit drawn as a smooth grey picture (ink bright), size x size."""
    small = Image.fromarray((x8.reshape(8, 8) * 255 / 16).astype(np.uint8))
    return np.asarray(small.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64)


def in_measured_ranges(X: np.ndarray) -> np.ndarray:
    """Per 8x8 input: spans all 8 rows, ink 313 +- 2 std (35), centre of mass within 3 std of the digits' mean."""
    images = X.reshape(-1, 8, 8)
    total = X.sum(axis=1)
    rows = (images.sum(axis=2) @ np.arange(8)) / total
    cols = (images.sum(axis=1) @ np.arange(8)) / total
    full_height = (images.sum(axis=2) > 0).all(axis=1)
    return full_height & (np.abs(total - 313) <= 70) & (np.abs(rows - 3.48) <= 3 * 0.39) & (np.abs(cols - 3.57) <= 3 * 0.30)


def test_training_digits_drawn_and_preprocessed_back_keep_their_accuracy(default_model, digits):
    test = default_model.test_indices
    X = np.array([to_input(picture_of(digits.X[i])) for i in test])
    accuracy = np.mean(default_model.predict(X) == digits.y[test])
    assert accuracy >= 0.95, accuracy  # 96.4% measured (the digits themselves: 99.1%)
    assert in_measured_ranges(X).mean() >= 0.95
    assert abs(X.sum(axis=1).mean() - 313) < 10


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_scripted_drawings_are_recognised_and_look_like_the_data(default_model, digit):
    x = to_input(ink_from_strokes(STROKES[digit], 280, 280))
    assert in_measured_ranges(x[None])[0]
    p = default_model.predict_proba(x[None])[0]
    assert p.argmax() == digit and p.max() > 0.5, p.round(2)


def test_small_and_off_centre_drawings_give_the_same_input():
    big = to_input(ink_from_strokes(STROKES[4], 280, 280))
    small = [[[x / 3 + 170, y / 3 + 10] for x, y in stroke] for stroke in STROKES[4]]  # a third the size, top right
    x = to_input(ink_from_strokes(small, 280, 280, line_width=280 / 16 / 3))
    assert np.abs(x - big).sum() / big.sum() < 0.35


@pytest.mark.parametrize("inputs", [None, MNIST28], ids=["8x8", "28x28"])
def test_faint_specks_apart_from_the_digit_leave_its_box_alone(monkeypatch, inputs):
    """Grain or JPEG blocks left as faint ink (above the box's faint threshold, never strong) far from the digit
    do not stretch its box (the digit would shrink to a corner): faint ink counts where it touches strong ink,
    as the digit's own anti-aliased edges do."""
    import digitnet.preprocess as preprocess

    ink = ink_from_strokes(STROKES[2], 280, 280)
    expected = to_input(ink, *([inputs] if inputs else []))
    specked = ink.copy()
    specked[5:7, 5:7] = specked[270:272, 260:262] = 60  # faint: a quarter of full strength
    np.testing.assert_array_equal(to_input(specked, *([inputs] if inputs else [])), expected)
    monkeypatch.setattr(preprocess, "CROP_CONNECTED", False)  # every faint pixel in the box: the 2 shrinks
    assert not np.array_equal(to_input(specked, *([inputs] if inputs else [])), expected)


def test_blank_and_dot_are_no_digit():
    assert to_input(np.zeros((280, 280))) is None
    assert to_input(ink_from_strokes([], 280, 280)) is None
    assert to_input(ink_from_strokes([[[100, 100]]], 280, 280)) is None
    assert to_input(ink_from_strokes([[[100, 100]]], 280, 280), MNIST28) is None


def _png(array: np.ndarray, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8), mode=None).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_dark_light_and_transparent_ink_read_alike():
    ink = ink_from_strokes(STROKES[2], 140, 140, line_width=10)
    light_on_dark = ink_from_image(_png(ink, "L"))
    dark_on_light = ink_from_image(_png(255 - ink, "L"))
    rgba = np.zeros((*ink.shape, 4))
    rgba[..., 3] = ink  # a black pen on a transparent page
    transparent = ink_from_image(_png(rgba, "RGBA"))
    for other in (dark_on_light, transparent):
        np.testing.assert_allclose(other, light_on_dark, atol=1)
    np.testing.assert_array_equal(to_input(transparent), to_input(light_on_dark))


def test_mnist_recipe_box_and_centre_of_mass():
    x = to_input(ink_from_strokes(STROKES[3], 280, 280), MNIST28).reshape(28, 28)
    on = np.argwhere(x > 0)
    height, width = on.max(axis=0) - on.min(axis=0) + 1
    assert max(height, width) in (20, 21)  # the longer side scaled to 20 (+1 for anti-aliased edges)
    total = x.sum()
    centre = ((x.sum(axis=1) @ np.arange(28)) / total, (x.sum(axis=0) @ np.arange(28)) / total)
    np.testing.assert_allclose(centre, (14, 14), atol=0.5)
    assert 0 <= x.min() and x.max() == 255


def test_pictures_over_the_pixel_limit_are_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("L", (5000, 4000), 0).save(buffer, format="PNG")
    assert 5000 * 4000 > MAX_PIXELS
    with pytest.raises(TooLargeError, match="too large"):
        ink_from_image(buffer.getvalue())


def test_not_a_picture():
    with pytest.raises(DataError, match="not a PNG, JPEG or TIFF picture"):
        ink_from_image(b"hello")


def test_stroke_limits():
    with pytest.raises(DataError, match="too many strokes"):
        ink_from_strokes([[[1, 1]]] * 65, 100, 100)
    with pytest.raises(DataError, match="finite"):
        ink_from_strokes([[[float("nan"), 1]]], 100, 100)
    with pytest.raises(DataError, match="width and height must be 1..4096"):
        ink_from_strokes([[[1, 1]]], 0, 100)


def test_ink_that_barely_reaches_the_threshold_is_still_a_digit_or_none_never_a_crash():
    # found by benchmarks/realworld.py (a faint photo on a dark desk with the contrast step off): only four pixels of
    # this ink pass INK_THRESHOLD, so the thickened strokes drawn from them were too small to crop and the 28x28
    # path failed with AttributeError on None
    from pathlib import Path

    ink = np.asarray(Image.open(Path(__file__).parent / "data" / "faint-ink-crop.png"), dtype=np.float64)
    x = to_input(ink, Inputs(784, (28, 28), (0.0, 255.0)))
    assert x is not None and x.shape == (784,)
    assert np.isfinite(x).all() and 0 <= x.min() and x.max() <= 255 and x.max() > 100
