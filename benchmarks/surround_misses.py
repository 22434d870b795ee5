"""How the reading of a photo condition depends on finding the desk or frame around the sheet
(digitnet.sheet.surround): right when the surround is found, right when it is not, and how often it is found.

    python benchmarks/surround_misses.py ["on a dark desk, grey paper, shadow, JPEG"] [--n 300]

Photos of MNIST's first test digits made by benchmarks/realworld.py's ``photo`` (seed 0), read by the shipped
drawing model through the page's path (preprocess.ink_from_image, to_input). MNIST from $MNIST_DIR, else
../shared/data/mnist from the repository's root.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import realworld  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("condition", nargs="?", default="on a dark desk, grey paper, shadow, JPEG",
                        choices=list(realworld.CONDITIONS))
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()

    from digitnet import preprocess
    from digitnet.data.idx import load_mnist
    from digitnet.models import load_drawing
    from digitnet.pictures import read_picture
    from digitnet.sheet import surround

    mnist = Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else HERE.parents[1] / "shared" / "data" / "mnist"
    data = load_mnist(mnist)
    X, y = data.X[data.test_rows][: args.n], data.y[data.test_rows][: args.n]
    model = load_drawing()
    rng = np.random.default_rng(0)
    right, found = np.zeros(len(y), bool), np.zeros(len(y), bool)
    for i in range(len(y)):
        picture = realworld.photo(X[i], rng, **realworld.CONDITIONS[args.condition])
        found[i] = surround(read_picture(picture)[0], preprocess.MIN_CONTRAST) is not None
        x = preprocess.to_input(preprocess.ink_from_image(picture), model.inputs)
        right[i] = x is not None and model.predict_proba(x[None])[0].argmax() == y[i]
    share = lambda mask: f"{right[mask].mean():.1%} of {mask.sum()}" if mask.any() else "none"  # noqa: E731
    print(f"{args.condition}: right {right.mean():.1%}; surround found in {found.mean():.1%}; right where found "
          f"{share(found)}, where not {share(~found)}")


if __name__ == "__main__":
    main()
