"""Test-time averaging for the 784-200-10 network (issue 20, item 5), on MNIST's validation split only: the
model's log-probabilities averaged over the image and transformed copies of it (rotations, zooms, elastic
fields like training's, thicker and thinner strokes). The t10k test files are never read.

    python benchmarks/tune_mnist_error.py run '{}' --save out/r300_s0.safetensors   # the recipe, on the first 50,000
    python benchmarks/tune_mnist_tta.py out/r300_s0.safetensors                      # errors of 10,000, each way

The transforms are scipy.ndimage's (bilinear); the elastic fields are Simard et al.'s (2003): uniform noise
smoothed by a Gaussian of sigma 6, times alpha 34, as the recipe trains with; seed 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from tune_mnist_error import MNIST, VALIDATION  # the same data and validation split (this folder is on the path)


def affine(images: np.ndarray, angle: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Each 28x28 image turned by ``angle`` degrees and scaled by ``scale`` about its centre."""
    t = np.deg2rad(angle)
    M = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) / scale
    offset = 13.5 - M @ np.array([13.5, 13.5])
    return np.stack([ndimage.affine_transform(im, M, offset=offset, order=1) for im in images])


def elastic(images: np.ndarray, rng: np.random.Generator, alpha: float = 34.0, sigma: float = 6.0) -> np.ndarray:
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    out = np.empty_like(images)
    for k, im in enumerate(images):
        dx, dy = (ndimage.gaussian_filter(rng.uniform(-1, 1, (28, 28)), sigma) * alpha for _ in range(2))
        out[k] = ndimage.map_coordinates(im, [yy + dy, xx + dx], order=1)
    return out


def stroke(images: np.ndarray, thicker: bool) -> np.ndarray:
    """Half a pixel thicker (grey dilation, averaged with the image) or thinner (erosion)."""
    f = ndimage.grey_dilation if thicker else ndimage.grey_erosion
    return np.stack([0.5 * im + 0.5 * f(im, size=(2, 2)) for im in images])


def main() -> None:
    from digitnet.data.idx import load_mnist
    from digitnet.persistence import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a 28x28 model trained on the first 50,000 training images")
    parser.add_argument("--data", type=Path, default=MNIST)
    args = parser.parse_args()
    model = load_model(args.model)
    data = load_mnist(args.data)
    rows = np.setdiff1d(np.arange(len(data.y)), data.test_rows)[-VALIDATION:]
    X, y = data.X[rows].astype(np.float64).reshape(-1, 28, 28), data.y[rows]

    def log_p(images):
        P = model.predict_proba(np.clip(images, 0, 255).reshape(len(images), -1)).astype(np.float64)
        return np.log(np.maximum(P, 1e-12))

    def errors(L):
        return int(np.sum(L.argmax(axis=1) != y))

    plain = log_p(X)
    rng = np.random.default_rng(0)
    copies = {**{f"turned {a:+d} degrees": log_p(affine(X, angle=a)) for a in (-6, -3, 3, 6)},
              **{f"zoomed x{s}": log_p(affine(X, scale=s)) for s in (0.92, 1.08)},
              **{f"elastic field {k}": log_p(elastic(X, rng)) for k in range(8)},
              "thicker": log_p(stroke(X, True)), "thinner": log_p(stroke(X, False))}
    print(f"the image alone: {errors(plain)} errors of {len(y):,}")
    for name, L in copies.items():
        print(f"  {name} alone: {errors(L)}")
    groups = {"turned +-3": ["turned -3 degrees", "turned +3 degrees"],
              "turned +-3, +-6": [n for n in copies if n.startswith("turned")],
              "zoomed x0.92, x1.08": [n for n in copies if n.startswith("zoomed")],
              "4 elastic fields": [f"elastic field {k}" for k in range(4)],
              "8 elastic fields": [f"elastic field {k}" for k in range(8)],
              "thicker, thinner": ["thicker", "thinner"],
              "turned +-3 and zoomed": ["turned -3 degrees", "turned +3 degrees", "zoomed x0.92", "zoomed x1.08"],
              f"all {len(copies)}": list(copies)}
    for name, names in groups.items():
        print(f"the image and {name}: {errors(plain + sum(copies[n] for n in names))} errors")


if __name__ == "__main__":
    main()
