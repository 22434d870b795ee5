"""Messages that say what the input holds: a CSV cell as written, another separator than commas, a CSV of the
wrong width for the model."""

import numpy as np
import pytest
from typer.testing import CliRunner

from digitnet.cli import app
from digitnet.data import read_csv
from digitnet.errors import DataError, exact


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("value, text", [(255.000001, "255.000001"), (np.float32(16.000001), "16.000002"),
                                         (0.0, "0"), (1e40, "1e+40"), (-3.5, "-3.5")])
def test_exact_keeps_every_digit_its_dtype_holds(value, text):
    assert exact(value) == text


@pytest.mark.parametrize("cell, message", [("1e40", "column 3: '1e40' is too large"),
                                           ("-1E39", "column 3: '-1E39' is too large"),
                                           ("inf", "column 3: 'inf' is not a finite number")])
def test_a_cell_too_large_for_float32_is_named_as_written(tmp_path, cell, message):
    path = tmp_path / "big.csv"
    path.write_text("\n".join(",".join(["0"] * 64 + ["1"]) for _ in range(2)).replace("0,0,0", f"0,0,{cell}", 1) + "\n")
    with pytest.raises(DataError) as e:
        read_csv(path)
    assert str(e.value) == f"{path}, line 1, {message}"


def test_a_pixel_just_out_of_range_is_shown_with_its_digits(tmp_path):
    path = tmp_path / "over.csv"
    path.write_text(",".join(["16.5"] + ["0"] * 63 + ["1"]) + "\n")
    with pytest.raises(DataError, match=r"line 1, column 1: pixel 16.5 is outside 0..16$"):
        read_csv(path)


@pytest.mark.parametrize("sep, name", [(";", "';'"), ("\t", "tabs"), (" ", "spaces")])
def test_another_separator_is_said_not_taken_for_a_header(tmp_path, sep, name):
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(sep.join(["0"] * 64 + ["1"]) for _ in range(3)) + "\n")
    with pytest.raises(DataError) as e:
        read_csv(path)
    assert str(e.value).startswith(f"{path}, line 1: one column of values separated by {name}; digitnet reads "
                                   "comma-separated values: expected 65 columns")


def test_predict_csv_names_the_models_shape_and_what_to_pass(tmp_path, model_file):
    path = tmp_path / "digits.csv"
    path.write_text("\n".join(",".join(["0"] * 64 + ["1"]) for _ in range(2)) + "\n")
    r = cli("predict", "--csv", path)  # the shipped 28x28 drawing model
    assert r.exit_code == 2
    assert r.stderr.strip().endswith(
        "got 65; the shipped drawing model takes 784 values (a 28x28 image) per row: for 8x8 digits (64 columns), "
        "pass an 8x8 model: digitnet predict MODEL.safetensors --csv FILE")
    assert cli("predict", model_file, "--csv", path).exit_code == 0
    text = cli("predict", "--help").stdout
    assert "64 values 0..16" in text and "784 values 0..255" in text and "CSV of 64 pixels" not in text
