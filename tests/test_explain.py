"""The saliency is the gradient of log p of the answer with respect to the raw input, times the input."""

import numpy as np
import pytest

import digitnet
from digitnet import network
from digitnet.explain import explain


def _log_p(model, x, c):
    params = {name: w.astype(np.float64) for name, w in model.params.items()}
    p, _ = network.forward(params, (x[None] - model.scaling.offset) / model.scaling.scale)
    return np.log(p[0, c])


@pytest.mark.parametrize("row", [0, 7, 31])
def test_saliency_is_gradient_times_input_by_finite_differences(small_model, digits, row):
    x = digits.X[row].astype(np.float64)
    e = explain(small_model, x)
    c, h = e.likeliest, 1e-5
    numeric = np.array([(_log_p(small_model, x + h * unit, c) - _log_p(small_model, x - h * unit, c)) / (2 * h)
                        for unit in np.eye(len(x))])
    np.testing.assert_allclose(e.saliency, x * numeric, rtol=1e-5, atol=1e-9)
    assert np.abs(numeric).max() > 1e-3  # a real gradient, not zeros
    np.testing.assert_allclose(e.probabilities, small_model.predict_proba(x[None])[0], atol=1e-5)
    assert e.digit == e.likeliest == digits.y[row]  # a clear test digit


def test_hidden_layer_and_contributions(small_model, digits):
    e = explain(small_model, digits.X[5])
    params = small_model.params
    a1 = np.tanh(((digits.X[5] - small_model.scaling.offset) / small_model.scaling.scale) @ params["W1"] + params["b1"])
    np.testing.assert_allclose(e.hidden, a1, atol=1e-5)
    np.testing.assert_allclose(e.contributions, a1 * params["W2"][:, e.likeliest], atol=1e-5)
    top = e.strongest_units(5)
    assert list(e.contributions[top]) == sorted(e.contributions, reverse=True)[:5]
    # the answer's logit is the units' contributions plus its bias: against another class k, log p_c - log p_k
    c, k = e.likeliest, (e.likeliest + 1) % 10
    z_c, z_k = e.contributions.sum() + params["b2"][c], a1 @ params["W2"][:, k] + params["b2"][k]
    assert z_c - z_k == pytest.approx(np.log(e.probabilities[c]) - np.log(e.probabilities[k]), rel=1e-4)


def test_unsure_answers_are_no_digit(small_model):
    e = explain(small_model, np.full(64, 8.0), threshold=0.999999)
    assert e.digit == -1 and 0 <= e.likeliest < 10


def test_explain_checks_the_input(small_model):
    with pytest.raises(digitnet.DataError, match="must lie in 0..16"):
        explain(small_model, np.full(64, 40.0))
