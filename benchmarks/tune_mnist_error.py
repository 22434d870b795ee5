"""The search for 0.8% test error with one 784-200-10 tanh network (issue 20, item 5), on MNIST's TRAINING
images only: each run trains on the first 50,000 and is scored on the last 10,000; the t10k test files are
never read.

    python benchmarks/tune_mnist_error.py run '{"epochs": 60, "ema_decay": 0.999}' [--recipe mnist-elastic] [--seed 0]
    python benchmarks/tune_mnist_error.py run '{"n_hidden": 800}' --save out/teachers/t800.safetensors
    python benchmarks/tune_mnist_error.py run '{"distill": 0.5}' --teacher out/teachers/t800.safetensors
    python benchmarks/tune_mnist_error.py table [--rows 24:]   # the log (those runs) as a Markdown table
    python benchmarks/tune_mnist_error.py score --teacher A.safetensors --teacher B.safetensors  # and their mean

``run`` trains once, one run at a time on one BLAS thread, and appends one JSON line to the log
(benchmarks/tune_mnist_error.jsonl; ``--log`` for another): the settings, the validation accuracy, its
errors out of 10,000, the log loss (with the model's temperature, when it has one), the epochs run, the
fit's wall and CPU seconds and the load average. A run whose recipe, settings and seed are already in the
log is skipped, so an interrupted search (tune_mnist_error.sh) continues where it stopped; its model file
(``--save``, a teacher for later runs: knowledge distillation) is written by training it again when missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# $MNIST_DIR, else ../shared/data/mnist from the repository's root
MNIST = Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else HERE.parents[1] / "shared" / "data" / "mnist"
LOG = HERE / "tune_mnist_error.jsonl"
VALIDATION = 10_000  # the last training images: MNIST's usual validation split


def key(recipe: str, settings: dict, seed: int, deskew: bool = False, teacher: str | None = None) -> str:
    fields = {"recipe": recipe, "settings": settings, "seed": seed, "deskew": deskew}
    if teacher:
        fields["teacher"] = teacher
    return json.dumps(fields, sort_keys=True)


def logged(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def run(recipe: str, settings: dict, seed: int, log: Path, directory: Path, deskewed: bool = False,
        teachers: list[Path] | None = None, save: Path | None = None) -> dict:
    import threadpoolctl

    import digitnet
    from digitnet.data.idx import load_mnist
    from digitnet.deskew import deskew
    from digitnet.metrics import evaluate
    from digitnet.persistence import load_model

    done = {key(r["recipe"], r["settings"], r["seed"], r.get("deskew", False), r.get("teacher")): r for r in logged(log)}
    named = "+".join(t.name for t in teachers) if teachers else None
    this = key(recipe, settings, seed, deskewed, named)
    if this in done and not (save and not save.exists()):
        return done[this]
    config = digitnet.Config.from_recipe(recipe, seed=seed, **settings)
    if deskewed and config.deskew:
        raise SystemExit("--deskew deskews the images here, and the settings deskew them again: add \"deskew\": false")
    data = load_mnist(directory)
    if deskewed:  # every image, training and validation alike
        data = dataclasses.replace(data, X=deskew(data.X, (28, 28), np.float32))
    train = np.setdiff1d(np.arange(len(data.y)), data.test_rows)  # the t10k rows are dropped here
    fit_rows, held_out = train[:-VALIDATION], train[-VALIDATION:]
    with threadpoolctl.threadpool_limits(1):
        wall, cpu = time.perf_counter(), time.process_time()
        model = digitnet.train(data, config, split_indices=(fit_rows, held_out),
                               teacher=[load_model(t) for t in teachers] if teachers else None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    scores = evaluate(model.predict_proba(data.X[held_out]), data.y[held_out])
    record = {"recipe": recipe, "settings": settings, "seed": seed, "deskew": deskewed, "accuracy": scores.accuracy,
              "errors": int(round((1 - scores.accuracy) * len(held_out))), "log_loss": scores.log_loss,
              "epochs": model.history.epochs, "fit_s": round(wall, 1), "cpu_s": round(cpu, 1),
              "load": round(os.getloadavg()[0], 1), "version": digitnet.__version__}
    if teachers:
        record["teacher"] = named
    if save:
        digitnet.save(model, save)
    if this not in done:  # else the run was made again only to write its model file (--save)
        with log.open("a") as f:
            f.write(json.dumps(record) + "\n")
    return record


def score(paths: list[Path], directory: Path) -> list[str]:
    """Validation errors of saved models (--save) and of their mean logits (the teacher they make together)."""
    from digitnet.data.idx import load_mnist
    from digitnet.persistence import load_model

    data = load_mnist(directory)
    held_out = np.setdiff1d(np.arange(len(data.y)), data.test_rows)[-VALIDATION:]
    y = data.y[held_out]
    logs = [np.log(load_model(path).predict_proba(data.X[held_out]).astype(np.float64)) for path in paths]
    lines = [f"{path.name}: {int(np.sum(z.argmax(axis=1) != y))} errors" for path, z in zip(paths, logs)]
    mean = sum(logs) / len(logs)
    return lines + [f"mean logits: {int(np.sum(mean.argmax(axis=1) != y))} errors"]


def table(records: list[dict]) -> list[str]:
    import digitnet

    lines = ["| recipe | settings | deskewed | seed | validation accuracy | errors | log loss | epochs | fit | CPU |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        settings = ", ".join(f"{k} {v}" for k, v in r["settings"].items() if k != "deskew") or "(the recipe's)"
        if r.get("teacher"):
            settings += f"; teacher {' and '.join(name.removesuffix('.safetensors') for name in r['teacher'].split('+'))}"
        by_model = digitnet.Config.from_recipe(r["recipe"], **r["settings"]).deskew
        deskewed = "by the script (proxy)" if r.get("deskew") else "by the model" if by_model else "no"
        lines.append(f"| {r['recipe']} | {settings} | {deskewed} | {r['seed']} | {r['accuracy']:.2%} | {r['errors']} | "
                     f"{r['log_loss']:.4f} | {r['epochs']} | {r['fit_s'] / 60:.1f} min | {r['cpu_s'] / 60:.1f} min |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "table", "score"))
    parser.add_argument("settings", nargs="?", default="{}", help='JSON object of Config settings, e.g. \'{"epochs": 60}\'')
    parser.add_argument("--recipe", default="mnist-elastic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deskew", action="store_true", help="deskew every image here first (the proxy that measured "
                        "deskewing before Config.deskew existed; the model does not record it): with settings that do "
                        "not deskew")
    parser.add_argument("--teacher", type=Path, action="append", help="a model file (trained by --save on the same "
                        "50,000 images) whose probabilities make up `distill` of the targets; repeated: their mean logits")
    parser.add_argument("--save", type=Path, help="write the trained model here (a teacher for later runs)")
    parser.add_argument("--log", type=Path, default=LOG)
    parser.add_argument("--rows", default=":", help="table: the runs FIRST:LAST of the log (Python's slice), e.g. 23:")
    parser.add_argument("--data", type=Path, default=MNIST)
    args = parser.parse_args()
    if args.command == "score":
        print("\n".join(score(args.teacher or [], args.data)))
        return
    if args.command == "table":
        first, _, last = args.rows.partition(":")
        print("\n".join(table(logged(args.log)[int(first or 0) : int(last) if last else None])))
        return
    r = run(args.recipe, json.loads(args.settings), args.seed, args.log, args.data, args.deskew, args.teacher, args.save)
    print(f"{r['accuracy']:.4f}  {r['errors']:3d} errors  log loss {r['log_loss']:.4f}  fit {r['fit_s']:6.1f} s  "
          f"cpu {r['cpu_s']:6.1f} s  {r['recipe']} {r['settings']} seed {r['seed']}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
