"""Watching training: the progress hook reports inside epochs without changing a bit of the result, and
StopTraining ends a run keeping what it learnt."""

import numpy as np
import pytest

import digitnet
from digitnet import trainer
from digitnet.persistence import load, to_bytes
from digitnet.trainer import StopTraining, fit

CASES = {  # one of each engine and path: compiled mini-batches, with dropout and shifts, the Python loop, per sample
    "modern": dict(recipe="modern", epochs=3),
    "modern, dropout and shifts": dict(recipe="modern", epochs=2, dropout=0.3, augment=1),
    "input noise (the Python loop)": dict(recipe="modern", epochs=2, input_noise=0.1),
    "blog with dropout (per sample)": dict(recipe="blog", epochs=2),
}


@pytest.mark.parametrize("case", CASES)
def test_progress_in_chunks_of_one_step_gives_the_same_bytes(digits, case, monkeypatch):
    settings = dict(CASES[case])
    config = digitnet.Config.from_recipe(settings.pop("recipe"), **settings)
    plain = digitnet.train(digits, config)
    monkeypatch.setattr(trainer, "PROGRESS_SECONDS", 0.0)  # every step its own chunk, a report after each
    seen = []
    watched = digitnet.train(digits, config, watch=lambda model, done: seen.append(done))
    assert len(seen) > 10 * config.epochs  # the epochs really ran in pieces
    assert to_bytes(watched) == to_bytes(plain)


def test_progress_reports_from_zero_in_order_with_each_epoch_whole(digits, monkeypatch):
    monkeypatch.setattr(trainer, "PROGRESS_SECONDS", 0.0)
    config = digitnet.Config.from_recipe("modern", epochs=3)
    seen = []

    def watch(model, done):
        seen.append((done, model.history.epochs, model.params["W1"].copy(), len(model.test_indices)))

    model = digitnet.train(digits, config, watch=watch)
    done = [s[0] for s in seen]
    assert done[0] == 0.0 and done == sorted(set(done))
    assert [d for d in done if d == int(d)] == [0.0, 1.0, 2.0, 3.0]
    assert all(epochs == int(d) for d, epochs, _, _ in seen)  # mid-epoch, the history holds the epochs done
    assert all(n == len(model.test_indices) for *_, n in seen)
    assert not np.array_equal(seen[0][2], seen[-1][2])  # live weights, changing
    np.testing.assert_array_equal(seen[-1][2], model.params["W1"])
    steps = -(-(len(digits.y) - len(model.test_indices)) // config.batch_size)  # 1347 rows in batches of 64: 22
    assert len(done) == 1 + 3 * steps  # one report after every step but an epoch's last, then the epoch's own


def test_stop_training_keeps_what_was_learnt(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "PROGRESS_SECONDS", 0.0)

    def stop_in_epoch_three(model, done):
        if done > 2.5:
            raise StopTraining

    model = digitnet.train(digits, digitnet.Config.from_recipe("modern", epochs=6), watch=stop_in_epoch_three)
    assert model.history.stop_reason == "stopped" and model.history.epochs == 2
    assert model.is_finite() and model.metrics["accuracy"] > 0.8
    again = load(digitnet.save(model, tmp_path / "stopped.safetensors"))  # the model file knows the reason
    assert again.history.stop_reason == "stopped"


def test_a_callback_may_stop_training_too(digits):
    X, y = digits.X[:300] / 16, digits.y[:300]

    def stop_after_two(history):
        if history.epochs == 2:
            raise StopTraining

    params, history = fit(X, y, digitnet.Config.from_recipe("modern", epochs=5), np.random.default_rng(0),
                          callback=stop_after_two)
    assert history.stop_reason == "stopped" and history.epochs == 2 and np.all(np.isfinite(params["W1"]))


def test_pace_covers_every_step_once():
    pace = trainer._Pace()
    chunks = list(pace.chunks(1000))
    assert chunks[0] == (0, 1)
    assert [a for a, _ in chunks[1:]] == [b for _, b in chunks[:-1]] and chunks[-1][1] == 1000
    assert all(b - a <= 4 * (d - c) for (c, d), (a, b) in zip(chunks, chunks[1:]))  # it grows at most 4x at a time
