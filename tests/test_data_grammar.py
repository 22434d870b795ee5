"""The --data grammar: ~ expanded in every kind's path, empty paths and repeated sources refused, a file where a
folder is expected said so."""

from pathlib import Path

import numpy as np
import pytest

from digitnet.data.sources import input_files, load_data, parse
from digitnet.errors import DataError

from conftest import write_csv


@pytest.mark.parametrize("kind", ["mnist", "images", "images8", "unipen", "unipen8"])
def test_a_tilde_is_the_home_folder_in_every_kind(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse(f"{kind}:~/data/x").path == tmp_path / "data" / "x"


def test_a_tilde_csv_is_read_from_the_home_folder(tmp_path, monkeypatch, digits):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_csv(tmp_path / "d.csv", digits.X[:30], digits.y[:30])
    assert parse("~/d.csv").path == tmp_path / "d.csv"
    assert np.array_equal(load_data("~/d.csv").X, digits.X[:30])
    assert input_files("~/d.csv") == [tmp_path / "d.csv"]


@pytest.mark.parametrize("spec, message", [
    ("", "--data '': empty"),
    ("  ", "--data '  ': empty"),
    ("images:", "--data 'images:': no path after the colon (write images:DIR)"),
    ("unipen:", "--data 'unipen:': no path after the colon (write unipen:FILE)"),
    ("mnist:", "--data 'mnist:': no path after the colon (write mnist:DIR)"),
])
def test_an_empty_path_is_an_error_not_the_current_folder(spec, message):
    with pytest.raises(DataError) as e:
        parse(spec)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("kind, what", [("mnist", "MNIST's IDX files"), ("images", "sub-folder of pictures")])
def test_a_file_where_a_folder_is_expected_is_not_called_missing(tmp_path, kind, what):
    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match=f"f: not a directory .*{what}"):
        load_data(f"{kind}:{tmp_path / 'f'}")
    with pytest.raises(DataError, match="gone: no such directory"):
        load_data(f"{kind}:{tmp_path / 'gone'}")


def test_the_same_source_twice_is_refused(tmp_path, digits):
    path = write_csv(tmp_path / "d.csv", digits.X[:30], digits.y[:30])
    with pytest.raises(DataError, match="--data digits names the same data as --data digits"):
        load_data(["digits", "digits"])
    with pytest.raises(DataError, match="names the same data"):
        load_data([str(path), str(tmp_path / "." / "d.csv")])
    assert len(load_data(["digits", str(path)]).X) == len(digits.X) + 30
