"""MNIST's IDX files and folders of pictures: readers, bad input, the official split, 28x28 models."""

import gzip
import hashlib
import json
import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import digitnet
from digitnet.cli import app
from digitnet.errors import DataError
from digitnet.data.idx import read_idx, read_mnist, write_idx
from digitnet.data import load_data
from digitnet.data.idx import load_mnist
from digitnet.data.images import load_image_folder

# the original files: $MNIST_DIR, else ../shared/data/mnist from the repository's root; without either (a CI clone in a
# temporary directory has no ../shared) the tests that need them skip, saying where they looked
SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
MNIST = next((p for p in (Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else None, SHARED_MNIST)
              if p is not None and p.is_dir()), SHARED_MNIST)
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason=f"MNIST's files are not at {MNIST}")


from webserver import TEMPLATES  # noqa: E402  the fake digits' block patterns, shared with the web tests


def digit_images(n, rng):
    """n fake 28x28 digits: class k is a fixed pattern of 4x4-pixel blocks (TEMPLATES[k]) over noise 0..40.
    Learnable, and still recognisable when moved by a pixel or two."""
    y = np.arange(n) % 10
    X = rng.integers(0, 40, size=(n, 28, 28)) + TEMPLATES[y]
    return X.astype(np.uint8), y.astype(np.uint8)


def write_mnist_dir(folder: Path, rng, n_train=120, n_test=40, sep="-", gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    X, y = digit_images(n_train + n_test, rng)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images{sep}idx3-ubyte{suffix}", X[:n_train])
    write_idx(folder / f"train-labels{sep}idx1-ubyte{suffix}", y[:n_train])
    write_idx(folder / f"t10k-images{sep}idx3-ubyte{suffix}", X[n_train:])
    write_idx(folder / f"t10k-labels{sep}idx1-ubyte{suffix}", y[n_train:])
    return X, y


# ---- the reader and the writer ------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("sep", ["-", "."])
def test_idx_directory_round_trip(tmp_path, rng, gz, sep):
    X, y = write_mnist_dir(tmp_path, rng, sep=sep, gz=gz)
    data = load_data(f"mnist:{tmp_path}")
    assert data.X.dtype == np.uint8 and data.X.shape == (160, 784)
    np.testing.assert_array_equal(data.X, X.reshape(160, -1))
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.test_rows, np.arange(120, 160))  # the t10k files, not a random split
    assert data.inputs.image_shape == (28, 28) and data.inputs.value_range == (0, 255)
    assert load_data(str(tmp_path)).source == data.source  # a directory of IDX files needs no prefix


def test_gzip_is_recognised_by_its_bytes_not_its_name(tmp_path, rng):
    X, _ = digit_images(5, rng)
    raw_named_gz = tmp_path / "a.gz"
    gz_named_raw = tmp_path / "b"
    write_idx(raw_named_gz, X, compress=False)
    write_idx(gz_named_raw, X, compress=True)
    assert gz_named_raw.read_bytes()[:2] == b"\x1f\x8b" and raw_named_gz.read_bytes()[:2] == b"\0\0"
    for path in (raw_named_gz, gz_named_raw):
        np.testing.assert_array_equal(read_idx(path, ndim=3)[0], X)


def _header(dims, type_code=0x08):
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


