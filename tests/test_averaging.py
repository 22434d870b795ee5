"""Weight averaging (Config.ema_decay, optim.WeightAverage) and the distortions' schedule (distortion_end,
clean_epochs): the average against a plain NumPy reference of its formula, the steps themselves untouched by
it, the averaged weights validated and kept, the schedule's strengths and draws, the settings' errors, and
their round trip through model files (absent from older files: the defaults)."""

import dataclasses
import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save as st_save

import digitnet
from digitnet import Config, ConfigError
from digitnet import network
from digitnet.fast import augment
from digitnet.optim import WeightAverage
from digitnet.trainer import Run, distortion_strength, fit

WARPS = dict(rotation=10.0, shear=15.0, zoom=0.1, stroke=0.5, elastic_alpha=2.0, elastic_sigma=1.0)
NEW = ("distortion_end", "clean_epochs", "ema_decay")


@pytest.fixture(scope="module")
def train_split():
    data = digitnet.load_digits()
    X = (data.X[:600] - 4.9) / 6.0
    return X, data.y[:600]


def ema_reference(thetas, decay):
    """average_0 = theta_0; average_t+1 = d_t average_t + (1 - d_t) theta_t+1, d_t = min(decay, (1 + t) / (10 + t))."""
    average = thetas[0].astype(np.float64)
    for t, theta in enumerate(thetas[1:]):
        d = min(decay, (1 + t) / (10 + t))
        average = d * average + (1 - d) * theta
    return average


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("decay", [0.5, 0.999])
def test_the_average_is_its_formula(dtype, rtol, decay):
    rng = np.random.default_rng(0)
    thetas = [rng.standard_normal(50).astype(dtype) for _ in range(40)]
    compiled, numpy = WeightAverage(thetas[0], decay), WeightAverage(thetas[0], decay)
    for theta in thetas[1:]:
        compiled.step(theta)
        numpy.step_numpy(theta)
    expected = ema_reference(thetas, decay)
    np.testing.assert_allclose(compiled.average, expected, rtol=rtol)
    np.testing.assert_allclose(numpy.average, expected, rtol=rtol)
    assert compiled.average.dtype == dtype
    compiled.restart(thetas[3])
    np.testing.assert_array_equal(compiled.average, thetas[3])
    assert compiled.t == 0


def test_training_averages_every_steps_weights(train_split):
    """The fused epoch's average (kernels.batch_epoch) is the formula applied to the weights after each step,
    read from the plain path of the same run without averaging."""
    X, y = train_split
    base = dict(epochs=2, batch_size=64, dtype="float64", dropout=0.2, **WARPS)
    plain = Run(64, 10, Config(**base), np.random.default_rng(1), plain=True, image_shape=(8, 8))
    thetas = [plain.theta.copy()]
    step = plain.engine.optimizer.step_numpy

    def recorded(theta, *args):
        step(theta, *args)
        thetas.append(theta.copy())

    plain.engine.optimizer.step_numpy = recorded
    averaged = Run(64, 10, Config(**base, ema_decay=0.9), np.random.default_rng(1), image_shape=(8, 8))
    for run in (plain, averaged):
        for _ in range(2):
            run.epoch(X, run.targets(y), y)
    assert len(thetas) == 1 + 2 * 10  # 600 rows, batches of 64
    np.testing.assert_allclose(averaged.kept_theta(), ema_reference(thetas, 0.9), rtol=0, atol=1e-10)
    np.testing.assert_allclose(averaged.theta, thetas[-1], rtol=0, atol=1e-10)
    assert np.abs(averaged.kept_theta() - averaged.theta).max() > 1e-4  # an average, not the last weights


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_averaging_leaves_the_steps_alone(train_split, dtype):
    """With or without ema_decay the optimizer takes the same steps, bit for bit."""
    X, y = train_split
    base = dict(epochs=3, batch_size=32, dtype=dtype, dropout=0.2, augment=1, **WARPS)
    runs = [Run(64, 10, Config(**base, ema_decay=d), np.random.default_rng(2), image_shape=(8, 8)) for d in (0.0, 0.99)]
    for run in runs:
        for _ in range(3):
            run.epoch(X, run.targets(y), y)
    np.testing.assert_array_equal(runs[0].theta, runs[1].theta)
    assert runs[0].kept_theta() is runs[0].theta and not np.array_equal(runs[1].kept_theta(), runs[1].theta)


