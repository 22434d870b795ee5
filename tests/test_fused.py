"""The fused mini-batch epoch gives the same weights as the plain network.forward/backward calls."""

import numpy as np
import pytest

import digitnet
from digitnet import network
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
        ("modern", {"dropout": 0.3}),
        ("modern", {"dropout": 0.2, "bias": False, "l2": 0.0, "label_smoothing": 0.0, "batch_size": 37}),
        ("modern", {"input_noise": 0.3, "optimizer": "sgd", "shuffle": False, "dropout": 0.5}),
        ("modern", {"loss": "mse", "dropout": 0.1}),
        ("modern", {"optimizer": "nesterov", "lr": 0.05, "dropout": 0.2}),
        ("blog-exact", {"epochs": 1}),
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_equals_plain(train_split, recipe, overrides, dtype):
    X, y = train_split
    if recipe == "blog-exact":
        # per-sample steps of 0.1 from U[-1, 1) weights are chaotic: rounding differences of 1e-16
        # grow to 1e-12 within 50 samples (float32: 1e-5 within 40) and to O(1) within 500: compare a short run
        X, y = X[:15], y[:15]
    base = {"epochs": 3, "patience": None, "val_fraction": 0.0} if recipe == "modern" else {}
    config = digitnet.Config.from_recipe(recipe, dtype=dtype, **{**base, **overrides})
    fused, h_fused = fit(X, y, config, np.random.default_rng(3))
    plain, h_plain = fit(X, y, config, np.random.default_rng(3), plain=True)
    # float32: the kernels' tanh (a rational function, within 6 ulp) and dL/dz2 (a product with 1/n) round
    # differently from NumPy's; Adam's per-weight normalisation lets 1-ulp differences reach ~2e-5 in 3 epochs.
    # A wrong term or sign moves weights by 1e-2 and more.
    tol = 1e-12 if dtype == "float64" else 5e-5
    for name in plain:
        assert fused[name].dtype == np.dtype(dtype)
        np.testing.assert_allclose(fused[name], plain[name], rtol=0, atol=tol)
    # float32 losses summed in float64 (kernels) or float32 (NumPy): ~1e-6 apart over 15 samples
    np.testing.assert_allclose(h_fused.loss, h_plain.loss, rtol=1e-6 if dtype == "float64" else 1e-5)
    assert h_fused.accuracy == h_plain.accuracy
    start = network.init_params(np.random.default_rng(3), 64, 200, 10, init=config.init, dtype=dtype)
    assert np.abs(start["W1"] - plain["W1"]).max() > 1e-3  # training moved the weights


def test_training_memory_does_not_grow_with_epochs_or_copy_the_data(digits):
    """Batches are gathered into fixed buffers: no copy of the data set, per epoch or at all."""
    import tracemalloc

    X = digits.X.astype(np.float32)  # the dtype training uses, so fit() needs no converted copy

    def peak(epochs, n):
        config = digitnet.Config.from_recipe("modern", epochs=epochs, patience=None)
        fit(X[:60], digits.y[:60], config, np.random.default_rng(0))  # compile outside the measurement
        tracemalloc.start()
        fit(X[:n], digits.y[:n], config, np.random.default_rng(0), X_val=X[:100], y_val=digits.y[:100])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    assert abs(peak(10, 1797) - peak(2, 1797)) < 16_000
    per_row = (peak(2, 1797) - peak(2, 897)) / 900
    assert per_row < X.itemsize * 64  # less than one copy of a row of X: only the (n, 10) targets grow


