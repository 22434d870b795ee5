"""Every number quoted in docs/backprop.md, measured or read from the recipes: python docs/backprop_numbers.py [--write | --check]

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
from digitnet.config import RECIPES
from digitnet.data import fit_scaling, load_digits, split
from digitnet.optim import Adam
from digitnet.trainer import Run, learning_rate

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


def block_chaos():
    """How far a change of 1e-12 in one weight travels in the per-sample recipes: chaotic in blog-exact, not in blog."""
    samples, long = 400, 5 * 1347
    rows = ["| recipe (dropout on, as the recipe) | largest weight difference after 400 samples | after 6,735 samples (5 epochs) |",
            "|---|---|---|"]
    for recipe in ("blog-exact", "blog"):
        short = [_perturbed(recipe, seed, samples) for seed in CHAOS_SEEDS]
        longer = [_perturbed(recipe, seed, long) for seed in CHAOS_SEEDS]
        rows.append(f"| {recipe} | {_range(short, '.3g')} | {_range(longer, '.3g')} |")
    return ("\n".join(rows) + f"\n\nW1[0, 0] moved by 1e-12 before training, seeds {CHAOS_SEEDS[0]}–{CHAOS_SEEDS[-1]} "
            "(the same split, weights and masks otherwise); min–max over the seeds.\n")


CHAOS_SEEDS = range(5)


def _perturbed(recipe, seed, samples):
    """The largest difference of any weight between two runs of ``recipe`` whose W1[0, 0] differed by 1e-12."""
    config = digitnet.Config.from_recipe(recipe, seed=seed)
    data = load_digits()
    X = fit_scaling(data.X, config.scaling).apply(data.X)
    train, _ = split(data.y, config.test_size, seed, stratify=config.stratify)
    Xt, yt = X[train], data.y[train]
    thetas = []
    for bump in (0.0, 1e-12):
        run = Run(64, 10, config, np.random.default_rng(seed))
        run.params["W1"][0, 0] += bump
        done = 0
        while done < samples:  # whole epochs, then the first rows of one more
            k = min(len(Xt), samples - done)
            run.epoch(Xt[:k], run.targets(yt[:k]), yt[:k])
            done += k
        thetas.append(run.theta.copy())
    return float(np.abs(thetas[0] - thetas[1]).max())


def _range(values, spec):
    return f"{min(values):{spec}}–{max(values):{spec}}"


def block_adam_eps():
    """digitnet's Adam (the paper's section 2 form, constant epsilon-hat) against the textbook form (PyTorch's)."""
    steps = 50
    by_norm, by_entry = zip(*(_adam_forms(seed, steps) for seed in ADAM_SEEDS))
    return (f"After {steps} steps of `modern` from the same start on the same batches (float64, seeds "
            f"{ADAM_SEEDS[0]}–{ADAM_SEEDS[-1]}), the two forms' $W_1$ differ by {_range(by_norm, '.2%')} of the way "
            f"$W_1$ moved (by norm); the largest difference of one entry is {_range(by_entry, '.2%')} of the largest "
            "move of one entry.\n")


ADAM_SEEDS = range(5)


def _adam_forms(seed, steps):
    """(|W1_a - W1_b| / |W1_a - W1_0|, max |W1_a - W1_b| / max |W1_a - W1_0|) after ``steps`` of modern's mini-batches,
    a with digitnet's Adam (optim.Adam), b with eps added to sqrt(v_hat) (torch.optim.Adam), in float64."""
    c = RECIPES["modern"]
    data = load_digits()
    train, _ = split(data.y, c.test_size, seed, stratify=c.stratify)
    X = fit_scaling(data.X[train], c.scaling).apply(data.X[train])
    K, n = 10, len(train)
    Y = np.eye(K)[data.y[train]] * (1 - c.label_smoothing) + c.label_smoothing / K
    rng = np.random.default_rng(seed)
    start = network.init_params(rng, 64, c.n_hidden, K, init=c.init, bias=c.bias, dtype="float64")
    batches = []
    while len(batches) < steps:
        order = rng.permutation(n)
        batches += [order[i : i + c.batch_size] for i in range(0, n, c.batch_size)]
    per_epoch = -(-n // c.batch_size)
    W1 = []
    for textbook in (False, True):
        theta, params = network.flatten({k: v.copy() for k, v in start.items()})
        decayed = params["W1"].size + params["W2"].size
        adam = Adam(theta, l2=c.l2, n_decayed=decayed)
        for t, rows in enumerate(batches[:steps]):
            epoch, i = divmod(t, per_epoch)
            lr = learning_rate(c, (epoch + i * c.batch_size / n) / c.epochs)
            _, cache = network.forward(params, X[rows])
            g = network.backward(params, cache, Y[rows], "cross_entropy")
            grad = np.concatenate([g[k].ravel() for k in network.PARAM_ORDER if k in g])
            if not textbook:
                adam.step_numpy(theta, grad, lr)
                continue
            adam.t += 1
            grad[:decayed] += c.l2 * theta[:decayed]
            adam.m = adam.beta1 * adam.m + (1 - adam.beta1) * grad
            adam.v = adam.beta2 * adam.v + (1 - adam.beta2) * grad * grad
            m_hat, v_hat = adam.m / (1 - adam.beta1**adam.t), adam.v / (1 - adam.beta2**adam.t)
            theta -= lr * m_hat / (np.sqrt(v_hat) + adam.eps)
        W1.append(params["W1"].copy())
    moved, apart = W1[0] - start["W1"], W1[0] - W1[1]
    return np.linalg.norm(apart) / np.linalg.norm(moved), np.abs(apart).max() / np.abs(moved).max()


def block_modern_targets():
    """modern's smoothed targets, from the recipe."""
    eps, K = RECIPES["modern"].label_smoothing, 10
    return (f"The `modern` recipe uses cross-entropy, with label smoothing {eps:g}: each target row of its {K} classes "
            f"becomes ${1 - eps:g}\\,y + {eps / K:g}$, which still sums to 1, so the same $\\delta_2$ holds.\n")


def block_modern_parameters():
    c = RECIPES["modern"]
    d, H, K = 64, c.n_hidden, 10
    return (f"It updates one flat vector of all the parameters at once: {d * H + H + H * K + K:,} of them for `modern` "
            f"on the 8x8 digits (${d} \\cdot {H} + {H} + {H} \\cdot {K} + {K}$).\n")


def block_modern_schedule():
    c = RECIPES["modern"]
    return (f"In `modern` the rate $\\eta$ follows a {c.schedule} schedule from {c.lr:g} to 0 over its {c.epochs} epochs, "
            f"updated every step (batches of {c.batch_size}), and $\\lambda = {c.l2:g}$.\n")


BLOCKS = {
    "scaling": block_scaling,
    "saturation": block_saturation,
    "quirks": block_quirks,
    "outcomes": block_outcomes,
    "growth": block_growth,
    "saturated_output": block_saturated_output,
    "chaos": block_chaos,
    "modern_targets": block_modern_targets,
    "modern_parameters": block_modern_parameters,
    "adam_eps": block_adam_eps,
    "modern_schedule": block_modern_schedule,
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
