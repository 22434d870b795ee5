"""Decoding pictures (pictures.read_picture): the formats read and refused, pictures deeper than 8 bits,
EXIF orientation, and big pictures reduced while they are decoded."""

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from digitnet.errors import DataError, UnsupportedPictureError
from digitnet.pictures import MAX_SIDE, read_picture
from digitnet.preprocess import ink_from_image, to_input


@pytest.fixture(scope="module")
def seven(digits) -> np.ndarray:
    """A clear 7 from the training digits, dark ink on white paper, 96x96 grey levels 0..255 (uint8)."""
    x8 = digits.X[np.flatnonzero(digits.y == 7)[0]]
    ink = Image.fromarray((x8.reshape(8, 8) * 255 / 16).astype(np.uint8)).resize((96, 96), Image.Resampling.BILINEAR)
    return 255 - np.asarray(ink)


def saved(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png_16bit(grey: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG written by hand (no sBIT chunk: nothing says how many bits are used)."""
    height, width = grey.shape
    raw = b"".join(b"\0" + grey[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def deep_pictures(seven: np.ndarray) -> dict[str, bytes]:
    """The same 7 stored deeper than 8 bits, each scaled to its container's range."""
    g = seven.astype(np.float64) / 255
    return {
        "16-bit PNG": png_16bit(np.round(g * 65535)),
        "12-bit values in a 16-bit PNG": png_16bit(np.round(g * 4095)),
        "16-bit TIFF": saved(Image.fromarray(np.round(g * 65535).astype(np.uint16)), "TIFF"),
        "32-bit integer TIFF": saved(Image.fromarray(np.round(g * (2**31 - 1)).astype(np.int32)), "TIFF"),
        "32-bit integer TIFF of 16-bit values": saved(Image.fromarray(np.round(g * 65535).astype(np.int32)), "TIFF"),
        "float TIFF 0..1": saved(Image.fromarray(g.astype(np.float32)), "TIFF"),
        "float TIFF 0..255": saved(Image.fromarray((g * 255).astype(np.float32)), "TIFF"),
    }


@pytest.mark.parametrize("kind", list(deep_pictures(np.zeros((2, 2)))))
def test_pictures_deeper_than_8_bits_are_scaled_by_their_range(seven, small_model, kind):
    grey, alpha = read_picture(deep_pictures(seven)[kind])
    assert alpha is None and grey.shape == seven.shape
    np.testing.assert_allclose(grey, seven, atol=1.0)  # the 8-bit picture's grey levels, give or take rounding
    x = to_input(ink_from_image(deep_pictures(seven)[kind]))
    assert x is not None and small_model.predict(x[None])[0] == 7


def test_a_float_picture_with_nan_is_refused(seven):
    g = seven.astype(np.float32) / 255
    g[3, 3] = np.nan
    with pytest.raises(DataError, match="not finite"):
        read_picture(saved(Image.fromarray(g), "TIFF"))


# Orientation 6: the stored pixels are the picture turned a quarter counter-clockwise; a viewer turns them back
@pytest.mark.parametrize("format", ["JPEG", "PNG", "TIFF"])
def test_exif_orientation_is_applied(seven, format):
    upright = Image.fromarray(np.pad(seven, ((0, 0), (0, 40)), constant_values=255))  # 96 high, 136 wide
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 136 high, 96 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    grey, _ = read_picture(saved(stored, format, exif=exif.tobytes()))
    assert grey.shape == (96, 136)
    np.testing.assert_allclose(grey, np.asarray(upright), atol=12 if format == "JPEG" else 0)


def test_a_photo_stored_sideways_reads_as_its_digit(seven, small_model):
    stored = Image.fromarray(seven).transpose(Image.Transpose.ROTATE_90).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    x = to_input(ink_from_image(saved(stored, "JPEG", quality=95, exif=exif.tobytes())))
    assert small_model.predict(x[None])[0] == 7


# ---- formats: PNG, JPEG and TIFF are read; no other decoder ever runs ----------------------------------------


def _refused_pictures() -> dict[str, bytes]:
    picture = Image.fromarray(np.full((16, 16), 200, np.uint8))
    made = {name: saved(picture if name != "ICO" else picture.convert("RGBA"), name)
            for name in ("GIF", "WEBP", "BMP", "ICO", "TGA", "PCX", "PPM")}
    made["EPS"] = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n"
    made["AVIF"] = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + bytes(64)
    return made


@pytest.mark.parametrize("name", sorted(_refused_pictures()))
def test_other_formats_are_refused_naming_them(name, monkeypatch):
    from PIL import EpsImagePlugin

    def never(*args, **kwargs):
        raise AssertionError("the EPS plugin ran")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    with pytest.raises(UnsupportedPictureError) as refused:
        read_picture(_refused_pictures()[name])
    assert str(refused.value) == f"a picture in {name} format: digitnet reads PNG, JPEG and TIFF pictures only; convert it to PNG"


def test_bytes_of_no_picture_are_refused():
    with pytest.raises(UnsupportedPictureError, match="^not a PNG, JPEG or TIFF picture"):
        read_picture(b"hello, not a picture")


@pytest.mark.parametrize("format, keep", [("PNG", 8), ("PNG", 33), ("JPEG", 20), ("TIFF", 8)])
def test_a_truncated_picture_is_said_truncated(seven, format, keep):
    """A picture cut after its signature or its header was called "not a PNG, JPEG or TIFF picture"."""
    buffer = io.BytesIO()
    Image.fromarray(seven).save(buffer, format=format)
    data = buffer.getvalue()
    with pytest.raises(DataError, match=f"^a {format} file that cannot be read: truncated or corrupt"):
        read_picture(data[:keep])


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_jpeg_cut_in_its_data_is_said_truncated_in_plain_words(seven, keep):
    """Cut inside its compressed data, a JPEG was "not a readable PNG, JPEG or TIFF picture (image file is truncated
    (8 bytes not processed))": Pillow's words."""
    big = np.kron(seven, np.ones((8, 8), dtype=np.uint8))
    data = saved(Image.fromarray(big), "JPEG")
    with pytest.raises(DataError) as error:
        read_picture(data[: int(len(data) * keep)])
    assert str(error.value) == "a JPEG file that cannot be read: truncated or corrupt (it starts as a JPEG does); save it again"


def test_an_empty_file_is_said_empty(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    for source in (b"", str(tmp_path / "empty.png")):
        with pytest.raises(UnsupportedPictureError) as error:
            read_picture(source)
        assert str(error.value).endswith("an empty file (no bytes): save the picture again")


@pytest.mark.parametrize("format", ["PNG", "JPEG", "TIFF"])
def test_the_formats_read(seven, format):
    grey, alpha = read_picture(saved(Image.fromarray(seven), format))
    assert alpha is None and grey.dtype == np.float64
    np.testing.assert_allclose(grey, seven, atol=12 if format == "JPEG" else 0)


# ---- big pictures: decoded small, memory proportional to what the network needs ---------------------------


@pytest.mark.parametrize("format, mode", [("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "L"), ("TIFF", "I;16")])
def test_big_pictures_are_reduced_while_decoding(format, mode):
    rng = np.random.default_rng(0)
    side = 4096
    if mode == "I;16":
        picture = Image.fromarray(rng.integers(0, 65535, (side, side), dtype=np.uint16))
    else:
        picture = Image.fromarray(rng.integers(0, 255, (side, side, len(mode)), dtype=np.uint8).squeeze())
        picture = picture.convert(mode)
        if mode == "RGBA":  # some transparency, so that the opacity comes back too
            picture.putalpha(Image.fromarray(rng.integers(0, 255, (side, side), dtype=np.uint8)))
    data = saved(picture, format)
    tracemalloc.start()
    grey, alpha = read_picture(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert max(grey.shape) <= MAX_SIDE and min(grey.shape) >= MAX_SIDE // 2
    assert grey.dtype == np.float64 and grey.nbytes <= MAX_SIDE**2 * 8
    assert (alpha is not None) == (mode == "RGBA")
    # NumPy's arrays at their largest: a few of the reduced picture, never the 4096x4096 one (134 MB in float64)
    assert peak < 8 * MAX_SIDE**2 * 8, peak


def test_a_big_clear_digit_is_still_read(seven, small_model):
    big = Image.fromarray(seven).resize((3000, 3000), Image.Resampling.NEAREST)
    x = to_input(ink_from_image(saved(big, "PNG")))
    assert small_model.predict(x[None])[0] == 7


def test_a_pil_image_is_taken_as_it_is(seven):
    grey, _ = read_picture(Image.fromarray(seven))
    np.testing.assert_array_equal(grey, seven)



def test_picture_folders_read_tiff_and_refuse_other_formats_in_one_line(tmp_path, seven, digits):
    from digitnet.data.images import load_image_folder

    one = 255 - np.asarray(Image.fromarray((digits.X[np.flatnonzero(digits.y == 1)[0]].reshape(8, 8) * 255 / 16)
                                           .astype(np.uint8)).resize((96, 96), Image.Resampling.BILINEAR))
    for label, picture in ((7, seven), (1, one)):
        (tmp_path / "pics" / str(label)).mkdir(parents=True)
        (tmp_path / "pics" / str(label) / "a.png").write_bytes(saved(Image.fromarray(picture), "PNG"))
        (tmp_path / "pics" / str(label) / "b.tif").write_bytes(saved(Image.fromarray(picture), "TIFF"))
    data = load_image_folder(tmp_path / "pics")
    assert sorted(data.y.tolist()) == [1, 1, 7, 7]
    (tmp_path / "pics" / "7" / "c.png").write_bytes(saved(Image.fromarray(seven), "GIF"))  # a GIF by another name
    with pytest.raises(DataError) as refused:
        load_image_folder(tmp_path / "pics")
    message = str(refused.value)
    assert message.endswith("c.png: a picture in GIF format: digitnet reads PNG, JPEG and TIFF pictures only; "
                            "convert it to PNG") and "\n" not in message


def test_a_cameras_photo_is_read_and_only_a_jpeg_may_be_that_large(seven, small_model):
    """A 20-megapixel JPEG (a phone's camera) is decoded at an eighth of its side and read; the same pixels as a
    PNG, which cannot be decoded reduced, are refused, as is a JPEG over MAX_JPEG_PIXELS."""
    from digitnet.errors import TooLargeError
    from digitnet.pictures import MAX_JPEG_PIXELS, MAX_PIXELS

    photo = Image.fromarray(seven).resize((5000, 4000), Image.Resampling.NEAREST)
    assert MAX_PIXELS < 5000 * 4000 < MAX_JPEG_PIXELS
    grey, _ = read_picture(saved(photo, "JPEG"))
    assert max(grey.shape) <= MAX_SIDE
    assert small_model.predict(to_input(ink_from_image(saved(photo, "JPEG")))[None])[0] == 7
    with pytest.raises(TooLargeError, match="5000x4000 pixels is too large; the limit is 16,777,216 pixels$"):
        read_picture(saved(photo, "PNG"))
    with pytest.raises(TooLargeError, match="8200x8200 pixels is too large; the limit is 67,108,864 pixels .for a JPEG.$"):
        read_picture(saved(Image.new("L", (8200, 8200), 255), "JPEG"))
