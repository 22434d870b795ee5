"""Every number quoted in docs/backprop.md, measured: python docs/backprop_numbers.py [--write | --check]

The document holds blocks between `<!-- numbers:NAME -->` and `<!-- /numbers -->`; this script
computes each block. --write puts fresh blocks into the document, --check (what `make docs-check`
runs) fails if the document's blocks differ from fresh ones; without a flag it prints them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

import digitnet
from digitnet import network
from digitnet.data import fit_scaling, load_digits, split

DOC = Path(__file__).resolve().parent / "backprop.md"
SEEDS = range(10)
BLOCK = re.compile(r"(<!-- numbers:(\w+) -->\n)(.*?)(<!-- /numbers -->)", re.S)


def post_setup(seed=0):
    """The post's data: scaled with one mean and variance, its 75/25 split, U[-1, 1) weights."""
    data = load_digits()
    X = fit_scaling(data.X, "blog").apply(data.X)
    train, _ = split(data.y, 0.25, seed, stratify=False)
    params = network.init_params(np.random.default_rng(seed), 64, 200, 10, init="uniform", bias=False)
    return data, X, train, params


def block_scaling():
    data = load_digits()
    X = fit_scaling(data.X, "blog").apply(data.X)
    return (
        f"| pixel mean | pixel variance | scaled range | scaled std |\n|---|---|---|---|\n"
        f"| {data.X.mean():.3f} | {data.X.var():.2f} | {X.min():.3f} to {X.max():.3f} | {X.std():.3f} |\n"
    )


def block_saturation():
    """Share of hidden activations with |a1| > 0.99 (tanh saturated) at initialisation."""
    data = load_digits()
    rows = ["| input scaling | initial weights | std of z1 | share of \\|a1\\| > 0.99 | share of \\|a1\\| > 0.9 |",
            "|---|---|---|---|---|"]
    for scaling in ("blog", "standard"):
        X = fit_scaling(data.X, scaling).apply(data.X)
        for init in ("uniform", "glorot"):
            params = network.init_params(np.random.default_rng(0), 64, 200, 10, init=init, bias=False)
            z1 = X @ params["W1"]
            a1 = np.tanh(z1)
            rows.append(f"| {scaling} | {init} | {z1.std():.2f} | {np.mean(np.abs(a1) > 0.99):.1%} | "
                        f"{np.mean(np.abs(a1) > 0.9):.1%} |")
    return "\n".join(rows) + "\n"


def _deltas(params, X, Y, m, quirks):
    """Per-sample dL/dz2 and dL/dz1 (rows) of the squared error, with the named quirks of the post switched on."""
    a1 = np.tanh(X @ params["W1"])
    h = a1 * m
    p = network.softmax(h @ params["W2"])
    q = network.softmax(p) if "softmax twice" in quirks else p  # where the softmax Jacobian is taken
    g = (p - Y) * (1.0 if "no factor 2" in quirks else 2.0)
    if "diagonal only" in quirks:
        dz2 = g * q * (1 - q)
    else:
        dz2 = q * (g - np.sum(g * q, axis=1, keepdims=True))
    dh = dz2 @ params["W2"].T
    derivative = 1 - np.tanh(h) ** 2 if "tanh' at h" in quirks else 1 - a1**2
    mask = (m != 0) if "0/1 mask" in quirks else m
    return dz2, dh * mask * derivative


QUIRKS = ["softmax twice", "diagonal only", "no factor 2", "tanh' at h", "0/1 mask"]


def block_quirks():
    """How far each of the post's departures turns its update from the gradient, at the initial weights."""
    data, X, train, params = post_setup(0)
    Xt, Y = X[train], np.eye(10)[data.y[train]]
    m = network.dropout_mask(np.random.default_rng(1), (len(Xt), 200), 0.5)
    exact2, exact1 = _deltas(params, Xt, Y, m, set())

    def compare(quirks):
        d2, d1 = _deltas(params, Xt, Y, m, set(quirks))
        # for one sample the weight gradients are outer products h dz2^T and x dz1^T with the same h and x,
        # so their cosine to the exact ones is the cosine of the deltas
        cos2 = np.sum(d2 * exact2, axis=1) / (np.linalg.norm(d2, axis=1) * np.linalg.norm(exact2, axis=1))
        cos1 = np.sum(d1 * exact1, axis=1) / (np.linalg.norm(d1, axis=1) * np.linalg.norm(exact1, axis=1))
        ratio2 = np.linalg.norm(d2, axis=1) / np.linalg.norm(exact2, axis=1)
        return np.median(cos2), np.median(cos1), np.median(ratio2)

    rows = ["| departure from the gradient | cos to exact dW2 | cos to exact dW1 | size of dz2 / exact |", "|---|---|---|---|"]
    for quirk in QUIRKS:
        c2, c1, r = compare([quirk])
        rows.append(f"| {quirk} alone | {c2:.3f} | {c1:.3f} | {r:.2f} |")
    c2, c1, r = compare(QUIRKS)
    rows.append(f"| all five (the post's update) | {c2:.3f} | {c1:.3f} | {r:.2f} |")
    return "\n".join(rows) + "\n\nMedians over the 1347 training samples of seed 0, U[-1, 1) weights, one dropout mask each.\n"


