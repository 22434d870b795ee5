"""ONNX export: the graph, run by onnxruntime, gives digitnet's probabilities."""

import dataclasses
import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import digitnet
from digitnet import export
from digitnet.cli import app

onnx = pytest.importorskip("onnx", reason="pip install 'digitnet[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="pip install onnxruntime")


def run_onnx(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dtype = np.float64 if session.get_inputs()[0].type == "tensor(double)" else np.float32
    return session.run(None, {"x": np.asarray(X, dtype=dtype)})


def test_8x8_model_matches_on_the_whole_data_set(small_model, model_file, digits, tmp_path):
    out = tmp_path / "m.onnx"
    r = CliRunner().invoke(app, ["export", str(model_file), "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    P, label = run_onnx(out, digits.X)
    expected = small_model.predict_proba(digits.X)
    assert P.dtype == np.float32 and P.shape == (1797, 10)
    assert np.abs(P - expected).max() < 1e-5
    assert (label == expected.argmax(axis=1)).mean() > 0.999  # a tie within 1e-5 could flip one
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["inputs"] == "64 pixels 0..16 (8x8 images)" and json.loads(props["value_range"]) == [0, 16]
    assert json.loads(props["config"])["n_hidden"] == 200 and props["n_classes"] == "10"


def test_plain_feature_model_and_a_float64_model(tmp_path):
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 5, (3, 7))
    y = rng.integers(0, 3, 500)
    X = centres[y] + rng.normal(0, 1, (500, 7)) - 20.0
    for dtype, tol in (("float32", 1e-5), ("float64", 1e-12)):
        model = digitnet.train(digitnet.Dataset(X, y), digitnet.Config.from_recipe("modern", epochs=4, dtype=dtype))
        path = tmp_path / f"{dtype}.onnx"
        path.write_bytes(export.to_bytes(model))
        P, label = run_onnx(path, X)
        assert P.shape == (500, 3) and np.abs(P - model.predict_proba(X)).max() < tol
        assert (label == model.predict(X)).mean() > 0.99  # float32: a near-tie may flip


def test_missing_onnx_is_one_clear_line(model_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    r = CliRunner().invoke(app, ["export", str(model_file), "--out", str(tmp_path / "m.onnx")])
    assert r.exit_code == 2 and r.stderr == "error: ONNX export needs the onnx package: pip install 'digitnet[onnx]'\n"
    assert list(tmp_path.iterdir()) == []


def test_export_bad_paths(model_file, tmp_path):
    r = CliRunner().invoke(app, ["export", str(model_file), "--out", str(tmp_path)])
    assert r.exit_code == 2 and f"give a file name such as {tmp_path / 'model.onnx'}" in r.stderr
    r = CliRunner().invoke(app, ["export", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "m.onnx")])
    assert r.exit_code == 2 and "no such model file" in r.stderr and list(tmp_path.iterdir()) == []


def test_a_model_without_biases(digits, tmp_path):
    model = digitnet.train(digits, digitnet.Config.from_recipe("blog", dropout=0.0, epochs=2, seed=1))
    path = tmp_path / "blog.onnx"
    path.write_bytes(export.to_bytes(model))
    P, _ = run_onnx(path, digits.X)
    assert P.dtype == np.float64 and np.abs(P - model.predict_proba(digits.X)).max() < 1e-12


def test_features_of_size_1e200_export_as_a_float64_graph(digits, tmp_path):
    """Their folded first layer (W1 / 1e200) does not fit float32: the model and its graph compute in float64."""
    data = digitnet.Dataset(digits.X * 1e200, digits.y)
    model = digitnet.train(data, digitnet.Config.from_recipe("modern", epochs=4))
    out = export.to_onnx(model)
    path = tmp_path / "big.onnx"
    path.write_bytes(out.SerializeToString())
    P, label = run_onnx(path, data.X)
    assert P.dtype == np.float64 and np.abs(P - model.predict_proba(data.X)).max() < 1e-9
    assert np.mean(label == data.y) > 0.95


@pytest.mark.parametrize("labels, kind", [
    (np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]), 10),
    (np.array([2, 5, 11, 12, 13, 40, 41, 42, 100, -7]), 10),
    (np.array([2, 5, 11]), 3),  # the digits modulo 3
    (np.array([False, True]), 2),  # odd or even
], ids=["strings", "non-contiguous integers", "[2, 5, 11]", "booleans"])
def test_an_estimators_graph_answers_its_class_labels(digits, tmp_path, labels, kind):
    """The label output is the class label (a Gather of ArgMax's column from the classes), typed as the labels;
    the labels are in the metadata too; `digitnet export` of the estimator's file does the same."""
    est = digitnet.DigitNetClassifier(epochs=4).fit(digits.X, labels[digits.y % kind])
    path = tmp_path / "est.onnx"
    path.write_bytes(export.to_bytes(est))
    P, label = run_onnx(path, digits.X)
    expected = est.predict_proba(digits.X)
    assert np.abs(P - expected).max() < 1e-5
    assert label.dtype == (object if labels.dtype.kind == "U" else labels.dtype) and label.shape == (1797,)
    agree = label == est.predict(digits.X)
    assert agree.mean() > 0.999 and set(label.tolist()) <= set(labels.tolist())
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["classes"]) == est.classes_.tolist()
    saved = digitnet.save(est, tmp_path / "est.safetensors")
    r = CliRunner().invoke(app, ["export", str(saved), "--out", str(tmp_path / "cli.onnx")])
    assert r.exit_code == 0, r.stderr
    _, cli_label = run_onnx(tmp_path / "cli.onnx", digits.X[:50])
    assert cli_label.tolist() == label[:50].tolist()


def test_a_models_graph_answers_its_columns(small_model, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(export.to_bytes(small_model))
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["classes"]) == list(range(10))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.type for o in session.get_outputs()] == ["tensor(float)", "tensor(int64)"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_deskewing_models_graph_deskews_as_the_model(digits, tmp_path, dtype):
    """The graph straightens each image (GridSample) before the network, as Model.predict_proba does."""
    model = digitnet.train(digits, digitnet.Config.from_recipe("modern", epochs=6, deskew=True, dtype=dtype))
    P, label = ort.InferenceSession(export.to_bytes(model), providers=["CPUExecutionProvider"]).run(
        None, {"x": digits.X.astype(dtype)})
    assert np.abs(P - model.predict_proba(digits.X)).max() < 1e-5
    assert (label == model.predict(digits.X)).mean() > 0.999
    # and not as a model that does not deskew: the subgraph is what makes them agree
    plain = dataclasses.replace(model, config=dataclasses.replace(model.config, deskew=False))
    assert np.abs(P - plain.predict_proba(digits.X)).max() > 1e-2