BAD_FILES = [
    ("wrong magic", b"\x12\x34\x08\x03" + bytes(8), 3, "not an IDX file (wrong magic number"),
    ("empty", b"", 3, "not an IDX file"),
    ("type code", _header((2, 2, 2), 0x0D) + bytes(32), 3, "type code 0x0d is not supported"),
    ("labels as images", _header((4,)) + bytes(4), 3, "has 1 dimensions; expected images"),
    ("header truncated", _header((2, 28, 28))[:9], 3, "truncated in its header"),
    ("data truncated", _header((3, 28, 28)) + bytes(2 * 784), 3, "truncated: the header announces 3x28x28 = 2,352 values"),
    ("data too long", _header((1, 28, 28)) + bytes(785), 3, "longer than its header says"),
    # raw: the file's size gives it away; gzipped: more than this machine's memory, refused before reading
    ("huge claim", _header((4_000_000_000, 28, 28)) + bytes(784), 3, "truncated: the header announces|GiB to read and train on"),
    ("no values", _header((0, 28, 28)), 3, "holds no values"),
]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("content, ndim, message", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_idx_files_name_the_file_and_the_problem(tmp_path, content, ndim, message, gz):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(content) if gz else content)
    tracemalloc.start()
    with pytest.raises(DataError, match=message.replace("(", r"\(")) as e:
        read_idx(path, ndim=ndim)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(path) in str(e.value)
    assert peak < 8 << 20  # a header claiming 3 TB allocates nothing of the kind


