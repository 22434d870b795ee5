"""Every figure on a small trained model: axes, titles, images and the numbers drawn."""

import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from digitnet import plots
from digitnet.metrics import calibration, evaluate
from digitnet.data import held_out

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def scored(small_model):
    X, y, _ = held_out(small_model)
    return X, y, small_model.predict_proba(X)


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_mosaic_places_tiles_and_blank_separators():
    tiles = np.arange(2 * 2 * 3, dtype=float).reshape(3, 2, 2)
    m = plots.mosaic(tiles, n_cols=2)
    assert m.shape == (5, 5)
    np.testing.assert_array_equal(m[0:2, 3:5], tiles[1])
    np.testing.assert_array_equal(m[3:5, 0:2], tiles[2])
    assert np.isnan(m[2]).all() and np.isnan(m[:, 2]).all() and np.isnan(m[3:, 3:]).all()


def test_digit_grid_like_the_post(digits):
    fig = plots.digit_grid(digits.X[:100], digits.y[:100])
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    (image,) = ax.images
    assert image.get_array().shape == (10 * 9 - 1, 10 * 9 - 1)  # 10x10 tiles of 8x8 with 1-pixel gaps
    np.testing.assert_array_equal(image.get_array()[:8, :8], digits.X[0].reshape(8, 8))
    assert texts(ax) == [str(v) for v in digits.y[:100]]
    assert {t.get_color() for t in ax.texts} == {plots.RIGHT}


def test_digit_grid_marks_wrong_predictions(digits):
    predicted = digits.y[:20].copy()
    predicted[[3, 7]] = (predicted[[3, 7]] + 1) % 10
    fig = plots.digit_grid(digits.X[:20], digits.y[:20], predicted, title="some digits")
    ax = fig.axes[0]
    wrong = [t for t in ax.texts if t.get_color() == plots.WRONG]
    assert [t.get_text() for t in wrong] == [f"{digits.y[i]}→{predicted[i]}" for i in (3, 7)]
    assert ax.get_title() == "some digits"


def test_digit_grid_any_image_size():
    images = np.random.default_rng(0).random((6, 28 * 28))
    fig = plots.digit_grid(images, np.arange(6), image_shape=(28, 28), n_cols=3)
    assert fig.axes[0].images[0].get_array().shape == (2 * 29 - 1, 3 * 29 - 1)


def test_confusion_counts_and_orientation(scored):
    X, y, P = scored
    scores = evaluate(P, y)
    fig = plots.confusion(scores)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "true label" and ax.get_ylabel().startswith("predicted label")
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(v) for v in range(-1, 10)]
    shown = ax.images[0].get_array()
    np.testing.assert_array_equal(shown, scores.confusion.T)  # the post's mat.T
    drawn = {(int(round(t.get_position()[1])), int(round(t.get_position()[0]))): int(t.get_text()) for t in ax.texts}
    expected = {(r, c): int(v) for (r, c), v in np.ndenumerate(scores.confusion.T) if v}
    assert drawn == expected and sum(drawn.values()) == len(y)


def test_learning_curves(small_model):
    h = small_model.history
    fig = plots.learning_curves(h, label_smoothing=0.1)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    np.testing.assert_allclose(lines["training (targets smoothed by 0.1)"].get_ydata(), h.loss)
    np.testing.assert_allclose(lines["validation"].get_ydata(), h.val_loss)
    assert lines[f"kept: epoch {h.best_epoch}"].get_xdata()[0] == h.best_epoch
    assert f"{h.epochs} epochs" in fig._suptitle.get_text()


def test_learning_curves_without_validation(digits):
    import digitnet

    model = digitnet.train(digits, digitnet.Config.from_recipe("blog", dropout=0.0, epochs=3, tol=None))
    fig = plots.learning_curves(model.history)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["training"]


def test_mistakes_are_the_most_confident_wrong_ones(small_model, scored):
    X, y, P = scored
    fig = plots.mistakes(small_model, X, y, n=4, n_cols=4)
    predicted = P.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)
    top = wrong[np.argsort(-P[wrong, predicted[wrong]], kind="stable")][:4]
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == [f"true {y[i]}, said {predicted[i]}\n{P[i, predicted[i]]:.0%} sure" for i in top]
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), X[top[0]].reshape(8, 8))


def test_mistakes_when_there_are_none(small_model, scored):
    X, y, P = scored
    right = P.argmax(axis=1) == y
    fig = plots.mistakes(small_model, X[right][:10], y[right][:10])
    assert "No mistakes on these 10 digits." in texts(fig.axes[0])


def test_hidden_weights_tiles_are_the_columns_of_W1(small_model):
    fig = plots.hidden_weights(small_model)
    ax = fig.axes[0]
    mosaic = ax.images[0].get_array()
    W1 = small_model.params["W1"]
    assert mosaic.shape == (10 * 9 - 1, 20 * 9 - 1)  # 200 tiles, 20 across
    np.testing.assert_allclose(mosaic[9:17, 18:26], W1[:, 22].reshape(8, 8))  # row 1, column 2 -> neuron 22
    low, high = ax.images[0].get_clim()
    assert low == -high == -np.abs(W1).max()
    assert "200 hidden neurons" in ax.get_title()


def test_calibration_and_reliability_diagram():
    P = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    y = np.array([0, 1, 0, 0])
    conf, acc, count, ece = calibration(P, y, n_bins=10)
    assert count[9] == 2 and count[5] == 2
    assert acc[9] == 0.5 and acc[5] == 1.0
    assert ece == pytest.approx(0.5 * abs(0.5 - 0.95) + 0.5 * abs(1.0 - 0.55))
    fig = plots.reliability(P, y)
    assert fig.axes[0].get_title() == f"Reliability (ECE {ece:.3f})"
    assert sum(p.get_height() for p in fig.axes[1].patches) == 4


def test_probabilities_bar_chart(digits):
    p = np.array([0.02, 0.01, 0.9, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])
    fig = plots.probabilities(p, digits.X[2], true_label=2)
    image_ax, bars_ax = fig.axes
    assert [bar.get_height() for bar in bars_ax.patches] == pytest.approx(p.tolist())
    assert bars_ax.get_title() == "Predicted 2 (90%)" and image_ax.get_title() == "input (true 2)"
    assert bars_ax.patches[2].get_facecolor() != bars_ax.patches[0].get_facecolor()


def test_one_table_of_figures_serves_plot_report_and_docs():
    from digitnet import cli, report

    assert [kind.value for kind in cli.PlotKind] == list(plots.FIGURES)
    assert [key for key in report.SECTIONS if key in plots.FIGURES] == list(plots.FIGURES)
    docs = Path(__file__).resolve().parent.parent / "docs" / "make_figures.py"
    readme = re.search(r"README = \((.*?)\)", docs.read_text()).group(1)
    assert set(re.findall(r'"(\w+)"', readme)) <= set(plots.FIGURES)
