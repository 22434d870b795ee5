"""Choose the `mnist` recipe's settings by cross-validation on MNIST's 60,000 TRAINING images only;
the t10k test files are never read.

    python benchmarks/tune_mnist.py '{"lr": [0.002, 0.005], "epochs": [10, 20]}' [--folds 3] [--jobs 2]
    python benchmarks/tune_mnist.py '{"elastic_alpha": [16, 34]}' --validation 10000 [--recipe mnist]

The training images are cut into stratified folds (seed 0); each setting trains on all folds but one
and is scored on the one left out. With ``--validation N`` instead, each setting trains once on the first
60,000 - N training images and is scored on the last N (the usual MNIST validation split: cheaper, for long
runs). Prints the mean held-out accuracy, the mean fit time and the setting, best first. Jobs run in
parallel processes with one BLAS thread each.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

# $MNIST_DIR, else ../shared/data/mnist from the repository's root
MNIST = Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def cv_accuracy(overrides: dict, folds: int, directory: str, validation: int = 0,
                recipe: str = "mnist") -> tuple[float, float]:
    import threadpoolctl

    import digitnet
    from digitnet.data.idx import load_mnist

    data = load_mnist(directory)
    train = np.setdiff1d(np.arange(len(data.y)), data.test_rows)  # the t10k rows are dropped here
    config = digitnet.Config.from_recipe(recipe, **overrides)
    accuracy, seconds = [], []
    splits = [(train[:-validation], train[-validation:])] if validation else \
        [(train[f], train[h]) for f, h in StratifiedKFold(folds, shuffle=True, random_state=0).split(train, data.y[train])]
    with threadpoolctl.threadpool_limits(1):
        for fit_rows, held_out in splits:
            t = time.perf_counter()
            model = digitnet.train(data, config, split_indices=(fit_rows, held_out))
            seconds.append(time.perf_counter() - t)
            accuracy.append(model.metrics["accuracy"])
    return float(np.mean(accuracy)), float(np.mean(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", help='JSON object: setting -> list of values, e.g. \'{"lr": [0.002, 0.005]}\'')
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--validation", type=int, default=0, help="score on the last N training images instead of folds")
    parser.add_argument("--recipe", default="mnist", help="the recipe the grid's settings change")
    parser.add_argument("--data", default=os.environ.get("MNIST_DIR", str(MNIST)))
    args = parser.parse_args()
    grid = json.loads(args.grid)
    settings = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    scores = Parallel(n_jobs=args.jobs)(delayed(cv_accuracy)(s, args.folds, args.data, args.validation, args.recipe)
                                        for s in settings)
    for (accuracy, seconds), setting in sorted(zip(scores, settings), key=lambda r: -r[0][0]):
        print(f"{accuracy:.4f}  fit {seconds:5.1f} s  {setting}", flush=True)


if __name__ == "__main__":
    main()
