"""Augmentation inside the compiled batch gather (fast/augment.py, kernels.gather / warp): each transform
against NumPy or SciPy on small images, the elastic fields' statistics, seeded determinism, nothing drawn or
changed when the settings are 0, and the data set neither copied nor changed."""

import dataclasses
import tracemalloc

import numpy as np
import pytest
from scipy import ndimage

import digitnet
from digitnet import Config, ConfigError
from digitnet.fast import augment, kernels
from digitnet.trainer import Run, fit, shift_images

ALL = dict(rotation=10.0, shear=15.0, zoom=0.1, stroke=0.5, elastic_alpha=2.0, elastic_sigma=1.0)


def warp_one(image, rotation=0.0, shear=0.0, zoom=1.0, shift=(0, 0), stroke=0.0, field=None, fill=0.0):
    """The compiled warp of one image (h, w) with these parameters."""
    h, w = image.shape
    row = np.zeros(augment.WARP_COLUMNS)
    row[: augment.T_R] = augment.affine_inverse(np.array([rotation]), np.array([shear]), np.array([zoom])).ravel()
    row[augment.T_R : augment.STROKE] = -np.asarray(shift, float)
    row[augment.STROKE] = stroke
    row[augment.FIELD] = -1 if field is None else 0
    fields = np.empty((0, 2, 0, 0), np.float32) if field is None else field[None].astype(np.float32)
    out = np.empty((1, h * w), image.dtype)
    kernels.gather(np.ascontiguousarray(image.reshape(1, -1)), np.zeros(1, np.int64), 0, np.empty((0, 2), np.int64),
                   row[None], fields, h, w, image.dtype.type(fill), np.empty((h + 3) * (w + 3), image.dtype), out)
    return out.reshape(h, w)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_quarter_turns_is_numpys_rot90(rng, k):
    image = rng.standard_normal((6, 6))
    np.testing.assert_allclose(warp_one(image, rotation=90.0 * k), np.rot90(image, k), rtol=0, atol=1e-12)
    np.testing.assert_allclose(warp_one(image, rotation=-90.0), np.rot90(image, -1), rtol=0, atol=1e-12)


def test_whole_pixel_moves_are_exact_and_match_the_shifts(rng):
    image = rng.standard_normal((5, 7))
    for shift in [(0, 0), (1, -2), (-3, 4), (5, 0)]:
        expected = shift_images(image.reshape(1, -1), np.array([shift]), (5, 7), -9.0).reshape(5, 7)
        np.testing.assert_array_equal(warp_one(image, shift=shift, fill=-9.0), expected)


def test_zoom_and_slant_move_a_pixel_where_they_say(rng):
    image = np.zeros((7, 7))
    image[3, 5] = 1.0  # two columns right of the centre
    half = warp_one(image, zoom=0.5)
    assert half[3, 4] == 1.0 and half.sum() == 1.0  # shrunk toward the centre: one column right of it
    double = warp_one(image, zoom=2.0)  # grown: reads the source at half the offset, between pixels
    np.testing.assert_allclose(double[3, 6:], [0.5])
    column = np.zeros((7, 7))
    column[:, 3] = 1.0  # a vertical stroke through the centre
    slanted = warp_one(column, shear=45.0)  # tops to the right
    assert np.argmax(slanted[0]) == 6 and np.argmax(slanted[3]) == 3 and np.argmax(slanted[6]) == 0


def test_stroke_width_is_scipys_grey_dilation_and_erosion(rng):
    image = rng.uniform(0, 16, size=(6, 8))
    cross = augment.CROSS
    thick = ndimage.grey_dilation(image, footprint=cross, mode="constant", cval=0.0)
    thin = ndimage.grey_erosion(image, footprint=cross, mode="constant", cval=0.0)
    np.testing.assert_allclose(warp_one(image, stroke=1.0), thick, rtol=0, atol=1e-12)
    np.testing.assert_allclose(warp_one(image, stroke=-1.0), thin, rtol=0, atol=1e-12)
    np.testing.assert_allclose(warp_one(image, stroke=0.25), 0.75 * image + 0.25 * thick, rtol=0, atol=1e-12)
    assert thin[0].max() == 0.0  # the paper around the image erodes its border


