"""What temperature scaling (``calibration_fraction``) costs in accuracy and gains in calibration, measured on
TRAINING data only (the test splits and MNIST's t10k files are never read); rewrites benchmarks/CALIBRATION.md.

    python benchmarks/calibration.py [--seeds 5] [--folds 5] [--mnist-epochs 20] [--no-mnist] [--jobs 2]

8x8 (the embedded digits, `modern`): for each seed, its 75% training split is cut into stratified folds;
each fold left out scores a network trained on the others. MNIST (`mnist` recipe, or the one --mnist-recipe
names): trained on the first 50,000 training images, scored on the last 10,000.

Each setting is scored on the rows left out, its network as trained (T = 1) and with its temperature: fitted
on a calibration split carved from the training rows (`calibration_fraction`), or cross-fitted on all of them
(`calibration_folds`: the same network as calibration_fraction 0, k more fits). A last row gives the network
trained on everything (calibration_fraction 0) the temperature that the calibration_fraction 0.1 run of the
same fold fitted ("transferred": no data held out from training, one more fit).
ECE: 10 equal-width bins of the top probability (digitnet.metrics.calibration); NLL: mean -ln p(true digit).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

import digitnet
from digitnet.data import load_digits, split
from digitnet.metrics import calibration, log_loss
from digitnet.pipeline import fit_model

HERE = Path(__file__).resolve().parent
MNIST = next((p for p in (Path(os.environ.get("MNIST_DIR", "/nonexistent")), HERE.parents[1] / "shared" / "data" / "mnist",
                          Path("/work/shared/data/mnist")) if p.is_dir()), HERE.parents[1] / "shared" / "data" / "mnist")
FRACTIONS = (0.0, 0.1, 0.2)
CROSS_FIT = 5  # calibration_folds on the 8x8 digits (on MNIST: --mnist-folds)


def scored(model, X, y) -> dict:
    """Accuracy, ECE and NLL of ``model`` on raw X, y, as it is and with temperature 1."""
    out = {}
    for name, m in (("calibrated", model), ("as trained", dataclasses.replace(model, temperature=1.0))):
        P = m.predict_proba(X).astype(np.float64)
        out[name] = {"accuracy": float(np.mean(P.argmax(axis=1) == y)), "ece": calibration(P, y)[3],
                     "nll": log_loss(P, y)}
    out["temperature"] = model.temperature
    return out


def fold(data, recipe: str, overrides: dict, fit_rows, held_out, cross_fit: int) -> dict:
    """One fold: every setting's network, scored on ``held_out``; the transferred temperature."""
    import threadpoolctl

    settings = {f"calibration_fraction {c}": {"calibration_fraction": c} for c in FRACTIONS}
    if cross_fit:
        settings[f"calibration_folds {cross_fit}"] = {"calibration_folds": cross_fit}
    with threadpoolctl.threadpool_limits(1):
        models = {name: fit_model(data, digitnet.Config.from_recipe(recipe, **overrides, **o), fit_rows)
                  for name, o in settings.items()}
    X, y = data.X[held_out], data.y[held_out]
    results = {name: scored(model, X, y) for name, model in models.items()}
    transferred = dataclasses.replace(models[f"calibration_fraction {FRACTIONS[0]}"],
                                      temperature=models[f"calibration_fraction {FRACTIONS[1]}"].temperature)
    results[f"transferred from calibration_fraction {FRACTIONS[1]}"] = scored(transferred, X, y)
    return results


def digits_folds(seeds: int, folds: int):
    data = load_digits()
    for seed in range(seeds):
        train, _ = split(data.y, 0.25, seed, stratify=True)  # the test rows are dropped here
        for fit_rows, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(train, data.y[train]):
            yield data, "modern", {"seed": seed}, train[fit_rows], train[held_out], CROSS_FIT


def summarise(results: list[dict]) -> list[tuple]:
    """Rows (setting, accuracy, ECE as trained, ECE calibrated, NLL as trained, NLL calibrated, mean T), means over folds."""
    rows = []
    for label in results[0]:
        r = [f[label] for f in results]
        mean = lambda way, what: float(np.mean([x[way][what] for x in r]))  # noqa: E731
        rows.append((label, mean("calibrated", "accuracy"), float(np.std([x["calibrated"]["accuracy"] for x in r])
                                                                   / np.sqrt(len(r))),
                     mean("as trained", "ece"), mean("calibrated", "ece"), mean("as trained", "nll"),
                     mean("calibrated", "nll"), float(np.mean([x["temperature"] for x in r]))))
    return rows


def table(rows) -> list[str]:
    lines = ["| setting | held-out accuracy | ECE as trained | ECE calibrated | NLL as trained | NLL calibrated | T |",
             "|---|---|---|---|---|---|---|"]
    for label, acc, se, e0, e1, n0, n1, t in rows:
        same = label.endswith(" 0.0")
        lines.append(f"| {label} | {acc:.2%} ± {se:.2%} | {e0:.4f} | {'–' if same else f'{e1:.4f}'} | {n0:.4f} | "
                     f"{'–' if same else f'{n1:.4f}'} | {'–' if same else f'{t:.3f}'} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--mnist-recipe", default="mnist")
    parser.add_argument("--mnist-set", default="{}", help="JSON of settings that change the MNIST recipe")
    parser.add_argument("--mnist-folds", type=int, default=0, help="calibration_folds on MNIST too (k + 1 fits)")
    parser.add_argument("--no-mnist", action="store_true")
    args = parser.parse_args()
    digits = Parallel(n_jobs=args.jobs)(delayed(fold)(*task) for task in digits_folds(args.seeds, args.folds))
    lines = ["# Calibration: what a calibration split costs and gains", "",
             "Written by `python benchmarks/calibration.py`; do not edit by hand. Training data only: the test splits "
             "and MNIST's t10k files are never read. ECE: expected calibration error over 10 equal-width bins of the "
             "top probability; NLL: mean -ln p(true digit); T: the fitted softmax temperature (mean over folds). "
             "\"As trained\" is the same network with T = 1; \"transferred\" is the network trained on every row "
             f"(calibration_fraction 0) with the temperature its fold's calibration_fraction {FRACTIONS[1]} run "
             "fitted.", "",
             f"## 8x8 digits, `modern` recipe: {args.folds}-fold cross-validation inside the training split of seeds "
             f"0-{args.seeds - 1} ({len(digits)} folds; ± the standard error over them)", "", *table(summarise(digits))]
    if not args.no_mnist and MNIST.is_dir():
        from digitnet.data.idx import load_mnist

        data = load_mnist(MNIST)
        train = np.setdiff1d(np.arange(len(data.y)), data.test_rows)
        overrides = json.loads(args.mnist_set)
        print("MNIST ...", file=sys.stderr, flush=True)
        mnist = [fold(data, args.mnist_recipe, overrides, train[:-10_000], train[-10_000:], args.mnist_folds)]
        lines += ["", f"## MNIST, `{args.mnist_recipe}` recipe{' with ' + json.dumps(overrides) if overrides else ''}: "
                  "trained on the first 50,000 training images, scored on the last 10,000 (one run, seed 0)", "",
                  *table(summarise(mnist))]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "CALIBRATION.md").write_text(text)


if __name__ == "__main__":
    main()
