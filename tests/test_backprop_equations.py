"""Each equation of docs/backprop.md that the code implements, checked numerically.

Test names follow the document's equation names. Gradients are compared with central finite
differences in float64 on small random shapes; the relative error over the whole array must
stay below 1e-7.
"""

import numpy as np
import pytest

import digitnet
from digitnet import network, optim
from digitnet.data import fit_scaling, load_digits, split

from digitnet import literal_blog
from gradcheck import EPS, assert_close, finite_difference

n, d, H, K = 4, 6, 5, 10


@pytest.fixture
def rng():
    return np.random.default_rng(2026)


def problem(rng, rate=0.5, smooth=0.0):
    params = network.init_params(rng, d, H, K)
    params["b1"] += rng.normal(size=H) * 0.1
    params["b2"] += rng.normal(size=K) * 0.1
    X = rng.normal(size=(n, d))
    Y = np.eye(K)[rng.integers(0, K, n)] * (1 - smooth) + smooth / K
    m = network.dropout_mask(rng, (n, H), rate)
    return params, X, Y, m


def test_eq_forward(rng):
    params, X, Y, m = problem(rng)
    p, cache = network.forward(params, X, m)
    z1 = X @ params["W1"] + params["b1"]
    np.testing.assert_allclose(cache.a1, np.tanh(z1))
    np.testing.assert_allclose(cache.h, np.tanh(z1) * m)
    np.testing.assert_allclose(cache.z2, cache.h @ params["W2"] + params["b2"])
    np.testing.assert_allclose(p, np.exp(cache.z2) / np.exp(cache.z2).sum(axis=1, keepdims=True))


def test_eq_softmax_jacobian(rng):
    z = rng.normal(size=(1, K))
    p = network.softmax(z)[0]
    J = np.diag(p) - np.outer(p, p)
    for k in range(K):
        assert_close(J[k], finite_difference(lambda: network.softmax(z)[0, k], z)[0])
    np.testing.assert_allclose(J, J.T)
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-15)


def test_eq_softmax_shift(rng):
    z = rng.normal(size=(3, K))
    np.testing.assert_allclose(network.softmax(z - 123.4), network.softmax(z), rtol=1e-12)
    big = z + 1000.0
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(network.softmax_naive(big)).all()
    np.testing.assert_allclose(network.softmax(big), network.softmax(z), rtol=1e-12)


def test_eq_log_softmax(rng):
    z = rng.normal(size=(3, K))
    np.testing.assert_allclose(network.log_softmax(z), np.log(network.softmax(z)), rtol=1e-12)
    # its gradient along a one-hot target is one-hot minus softmax
    target = 4
    numeric = finite_difference(lambda: network.log_softmax(z)[0, target], z)[0]
    assert_close(np.eye(K)[target] - network.softmax(z)[0], numeric)
    assert np.isfinite(network.log_softmax(np.array([[0.0, 2000.0]]))).all()


def _loss_of_z2(params, X, Y, m, loss):
    """L as a function of z2 alone: returns (z2, f) with f() reading the current z2."""
    z2 = network.forward(params, X, m)[1].z2.copy()
    return z2, lambda: network.LOSSES[loss][0](z2, Y)


def test_eq_mse_output_delta(rng):
    params, X, Y, m = problem(rng)
    p = network.forward(params, X, m)[0]
    g = 2.0 / n * (p - Y)
    delta2 = p * (g - np.sum(g * p, axis=1, keepdims=True))
    np.testing.assert_allclose(network.mse_delta(p, Y), delta2)
    z2, f = _loss_of_z2(params, X, Y, m, "mse")
    assert_close(delta2, finite_difference(f, z2))


@pytest.mark.parametrize("smooth", [0.0, 0.1])
def test_eq_cross_entropy_delta(rng, smooth):
    params, X, Y, m = problem(rng, smooth=smooth)
    p = network.forward(params, X, m)[0]
    np.testing.assert_allclose(network.cross_entropy_delta(p, Y), (p - Y) / n)
    z2, f = _loss_of_z2(params, X, Y, m, "cross_entropy")
    assert_close((p - Y) / n, finite_difference(f, z2))


def test_eq_tanh_derivative(rng):
    z = rng.normal(size=(2, H))
    numeric = np.array([[(np.tanh(v + EPS) - np.tanh(v - EPS)) / (2 * EPS) for v in row] for row in z])
    assert_close(1 - np.tanh(z) ** 2, numeric)


def _check_gradients(rng, loss, names):
    params, X, Y, m = problem(rng)
    p, cache = network.forward(params, X, m)
    grads = network.backward(params, cache, Y, loss)
    for name in names:
        numeric = finite_difference(lambda: network.LOSSES[loss][0](network.forward(params, X, m)[1].z2, Y), params[name])
        assert_close(grads[name], numeric)
    return params, p, cache, grads, Y


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_eq_weight_gradients(rng, loss):
    _, p, cache, grads, Y = _check_gradients(rng, loss, ("W2", "b2"))
    delta2 = network.LOSSES[loss][1](p, Y)
    np.testing.assert_allclose(grads["W2"], cache.h.T @ delta2)
    np.testing.assert_allclose(grads["b2"], delta2.sum(axis=0))


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_eq_first_layer_gradients(rng, loss):
    params, p, cache, grads, Y = _check_gradients(rng, loss, ("W1", "b1"))
    delta1 = (network.LOSSES[loss][1](p, Y) @ params["W2"].T) * cache.m * (1 - cache.a1**2)
    np.testing.assert_allclose(grads["W1"], cache.X.T @ delta1)
    np.testing.assert_allclose(grads["b1"], delta1.sum(axis=0))


