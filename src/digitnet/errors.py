"""Exceptions raised by the library; the CLI and the web layer translate them."""


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


class TooLargeError(DataError):
    """An input (a picture, a request) is larger than the limit set to protect memory."""


def one_line(message: str) -> str:
    """``message`` with control characters escaped (a newline in a file name as ``\\n``), so that it stays one line.

    Names come from users and file systems; the CLI and the web layer pass every message through here.
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message)


class UnsupportedPictureError(DataError):
    """A picture in a format digitnet does not read (or bytes of no picture): only PNG, JPEG and TIFF are decoded."""
