"""A battery of bad input: every case ends in one clear line and an exit code (or one exception), and
nothing around it is written or damaged (every file in the working folder is hashed before and after).

Each row: an id, the command line ({name} is a file made by MAKERS[name] in a fresh folder), the exit
code, and a fragment of the message. Library cases follow, then signals, a full disk and stale temporaries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save as st_save
from typer.testing import CliRunner

import digitnet
from digitnet import ConfigError, DataError, ModelFileError
from digitnet.cli import app
from digitnet.errors import OutputFileError
from digitnet.files import TMP_SUFFIX, write_atomic

from conftest import rewrite_model

DIGITNET = str(Path(sys.executable).parent / "digitnet")
ROW = [0] * 64


def _line(cells):
    return ",".join(str(c) for c in cells)


def _csv(text):
    return lambda d, m: _write(d / "data.csv", text)


def _write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _crafted(name, **changes):
    """A model file whose metadata or tensors were changed and whose checksum was made to match."""
    return lambda d, m: rewrite_model(m, d / f"{name}.safetensors", **changes)


def _flip(find: bytes, replace: bytes):
    """A model file with bytes changed in place (same length), checksum untouched: corruption."""

    def make(d, m):
        data = m.read_bytes()
        assert len(find) == len(replace) and data.count(find) == 1
        return _write(d / "flipped.safetensors", data.replace(find, replace))

    return make


def _fifo(d, m):
    os.mkfifo(d / "pipe")
    return d / "pipe"


def _read_only(d, m):
    path = _write(d / "locked.safetensors", m.read_bytes())
    path.chmod(0o444)
    return path


def _device(d, m):
    if os.geteuid() != 0:
        pytest.skip("making a device file needs root")
    os.mknod(d / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return d / "null"


def _small_csv(rows):
    def make(d, m):
        X, y = digitnet.load_digits().X[:rows], digitnet.load_digits().y[:rows]
        return _write(d / "small.csv", "\n".join(_line([*map(int, x), c]) for x, c in zip(X, y)) + "\n")

    return make


def _png(path, k):
    """A 28x28 picture of a bar of ink, placed by k."""
    from PIL import Image

    image = np.zeros((28, 28), np.uint8)
    image[5:23, 6 + k : 12 + k] = 255
    Image.fromarray(image).save(path, format="PNG")


def _pictures(d, *folders, fifo=None, each=1):
    root = d / "pics"
    for k, name in enumerate(folders):
        (root / name).mkdir(parents=True)
        for i in range(each):
            _png(root / name / f"{i}.png", k + i)
    if fifo:
        os.mkfifo(root / fifo)
    return root


def _mnist_fifos(d):
    root = d / "mnist"
    root.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        os.mkfifo(root / name)
    return root


def _recorded(d, m, path, *, kind="csv", size=None):
    """A model file whose data source names ``path`` (its checksum made to match: anyone can)."""
    digest = "ab" * 32
    if kind == "mnist":
        names = [p.name for p in Path(path).iterdir()]
        data = {"kind": kind, "path": str(path), "sha256": {n: digest for n in names}, "size": {n: 1000 for n in names}}
    else:
        data = {"kind": kind, "path": str(path), "sha256": digest, **({"size": size} if size is not None else {})}
    return rewrite_model(m, d / "recorded.safetensors", metadata={"data": data})


def _link(kind):
    """A symbolic or hard link to the 40-row CSV."""

    def make(d, m):
        target = MAKERS["csv_40_rows"](d, m)
        link = d / f"{kind}.csv"
        (link.symlink_to if kind == "link" else lambda t: os.link(t, link))(target)
        return link

    return make


def _mnist_dir(d):
    from digitnet.data.idx import write_idx

    root = d / "mnist"
    if not root.exists():
        root.mkdir()
        images = np.zeros((20, 28, 28), np.uint8)
        for k in range(20):
            images[k, 4:24, 4 + k % 10 : 8 + k % 10] = 255
        for part, rows in (("train", slice(0, 15)), ("t10k", slice(15, 20))):
            write_idx(root / f"{part}-images-idx3-ubyte.gz", images[rows])
            write_idx(root / f"{part}-labels-idx1-ubyte.gz", (np.arange(20) % 10)[rows].astype(np.uint8))
    return root


def _picture(format: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(buffer, format=format)
    return buffer.getvalue()


MAKERS = {
    "model": lambda d, m: _write(d / "model.safetensors", m.read_bytes()),
    "dir": lambda d, m: (d / "sub").mkdir() or d / "sub",
    "fifo": _fifo,
    "read_only": _read_only,
    "device": _device,
    "missing_dir": lambda d, m: d / "no" / "such" / "x.out",
    # CSVs
    "csv_columns": _csv("1,2,3\n"),
    "csv_text": _csv(_line([0] * 63 + ["seven", 1]) + "\n"),
    "csv_nan": _csv(_line(ROW + [1]) + "\n" + _line([0] * 63 + ["nan", 1]) + "\n"),
    "csv_inf": _csv(_line([0] * 63 + ["inf", 1]) + "\n"),
    "csv_pixel": _csv(_line([99] + [0] * 63 + [1]) + "\n"),
    "csv_negative": _csv(_line([-1] + [0] * 63 + [1]) + "\n"),
    "csv_label": _csv(_line(ROW + [12]) + "\n"),
    "csv_fraction": _csv(_line(ROW + [2.5]) + "\n"),
    "csv_empty": _csv(""),
    "csv_blank": _csv("\n\n\n"),
    "csv_spaces": _csv(_line(ROW + [1]) + "\n\n  \n"),
    "csv_header_only": _csv(_line([f"p{i}" for i in range(64)] + ["label"]) + "\n"),
    "csv_binary": _csv(b"\xff\xfe\x00\x81" * 50),
    "csv_ragged": _csv(_line(ROW + [1]) + "\n" + _line(ROW + [2]) + "\n" + _line(ROW) + "\n"),
    "csv_pixels_only": _csv(_line(ROW) + "\n"),
    "csv_66": _csv(_line(ROW + [1, 2]) + "\n"),
    "csv_40_rows": _small_csv(40),
    "csv_20_rows": _small_csv(20),  # the first 20 digits: 2 of each class
    # model files: damaged
    "truncated": lambda d, m: _write(d / "t.safetensors", m.read_bytes()[:100]),
    "empty_model": lambda d, m: _write(d / "e.safetensors", b""),
    "text_model": lambda d, m: _write(d / "x.safetensors", "W1,W2\n1,2\n"),
    "noise_model": lambda d, m: _write(d / "n.safetensors", np.random.default_rng(0).bytes(4096)),
    "foreign": lambda d, m: _write(d / "f.safetensors", st_save({"w": np.ones(3, np.float32)}, metadata={"format": "pt"})),
    "weight_bit": lambda d, m: _write(d / "w.safetensors", m.read_bytes()[:-3] + bytes([m.read_bytes()[-3] ^ 0x10]) + m.read_bytes()[-2:]),
    "meta_bit": _flip(b'value_range\\": [0.0, 16.0]', b'value_range\\": [0.0, 96.0]'),  # 16 -> 96: one bit
    "meta_not_json": lambda d, m: _write(d / "nj.safetensors", st_save({"W1": np.ones((2, 2))}, metadata={"digitnet": "{not json"})),
    # model files: crafted (the checksum matches, the content is wrong)
    "format_true": _crafted("ft", metadata={"format_version": True}),
    "format_99": _crafted("f99", metadata={"format_version": 99, "digitnet_version": "9.0"}),
    "history_list": _crafted("hl", metadata={"history": [1, 2]}),
    "image_shape_64": _crafted("is", metadata={"architecture": {
        "n_inputs": 64, "n_hidden": 200, "n_outputs": 10, "bias": True, "activation": "tanh", "output": "softmax",
        "image_shape": [64], "value_range": [0, 16]}}),
    "range_str": _crafted("pm", metadata={"architecture": {
        "n_inputs": 64, "n_hidden": 200, "n_outputs": 10, "bias": True, "activation": "tanh", "output": "softmax",
        "image_shape": [8, 8], "value_range": [0, "16"]}}),
    "range_reversed": _crafted("rr", metadata={"architecture": {
        "n_inputs": 64, "n_hidden": 200, "n_outputs": 10, "bias": True, "activation": "tanh", "output": "softmax",
        "image_shape": [8, 8], "value_range": [16, 0]}}),
    "image_7x7": _crafted("i7", metadata={"architecture": {
        "n_inputs": 64, "n_hidden": 200, "n_outputs": 10, "bias": True, "activation": "tanh", "output": "softmax",
        "image_shape": [7, 7], "value_range": [0, 16]}}),
    "lr_str": lambda d, m: rewrite_model(m, d / "lr.safetensors", metadata={"config": {**digitnet.load(m).config.to_dict(), "lr": "0.1"}}),
    "hidden_mismatch": lambda d, m: rewrite_model(m, d / "hm.safetensors", metadata={"config": {**digitnet.load(m).config.to_dict(), "n_hidden": 50}}),
    "float16": lambda d, m: rewrite_model(m, d / "f16.safetensors", tensors={k: v.astype(np.float16) for k, v in digitnet.load(m).params.items()}),
    "float_indices": lambda d, m: rewrite_model(m, d / "fi.safetensors", tensors={"split.test_indices": digitnet.load(m).test_indices.astype(np.float64)}),
    "negative_indices": lambda d, m: rewrite_model(m, d / "ni.safetensors", tensors={"split.test_indices": -1 - digitnet.load(m).test_indices}),
    "scale_zero": lambda d, m: rewrite_model(m, d / "s0.safetensors", tensors={"scaling.scale": np.zeros(64)}),
    "nan_weights": lambda d, m: rewrite_model(m, d / "nan.safetensors", tensors={"W2": np.full((200, 10), np.nan, np.float32)}),
    "extra_tensor": lambda d, m: rewrite_model(m, d / "xt.safetensors", tensors={"evil": np.ones(3)}),
    "missing_b1": lambda d, m: rewrite_model(m, d / "mb.safetensors", tensors={"b1": None}),
    "unknown_key": _crafted("uk", metadata={"surprise": 1}),
    "lone_surrogate": _crafted("ls", metadata={"command": "digitnet train \ud800"}),
    # folders of pictures (one sub-folder per class)
    "pics_unicode": lambda d, m: _pictures(d, "0", "\u00b2"),
    "pics_one_class": lambda d, m: _pictures(d, "3", each=4),
    "pics_0_00": lambda d, m: _pictures(d, "0", "00"),
    "pics_huge_class": lambda d, m: _pictures(d, "0", "99999999999999999999"),
    "pics_fifo": lambda d, m: _pictures(d, "0", "1", fifo="1/x.png"),
    # outputs that are inputs
    "csv_link": _link("link"),
    "csv_hardlink": _link("hard"),
    "csv_png": lambda d, m: _write(d / "d.png", MAKERS["csv_40_rows"](d, m).read_bytes()),
    "mnist_dir": lambda d, m: _mnist_dir(d),
    "mnist_file": lambda d, m: _mnist_dir(d) / "train-images-idx3-ubyte.gz",
    "model_png": lambda d, m: _write(d / "m.png", m.read_bytes()),
    "pics_two": lambda d, m: _pictures(d, "0", "1") if not (d / "pics").exists() else d / "pics",
    "picture_file": lambda d, m: MAKERS["pics_two"](d, m) / "1" / "0.png",
    "rec_csv": lambda d, m: _write(d / "rec.csv", "0\n"),
    "recorded_csv": lambda d, m: _recorded(d, m, d / "rec.csv", size=2),
    # names with control characters
    "newline_missing": lambda d, m: d / "bad\nname.png",
    "newline_csv": lambda d, m: _write(d / "d\n.csv", "1,2,3\n"),
    # model files whose recorded training data are not what they recorded (the checksum is no signature)
    "recorded_zero": lambda d, m: _recorded(d, m, "/dev/zero", size=1000),
    "recorded_zero_old": lambda d, m: _recorded(d, m, "/dev/zero"),
    "recorded_fifo": lambda d, m: _recorded(d, m, _fifo(d, m), size=1000),
    "recorded_dir": lambda d, m: _recorded(d, m, MAKERS["dir"](d, m), size=1000),
    "recorded_grown": lambda d, m: _recorded(d, m, _write(d / "grown.csv", "1,2\n"), size=3),
    "recorded_mnist_fifo": lambda d, m: _recorded(d, m, _mnist_fifos(d), kind="mnist"),
    "recorded_pics_fifo": lambda d, m: _recorded(d, m, _pictures(d, "0", "1", fifo="0/x.png"), kind="images", size=1000),
    # pictures in formats that are not read, whatever their names say
    "gif": lambda d, m: _write(d / "seven.gif", _picture("GIF")),
    "webp_named_png": lambda d, m: _write(d / "seven.png", _picture("WEBP")),
    "bmp": lambda d, m: _write(d / "seven.bmp", _picture("BMP")),
    "eps": lambda d, m: _write(d / "seven.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"),
    # a stream without newlines: one "line" longer than any row of values
    "csv_long_line": lambda d, m: _write(d / "long.csv", b"0" * (3 << 20)),
}

PIXELS = ",".join(["0"] * 64)
P = "--pixels"
CLI_CASES = [
    # train: options
    ("hidden 0", ["train", "--hidden", "0"], 2, "n_hidden (--hidden) must be 1..1,000,000,000; got 0"),
    ("hidden 1e9", ["train", "--hidden", "1e9"], 2, "Invalid value for '--hidden'"),
    ("hidden word", ["train", "--hidden", "many"], 2, "Invalid value for '--hidden'"),
    ("hidden huge", ["train", "--hidden", "1000000000"], 2, "GiB for weights and training buffers; this machine has"),
    ("epochs 0", ["train", "--epochs", "0"], 2, "epochs must be 1..1,000,000; got 0"),
    ("epochs 1e3", ["train", "--epochs", "1e3"], 2, "Invalid value for '--epochs'"),
    ("dropout 1", ["train", "--dropout", "1"], 2, "dropout must be in [0, 1)"),
    ("dropout 0.999", ["train", "--dropout", "0.999"], 2, "masks drop neurons in steps of 1/256"),
    ("dropout 0.001", ["train", "--dropout", "0.001"], 2, "masks drop neurons in steps of 1/256"),
    ("dropout negative", ["train", "--dropout", "-0.5"], 2, "dropout must be in [0, 1)"),
    ("lr 0", ["train", "--lr", "0"], 2, "lr must be a positive number"),
    ("lr negative", ["train", "--lr", "-1"], 2, "lr must be a positive number"),
    ("lr nan", ["train", "--lr", "nan"], 2, "lr must be a positive number"),
    ("lr 1e300", ["train", "--lr", "1e300"], 1, "training diverged at epoch 1"),
    ("seed negative", ["train", "--seed", "-1"], 2, "seed must be in 0..4294967295"),
    ("seed 2**32", ["train", "--seed", "4294967296"], 2, "seed must be in 0..4294967295"),
    ("recipe nope", ["train", "--recipe", "nope"], 2, "Invalid value for '--recipe'"),
    ("batch 0", ["train", "--batch-size", "0"], 2, "batch_size (--batch-size) must be 1..1,000,000,000"),
    # integers past what the compiled code takes (int64), or past any meaning: refused by Config, naming the field
    ("batch 2**64", ["train", "--batch-size", "18446744073709551616"], 2,
     "batch_size (--batch-size) must be 1..1,000,000,000 (a batch larger than the training split is all of it); "
     "got 18446744073709551616"),
    ("batch 2**63", ["train", "--batch-size", "9223372036854775808"], 2, "batch_size (--batch-size) must be 1..1,000,000,000"),
    ("epochs 10**7", ["train", "--epochs", "10000000"], 2, "epochs must be 1..1,000,000; got 10000000"),
    ("hidden 10**11", ["train", "--hidden", "99999999999"], 2, "n_hidden (--hidden) must be 1..1,000,000,000; got 99999999999"),
    ("patience 2**70", ["train", "--set", "val_fraction=0.1", "--set", f"patience={2**70}"], 2,
     "patience must be 1..1,000,000 or None"),
    ("augment 2**64", ["train", "--augment", "18446744073709551616"], 2, "augment must be 0..4 pixels"),
    ("unknown option", ["train", "--hiden", "3"], 2, "No such option"),
    ("unknown command", ["trian"], 2, "No such command 'trian'"),
    # train: where the model goes
    ("out directory", ["train", "--out", "{dir}"], 2, "is a directory; give a file name such as"),
    ("out missing dir", ["train", "--out", "{missing_dir}"], 2, "does not exist (create it first)"),
    ("out fifo", ["train", "--out", "{fifo}"], 2, "exists and is not a regular file"),
    ("out device", ["train", "--out", "{device}"], 2, "exists and is not a regular file"),
    ("out read-only", ["train", "--out", "{read_only}"], 2, "is read-only (mode 444)"),
    # train: data
    ("data missing", ["train", "--data", "{missing_dir}"], 2, "no such file"),
    ("data directory", ["train", "--data", "{dir}"], 2, "a directory without MNIST's IDX files"),
    ("data fifo empty", ["train", "--data", "{csv_empty}"], 2, "no data rows"),
    ("data columns", ["train", "--data", "{csv_columns}"], 2, "line 1: expected 65 columns"),
    ("data text", ["train", "--data", "{csv_text}"], 2, "line 1, column 64: 'seven' is not a number"),
    ("data nan", ["train", "--data", "{csv_nan}"], 2, "line 2, column 64: 'nan' is not a finite number"),
    ("data inf", ["train", "--data", "{csv_inf}"], 2, "'inf' is not a finite number"),
    ("data pixel", ["train", "--data", "{csv_pixel}"], 2, "line 1, column 1: pixel 99 is outside 0..16"),
    ("data negative", ["train", "--data", "{csv_negative}"], 2, "pixel -1 is outside 0..16"),
    ("data label", ["train", "--data", "{csv_label}"], 2, "column 65: label 12 is not an integer 0..9"),
    ("data fraction", ["train", "--data", "{csv_fraction}"], 2, "label 2.5 is not an integer 0..9"),
    ("data blank", ["train", "--data", "{csv_blank}"], 2, "no data rows"),
    ("data spaces", ["train", "--data", "{csv_spaces}"], 2, "line 3: a line of only spaces or commas"),
    ("data header only", ["train", "--data", "{csv_header_only}"], 2, "no data rows"),
    ("data binary", ["train", "--data", "{csv_binary}"], 2, "cannot read as CSV text (UnicodeDecodeError"),
    ("data ragged", ["train", "--data", "{csv_ragged}"], 2, "line 3: expected 65 columns"),
    ("data no labels", ["train", "--data", "{csv_pixels_only}"], 2, "line 1: expected 65 columns"),
    ("data 40 rows", ["train", "--data", "{csv_40_rows}", "--set", "val_fraction=0.1"], 2,
     "cannot split 30 samples into training and validation"),
    # evaluate: model files
    ("model missing", ["evaluate", "{missing_dir}"], 2, "no such model file"),
    ("model directory", ["evaluate", "{dir}"], 2, "is a directory, not a model file"),
    ("model fifo", ["evaluate", "{fifo}"], 2, "is not a regular file"),
    ("model truncated", ["evaluate", "{truncated}"], 2, "not a readable model file"),
    ("model empty", ["evaluate", "{empty_model}"], 2, "not a readable model file"),
    ("model text", ["evaluate", "{text_model}"], 2, "not a readable model file"),
    ("model noise", ["evaluate", "{noise_model}"], 2, "not a readable model file"),
    ("model foreign", ["evaluate", "{foreign}"], 2, "a safetensors file, but not a digitnet model"),
    ("weights bit flip", ["evaluate", "{weight_bit}"], 2, "do not match the checksum"),
    ("metadata bit flip", ["evaluate", "{meta_bit}"], 2, "do not match the checksum"),
    ("metadata not json", ["evaluate", "{meta_not_json}"], 2, "corrupted digitnet metadata"),
    ("format_version true", ["evaluate", "{format_true}"], 2, "format_version True is not a positive integer"),
    ("format 99", ["evaluate", "{format_99}"], 2, "written in model format 99 by digitnet 9.0"),
    ("history a list", ["evaluate", "{history_list}"], 2, "history: Input should be an object"),
    ("image_shape [64]", ["evaluate", "{image_shape_64}"], 2, "architecture.image_shape"),
    ("value_range string", ["evaluate", "{range_str}"], 2, "architecture.value_range.1: Input should be a valid number"),
    ("value_range reversed", ["evaluate", "{range_reversed}"], 2, "value_range must be (low, high) with low < high"),
    ("image 7x7 of 64", ["evaluate", "{image_7x7}"], 2, "64 inputs do not make 7x7 images"),
    ("config lr string", ["evaluate", "{lr_str}"], 2, "lr must be a float; got '0.1'"),
    ("config mismatch", ["evaluate", "{hidden_mismatch}"], 2, "architecture does not match config"),
    ("float16 tensors", ["evaluate", "{float16}"], 2, "tensor 'W1' has dtype float16, expected float32"),
    ("float indices", ["evaluate", "{float_indices}"], 2, "'split.test_indices' has dtype float64, expected int64"),
    ("negative indices", ["evaluate", "{negative_indices}"], 2, "test split's indices are not distinct row numbers >= 0"),
    ("scale zero", ["predict", "{scale_zero}", P, PIXELS, "--json"], 2, "the input scaling is not finite and positive"),
    ("nan weights", ["evaluate", "{nan_weights}"], 2, "weights are not finite"),
    ("extra tensor", ["evaluate", "{extra_tensor}"], 2, "unexpected tensor(s) evil"),
    ("missing b1", ["evaluate", "{missing_b1}"], 2, "tensor 'b1' is missing"),
    ("unknown metadata key", ["evaluate", "{unknown_key}"], 2, "surprise: Extra inputs are not permitted"),
    ("lone surrogate", ["evaluate", "{lone_surrogate}"], 2, "corrupted or inconsistent model file: Invalid JSON"),
    ("evaluate bad data", ["evaluate", "{model}", "--data", "{csv_label}"], 2, "label 12 is not an integer 0..9"),
    # predict
    ("pixels short", ["predict", "{model}", P, "1,2,3"], 2, "expected 64 values (an 8x8 image, row by row), got 3"),
    ("pixels word", ["predict", "{model}", P, ",".join(["0"] * 63 + ["abc"])], 2, "'abc' is not a number"),
    ("pixels 40", ["predict", "{model}", P, ",".join(["0"] * 63 + ["40"])], 2, "pixels must lie in 0..16"),
    ("pixels nan", ["predict", "{model}", P, ",".join(["0"] * 63 + ["nan"])], 2, "row 0 has NaN or inf"),
    ("predict nothing", ["predict", "{model}"], 2, "give exactly one of --csv FILE, --pixels"),
    ("predict both", ["predict", "{model}", "--csv", "{csv_pixels_only}", P, PIXELS], 2, "give exactly one of"),
    ("predict csv missing", ["predict", "{model}", "--csv", "{missing_dir}"], 2, "no such file"),
    ("predict csv 66", ["predict", "{model}", "--csv", "{csv_66}"], 2, "expected 64 or 65 columns"),
    ("predict --no-labels", ["predict", "{model}", "--csv", "{csv_label}", "--no-labels"], 2, "expected 64 columns"),
    ("predict --labels", ["predict", "{model}", "--csv", "{csv_pixels_only}", "--labels"], 2, "expected 65 columns"),
    ("labels without csv", ["predict", "{model}", P, PIXELS, "--labels"], 2, "--labels/--no-labels describe a --csv file"),
    ("image gif", ["predict", "{model}", "--image", "{gif}"], 2, "seven.gif: a picture in GIF format: digitnet reads PNG, JPEG and TIFF"),
    ("image webp named png", ["predict", "{model}", "--image", "{webp_named_png}"], 2, "seven.png: a picture in WEBP format: digitnet reads"),
    ("image bmp", ["predict", "{model}", "--image", "{bmp}"], 2, "seven.bmp: a picture in BMP format: digitnet reads"),
    ("image eps", ["predict", "{model}", "--image", "{eps}"], 2, "seven.eps: a picture in EPS format: digitnet reads"),
    # plot, report, reproduce-blog
    ("plot gif", ["plot", "confusion", "{model}", "--out", "x.gif"], 2, "unsupported image type '.gif'"),
    ("plot kind", ["plot", "pie", "{model}", "--out", "x.png"], 2, "'pie' is not one of 'digits', 'confusion'"),
    ("plot out directory", ["plot", "confusion", "{model}", "--out", "{dir}"], 2, "give a file name such as"),
    ("report out directory", ["report", "{model}", "--out", "{dir}"], 2, "sub/report.html"),
    ("report out fifo", ["report", "{model}", "--out", "{fifo}"], 2, "exists and is not a regular file"),
    ("report read-only", ["report", "{model}", "--out", "{read_only}"], 2, "is read-only"),
    ("report bad model", ["report", "{truncated}", "--out", "r.html"], 2, "not a readable model file"),
    ("runs 0", ["reproduce-blog", "--runs", "0"], 2, "--runs must be at least 1"),
    ("jobs 0", ["reproduce-blog", "--jobs", "0"], 2, "--jobs must be a positive number"),
    ("jobs -5", ["reproduce-blog", "--jobs", "-5"], 2, "--jobs must be a positive number of processes or -1 for one "
     "per core; got -5"),
    ("report pdf", ["report", "{model}", "--out", "rep.pdf"], 2,
     "--out rep.pdf: a report is one HTML file; name it .html or .htm"),
    ("report no suffix", ["report", "{model}", "--out", "report"], 2, "a report is one HTML file; name it .html or .htm"),
    # devices and streams without newlines as data: refused at once, in bounded memory
    ("evaluate /dev/zero", ["evaluate", "{model}", "--data", "/dev/zero"], 2,
     "/dev/zero: is a character device, not a CSV file or a pipe"),
    ("predict --csv /dev/zero", ["predict", "{model}", "--csv", "/dev/zero"], 2, "/dev/zero: is a character device"),
    ("train /dev/urandom", ["train", "--data", "/dev/urandom"], 2, "/dev/urandom: is a character device"),
    ("data one endless line", ["evaluate", "{model}", "--data", "{csv_long_line}"], 2,
     "long.csv, line 1: longer than 1,048,576 bytes, which no row of 64 pixels 0..16 and a label needs; "
     "is it a CSV file?"),
    ("dropout maybe", ["reproduce-blog", "--dropout", "maybe"], 2, "Invalid value for '--dropout'"),
    # outputs that are inputs: the same path, a symbolic link, a hard link; or two outputs of one command
    ("out is the data", ["train", "--data", "{csv_40_rows}", "--out", "{csv_40_rows}"], 2, "small.csv is the same file as --data"),
    ("out links to the data", ["train", "--data", "{csv_40_rows}", "--out", "{csv_link}"], 2, "link.csv is the same file as --data"),
    ("out is a hard link", ["train", "--data", "{csv_40_rows}", "--out", "{csv_hardlink}"], 2, "hard.csv is the same file as --data"),
    ("out is an IDX file", ["train", "--data", "mnist:{mnist_dir}", "--out", "{mnist_file}"], 2,
     "train-images-idx3-ubyte.gz is the same file as --data"),
    ("report over its model", ["report", "{model}", "--out", "{model}"], 2, "model.safetensors is the same file as MODEL"),
    ("export over its model", ["export", "{model}", "--out", "{model}"], 2, "model.safetensors is the same file as MODEL"),
    ("plot over its model", ["plot", "confusion", "{model_png}", "--out", "{model_png}"], 2, "m.png is the same file as MODEL"),
    ("plot over its data", ["plot", "confusion", "{model}", "--data", "{csv_png}", "--out", "{csv_png}"], 2,
     "d.png is the same file as --data"),
    ("plot over a picture it reads", ["plot", "digits", "{model}", "--data", "images8:{pics_two}", "--out", "{picture_file}"],
     2, "0.png is the same file as --data"),
    ("report over recorded data", ["report", "{recorded_csv}", "--out", "{rec_csv}"], 2,
     "rec.csv is the same file as the model's training data"),
    ("sweep over its data", ["sweep", "--grid", "hidden=5", "--data", "{csv_40_rows}", "--out", "{csv_40_rows}"], 2,
     "small.csv is the same file as --data"),
    ("sweep best over its data", ["sweep", "--grid", "hidden=5", "--data", "{csv_40_rows}", "--save-best", "{csv_hardlink}"], 2,
     "hard.csv is the same file as --data"),
    ("sweep out is the figure", ["sweep", "--grid", "hidden=5", "--out", "s.png"], 2,
     "--out s.png and --out s.png's figure s.png are the same file"),
    ("sweep best is the figure", ["sweep", "--grid", "hidden=5", "--out", "s.csv", "--save-best", "s.png"], 2,
     "--out s.csv's figure s.png and --save-best s.png are the same file"),
    # sweep: every argument checked against the data before any fit, every error one line
    ("sweep recipe in the grid", ["sweep", "--grid", "recipe=blog,modern", "--quiet"], 2,
     "recipe is not a setting to search"),
    ("sweep cv 30 on 20 rows", ["sweep", "--grid", "hidden=5", "--cv", "30", "--data", "{csv_20_rows}", "--quiet"], 2,
     "cv 30: class 0 has only 2 samples, and each of the 30 folds needs one of every class; use --cv 2 or fewer"),
    ("sweep cv 3, 2 of a class", ["sweep", "--grid", "hidden=5", "--cv", "3", "--data", "{csv_20_rows}", "--quiet"], 2,
     "cv 3: class 0 has only 2 samples"),
    ("sweep n-iter 0", ["sweep", "--grid", "hidden=5", "--n-iter", "0", "--quiet"], 2,
     "n_iter (--n-iter) must be at least 1 candidate; got 0"),
    ("sweep seed -1", ["sweep", "--grid", "hidden=5", "--seed", "-1", "--quiet"], 2, "seed must be in 0..4294967295"),
    ("sweep halving on 20 rows", ["sweep", "--grid", "hidden=5,10", "--search", "halving", "--cv", "2",
                                  "--data", "{csv_20_rows}", "--quiet"], 2,
     "halving search: its first round fits on 2 x 2 folds x 10 classes = 40 samples, and the data have 20"),
    ("sweep hidden 1e9", ["sweep", "--grid", "hidden=1000000000", "--quiet"], 2,
     "grid candidate n_hidden=1000000000: n_hidden=1000000000, batch_size=64 on 1797 samples"),
    # a sweep whose every fit diverged exits as a diverged train does: 1
    ("sweep lr 1e300", ["sweep", "--grid", "lr=1e300", "--cv", "2", "--data", "{csv_40_rows}", "--quiet"], 1,
     "every fit failed: training diverged at epoch"),
    ("sweep n-jobs -5", ["sweep", "--grid", "hidden=5", "--n-jobs", "-5", "--quiet"], 2,
     "--n-jobs must be a positive number of processes or -1 for one per core; got -5"),
    # checked against the data before anything is printed (no --quiet: the harness wants one line on stderr)
    ("sweep cv 100000, nothing printed first", ["sweep", "--grid", "hidden=5", "--cv", "100000"], 2,
     "cv 100000: class 8 has only 174 samples"),
    ("sweep hidden 10**11, nothing printed first", ["sweep", "--grid", "hidden=99999999999"], 2,
     "grid hidden=99999999999: n_hidden must be 1..1,000,000,000"),
    ("sweep hidden 1e9, nothing printed first", ["sweep", "--grid", "hidden=1000000000"], 2,
     "GiB for weights and training buffers; this machine has"),
    ("sweep scheduler foo://", ["sweep", "--grid", "hidden=5", "--dask-scheduler", "foo://bar", "--quiet"], 2,
     "dask scheduler 'foo://bar': unknown scheme 'foo'"),
    ("sweep scheduler no port", ["sweep", "--grid", "hidden=5", "--dask-scheduler", "127.0.0.1:notaport", "--quiet"], 2,
     "dask scheduler '127.0.0.1:notaport': invalid literal for int()"),
    ("sweep scheduler [::1", ["sweep", "--grid", "hidden=5", "--dask-scheduler", "tcp://[::1", "--quiet"], 2,
     "dask scheduler 'tcp://[::1': invalid address '[::1'"),
    ("sweep grid of 10**20", ["sweep", "--grid", " ".join(f"{name}={','.join(map(str, range(1, 10_001)))}"
                                                         for name in ("hidden", "epochs", "batch-size", "l2", "lr")),
                              "--quiet"], 2,
     "the grid has 100,000,000,000,000,000,000 combinations, more than the 10,000 a search may try"),
    ("sweep random of 10**20", ["sweep", "--search", "random", "--grid", " ".join(f"{name}={','.join(map(str, range(1, 10_001)))}"
                                                                              for name in ("hidden", "epochs", "batch-size", "l2", "lr")),
                                "--quiet"], 2,
     "the grid has 100,000,000,000,000,000,000 combinations, more than the 1,000,000,000,000,000 a search may try"),
    # folders of pictures
    ("class folder not ASCII", ["train", "--data", "images:{pics_unicode}"], 2, "sub-folder '\u00b2' is not a class number"),
    ("one class folder", ["train", "--data", "images:{pics_one_class}"], 2, "need samples of at least 2 classes; all 4 are of class 3"),
    ("class folders 0 and 00", ["train", "--data", "images:{pics_0_00}"], 2, "sub-folders '0' and '00' are both class 0"),
    ("class folder huge", ["train", "--data", "images:{pics_huge_class}"], 2,
     "sub-folder '99999999999999999999' names class 99999999999999999999; class numbers go up to 999"),
    ("picture is a fifo", ["train", "--data", "images:{pics_fifo}"], 2, "x.png: is a FIFO (named pipe), not a regular file"),
    # names in messages
    ("image is a directory", ["predict", "{model}", "--image", "{dir}"], 2, "sub: is a directory, not a regular file"),
    ("newline in a missing name", ["predict", "{model}", "--image", "{newline_missing}"], 2, "bad\\nname.png: no such file"),
    ("newline in a data name", ["train", "--data", "{newline_csv}"], 2, "d\\n.csv, line 1: expected 65 columns"),
    # recorded training data that are not a regular file of the recorded size (and hash)
    ("recorded /dev/zero", ["evaluate", "{recorded_zero}"], 2, "/dev/zero: is a character device, not a regular file; pass --data"),
    ("recorded /dev/zero, old", ["report", "{recorded_zero_old}", "--out", "r.html"], 2, "/dev/zero: is a character device"),
    ("recorded fifo", ["plot", "confusion", "{recorded_fifo}", "--out", "c.png"], 2, "pipe: is a FIFO (named pipe), not a regular file"),
    ("recorded directory", ["evaluate", "{recorded_dir}"], 2, "sub: is a directory, not a regular file"),
    ("recorded file grew", ["evaluate", "{recorded_grown}"], 2, "grown.csv: has 4 bytes, not the 3 recorded: it has changed since"),
    ("recorded mnist fifos", ["evaluate", "{recorded_mnist_fifo}"], 2, "is a FIFO (named pipe), not a regular file; pass --data"),
    ("recorded picture fifo", ["evaluate", "{recorded_pics_fifo}"], 2, "x.png: is a FIFO (named pipe), not a regular file"),
]


class Hung(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: int = 30):
    """Fail, instead of waiting for ever, when the code under test blocks (on a FIFO, say)."""

    def hung(signum, frame):
        raise Hung(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(root: Path) -> dict:
    """Every path under root (hidden ones too): its kind, mode and, for files, a SHA-256 of the content."""
    seen = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        content = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else stat.S_IFMT(st.st_mode)
        seen[str(path.relative_to(root))] = (content, stat.S_IMODE(st.st_mode))
    return seen


def resolve(args, folder, model_file):
    made = {}

    def fill(match):
        name = match.group(1)
        if name not in made:
            made[name] = MAKERS[name](folder, model_file)
        return str(made[name])

    return [re.sub(r"\{(\w+)\}", fill, a) for a in args]


@pytest.mark.parametrize("args, code, message", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line_and_changes_nothing(tmp_path, model_file, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    args = resolve(args, tmp_path, model_file)
    if args[0] == "train":
        if "--out" not in args:  # a model that must survive the failure
            _write(tmp_path / "precious.safetensors", model_file.read_bytes())
            args += ["--out", str(tmp_path / "precious.safetensors")]
        args += ["--quiet", "--epochs", "1"] if "--epochs" not in args else ["--quiet"]
    before = snapshot(tmp_path)
    with hang_guard():
        r = CliRunner().invoke(app, args)
    assert r.exit_code == code, (r.stdout, r.stderr, r.exception)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stdout + r.stderr
    if code == 2:
        assert r.stdout == ""
    assert snapshot(tmp_path) == before


def test_the_battery_is_large():
    assert len(CLI_CASES) + len(LIBRARY_CASES) >= 60


# ---- the library: one exception of the library's own types, with a message naming the value -------------


def _predict(X):
    return lambda model: model.predict(X)


def _plain_model(estimator=False):
    """A model of 5 plain features (no value range), or a DigitNetClassifier of them: any finite value is valid,
    up to what its float32 arithmetic takes."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    X = rng.normal(0, 1, (200, 5)) + y[:, None]
    if estimator:
        return digitnet.DigitNetClassifier(epochs=2).fit(X, np.array(["no", "yes"])[y])
    return digitnet.train(digitnet.Dataset(X, y), digitnet.Config.from_recipe("modern", epochs=2))


