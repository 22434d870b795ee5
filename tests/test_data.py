import dataclasses

import numpy as np
import pytest

import digitnet
from digitnet import DataError, Dataset
from digitnet.data import OPTDIGITS, fit_scaling, load_csv, read_csv, split

from conftest import write_csv


def test_embedded_digits(digits):
    assert digits.X.shape == (1797, 64) and digits.y.shape == (1797,)
    assert digits.X.min() == 0 and digits.X.max() == 16
    assert np.bincount(digits.y).min() >= 170


@pytest.mark.parametrize("header", [False, True])
def test_csv_round_trip(tmp_path, digits, header):
    path = write_csv(tmp_path / "d.csv", digits.X[:20], digits.y[:20], header=header)
    X, y = read_csv(path)
    np.testing.assert_array_equal(X, digits.X[:20])
    np.testing.assert_array_equal(y, digits.y[:20])
    data = load_csv(path)
    assert data.source["kind"] == "csv" and len(data.source["sha256"]) == 64


def test_csv_without_labels(tmp_path, digits):
    path = write_csv(tmp_path / "p.csv", digits.X[:3])
    X, y = read_csv(path, labels=None)
    assert X.shape == (3, 64) and y is None
    with pytest.raises(DataError, match="expected 65 columns"):
        read_csv(path, labels=True)


def _line(cells):
    return ",".join(str(c) for c in cells)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "no data rows"),
        ("\n\n", "no data rows"),
        (_line([0] * 64 + [1]) + "\n" + _line([0] * 10), "line 2: expected 65 columns"),
        (_line([0] * 63 + ["x", 1]), "line 1, column 64: 'x' is not a number"),
        (_line([0] * 64 + [1]) + "\n" + _line([0] * 63 + ["nan", 1]), "line 2, column 64: 'nan' is not a finite number"),
        (_line([0] * 63 + ["inf", 1]), "'inf' is not a finite number"),
        (_line([17] + [0] * 63 + [1]), "line 1, column 1: pixel 17 is outside 0..16"),
        (_line([-1] + [0] * 63 + [1]), "pixel -1 is outside 0..16"),
        (_line([0] * 64 + [10]), "column 65: label 10 is not an integer 0..9"),
        (_line([0] * 64 + [2.5]), "label 2.5 is not an integer 0..9"),
    ],
)
def test_bad_csv_names_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError) as e:
        read_csv(path)
    assert message in str(e.value) and str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_csv(tmp_path)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(DataError, match="cannot read as CSV text|not a number|expected 65"):
        read_csv(binary)


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.zeros((3, 10)), np.zeros(3), "expected 64 pixel columns (8x8 images), got shape (3, 10)"),
        (np.full((2, 64), np.nan), np.zeros(2), "row 0 has NaN or inf"),
        (np.full((2, 64), 20.0), np.zeros(2), "pixels must lie in 0..16"),
        (np.zeros((2, 64)), np.array([0, 12]), "labels must be integers 0..9"),
        (np.zeros((2, 64)), np.zeros(3), "expected 2 labels"),
    ],
)
def test_dataset_validates_arrays(X, y, message):
    with pytest.raises(DataError) as e:
        Dataset(X, y, inputs=OPTDIGITS, n_classes=10)
    assert message in str(e.value)


def test_stratified_split_keeps_class_shares(digits):
    train, test = split(digits.y, 0.25, 0, stratify=True)
    assert len(test) == 450 and len(np.intersect1d(train, test)) == 0
    shares = np.bincount(digits.y[test]) / np.bincount(digits.y)
    assert shares.min() > 0.24 and shares.max() < 0.26


@pytest.mark.parametrize("stratify", [True, False])
@pytest.mark.parametrize("test_size", [0.25, 0.1, 0.3])
def test_split_is_train_test_split(digits, stratify, test_size):
    from sklearn.model_selection import train_test_split

    for seed in (0, 7):
        expected = train_test_split(np.arange(len(digits.y)), test_size=test_size, random_state=seed,
                                    stratify=digits.y if stratify else None)
        for got, want in zip(split(digits.y, test_size, seed, stratify=stratify), expected):
            np.testing.assert_array_equal(got, want)


def test_standard_scaling_uses_the_training_statistics(digits):
    s = fit_scaling(digits.X[:100], "standard")
    scaled = s.apply(digits.X[:100])
    assert scaled.mean() == pytest.approx(0, abs=1e-12) and scaled.std() == pytest.approx(1)


def test_constant_data_cannot_be_scaled():
    with pytest.raises(DataError, match="same value"):
        fit_scaling(np.zeros((5, 64)), "standard")