def test_fit_keeps_and_validates_the_average(train_split):
    X, y = train_split
    config = Config(epochs=4, batch_size=32, dtype="float64", ema_decay=0.95)
    params, history = fit(X[:500], y[:500], config, np.random.default_rng(3), X_val=X[500:], y_val=y[500:])
    run = Run(64, 10, config, np.random.default_rng(3))
    for _ in range(history.best_epoch):
        run.epoch(X[:500], run.targets(y[:500]), y[:500])
    for name, w in run.kept_params().items():
        np.testing.assert_array_equal(params[name], w)  # the best epoch's average
    P, _ = network.forward(params, X[500:])
    assert np.mean(P.argmax(1) == y[500:]) == history.val_accuracy[history.best_epoch - 1]


def test_features_off_train_as_before(train_split, monkeypatch):
    """distortion_end 1, clean_epochs 0, ema_decay 0 take the code path without them: every epoch's draw is the
    strength-less one (the same random numbers and values), and training gives the same bits as a trainer whose
    draws ignore the strength."""
    X, y = train_split
    config = Config(epochs=3, augment=1, **WARPS)
    assert [distortion_strength(config, e) for e in range(4)] == [1.0] * 4
    for e in range(3):
        a_rng, b_rng = np.random.default_rng(e), np.random.default_rng(e)
        a = augment.draw(config, a_rng, 100, (8, 8))
        b = augment.draw(config, b_rng, 100, (8, 8), distortion_strength(config, e))
        for field in ("shifts", "warps", "fields"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert a_rng.bit_generator.state == b_rng.bit_generator.state
    explicit = Config(epochs=3, augment=1, **WARPS, distortion_end=1.0, clean_epochs=0, ema_decay=0.0)
    a, _ = fit(X, y, config, np.random.default_rng(4), image_shape=(8, 8))
    b, _ = fit(X, y, explicit, np.random.default_rng(4), image_shape=(8, 8))
    original = augment.draw
    monkeypatch.setattr(augment, "draw", lambda c, rng, n, shape, strength=None, boxes=None: original(c, rng, n, shape))
    before, _ = fit(X, y, config, np.random.default_rng(4), image_shape=(8, 8))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_array_equal(a[name], before[name])


def test_the_distortions_fade_then_stop():
    config = Config(epochs=6, distortion_end=0.5, clean_epochs=2, **WARPS)
    np.testing.assert_allclose([distortion_strength(config, e) for e in range(7)],
                               [1.0, 5 / 6, 2 / 3, 0.5, 0.0, 0.0, 0.0], rtol=0, atol=1e-15)
    assert distortion_strength(Config(epochs=1, distortion_end=0.0), 0) == 1.0
    assert distortion_strength(Config(epochs=2, clean_epochs=2), 0) == 0.0
    full, half = (augment.draw(config, np.random.default_rng(5), 200, (8, 8), s) for s in (1.0, 0.5))
    rotations = [np.degrees(np.arctan2(d.warps[:, augment.M_RR + 1], d.warps[:, augment.M_RR])) for d in (full, half)]
    stroke = augment.STROKE
    np.testing.assert_allclose(half.warps[:, stroke], full.warps[:, stroke] / 2, rtol=1e-12)
    np.testing.assert_allclose(half.fields, full.fields / 2, rtol=1e-6, atol=1e-6)  # elastic_alpha halved
    assert np.abs(rotations[1]).max() < np.abs(rotations[0]).max()
    shifted = Config(epochs=6, clean_epochs=6, augment=2, **WARPS)
    rng = np.random.default_rng(6)
    clean = augment.draw(shifted, rng, 50, (8, 8), 0.0)
    np.testing.assert_array_equal(clean.shifts, np.random.default_rng(6).integers(-2, 3, size=(50, 2)))
    assert clean.warps.shape[0] == 0 and clean.fields.shape[0] == 0  # shifts only, nothing warped


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"distortion_end": 1.5}, "distortion_end must be in [0, 1]; got 1.5"),
        ({"distortion_end": float("nan")}, "distortion_end must be in [0, 1]; got nan"),
        ({"clean_epochs": -1}, "clean_epochs must be in 0..epochs (10); got -1"),
        ({"clean_epochs": 11}, "clean_epochs must be in 0..epochs (10); got 11"),
        ({"clean_epochs": 1.5}, "clean_epochs must be an int; got 1.5 (float)"),
        ({"ema_decay": 1.0}, "ema_decay must be in [0, 1); got 1.0"),
        ({"ema_decay": -0.1}, "ema_decay must be in [0, 1); got -0.1"),
    ],
)
def test_bad_settings_name_the_value(overrides, message):
    with pytest.raises(ConfigError) as e:
        Config(epochs=10, **overrides)
    assert str(e.value) == message


