"""What temperature scaling (``calibration_fraction``) costs in accuracy and gains in calibration, measured on
TRAINING data only (the test splits and MNIST's t10k files are never read); rewrites benchmarks/CALIBRATION.md.

    python benchmarks/calibration.py [--seeds 5] [--folds 5] [--mnist-epochs 20] [--no-mnist] [--jobs 2]

8x8 (the embedded digits, `modern`): for each seed, its 75% training split is cut into stratified folds;
each fold left out scores a network trained on the others. MNIST (`mnist` recipe, or the one --mnist-recipe
names): trained on the first 50,000 training images, scored on the last 10,000.

Each setting is scored on the rows left out, its network as trained (T = 1) and with its temperature: fitted
on a calibration split carved from the training rows (`calibration_fraction`), or cross-fitted on all of them
(`calibration_folds`: the same network as calibration_fraction 0, k more fits). A last row gives the network
trained on everything (calibration_fraction 0) the temperature that the largest calibration_fraction's run of
the same fold fitted (a temperature "transferred": nothing held out from training, one more fit).
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
# $MNIST_DIR, else ../shared/data/mnist from the repository's root
MNIST = Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else HERE.parents[1] / "shared" / "data" / "mnist"
FRACTIONS = {"digits": (0.0, 0.1, 0.2), "mnist": (0.0, 0.05, 0.1)}  # calibration_fraction; the first must be 0
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


def fold(data, recipe: str, overrides: dict, fit_rows, held_out, fractions: tuple, cross_fit: int) -> dict:
    """One fold: every setting's network, scored on ``held_out``; the transferred temperature."""
    import threadpoolctl

    settings = {f"calibration_fraction {c}": {"calibration_fraction": c} for c in fractions}
    if cross_fit:
        settings[f"calibration_folds {cross_fit}"] = {"calibration_folds": cross_fit}
    with threadpoolctl.threadpool_limits(1):
        models = {name: fit_model(data, digitnet.Config.from_recipe(recipe, **overrides, **o), fit_rows)
                  for name, o in settings.items()}
    X, y = data.X[held_out], data.y[held_out]
    results = {name: scored(model, X, y) for name, model in models.items()}
    transferred = dataclasses.replace(models[f"calibration_fraction {fractions[0]}"],
                                      temperature=models[f"calibration_fraction {fractions[-1]}"].temperature)
    results[f"calibration_fraction 0.0 with the temperature of {fractions[-1]}"] = scored(transferred, X, y)
    return results


def digits_folds(seeds: int, folds: int):
    data = load_digits()
    for seed in range(seeds):
        train, _ = split(data.y, 0.25, seed, stratify=True)  # the test rows are dropped here
        for fit_rows, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(train, data.y[train]):
            yield data, "modern", {"seed": seed}, train[fit_rows], train[held_out], FRACTIONS["digits"], CROSS_FIT


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
        spread = f" ± {se:.2%}" if se else ""
        lines.append(f"| {label} | {acc:.2%}{spread} | {e0:.4f} | {'–' if same else f'{e1:.4f}'} | {n0:.4f} | "
                     f"{'–' if same else f'{n1:.4f}'} | {'–' if same else f'{t:.3f}'} |")
    return lines


CHOSEN = """## What was chosen, and why

- Label smoothing makes both recipes underconfident (the top probability stays near 1 - smoothing while
  the accuracy is near 99%): ECE 0.22 on 8x8, 0.11 on MNIST. One temperature (T near 0.34 and 0.45:
  sharper) brings it near 0.01 without changing an answer.
- On 8x8 a calibration split is too small: 10% of a fold's 1,078 training digits is 108 digits with one
  or two mistakes, so the fitted T swings (down to its bound when a split has no mistake) and the log loss
  on new digits gets worse than without calibration (0.45 against 0.29); 20% is steadier but costs 0.3
  points of accuracy. Cross-fitting (`calibration_folds 5`) fits T on all 1,078 digits' out-of-fold
  logits: the same network and accuracy, the lowest ECE and log loss, at five more fits (a `modern` fit
  is a fraction of a second).
- On MNIST a split of 5% (3,000 digits, about 40 mistakes) already fits T as well as 10%, and costs
  nothing measurable (98.57% and 98.58% against 98.59%, one run: within a standard error of 0.12%);
  cross-fitting would multiply a long fit's time.
- So: `calibration_folds` for small data sets, `calibration_fraction` for large ones. The `mnist-elastic`
  recipe holds 5% out; `modern`, `mnist`, `blog` and `blog-exact` stay uncalibrated (T = 1), so their
  documented figures and the post's reproduction are unchanged; `--set calibration_folds=5` calibrates
  `modern` with the same weights."""


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
             "\"As trained\" is the same network with T = 1. calibration_fraction f holds f of the training rows out "
             "for the temperature; calibration_folds k cross-fits it on every training row (the network is the one "
             "calibration_fraction 0 trains, bit for bit, k more fits); the last row gives that network the "
             "temperature the largest calibration_fraction's run fitted (nothing held out, one more fit).", "",
             f"## 8x8 digits, `modern` recipe: {args.folds}-fold cross-validation inside the training split of seeds "
             f"0-{args.seeds - 1} ({len(digits)} folds; ± the standard error over them)", "", *table(summarise(digits))]
    if not args.no_mnist and MNIST.is_dir():
        from digitnet.data.idx import load_mnist

        data = load_mnist(MNIST)
        train = np.setdiff1d(np.arange(len(data.y)), data.test_rows)
        overrides = json.loads(args.mnist_set)
        print("MNIST ...", file=sys.stderr, flush=True)
        mnist = [fold(data, args.mnist_recipe, overrides, train[:-10_000], train[-10_000:], FRACTIONS["mnist"],
                      args.mnist_folds)]
        lines += ["", f"## MNIST, `{args.mnist_recipe}` recipe{' with ' + json.dumps(overrides) if overrides else ''}: "
                  "trained on the first 50,000 training images, scored on the last 10,000 (one run, seed 0)", "",
                  *table(summarise(mnist))]
    text = "\n".join(lines + ["", CHOSEN]) + "\n"
    print(text)
    (HERE / "CALIBRATION.md").write_text(text)


if __name__ == "__main__":
    main()
