import dataclasses

import pytest

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
        ({"n_hidden": 0}, "n_hidden must be at least 1; got 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1); got 1.0"),
        ({"dropout": -0.1}, "dropout must be in [0, 1); got -0.1"),
        ({"lr": 0.0}, "lr must be a positive number; got 0.0"),
        ({"lr": float("nan")}, "lr must be a positive number; got nan"),
        ({"epochs": 0}, "epochs must be at least 1; got 0"),
        ({"batch_size": 0}, "batch_size must be at least 1; got 0"),
        ({"init": "zeros"}, "init must be one of uniform, glorot; got 'zeros'"),
        ({"bogus": 1}, "unknown setting(s): bogus"),
    ],
)
def test_invalid_settings_name_the_value(overrides, message):
    with pytest.raises(ConfigError) as e:
        Config.from_recipe("modern", **overrides)
    assert str(e.value) == message


def test_unknown_recipe():
    with pytest.raises(ConfigError, match="unknown recipe 'fast'; choose one of modern, blog, blog-exact"):
        Config.from_recipe("fast")


def test_blog_gradient_needs_per_sample_sgd():
    with pytest.raises(ConfigError, match="per-sample rule"):
        Config.from_recipe("blog", batch_size=32)


def test_dict_round_trip():
    c = Config.from_recipe("blog-exact", seed=9)
    assert Config.from_dict(c.to_dict()) == c
