"""One code path for any inputs and classes: 28x28 images of 0..255, plain features of any sign, 3 classes."""

import io
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import digitnet
from digitnet import DataError, Dataset, Inputs
from digitnet.cli import app

SRC = Path(digitnet.__file__).parent


@pytest.fixture(scope="module")
def big_digits(digits):
    """The embedded digits as 28x28 images of 0..255 (each pixel a 3x3 block, a 2-pixel border), 10 classes."""
    images = np.kron(digits.X.reshape(-1, 8, 8), np.ones((3, 3))) * (255 / 16)
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return Dataset(images.reshape(-1, 28 * 28).round(), digits.y, inputs=Inputs(784, (28, 28), (0, 255)), n_classes=10)


@pytest.fixture(scope="module")
def blobs():
    """Three Gaussian clouds in 5 dimensions, centred far from 0 (negative values included): labels 0..2."""
    rng = np.random.default_rng(7)
    centres = np.array([[-40.0, 3, 0, 1, 2], [-38.0, -3, 1, 0, 2], [-40.0, 0, -3, 2, 0]])
    y = rng.integers(0, 3, 600)
    return Dataset(centres[y] + rng.normal(0, 1.0, (600, 5)), y)


def test_28x28_images_train_save_load_predict(big_digits, tmp_path):
    model = digitnet.train(big_digits, digitnet.Config.from_recipe("modern", epochs=8, patience=None, seed=0))
    assert model.n_inputs == 784 and model.n_classes == 10 and model.metrics["accuracy"] > 0.93
    path = digitnet.save(model, tmp_path / "m.safetensors")
    loaded = digitnet.load(path)
    assert loaded.inputs == Inputs(784, (28, 28), (0.0, 255.0))
    X = big_digits.X[model.test_indices]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(DataError, match="pixels must lie in 0..255; row 0"):
        loaded.predict(np.full((1, 784), 256.0))
    with pytest.raises(DataError, match="expected 784 pixel columns"):
        loaded.predict(np.zeros((1, 64)))


def test_three_classes_of_plain_features(blobs, tmp_path):
    assert blobs.inputs == Inputs(5) and blobs.n_classes == 3
    model = digitnet.train(blobs, digitnet.Config.from_recipe("modern", epochs=10, patience=None, seed=1))
    assert model.n_classes == 3 and model.metrics["accuracy"] > 0.95
    loaded = digitnet.load(digitnet.save(model, tmp_path / "m.safetensors"))
    assert loaded.inputs.value_range is None and loaded.inputs.image_shape is None
    P = loaded.predict_proba(np.array([[-40.0, 3, 0, 1, 2], [1e6, -1e6, 0, 0, 0]]))  # any finite values
    assert P.shape == (2, 3) and P[0].argmax() == 0 and np.allclose(P.sum(axis=1), 1)
    with pytest.raises(DataError, match="values must be finite numbers; row 1"):
        loaded.predict(np.array([[0.0] * 5, [np.inf] + [0.0] * 4]))
    scores = loaded.evaluate(blobs.X[:50], blobs.y[:50])
    assert scores.confusion.shape == (4, 4) and scores.labels == [-1, 0, 1, 2]


def test_the_command_line_serves_a_plain_features_model(blobs, tmp_path):
    model = digitnet.train(blobs, digitnet.Config.from_recipe("modern", epochs=5, patience=None))
    path = digitnet.save(model, tmp_path / "m.safetensors")
    r = CliRunner().invoke(app, ["predict", str(path), "--pixels", "-40,3,0,1,2", "--json"])
    assert r.exit_code == 0, r.stderr
    assert len(r.stdout.split('"probabilities"')) == 2 and '"likeliest": 0' in r.stdout
    r = CliRunner().invoke(app, ["plot", "weights", str(path), "--out", str(tmp_path / "w.png")])
    assert r.exit_code == 2 and "inputs are plain features" in r.stderr
    r = CliRunner().invoke(app, ["evaluate", str(path)])
    assert r.exit_code == 2 and "does not record where its training data came from; pass --data FILE" in r.stderr


def test_report_of_28x28_and_plain_models(big_digits, blobs):
    from digitnet import report

    small = digitnet.train(big_digits, digitnet.Config.from_recipe("modern", epochs=2, patience=None))
    X, y = big_digits.X[small.test_indices][:60], big_digits.y[small.test_indices][:60]
    page = report.build(small, X, y, "test rows")
    assert 'id="weights"' in page and "784 pixels 0..255 (28x28 images)" in page
    plain = digitnet.train(blobs, digitnet.Config.from_recipe("modern", epochs=2, patience=None))
    page = report.build(plain, blobs.X[:60], blobs.y[:60], "the blobs")
    assert 'id="weights"' not in page and 'id="confusion"' in page and "3 softmax outputs" in page


def test_labels_are_the_callers_to_encode():
    with pytest.raises(DataError, match="labels must be integers"):
        Dataset(np.zeros((2, 3)), np.array(["cat", "dog"]))
    with pytest.raises(DataError, match="labels must be integers 0..2"):
        Dataset(np.zeros((2, 3)), np.array([0, 3]), n_classes=3)


# the only places allowed to name the embedded digits' sizes: data/dataset.py describes them
SIZES = {"8", "10", "16", "64"}


def test_no_digit_sizes_outside_the_description_of_the_embedded_digits():
    """No literal 8, 10, 16 or 64 in the package's code (comments and docstrings aside), except in data/dataset.py and preprocess.py
    and as the value of a named setting (``batch_size: int = 64``, ``SMALL_BATCH = 8``, ``fontsize=8``)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        # the embedded digits' description; how they were made (the drawing recipe); the post's code as written
        if path.relative_to(SRC).as_posix() in ("data/dataset.py", "preprocess.py", "literal_blog.py"):
            continue
        text = path.read_text()
        lines = text.splitlines()
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NUMBER and tok.string in SIZES:
                line = lines[tok.start[0] - 1]
                # a named value: `name: type = N`, a keyword `name=N`, or a figure's size in inches
                named = re.search(rf"(\b\w+(: .+)? = {tok.string}|\b\w+={tok.string})\b|figsize=\(", line)
                if not named:
                    found.append(f"{path.name}:{tok.start[0]}: {line.strip()}")
    assert found == []