def test_the_posts_rule_is_not_averaged():
    with pytest.raises(ConfigError, match="^ema_decay averages the weights of mini-batch steps; .* set ema_decay 0$"):
        Config.from_recipe("blog", ema_decay=0.9)


def test_the_settings_are_saved_and_older_files_mean_the_defaults(tmp_path):
    data = digitnet.load_digits()
    config = Config(epochs=3, batch_size=32, distortion_end=0.25, clean_epochs=1, ema_decay=0.9, rotation=5.0)
    model = digitnet.train(data, config)
    path = digitnet.save(model, tmp_path / "m.safetensors")
    loaded = digitnet.load(path)
    assert (loaded.config.distortion_end, loaded.config.clean_epochs, loaded.config.ema_decay) == (0.25, 1, 0.9)
    for name, w in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], w)
    # a file written before these settings existed: its config has none of them
    from digitnet.persistence import _digest

    with safe_open(str(path), framework="numpy") as f:
        meta = json.loads(f.metadata()["digitnet"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["config"] = {k: v for k, v in meta["config"].items() if k not in NEW}
    meta["sha256"] = _digest(tensors, meta)
    older = tmp_path / "older.safetensors"
    older.write_bytes(st_save(tensors, metadata={"digitnet": json.dumps(meta)}))
    config = digitnet.load(older).config
    assert (config.distortion_end, config.clean_epochs, config.ema_decay) == (1.0, 0, 0.0)
    assert config.rotation == 5.0


def test_partial_fit_of_a_loaded_estimator_averages_from_its_weights(train_split):
    """A loaded estimator's run starts its average from the file's weights, not from a fresh initialisation."""
    from digitnet.estimator import DigitNetClassifier

    X, y = train_split
    est = DigitNetClassifier(epochs=3, batch_size=32, ema_decay=0.99).fit(X, y)
    model, info = est.file_contents()
    slow = dataclasses.replace(model, config=dataclasses.replace(model.config, lr=1e-9))  # steps that barely move
    loaded = DigitNetClassifier.from_file_contents(slow, info)
    loaded.partial_fit(X[:32], y[:32])  # one step: the warm-up (d_0 = 0.1) would keep a tenth of the start
    init = Run(64, 10, model.config, np.random.default_rng(model.config.seed)).params
    for name, w in model.params.items():  # the average stays at the file's weights, far from the initial ones
        assert np.abs(w - init[name]).max() > 0.01
        np.testing.assert_allclose(loaded.model_.params[name], w, rtol=0, atol=1e-6)


def test_progress_shows_the_weights_training_keeps(train_split):
    """With ema_decay, what the progress hook (the Train view's) sees after each epoch is the moving average, the
    weights fit returns, not the last step's."""
    X, y = train_split
    seen = []
    config = Config(epochs=3, batch_size=32, dtype="float64", ema_decay=0.95)
    params, _ = fit(X, y, config, np.random.default_rng(4),
                    progress=lambda p, history, done: seen.append({k: w.copy() for k, w in p.items()}))
    for name, w in params.items():
        np.testing.assert_array_equal(seen[-1][name], w)
