"""Inputs that hold no digit (a blank picture, a grid with no variation) are answered -1 with a reason everywhere:
CLI pictures, pixels and CSV rows, /api/predict and /api/predict-batch; one blank input never loses the others'
answers."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from digitnet.answer import answer, answers, no_variation
from digitnet.cli import app

from conftest import write_csv


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _png(path, image):
    Image.fromarray(image.astype(np.uint8)).save(path)
    return path


def _good_picture(path, digits):
    x8 = digits.X[0].reshape(8, 8)  # a 0, 0..16 ink on 8x8: black ink on white paper, 12x bigger (96x96)
    return _png(path, 255 - np.kron(x8 * 255 / 16, np.ones((12, 12))))


@pytest.mark.parametrize("value", [0.0, 16.0, 7.0])
def test_answers_say_no_digit_for_a_grid_with_no_variation_under_both_rules(small_model, value):
    X = np.full((2, 64), value)
    X[1, 5] = 0 if value else 16  # one pixel different: a model's answer
    P = small_model.predict_proba(X)
    for rule in ("likeliest", "blog"):
        digits, alternatives = answers(np.array([[0, 0, 1.0, *[0] * 7]] * 2), rule, X)
        assert digits.tolist() == [-1, 2] and alternatives[0] == ()
    a = answer(P[0], "likeliest", X[0])
    assert a.digit == -1 and a.reason == f"no digit: every pixel is {value:g}, a blank grid"
    assert no_variation(X).tolist() == [True, False]


def test_predict_image_answers_a_blank_picture_no_digit_and_keeps_the_others(tmp_path, model_file, digits):
    good = _good_picture(tmp_path / "good.png", digits)
    empty = _png(tmp_path / "empty.png", np.full((64, 64), 255))
    r = cli("predict", model_file, "--json", "--image", good, "--image", empty)
    assert r.exit_code == 0, r.output
    first, second = json.loads(r.stdout)["predictions"]
    assert first["digit"] == first["likeliest"] == 0 and len(first["probabilities"]) == 10
    assert second == {"picture": str(empty), "digit": -1, "likeliest": None, "alternatives": [], "probabilities": None,
                      "reason": "no digit: the picture is blank, or its ink is too small, specks or a dash"}
    assert first["picture"] == str(good)
    assert "reason" not in first
    r = cli("predict", model_file, "--image", empty)
    assert r.exit_code == 0 and "no digit (-1)" in r.stdout and "empty.png" in r.stdout
    r = cli("predict", model_file, "--image", good, "--image", empty)  # the table names each picture by its file
    rows = [line for line in r.stdout.splitlines() if ".png" in line]
    assert rows[0].split()[1] == "good.png" and rows[1].split()[1] == "empty.png"


@pytest.mark.parametrize("value", [0, 16])
def test_predict_pixels_and_csv_answer_a_uniform_grid_no_digit(tmp_path, model_file, digits, value):
    r = cli("predict", model_file, "--json", "--pixels", ",".join([str(value)] * 64))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["predictions"][0]["digit"] == -1
    assert json.loads(r.stdout)["predictions"][0]["reason"] == f"no digit: every pixel is {value}, a blank grid"
    r = cli("predict", model_file, "--pixels", ",".join([str(value)] * 64))
    assert f"every pixel is {value}" in r.stdout
    if value == 0:  # -0 is 0, and is said so
        r = cli("predict", model_file, "--json", "--pixels", ",".join(["-0"] * 64))
        assert json.loads(r.stdout)["predictions"][0]["reason"] == "no digit: every pixel is 0, a blank grid"
    path = write_csv(tmp_path / "x.csv", np.vstack([np.full(64, value), digits.X[0]]))
    rows = json.loads(cli("predict", model_file, "--json", "--csv", path, "--no-labels").stdout)["predictions"]
    assert [row["digit"] for row in rows] == [-1, 0]


def test_predict_image_answers_the_readable_pictures_says_which_were_not_read_and_exits_2(tmp_path, model_file, digits):
    good = _good_picture(tmp_path / "good.png", digits)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:60])  # a PNG's header, its data cut off
    missing = tmp_path / "missing.png"
    empty = _png(tmp_path / "empty.png", np.full((64, 64), 255))
    r = cli("predict", model_file, "--json", "--image", cut, "--image", good, "--image", missing, "--image", empty)
    assert r.exit_code == 2, r.output
    rows = json.loads(r.stdout)["predictions"]
    assert [row["picture"] for row in rows] == [str(cut), str(good), str(missing), str(empty)]
    assert rows[1]["digit"] == 0 and "error" not in rows[1]
    assert rows[3]["digit"] == -1 and "error" not in rows[3]
    for row, why in ((rows[0], "a PNG file that cannot be read: truncated or corrupt"), (rows[2], "no such file")):
        assert row["digit"] is None and row["likeliest"] is None and row["probabilities"] is None
        assert row["error"].startswith(f"{row['picture']}: {why}") and "reason" not in row
    errors = r.stderr.splitlines()  # one line for each, in order
    assert len(errors) == 2 and errors[0].startswith(f"error: {cut}: a PNG file") and "missing.png: no such file" in errors[1]
    r = cli("predict", model_file, "--image", good, "--image", cut)  # the table: the readable picture answered
    assert r.exit_code == 2
    rows = [line for line in r.stdout.splitlines() if ".png" in line]
    assert rows[0].split()[1:4] == ["good.png", "│", "0"] and "not read (its error is on stderr)" in rows[1]
    r = cli("predict", model_file, "--json", "--image", cut, "--image", missing)  # nothing readable: still JSON
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 2
    assert [row["digit"] for row in json.loads(r.stdout)["predictions"]] == [None, None]
    r = cli("predict", model_file, "--image", cut, "--image", missing)  # the table: nothing to show, the errors alone
    assert r.exit_code == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 2


def test_predict_image_names_pictures_escaped_and_told_apart(tmp_path, monkeypatch, model_file, digits):
    """The table names each picture by its file's name, escaped (a terminal's control codes are not sent raw), and by
    its path where two names are the same."""
    monkeypatch.chdir(tmp_path)
    for folder in ("a", "b", "c"):
        Path(folder).mkdir()
        _good_picture(Path(folder) / ("x.png" if folder != "c" else "esc\x1b[31mred.png"), digits)
    r = cli("predict", model_file, "--image", "a/x.png", "--image", "b/x.png", "--image", "c/esc\x1b[31mred.png")
    assert r.exit_code == 0, r.output
    names = [line.split()[1] for line in r.stdout.splitlines() if ".png" in line]
    assert names == ["a/x.png", "b/x.png", "esc\\x1b[31mred.png"] and "\x1b" not in r.stdout
