"""Divergence that leaves the weights finite: a loss that ends far above a uniform guess's is divergence, and
`digitnet train` then writes nothing and exits 1, as for a NaN loss."""

import math

import pytest
from typer.testing import CliRunner

import digitnet
from digitnet.cli import app
from digitnet.trainer import DIVERGED_ABOVE, guess_loss


def test_guess_loss():
    assert guess_loss("cross_entropy", 10) == pytest.approx(math.log(10))
    assert guess_loss("mse", 10) == pytest.approx(0.9)


def test_a_huge_learning_rate_is_divergence_though_the_weights_are_finite():
    model = digitnet.train(config=digitnet.Config.from_recipe("modern", lr=1e9, epochs=3, seed=0))
    assert model.is_finite() and model.history.loss[-1] > DIVERGED_ABOVE * math.log(10)
    assert model.history.stop_reason == "diverged"
    sane = digitnet.train(config=digitnet.Config.from_recipe("modern", epochs=3, seed=0))
    assert sane.history.stop_reason == "max_epochs" and sane.history.loss[-1] < math.log(10)


def test_train_writes_nothing_and_exits_1_when_the_loss_blew_up(tmp_path):
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(app, ["train", "--lr", "1e9", "--epochs", "3", "--quiet", "--out", str(out)])
    assert r.exit_code == 1 and not out.exists()
    assert "training diverged at epoch 3 (its loss ended at" in r.stderr and "no model written" in r.stderr