def test_scaling_of_ordinary_data_is_numpys_mean_and_std_exactly(digits):
    X = digits.X[:300].astype(np.float32)
    s = fit_scaling(X, "standard")
    assert s.offset[0] == X.mean(dtype=np.float64) and s.scale[0] == np.sqrt(np.var(X, dtype=np.float64))
    assert fit_scaling(X, "blog").scale[0] == np.var(X, dtype=np.float64)


@pytest.mark.parametrize("factor", [1e200, 1e300, 1e-300, 1e-305])
def test_features_of_any_finite_size_are_scaled_and_learnt(digits, tmp_path, factor):
    """Features of 1e200 overflowed the sum of squares (an infinite scale, 10% accuracy, a file load refused),
    and of 1e-300 underflowed it ("every pixel has the same value"): now scaled as the digits are (issue 19, item 20)."""
    data = Dataset(digits.X * factor, digits.y)  # plain features: any finite values
    s = fit_scaling(data.X, "standard")
    reference = fit_scaling(digits.X, "standard")
    np.testing.assert_allclose([s.offset[0] / factor, s.scale[0] / factor], [reference.offset[0], reference.scale[0]],
                               rtol=1e-12)
    model = digitnet.train(data, digitnet.Config.from_recipe("modern", epochs=8))
    assert model.metrics["accuracy"] > 0.95
    loaded = digitnet.load(digitnet.save(model, tmp_path / "m.safetensors"))
    test = model.test_indices
    assert np.mean(loaded.predict(data.X[test]) == data.y[test]) == model.metrics["accuracy"]
    assert np.mean(loaded.predict(data.X[test[:5]]) == data.y[test[:5]]) > 0.5  # the few-rows path too


@pytest.mark.parametrize("factor, problem", [(1e200, "overflows"), (1e-300, "underflows")])
def test_the_posts_scaling_by_the_variance_says_when_it_cannot(digits, factor, problem):
    with pytest.raises(DataError, match=f"the post's scaling divides by the variance of the inputs, which {problem} "
                                        "float64"):
        fit_scaling(digits.X * factor, "blog")


def test_a_model_reads_its_recorded_csv_again_only_as_recorded(tmp_path, digits, monkeypatch):
    """The data path in a model file is untrusted: it is read again only as a regular file of the recorded
    size and SHA-256, hashed as it is read (issue 19, item 3)."""
    from digitnet import files
    from digitnet.data import held_out
    from digitnet.errors import NoTestDataError

    path = write_csv(tmp_path / "d.csv", digits.X[:300], digits.y[:300])
    model = digitnet.train(digitnet.load_csv(path), digitnet.Config.from_recipe("modern", epochs=2))
    assert model.data_source["size"] == path.stat().st_size
    X, y, where = held_out(model)
    assert len(y) == 75 and where.startswith("held-out test split of")
    text = path.read_bytes()
    path.write_bytes(text.replace(b"\n0,", b"\n1,", 1))  # the same size, another content: hashed, never parsed
    with monkeypatch.context() as patch:
        patch.setattr(np, "loadtxt", lambda *args, **kwargs: pytest.fail("parsed a file that is not the recorded one"))
        with pytest.raises(NoTestDataError, match="d.csv: has changed since \\(its SHA-256 is not the one recorded\\)"):
            held_out(model)
    path.write_bytes(text + b"0" * 10)
    with pytest.raises(NoTestDataError, match=f"has {len(text) + 10:,} bytes, not the {len(text):,} recorded"):
        held_out(model)
    # a model file of an older digitnet records no size: its data are read up to a bound, never further
    old = dataclasses.replace(model, data_source={k: v for k, v in model.data_source.items() if k != "size"})
    path.write_bytes(text)
    assert len(held_out(old)[1]) == 75
    monkeypatch.setattr(files, "UNRECORDED_LIMIT", len(text) - 1)
    with pytest.raises(NoTestDataError, match=f"has {len(text):,} bytes, more than the {len(text) - 1:,} allowed"):
        held_out(old)


def test_scoring_data_of_one_class_is_allowed_where_training_data_is_not(tmp_path, digits, small_model):
    from digitnet.data import held_out

    sevens = digits.y == 7
    path = write_csv(tmp_path / "sevens.csv", digits.X[sevens], digits.y[sevens])
    with pytest.raises(DataError, match="need samples of at least 2 classes; all 179 are of class 7"):
        digitnet.load_csv(path)
    X, y, _ = held_out(small_model, str(path))  # evaluate --data: a model can be scored on its sevens alone
    assert len(y) == 179 and set(y.tolist()) == {7}