LIBRARY_CASES = [
    ("n_hidden float", lambda m: digitnet.Config(n_hidden=2.5), ConfigError, "n_hidden must be an int; got 2.5"),
    ("batch_size float", lambda m: digitnet.Config(batch_size=3.5), ConfigError, "batch_size must be an int"),
    ("epochs bool", lambda m: digitnet.Config(epochs=True), ConfigError, "epochs must be an int; got True"),
    ("lr string", lambda m: digitnet.Config(lr="0.1"), ConfigError, "lr must be a float; got '0.1'"),
    ("bias int", lambda m: digitnet.Config(bias=1), ConfigError, "bias must be a bool"),
    ("tol string", lambda m: digitnet.Config(tol="small"), ConfigError, "tol must be a float or None"),
    ("seed 2**32", lambda m: digitnet.Config(seed=2**32), ConfigError, "seed must be in 0..4294967295"),
    ("batch_size 2**63", lambda m: digitnet.Config(batch_size=2**63), ConfigError, "batch_size must be 1..1,000,000,000"),
    ("epochs 2**64", lambda m: digitnet.Config(epochs=2**64), ConfigError, "epochs must be 1..1,000,000"),
    ("n_hidden numpy uint64", lambda m: digitnet.Config(n_hidden=np.uint64(2**63)), ConfigError,
     "n_hidden must be 1..1,000,000,000"),
    ("calibration_folds 2**64", lambda m: digitnet.Config(calibration_folds=2**64), ConfigError, "calibration_folds must be 0 or 2..20"),
    ("estimator batch 2**63", lambda m: digitnet.DigitNetClassifier(batch_size=2**63).fit(np.eye(4), [0, 1, 0, 1]),
     ConfigError, "batch_size must be 1..1,000,000,000"),
    ("dropout 0.999", lambda m: digitnet.Config(dropout=0.999), ConfigError, "steps of 1/256"),
    ("unknown setting", lambda m: digitnet.Config.from_recipe("modern", hidden=3), ConfigError, "unknown setting(s): hidden"),
    ("float labels", lambda m: digitnet.Dataset(np.zeros((2, 64)), np.array([0.5, 1.0])), DataError, "labels must be integers >= 0"),
    ("label 10", lambda m: digitnet.Dataset(np.zeros((2, 64)), np.array([0, 10]), n_classes=10), DataError, "labels must be integers 0..9"),
    ("string labels", lambda m: digitnet.Dataset(np.zeros((2, 64)), np.array(["a", "b"])), DataError, "labels must be integers"),
    ("one class", lambda m: digitnet.Dataset(np.zeros((2, 3)), np.array([0, 0])), DataError, "need samples of at least 2 classes; all 2 are of class 0"),
    ("3-D inputs", lambda m: digitnet.Dataset(np.zeros((2, 8, 8)), np.array([0, 1])), DataError, "expected a 2-D array of inputs"),
    ("image of 7x7", lambda m: digitnet.data.Inputs(64, (7, 7)), DataError, "64 inputs do not make 7x7 images"),
    ("pixels over range", lambda m: digitnet.Dataset(np.full((2, 64), 17.0), np.array([0, 1]), inputs=digitnet.data.OPTDIGITS),
     DataError, "pixels must lie in 0..16; row 0"),
    ("pixels shape", _predict(np.zeros((3, 10))), DataError, "expected 64 pixel columns (8x8 images), got shape (3, 10)"),
    ("pixels 1-D", _predict(np.zeros(64)), DataError, "got shape (64,)"),
    ("pixels empty", _predict(np.zeros((0, 64))), DataError, "no samples"),
    ("pixels complex", _predict(np.zeros((1, 64), complex)), DataError, "pixels must be real numbers"),
    ("pixels strings", _predict(np.full((1, 64), "1")), DataError, "pixels must be real numbers"),
    ("pixels nan", _predict(np.full((2, 64), np.nan)), DataError, "row 0 has NaN or inf"),
    ("pixels 255", _predict(np.full((1, 64), 255.0)), DataError, "pixels must lie in 0..16"),
    ("pixels bad row 40", _predict(np.vstack([np.zeros((40, 64)), np.full((1, 64), -1.0)])), DataError, "row 40 has values from -1"),
    ("features 1e308", lambda m: _plain_model().predict(np.array([[0.0] * 5, [0, 0, 1e308, 0, 0]])), DataError,
     "overflow its float32 arithmetic); row 1 has 1e+308"),
    ("features -3.5e38", lambda m: _plain_model().predict_proba(np.full((9, 5), -3.5e38)), DataError,
     "larger ones overflow its float32 arithmetic); row 0 has -3.5e+38"),
    ("estimator 1e308", lambda m: _plain_model(estimator=True).predict(np.full((1, 5), 1e308)), ValueError,
     "values must lie within"),
    ("hidden too big", lambda m: digitnet.fit(np.zeros((10, 64)), np.zeros(10, int), digitnet.Config(n_hidden=10**9), np.random.default_rng(0)),
     ConfigError, "this machine has"),
    ("load crafted", lambda m: digitnet.load(MAKERS["range_str"](m.parent, m)), ModelFileError, "architecture.value_range"),
]


