"""Side-by-side benchmark of digitnet against the post's literal algorithm and scikit-learn.

    python benchmarks/run.py            # what `make bench` runs; rewrites benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # fewer repeats, prints only

Every time is a median of several runs with its min and max, measured in this
one run next to its reference, so the ratios hold on a noisy shared machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import digitnet
from digitnet.data import fit_scaling, load_digits, split
from digitnet.trainer import fit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import literal_blog  # noqa: E402  (the reference the tests check the blog recipe against)

SEEDS = range(10)
SKLEARN = {
    "default": {},
    "tuned": {"alpha": 0.01, "learning_rate_init": 0.01},
}


def timed(fn, repeats):
    """Run fn() `repeats` times; returns (list of seconds, last result)."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def spread(times):
    return statistics.median(times), min(times), max(times)


def fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_spread(times):
    med, lo, hi = spread(times)
    return f"{fmt_time(med)} ({fmt_time(lo)}–{fmt_time(hi)})"


def machine():
    import threadpoolctl

    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = ", ".join(f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)" for i in threadpoolctl.threadpool_info())
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, digitnet {digitnet.__version__}; BLAS: {blas or 'none found'}"
    )


def bench_blog_epoch(repeats):
    """One epoch of the post's algorithm (dropout on), literal vs the blog recipe, from the same weights and draws."""
    data = load_digits()
    X = fit_scaling(data.X, "blog").apply(data.X)
    train, _ = split(data.y, 0.25, 0, stratify=False)
    X, y = X[train], data.y[train]
    Y = np.eye(10)[y]

    def literal():
        rng = np.random.default_rng(0)
        W1, W2 = literal_blog.init_weights(rng)
        literal_blog.train_epoch(W1, W2, X, Y, rng, dropout=True)
        return W1, W2

    config = digitnet.Config.from_recipe("blog", epochs=1)

    def recipe():
        params, _ = fit(X, y, config, np.random.default_rng(0))
        return params["W1"], params["W2"]

    t_literal, (W1a, W2a) = timed(literal, repeats)
    t_recipe, (W1b, W2b) = timed(recipe, repeats)
    diff = max(np.abs(W1a - W1b).max(), np.abs(W2a - W2b).max())
    return {"literal": t_literal, "blog": t_recipe, "max_weight_difference": diff, "n": len(X)}


def bench_fits():
    """Full fits on 10 seeded 75/25 splits: test accuracy and fit time of each system."""
    data = load_digits()
    results = {name: {"accuracy": [], "time": [], "epochs": []} for name in ("modern", "blog (dropout off)", "sklearn default", "sklearn tuned")}
    for seed in SEEDS:
        for name, recipe, overrides in (("modern", "modern", {}), ("blog (dropout off)", "blog", {"dropout": 0.0})):
            t = time.perf_counter()
            model = digitnet.train(data, digitnet.Config.from_recipe(recipe, seed=seed, **overrides))
            results[name]["time"].append(time.perf_counter() - t)
            results[name]["accuracy"].append(model.metrics["accuracy"])
            results[name]["epochs"].append(model.history.epochs)
        # scikit-learn gets the same split and the same input scaling as `modern`
        train, test = split(data.y, 0.25, seed, stratify=True)
        scaling = fit_scaling(data.X[train], "standard")
        Xtr, Xte = scaling.apply(data.X[train]), scaling.apply(data.X[test])
        for label, params in SKLEARN.items():
            clf = MLPClassifier(hidden_layer_sizes=(200,), activation="tanh", random_state=seed, **params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t = time.perf_counter()
                clf.fit(Xtr, data.y[train])
                elapsed = time.perf_counter() - t
            name = f"sklearn {label}"
            results[name]["time"].append(elapsed)
            results[name]["accuracy"].append(float(np.mean(clf.predict(Xte) == data.y[test])))
            results[name]["epochs"].append(clf.n_iter_)
    return results


def report(blog, fits, quick):
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python benchmarks/run.py`); do not edit by hand.",
        "",
        f"Machine: {machine()}",
        "",
        "## The post's algorithm: one epoch, dropout on",
        "",
        f"{blog['n']} training samples, same initial weights and dropout draws; median (min–max) of {len(blog['literal'])} runs.",
        "",
        "| implementation | time per epoch | speed-up |",
        "|---|---|---|",
        f"| literal (diagonal matrices, tests/literal_blog.py) | {fmt_spread(blog['literal'])} | 1.0x |",
        f"| digitnet `blog` recipe | {fmt_spread(blog['blog'])} | "
        f"{statistics.median(blog['literal']) / statistics.median(blog['blog']):.1f}x |",
        "",
        f"Largest weight difference after the epoch: {blog['max_weight_difference']:.1e}.",
        "",
        f"## Full fits on {len(SEEDS)} seeded 75/25 splits of load_digits",
        "",
        "Test accuracy mean ± std; fit time median (min–max) over the splits; epochs median.",
        "",
        "| system | test accuracy | fit time | epochs | fit time vs sklearn tuned |",
        "|---|---|---|---|---|",
    ]
    ref = statistics.median(fits["sklearn tuned"]["time"])
    for name, r in fits.items():
        acc = np.array(r["accuracy"])
        lines.append(
            f"| {name} | {acc.mean():.2%} ± {acc.std():.2%} | {fmt_spread(r['time'])} | "
            f"{statistics.median(r['epochs']):g} | {ref / statistics.median(r['time']):.1f}x faster |"
        )
    lines += [
        "",
        "scikit-learn: `MLPClassifier(hidden_layer_sizes=(200,), activation='tanh')`, default settings and "
        f"tuned ({SKLEARN['tuned']}), on the same splits and input scaling as `modern`.",
    ]
    if quick:
        lines += ["", "(--quick run: fewer repeats)"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; print, do not write RESULTS.md")
    args = parser.parse_args()
    blog = bench_blog_epoch(repeats=3 if args.quick else 7)
    fits = bench_fits()
    text = report(blog, fits, args.quick)
    print(text)
    if not args.quick:
        (HERE / "RESULTS.md").write_text(text)
        print(f"written to {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
