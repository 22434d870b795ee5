"""MNIST side by side: digitnet's `mnist` recipe against PyTorch 2.13.0 and scikit-learn's MLPClassifier on
the same 784-200-10 tanh network and MNIST's official split (60,000 training, 10,000 test images).

    python benchmarks/mnist.py            # part of `make bench`; rewrites benchmarks/MNIST.md
    python benchmarks/mnist.py --quick    # one seed, no scikit-learn (5 minutes a fit); prints only
    python benchmarks/mnist.py --augmentation-only   # rewrites only MNIST.md's section on augmentation's cost
    python benchmarks/mnist.py --elastic-only   # only the `mnist-elastic` row and its target (a long fit)

Threads: every system gets both cores (PyTorch: torch.set_num_threads(2); NumPy's BLAS, which
scikit-learn and digitnet's products use: 2 threads). Inputs for the baselines are digitnet's own
scaling ((x - mean) / std over the training pixels), in float32. Times are medians of the runs made.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import threadpoolctl

import digitnet
from digitnet.data import fit_scaling
from digitnet.data.idx import load_mnist
from digitnet.trainer import Run

HERE = Path(__file__).resolve().parent
# $MNIST_DIR, else ../shared/data/mnist from the repository's root
MNIST = Path(os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR") else HERE.parents[1] / "shared" / "data" / "mnist"
THREADS = 2
FLOPS_PER_SAMPLE = 2 * (2 * 784 * 200 + 3 * 200 * 10)  # X@W1, X.T@dz1; h@W2, h.T@dz2, dz2@W2.T
TORCH_ANCHOR = {"epochs": 10, "strong": True, "dropout": 0.0, "lr": 0.005, "batch_size": 128}
SKLEARN = {"hidden_layer_sizes": (200,), "activation": "tanh", "early_stopping": True}

try:
    import torch

    sys.path.insert(0, str(HERE))
    import torch_reference
except ImportError:
    torch = None


def fmt(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.0f} ms"


def peak_gflops(repeats: int = 5) -> float:
    """float32 matrix-product speed on 1024x1024 (the peak), GFLOP/s, best of ``repeats``."""
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    best = min(_time(lambda: a @ a) for _ in range(repeats))
    return 2 * 1024**3 / best / 1e9


def against_floor(epoch, n: int, repeats: int = 5) -> dict[str, float]:
    """Median seconds of ``epoch()`` and of the FLOP floor of n samples, and the median of their ratios, with
    the floor measured (peak_gflops) right before each epoch: this host's speed drifts by up to 2x within
    minutes, so an epoch is only compared with the peak of the same moment."""
    epoch()  # warm
    pairs = []
    for _ in range(repeats):
        floor = FLOPS_PER_SAMPLE * n / (peak_gflops(3) * 1e9)
        pairs.append((_time(epoch), floor))
    return {"time": statistics.median(t for t, _ in pairs), "floor": statistics.median(f for _, f in pairs),
            "ratio": statistics.median(t / f for t, f in pairs)}


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def scaled(data, rows):
    s = fit_scaling(data.X[data_train(data)], "standard")
    return s.apply(data.X, "float32", rows)


def data_train(data):
    return np.setdiff1d(np.arange(len(data.y)), data.test_rows)


def bench_digitnet(data, seeds, overrides, label, rows, recipe="mnist"):
    accuracy, times, epochs = [], [], []
    for seed in seeds:
        config = digitnet.Config.from_recipe(recipe, seed=seed, **overrides)
        t = time.perf_counter()
        model = digitnet.train(data, config)
        times.append(time.perf_counter() - t)
        accuracy.append(model.metrics["accuracy"])
        epochs.append(model.history.epochs)
        print(f"  {label} seed {seed}: {accuracy[-1]:.2%} in {fmt(times[-1])}", file=sys.stderr, flush=True)
    rows.append({"system": label, "accuracy": accuracy, "time": times, "epochs": epochs[0]})
    return rows[-1]


def time_to_accuracy(data, target, candidates=(2, 3, 4, 5, 6, 8, 10, 12, 15, 20)):
    """The shortest `mnist` run (fewer epochs, cosine schedule over them) that reaches ``target`` on seed 0."""
    for epochs in candidates:
        t = time.perf_counter()
        model = digitnet.train(data, digitnet.Config.from_recipe("mnist", epochs=epochs))
        seconds = time.perf_counter() - t
        print(f"  digitnet {epochs} epochs: {model.metrics['accuracy']:.2%} in {fmt(seconds)}", file=sys.stderr, flush=True)
        if model.metrics["accuracy"] >= target:
            return {"epochs": epochs, "accuracy": model.metrics["accuracy"], "time": seconds}
    return None


def bench_torch(data, seeds, rows):
    train, test = data_train(data), data.test_rows
    Xtr, Xte = scaled(data, train), scaled(data, test)
    torch.set_num_threads(THREADS)
    out = {}
    for label, fit in (
        ("PyTorch: AdamW, one-cycle, label smoothing, batch 128, 10 epochs",
         lambda seed: torch_reference.fit(Xtr, data.y[train], seed=seed, **TORCH_ANCHOR)),
        ("PyTorch running digitnet's `mnist` recipe",
         lambda seed: torch_reference.fit_like_digitnet(Xtr, data.y[train], digitnet.Config.from_recipe("mnist", seed=seed))),
    ):
        accuracy, times = [], []
        for seed in seeds:
            t = time.perf_counter()
            net = fit(seed)
            times.append(time.perf_counter() - t)
            accuracy.append(float(np.mean(torch_reference.predict_proba(net, Xte).argmax(axis=1) == data.y[test])))
            print(f"  {label} seed {seed}: {accuracy[-1]:.2%} in {fmt(times[-1])}", file=sys.stderr, flush=True)
        rows.append({"system": label, "accuracy": accuracy, "time": times,
                     "epochs": TORCH_ANCHOR["epochs"] if "AdamW" in label else digitnet.Config.from_recipe("mnist").epochs})
        out[label] = (net, rows[-1])
    return out


def bench_sklearn(data, rows):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    train, test = data_train(data), data.test_rows
    Xtr, Xte = scaled(data, train), scaled(data, test)
    clf = MLPClassifier(random_state=0, **SKLEARN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        clf.fit(Xtr, data.y[train])
        seconds = time.perf_counter() - t
    accuracy = float(np.mean(clf.predict(Xte) == data.y[test]))
    print(f"  scikit-learn: {accuracy:.2%} in {fmt(seconds)}", file=sys.stderr, flush=True)
    rows.append({"system": "scikit-learn MLPClassifier((200,), tanh, early_stopping=True), float32",
                 "accuracy": [accuracy], "time": [seconds], "epochs": clf.n_iter_})
    return clf, rows[-1]


def epoch_times(data, batch_size):
    """A digitnet epoch over the 60,000 training images (recipe settings, this batch size) against the floor."""
    train = data_train(data)
    X = scaled(data, train)
    config = digitnet.Config.from_recipe("mnist", batch_size=batch_size)
    run = Run(X.shape[1], 10, config, np.random.default_rng(0), image_shape=(28, 28))
    Y = run.targets(data.y[train])
    return against_floor(lambda: run.epoch(X, Y, data.y[train]), len(X))


AUGMENTATIONS = {  # each alone at a typical strength, then all of them (fast/augment.py); the recipe's batches
    "1-pixel shifts (the `mnist` recipe)": {"augment": 1},
    "rotation 10°": {"rotation": 10.0},
    "shear 10°": {"shear": 10.0},
    "zoom 0.1": {"zoom": 0.1},
    "stroke width 0.5": {"stroke": 0.5},
    "a tenth stretched to their box": {"stretch_to_box": 0.1},
    "elastic (alpha 34, sigma 4)": {"elastic_alpha": 34.0, "elastic_sigma": 4.0},
    "all of the above": {"augment": 1, "rotation": 10.0, "shear": 10.0, "zoom": 0.1, "stroke": 0.5,
                         "stretch_to_box": 0.1, "elastic_alpha": 34.0, "elastic_sigma": 4.0},
}
AUGMENTATION_SECTION = "## Augmentation's cost per epoch"


def augmentation_cost(data, rounds: int = 5) -> dict[str, dict[str, float]]:
    """CPU seconds per epoch over the 60,000 training images, on one BLAS thread, without augmentation and
    with each of AUGMENTATIONS (the `mnist` recipe's other settings), in rounds that run every setting once;
    per setting the median and the median of its ratios to the plain epoch of the same round. CPU time of
    one thread, not wall time: on a machine shared with other jobs the wall time mostly measures the wait
    for a core (three runs of a wall-time version on the same busy machine gave ratios from 1.0x to 2.2x)."""
    train = data_train(data)
    X = scaled(data, train)
    y = data.y[train]
    runs = {}
    for name, overrides in {"none": {"augment": 0}, **AUGMENTATIONS}.items():
        config = digitnet.Config.from_recipe("mnist", **{"augment": 0, **overrides})
        run = Run(X.shape[1], 10, config, np.random.default_rng(0), image_shape=(28, 28))
        Y = run.targets(y)
        run.epoch(X, Y, y)  # compiled, buffers made
        runs[name] = (run, Y)
    times = {name: [] for name in runs}
    with threadpoolctl.threadpool_limits(1):
        for _ in range(rounds):
            for name, (run, Y) in runs.items():
                start = time.process_time()
                run.epoch(X, Y, y)
                times[name].append(time.process_time() - start)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return {name: {"time": statistics.median(t), "load": load,
                   "ratio": statistics.median(a / b for a, b in zip(t, times["none"]))} for name, t in times.items()}


def render_augmentation(cost) -> list[str]:
    lines = [AUGMENTATION_SECTION, "",
             "One epoch of the `mnist` recipe (batches of 256) over the 60,000 training images with each augmentation "
             "(fast/augment.py, applied in the compiled batch gather), against the same epoch without any: CPU time "
             "on one thread (BLAS too), the median of 5 rounds that run every setting once; the ratio is the median "
             "of each round's ratio to that round's plain epoch. CPU time, because wall time on a shared machine "
             f"mostly measures the wait for a core; load average when it ended: {cost['none']['load']:.1f} on "
             f"{os.cpu_count()} cores.", "",
             "| augmentation | time per epoch | vs none |", "|---|---|---|"]
    lines += [f"| {name} | {fmt(c['time'])} CPU | {c['ratio']:.2f}x |" for name, c in cost.items()]
    return lines


def update_augmentation_section(cost) -> None:
    """MNIST.md with only its augmentation section replaced (appended when it has none)."""
    path = HERE / "MNIST.md"
    text = path.read_text() if path.exists() else ""
    section = "\n".join(render_augmentation(cost)) + "\n"
    if AUGMENTATION_SECTION in text:
        before, _, after = text.partition(AUGMENTATION_SECTION)
        rest = after.find("\n## ")
        text = before + section + (after[rest:] if rest >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def torch_epoch_times(data, batch_size):
    train = data_train(data)
    Xtr = scaled(data, train)
    config = digitnet.Config.from_recipe("mnist", batch_size=batch_size, epochs=1)
    return against_floor(lambda: torch_reference.fit_like_digitnet(Xtr, data.y[train], config), len(Xtr), repeats=3)


def inference(data, model, torch_net, clf, repeats=15):
    """Rows per second over the 10,000 test images: digitnet from raw uint8 pixels (checks and scaling
    included), the others from pre-scaled float32."""
    test = data.test_rows
    raw, pre = data.X[test], scaled(data, test)
    systems = {"digitnet (raw pixels in)": lambda: model.predict_proba(raw)}
    if torch_net is not None:
        systems["PyTorch (inference_mode)"] = lambda: torch_reference.predict_proba(torch_net, pre)
    if clf is not None:
        systems["scikit-learn predict_proba"] = lambda: clf.predict_proba(pre)
    times = {name: [] for name in systems}
    for fn in systems.values():
        fn()
    # rounds of 5 calls per system, so that the machine's drifting load reaches every system alike; a pause before
    # each, for the other library's worker threads to stop spinning (OpenBLAS and OpenMP busy-wait after work)
    for _ in range(repeats // 5):
        for name, fn in systems.items():
            time.sleep(0.3)
            times[name] += [_time(fn) for _ in range(5)]
    return {name: len(test) / statistics.median(t) for name, t in times.items()}


def peak_rss(directory: Path) -> float | None:
    """MB of peak resident memory of a full `digitnet train --data mnist:DIR` in a fresh process."""
    if not Path("/usr/bin/time").exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        command = ["/usr/bin/time", "-v", str(Path(sys.executable).with_name("digitnet")), "train", "--recipe", "mnist",
                   "--data", f"mnist:{directory}", "--quiet", "--out", f"{tmp}/m.safetensors"]
        r = subprocess.run(command, capture_output=True, text=True)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return int(match.group(1)) / 1024 if match else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--augmentation-only", action="store_true")
    parser.add_argument("--elastic-only", action="store_true")
    args = parser.parse_args()
    if not MNIST.is_dir():
        print(f"MNIST's files are not at {MNIST} (set MNIST_DIR): skipped", file=sys.stderr)
        return
    seeds = range(1 if args.quick else args.seeds)
    threadpoolctl.threadpool_limits(THREADS)
    data = load_mnist(MNIST)
    if args.augmentation_only:
        cost = augmentation_cost(data)
        print("\n".join(render_augmentation(cost)))
        update_augmentation_section(cost)
        return
    if args.elastic_only:
        row = bench_elastic(data, [])
        update_elastic_rows(row)
        print(f"{row['system']}: {row['accuracy'][0]:.2%} in {fmt(row['time'][0])}")
        return
    peak = peak_gflops()
    rows = []
    print("digitnet", file=sys.stderr)
    main_row = bench_digitnet(data, seeds, {}, MAIN_LABEL, rows)
    bench_digitnet(data, seeds, {"augment": 0}, "digitnet `mnist` without augmentation", rows)
    augment_row = bench_digitnet(data, seeds, LONGER, "digitnet `mnist`, 60 epochs", rows)
    elastic_row = bench_elastic(data, rows)
    torch_rows = bench_torch(data, range(1), rows) if torch is not None else {}
    clf, sk_row = bench_sklearn(data, rows) if not args.quick else (None, None)
    baselines = [r for _, r in torch_rows.values()] + ([sk_row] if sk_row else [])
    catch_up = {b["system"]: time_to_accuracy(data, np.mean(b["accuracy"])) for b in baselines}
    per_epoch = {b: epoch_times(data, b) for b in (128, 256)}
    augmentation = augmentation_cost(data)
    torch_epoch = torch_epoch_times(data, 128) if torch is not None else None
    model = digitnet.train(data, digitnet.Config.from_recipe("mnist", epochs=1))
    anchor_net = next(iter(torch_rows.values()))[0] if torch_rows else None
    throughput = inference(data, model, anchor_net, clf)
    rss = peak_rss(MNIST)
    report = render(rows, main_row, augment_row, baselines, catch_up, per_epoch, torch_epoch, peak, throughput, rss,
                    len(data_train(data)), args.quick, augmentation, elastic_row)
    print(report)
    if not args.quick:
        (HERE / "MNIST.md").write_text(report)


MAIN_LABEL = "digitnet `mnist` recipe (1-pixel shifts, 20 epochs)"
ELASTIC_TARGET = "`mnist-elastic`: test error ≤ 0.8% (LeCun's table: 800 hidden units, 0.7% elastic, 1.1% affine)"


def bench_elastic(data, rows):
    elastic = digitnet.Config.from_recipe("mnist-elastic")
    return bench_digitnet(data, range(1), {}, f"digitnet `mnist-elastic` (elastic distortions, {elastic.optimizer}, "
                          f"{elastic.epochs} epochs; one seed: a long fit)", rows, recipe="mnist-elastic")


def elastic_line(row, base_time):
    t = statistics.median(row["time"])
    return (f"| {row['system']} | {len(row['accuracy'])} | {np.mean(row['accuracy']):.2%} | {fmt(t)} | {row['epochs']} | "
            f"{t / base_time:.2f}x |")


def elastic_target(row):
    error = 1 - np.mean(row["accuracy"])
    return f"| {ELASTIC_TARGET} | {error:.2%} | {'yes' if error <= 0.008 else '**no**'} |"


def update_elastic_rows(row) -> None:
    """MNIST.md with only the `mnist-elastic` row and its target replaced; its speed ratio against the `mnist`
    row's time already there (a fit of this run against one of an earlier run: the ratio is indicative)."""
    path = HERE / "MNIST.md"
    lines = path.read_text().split("\n")
    main = next(line for line in lines if line.startswith(f"| {MAIN_LABEL} |"))
    value, unit = main.split(" | ")[3].split()
    base_time = float(value) * (1e-3 if unit == "ms" else 1.0)
    lines = [elastic_line(row, base_time) if line.startswith("| digitnet `mnist-elastic`")
             else elastic_target(row) if line.startswith(f"| {ELASTIC_TARGET} |") else line for line in lines]
    path.write_text("\n".join(lines))


LONGER = {"epochs": 60}  # the most accurate setting the cross-validation found (benchmarks/TUNING_MNIST.md)


def render(rows, main_row, augment_row, baselines, catch_up, per_epoch, torch_epoch, peak, throughput, rss, n, quick,
           augmentation, elastic_row):
    lines = ["# MNIST: digitnet against PyTorch and scikit-learn", "",
             "Written by `python benchmarks/mnist.py` (part of `make bench`); do not edit by hand."
             + (" **--quick run.**" if quick else ""), "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; NumPy {np.__version__}, "
             f"PyTorch {torch.__version__ if torch else 'not installed'}; digitnet {digitnet.__version__}. "
             f"Threads: {THREADS} for every system. float32 matrix products: {peak:.0f} GFLOP/s on 1024x1024.", "",
             "## Accuracy and fit time on the official split", "",
             "Test accuracy on the 10,000 t10k images (mean ± std over seeds); fit time (median) of the whole fit "
             "from the loaded data (digitnet: scaling, training, scoring; the others: training on pre-scaled inputs).", "",
             "| system | seeds | test accuracy | fit time | epochs | vs digitnet `mnist` |", "|---|---|---|---|---|---|"]
    base_time = statistics.median(main_row["time"])
    for r in rows:
        if r is elastic_row:
            lines.append(elastic_line(r, base_time))
            continue
        acc = f"{np.mean(r['accuracy']):.2%}" + (f" ± {np.std(r['accuracy']):.2%}" if len(r["accuracy"]) > 1 else "")
        t = statistics.median(r["time"])
        lines.append(f"| {r['system']} | {len(r['accuracy'])} | {acc} | {fmt(t)} | {r['epochs']} | {t / base_time:.2f}x |")
    lines += ["", "### At equal accuracy", "",
              "The shortest digitnet `mnist` run (fewer epochs, its cosine schedule over them; seed 0) that reaches each "
              "baseline's accuracy, and the baseline's fit time over it.", "",
              "| baseline | its accuracy | its time | digitnet epochs | digitnet accuracy | digitnet time | ratio |",
              "|---|---|---|---|---|---|---|"]
    ratios = {}
    for b in baselines:
        c = catch_up[b["system"]]
        bt = statistics.median(b["time"])
        if c is None:
            lines.append(f"| {b['system']} | {np.mean(b['accuracy']):.2%} | {fmt(bt)} | not reached in 20 epochs | | | |")
            continue
        ratios[b["system"]] = bt / c["time"]
        lines.append(f"| {b['system']} | {np.mean(b['accuracy']):.2%} | {fmt(bt)} | {c['epochs']} | {c['accuracy']:.2%} | "
                     f"{fmt(c['time'])} | {ratios[b['system']]:.1f}x |")
    lines += ["", "## One epoch against the arithmetic floor", "",
              f"An epoch over {n:,} images is {FLOPS_PER_SAMPLE * n / 1e9:.1f} GFLOP; the floor is that at the 1024x1024 "
              "product's speed, measured (best of 3) right before each timed epoch, since this host's speed drifts. "
              "Medians of 5 pairs (PyTorch: 3); the ratio is the median of the pairs' ratios.", "",
              "| system | batch | time per epoch | floor | vs floor |", "|---|---|---|---|---|"]
    for batch, e in per_epoch.items():
        lines.append(f"| digitnet | {batch} | {fmt(e['time'])} | {fmt(e['floor'])} | {e['ratio']:.1f}x |")
    if torch_epoch is not None:
        lines.append(f"| PyTorch, digitnet's recipe | 128 | {fmt(torch_epoch['time'])} | {fmt(torch_epoch['floor'])} | "
                     f"{torch_epoch['ratio']:.1f}x |")
    lines += ["", *render_augmentation(augmentation)]
    lines += ["", "## Inference on the 10,000 test images", "", "| system | rows per second |", "|---|---|"]
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in throughput.items()]
    lines += ["", "## Memory", "",
              f"Peak resident memory of `digitnet train --recipe mnist --data mnist:DIR` in a fresh process "
              f"(`/usr/bin/time -v`): {rss:.0f} MB." if rss else "`/usr/bin/time` is missing: peak memory not measured."]
    torch_anchor = next((b for b in baselines if "AdamW" in b["system"]), None)
    best_ratio = min(e["ratio"] for e in per_epoch.values())
    targets = [("`mnist` recipe: mean test accuracy ≥ 98.3%", f"{np.mean(main_row['accuracy']):.2%}",
                np.mean(main_row["accuracy"]) >= 0.983),
               ("with augmentation (60 epochs of shifts) ≥ 98.7%", f"{np.mean(augment_row['accuracy']):.2%}",
                np.mean(augment_row["accuracy"]) >= 0.987),
               (ELASTIC_TARGET, f"{1 - np.mean(elastic_row['accuracy']):.2%}", 1 - np.mean(elastic_row["accuracy"]) <= 0.008),
               ("one epoch within 2x of the FLOP floor", f"{best_ratio:.1f}x", best_ratio <= 2),
               ("peak memory of a full train < 700 MB", f"{rss:.0f} MB" if rss else "–", bool(rss and rss < 700))]
    if torch_anchor is not None:
        r = ratios.get(torch_anchor["system"])
        targets.append(("fit ≥ 5x faster than PyTorch at equal or better accuracy", f"{r:.1f}x" if r else "–", bool(r and r >= 5)))
        rate = throughput["digitnet (raw pixels in)"] / throughput["PyTorch (inference_mode)"]
        targets.append(("inference ≥ 2x PyTorch's batch throughput", f"{rate:.1f}x", rate >= 2))
    sk = next((b for b in baselines if "scikit" in b["system"]), None)
    if sk is not None:
        r = ratios.get(sk["system"])
        targets.append(("fit ≥ 10x faster than scikit-learn at equal or better accuracy", f"{r:.1f}x" if r else "–", bool(r and r >= 10)))
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in targets]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