@pytest.mark.parametrize("call, error, message", [c[1:] for c in LIBRARY_CASES], ids=[c[0] for c in LIBRARY_CASES])
def test_library_bad_input_raises_one_clear_error(tmp_path, small_model, model_file, call, error, message):
    # predictions take the model; the rest take (or ignore) a copy of its file
    argument = small_model if call.__qualname__.startswith("_predict") else _write(tmp_path / "m.safetensors", model_file.read_bytes())
    with pytest.raises(error) as e:
        call(argument)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("dtype", [np.float16, ">f8", ">i4", np.uint8, np.int64])
def test_predict_takes_any_real_dtype_and_byte_order(small_model, digits, dtype):
    X = digits.X[:40]
    expected = small_model.predict(X)
    assert np.array_equal(small_model.predict(X.astype(dtype)), expected)  # 40 rows: the blocked path
    assert np.array_equal(small_model.predict(X[:3].astype(dtype)), expected[:3])  # the compiled few-rows path


def test_predict_names_a_bad_last_row_without_copying_the_input(small_model, digits):
    import tracemalloc

    X = np.tile(digits.X.astype(np.float32), (100, 1))  # 179,700 rows, 46 MB
    X[-1, 5] = 50
    small_model.predict(X[:2])  # the kernel compiled for float32 inputs first: compiling allocates too
    tracemalloc.start()
    with pytest.raises(DataError, match=f"row {len(X) - 1} has values from 0 to 50"):
        small_model.predict(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # no copy of the input: the output (10 of 64 columns' worth) and 4 MB of block buffers
    assert peak < X.nbytes / 3


def test_float_labels_that_are_integers_become_integers(digits):
    data = digitnet.Dataset(digits.X[:5], digits.y[:5].astype(float))
    assert data.y.dtype == np.int64 and data.y.tolist() == digits.y[:5].tolist()


def test_huge_batch_size_trains_in_batches_of_the_data(digits, tmp_path):
    config = digitnet.Config.from_recipe("modern", batch_size=10**9, epochs=2, patience=None, val_fraction=0.0)
    model = digitnet.train(digits, config)
    assert model.history.epochs == 2 and model.is_finite()


# ---- files: what is read once, what is written where ------------------------------------------------------


def test_csv_with_a_byte_order_mark_and_no_header(tmp_path, digits):
    text = "\n".join(_line([*map(int, x), c]) for x, c in zip(digits.X[:5], digits.y[:5]))
    path = _write(tmp_path / "bom.csv", b"\xef\xbb\xbf" + text.encode())
    X, y = digitnet.read_csv(path)
    assert X.shape == (5, 64) and y.tolist() == digits.y[:5].tolist()
    np.testing.assert_array_equal(X, digits.X[:5])


def test_a_fifo_is_read_once_and_hashed_as_read(tmp_path, digits):
    import threading

    text = ("\n".join(_line([*map(int, x), c]) for x, c in zip(digits.X[:300], digits.y[:300])) + "\n").encode()
    fifo = tmp_path / "data.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(text))
    writer.start()
    data = digitnet.load_csv(fifo)  # a second read would block for ever: the writer is gone
    writer.join(timeout=10)
    assert len(data.y) == 300
    assert data.source["sha256"] == hashlib.sha256(text).hexdigest()


def test_predict_says_which_csv_layout_it_assumed(tmp_path, model_file, digits):
    path = _write(tmp_path / "p.csv", "\n".join(_line(map(int, x)) for x in digits.X[:3]) + "\n")
    r = CliRunner().invoke(app, ["predict", str(model_file), "--csv", str(path), "--json"])
    assert r.exit_code == 0 and "read 3 rows of 64 pixels, no label column" in r.stderr
    assert len(json.loads(r.stdout)["predictions"]) == 3
    r = CliRunner().invoke(app, ["predict", str(model_file), "--csv", str(path), "--no-labels", "--json"])
    assert r.exit_code == 0 and r.stderr == ""


def test_json_output_always_parses(tmp_path, model_file, digits, monkeypatch):
    from digitnet.cli import _dumps

    assert json.loads(_dumps({"p": [float("nan"), float("inf"), 0.5]})) == {"p": [None, None, 0.5]}
    path = _write(tmp_path / "p.csv", "\n".join(_line(map(int, x)) for x in digits.X[:200]) + "\n")
    r = CliRunner().invoke(app, ["predict", str(model_file), "--csv", str(path), "--json", "--no-labels"])

    def refuse(name):
        raise AssertionError(f"{name} is not JSON")

    rows = json.loads(r.stdout, parse_constant=refuse)["predictions"]
    assert len(rows) == 200 and all(abs(sum(row["probabilities"]) - 1) < 1e-4 for row in rows)
    # probabilities that are NaN (a broken network) come out as null, in any block
    from digitnet import cli

    P = np.full((5, 10), 0.1)
    P[3, 2] = np.nan
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    cli._write_predictions_json(np.full(5, -1), P, block=2)
    rows = json.loads(out.getvalue(), parse_constant=refuse)["predictions"]
    assert len(rows) == 5 and rows[3]["probabilities"][2] is None and rows[4]["probabilities"][0] == 0.1


def test_big_predict_table_is_capped_and_points_to_json(tmp_path, model_file, digits):
    path = _write(tmp_path / "p.csv", "\n".join(_line(map(int, x)) for x in digits.X[:250]) + "\n")
    r = CliRunner().invoke(app, ["predict", str(model_file), "--csv", str(path), "--no-labels"])
    assert r.exit_code == 0 and "... and 150 more rows: --json prints them all" in r.stdout
    assert "│ 100 │" in r.stdout and "│ 101 │" not in r.stdout


def test_existing_file_keeps_its_mode(tmp_path, small_model):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"old")
    path.chmod(0o640)
    digitnet.save(small_model, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and digitnet.load(path).config == small_model.config


def test_a_symbolic_link_is_followed_not_replaced(tmp_path, small_model):
    target = _write(tmp_path / "real.safetensors", b"old")
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    digitnet.save(small_model, link)
    assert link.is_symlink() and digitnet.load(target).config == small_model.config


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path, small_model):
    target = tmp_path / "m.safetensors"
    # a real writer killed with SIGKILL while its temporary exists
    code = (f"import tempfile, os, time; tempfile.mkstemp(dir={str(tmp_path)!r}, "
            f"prefix='.m.safetensors.' + str(os.getpid()) + '.', suffix={TMP_SUFFIX!r}); print('ready', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.kill()
    proc.wait()
    live = tmp_path / f".m.safetensors.{os.getpid()}.abc{TMP_SUFFIX}"  # ours, still running: kept
    live.write_bytes(b"in progress")
    other = tmp_path / ".notes.txt.1.x.tmp"  # not of our naming: kept
    other.write_bytes(b"keep")
    assert len(list(tmp_path.glob(f"*{TMP_SUFFIX}"))) == 2
    digitnet.save(small_model, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other.name])