def test_corrupt_gzip(tmp_path, rng):
    X, _ = digit_images(20, rng)
    path = write_idx(tmp_path / "x.gz", X)
    data = bytearray(path.read_bytes())
    middle = data.copy()
    middle[len(data) // 2 : len(data) // 2 + 50] = bytes(50)
    path.write_bytes(bytes(middle))
    with pytest.raises(DataError, match="corrupt gzip data|truncated|longer than its header says"):
        read_idx(path, ndim=3)
    checksum = data.copy()
    checksum[-8] ^= 0xFF  # the CRC-32 of the uncompressed bytes
    path.write_bytes(bytes(checksum))
    with pytest.raises(DataError, match="x.gz: corrupt gzip data"):
        read_idx(path, ndim=3)
    path.write_bytes(bytes(data[:-20]))  # cut short
    with pytest.raises(DataError, match="x.gz: corrupt gzip data|x.gz: truncated"):
        read_idx(path, ndim=3)


def test_directory_problems(tmp_path, rng):
    with pytest.raises(DataError, match="no such directory"):
        load_mnist(tmp_path / "nowhere")
    write_mnist_dir(tmp_path / "a", rng)
    (tmp_path / "a" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing t10k-labels-idx1-ubyte\[.gz\]"):
        load_mnist(tmp_path / "a")
    write_mnist_dir(tmp_path / "b", rng)
    write_idx(tmp_path / "b" / "train-labels-idx1-ubyte.gz", np.zeros(119, np.uint8))
    with pytest.raises(DataError, match="120 images but train-labels-idx1-ubyte.gz has 119 labels"):
        load_mnist(tmp_path / "b")
    write_mnist_dir(tmp_path / "c", rng)
    labels = np.zeros(40, np.uint8)
    labels[7] = 12
    write_idx(tmp_path / "c" / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match="label 12 at position 7 is out of range; expected 0..9"):
        load_mnist(tmp_path / "c")


@pytest.mark.parametrize("break_it, message", [
    (lambda d: (d / "train-images-idx3-ubyte.gz").write_bytes(b"\0\0\x08\x03garbage"), "truncated in its header"),
    (lambda d: (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_header((40,)) + bytes(39))), "truncated"),
    (lambda d: [p.unlink() for p in d.glob("t10k-*")], "missing t10k-images"),
])
def test_cli_bad_idx_is_one_line_and_writes_nothing(tmp_path, rng, break_it, message):
    folder = tmp_path / "mnist"
    write_mnist_dir(folder, rng)
    break_it(folder)
    r = CliRunner().invoke(app, ["train", "--data", f"mnist:{folder}", "--quiet", "--out", str(tmp_path / "m.safetensors")])
    assert r.exit_code == 2, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("names", [
    # EMNIST's shipped names, Fashion-MNIST's (MNIST's), and the 'test' spelling of the test split
    ("emnist-digits-train-images-idx3-ubyte.gz", "emnist-digits-train-labels-idx1-ubyte.gz",
     "emnist-digits-test-images-idx3-ubyte.gz", "emnist-digits-test-labels-idx1-ubyte.gz"),
    ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    ("my_set.train-images.idx3-ubyte", "my_set.train-labels.idx1-ubyte", "my_set.test-images.idx3-ubyte",
     "my_set.test-labels.idx1-ubyte"),
], ids=["emnist", "mnist", "prefix and test"])
def test_idx_file_names_with_a_prefix_and_test_for_t10k(tmp_path, rng, names):
    X, y = digit_images(50, rng)
    for name, array in zip(names, (X[:30], y[:30], X[30:], y[30:])):
        write_idx(tmp_path / name, array, compress=name.endswith(".gz"))
    (tmp_path / "README.txt").write_text("not an IDX file")
    for spec in (f"mnist:{tmp_path}", str(tmp_path)):
        data = load_data(spec)
        np.testing.assert_array_equal(data.X, X.reshape(50, -1))
        np.testing.assert_array_equal(data.test_rows, np.arange(30, 50))
        assert sorted(data.source["sha256"]) == sorted(names)


def test_two_idx_data_sets_in_one_folder_are_ambiguous(tmp_path, rng):
    X, y = digit_images(20, rng)
    for prefix in ("emnist-digits-", "emnist-mnist-"):
        for part, images, labels in (("train", X[:10], y[:10]), ("test", X[10:], y[10:])):
            write_idx(tmp_path / f"{prefix}{part}-images-idx3-ubyte.gz", images)
            write_idx(tmp_path / f"{prefix}{part}-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match="holds several IDX data sets \\('emnist-digits-train-images-...', "
                                        "'emnist-mnist-train-images-...'\\); put each in a folder of its own"):
        load_mnist(tmp_path)


def _gzip_of_zeros(path, header: bytes, n: int):
    """A gzip file of ``header`` then ``n`` zero bytes, compressed as they go (a 'bomb': tiny outside, large inside)."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        block = bytes(1 << 20)
        for start in range(0, n, len(block)):
            f.write(block[: min(len(block), n - start)])


def test_an_idx_data_set_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    from digitnet import memory

    n = 64_000  # 64,000 28x28 images: 50 MB inside 50 KB of gzip, headers that match their content
    _gzip_of_zeros(tmp_path / "train-images-idx3-ubyte.gz", _header((n, 28, 28)), n * 784)
    _gzip_of_zeros(tmp_path / "train-labels-idx1-ubyte.gz", _header((n,)), n)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(10, np.uint8))
    monkeypatch.setattr(memory, "physical_memory", lambda: 100 << 20)  # a machine of 100 MiB: 250 MB do not fit
    tracemalloc.start()
    with pytest.raises(DataError, match=r"64,010 images of 28x28 need 0.2 GiB to read and train on .* this machine has 0.1 GiB"):
        load_mnist(tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20  # the headers and four read buffers: nothing of the 50 MB was read


def test_idx_files_are_read_into_one_array_without_a_second_copy(tmp_path, rng):
    X = rng.integers(0, 256, size=(20_000, 28, 28), dtype=np.uint8)  # 15.7 MB
    for gz in (True, False):
        path = write_idx(tmp_path / f"x{int(gz)}", X, compress=gz)
        tracemalloc.start()
        values, _ = read_idx(path, ndim=3)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        np.testing.assert_array_equal(values, X)
        assert peak < X.nbytes * 1.2, (gz, peak / X.nbytes)  # the array, and buffers of a megabyte or two


def test_an_idx_file_that_is_a_fifo_is_refused_without_blocking(tmp_path, rng):
    write_mnist_dir(tmp_path, rng)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    os.mkfifo(tmp_path / "t10k-labels-idx1-ubyte.gz")  # nobody writes to it: reading would wait for ever
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: is a FIFO \\(named pipe\\), not a regular file"):
        load_mnist(tmp_path)


# ---- the official split, end to end ---------------------------------------------------------------------


def test_train_on_an_mnist_directory_keeps_the_official_split(tmp_path, rng):
    folder = tmp_path / "mnist"
    write_mnist_dir(folder, rng, n_train=300, n_test=100)
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(app, ["train", "--data", f"mnist:{folder}", "--epochs", "6", "--quiet", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["test"]["n_test"] == 100 and summary["test"]["accuracy"] > 0.9  # bars are easy
    model = digitnet.load(out)
    np.testing.assert_array_equal(model.test_indices, np.arange(300, 400))
    assert model.inputs.image_shape == (28, 28) and model.data_source["kind"] == "mnist"
    r = CliRunner().invoke(app, ["evaluate", str(out), "--json"])  # finds the t10k files again
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accuracy"] == summary["test"]["accuracy"]
    for kind in ("digits", "weights"):
        r = CliRunner().invoke(app, ["plot", kind, str(out), "--out", str(tmp_path / f"{kind}.png")])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "weights.png").stat().st_size > 10_000
    write_mnist_dir(folder, np.random.default_rng(99), n_train=300, n_test=100)  # the files change
    r = CliRunner().invoke(app, ["evaluate", str(out)])
    assert r.exit_code == 2 and "has changed since" in r.stderr


def test_augmentation_trains_on_28x28_and_is_reproducible(tmp_path, rng):
    folder = tmp_path / "mnist"
    write_mnist_dir(folder, rng, n_train=200, n_test=50)
    data = load_mnist(folder)
    config = digitnet.Config(epochs=4, augment=2, patience=None, val_fraction=0.0)
    a, b = digitnet.train(data, config), digitnet.train(data, config)
    plain = digitnet.train(data, digitnet.Config(epochs=4, patience=None, val_fraction=0.0))
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], plain.params["W1"])
    assert a.metrics["accuracy"] > 0.8


@needs_mnist
def test_the_real_mnist_files():
    for name, md5 in MD5.items():
        assert hashlib.md5((MNIST / name).read_bytes()).hexdigest() == md5
    X, y, shape, n_train, *_ = read_mnist(MNIST)
    assert X.shape == (70_000, 784) and X.dtype == np.uint8 and shape == (28, 28) and n_train == 60_000
    assert y[0] == 5 and y[n_train] == 7
    assert np.bincount(y[:n_train]).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y[n_train:]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist
def test_a_short_run_on_real_mnist_reaches_its_floor():
    data = load_mnist(MNIST)
    model = digitnet.train(data, digitnet.Config(epochs=1, batch_size=128, lr=0.005, patience=None, val_fraction=0.0))
    assert model.metrics["n_test"] == 10_000
    assert model.metrics["accuracy"] > 0.94  # one epoch; 95.5-96% measured


# ---- folders of pictures --------------------------------------------------------------------------------


def write_png_folder(folder: Path, X: np.ndarray, y: np.ndarray, *, invert=False, size=None):
    from PIL import Image

    for i, (image, label) in enumerate(zip(X, y)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(255 - image if invert else image)
        if size is not None:
            picture = picture.resize(size)
        picture.save(folder / str(label) / f"{i:04d}.png")


@needs_mnist
def test_a_folder_of_mnist_pngs_round_trips(tmp_path):
    X, y, _, n_train, *_ = read_mnist(MNIST)
    images, labels = X[n_train : n_train + 60].reshape(-1, 28, 28), y[n_train : n_train + 60]
    write_png_folder(tmp_path / "light", images, labels)
    write_png_folder(tmp_path / "dark", images, labels, invert=True)  # dark ink on white paper
    light = load_image_folder(tmp_path / "light")
    dark = load_data(f"images:{tmp_path / 'dark'}")
    np.testing.assert_array_equal(light.y, np.sort(labels, kind="stable"))
    np.testing.assert_allclose(light.X, dark.X, atol=1)
    order = np.argsort(labels, kind="stable")
    original = images[order].reshape(60, -1).astype(float)
    # MNIST's digits are already in MNIST's frame: preprocessing them again changes little
    correlation = [np.corrcoef(a, b)[0, 1] for a, b in zip(light.X, original)]
    assert np.median(correlation) > 0.9 and min(correlation) > 0.6


def test_image_folder_bad_input(tmp_path, rng):
    X, y = digit_images(4, rng)
    with pytest.raises(DataError, match="no such directory"):
        load_image_folder(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no sub-folders"):
        load_image_folder(tmp_path / "empty")
    (tmp_path / "nopics" / "3").mkdir(parents=True)
    with pytest.raises(DataError, match="no PNG, JPEG or TIFF pictures"):
        load_image_folder(tmp_path / "nopics")
    (tmp_path / "names" / "cat").mkdir(parents=True)
    with pytest.raises(DataError, match="sub-folder 'cat' is not a class number"):
        load_image_folder(tmp_path / "names")
    write_png_folder(tmp_path / "mixed", X[:2], y[:2])
    write_png_folder(tmp_path / "mixed", X[2:3], y[2:3], size=(30, 30))
    with pytest.raises(DataError, match="30x30 pixels, but 0000.png is 28x28"):
        load_image_folder(tmp_path / "mixed")
    write_png_folder(tmp_path / "corrupt", X[:2], y[:2])
    (tmp_path / "corrupt" / "1" / "0009.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match=r"0009.png: a PNG file that cannot be read: truncated or corrupt"):
        load_image_folder(tmp_path / "corrupt")
    write_png_folder(tmp_path / "blank", np.zeros((2, 28, 28), np.uint8), y[:2])
    with pytest.raises(DataError, match="no digit found"):
        load_image_folder(tmp_path / "blank")


def test_a_changed_picture_folder_is_hashed_again_never_decoded(tmp_path, rng, monkeypatch):
    from digitnet import preprocess
    from digitnet.data import held_out
    from digitnet.errors import NoTestDataError

    X, y = digit_images(40, rng)
    write_png_folder(tmp_path / "pics", X, y)
    model = digitnet.train(load_image_folder(tmp_path / "pics"), digitnet.Config.from_recipe("modern", epochs=1))
    assert model.data_source["size"] == sum(p.stat().st_size for p in (tmp_path / "pics").rglob("*.png"))
    assert len(held_out(model)[1]) == 10
    (tmp_path / "pics" / "3" / "0003.png").write_bytes((tmp_path / "pics" / "3" / "0013.png").read_bytes())
    monkeypatch.setattr(preprocess, "ink_from_image", lambda data: pytest.fail("decoded a folder that changed"))
    with pytest.raises(NoTestDataError, match="pics: its pictures are not the ones recorded"):
        held_out(model)


def test_train_on_pictures_and_predict_a_picture(tmp_path, rng):
    X, y = digit_images(200, rng)
    write_png_folder(tmp_path / "pics", X, y)
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(app, ["train", "--data", f"images:{tmp_path / 'pics'}", "--epochs", "8", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    model = digitnet.load(out)
    assert model.inputs.image_shape == (28, 28) and model.data_source["kind"] == "images"
    picture = tmp_path / "pics" / "3" / "0003.png"
    r = CliRunner().invoke(app, ["predict", str(out), "--image", str(picture), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["predictions"][0]["likeliest"] == 3
    r = CliRunner().invoke(app, ["evaluate", str(out), "--json"])  # its held-out split, found again
    assert r.exit_code == 0 and json.loads(r.stdout)["accuracy"] > 0.8
    (tmp_path / "blank.png").write_bytes((tmp_path / "pics" / "3" / "0003.png").read_bytes())
    from PIL import Image

    Image.new("L", (28, 28), 255).save(tmp_path / "blank.png")
    r = CliRunner().invoke(app, ["predict", str(out), "--image", str(tmp_path / "blank.png"), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["predictions"][0]["digit"] == -1  # no digit, as the API says
