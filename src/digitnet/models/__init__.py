"""Models shipped inside the package.

- ``drawing.safetensors``: the drawing page's and ``digitnet predict --image``'s default, a 784-H-10 network
  on 28x28 inputs trained on MNIST, the UCI pen digits (strokes drawn as the page draws them) and the
  embedded digits (enlarged to 28x28); ``make models`` builds it with the command recorded in the file,
  and the README says what it learnt from and how it scores on writers it never saw.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DRAWING = "drawing.safetensors"


def drawing_path() -> Path:
    """Where the shipped drawing model is (inside the installed package)."""
    return Path(str(resources.files(__name__) / DRAWING))


def load_drawing():
    """The shipped drawing model (a :class:`digitnet.Model`). Raises ModelFileError when the file is missing
    (a source checkout where ``make models`` has not run) or damaged."""
    from ..errors import ModelFileError
    from ..persistence import load

    path = drawing_path()
    if not path.is_file():
        raise ModelFileError(f"the drawing model is not installed ({path} is missing): run `make models` in a "
                             "source checkout, or give a MODEL file")
    return load(path)