@pytest.fixture
def full_disk(tmp_path):
    """A 192 KiB tmpfs: room for a model's temporary to start, not to finish."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_is_one_line_and_keeps_the_old_file(full_disk, model_file):
    old = _write(full_disk / "m.safetensors", b"an older model")
    filler = full_disk / "filler"
    with filler.open("wb") as f:  # leave about 60 KB: less than a model (137 KB)
        try:
            f.write(b"\0" * (192 * 1024 - 60_000))
        except OSError as e:
            assert e.errno == errno.ENOSPC
    before = snapshot(full_disk)
    r = CliRunner().invoke(app, ["train", "--epochs", "1", "--quiet", "--out", str(old)])
    assert r.exit_code == 2
    (line,) = r.stderr.splitlines()
    assert "no space left on the device" in line and "was not saved" in line and "same seed gives the same model" in line
    assert snapshot(full_disk) == before  # the old model, and no temporary left behind
    r = CliRunner().invoke(app, ["report", str(model_file), "--out", str(full_disk / "r.html")])
    assert r.exit_code == 2 and "no space left on the device" in r.stderr and snapshot(full_disk) == before
    r = CliRunner().invoke(app, ["plot", "weights", str(model_file), "--out", str(full_disk / "w.png")])
    assert r.exit_code == 2 and "no space left on the device" in r.stderr and snapshot(full_disk) == before


# ---- signals: Ctrl-C at start-up, in the first epoch, while saving --------------------------------------


def _wait_for_library(proc, name="_multiarray_umath", timeout=60):
    """Block until the process has mapped ``name`` (it is importing NumPy: past the start-up handler)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if name in Path(f"/proc/{proc.pid}/maps").read_text():
                return
        except FileNotFoundError:
            break
        time.sleep(0.002)
    pytest.fail(f"{name} never loaded")


