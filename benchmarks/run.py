"""Side-by-side benchmark: digitnet against the post's literal algorithm, scikit-learn and PyTorch.

    python benchmarks/run.py            # what `make bench` runs; rewrites benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # 3 splits, fewer repeats; prints only

Every time is measured in this one run next to its reference, as a median (min-max) of
several runs, and every ratio is taken pair by pair (same split, same seed), so the figures
hold on a noisy shared machine. PyTorch rows need `pip install torch==2.13.0` and are
skipped, with a note, without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import sklearn
import threadpoolctl
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import digitnet
from digitnet.data import fit_scaling, load_digits, split
from digitnet.trainer import fit

HERE = Path(__file__).resolve().parent

from digitnet import literal_blog  # the post's code, transcribed: the reference the tests check the blog recipe against

try:
    import torch

    import torch_reference
except ImportError:
    torch = None

SKLEARN_TUNED = {"alpha": 0.01, "learning_rate_init": 0.01}
STRONGEST_FILE = HERE / "sklearn_strongest.json"  # written by tune_sklearn.py (a search on seeds 100-104)
SKLEARN_STRONGEST = json.loads(STRONGEST_FILE.read_text()) if STRONGEST_FILE.exists() else None
THREADS = 2  # every system may use both cores: BLAS (NumPy, scikit-learn, digitnet), PyTorch's intra-op pool
CATCH_UP_EPOCHS = (3, 4, 5, 6, 8, 10, 12, 16)  # digitnet modern runs tried for "time to the baseline's accuracy"
TORCH_STRONG = {"epochs": 200, "strong": True, "dropout": 0.3, "lr": 0.01}
FLOPS_PER_SAMPLE = 2 * (2 * 64 * 200 + 3 * 200 * 10)  # forward X@W1, h@W2; backward h.T@dz2, dz2@W2.T, X.T@dz1


def timed(fn, repeats):
    """Run fn() `repeats` times; returns (seconds of each run, last result)."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_spread(times):
    return f"{fmt_time(statistics.median(times))} ({fmt_time(min(times))}–{fmt_time(max(times))})"


def machine():
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "; ".join(
        f"{i['internal_api']} {i['version']} ({i['num_threads']} threads, {os.path.basename(i['filepath'])})"
        for i in threadpoolctl.threadpool_info()
    )
    versions = f"Python {platform.python_version()}, NumPy {np.__version__}, scikit-learn {sklearn.__version__}"
    versions += f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ", PyTorch not installed"
    return f"{cpu}, {os.cpu_count()} cores; {versions}, digitnet {digitnet.__version__}. Thread pools: {blas or 'none found'}"


def matmul_speed(repeats):
    """float32 GFLOP/s of NumPy's BLAS: a large product (the machine's peak) and the training batch's products."""
    rng = np.random.default_rng(0)
    A = rng.random((1024, 1024), dtype=np.float32)
    times, _ = timed(lambda: A @ A, repeats)
    peak = 2 * 1024**3 / statistics.median(times) / 1e9
    X, W1 = rng.random((64, 64), dtype=np.float32), rng.random((64, 200), dtype=np.float32)
    D = rng.random((64, 200), dtype=np.float32)

    def batch_products():
        for _ in range(100):
            X @ W1
            X.T @ D

    times, _ = timed(batch_products, repeats)
    small = 100 * 2 * (2 * 64 * 64 * 200) / statistics.median(times) / 1e9
    return peak, small


def bench_blog_epoch(repeats):
    """One epoch of the post's algorithm (dropout on), literal vs the blog recipe, same weights and draws."""
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

    recipe()  # compile outside the timing
    t_recipe, (W1b, W2b) = timed(recipe, repeats)
    t_literal, (W1a, W2a) = timed(literal, repeats)
    diff = max(np.abs(W1a - W1b).max(), np.abs(W2a - W2b).max())
    ratios = [a / b for a, b in zip(t_literal, t_recipe)]
    return {"literal": t_literal, "blog": t_recipe, "ratio": statistics.median(ratios), "diff": diff, "n": len(X)}


