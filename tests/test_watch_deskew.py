"""The Train view's measurements (watch.Monitor) of a network that deskews its inputs: it scores the test split
as the model reads it, deskewed, so its last accuracy is the trained model's own."""

import threading

import numpy as np

import digitnet
from digitnet.pipeline import train
from digitnet.watch import Monitor


class Pipe:
    def __init__(self):
        self.events = []

    def send(self, item):
        self.events.append(item)


def test_the_monitor_scores_a_deskewing_network_on_deskewed_inputs(digits):
    config = digitnet.Config(epochs=4, deskew=True, seed=2)
    go, stop, step = threading.Event(), threading.Event(), threading.Event()
    go.set()
    pipe = Pipe()
    monitor = Monitor(pipe, go, stop, step, digits, config, max_seconds=600)
    model = train(digits, config, watch=monitor)
    epochs = [data for _, kind, data in pipe.events if kind == "epoch"]
    assert len(epochs) == 4
    test = model.test_indices
    own = float(np.mean(model.predict(digits.X[test]) == digits.y[test]))
    # the monitor's float32 forward pass and the model's compiled one may part on a near-tie: one digit at most
    assert abs(epochs[-1]["test_accuracy"] - own) <= 1 / len(test) + 1e-5
    # far from what the undeskewed inputs score (12 points here): the monitor read them deskewed
    plain = digitnet.network.forward(model.params, model.scaling.apply(digits.X[test], "float32"))[0].argmax(axis=1)
    assert float(np.mean(plain == digits.y[test])) < own - 0.05
