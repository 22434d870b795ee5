"""Deskewing (Config.deskew): the shear by second moments, and a model that applies it everywhere it reads inputs."""

import json

import numpy as np
import pytest
from scipy.ndimage import map_coordinates
from safetensors import safe_open
from typer.testing import CliRunner

import digitnet
from digitnet.cli import app
from digitnet.deskew import deskew
from digitnet.errors import DataError
from digitnet.explain import explain

from conftest import rewrite_model


def reference(images: np.ndarray, h: int, w: int) -> np.ndarray:
    """The module's formulas, one image at a time, with SciPy's bilinear reading (paper 0 outside)."""
    out = []
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    for image in images.reshape(-1, h, w).astype(np.float64):
        mass = image.sum()
        my, mx = (image * rows).sum() / mass, (image * cols).sum() / mass
        var_r = (image * (rows - my) ** 2).sum() / mass
        s = (image * (rows - my) * (cols - mx)).sum() / mass / var_r
        cy, cx = (h - 1) / 2, (w - 1) / 2
        out.append(map_coordinates(image, [rows + my - cy, cols + mx - cx + s * (rows - cy)], order=1,
                                   mode="grid-constant", cval=0.0).ravel())
    return np.array(out)


def slanted_stroke(h: int = 28, w: int = 28, slope: float = 0.5, top: int = 4, column: float = 10.0) -> np.ndarray:
    """A vertical bar of ink leaning right by ``slope`` columns per row upward, as a row of an image."""
    image = np.zeros((h, w))
    for r in range(top, h - top):
        c = column + slope * (h - top - r)
        c0 = int(np.floor(c))
        image[r, c0:c0 + 3] = 200.0
    return image.ravel()


def moments(x: np.ndarray, h: int, w: int) -> tuple[float, float, float]:
    """(centre row, centre column, covariance of row and column) of the ink in x (h * w,)."""
    rows, cols = np.mgrid[0:h, 0:w]
    image = x.reshape(h, w)
    m = image.sum()
    my, mx = (image * rows).sum() / m, (image * cols).sum() / m
    return my, mx, (image * (rows - my) * (cols - mx)).sum() / m


@pytest.mark.parametrize("shape", [(28, 28), (8, 8), (16, 12)])
def test_deskew_is_the_formulas_read_bilinearly(shape):
    h, w = shape
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (40, h * w)) * (rng.random((40, h * w)) < 0.3)
    assert np.abs(deskew(X, shape) - reference(X, h, w)).max() < 1e-9


def test_deskewed_pixels_stay_within_the_images_range():
    """Bilinear weights sum to 1 only up to rounding: 255.00000000000003 would be refused by an 0..255 model."""
    rng = np.random.default_rng(3)
    X = (rng.random((3000, 784)) < 0.3) * 255
    out = deskew(X, (28, 28))
    assert out.min() >= 0 and out.max() <= 255


def test_a_slanted_stroke_comes_out_upright_and_centred():
    x = slanted_stroke()
    my, mx, cov = moments(x, 28, 28)
    assert abs(cov) > 10  # leaning: rows and columns vary together
    my2, mx2, cov2 = moments(deskew(x[None], (28, 28))[0], 28, 28)
    assert abs(cov2) < 0.05 * abs(cov) and abs(my2 - 13.5) < 0.05 and abs(mx2 - 13.5) < 0.3


def test_a_rows_deskewing_does_not_depend_on_its_batch():
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, (300, 784)).astype(np.uint8) * (rng.random((300, 784)) < 0.2)
    whole = deskew(X, (28, 28))
    assert all(np.array_equal(whole[i], deskew(X[i:i + 1], (28, 28))[0]) for i in (0, 17, 299))
    assert np.array_equal(whole[100:140], deskew(X[100:140], (28, 28)))


def test_blank_images_and_ink_in_one_row_are_not_sheared():
    X = np.zeros((2, 64))
    X[1, 3 * 8 + 2: 3 * 8 + 6] = 16.0  # a bar in row 3: no slant to measure
    out = deskew(X, (8, 8))
    assert np.array_equal(out[0], X[0])
    # moved to the centre rows (3.5: half in row 3, half in row 4), never sheared: every column as wide as before
    image = out[1].reshape(8, 8)
    assert np.allclose(image.sum(axis=0)[2:6], 16.0) and np.allclose(image[3] + image[4], X[1].reshape(8, 8)[3])


def test_a_deskewing_model_reads_its_inputs_deskewed_everywhere(digits, tmp_path):
    config = digitnet.Config.from_recipe("modern", epochs=6, deskew=True)
    model = digitnet.train(digits, config)
    X = digits.X[:200]
    straight = deskew(X, (8, 8))
    plain = digitnet.Model(model.params, digitnet.Config.from_recipe("modern", epochs=6), model.scaling,
                           model.history, model.test_indices, model.data_source, model.inputs,
                           temperature=model.temperature)
    assert np.allclose(model.predict_proba(X), plain.predict_proba(straight), atol=1e-6)
    assert not np.allclose(model.predict_proba(X), plain.predict_proba(X), atol=1e-3)
    # the file keeps it
    back = digitnet.load(digitnet.save(model, tmp_path / "m.safetensors"))
    assert back.config.deskew and np.array_equal(back.predict_proba(X), model.predict_proba(X))
    # calibration fits the temperature on the logits of what the network reads
    from digitnet.calibration import logits

    z = logits(model, X) / model.temperature
    P = np.exp(z - z.max(axis=1, keepdims=True))
    assert np.allclose(P / P.sum(axis=1, keepdims=True), model.predict_proba(X), atol=1e-5)
    # explain reads what the network reads
    explanation = explain(model, X[5])
    assert np.allclose(explanation.input, straight[5])
    assert np.allclose(explanation.probabilities, model.predict_proba(X[5:6])[0], atol=1e-5)