def test_eq_hidden_delta(rng):
    """delta1 = (delta2 W2^T) * m * (1 - a1^2), against differences of L with respect to z1."""
    params, X, Y, m = problem(rng)
    p, cache = network.forward(params, X, m)
    delta2 = network.cross_entropy_delta(p, Y)
    delta1 = (delta2 @ params["W2"].T) * m * (1 - cache.a1**2)
    z1 = X @ params["W1"] + params["b1"]

    def loss_of_z1():
        z2 = (np.tanh(z1) * m) @ params["W2"] + params["b2"]
        return network.cross_entropy(z2, Y)

    assert_close(delta1, finite_difference(loss_of_z1, z1))
    np.testing.assert_allclose(network.backward(params, cache, Y)["b1"], delta1.sum(axis=0))


@pytest.mark.parametrize("rate", [0.5, 0.2])
def test_eq_dropout(rng, rate):
    m = network.dropout_mask(rng, (2000, 200), rate)
    cut = round(256 * rate)
    assert set(np.unique(m)) == {0.0, 256 / (256 - cut)}
    # the expectation is exactly 1: P(keep) * scale = (256 - cut) / 256 * 256 / (256 - cut)
    assert (256 - cut) / 256 * (256 / (256 - cut)) == pytest.approx(1.0, abs=1e-15)
    assert m.mean() == pytest.approx(1.0, abs=0.01)
    assert np.mean(m == 0) == pytest.approx(cut / 256, abs=0.01)


def test_eq_l2(rng):
    params, X, Y, m = problem(rng)
    lam = 0.3

    def penalty():
        return lam / 2 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))

    assert_close(lam * params["W1"], finite_difference(penalty, params["W1"]))
    assert_close(np.zeros_like(params["b1"]), finite_difference(penalty, params["b1"]))


def test_eq_adam(rng):
    theta = rng.normal(size=7)
    g1, g2 = rng.normal(size=7), rng.normal(size=7)
    adam = optim.Adam(theta)
    start = theta.copy()
    adam.step_numpy(theta, g1.copy(), 0.01)
    # the first step is lr * sign(g), up to eps: in digitnet's form exactly lr * g / (|g| + eps / sqrt(1 - beta2))
    np.testing.assert_allclose(start - theta, 0.01 * g1 / (np.abs(g1) + 1e-8 / np.sqrt(1 - 0.999)), rtol=1e-12)
    np.testing.assert_allclose(start - theta, 0.01 * np.sign(g1), rtol=1e-4)
    # the second step, from the paper's formulas with explicit bias correction
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    expected = theta - 0.01 * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + eps)
    adam.step_numpy(theta, g2.copy(), 0.01)
    np.testing.assert_allclose(theta, expected, rtol=1e-6)  # eps sits in a slightly different place


def test_eq_nesterov(rng):
    """optim.Nesterov is Nesterov's accelerated gradient: the gradient taken at the look-ahead point.

    In the look-ahead form (Sutskever et al. 2013, eq. 3-4) with a quadratic loss L = |A phi - c|^2 / 2, the
    velocity is u <- mu u - lr grad L(phi + mu u) and phi <- phi + u. The implemented form keeps
    theta = phi + mu u, the look-ahead point itself, where the gradient is taken."""
    A, c = rng.normal(size=(5, 5)), rng.normal(size=5)

    def grad(x):
        return A.T @ (A @ x - c)

    lr, mu = 0.02, 0.9
    phi, u = rng.normal(size=5), np.zeros(5)
    theta = phi.copy()
    nesterov = optim.Nesterov(theta, momentum=mu)
    for _ in range(25):
        nesterov.step_numpy(theta, grad(theta), lr)
        u = mu * u - lr * grad(phi + mu * u)
        phi = phi + u
        np.testing.assert_allclose(theta, phi + mu * u, rtol=1e-12, atol=1e-12)
    assert np.linalg.norm(grad(theta)) < np.linalg.norm(grad(rng.normal(size=5)))  # and it descends


def test_eq_post_update(rng):
    """The document's formula for the post's update equals backward_blog, and the literal post's loop."""
    params = network.init_params(rng, 64, 200, 10, init="uniform", bias=False)
    x = rng.normal(size=(1, 64)) * 0.2
    y = np.eye(10)[[7]]
    k = (rng.random((1, 200)) >= 0.5).astype(float)
    p, cache = network.forward(params, x, 2 * k, naive=True)
    h = cache.h
    s = network.softmax(p)
    delta2 = (p - y) * s * (1 - s)
    delta1 = (delta2 @ params["W2"].T) * (1 - np.tanh(h) ** 2) * k
    grads = network.backward_blog(params, cache, y)
    np.testing.assert_allclose(grads["W2"], h.T @ delta2, rtol=1e-12)
    np.testing.assert_allclose(grads["W1"], x.T @ delta1, rtol=1e-12)
    # and it is not the gradient of the post's own loss
    exact = network.backward(params, cache, y, "mse")
    assert np.abs(exact["W2"] - grads["W2"]).max() > 1e-3


def test_eq_post_error():
    """err = summed squared error over the training rows / 1797, compared with the tolerance."""
    data = load_digits()
    X = fit_scaling(data.X, "blog").apply(data.X)
    train, _ = split(data.y, 0.25, 0, stratify=False)
    rng = np.random.default_rng(0)
    W1, W2 = literal_blog.init_weights(rng)
    total = literal_blog.train_epoch(W1, W2, X[train], np.eye(10)[data.y[train]], rng, dropout=False)
    model = digitnet.train(data, digitnet.Config.from_recipe("blog", dropout=0.0, epochs=1))
    assert model.history.error[0] == pytest.approx(total / 1797, rel=1e-12)
    assert model.history.loss[0] == pytest.approx(total / 1347, rel=1e-12)
