import dataclasses

import pytest

import digitnet
from digitnet import Config, ConfigError
from digitnet.config import RECIPES


def test_blog_recipe_is_the_posts_algorithm():
    c = RECIPES["blog"]
    assert (c.n_hidden, c.dropout, c.bias, c.init, c.gradient, c.loss) == (200, 0.5, False, "uniform", "blog", "mse")
    assert (c.optimizer, c.lr, c.batch_size, c.epochs, c.tol, c.shuffle) == ("sgd", 0.1, 1, 200, 0.01, False)
    assert (c.scaling, c.stratify, c.test_size, c.val_fraction, c.patience) == ("blog", False, 0.25, 0.0, None)
    assert (c.l2, c.label_smoothing, c.input_noise, c.schedule) == (0.0, 0.0, 0.0, "constant")


def test_blog_exact_differs_from_blog_only_in_the_gradient():
    differ = {f.name for f in dataclasses.fields(Config) if getattr(RECIPES["blog"], f.name) != getattr(RECIPES["blog-exact"], f.name)}
    assert differ == {"recipe", "gradient"}


def test_overrides_apply_and_none_is_a_value():
    c = Config.from_recipe("blog", dropout=0.0, seed=4)
    assert (c.dropout, c.lr, c.seed, c.recipe) == (0.0, 0.1, 4, "blog")
    assert Config.from_recipe("modern", patience=None, val_fraction=0.0).patience is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"n_hidden": 0}, "n_hidden must be 1..1,000,000,000; got 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1); got 1.0"),
        ({"dropout": -0.1}, "dropout must be in [0, 1); got -0.1"),
        ({"lr": 0.0}, "lr must be a positive number; got 0.0"),
        ({"lr": float("nan")}, "lr must be a positive number; got nan"),
        ({"epochs": 0}, "epochs must be 1..1,000,000; got 0"),
        ({"batch_size": 0}, "batch_size must be 1..1,000,000,000 (a batch larger than the training split is all of it); got 0"),
        ({"init": "zeros"}, "init must be one of uniform, glorot; got 'zeros'"),
        ({"bogus": 1}, "unknown setting(s): bogus"),
    ],
)
def test_invalid_settings_name_the_value(overrides, message):
    with pytest.raises(ConfigError) as e:
        Config.from_recipe("modern", **overrides)
    assert str(e.value) == message


def test_unknown_recipe():
    with pytest.raises(ConfigError, match="unknown recipe 'fast'; choose one of modern, mnist, mnist-elastic, blog, blog-exact"):
        Config.from_recipe("fast")


def test_blog_gradient_needs_per_sample_sgd():
    with pytest.raises(ConfigError, match="per-sample rule"):
        Config.from_recipe("blog", batch_size=32)


def test_dict_round_trip():
    c = Config.from_recipe("blog-exact", seed=9)
    assert Config.from_dict(c.to_dict()) == c


def test_every_field_is_in_one_group():
    from digitnet.config import GROUPS

    names = [name for group in GROUPS.values() for name in group]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(Config)) and len(names) == len(set(names))


@pytest.mark.parametrize(
    "name, text, value",
    [("n_hidden", "300", 300), ("lr", "1e-3", 0.001), ("patience", "none", None), ("shuffle", "false", False),
     ("tol", "0.01", 0.01), ("optimizer", "sgd", "sgd"), ("bias", "yes", True)],
)
def test_any_field_can_be_parsed_from_text(name, text, value):
    assert Config.parse(name, text) == value
    assert getattr(Config.from_recipe("modern", **{name: Config.parse(name, text)}), name) == value


def test_the_command_line_reaches_every_setting(tmp_path):
    from typer.testing import CliRunner

    from digitnet.cli import app

    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(app, ["train", "--set", "l2=0", "--set", "patience=none", "--set", "val_fraction=0",
                                 "--set", "label_smoothing=0.05", "--epochs", "2", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    config = digitnet.load(out).config
    assert (config.l2, config.patience, config.val_fraction, config.label_smoothing, config.epochs) == (0.0, None, 0.0, 0.05, 2)
    for args, message in [
        (["--set", "nope=1"], "unknown setting 'nope'; the settings are n_hidden,"),
        (["--set", "l2"], "--set 'l2': expected NAME=VALUE"),
        (["--set", "shuffle=maybe"], "shuffle must be true or false; got 'maybe'"),
        (["--set", "epochs=many"], "epochs must be an integer; got 'many'"),
        (["--set", "n_hidden=3", "--hidden", "4"], "n_hidden is set twice (--set n_hidden=... and --hidden or another --set)"),
        (["--set", "l2=0", "--set", "l2=1"], "l2 is set twice (--set l2=... and another --set)"),  # no --l2 option
        (["--set", "recipe=blog"], "choose the recipe with --recipe"),
        (["--set", "l2=-1"], "l2 must be >= 0; got -1.0"),
    ]:
        r = CliRunner().invoke(app, ["train", *args, "--quiet", "--out", str(tmp_path / "x.safetensors")])
        assert r.exit_code == 2 and r.stderr.startswith("error: ") and message in r.stderr, (args, r.stderr)


def test_recipe_auto_chooses_mnist_for_mnist_sized_images_only():
    from digitnet.config import recipe_for

    assert recipe_for((28, 28), 70_000) == "mnist" and recipe_for((28, 28), 10_000) == "mnist"
    assert recipe_for((28, 28), 9_999) == "modern"  # a small folder of pictures: modern's settings
    assert recipe_for((8, 8), 1_797) == "modern" and recipe_for(None, 100_000) == "modern"
    assert recipe_for((32, 32), 60_000) == "modern"


def test_mnist_elastic_is_mnist_with_distortions_deskewing_calibration_and_momentum():
    differ = {f.name for f in dataclasses.fields(Config)
              if getattr(RECIPES["mnist"], f.name) != getattr(RECIPES["mnist-elastic"], f.name)}
    assert differ == {"recipe", "epochs", "elastic_alpha", "elastic_sigma", "rotation", "deskew",
                      "calibration_fraction", "optimizer", "lr", "warmup_epochs"}
    assert (RECIPES["mnist-elastic"].optimizer, RECIPES["mnist-elastic"].lr) == ("nesterov", 0.1)
    assert RECIPES["mnist"].epochs == 20 and RECIPES["mnist"].calibration_fraction == 0  # as documented
