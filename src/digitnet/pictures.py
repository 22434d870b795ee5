"""Reading a picture file into grey levels (and opacity): the first step of :func:`.preprocess.ink_from_image`.

Decoding only; what is ink and what is paper is :mod:`.preprocess`'s business. What is decoded:

- formats: PNG, JPEG and TIFF (scanners write TIFF), opened by those three decoders only, so that no
  other of Pillow's decoders ever runs on uploaded bytes (EPS would start Ghostscript); every other
  format is refused by name;
- depth: 8-bit pictures as they are; deeper ones (16- and 32-bit integers, floats) scaled by their
  range, not clipped (:func:`_full_scale`);
- orientation: the EXIF Orientation tag applied, as a viewer shows the picture;
- size: pictures whose longer side exceeds MAX_SIDE reduced by a whole factor while decoding (JPEG's
  DCT scaling, then box averages), so memory follows what the network needs, not the camera;
  pictures over MAX_PIXELS (JPEGs: MAX_JPEG_PIXELS) are refused before their pixels are decoded.
"""

from __future__ import annotations

import io
import math
import re
import warnings

import numpy as np

from .errors import DataError, TooLargeError, UnsupportedPictureError

MAX_PIXELS = 4096 * 4096  # larger pictures are refused (decompression bombs)
# JPEGs are decoded at 1/8 of their side when that is what MAX_SIDE needs (DCT scaling: what is decoded is never
# whole), so a camera's 20-50 megapixel photo is read; 64 megapixels are decoded into at most a megapixel
MAX_JPEG_PIXELS = 8192 * 8192
# Longer side of the decoded picture: a digit must span 4% of it (preprocess.MIN_INK_SHARE), so at least 41
# pixels, against the 20 or 32 of the network's own frame; a phone's 4032x3024 photo is decoded at 1008x756
MAX_SIDE = 1024
FORMATS = ("PNG", "JPEG", "TIFF")  # Pillow's names; JPEG includes the MPO pictures of phones
READS = "PNG, JPEG and TIFF pictures only"
# full scales (2^bits - 1) of the depths deep pictures use: 8 bits; 10, 12, 14 and 16 bits of cameras and
# scanners in 16-bit containers; 24 bits; signed and unsigned 32 bits
_FULL_SCALES = (0xFF, 0x3FF, 0xFFF, 0x3FFF, 0xFFFF, 0xFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF)
# the first bytes of formats that are refused, to name them in the message (nothing is decoded)
_SIGNATURES = tuple((re.compile(pattern, re.S), name) for pattern, name in (
    (rb"GIF8", "GIF"), (rb"RIFF....WEBP", "WEBP"), (rb"BM", "BMP"), (rb"\x00\x00\x01\x00", "ICO"), (rb"\x00\x00\x02\x00", "CUR"),
    (rb"%!PS|\xc5\xd0\xd3\xc6", "EPS"), (rb"....ftypavi[fs]", "AVIF"), (rb"....ftyp(heic|heix|mif1)", "HEIF"),
    (rb"\x0a[\x00\x02-\x05]\x01", "PCX"), (rb"P[1-7fF]\s", "PPM"), (rb"\xff\x0a|\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (rb"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (rb"8BPS", "PSD"), (rb"DDS ", "DDS"), (rb"qoif", "QOI"), (rb"icns", "ICNS"),
    (rb"\x59\xa6\x6a\x95", "Sun raster"), (rb"%PDF", "PDF"), (rb"\s*(<\?xml|<svg)", "SVG"), (rb"FORM", "IFF"),
    (rb"SIMPLE", "FITS"), (rb"#\?RADIANCE", "HDR"),
    # TGA has no signature: an ID length, a colour-map flag 0 or 1, then an image type (1-3; 9-11 compressed)
    (rb".[\x00\x01][\x01\x02\x03\x09\x0a\x0b]", "TGA"),
))


_OWN_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def read_picture(source: bytes | str | object) -> tuple[np.ndarray, np.ndarray | None]:
    """The grey levels (H, W) float64 in 0..255 of a picture (file bytes, a path, or a PIL image), and its
    opacity (H, W) float64 in 0..255 when some of it is transparent, else None.

    Pictures with a side over MAX_SIDE come back reduced (H, W <= MAX_SIDE). Raises TooLargeError for
    pictures over MAX_PIXELS pixels, JPEGs over MAX_JPEG_PIXELS (checked before decoding), UnsupportedPictureError for formats other
    than PNG, JPEG and TIFF (and bytes of no picture), DataError for truncated or corrupt ones.
    """
    from PIL import Image, ImageOps

    image = source
    if not isinstance(source, Image.Image):
        image = _decode(source)
    image = _reduce(image)
    with warnings.catch_warnings():  # a corrupt EXIF block is no orientation (Pillow warns, and reads on)
        warnings.simplefilter("ignore", UserWarning)
        image = ImageOps.exif_transpose(image)  # after reducing: a quarter turn of the small picture
    if image.mode in _DEEP_MODES:
        return _deep_grey(image, source), None
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"))  # uint8: a quarter of the float64 array it becomes
        if rgba[..., 3].min() < 255:
            return rgba[..., :3].mean(axis=2), rgba[..., 3].astype(np.float64)
    return np.asarray(image.convert("L"), dtype=np.float64), None


def _decode(source):
    """The opened, loaded picture of file bytes or a path, its size checked first; JPEGs decoded reduced."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # warned while reading the header: refused
            warnings.simplefilter("ignore", UserWarning)  # a corrupt EXIF block, say: Pillow reads on, so do we
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=FORMATS)
            limit = MAX_JPEG_PIXELS if image.format == "JPEG" else MAX_PIXELS
            if image.width * image.height > limit:  # checked before the pixels are decoded
                raise TooLargeError(f"{_name(source)}picture of {image.width}x{image.height} pixels is too large; "
                                    f"the limit is {limit:,} pixels" + (" (for a JPEG)" if limit != MAX_PIXELS else ""))
            factor = _factor(image.size)
            if image.format == "JPEG" and factor > 1:  # decoded at 1/2, 1/4 or 1/8 scale: never whole
                image.draft(image.mode, (image.width // factor, image.height // factor))
            image.load()
    except TooLargeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLargeError(f"{_name(source)}image is too large; the limit is {MAX_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        raise UnsupportedPictureError(_name(source) + _refused(source)) from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
        raise DataError(_image_error(source, e)) from None
    return image


def _factor(size: tuple[int, int]) -> int:
    """The whole factor that brings the longer side of ``size`` to MAX_SIDE or below."""
    return max(1, math.ceil(max(size) / MAX_SIDE))


def _reduce(image):
    """The picture with its longer side at most MAX_SIDE: averages of factor x factor blocks."""
    factor = _factor(image.size)
    if factor == 1:
        return image
    if image.mode in _DEEP_MODES and image.mode != "F":  # reduce() takes 32-bit integers and floats, not 16-bit
        image = image.convert("I") if image.mode != "I" else image
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image.reduce(factor)


def _has_alpha(image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


_DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _deep_grey(image, source) -> np.ndarray:
    """Grey levels 0..255 of a picture of 16- or 32-bit integers or of floats, scaled by its range."""
    values = np.asarray(image, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise DataError(f"{_name(source)}the picture's values are not finite (NaN or inf)")
    if low < 0:  # signed data: its own range is all there is to go by
        offset, scale = low, max(high - low, 1e-300)
    elif image.mode == "F" and high <= 1:  # floats 0..1, the usual convention
        offset, scale = 0.0, 1.0
    else:
        offset, scale = 0.0, _full_scale(high)
    return (values - offset) * (255 / scale)


def _full_scale(high: float) -> float:
    """The full scale of the depth the data use: the smallest 2^bits - 1 of _FULL_SCALES at or above their
    largest value (a 12-bit scan in a 16-bit file reaches 4095, not 65535; nothing in the file says so);
    beyond 32 bits (floats), the largest value itself."""
    return next((s for s in _FULL_SCALES if high <= s), high)


def _head(source) -> bytes | None:
    """The first 32 bytes of file bytes or a path (fewer for a shorter file), or None when they cannot be read."""
    try:
        if isinstance(source, bytes):
            return source[:32]
        with open(source, "rb") as f:
            return f.read(32)
    except OSError:
        return None


def _truncated(head: bytes | None) -> str | None:
    """The message for a PNG, JPEG or TIFF that Pillow cannot read (from its first bytes), else None."""
    own = next((name for signature, name in _OWN_SIGNATURES if head and head.startswith(signature)), None)
    if own is None:
        return None
    return f"a {own} file that cannot be read: truncated or corrupt (it starts as a {own} does); save it again"


def _refused(source) -> str:
    """What the bytes are, when Pillow's PNG, JPEG and TIFF decoders do not take them (from their first bytes)."""
    head = _head(source)
    if head == b"":
        return "an empty file (no bytes): save the picture again"
    truncated = _truncated(head)  # Pillow knows the format but found no picture in it: cut short or damaged
    if truncated:
        return truncated
    head = head or b""
    name = next((name for signature, name in _SIGNATURES if signature.match(head)), None)
    if name is None:
        return f"not a PNG, JPEG or TIFF picture (its first bytes are of no picture format digitnet reads: {READS})"
    return f"a picture in {name} format: digitnet reads {READS}; convert it to PNG"


def _name(source) -> str:
    return f"{source}: " if isinstance(source, str) or hasattr(source, "__fspath__") else ""


def _image_error(source, error: Exception) -> str:
    """The message for a picture Pillow opened but could not decode: said truncated or corrupt when it starts as a
    PNG, JPEG or TIFF does (Pillow's own words, "8 bytes not processed", say nothing to a person), else Pillow's."""
    truncated = _truncated(_head(source))
    if truncated:
        return _name(source) + truncated
    return f"{_name(source)}not a readable PNG, JPEG or TIFF picture ({' '.join(str(error).split())})"