def test_a_deskewing_model_is_as_good_on_the_embedded_digits(digits):
    """Not a tuning claim (MNIST's is in benchmarks/TUNING_MNIST.md): deskewing loses nothing on the 8x8 digits."""
    with_ = digitnet.train(digits, digitnet.Config.from_recipe("modern", epochs=16, deskew=True))
    without = digitnet.train(digits, digitnet.Config.from_recipe("modern", epochs=16))
    assert with_.metrics["accuracy"] >= without.metrics["accuracy"] - 0.01


def test_deskew_needs_images_of_ink(tmp_path):
    rng = np.random.default_rng(0)
    features = digitnet.Dataset(rng.normal(size=(60, 5)), np.arange(60) % 3, {"kind": "arrays"},
                                digitnet.data.Inputs(5), 3)
    with pytest.raises(DataError, match="deskew straightens images, and these rows are 5 plain values, not an image"):
        digitnet.train(features, digitnet.Config(epochs=1, deskew=True))
    negative = digitnet.Dataset(rng.normal(size=(60, 16)), np.arange(60) % 3, {"kind": "arrays"},
                                digitnet.data.Inputs(16, (4, 4)), 3)
    with pytest.raises(DataError, match=r"must be >= 0 \(paper 0\); these data go down to -"):
        digitnet.train(negative, digitnet.Config(epochs=1, deskew=True))
    huge = digitnet.Dataset(np.abs(negative.X) * 1e300, negative.y, {"kind": "arrays"}, negative.inputs, 3)
    with pytest.raises(DataError, match=r"deskew: pixels up to .*e\+300 leave float32's range once deskewed"):
        digitnet.train(huge, digitnet.Config(epochs=1, deskew=True))


def test_a_deskewing_model_refuses_bad_pixels_in_one_line(digits):
    model = digitnet.train(digits, digitnet.Config.from_recipe("modern", epochs=2, deskew=True))
    X = digits.X[:3].astype(np.float64)
    X[1, 5] = np.nan
    with pytest.raises(DataError, match="row 1"):
        model.predict_proba(X)
    X[1, 5] = 17
    with pytest.raises(DataError, match="row 1"):
        model.predict_proba(X)


def test_the_cli_trains_a_deskewing_model(tmp_path):
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(app, ["train", "--set", "deskew=true", "--set", "epochs=2", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    assert digitnet.load(out).config.deskew
    r = CliRunner().invoke(app, ["train", "--set", "deskew=maybe", "--out", str(tmp_path / "n.safetensors")])
    assert r.exit_code == 2 and r.stderr == "error: deskew must be true or false; got 'maybe'\n"
    assert not (tmp_path / "n.safetensors").exists()


def test_a_file_that_deskews_plain_features_is_refused(model_file, tmp_path):
    info = json.loads(safe_open(str(model_file), "numpy").metadata()["digitnet"])
    config = {**info["config"], "deskew": True}
    for name, architecture in (("plain", {**info["architecture"], "image_shape": None}),
                               ("negative", {**info["architecture"], "value_range": [-1.0, 16.0]})):
        path = rewrite_model(model_file, tmp_path / f"{name}.safetensors",
                             metadata={"config": config, "architecture": architecture})
        r = CliRunner().invoke(app, ["evaluate", str(path)])
        assert r.exit_code == 2 and "config.deskew straightens images of pixels >= 0" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1
    ok = rewrite_model(model_file, tmp_path / "ok.safetensors", metadata={"config": config})
    assert digitnet.load(ok).config.deskew


def test_the_estimator_deskews_in_fit_and_partial_fit(digits):
    est = digitnet.DigitNetClassifier(epochs=4, deskew=True).fit(digits.X, digits.y)
    assert est.model_.config.deskew
    P = est.predict_proba(digits.X[:50])
    assert np.allclose(P, est.model_.predict_proba(digits.X[:50]))
    fresh = digitnet.DigitNetClassifier(epochs=4, deskew=True)
    for _ in range(4):
        fresh.partial_fit(digits.X, digits.y, classes=np.arange(10))
    assert fresh.model_.config.deskew and fresh.score(digits.X, digits.y) > 0.9
    # its scaling was fitted on the deskewed images, as fit's is
    from digitnet.data import fit_scaling

    expected = fit_scaling(deskew(digits.X, (8, 8), np.float32), "standard")
    assert np.allclose(fresh.model_.scaling.offset, expected.offset) and np.allclose(fresh.model_.scaling.scale, expected.scale)