@pytest.mark.parametrize("dtype, atol", [("float64", 1e-12), ("float32", 2e-5)])
def test_any_warp_is_scipys_map_coordinates(rng, dtype, atol):
    n, shape = 30, (9, 7)
    config = Config(**ALL, augment=1, stretch_to_box=0.3)
    boxes = np.column_stack([rng.uniform(1, 3, n), np.ones(n), rng.uniform(-2, 2, (n, 2))])
    draw = augment.draw(config, rng, n, shape, boxes=boxes)
    assert len(draw.shifts) == 0 and draw.warps.shape == (n, augment.WARP_COLUMNS)
    assert draw.fields.shape == (augment.FIELDS, 2, *shape)
    X = rng.uniform(0, 1, size=(n, 63)).astype(dtype)
    X[:, :7] = 0.0
    order = rng.permutation(n)
    out = np.empty((12, 63), dtype)
    kernels.gather(X, order, 5, draw.shifts, draw.warps, draw.fields, *shape, X.dtype.type(-0.5),
                   np.empty(12 * 10, dtype), out)
    expected = augment.warp_reference(X[order[5:17]], draw.warps[5:17], draw.fields, shape, -0.5)
    np.testing.assert_allclose(out, expected, rtol=0, atol=atol)
    assert np.abs(out - X[order[5:17]]).max() > 0.3  # it did change them


def test_elastic_fields_have_the_smoothed_noises_size_and_smoothness():
    sigma, alpha = 2.0, 10.0
    stored = augment.elastic_fields(np.random.default_rng(0), 2000, (24, 20), sigma, alpha)
    assert stored.dtype == np.float32 and stored.shape == (2000, 2, 24, 20)
    fields = stored.astype(np.float64)
    std, correlation = augment.field_statistics(sigma, alpha)
    by_pixel = fields.std(axis=(0, 1))
    assert np.all(np.abs(by_pixel / std - 1) < 0.06)  # the same size everywhere, borders included
    inner = fields[:, :, 6:18, 6:14]
    assert abs(inner.std() / std - 1) < 0.02 and abs(inner.mean()) < 0.02 * std
    neighbours = np.corrcoef(inner[..., :-1].ravel(), inner[..., 1:].ravel())[0, 1]
    assert abs(neighbours - correlation) < 0.01 and 0.8 < correlation < 0.95  # smooth along rows
    below = np.corrcoef(inner[:, :, :-1].ravel(), inner[:, :, 1:].ravel())[0, 1]
    assert abs(below - correlation) < 0.01  # and along columns
    assert abs(np.corrcoef(inner[:, 0].ravel(), inner[:, 1].ravel())[0, 1]) < 0.02  # the two directions independent
    assert abs(np.corrcoef(inner[:-1].ravel(), inner[1:].ravel())[0, 1]) < 0.02  # and the fields
    assert np.abs(fields).max() < 6 * std


def test_draws_follow_the_seed_and_nothing_is_drawn_when_off():
    shape = (8, 8)
    for config in (Config(), Config(augment=0, elastic_sigma=2.0)):
        rng = np.random.default_rng(3)
        assert augment.draw(config, rng, 50, shape) is not None
        assert rng.bit_generator.state == np.random.default_rng(3).bit_generator.state  # nothing drawn
        assert not augment.augmenting(config)
    shifts = augment.draw(Config(augment=2), np.random.default_rng(3), 50, shape).shifts
    np.testing.assert_array_equal(shifts, np.random.default_rng(3).integers(-2, 3, size=(50, 2)))  # the recipes' draws
    a, b = (augment.draw(Config(**ALL), np.random.default_rng(3), 50, shape) for _ in range(2))
    c = augment.draw(Config(**ALL), np.random.default_rng(4), 50, shape)
    np.testing.assert_array_equal(a.warps, b.warps)
    np.testing.assert_array_equal(a.fields, b.fields)
    assert not np.array_equal(a.warps, c.warps)
    # each setting scales its own draw: turning one off leaves the others' values alone
    shifted = augment.draw(Config(**ALL, augment=2), np.random.default_rng(3), 50, shape)
    np.testing.assert_array_equal(shifted.warps[:, augment.T_R : augment.STROKE], -shifts)  # folded into the warp
    no_rotation = augment.draw(Config(**{**ALL, "rotation": 0.0}), np.random.default_rng(3), 50, shape)
    np.testing.assert_array_equal(no_rotation.warps[:, augment.STROKE:], a.warps[:, augment.STROKE:])
    assert np.all(np.abs(a.warps[:, augment.STROKE]) <= 0.5) and np.all(a.warps[:, augment.FIELD] >= 0)