def test_ctrl_c_while_starting_is_one_line_and_writes_nothing(tmp_path, model_file):
    out = _write(tmp_path / "m.safetensors", model_file.read_bytes())
    before = snapshot(tmp_path)
    proc = subprocess.Popen([DIGITNET, "train", "--recipe", "blog", "--quiet", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_library(proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    # at start-up, or (if the imports won the race) before the first epoch ended: either way one line
    (line,) = stderr.splitlines()
    assert line.startswith("interrupted") and "nothing" in line and stdout == ""
    assert snapshot(tmp_path) == before


def test_ctrl_c_before_the_first_epoch_ends_keeps_the_existing_model(tmp_path, model_file):
    out = _write(tmp_path / "m.safetensors", model_file.read_bytes())
    before = snapshot(tmp_path)
    # a wide network makes the first epoch of the post's loop last seconds: the signal lands in it
    proc = subprocess.Popen([DIGITNET, "train", "--recipe", "blog", "--hidden", "6000", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "Ctrl-C stops" in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted") and "nothing" in last and "Traceback" not in stderr
    assert snapshot(tmp_path) == before


def test_ctrl_c_while_saving_waits_for_the_whole_file(tmp_path, monkeypatch):
    from digitnet import cli

    real_save = cli.save

    def save_interrupted_halfway(model, path):
        os.kill(os.getpid(), signal.SIGINT)  # delivered here, in the main thread, during the save
        return real_save(model, path)

    monkeypatch.setattr(cli, "save", save_interrupted_halfway)
    monkeypatch.setattr(cli, "ctrl_c", cli._CtrlC())
    previous = signal.getsignal(signal.SIGINT)
    cli.ctrl_c.install()
    try:
        out = tmp_path / "m.safetensors"
        r = CliRunner().invoke(app, ["train", "--epochs", "2", "--quiet", "--out", str(out)])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert r.exit_code == 130
    assert f"interrupted while saving: the complete model is in {out}" in r.stderr
    assert digitnet.load(out).history.epochs == 2
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_interrupted_in_the_first_epoch_writes_nothing(tmp_path, model_file, monkeypatch):
    """The same, deterministically: the interrupt raised inside the first epoch, as a Ctrl-C there would."""
    from digitnet import trainer

    def interrupted_epoch(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer._Batches, "epoch", interrupted_epoch)
    out = _write(tmp_path / "m.safetensors", model_file.read_bytes())
    before = snapshot(tmp_path)
    r = CliRunner().invoke(app, ["train", "--quiet", "--out", str(out)])
    assert r.exit_code == 130
    assert r.stderr.strip() == f"interrupted before the first epoch ended: nothing was learnt, nothing written; {out} is unchanged"
    assert snapshot(tmp_path) == before


# ---- found by a newcomer, after issues 19, 21 and 22 ------------------------------------------------------------


def _markup_model(tmp_path, digits):
    """An estimator's model file whose class labels are Rich markup: untrusted text, to be printed literally."""
    labels = np.array(["[/]", "[bold red]one[/bold red]"])[digits.y[:300] % 2]
    estimator = digitnet.DigitNetClassifier(epochs=2).fit(digits.X[:300], labels)
    return digitnet.save(estimator, tmp_path / "[red]markup.safetensors")


def test_untrusted_text_is_printed_literally(tmp_path, digits):
    model = _markup_model(tmp_path, digits)
    r = CliRunner().invoke(app, ["predict", str(model), "--pixels", ",".join(map(str, map(int, digits.X[0])))])
    assert r.exit_code == 0, r.stderr
    header = next(line for line in r.stdout.splitlines() if "row" in line and "digit" in line)
    assert "[/]" in header and "[bold red]one[/bold red]" in header  # the table's columns: the labels as written
    # a file name with markup, in every line that names it (the model's own data, scored again)
    data = _write(tmp_path / "[bold]d.csv", "\n".join(_line([*map(int, x), c]) for x, c in zip(digits.X[:50], digits.y[:50])))
    trained = tmp_path / "[i]m.safetensors"
    r = CliRunner().invoke(app, ["train", "--data", str(data), "--epochs", "1", "--quiet", "--out", str(trained)])
    assert r.exit_code == 0, r.stderr
    assert f"Model written to {trained}" in r.stdout
    r = CliRunner().invoke(app, ["evaluate", str(trained)])
    assert r.exit_code == 0 and f"held-out test split of {data}" in r.stdout, r.stderr
    r = CliRunner().invoke(app, ["evaluate", str(trained), "--data", str(data)])
    assert r.exit_code == 0 and f"({data})" in r.stdout, r.stderr


def test_the_consoles_print_every_string_literally():
    from digitnet import cli

    for console in (cli.out, cli.err):
        with console.capture() as captured:
            console.print("[/] [bold]x[/bold]")  # no markup=False here: the console's own setting
        assert captured.get() == "[/] [bold]x[/bold]\n"


def test_help_texts_are_printed_as_written():
    """Every help text of every command and option appears in --help, brackets and all (digitnet[web])."""
    import typer.main

    group = typer.main.get_command(app)

    def squeeze(text):
        return "".join(text.split())

    top = CliRunner().invoke(app, ["--help"])
    assert "28x28" in top.stdout and "8x8" in top.stdout
    for name, command in group.commands.items():
        r = CliRunner().invoke(app, [name, "--help"])
        assert r.exit_code == 0
        shown = squeeze(r.stdout)
        assert squeeze(command.help.split("\n\n")[0]) in shown, name
        for param in command.params:
            if getattr(param, "help", None):
                assert squeeze(param.help) in shown, (name, param.name)
    serve = CliRunner().invoke(app, ["serve", "--help"]).stdout
    assert "digitnet[web]" in serve
    assert "digitnet[onnx]" in CliRunner().invoke(app, ["export", "--help"]).stdout


def test_out_of_memory_advice_fits_the_command(tmp_path, model_file, monkeypatch):
    from digitnet import cli

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli, "held_out", no_memory)
    r = CliRunner().invoke(app, ["evaluate", str(model_file)])
    assert r.exit_code == 2 and "--hidden" not in r.stderr and "--batch-size" not in r.stderr
    assert r.stderr == "error: out of memory: the data are too large for this machine's memory; score the model on less data (--data)\n"
    monkeypatch.setattr(cli, "train_model", no_memory)
    r = CliRunner().invoke(app, ["train", "--quiet", "--out", str(tmp_path / "m.safetensors")])
    assert r.exit_code == 2 and "use smaller sizes (--hidden, --batch-size) or less data" in r.stderr


def test_an_endless_line_from_a_pipe_is_refused_in_bounded_memory(tmp_path):
    """A FIFO that sends 64 MiB without a newline: refused once the first line passes the limit, the reader's
    memory a few megabytes (the writer sees the pipe closed)."""
    import threading
    import tracemalloc

    fifo = tmp_path / "endless"
    os.mkfifo(fifo)

    def write():
        with contextlib.suppress(BrokenPipeError), fifo.open("wb") as f:
            for _ in range(64):
                f.write(b"1" * (1 << 20))

    writer = threading.Thread(target=write)
    writer.start()
    tracemalloc.start()
    try:
        with hang_guard(), pytest.raises(DataError, match=r"endless, line 1: longer than 1,048,576 bytes"):
            digitnet.load_csv(fifo)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        writer.join(timeout=30)
    assert peak < 16 << 20


def test_a_pipe_is_read_once_by_the_command(tmp_path, model_file, digits):
    """`--data /dev/stdin`: a pipe, not a device; read once, its rows scored."""
    text = "\n".join(_line([*map(int, x), c]) for x, c in zip(digits.X[:120], digits.y[:120])) + "\n"
    r = subprocess.run([DIGITNET, "evaluate", str(model_file), "--data", "/dev/stdin", "--json"], input=text,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n"] == 120


def test_pixels_messages_use_the_right_article(tmp_path):
    from digitnet.errors import article

    assert [article(w) for w in ("8x8", "28x28", "11x11", "18x18", "80x80", "100x100", "int", "float", "bool")] == \
        ["an", "a", "an", "an", "an", "a", "an", "a", "a"]
    from webserver import model_28x28

    path = digitnet.save(model_28x28(), tmp_path / "m28.safetensors")
    r = CliRunner().invoke(app, ["predict", str(path), "--pixels", "1,2,3"])
    assert r.exit_code == 2 and "expected 784 values (a 28x28 image, row by row), got 3" in r.stderr


def _picture_model(tmp_path):
    root = _pictures(tmp_path, "0", "1", each=8)
    model = tmp_path / "pics.safetensors"
    r = CliRunner().invoke(app, ["train", "--data", f"images8:{root}", "--epochs", "1", "--quiet", "--out", str(model)])
    assert r.exit_code == 0, r.stderr
    assert CliRunner().invoke(app, ["evaluate", str(model)]).exit_code == 0
    return root, model


@pytest.mark.parametrize("added", ["0/00.png", "1/99.png"])
def test_a_picture_added_to_a_models_folder_is_a_changed_folder(tmp_path, added):
    root, model = _picture_model(tmp_path)
    _png(root / added, 3)  # before every recorded picture, or after them all
    r = CliRunner().invoke(app, ["evaluate", str(model)])
    assert r.exit_code == 2
    assert r.stderr == (f"error: cannot find the model's test split again: {root}: its pictures are not the ones "
                        "recorded (their names, sizes or contents differ): it has changed since; pass --data FILE\n")


def _fill(disk: Path, leave: int) -> None:
    with (disk / "filler").open("wb") as f:
        with contextlib.suppress(OSError):
            f.write(b"\0" * max(0, 192 * 1024 - leave))


def test_sweep_on_a_full_disk_writes_all_its_outputs_or_none(full_disk, tmp_path):
    data = MAKERS["csv_40_rows"](tmp_path, None)
    _fill(full_disk, 8_000)  # room for the CSV (a few hundred bytes), not for the figure
    before = snapshot(full_disk)
    out, best = full_disk / "s.csv", full_disk / "best.safetensors"
    r = CliRunner().invoke(app, ["sweep", "--grid", "hidden=5,6", "--cv", "2", "--data", str(data), "--quiet",
                                 "--out", str(out), "--save-best", str(best)])
    assert r.exit_code == 2, r.stderr
    (line,) = r.stderr.splitlines()
    assert "no space left on the device" in line
    assert line.endswith(f"nothing was written (not {out}, {out.with_suffix('.png')} nor {best})"), line
    assert snapshot(full_disk) == before and r.stdout == ""


def test_sweep_writes_its_outputs_together_or_says_which(tmp_path, monkeypatch):
    """A rename that fails after others succeeded (no disk fills during a rename; simulated): the message
    names what was written and what was not."""
    from digitnet import files

    data = MAKERS["csv_40_rows"](tmp_path, None)
    real = os.replace
    done = []

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(".png"):
            raise OSError(errno.EIO, "Input/output error")
        done.append(dst)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(files.os, "replace", replace)
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(app, ["sweep", "--grid", "hidden=5", "--cv", "2", "--data", str(data), "--quiet", "--out", str(out)])
    assert r.exit_code == 2
    assert f"cannot write {out.with_suffix('.png')}: Input/output error; written: {out}; not written: " \
           f"{out.with_suffix('.png')}" in r.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
