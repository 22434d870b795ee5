"""Choose `modern` settings by cross-validation on TRAINING data only; the test splits are never read.

    python benchmarks/tune.py '{"lr": [0.01, 0.02], "epochs": [12, 16]}' [--seeds 3] [--folds 5]

For each seed, the seed's 75% training split is cut into stratified folds; each setting trains
on all folds but one (with its own validation split for early stopping) and is scored on the
one left out. Prints the mean held-out accuracy per setting (± its standard error over the
seeds' folds), best first.
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

import digitnet
from digitnet.data import load_digits, split


def cv_accuracy(overrides: dict, seeds: range, folds: int) -> tuple[float, float, float]:
    data = load_digits()
    accuracy, epochs = [], []
    for seed in seeds:
        config = digitnet.Config.from_recipe("modern", **{**overrides, "seed": seed})
        train, _ = split(data.y, config.test_size, seed, stratify=True)  # the test rows are dropped here
        for fit_rows, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(train, data.y[train]):
            model = digitnet.train(data, config, split_indices=(train[fit_rows], train[held_out]))
            accuracy.append(model.metrics["accuracy"])
            epochs.append(model.history.epochs)
    return float(np.mean(accuracy)), float(np.mean(epochs)), float(np.std(accuracy) / np.sqrt(len(accuracy)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", help='JSON object: setting -> list of values, e.g. \'{"lr": [0.01, 0.02]}\'')
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args()
    grid = json.loads(args.grid)
    settings = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    scores = Parallel(n_jobs=args.jobs)(delayed(cv_accuracy)(s, range(args.seeds), args.folds) for s in settings)
    for (accuracy, epochs, error), setting in sorted(zip(scores, settings), key=lambda r: -r[0][0]):
        print(f"{accuracy:.4f} ± {error:.4f}  epochs run {epochs:5.1f}  {setting}")


if __name__ == "__main__":
    main()
