"""Pen strokes in the UNIPEN format (data/unipen.py), several sources in one training run (data/mix.py), and
the held-out split of both found again, on small files the tests write."""

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import digitnet
from digitnet.cli import app
from digitnet.data import held_out, load_data
from digitnet.data.unipen import load_unipen, on_pad, read_unipen
from digitnet.errors import DataError
from digitnet.preprocess import PAD, ink_from_strokes, to_input

runner = CliRunner()
HEADER = '.INCLUDE dene.doc\n\n.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"\n.HIERARCHY DIGIT\n\n'
# strokes in tablet coordinates, y UP: a 7's bar is at the top (largest y)
SEVEN = [[(100, 400), (300, 400), (160, 100)], [(140, 260), (260, 260)]]  # two strokes: with a bar
ONE = [[(200, 100), (200, 400)]]
ZERO = [[(200 + 80 * np.cos(t), 250 + 130 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 30)]]


def segment(n, label, writer, strokes):
    text = f'.SEGMENT DIGIT {n} ? "{label}"\n.COMMENT {label} {writer} {n}\n'
    for stroke in strokes:
        text += ".PEN_DOWN\n" + "".join(f" {int(x)} {int(y)}\n" for x, y in stroke) + ".PEN_UP\n.DT 100\n"
    return text + "\n"


def pen_file(path, writers=6, per_writer=3, gz=False):
    """A UNIPEN file of 0s, 1s and 7s by ``writers`` writers, each writing ``per_writer`` of each (jittered)."""
    rng = np.random.default_rng(0)
    text, n = HEADER, 0
    for writer in range(1, writers + 1):
        for _ in range(per_writer):
            for label, strokes in ((7, SEVEN), (1, ONE), (0, ZERO)):
                jittered = [[(x + rng.normal(0, 3), y + rng.normal(0, 3)) for x, y in s] for s in strokes]
                text += segment(n, label, writer, jittered)
                n += 1
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def test_reads_multi_stroke_digits_plain_and_gzipped(tmp_path):
    plain, packed = pen_file(tmp_path / "p.tra"), pen_file(tmp_path / "p.tra.gz", gz=True)
    digits, digest, _ = read_unipen(plain)
    assert digest == hashlib.sha256(plain.read_bytes()).hexdigest()
    assert len(digits) == 54 and [d.label for d in digits[:3]] == [7, 1, 0]
    assert [len(d.strokes) for d in digits[:3]] == [2, 1, 1] and digits[0].strokes[0].shape == (3, 2)
    assert {d.writer for d in digits} == set(range(1, 7))
    gz_digits, gz_digest, _ = read_unipen(packed)
    assert gz_digest == hashlib.sha256(packed.read_bytes()).hexdigest() != digest
    for a, b in zip(digits, gz_digits):
        assert a.label == b.label and a.writer == b.writer
        for s, t in zip(a.strokes, b.strokes):
            np.testing.assert_array_equal(s, t)


def test_y_grows_upward_and_rows_are_what_the_page_sends(tmp_path):
    digits, *_ = read_unipen(pen_file(tmp_path / "p.tra", writers=1, per_writer=1))
    seven = on_pad(digits[0].strokes)
    bar_start, tail_end = seven[0][0], seven[0][-1]
    assert bar_start[1] < tail_end[1]  # the bar (y = 400 on the tablet) is at the TOP of the pad (small y)
    every = np.concatenate(seven)
    assert np.ptp(every, axis=0).max() == pytest.approx(200) and np.allclose(every.min(0) + every.max(0), PAD, atol=1e-9)
    data = load_unipen(tmp_path / "p.tra")
    assert data.X.shape == (3, 784) and data.inputs.image_shape == (28, 28) and list(data.y) == [7, 1, 0]
    page = to_input(ink_from_strokes(seven, PAD, PAD), data.inputs)  # the drawing page's own path
    np.testing.assert_array_equal(data.X[0], page)
    eight = load_data(f"unipen8:{tmp_path / 'p.tra'}")
    assert eight.X.shape == (3, 64) and eight.X.max() <= 16


