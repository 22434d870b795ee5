"""Can a test of its own tell a scribble from a digit? Two standard out-of-distribution scores, tried on the
shipped drawing model and measured here (docs/preprocessing.md, "What the answer says", quotes the result):

- Mahalanobis distance in the hidden layer (Lee et al. 2018, "A simple unified framework for detecting
  out-of-distribution samples and adversarial attacks"): class means and one shared covariance of the tanh
  activations a1, the score an input's distance to the nearest class mean;
- the same in the input space after PCA (20 and 50 components), and PCA's reconstruction error.

The class statistics come from 20,000 of MNIST's training images and a third of the pen digits (drawn through
the page's path); each threshold refuses a set share of those. Then: what share of 300 scribbles (realworld.py's
random zigzags and loops on the pad), of MNIST's test digits, of the pen digits the statistics did not see
(another third, other drawings) and of 300 photos per photo condition it refuses.

    python benchmarks/not_a_digit.py        # prints; about 5 minutes
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import realworld as rw  # noqa: E402


def main() -> None:
    from sklearn.decomposition import PCA

    from digitnet.data.idx import load_mnist
    from digitnet.data.unipen import read_unipen
    from digitnet.models import load_drawing

    if not (rw.MNIST.is_dir() and rw.PEN.is_file()):
        print(f"MNIST's or the pen digits' files are not under {rw.SHARED}: skipped", file=sys.stderr)
        return
    model = load_drawing()
    params = {k: v.astype(np.float64) for k, v in model.params.items()}

    def hidden(X):
        return np.tanh(model.scaling.apply(np.asarray(X, np.float64)) @ params["W1"] + params["b1"])

    mnist = load_mnist(rw.MNIST)
    train = np.setdiff1d(np.arange(len(mnist.y)), mnist.test_rows)
    fit_rows = np.random.default_rng(0).choice(train, 20_000, replace=False)
    pen, *_ = read_unipen(rw.PEN)
    X_pen, kept = rw.page_inputs(pen[::3], rw.MNIST28)
    X_fit = np.vstack([mnist.X[fit_rows].astype(np.float64), X_pen[kept]])
    y_fit = np.concatenate([mnist.y[fit_rows], np.array([d.label for d in pen[::3]])[kept]])
    X_other, kept_other = rw.page_inputs(pen[1::3], rw.MNIST28, seed=1)
    X_test = mnist.X[mnist.test_rows]
    sets = {"scribbles": rw.scribble_inputs(300), "MNIST test digits": X_test[:3000],
            "pen digits not fitted": X_other[kept_other]}
    for name, condition in rw.CONDITIONS.items():
        X, k = rw.photo_inputs(X_test[:300], rw.MNIST28, condition)
        sets[f"photos: {name}"] = X[k]

    def gaussian_distance(Z_fit):
        means = np.array([Z_fit[y_fit == k].mean(axis=0) for k in range(10)])
        covariance = sum((Z_fit[y_fit == k] - means[k]).T @ (Z_fit[y_fit == k] - means[k]) for k in range(10)) / len(Z_fit)
        precision = np.linalg.inv(covariance + 1e-6 * np.eye(len(covariance)))
        return lambda Z: np.stack([np.einsum("ij,jk,ik->i", Z - m, precision, Z - m) for m in means], 1).min(axis=1)

    scores = {"hidden layer, Mahalanobis": (hidden, gaussian_distance(hidden(X_fit)))}
    for n in (20, 50):
        pca = PCA(n, random_state=0).fit(X_fit)
        scores[f"input, PCA {n}, Mahalanobis"] = (pca.transform, gaussian_distance(pca.transform(X_fit)))
        scores[f"input, PCA {n}, reconstruction error"] = (
            lambda X, pca=pca: X, lambda X, pca=pca: np.linalg.norm(X - pca.inverse_transform(pca.transform(X)), axis=1))
    names = list(sets)
    print("| score | refused of the fitted digits | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, (features, score) in scores.items():
        fitted = score(features(X_fit))
        for share in (0.01, 0.001):
            threshold = np.quantile(fitted, 1 - share)
            cells = [f"{np.mean(score(features(np.asarray(sets[n], np.float64))) > threshold):.1%}" for n in names]
            print(f"| {label} | {share:.1%} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
