"""The fused mini-batch epoch gives the same weights as the plain network.forward/backward calls."""

import numpy as np
import pytest

import digitnet
from digitnet.data import fit_scaling, split
from digitnet.trainer import fit


@pytest.fixture(scope="module")
def train_split(digits):
    X = fit_scaling(digits.X, "standard").apply(digits.X)
    train, _ = split(digits.y, 0.25, 0, stratify=True)
    return X[train][:500], digits.y[train][:500]


@pytest.mark.parametrize(
    "recipe, overrides",
    [
        ("modern", {}),
        ("modern", {"dropout": 0.0, "bias": False, "l2": 0.0, "label_smoothing": 0.0, "batch_size": 37}),
        ("modern", {"input_noise": 0.3, "optimizer": "sgd", "shuffle": False}),
        ("modern", {"loss": "mse"}),
        ("blog-exact", {"epochs": 2}),
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_equals_plain(train_split, recipe, overrides, dtype):
    X, y = train_split
    base = {"epochs": 3, "patience": None, "val_fraction": 0.0} if recipe == "modern" else {}
    config = digitnet.Config.from_recipe(recipe, dtype=dtype, **{**base, **overrides})
    fused, h_fused = fit(X, y, config, np.random.default_rng(3))
    plain, h_plain = fit(X, y, config, np.random.default_rng(3), plain=True)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for name in plain:
        assert fused[name].dtype == np.dtype(dtype)
        np.testing.assert_allclose(fused[name], plain[name], rtol=0, atol=tol)
    np.testing.assert_allclose(h_fused.loss, h_plain.loss, rtol=1e-6)
    assert h_fused.accuracy == h_plain.accuracy
    start = fit(X, y, digitnet.Config.from_recipe(recipe, **{**base, **overrides, "epochs": 1}), np.random.default_rng(3))[0]
    assert not np.allclose(start["W1"], plain["W1"])  # more epochs moved the weights