@pytest.mark.parametrize("name", ["sgd", "adam", "nesterov"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_optimizers_equal_their_numpy_reference(name, dtype, rng):
    from digitnet.optim import OPTIMIZERS

    theta = rng.normal(size=50).astype(dtype)
    fast_theta, numpy_theta = theta.copy(), theta.copy()
    fast = OPTIMIZERS[name](fast_theta, l2=0.1, n_decayed=30)
    reference = OPTIMIZERS[name](numpy_theta, l2=0.1, n_decayed=30)
    for lr in (0.1, 0.05, 0.02):
        g = rng.normal(size=50).astype(dtype)
        fast.step(fast_theta, g.copy(), lr)
        reference.step_numpy(numpy_theta, g.copy(), lr)
    np.testing.assert_allclose(fast_theta, numpy_theta, rtol=1e-12 if dtype == "float64" else 1e-6)
    assert np.abs(fast_theta - theta).max() > 1e-3
    # L2 decays the first n_decayed entries only: with a zero gradient the others stay put
    still = OPTIMIZERS[name](theta.copy(), l2=0.5, n_decayed=30)
    moved = theta.copy()
    still.step(moved, np.zeros(50, dtype), 0.1)
    assert np.all(moved[30:] == theta[30:]) and np.all(moved[:30] != theta[:30])


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_compiled_validation_equals_plain(train_split, loss):
    X, y = train_split
    config = digitnet.Config(epochs=3, loss=loss, dtype="float64", dropout=0.2)
    runs = [fit(X[:400], y[:400], config, np.random.default_rng(1), X_val=X[400:], y_val=y[400:], plain=plain)[1]
            for plain in (False, True)]
    np.testing.assert_allclose(runs[0].val_loss, runs[1].val_loss, rtol=1e-12)
    assert runs[0].val_accuracy == runs[1].val_accuracy
    assert len(set(runs[0].val_loss)) == 3 and 0.5 < runs[0].val_accuracy[-1] < 1  # it measured each epoch


def test_training_runs_blas_on_one_thread_and_restores_it(train_split):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, y = train_split

    def blas_threads():
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        seen = []
        fit(X, y, digitnet.Config(epochs=2, patience=None, val_fraction=0.0), np.random.default_rng(0),
            callback=lambda history: seen.append(blas_threads()))
        assert seen == [{1}, {1}]
        assert blas_threads() == {2}


@pytest.mark.parametrize("overrides", [{}, {"dropout": 0.2, "input_noise": 0.1}])
def test_augmented_fused_equals_plain(train_split, overrides):
    X, y = train_split
    config = digitnet.Config(epochs=2, patience=None, val_fraction=0.0, dtype="float64", augment=2, **overrides)
    fused, _ = fit(X, y, config, np.random.default_rng(5), image_shape=(8, 8))
    plain, _ = fit(X, y, config, np.random.default_rng(5), image_shape=(8, 8), plain=True)
    unshifted, _ = fit(X, y, digitnet.Config(**{**config.to_dict(), "augment": 0}), np.random.default_rng(5))
    for name in plain:
        np.testing.assert_allclose(fused[name], plain[name], rtol=0, atol=1e-12)
    assert np.abs(fused["W1"] - unshifted["W1"]).max() > 1e-2  # the shifts changed what it learnt


def test_gather_moves_images_as_the_numpy_reference(rng):
    from digitnet.fast import kernels
    from digitnet.trainer import shift_images

    X = rng.standard_normal((40, 6 * 5))
    shifts = rng.integers(-2, 3, size=(40, 2))
    order = rng.permutation(40)
    out = np.empty((15, 30))
    kernels.gather(X, order, 7, shifts, np.empty((0, 8)), np.empty((0, 2, 0, 0), np.float32), 6, 5, -9.0,
                   np.empty(30), out)
    np.testing.assert_array_equal(out, shift_images(X[order[7:22]], shifts[7:22], (6, 5), -9.0))
    one = shift_images(np.arange(6.0)[None], np.array([[0, 1]]), (2, 3), -1.0)  # one pixel to the right
    np.testing.assert_array_equal(one, [[-1, 0, 1, -1, 3, 4]])


def test_the_rate_schedule_with_and_without_a_warmup():
    """Cosine from lr to 0 over the epochs; a warmup scales it by a line from 0 to 1 over its epochs."""
    from digitnet.trainer import learning_rate

    cosine = digitnet.Config(lr=0.1, epochs=10)
    warm = digitnet.Config(lr=0.1, epochs=10, warmup_epochs=2)
    for progress in (0.0, 0.05, 0.1, 0.15, 0.2, 0.5, 0.9):
        expected = 0.1 * 0.5 * (1 + np.cos(np.pi * progress))
        assert learning_rate(cosine, progress) == pytest.approx(expected, rel=1e-12)
        assert learning_rate(warm, progress) == pytest.approx(expected * min(1.0, progress * 10 / 2), rel=1e-12)
    assert learning_rate(warm, 0.0) == 0.0 and learning_rate(digitnet.Config(lr=0.1, schedule="constant", epochs=4,
                                                                              warmup_epochs=4), 0.5) == pytest.approx(0.05)


def test_a_warmup_longer_than_the_run_warms_the_whole_run():
    """`--recipe mnist-elastic --epochs 3` (a warmup of 5) trains: the rate rises over all 3 epochs."""
    from digitnet.trainer import learning_rate

    short = digitnet.Config(lr=0.1, epochs=3, warmup_epochs=5, schedule="constant")
    assert [learning_rate(short, p) for p in (0.0, 0.5, 0.9)] == pytest.approx([0.0, 0.05, 0.09])
    with pytest.raises(digitnet.ConfigError, match="warmup_epochs must be 0.."):
        digitnet.Config(warmup_epochs=-1)
