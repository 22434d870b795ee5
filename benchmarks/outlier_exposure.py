"""Can training on made-up non-digits teach the network itself to answer "no digit" to a scribble? Outlier
exposure (Hendrycks, Mazeika and Dietterich 2019, "Deep anomaly detection with outlier exposure"): a share of
training rows that are no digit, with a uniform target (1/10 for every class), so that the softmax learns to
spread out on what is far from every class. Measured here, not adopted (docs/preprocessing.md, "What the
answer says", quotes the result).

The non-digits are made from the training writers' pen strokes, unlike the scribbles they are scored on
(realworld.py's random walks), of three kinds (`--kinds`): a third digits written over each other without lifting the pen, a third one
digit's strokes cut in pieces, each turned and moved, a third a digit crossed by another turned by a quarter;
each drawn on the pad at a random size and place through the page's path (preprocess.ink_from_strokes,
to_input). Each share trains the `mnist` recipe (30 epochs unless `--epochs`, stroke 0.5, stretch_to_box 0.1: the drawing
model's augmentation) on 20,000 MNIST training images and the pen writers of realworld.py's first writer fold
(GroupKFold over 30 writers), the uniform targets put in by wrapping the trainer's ``Run.targets`` (digitnet
itself has no non-digit label); the temperature is then fitted on 2,000 of MNIST's last training images.
Scored: the fold's held-out writers (their pen digits drawn through the page's path), 8,000 other MNIST
validation images, 300 scribbles: the share answered "no digit" below 30% (the page's rule) and 50%.

    python benchmarks/outlier_exposure.py [--shares 0,0.05,0.1] [--kinds 0,1,2] [--epochs 30]   # a table; a minute a share
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import realworld as rw  # noqa: E402

N_MNIST = 20_000
N_OUTLIERS = 6_000  # enough for a share of 0.2 of the 26,000 training rows


def turned(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def non_digit(digit, others, rng: np.random.Generator, kinds=(0, 1, 2)) -> list[np.ndarray]:
    """Strokes (tablet coordinates) that are no digit, made from a pen digit and others of its writers."""
    strokes = [s.astype(np.float64) for s in digit.strokes]
    points = np.concatenate(strokes)
    centre, size = (points.min(0) + points.max(0)) / 2, max(float(np.ptp(points, 0).max()), 1.0)

    def fitted(other, angle, jitter):  # another digit brought to this one's size and place, turned
        q = np.concatenate(other.strokes).astype(np.float64)
        middle, scale = (q.min(0) + q.max(0)) / 2, size / max(float(np.ptp(q, 0).max()), 1.0)
        return [turned(s - middle, angle) * scale + centre + rng.uniform(-jitter, jitter, 2) * size
                for s in other.strokes]

    kind = kinds[rng.integers(len(kinds))]
    if kind == 0:  # digits written over each other without lifting the pen: one stroke
        parts = [digit] + [others[i] for i in rng.integers(len(others), size=int(rng.integers(1, 4)))]
        return [np.concatenate([np.concatenate(fitted(p, rng.uniform(-0.5, 0.5), 0.15)) for p in parts])]
    if kind == 1:  # the digit's strokes cut in pieces, each turned and moved
        pieces = []
        for s in strokes:
            n_cuts = min(len(s) - 1, int(rng.integers(1, 3))) if len(s) > 3 else 0
            cuts = np.sort(rng.choice(np.arange(1, len(s)), size=n_cuts, replace=False)) if n_cuts else []
            pieces += [p for p in np.split(s, cuts) if len(p) > 1]
        return [turned(p - p.mean(0), rng.uniform(0, 2 * np.pi)) + centre + rng.uniform(-0.4, 0.4, 2) * size
                for p in pieces]
    angle = rng.choice([-1, 1]) * rng.uniform(np.pi / 3, 2 * np.pi / 3)  # crossed by another, turned by a quarter
    return strokes + fitted(others[rng.integers(len(others))], angle, 0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", default="0,0.05,0.1", help="non-digits added, as a share of the training rows")
    parser.add_argument("--kinds", default="0,1,2", help="which non-digits: 0 written over each other, 1 pieces, 2 crossed")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    import threadpoolctl
    from sklearn.model_selection import GroupKFold

    import digitnet
    from digitnet import preprocess, trainer
    from digitnet.calibration import calibrated
    from digitnet.data.idx import load_mnist
    from digitnet.data.scaling import fit_scaling
    from digitnet.data.unipen import read_unipen, render
    from digitnet.model import Model

    if not (rw.MNIST.is_dir() and rw.PEN.is_file()):
        print(f"MNIST's or the pen digits' files are not under {rw.SHARED}: skipped", file=sys.stderr)
        return
    threadpoolctl.threadpool_limits(1)
    pen, *_ = read_unipen(rw.PEN)
    y_pen, writers = np.array([d.label for d in pen]), np.array([d.writer for d in pen])
    train_rows, test_rows = next(iter(GroupKFold(5).split(writers, groups=writers)))
    X_pen = np.array([render(pen[i], rw.MNIST28) for i in train_rows], np.float32)
    X_held, kept = rw.page_inputs([pen[i] for i in test_rows], rw.MNIST28, seed=1)
    scribbles = rw.scribble_inputs(300)
    rng, trained_on = np.random.default_rng(5), [pen[i] for i in train_rows]
    outliers = []
    while len(outliers) < N_OUTLIERS:
        digit = trained_on[rng.integers(len(trained_on))]
        strokes = rw.on_pad_at_random(non_digit(digit, trained_on, rng, [int(k) for k in args.kinds.split(',')]), rng)
        x = preprocess.to_input(preprocess.ink_from_strokes(strokes, rw.PAD, rw.PAD), rw.MNIST28)
        if x is not None:
            outliers.append(x)
    mnist = load_mnist(rw.MNIST)
    train = np.setdiff1d(np.arange(len(mnist.y)), mnist.test_rows)
    fit_rows, val_rows = train[:N_MNIST], train[-10_000:]
    X = np.vstack([mnist.X[fit_rows].astype(np.float32), X_pen])
    y = np.concatenate([mnist.y[fit_rows], y_pen[train_rows]])

    plain_targets = trainer.Run.targets

    def targets(run, labels):  # -1: no digit, a uniform target
        Y = plain_targets(run, np.where(labels < 0, 0, labels))
        Y[labels < 0] = 1.0 / run.n_classes
        return Y

    trainer.Run.targets = targets
    print("| non-digits (share of training rows) | held-out writers: right | \"no digit\" at 30% / 50% | "
          "MNIST validation: accuracy | \"no digit\" at 30% / 50% | scribbles: \"no digit\" at 30% / 50% | "
          "scribbles' median top probability |")
    print("|---|---|---|---|---|---|---|")
    for share in (float(s) for s in args.shares.split(",")):
        n = int(share * len(y))
        X_fit, y_fit = np.vstack([X, np.array(outliers[:n], np.float32).reshape(n, X.shape[1])]), np.concatenate([y, -np.ones(n, int)])
        config = digitnet.Config.from_recipe("mnist", epochs=args.epochs, stroke=0.5, stretch_to_box=0.1)
        scaling = fit_scaling(X_fit, config.scaling)
        params, history = trainer.fit(scaling.apply(X_fit, config.dtype), y_fit, config, np.random.default_rng(0),
                                      n_classes=10, image_shape=(28, 28))
        model = Model(params, config, scaling, history, np.empty(0, np.int64), {"kind": "mnist"}, rw.MNIST28)
        model = calibrated(model, mnist.X[val_rows[:2000]], mnist.y[val_rows[:2000]])
        P, Pm, Ps = (model.predict_proba(Z) for Z in (X_held, mnist.X[val_rows[2000:]], scribbles))
        right = np.mean(kept & (P.argmax(1) == y_pen[test_rows]) & (P.max(1) >= 0.3))
        refused = lambda Q, extra=False: " / ".join(f"{np.mean(extra | (Q.max(1) < t)):.1%}" for t in (0.3, 0.5))  # noqa: E731
        print(f"| {share:g} | {right:.1%} | {refused(P, ~kept)} | {np.mean(Pm.argmax(1) == mnist.y[val_rows[2000:]]):.2%} | "
              f"{refused(Pm)} | {refused(Ps)} | {np.median(Ps.max(1)):.2f} |", flush=True)
    trainer.Run.targets = plain_targets


if __name__ == "__main__":
    main()
