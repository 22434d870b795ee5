"""Two `modern` settings compared fold by fold: the paired difference of their held-out accuracies.

    python benchmarks/tune_paired.py '{"epochs": 32}' '{"epochs": 24}' [--seeds 5] [--folds 5]

The same folds as tune.py (5-fold cross-validation inside each seed's training split; the test
splits are never read). A difference of means says more fold by fold than two means with their own
standard errors: both settings see the same hard and easy folds.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.model_selection import StratifiedKFold

import digitnet
from digitnet.data import load_digits, split


def fold_scores(overrides: dict, seeds: range, folds: int) -> np.ndarray:
    data = load_digits()
    scores = []
    for seed in seeds:
        config = digitnet.Config.from_recipe("modern", **{**overrides, "seed": seed})
        train, _ = split(data.y, config.test_size, seed, stratify=True)
        for fit_rows, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(train, data.y[train]):
            scores.append(digitnet.train(data, config, split_indices=(train[fit_rows], train[held_out])).metrics["accuracy"])
    return np.array(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help='JSON object of settings, e.g. \'{"epochs": 32}\'')
    parser.add_argument("b")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    a, b = (fold_scores(json.loads(s), range(args.seeds), args.folds) for s in (args.a, args.b))
    for name, s in ((args.a, a), (args.b, b)):
        print(f"{s.mean():.4f} ± {s.std() / np.sqrt(len(s)):.4f}  {name}")
    d = a - b
    print(f"difference, fold by fold: {d.mean():+.4f} ± {d.std() / np.sqrt(len(d)):.4f} "
          f"({np.sum(d > 0)} folds better, {np.sum(d < 0)} worse, {np.sum(d == 0)} equal)")


if __name__ == "__main__":
    main()