def test_writers_are_kept_and_never_split(tmp_path):
    data = load_data(f"unipen:{pen_file(tmp_path / 'p.tra.gz', gz=True)}")
    assert data.source["kind"] == "unipen" and data.source["sha256"] == hashlib.sha256(
        (tmp_path / "p.tra.gz").read_bytes()).hexdigest()
    assert list(np.unique(data.groups)) == list(range(1, 7))
    for seed in range(5):
        train, test = data.split_rows(0.25, seed, stratify=True)
        assert not set(data.groups[train]) & set(data.groups[test])
        assert len(set(data.groups[test])) == 2 and len(train) + len(test) == len(data.y)


BAD = {
    "not unipen": ("hello world\n", "line 1: 'hello world' where a UNIPEN header"),
    "bad segment": (HEADER + '.SEGMENT WORD 0 ? "7"\n', "line 6: expected .SEGMENT DIGIT"),
    "bad label": (HEADER + '.SEGMENT DIGIT 0 ? "x"\n', "line 6: the label must be one digit in quotes"),
    "no comment": (HEADER + '.SEGMENT DIGIT 0 ? "7"\n.PEN_DOWN\n 1 2\n 3 4\n.PEN_UP\n',
                   "line 6: digit without a .COMMENT line"),
    "comment label": (HEADER + '.SEGMENT DIGIT 0 ? "7"\n.COMMENT 1 3 0\n', "line 7: .COMMENT says label 1"),
    "bad point": (HEADER + segment(0, 7, 1, [[(1, 2)]]).replace(" 1 2", " 1 two"),
                  "line 9: expected a point: two numbers x y; got '1 two'"),
    "three numbers": (HEADER + segment(0, 7, 1, [[(1, 2)]]).replace(" 1 2", " 1 2 3"), "line 9: expected a point"),
    "nan": (HEADER + segment(0, 7, 1, [[(1, 2)]]).replace(" 1 2", " nan 2"), "line 9: point coordinates must be finite"),
    "huge": (HEADER + segment(0, 7, 1, [[(1, 2), (30, 40)]]).replace(" 1 2", " 1e308 1e308"),
             "line 9: point coordinates must lie within -1e+07..1e+07 (a tablet's units); got '1e308 1e308'"),
    "negative huge": (HEADER + segment(0, 7, 1, [[(1, 2), (30, 40)]]).replace(" 1 2", " 5 -2e7"),
                      "line 9: point coordinates must lie within"),
    "empty digit": (HEADER + '.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 0\n.PEN_DOWN\n.PEN_UP\n' + segment(1, 1, 1, ONE),
                    'line 6: digit "7" has no points'),
    "truncated": (HEADER + segment(0, 7, 1, SEVEN) + '.SEGMENT DIGIT 1 ? "1"\n.COMMENT 1 1 1\n.PEN_DOWN\n 3 4\n',
                  "line 22: .PEN_DOWN without its .PEN_UP at the end of the file: the file is truncated"),
    "points outside": (HEADER + " 1 2\n", "line 6: '1 2' before any .PEN_DOWN"),
    "no digits": (HEADER, "no digits"),
    "dot": (HEADER + segment(0, 7, 1, [[(5, 5), (5, 5)]]), "line 6: the digit's strokes are a dot"),
    "too many strokes": (HEADER + segment(0, 1, 1, [[(5, 5), (5, 9)]] * 65), "line 6: digit of 65 strokes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_get_one_line_naming_file_and_line(tmp_path, case):
    text, expected = BAD[case]
    path = tmp_path / "bad.tra"
    path.write_text(text)
    with pytest.raises(DataError, match="^" + str(path).replace(".", r"\.")) as e:
        load_unipen(path)
    assert expected in str(e.value) and "\n" not in str(e.value)
    r = runner.invoke(app, ["train", "--data", f"unipen:{path}", "--out", str(tmp_path / "m.safetensors")])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and expected in r.stderr
    assert not (tmp_path / "m.safetensors").exists()


def test_truncated_gzip_and_missing_file(tmp_path):
    whole = gzip.compress((HEADER + segment(0, 7, 1, SEVEN)).encode())
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip data"):
        read_unipen(tmp_path / "cut.gz")
    with pytest.raises(DataError, match="missing.tra: no such file"):
        read_unipen(tmp_path / "missing.tra")
    with pytest.raises(DataError, match="is a directory, not a regular file"):
        read_unipen(tmp_path)
    if Path("/dev/zero").exists():  # endless: refused before reading
        with pytest.raises(DataError, match="not a regular file"):
            read_unipen("/dev/zero")


def test_a_mix_records_its_parts_and_finds_its_test_split_again(tmp_path):
    pen = pen_file(tmp_path / "p.tra", writers=8, per_writer=6)
    out = tmp_path / "mix.safetensors"
    r = runner.invoke(app, ["train", "--data", "digits", "--data", f"unipen8:{pen}", "--epochs", "4", "--json",
                            "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    model = digitnet.load(out)
    parts = model.data_source["parts"]
    assert model.data_source["kind"] == "mix" and [p["kind"] for p in parts] == ["sklearn-digits", "unipen"]
    assert [p["rows"] for p in parts] == [1797, 144] and parts[1]["path"] == str(pen)
    assert parts[1]["sha256"] == hashlib.sha256(pen.read_bytes()).hexdigest() and parts[1]["inputs"] == "unipen8"
    assert model.command == f"digitnet train --recipe modern --set epochs=4 --data digits --data unipen8:{pen}"
    assert set(summary["test"]["parts"]) == {"digits", f"unipen:{pen}"}
    test = model.test_indices
    assert np.sum(test < 1797) == 450 and np.sum(test >= 1797) == 36  # 25% of the digits, 2 of the 8 writers
    writers = load_data(["digits", f"unipen8:{pen}"]).groups
    held = test[test >= 1797]
    rest = np.setdiff1d(np.arange(1797, 1797 + 144), held)
    assert len(set(writers[held])) == 2 and not set(writers[held]) & set(writers[rest])
    X, y, where = held_out(model)
    assert len(y) == 486 and where == f"held-out test split of digits + unipen8:{pen}"
    assert model.evaluate(X, y).accuracy == pytest.approx(summary["test"]["accuracy"])
    pen.write_bytes(pen.read_bytes() + b"\n")  # the same digits, other bytes
    r = runner.invoke(app, ["evaluate", str(out)])
    assert r.exit_code == 2 and f"{pen}: has 26,962 bytes, not the 26,961 recorded: it has changed since" in r.stderr


def test_a_mix_takes_the_first_sources_shape(tmp_path):
    pen = pen_file(tmp_path / "p.tra", writers=2, per_writer=1)
    mix = load_data([f"unipen:{pen}", "digits"])
    assert mix.inputs.image_shape == (28, 28) and mix.X.shape == (6 + 1797, 784) and mix.parts == (6, 1797)
    assert list(mix.groups[:6]) == [1, 1, 1, 2, 2, 2] and np.all(mix.groups[6:] == -1)
    eights = load_data(["digits", f"unipen:{pen}"])  # the embedded digits first: 8x8, the strokes drawn in 8x8
    assert eights.inputs.image_shape == (8, 8) and eights.X.shape == (1803, 64)
    np.testing.assert_array_equal(eights.X[:1797], load_data("digits").X)


def test_the_embedded_digits_enlarged_to_28x28_stay_readable(digits):
    """An 8x8 digit made 28x28 through the preprocessing looks like MNIST: longer side 20, centre of mass at 14."""
    from digitnet.data.images import IMAGE_INPUTS
    from digitnet.data.mix import convert

    small = digitnet.data.Dataset(digits.X[:20], digits.y[:20], digits.source, digits.inputs, 10)
    big = convert(small, IMAGE_INPUTS["images"]).X.reshape(-1, 28, 28)
    for image in big:
        on = np.argwhere(image > 0)
        assert 19 <= (on.max(0) - on.min(0) + 1).max() <= 21
        total = image.sum()
        np.testing.assert_allclose(((image.sum(1) @ np.arange(28)) / total, (image.sum(0) @ np.arange(28)) / total),
                                   (14, 14), atol=0.6)


def test_sources_that_cannot_be_mixed():
    from digitnet.data.images import IMAGE_INPUTS
    from digitnet.data.mix import convert

    features = digitnet.data.Dataset(np.ones((4, 3)), np.array([0, 1, 0, 1]))  # plain features, no image
    with pytest.raises(DataError, match="only images with a value range can be brought to another shape"):
        convert(features, IMAGE_INPUTS["images"])
    with pytest.raises(DataError, match="a mix joins 2 to 16 data sets"):
        load_data(["digits"] * 17)
