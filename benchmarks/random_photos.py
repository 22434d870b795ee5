"""Random photos of MNIST test digits, as a tester made them to break the photo path: each picture draws its
own conditions (size 50-260 px; tight crops; thick pens; chalk; paper and ink levels; no shadow, a linear,
hard-edged, vignette or blotchy one; a desk on 0-4 sides, flat, noisy, wooden, graded or lighter than the
paper, sometimes shadowed too; a black frame; PNG or JPEG at quality 40-90 with noise), read by the shipped
drawing model through the page's path (preprocess.ink_from_image, to_input, the likeliest rule).

    python benchmarks/random_photos.py --seed 7 --save out/after7.npy         # prints how many read right
    PYTHONPATH=<a checkout of another commit>/src python benchmarks/random_photos.py --seed 7 --save out/before7.npy
    python benchmarks/random_photos.py --seed 7 --against out/before7.npy    # then: right now, and which changed

The pictures of one seed are the same whatever code reads them, so two commits' answers compare photo by photo.
Not part of `make bench`: its kinds are not chosen to be common, only varied (docs/preprocessing.md quotes it).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import realworld as rw  # noqa: E402  (where MNIST is)


def photo(x28: np.ndarray, rng: np.random.Generator) -> bytes:
    """One picture of the digit x28 (28, 28), its conditions drawn from rng (in a fixed order: the same seed,
    the same pictures)."""
    from PIL import Image
    from scipy.ndimage import grey_dilation

    side = int(rng.integers(50, 260))
    tight = rng.random() < 0.2
    thick = int(rng.choice([0, 0, 0, max(3, side // 15)]))
    d = x28.astype(np.float32)
    if tight:
        r, c = np.flatnonzero(d.any(1)), np.flatnonzero(d.any(0))
        d = d[r[0] : r[-1] + 1, c[0] : c[-1] + 1]
    a = np.clip(np.asarray(Image.fromarray(d).resize((side, side), Image.Resampling.BICUBIC)) / 255, 0, 1)
    if thick:
        a = grey_dilation(a, size=(thick, thick))
    chalk = rng.random() < 0.15
    paper = float(rng.uniform(30, 80) if chalk else rng.uniform(150, 250))
    ink = float(rng.uniform(200, 250) if chalk else rng.uniform(0, 90))
    img = paper * (1 - a) + ink * a
    kind = rng.choice(["none", "linear", "hard", "vignette", "blotch"])
    yy, xx = np.mgrid[0:side, 0:side] / side
    if kind == "linear":
        img = _shadow(img, rng, rng.uniform(0.2, 0.55))
    elif kind == "hard":
        t = rng.uniform(0, 2 * np.pi)
        g = np.cos(t) * (xx - 0.5) + np.sin(t) * (yy - 0.5)
        off = rng.uniform(-0.3, 0.3)
        img = img * np.where(g > off, 1 - rng.uniform(0.2, 0.5), 1.0)
    elif kind == "vignette":
        img = img * (1 - rng.uniform(0.2, 0.5) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2)
    elif kind == "blotch":
        rng.random((side, side))  # drawn and unused, as the tester's generator did: keeps every seed's pictures
        cx = rng.random()
        cy = rng.random()
        img = img * (1 - 0.35 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05))
    sides = int(rng.choice([0, 0, 1, 2, 3, 4]))
    if sides:
        w = (rng.uniform(0.03, 0.25, 4) * side).astype(int)
        keep = np.zeros(4, bool)
        keep[rng.choice(4, sides, replace=False)] = True
        w[~keep] = 0
        desk_kind = str(rng.choice(["flat", "flat", "noise", "wood", "gradient", "lighter"]))
        level = float(rng.uniform(10, 200))
        t, b, l, r = (int(v) for v in w)
        H, W = img.shape[0] + t + b, img.shape[1] + l + r
        if desk_kind == "flat":
            desk = np.full((H, W), level)
        elif desk_kind == "lighter":
            desk = np.full((H, W), float(min(255, paper + rng.uniform(10, 60))))
        elif desk_kind == "noise":
            desk = rng.normal(level, float(rng.uniform(3, 20)), (H, W))
        elif desk_kind == "wood":
            amp = rng.uniform(5, 30)
            dy, dx = np.mgrid[0:H, 0:W]
            desk = level + amp * np.sin(dx / 6.0 + 3 * np.sin(dy / 40.0) + rng.uniform(0, 6)) + rng.normal(0, 5, (H, W))
        else:
            desk = level * (0.6 + 0.8 * np.mgrid[0:H, 0:W][1] / W)
        desk[t : t + img.shape[0], l : l + img.shape[1]] = img
        img = desk
        if rng.random() < 0.3:
            img = _shadow(img, rng, rng.uniform(0.2, 0.5))
    if rng.random() < 0.15:
        fw = int(rng.integers(1, 4))
        img[:fw] = img[-fw:] = 0
        img[:, :fw] = img[:, -fw:] = 0
    fmt = "JPEG" if rng.random() < 0.4 else "PNG"
    quality = int(rng.integers(40, 90))
    img = img + rng.normal(0, float(rng.uniform(0, 5)), img.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L").save(buffer, format=fmt,
                                                                     **({"quality": quality} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _shadow(img: np.ndarray, rng: np.random.Generator, depth: float) -> np.ndarray:
    H, W = img.shape
    t = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:H, 0:W]
    g = np.cos(t) * xx / W + np.sin(t) * yy / H
    return img * (1 - depth * (g - g.min()) / (g.max() - g.min()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--save", type=Path, help="write the answers (n,) here (.npy)")
    parser.add_argument("--against", type=Path, help="answers saved by another commit's run of the same --n and --seed")
    args = parser.parse_args()

    from digitnet import preprocess
    from digitnet.answer import answers
    from digitnet.data.idx import load_mnist
    from digitnet.models import load_drawing

    if not rw.MNIST.is_dir():
        print(f"MNIST's files are not under {rw.SHARED}: skipped", file=sys.stderr)
        return
    mnist = load_mnist(rw.MNIST)
    X, y = mnist.X[mnist.test_rows].reshape(-1, 28, 28), mnist.y[mnist.test_rows]
    rows = np.random.default_rng(args.seed).choice(len(y), args.n, replace=False)
    model, rng = load_drawing(), np.random.default_rng(args.seed)
    said = np.empty(args.n, np.int64)
    for k, i in enumerate(rows):
        x = preprocess.to_input(preprocess.ink_from_image(photo(X[i], rng)), model.inputs)
        said[k] = -1 if x is None else answers(model.predict_proba(x[None]), "likeliest", x[None])[0][0]
    right = said == y[rows]
    print(f"{right.sum()} of {args.n} read right (seed {args.seed})")
    if args.save:
        np.save(args.save, said)
    if args.against:
        before = np.load(args.against) == y[rows]
        print(f"against {args.against}: {before.sum()} right there; now right, wrong there: {(right & ~before).sum()}; "
              f"now wrong, right there: {(~right & before).sum()}")


if __name__ == "__main__":
    main()