def test_stretch_to_box_makes_a_thin_digits_box_square_and_centred():
    """A 1 stored stretched to its box is a slab: what stretch_to_box shows the network of a thin bar."""
    image = np.zeros((28, 28), np.float32)
    image[4:24, 9:12] = 1.0  # 3 wide, 20 tall, left of centre
    wide = np.zeros((28, 28), np.float32)
    wide[10:16, 2:26] = 1.0  # 24 wide, 6 tall: stretched down, not across
    X = np.stack([image.ravel(), wide.ravel(), np.zeros(784, np.float32)])
    boxes = augment.ink_boxes(X, (28, 28), 0.0)
    np.testing.assert_allclose(boxes, [[1, 20 / 3, 0, 10 - 13.5], [4, 1, 12.5 - 13.5, 0], [1, 1, 0, 0]])
    draw = augment.draw(Config(stretch_to_box=1.0), np.random.default_rng(0), 3, (28, 28), boxes=boxes)
    out = np.empty((3, 784), np.float32)
    kernels.gather(X, np.arange(3), 0, draw.shifts, draw.warps, draw.fields, 28, 28, np.float32(0),
                   np.empty(31 * 31, np.float32), out)
    for o, (r0, r1, c0, c1) in zip(out[:2], [(4, 23, 4, 23), (2, 25, 2, 25)]):
        ink = o.reshape(28, 28) > 0.5
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        assert (rows[0], rows[-1], cols[0], cols[-1]) == (r0, r1, c0, c1)
    np.testing.assert_array_equal(out[2], 0)
    # a whole-pixel shift moves a stretched image as far as any other: the 1 stretched 20/3 times, moved 1 pixel
    shifted = augment.draw(Config(stretch_to_box=1.0, augment=1), np.random.default_rng(4), 3, (28, 28), boxes=boxes)
    kernels.gather(X, np.arange(3), 0, shifted.shifts, shifted.warps, shifted.fields, 28, 28, np.float32(0),
                   np.empty(31 * 31, np.float32), out)
    moves = np.random.default_rng(4).integers(-1, 2, size=(3, 2))  # the draw's shifts (down, right)
    ink = out[0].reshape(28, 28) > 0.5
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert (rows[0], cols[0]) == (4 + moves[0, 0], 4 + moves[0, 1]) and (rows[-1], cols[-1]) == (23 + moves[0, 0], 23 + moves[0, 1])
    # the share chosen is the setting's; none are without boxes
    half = augment.draw(Config(stretch_to_box=0.5), np.random.default_rng(1), 2000, (28, 28),
                        boxes=np.tile([1.0, 2.0, 0.0, 0.0], (2000, 1)))
    assert 0.45 < np.mean(half.warps[:, augment.M_CC] == 0.5) < 0.55
    with pytest.raises(ValueError, match="stretch_to_box needs the 3 images' ink boxes"):
        augment.draw(Config(stretch_to_box=0.5), np.random.default_rng(1), 3, (28, 28))


def test_identity_warp_copies_the_image_exactly(rng):
    image = rng.standard_normal((5, 6))
    np.testing.assert_array_equal(warp_one(image), image)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_same_seed_gives_the_same_model_bit_for_bit(train_split, dtype):
    X, y = train_split
    config = Config(epochs=2, dtype=dtype, stretch_to_box=0.3, **ALL)
    a, _ = fit(X, y, config, np.random.default_rng(1), image_shape=(8, 8))
    b, _ = fit(X, y, config, np.random.default_rng(1), image_shape=(8, 8))
    c, _ = fit(X, y, config, np.random.default_rng(2), image_shape=(8, 8))
    plain, _ = fit(X, y, Config(epochs=2, dtype=dtype), np.random.default_rng(1), image_shape=(8, 8))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["W1"], c["W1"]) and not np.array_equal(a["W1"], plain["W1"])


