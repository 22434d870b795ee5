"""Reading a picture file into grey levels (and opacity): the first step of :func:`.preprocess.ink_from_image`.

Decoding only; what is ink and what is paper is :mod:`.preprocess`'s business.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from .errors import DataError, TooLargeError

MAX_PIXELS = 4096 * 4096  # larger pictures are refused (decompression bombs)


def read_picture(source: bytes | str | object) -> tuple[np.ndarray, np.ndarray | None]:
    """The grey levels (H, W) float64 in 0..255 of a picture (file bytes, a path, or a PIL image), and its
    opacity (H, W) in 0..255 when some of it is transparent, else None.

    Raises TooLargeError for pictures over MAX_PIXELS pixels (checked before decoding), DataError for
    bytes that are no readable picture.
    """
    from PIL import Image, UnidentifiedImageError

    image = source
    if not isinstance(source, Image.Image):
        try:
            with warnings.catch_warnings():  # PIL warns of big pictures while reading the header: refuse them
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            if image.width * image.height <= MAX_PIXELS:  # checked before the pixels are decoded
                image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise TooLargeError(f"{_name(source)}image is too large; the limit is {MAX_PIXELS:,} pixels") from None
        except UnidentifiedImageError:
            raise DataError(f"{_name(source)}not a PNG or JPEG image (its bytes are of no picture format known)") from None
        except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
            raise DataError(_image_error(source, e)) from None
        if image.width * image.height > MAX_PIXELS:
            raise TooLargeError(f"{_name(source)}picture of {image.width}x{image.height} pixels is too large; "
                                f"the limit is {MAX_PIXELS:,} pixels")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        if rgba[..., 3].min() < 255:
            return rgba[..., :3].mean(axis=2), rgba[..., 3]
    return np.asarray(image.convert("L"), dtype=np.float64), None


def _name(source) -> str:
    return f"{source}: " if isinstance(source, str) or hasattr(source, "__fspath__") else ""


def _image_error(source, error: Exception) -> str:
    return f"{_name(source)}not a readable PNG/JPEG image ({' '.join(str(error).split())})"
