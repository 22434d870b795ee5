import json
import os
import pickle

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save as st_save

import digitnet
from conftest import rewrite_model
from digitnet import ModelFileError
from digitnet.errors import OutputFileError
from digitnet.persistence import FORMAT_VERSION, to_bytes


def test_round_trip(small_model, model_file, digits):
    loaded = digitnet.load(model_file)
    np.testing.assert_array_equal(loaded.predict_proba(digits.X), small_model.predict_proba(digits.X))
    assert loaded.config == small_model.config
    assert loaded.history.to_dict() == small_model.history.to_dict()
    assert loaded.metrics == small_model.metrics
    np.testing.assert_array_equal(loaded.test_indices, small_model.test_indices)
    np.testing.assert_array_equal(loaded.scaling.offset, small_model.scaling.offset)
    assert loaded.data_source == {"kind": "sklearn-digits"}
    assert to_bytes(loaded) == model_file.read_bytes()


def test_file_describes_itself(model_file):
    with safe_open(str(model_file), framework="numpy") as f:
        assert list(f.metadata()) == ["digitnet"]
        meta = json.loads(f.metadata()["digitnet"])
        names = set(f.keys())
    assert meta["format"] == "digitnet" and meta["format_version"] == FORMAT_VERSION
    assert meta["digitnet_version"] == digitnet.__version__
    assert meta["architecture"]["n_hidden"] == 200
    assert meta["config"]["recipe"] == "modern"
    assert meta["metrics"]["accuracy"] > 0.9
    assert len(meta["history"]["loss"]) == 8
    assert names == {"W1", "W2", "b1", "b2", "scaling.offset", "scaling.scale", "split.test_indices"}


def test_same_seed_same_bytes_other_seed_other_bytes():
    def model_bytes(seed):
        return to_bytes(digitnet.train(config=digitnet.Config.from_recipe("modern", epochs=3, seed=seed)))

    assert model_bytes(5) == model_bytes(5)
    assert model_bytes(5) != model_bytes(6)


def test_blog_model_same_seed_same_bytes(digits):
    config = digitnet.Config.from_recipe("blog", dropout=0.0, epochs=2, seed=1)
    assert to_bytes(digitnet.train(digits, config)) == to_bytes(digitnet.train(digits, config))


def _expect_error(path, message):
    with pytest.raises(ModelFileError) as e:
        digitnet.load(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_truncated_file(model_file, tmp_path):
    data = model_file.read_bytes()
    for cut in (len(data) // 2, 100, 5, 0):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        _expect_error(path, "not a readable model file")


def test_corrupted_weights_and_header(model_file, tmp_path):
    data = bytearray(model_file.read_bytes())
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF  # a byte of the last tensor
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(flipped))
    _expect_error(path, "corrupted: the weights or the metadata do not match the checksum")
    header = bytearray(data)
    header[12:20] = b"\x00\x01\x02\x03garb"
    path.write_bytes(bytes(header))
    _expect_error(path, "not a readable model file")


def test_random_bytes_and_text(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _expect_error(path, "not a readable model file")
    path.write_text("hello, I am a CSV\n1,2,3\n")
    _expect_error(path, "not a readable model file")


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    path.write_bytes(st_save({"weight": np.ones((3, 3), dtype=np.float32)}, metadata={"format": "pt"}))
    _expect_error(path, "a safetensors file, but not a digitnet model")


def _rewrite_metadata(model_file, path, **changes):
    """A crafted file: metadata changed and the checksum made to match (so the checks after it are reached)."""
    return rewrite_model(model_file, path, metadata=changes)


def test_newer_format_is_refused_with_advice(model_file, tmp_path):
    path = _rewrite_metadata(model_file, tmp_path / "new.safetensors", format_version=99, digitnet_version="9.0")
    _expect_error(path, "written in model format 99 by digitnet 9.0")
    _expect_error(path, "upgrade digitnet")


def test_inconsistent_metadata(model_file, tmp_path):
    arch = {"n_inputs": 64, "n_hidden": 50, "n_outputs": 10, "bias": True, "image_shape": [8, 8], "value_range": [0, 16],
            "activation": "tanh", "output": "softmax"}
    path = _rewrite_metadata(model_file, tmp_path / "bad.safetensors", architecture=arch)
    _expect_error(path, "tensor 'W1' has shape (64, 200), expected (64, 50)")
    path = _rewrite_metadata(model_file, tmp_path / "bad2.safetensors", config={"n_hidden": -3})
    _expect_error(path, "corrupted or inconsistent model file")
    with safe_open(str(model_file), framework="numpy") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    path.write_bytes(st_save(tensors, metadata={"digitnet": "{not json"}))
    _expect_error(path, "corrupted digitnet metadata")


def test_missing_file_and_directory(tmp_path):
    _expect_error(tmp_path / "nothing.safetensors", "no such model file")
    _expect_error(tmp_path, "is a directory")


def test_loading_never_unpickles(model_file, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(np, "load", refuse)
    assert digitnet.load(model_file).params["W1"].shape == (64, 200)


def test_diverged_model_is_not_saved(small_model, tmp_path):
    params = {**small_model.params, "W2": np.full_like(small_model.params["W2"], np.nan)}
    import dataclasses

    broken = dataclasses.replace(small_model, params=params)
    with pytest.raises(ModelFileError, match="weights are not finite"):
        digitnet.save(broken, tmp_path / "nan.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_save_into_missing_directory(small_model, tmp_path):
    with pytest.raises(OutputFileError, match="does not exist"):
        digitnet.save(small_model, tmp_path / "no" / "such" / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_the_old_file_and_no_temporary(small_model, model_file, tmp_path, monkeypatch):
    target = tmp_path / "m.safetensors"
    target.write_bytes(b"old content")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputFileError, match="disk full; .* was not changed"):
        digitnet.save(small_model, target)
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def _legacy(model_file, version):
    """The model file as digitnet wrote it in format 1 or 2: 8x8 images of 0..pixel_max, no value_range."""
    from digitnet.persistence import _digest

    with safe_open(str(model_file), framework="numpy") as f:
        meta = {**json.loads(f.metadata()["digitnet"]), "format_version": version}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    arch = {k: v for k, v in meta["architecture"].items() if k != "value_range"}
    meta["architecture"] = {**arch, "pixel_max": 16}
    meta.pop("sha256")
    meta["sha256"] = _digest(tensors, None if version == 1 else meta)
    return meta, tensors


@pytest.mark.parametrize("version", [1, 2])
def test_format_1_and_2_files_still_load(model_file, tmp_path, version):
    meta, tensors = _legacy(model_file, version)
    path = tmp_path / f"v{version}.safetensors"
    path.write_bytes(st_save(tensors, metadata={"digitnet": json.dumps(meta)}))
    old, new = digitnet.load(path), digitnet.load(model_file)
    assert old.config == new.config and old.inputs == new.inputs == digitnet.OPTDIGITS
    np.testing.assert_array_equal(old.params["W1"], new.params["W1"])


def test_format_1_files_still_load(model_file, tmp_path):
    """Format 1 checksummed the tensors only: such a file loads, and a flipped weight is still caught."""
    meta, tensors = _legacy(model_file, 1)
    path = tmp_path / "v1.safetensors"
    path.write_bytes(st_save(tensors, metadata={"digitnet": json.dumps(meta)}))
    assert digitnet.load(path).config == digitnet.load(model_file).config
    tensors["W1"] = tensors["W1"] + np.float32(1)
    path.write_bytes(st_save(tensors, metadata={"digitnet": json.dumps(meta)}))
    _expect_error(path, "corrupted: the weights do not match the checksum")
