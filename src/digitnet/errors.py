"""Exceptions raised by the library; the CLI and the web layer translate them."""

import re


class DigitnetError(ValueError):
    """Base class: the message is one line that says what is wrong and what to do."""


class ConfigError(DigitnetError):
    """A hyperparameter is outside its valid range."""


class DataError(DigitnetError):
    """Input data (an array or a file) is malformed."""


class NoTestDataError(DataError):
    """A model's own held-out test split cannot be found again: score it on other data."""


class ModelFileError(DigitnetError):
    """A model file is missing, truncated, corrupted, foreign or too new."""


class OutputFileError(DigitnetError):
    """A file cannot be written: a directory, a device, read-only, or no space left. Nothing was changed."""


class DivergedError(DigitnetError):
    """Training diverged (the loss became NaN or infinite): a valid request whose run failed; the CLI exits 1."""


class TooLargeError(DataError):
    """An input (a picture, a request) is larger than the limit set to protect memory."""


def one_line(message: str) -> str:
    """``message`` with control characters escaped (a newline in a file name as ``\\n``), so that it stays one line.

    Names come from users and file systems; the CLI and the web layer pass every message through here.
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message)


def article(word: str) -> str:
    """"a" or "an" before ``word``, by how it is said: an 8x8 image, a 28x28 one, an 11x11 one, an int, a float.

    A number is said from its leading digits: 8.. ("eight", "eighty", "eight hundred"), and 11 or 18 leading a
    group of two digits ("eleven", "eighteen thousand") take "an".
    """
    digits = re.match(r"[0-9]+", word)
    if digits:
        n = digits.group()
        return "an" if n[0] == "8" or (len(n) % 3 == 2 and n[:2] in ("11", "18")) else "a"
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


class UnsupportedPictureError(DataError):
    """A picture in a format digitnet does not read (or bytes of no picture): only PNG, JPEG and TIFF are decoded."""


def exact(value: float) -> str:
    """``value`` written with every digit its dtype holds, and no more (the shortest text that reads back as it):
    255.000001 stays 255.000001, where ``:g`` says 255 and an error "got 255, must be at most 255" makes no sense."""
    import numpy as np  # here: the error types import nothing heavy

    value = value if isinstance(value, np.floating) else np.float64(value)
    if value == 0 or 1e-4 <= abs(value) < 1e16:
        return np.format_float_positional(value, trim="-")
    return np.format_float_scientific(value, trim="-")