def bench_epoch(repeats, peak):
    """Seconds per epoch of the modern recipe (fixed 20 epochs, seed 0's training rows) against the FLOP floor."""
    data = load_digits()
    config = digitnet.Config.from_recipe("modern", epochs=20, patience=None)
    train, _ = split(data.y, 0.25, 0, stratify=True)
    fit_rows, val_rows = split(data.y[train], config.val_fraction, 0, stratify=True)
    scaling = fit_scaling(data.X[train][fit_rows], "standard")
    X = scaling.apply(data.X[train]).astype(np.float32)
    Xf, yf, Xv, yv = X[fit_rows], data.y[train][fit_rows], X[val_rows], data.y[train][val_rows]
    run = lambda: fit(Xf, yf, config, np.random.default_rng(0), X_val=Xv, y_val=yv)  # noqa: E731
    run()
    times, _ = timed(run, repeats)
    per_epoch = [t / config.epochs for t in times]
    floor = FLOPS_PER_SAMPLE * len(Xf) / (peak * 1e9)
    return {"per_epoch": per_epoch, "floor": floor, "n": len(Xf), "batch": config.batch_size}


def sklearn_inputs(data, seed, per_feature=False):
    train, test = split(data.y, 0.25, seed, stratify=True)
    if per_feature:
        s = StandardScaler().fit(data.X[train])
        return train, test, s.transform(data.X[train]), s.transform(data.X[test])
    s = fit_scaling(data.X[train], "standard")
    return train, test, s.apply(data.X[train]), s.apply(data.X[test])


