"""Temperature scaling: fitted on held-out data, folded into the output layer, saved in the model file, used
by every path that computes probabilities; ECE and log loss reported by evaluate and the report."""

import dataclasses
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import digitnet
from digitnet import Config
from digitnet.calibration import MAX_TEMPERATURE, MIN_TEMPERATURE, fit_temperature, nll
from digitnet.cli import app
from digitnet.explain import explain
from digitnet.metrics import calibration, log_loss

from conftest import rewrite_model


@pytest.fixture(scope="module")
def calibrated():
    """modern on the embedded digits, seed 0, with 10% of the training split held out for the temperature."""
    return digitnet.train(config=Config.from_recipe("modern", calibration_fraction=0.1, seed=0))


def test_fit_temperature_finds_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, size=(20_000, 10))
    for T in (0.5, 2.0):
        p = np.exp(z / T - np.max(z / T, axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (p.cumsum(axis=1) > rng.random((len(z), 1))).argmax(axis=1)  # labels drawn from softmax(z / T)
        assert fit_temperature(z, y) == pytest.approx(T, rel=0.03)
        assert nll(z, y, fit_temperature(z, y)) < min(nll(z, y, 0.9 * T), nll(z, y, 1.1 * T))


def test_fit_temperature_stays_in_its_bounds_and_refuses_nan():
    z = np.array([[5.0, 0.0], [0.0, 5.0]])
    assert fit_temperature(z, np.array([0, 1])) == pytest.approx(MIN_TEMPERATURE, rel=1e-3)  # always right: sharpest
    assert fit_temperature(z, np.array([1, 0])) == pytest.approx(MAX_TEMPERATURE, rel=1e-3)  # always wrong: flattest
    with pytest.raises(ValueError, match="finite logits"):
        fit_temperature(np.array([[np.nan, 0.0]]), np.array([0]))


def test_calibration_lowers_the_error_on_held_out_data_it_was_not_fitted_on(calibrated):
    data = digitnet.load_digits()
    X, y = data.X[calibrated.test_indices], data.y[calibrated.test_indices]  # the test split: not the calibration split
    raw = dataclasses.replace(calibrated, temperature=1.0)  # the same weights, uncalibrated
    P, P_raw = calibrated.predict_proba(X), raw.predict_proba(X)
    assert 0.2 < calibrated.temperature < 0.5  # label smoothing 0.2 makes modern underconfident: T sharpens
    np.testing.assert_array_equal(P.argmax(axis=1), P_raw.argmax(axis=1))  # the same answers
    ece, ece_raw = calibration(P, y)[3], calibration(P_raw, y)[3]
    assert ece < 0.03 and ece_raw > 0.1  # measured 0.012 against 0.171
    assert log_loss(P, y) < 0.6 * log_loss(P_raw, y)  # measured 0.049 against 0.25


def test_the_temperature_is_folded_into_every_path(calibrated, digits):
    from digitnet import network

    X = digits.X[:20]
    params = {k: w.astype(np.float64) for k, w in calibrated.params.items()}
    _, cache = network.forward(params, calibrated.scaling.apply(X))
    expected = network.softmax(cache.z2 / calibrated.temperature)
    np.testing.assert_allclose(calibrated.predict_proba(X), expected, rtol=1e-4, atol=1e-6)  # few rows: compiled
    np.testing.assert_allclose(calibrated.predict_proba(np.repeat(X, 50, 0))[::50], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(explain(calibrated, X[3]).probabilities, expected[3], rtol=1e-9, atol=1e-12)


def test_the_temperature_round_trips_and_old_files_load_with_one(calibrated, tmp_path, model_file):
    path = digitnet.save(calibrated, tmp_path / "c.safetensors")
    back = digitnet.load(path)
    assert back.temperature == calibrated.temperature != 1.0
    np.testing.assert_array_equal(back.predict_proba(digitnet.load_digits().X[:5]),
                                  calibrated.predict_proba(digitnet.load_digits().X[:5]))
    old = _without_temperature(model_file, tmp_path / "old.safetensors")
    meta = _metadata(old)
    assert "temperature" not in meta and meta["format_version"] == 3
    assert digitnet.load(old).temperature == 1.0


@pytest.mark.parametrize("value, message", [
    (float("nan"), "temperature: Input should be a finite number"),
    (0.0, "temperature: Input should be greater than or equal to 0.01"),
    (-1.0, "temperature: Input should be greater than or equal to 0.01"),
    (1e300, "temperature: Input should be less than or equal to 100"),
    ("2", "temperature: Input should be a valid number"),
])
def test_a_crafted_temperature_is_refused_in_one_line(calibrated, tmp_path, value, message):
    path = digitnet.save(calibrated, tmp_path / "c.safetensors")
    bad = rewrite_model(path, tmp_path / "bad.safetensors", metadata={"temperature": value})
    with pytest.raises(digitnet.ModelFileError) as e:
        digitnet.load(bad)
    assert str(e.value) == f"{bad}: corrupted or inconsistent model file: {message}"
    r = CliRunner().invoke(app, ["evaluate", str(bad)])
    assert r.exit_code == 2 and r.stderr.strip().splitlines() == [f"error: {e.value}"] and not r.stdout


def test_a_model_with_a_bad_temperature_is_not_saved(calibrated, tmp_path):
    with pytest.raises(digitnet.ModelFileError, match="refusing to save: the softmax temperature nan"):
        digitnet.save(dataclasses.replace(calibrated, temperature=float("nan")), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_evaluate_reports_the_calibration_error(calibrated, tmp_path):
    path = digitnet.save(calibrated, tmp_path / "c.safetensors")
    r = CliRunner().invoke(app, ["evaluate", str(path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    data = digitnet.load_digits()
    P = calibrated.predict_proba(data.X[calibrated.test_indices])
    y = data.y[calibrated.test_indices]
    assert out["ece"] == pytest.approx(calibration(P, y)[3]) and out["ece_bins"] == 10
    assert out["log_loss"] == pytest.approx(log_loss(P, y)) and out["temperature"] == calibrated.temperature
    text = CliRunner().invoke(app, ["evaluate", str(path)]).stdout
    assert f"calibration error (ECE, 10 bins of the top probability) {out['ece']:.4f}" in text
    assert f"softmax temperature {calibrated.temperature:.4g}" in text


def test_the_report_shows_the_calibration(calibrated):
    from digitnet import report

    data = digitnet.load_digits()
    X, y = data.X[calibrated.test_indices], data.y[calibrated.test_indices]
    page = report.build(calibrated, X, y, "test split")
    ece = calibration(calibrated.predict_proba(X), y)[3]
    assert f"<td>{ece:.4f}</td>" in page and '<section id="reliability">' in page
    assert f"{calibrated.temperature:.4g} (calibrated on held-out training data)" in page


def test_log_loss_is_scikit_learns():
    from sklearn.metrics import log_loss as sk_log_loss

    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=50)
    y = rng.integers(0, 4, 50)
    assert log_loss(P, y) == pytest.approx(sk_log_loss(y, P, labels=range(4)), rel=1e-12)
    assert np.isfinite(log_loss(np.array([[1.0, 0.0]]), np.array([1])))  # a certain mistake: large, not inf
    assert np.isnan(log_loss(np.array([[np.nan, np.nan]]), np.array([1])))


def test_the_posts_recipes_are_not_calibrated():
    for recipe in ("blog", "blog-exact"):
        assert Config.from_recipe(recipe).calibration_fraction == 0.0
    model = digitnet.train(config=Config.from_recipe("blog", epochs=1, tol=None))
    assert model.temperature == 1.0


def test_the_calibration_split_is_held_out_from_training(monkeypatch):
    from digitnet import pipeline

    seen = {}
    real = pipeline.fit

    def spy(X, y, config, rng, **kwargs):
        seen["n"] = len(y)
        return real(X, y, config, rng, **kwargs)

    monkeypatch.setattr(pipeline, "fit", spy)
    model = digitnet.train(config=Config.from_recipe("modern", epochs=1, calibration_fraction=0.2))
    n_train = 1797 - len(model.test_indices)
    assert seen["n"] == n_train - math.ceil(0.2 * n_train) and model.temperature != 1.0  # scikit-learn rounds up


@pytest.mark.parametrize("overrides, message", [
    ({"calibration_fraction": 0.5}, "calibration_fraction must be in [0, 0.5); got 0.5"),
    ({"calibration_fraction": 0.3, "val_fraction": 0.3}, "val_fraction + calibration_fraction must be below 0.5; got 0.6"),
])
def test_bad_calibration_settings(overrides, message):
    with pytest.raises(digitnet.ConfigError) as e:
        Config(**overrides)
    assert str(e.value) == message


def test_the_estimator_calibrates_the_same_way(digits):
    from digitnet import DigitNetClassifier

    est = DigitNetClassifier(epochs=8, calibration_fraction=0.1).fit(digits.X[:1000], digits.y[:1000])
    assert 0.2 < est.model_.temperature < 0.6
    P = est.predict_proba(digits.X[1000:1100])
    assert P.max(axis=1).mean() > 0.9  # sharpened: label smoothing alone keeps the top probability near 0.82
    est.partial_fit(digits.X[:1000], digits.y[:1000])
    assert est.model_.temperature == 1.0  # an epoch of partial_fit has no held-out data to calibrate on


def _metadata(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return json.loads(f.metadata()["digitnet"])


def _without_temperature(source, path):
    """A copy of the model file ``source`` as format 3 wrote it: no temperature, format_version 3, re-signed."""
    from safetensors import safe_open
    from safetensors.numpy import save as st_save

    from digitnet.persistence import _digest

    with safe_open(str(source), framework="numpy") as f:
        meta = json.loads(f.metadata()["digitnet"])
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    del meta["temperature"]
    meta["format_version"] = 3
    meta["sha256"] = _digest(arrays, meta)
    path.write_bytes(st_save(arrays, metadata={"digitnet": json.dumps(meta)}))
    return path


def test_cross_fitting_calibrates_the_same_network_with_no_row_held_out(calibrated):
    plain = digitnet.train(config=Config.from_recipe("modern", seed=0))
    cross = digitnet.train(config=Config.from_recipe("modern", seed=0, calibration_folds=5))
    for name in plain.params:
        np.testing.assert_array_equal(cross.params[name], plain.params[name])  # bit for bit the network of folds 0
    assert cross.config.calibration_folds == 5 and plain.temperature == 1.0 and 0.25 < cross.temperature < 0.5
    data = digitnet.load_digits()
    X, y = data.X[plain.test_indices], data.y[plain.test_indices]
    P, P_raw = cross.predict_proba(X), plain.predict_proba(X)
    assert calibration(P, y)[3] < 0.03 < 0.1 < calibration(P_raw, y)[3]
    assert log_loss(P, y) < 0.5 * log_loss(P_raw, y)
    assert cross.metrics["accuracy"] == plain.metrics["accuracy"] >= calibrated.metrics["accuracy"]


def test_cross_fitting_needs_enough_samples_of_each_class():
    from digitnet.pipeline import fit_model

    data = digitnet.load_digits()
    rows = np.concatenate([np.flatnonzero(data.y == k)[:3] for k in range(10)])  # 3 of each digit
    with pytest.raises(digitnet.DataError, match="cannot cut 30 samples into calibration_folds 5: n_splits=5 cannot be "
                                                  "greater than the number of members in each class"):
        fit_model(data, Config(epochs=1, calibration_folds=5), rows)


@pytest.mark.parametrize("overrides, message", [
    ({"calibration_folds": 1}, "calibration_folds must be 0 or 2..20; got 1"),
    ({"calibration_folds": 5, "calibration_fraction": 0.1}, "choose one source of calibration data: calibration_fraction "
                                                            "(a held-out split) or calibration_folds (cross-fitting); "
                                                            "set the other to 0"),
])
def test_bad_cross_fitting_settings(overrides, message):
    with pytest.raises(digitnet.ConfigError) as e:
        Config(**overrides)
    assert str(e.value) == message


def test_train_reports_the_temperature(tmp_path):
    out = tmp_path / "m.safetensors"
    args = ["train", "--epochs", "4", "--out", str(out), "--set", "calibration_folds=3"]
    r = CliRunner().invoke(app, [*args, "--quiet", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["temperature"] == digitnet.load(out).temperature != 1.0
    assert summary["config"]["calibration_folds"] == 3
    r = CliRunner().invoke(app, [*args, "--quiet"])
    assert f"softmax temperature {summary['temperature']:.4g}." in r.stdout


def test_the_onnx_graph_has_the_temperature(calibrated, digits):
    ort = pytest.importorskip("onnxruntime")
    from digitnet.export import to_bytes

    session = ort.InferenceSession(to_bytes(calibrated))
    X = digits.X[:50].astype(np.float32)
    P = session.run(["probabilities"], {session.get_inputs()[0].name: X})[0]
    np.testing.assert_allclose(P, calibrated.predict_proba(X), atol=1e-5)
    assert np.abs(P - dataclasses.replace(calibrated, temperature=1.0).predict_proba(X)).max() > 0.1
