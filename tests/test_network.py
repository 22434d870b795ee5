"""The core: gradients against central finite differences, softmax, initialisation, dropout."""

import numpy as np
import pytest

from digitnet import network

from gradcheck import RTOL, finite_difference, relative_error


def _numeric_gradient(f, params):
    return {name: finite_difference(f, w) for name, w in params.items()}


def small_problem(rng, n=5, d=7, H=6, K=10, bias=True, init="glorot", smooth=0.0):
    params = network.init_params(rng, d, H, K, init=init, bias=bias)
    X = rng.normal(size=(n, d))
    Y = np.eye(K)[rng.integers(0, K, n)]
    Y = Y * (1 - smooth) + smooth / K
    return params, X, Y


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("rate", [0.0, 0.5])
@pytest.mark.parametrize("bias", [True, False])
def test_exact_gradient_matches_finite_differences(loss, rate, bias, rng):
    params, X, Y = small_problem(rng, bias=bias, smooth=0.1 if loss == "cross_entropy" else 0.0)
    m = network.dropout_mask(rng, (len(X), 6), rate) if rate else None
    value = network.LOSSES[loss][0]

    def f():
        return value(network.forward(params, X, m)[1].z2, Y)

    p, cache = network.forward(params, X, m)
    analytic = network.backward(params, cache, Y, loss)
    numeric = _numeric_gradient(f, params)
    assert set(analytic) == set(params)
    for name in params:
        assert relative_error(analytic[name], numeric[name]) < RTOL, name


def test_blog_exact_recipe_gradient_uses_post_scale_weights(rng):
    """The blog-exact recipe's setting: uniform [-1, 1) weights, no biases, MSE, one sample at a time."""
    params, X, Y = small_problem(rng, n=1, bias=False, init="uniform")
    m = network.dropout_mask(rng, (1, 6), 0.5)
    analytic = network.backward(params, network.forward(params, X, m)[1], Y, "mse")
    numeric = _numeric_gradient(lambda: network.mse(network.forward(params, X, m)[1].z2, Y), params)
    for name in params:
        assert relative_error(analytic[name], numeric[name]) < RTOL


def test_blog_direction_is_not_the_gradient(rng):
    """The post's update rule differs from the true gradient of its own loss (docs/backprop.md, section 4)."""
    params, X, Y = small_problem(rng, n=1, bias=False, init="uniform")
    cache = network.forward(params, X, naive=True)[1]
    blog = network.backward_blog(params, cache, Y)
    exact = network.backward(params, cache, Y, "mse")
    assert relative_error(blog["W2"], exact["W2"]) > 0.1


def test_backward_blog_by_hand():
    """One sample, one hidden neuron, two outputs: every quirk computed by hand."""
    params = {"W1": np.array([[0.5]]), "W2": np.array([[1.0, -1.0]])}
    X, Y = np.array([[2.0]]), np.array([[1.0, 0.0]])
    m = np.array([[2.0]])
    h = 2.0 * np.tanh(1.0)  # the dropped-out, doubled activation
    p1 = np.exp(h) / (np.exp(h) + np.exp(-h))
    p = np.array([p1, 1 - p1])
    s = np.exp(p) / np.exp(p).sum()  # softmax of the softmax
    dz2 = (p - Y[0]) * s * (1 - s)
    dz1 = (dz2 @ params["W2"][0]) * (1 - np.tanh(h) ** 2) * 1.0  # 0/1 mask, not 2
    grads = network.backward_blog(params, network.forward(params, X, m, naive=True)[1], Y)
    np.testing.assert_allclose(grads["W2"], h * dz2[None, :], rtol=1e-14)
    np.testing.assert_allclose(grads["W1"], [[2.0 * dz1]], rtol=1e-14)


def test_softmax_stable_equals_naive_and_survives_large_inputs():
    z = np.array([[1.0, 2.0, 3.0], [-5.0, 0.0, 5.0]])
    np.testing.assert_allclose(network.softmax(z), network.softmax_naive(z), rtol=1e-15)
    big = np.array([[1000.0, 999.0, 0.0]])
    p = network.softmax(big)
    np.testing.assert_allclose(p[0, :2], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))], rtol=1e-12)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(network.softmax_naive(big)).any()  # the post's version: inf / inf


def test_cross_entropy_uses_log_sum_exp():
    z = np.array([[0.0, 800.0]])  # softmax underflows to exactly 0 for the first class
    assert network.softmax(z)[0, 0] == 0.0
    assert network.cross_entropy(z, np.array([[1.0, 0.0]])) == pytest.approx(800.0)
    assert network.cross_entropy(z, np.array([[0.0, 1.0]])) == 0.0


def test_init_ranges(rng):
    uniform = network.init_params(rng, 64, 200, 10, init="uniform", bias=False)
    assert set(uniform) == {"W1", "W2"}
    assert uniform["W1"].min() >= -1 and uniform["W1"].max() < 1 and uniform["W1"].std() > 0.55
    glorot = network.init_params(rng, 64, 200, 10, init="glorot")
    r = np.sqrt(6 / 264)
    assert np.abs(glorot["W1"]).max() <= r and glorot["W1"].std() == pytest.approx(r / np.sqrt(3), rel=0.05)
    assert not glorot["b1"].any() and glorot["b2"].shape == (10,)


def test_init_draws_w1_then_w2_like_the_post():
    a = network.init_params(np.random.default_rng(7), 64, 200, 10, init="uniform", bias=False)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(a["W1"], 2.0 * rng.random((64, 200)) - 1.0)
    np.testing.assert_array_equal(a["W2"], 2.0 * rng.random((200, 10)) - 1.0)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_mask(rate, rng):
    m = network.dropout_mask(rng, (400, 200), rate)
    cut = round(256 * rate)  # the rate is applied in steps of 1/256: 0.5 exactly, 0.2 as 51/256
    assert set(np.unique(m)) == {0.0, 256 / (256 - cut)}
    assert np.mean(m == 0) == pytest.approx(rate, abs=0.01)
    assert m.mean() == pytest.approx(1.0, abs=0.02)  # expected activation unchanged


def test_forward_shapes_and_probabilities(rng):
    params = network.init_params(rng, 64, 200, 10)
    p, cache = network.forward(params, rng.normal(size=(3, 64)))
    assert p.shape == (3, 10) and cache.a1.shape == (3, 200)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