def bench_fits(seeds):
    """Each system on each seeded 75/25 split: test accuracy and fit time."""
    data = load_digits()
    systems = {}

    def record(name, seed, seconds, accuracy, epochs=None):
        r = systems.setdefault(name, {"seed": [], "time": [], "accuracy": [], "epochs": []})
        r["seed"].append(seed)
        r["time"].append(seconds)
        r["accuracy"].append(accuracy)
        r["epochs"].append(epochs)

    digitnet.train(data, digitnet.Config.from_recipe("modern", epochs=1))  # compile outside the timing
    digitnet.train(data, digitnet.Config.from_recipe("modern", epochs=1, dtype="float64"))
    catch_up = {}
    for seed in seeds:
        for name, recipe, overrides in (
            ("digitnet modern", "modern", {}),
            ("digitnet modern, float64", "modern", {"dtype": "float64"}),
            ("digitnet blog, dropout off", "blog", {"dropout": 0.0}),
        ):
            t = time.perf_counter()
            model = digitnet.train(data, digitnet.Config.from_recipe(recipe, seed=seed, **overrides))
            record(name, seed, time.perf_counter() - t, model.metrics["accuracy"], model.history.epochs)
        train, test, Xtr, Xte = sklearn_inputs(data, seed)
        # the scikit-learn estimator on the same split, raw pixels in (it learns its own scaling), defaults
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t = time.perf_counter()
            est = digitnet.DigitNetClassifier(random_state=seed).fit(data.X[train], data.y[train])
            seconds = time.perf_counter() - t
        record("DigitNetClassifier (defaults)", seed, seconds, est.score(data.X[test], data.y[test]), est.n_iter_)
        sklearn_runs = [("sklearn MLP default", {}, np.float64), ("sklearn MLP tuned", SKLEARN_TUNED, np.float64),
                        ("sklearn MLP tuned, float32", SKLEARN_TUNED, np.float32)]
        if SKLEARN_STRONGEST is not None:
            sklearn_runs.append(("sklearn MLP strongest (searched on seeds 100-104), float32",
                                 {**SKLEARN_STRONGEST, "n_iter_no_change": 10**6}, np.float32))
        for name, params, dtype in sklearn_runs:
            clf = MLPClassifier(hidden_layer_sizes=(200,), activation="tanh", random_state=seed, **params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                X32 = Xtr.astype(dtype)
                t = time.perf_counter()
                clf.fit(X32, data.y[train])
                seconds = time.perf_counter() - t
            record(name, seed, seconds, float(np.mean(clf.predict(Xte.astype(dtype)) == data.y[test])), clf.n_iter_)
        t = time.perf_counter()
        svc = SVC().fit(Xtr, data.y[train])
        record("SVC rbf (not a network)", seed, time.perf_counter() - t, float(np.mean(svc.predict(Xte) == data.y[test])))
        same = digitnet.Config.from_recipe("modern", seed=seed, patience=None, val_fraction=0.0)
        t = time.perf_counter()
        model = digitnet.train(data, same)
        record("digitnet modern, no validation split (the recipe PyTorch runs below)", seed, time.perf_counter() - t,
               model.metrics["accuracy"], model.history.epochs)
        for epochs in CATCH_UP_EPOCHS:
            t = time.perf_counter()
            model = digitnet.train(data, digitnet.Config.from_recipe("modern", seed=seed, epochs=epochs))
            catch_up.setdefault(epochs, {"time": [], "accuracy": []})
            catch_up[epochs]["time"].append(time.perf_counter() - t)
            catch_up[epochs]["accuracy"].append(model.metrics["accuracy"])
        if torch is None:
            continue
        t = time.perf_counter()
        net = torch_reference.fit_like_digitnet(Xtr, data.y[train], same)
        seconds = time.perf_counter() - t
        record("PyTorch running digitnet's recipe (same epochs, batch, Adam, schedule, smoothing, init)", seed, seconds,
               float(np.mean(torch_reference.predict_proba(net, Xte).argmax(axis=1) == data.y[test])), same.epochs)
        for name, kwargs, per_feature in (
            ("PyTorch reference (Adam, 150 epochs)", {"epochs": 150}, False),
            ("PyTorch strong (AdamW, one-cycle, smoothing, 200 epochs)", TORCH_STRONG, True),
            ("PyTorch strong + input noise 0.3", {**TORCH_STRONG, "noise": 0.3}, True),
        ):
            train, test, Xtr, Xte = sklearn_inputs(data, seed, per_feature)
            t = time.perf_counter()
            net = torch_reference.fit(Xtr, data.y[train], seed=seed, **kwargs)
            seconds = time.perf_counter() - t
            accuracy = float(np.mean(torch_reference.predict_proba(net, Xte).argmax(axis=1) == data.y[test]))
            record(name, seed, seconds, accuracy, kwargs["epochs"])
    return systems, catch_up


def pair_ratio(systems, slow, fast):
    """Median over splits of time(slow) / time(fast) on the same split."""
    return statistics.median(a / b for a, b in zip(systems[slow]["time"], systems[fast]["time"]))


def bench_inference(repeats):
    """Batch throughput (~100k rows) and single-sample latency of trained models, conversions included."""
    data = load_digits()
    model = digitnet.train(data)
    train, _, Xtr, _ = sklearn_inputs(data, 0)
    scaling = fit_scaling(data.X[train], "standard")
    clf = MLPClassifier(hidden_layer_sizes=(200,), activation="tanh", random_state=0, **SKLEARN_TUNED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, data.y[train])
    raw = np.tile(data.X, (56, 1))  # 100,632 rows
    scaled = scaling.apply(raw)  # scikit-learn and PyTorch get pre-scaled input: their scaling is not timed
    one_raw, one_scaled = raw[:1], scaled[:1]
    systems = {"digitnet (raw pixels in)": (model.predict_proba, raw, one_raw), "sklearn MLP": (clf.predict_proba, scaled, one_scaled)}
    if torch is not None:
        net = torch_reference.fit(Xtr, data.y[train], seed=0, epochs=1)
        systems["PyTorch"] = (lambda X: torch_reference.predict_proba(net, X), scaled, one_scaled)
    results = {}
    for name, (predict, batch, one) in systems.items():
        predict(batch[:100])
        times, _ = timed(lambda: predict(batch), repeats)
        latency, _ = timed(lambda: predict(one), 3000)
        results[name] = {"throughput": [len(batch) / t for t in times], "latency": latency}
    return results


def bench_memory():
    """Peak Python-tracked memory (tracemalloc: NumPy arrays included) while training, against the data's size."""
    data = load_digits()
    digitnet.train(data, digitnet.Config.from_recipe("modern", epochs=1))
    out = {}
    for epochs in (4, 16):
        tracemalloc.start()
        digitnet.train(data, digitnet.Config.from_recipe("modern", epochs=epochs, patience=None))
        out[f"digitnet modern, {epochs} epochs (train(): split, scaling, fit, scoring)"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    train, _, Xtr, _ = sklearn_inputs(data, 0)
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(200,), activation="tanh", random_state=0, **SKLEARN_TUNED).fit(Xtr, data.y[train])
    out["sklearn MLP tuned, fit()"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, data.X.nbytes


def report(args, peak, small, blog, epoch, fits, catch_up, inference, memory, data_bytes):
    seeds = len(fits["digitnet modern"]["seed"])
    L = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python benchmarks/run.py`); do not edit by hand."
        + (" **--quick run: 3 splits, fewer repeats.**" if args.quick else ""),
        "",
        f"Machine: {machine()}.",
        "",
        f"float32 matrix products: {peak:.0f} GFLOP/s on 1024x1024 (the peak), {small:.0f} GFLOP/s on the "
        "training batch's 64x64x200 products.",
        "",
        f"## Accuracy and fit time on {seeds} seeded 75/25 splits of load_digits",
        "",
        "Test accuracy mean ± std over the splits; fit time median (min–max); epochs median. digitnet's time is "
        "all of `digitnet.train` (split, scaling, training with its validation split, test scoring); the others "
        "time only `fit` on inputs scaled beforehand (digitnet's scaling; per-feature `StandardScaler` for the "
        "strong PyTorch recipes). \"vs modern\": that system's fit time / digitnet modern's, split by split, median.",
        "",
        "| system | test accuracy | fit time | epochs | time vs modern |",
        "|---|---|---|---|---|",
    ]
    for name, r in fits.items():
        acc = np.array(r["accuracy"])
        epochs = [e for e in r["epochs"] if e is not None]
        L.append(
            f"| {name} | {acc.mean():.2%} ± {acc.std():.2%} | {fmt_spread(r['time'])} | "
            f"{statistics.median(epochs) if epochs else '–':g} | {pair_ratio(fits, name, 'digitnet modern'):.2f}x |"
            if epochs else
            f"| {name} | {acc.mean():.2%} ± {acc.std():.2%} | {fmt_spread(r['time'])} | – | "
            f"{pair_ratio(fits, name, 'digitnet modern'):.2f}x |"
        )
    if torch is None:
        L += ["", "PyTorch rows skipped: PyTorch is not installed (`pip install torch==2.13.0`)."]
    L += ["", "### Fair ratios: the same recipe, and time to the same accuracy", "",
          f"Threads: every system may use both cores ({THREADS} BLAS threads for NumPy and scikit-learn, "
          f"`torch.set_num_threads({THREADS})`); digitnet's trainer itself runs BLAS on one thread for batches "
          "this small (faster under load, as fast when quiet). \"Time to its accuracy\": the shortest digitnet `modern` "
          f"run (epochs from {', '.join(map(str, CATCH_UP_EPOCHS))}; its cosine schedule over them) whose mean "
          "test accuracy over the splits reaches the baseline's; ratio = median over splits of the baseline's "
          "fit time / that run's.", "",
          "| baseline | its accuracy | its fit time | digitnet epochs | digitnet accuracy | digitnet fit time | ratio |",
          "|---|---|---|---|---|---|---|"]
    for name, (epochs, ratio) in fair_ratios(fits, catch_up).items():
        r, c = fits[name], catch_up.get(epochs)
        L.append(f"| {name} | {np.mean(r['accuracy']):.2%} | {fmt_time(statistics.median(r['time']))} | "
                 + (f"{epochs} | {np.mean(c['accuracy']):.2%} | {fmt_time(statistics.median(c['time']))} | {ratio:.1f}x |"
                    if c else "not reached | | | |"))
    same = "digitnet modern, no validation split (the recipe PyTorch runs below)"
    torch_same = next((n for n in fits if n.startswith("PyTorch running digitnet's recipe")), None)
    if torch_same:
        L += ["", f"The same recipe in both (16 epochs, no validation split): PyTorch's fit takes "
              f"{pair_ratio(fits, torch_same, same):.1f}x digitnet's, split by split (median)."]
    L += [
        "",
        "## The post's algorithm: one epoch, dropout on",
        "",
        f"{blog['n']} training samples from the same initial weights and dropout draws; median (min–max) of "
        f"{len(blog['literal'])} runs; speed-up median of paired runs.",
        "",
        "| implementation | time per epoch | speed-up |",
        "|---|---|---|",
        f"| literal (diagonal matrices; digitnet/literal_blog.py) | {fmt_spread(blog['literal'])} | 1x |",
        f"| digitnet `blog` recipe (compiled loop) | {fmt_spread(blog['blog'])} | {blog['ratio']:.1f}x |",
        "",
        f"Largest weight difference between the two after the epoch: {blog['diff']:.1e}.",
        "",
        "## Epoch time against the arithmetic floor",
        "",
        f"One `modern` epoch over {epoch['n']} samples (batches of {epoch['batch']}) is "
        f"{FLOPS_PER_SAMPLE * epoch['n'] / 1e6:.0f} MFLOP; at the measured {peak:.0f} GFLOP/s that is "
        f"{fmt_time(epoch['floor'])}. Measured: {fmt_spread(epoch['per_epoch'])} per epoch, "
        f"{statistics.median(epoch['per_epoch']) / epoch['floor']:.1f}x the floor.",
        "",
        "## Inference",
        "",
        "Throughput on 100,632 rows (load_digits tiled) and the latency of one row, medians. digitnet takes raw "
        "pixels (checks and scaling included); the others take pre-scaled input.",
        "",
        "| system | rows per second | one-row latency |",
        "|---|---|---|",
    ]
    for name, r in inference.items():
        L.append(f"| {name} | {statistics.median(r['throughput']):.3g} | {fmt_time(statistics.median(r['latency']))} |")
    L += ["", "## Peak memory while training", "", f"The data set: {data_bytes / 1e6:.2f} MB of float64 pixels.", ""]
    L += [f"- {name}: {peak_bytes / 1e6:.2f} MB" for name, peak_bytes in memory.items()]
    L += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in targets(fits, catch_up, blog, epoch, inference):
        L.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")
    for name, title in (("LOAD.md", "The web API under load"), ("MNIST.md", "MNIST")):
        if (HERE / name).exists():  # written by load.py and mnist.py, which `make bench` runs first
            body = (HERE / name).read_text().split("\n", 1)[1].strip()
            L += ["", f"## {title} (from [{name}]({name}))", "", body.replace("\n## ", "\n### ")]
    return "\n".join(L) + "\n"


def fair_ratios(fits, catch_up):
    """Baseline -> (digitnet epochs that reach its mean accuracy, median over splits of its time / digitnet's)."""
    out = {}
    for name in fits:
        if name.startswith("digitnet") or name.startswith("DigitNet") or name.startswith("SVC"):
            continue
        target = np.mean(fits[name]["accuracy"])
        epochs = next((e for e in CATCH_UP_EPOCHS if np.mean(catch_up[e]["accuracy"]) >= target), None)
        ratio = statistics.median(a / b for a, b in zip(fits[name]["time"], catch_up[epochs]["time"])) if epochs else 0.0
        out[name] = (epochs, ratio)
    return out


def targets(fits, catch_up, blog, epoch, inference):
    modern = np.mean(fits["digitnet modern"]["accuracy"])
    rows = [
        ("modern: mean test accuracy ≥ 98.0%", f"{modern:.2%}", modern >= 0.98),
    ]
    r = pair_ratio(fits, "sklearn MLP tuned", "digitnet modern")
    better = modern >= np.mean(fits["sklearn MLP tuned"]["accuracy"])
    rows.append(("modern fit ≥ 10x faster than sklearn tuned, at equal or better accuracy", f"{r:.1f}x", r >= 10 and better))
    name = "PyTorch reference (Adam, 150 epochs)"
    if name in fits:
        r = pair_ratio(fits, name, "digitnet modern")
        rows.append(("modern fit ≥ 30x faster than the PyTorch reference run", f"{r:.0f}x",
                     r >= 30 and modern >= np.mean(fits[name]["accuracy"])))
    est = np.mean(fits["DigitNetClassifier (defaults)"]["accuracy"])
    r = pair_ratio(fits, "sklearn MLP tuned", "DigitNetClassifier (defaults)")
    rows.append(("DigitNetClassifier fit ≥ 10x faster than sklearn tuned, at equal or better accuracy", f"{r:.1f}x, {est:.2%}",
                 r >= 10 and est >= np.mean(fits["sklearn MLP tuned"]["accuracy"])))
    fair = fair_ratios(fits, catch_up)
    strongest = next((n for n in fits if n.startswith("sklearn MLP strongest")), None)
    if strongest:
        e, r = fair[strongest]
        rows.append(("fit ≥ 10x faster than the strongest scikit-learn, at its accuracy", f"{r:.1f}x ({e} epochs)", r >= 10))
    torch_same = next((n for n in fits if n.startswith("PyTorch running digitnet's recipe")), None)
    if torch_same:
        r = pair_ratio(fits, torch_same, "digitnet modern, no validation split (the recipe PyTorch runs below)")
        rows.append(("fit ≥ 10x faster than PyTorch running the same recipe", f"{r:.1f}x", r >= 10))
    ratio = statistics.median(epoch["per_epoch"]) / epoch["floor"]
    rows.append(("modern epoch within 5x of the FLOP floor", f"{ratio:.1f}x", ratio <= 5))
    rows.append(("blog ≥ 10x faster per epoch than the literal algorithm, weights equal to 1e-9",
                 f"{blog['ratio']:.1f}x, {blog['diff']:.0e}", blog["ratio"] >= 10 and blog["diff"] <= 1e-9))
    ours = inference["digitnet (raw pixels in)"]
    sk = inference["sklearn MLP"]
    r = statistics.median(ours["throughput"]) / statistics.median(sk["throughput"])
    rows.append(("batch throughput ≥ 2x sklearn's predict_proba", f"{r:.1f}x", r >= 2))
    if "PyTorch" in inference:
        r = statistics.median(ours["throughput"]) / statistics.median(inference["PyTorch"]["throughput"])
        rows.append(("batch throughput ≥ PyTorch's", f"{r:.1f}x", r >= 1))
    r = statistics.median(sk["latency"]) / statistics.median(ours["latency"])
    rows.append(("one-row latency ≤ 1/10 of sklearn's", f"1/{r:.0f}", r >= 10))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 splits, fewer repeats; print, do not write RESULTS.md")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    peak, small = matmul_speed(repeats)
    blog = bench_blog_epoch(repeats)
    epoch = bench_epoch(repeats, peak)
    threadpoolctl.threadpool_limits(THREADS)
    if torch is not None:
        torch.set_num_threads(THREADS)
    fits, catch_up = bench_fits(range(3) if args.quick else range(10))
    inference = bench_inference(repeats)
    memory, data_bytes = bench_memory()
    text = report(args, peak, small, blog, epoch, fits, catch_up, inference, memory, data_bytes)
    print(text)
    if not args.quick:
        (HERE / "RESULTS.md").write_text(text)
        print(f"written to {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