def test_the_data_set_is_neither_changed_nor_copied(rng):
    n, shape = 3000, (28, 28)
    X = rng.uniform(-0.5, 3, size=(n, 784)).astype(np.float32)
    X.flags.writeable = False  # a write would raise
    before = X.copy()
    y = rng.integers(0, 10, n)
    run = Run(784, 10, Config(batch_size=128, n_hidden=16, **{**ALL, "elastic_sigma": 4.0}), np.random.default_rng(0),
              image_shape=shape)
    Y = run.targets(y)
    run.epoch(X, Y, y)  # compiled once, buffers made
    tracemalloc.start()
    try:
        run.epoch(X, Y, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(X, before)
    assert peak < X.nbytes / 2  # the epoch's draws and fields (3.6 MB), no copy of X (9.4 MB)


@pytest.mark.parametrize("overrides", [ALL, {**ALL, "augment": 1, "dropout": 0.2, "input_noise": 0.1},
                                       {**ALL, "stretch_to_box": 0.5}])
def test_warped_fused_equals_plain(train_split, overrides):
    X, y = train_split
    config = Config(epochs=2, dtype="float64", **overrides)
    fused, _ = fit(X, y, config, np.random.default_rng(5), image_shape=(8, 8))
    plain, _ = fit(X, y, config, np.random.default_rng(5), image_shape=(8, 8), plain=True)
    for name in plain:
        np.testing.assert_allclose(fused[name], plain[name], rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["augment", "rotation", "shear", "zoom", "stroke", "stretch_to_box", "elastic_alpha"])
def test_augmentation_needs_images(train_split, name):
    X, y = train_split
    with pytest.raises(ConfigError, match="move images: they need inputs that are images"):
        fit(X, y, Config(epochs=1, **{name: 0.5 if name == "zoom" else 1}), np.random.default_rng(0))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"rotation": -1.0}, "rotation must be 0..180 degrees; got -1.0"),
        ({"shear": 61.0}, "shear must be 0..60 degrees; got 61.0"),
        ({"zoom": 1.0}, "zoom must be in [0, 1); got 1.0"),
        ({"stroke": 1.5}, "stroke must be in [0, 1]; got 1.5"),
        ({"stretch_to_box": 1.5}, "stretch_to_box must be in [0, 1]; got 1.5"),
        ({"elastic_alpha": float("inf")}, "elastic_alpha must be a number >= 0; got inf"),
        ({"elastic_alpha": float("nan")}, "elastic_alpha must be a number >= 0; got nan"),
        ({"elastic_sigma": 0.0}, "elastic_sigma must be in (0, 100] pixels; got 0.0"),
        ({"elastic_sigma": "4"}, "elastic_sigma must be a float; got '4' (str)"),
    ],
)
def test_bad_augmentation_settings_name_the_value(overrides, message):
    with pytest.raises(ConfigError) as e:
        Config(**overrides)
    assert str(e.value) == message


def test_the_post_recipes_augment_nothing():
    for recipe in ("blog", "blog-exact", "modern", "mnist"):
        config = Config.from_recipe(recipe)
        assert not augment.warping(config)
    # the post's per-sample rule trains on the images as they are: asking it for more is one line, not ignored
    for name, value in (("rotation", 5.0), ("augment", 1), ("stretch_to_box", 0.5), ("l2", 1e-4), ("input_noise", 0.1),
                        ("distill", 0.5)):
        with pytest.raises(ConfigError, match=f"gradient 'blog'.* set {name} to 0( \\(no teacher\\))?, or use gradient 'exact'"):
            dataclasses.replace(Config.from_recipe("blog"), **{name: value})
    assert dataclasses.replace(Config.from_recipe("blog-exact"), rotation=5.0).rotation == 5.0


@pytest.fixture(scope="module")
def train_split():
    data = digitnet.load_digits()
    X = (data.X[:600] - 4.9) / 6.0
    return X, data.y[:600]


def test_the_cli_sets_them(tmp_path):
    from typer.testing import CliRunner

    from digitnet.cli import app

    out = tmp_path / "m.safetensors"
    args = ["train", "--epochs", "1", "--quiet", "--out", str(out), "--set", "rotation=10", "--set", "shear=5",
            "--set", "zoom=0.1", "--set", "stroke=0.3", "--set", "elastic_alpha=2", "--set", "elastic_sigma=1.5"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    config = digitnet.load(out).config
    assert (config.rotation, config.shear, config.zoom, config.stroke, config.elastic_alpha, config.elastic_sigma) == \
        (10.0, 5.0, 0.1, 0.3, 2.0, 1.5)
    r = CliRunner().invoke(app, ["train", "--epochs", "1", "--out", str(tmp_path / "n.safetensors"),
                                 "--set", "elastic_sigma=0"])
    assert r.exit_code == 2 and "elastic_sigma must be in (0, 100] pixels; got 0.0" in r.stderr