def block_outcomes():
    """The post's recipe and the exact-gradient recipe, dropout on and off, over 10 seeds."""
    rows = ["| recipe | dropout | diverged (NaN) | reached the tolerance | epochs (median) | test accuracy (mean) |",
            "|---|---|---|---|---|---|"]
    for recipe in ("blog", "blog-exact"):
        for dropout in (0.5, 0.0):
            runs = Parallel(n_jobs=-1)(delayed(_run)(recipe, dropout, s) for s in SEEDS)
            stops = [stop for stop, _, _ in runs]
            rows.append(f"| {recipe} | {'on' if dropout else 'off'} | {stops.count('diverged')} of {len(SEEDS)} | "
                        f"{stops.count('tolerance')} of {len(SEEDS)} | {np.median([e for _, e, _ in runs]):g} | "
                        f"{np.mean([a for _, _, a in runs]):.2%} |")
    return "\n".join(rows) + "\n"


def _run(recipe, dropout, seed):
    model = digitnet.train(config=digitnet.Config.from_recipe(recipe, dropout=dropout, seed=seed))
    return model.history.stop_reason, model.history.epochs, model.metrics["accuracy"]


def block_growth():
    """How large the output pre-activations z2 grow as the post trains (seed 1), dropout on and off."""
    data, X, train, _ = post_setup(1)
    Xt, yt = X[train], data.y[train]
    rows = ["| epochs trained | dropout on: largest \\|z2\\| | dropout on: largest reachable with a mask | "
            "dropout off: largest \\|z2\\| |", "|---|---|---|---|"]
    for epochs in (1, 10, 50, 100, 119):
        cells = []
        for dropout in (0.5, 0.0):
            config = digitnet.Config.from_recipe("blog", dropout=dropout, epochs=epochs, tol=None, seed=1)
            params, _ = digitnet.fit(Xt, yt, config, np.random.default_rng(1))
            a1 = np.tanh(Xt @ params["W1"])
            cells.append(f"{np.abs(a1 @ params['W2']).max():.0f}")
            if dropout:  # a mask keeps some neurons, doubled: |z2_k| <= 2 sum_j |a1_j W2_jk|
                cells.append(f"{(2 * np.abs(a1) @ np.abs(params['W2'])).max():.0f}")
        rows.append(f"| {epochs} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\nexp(z) overflows float64 for z > 709.78; seed 1 with dropout on turns NaN in epoch 120.\n"


def block_saturated_output():
    """dL/dz2 for a confidently wrong output: squared error through softmax against cross-entropy."""
    p = np.full(10, 0.001 / 9)
    p[3] = 0.999  # the network says 3
    Y = np.zeros(10)
    Y[0] = 1.0  # it is a 0
    P, T = p[None, :], Y[None, :]
    mse = np.linalg.norm(network.mse_delta(P, T))
    ce = np.linalg.norm(network.cross_entropy_delta(P, T))
    return (f"For p = 0.999 on the wrong class and 0.001 spread over the rest: |dL/dz2| is {mse:.4f} for the "
            f"squared error and {ce:.4f} for cross-entropy ({ce / mse:.0f} times larger).\n")


BLOCKS = {
    "scaling": block_scaling,
    "saturation": block_saturation,
    "quirks": block_quirks,
    "outcomes": block_outcomes,
    "growth": block_growth,
    "saturated_output": block_saturated_output,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the blocks in docs/backprop.md")
    group.add_argument("--check", action="store_true", help="fail if docs/backprop.md's blocks are not fresh")
    args = parser.parse_args()
    fresh = {name: make() for name, make in BLOCKS.items()}
    text = DOC.read_text()
    found = {m.group(2) for m in BLOCK.finditer(text)}
    if args.check or args.write:
        if found != set(fresh):
            print(f"docs/backprop.md has blocks {sorted(found)}, expected {sorted(fresh)}", file=sys.stderr)
            return 1
        updated = BLOCK.sub(lambda m: m.group(1) + fresh[m.group(2)] + m.group(4), text)
        if args.write:
            DOC.write_text(updated)
            print(f"updated {DOC}")
        elif updated != text:
            stale = [m.group(2) for m in BLOCK.finditer(text) if m.group(3) != fresh[m.group(2)]]
            print(f"docs/backprop.md is stale in {stale}: run `make docs-numbers`", file=sys.stderr)
            return 1
        return 0
    for name, block in fresh.items():
        print(f"--- {name}\n{block}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
