"""Figures: the post's two pictures and what else a user wants to see about a model.

:data:`FIGURES` is the one table of them: ``digitnet plot`` offers its names, the report shows
them in its order, and docs/make_figures.py draws the README's from it.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
state, nothing shown); save it with ``fig.savefig(path)``. Colours: Okabe-Ito blue/vermillion
for right/wrong, sequential "Blues" for counts and a purple-orange diverging map for weights,
all readable in greyscale and by colour-blind readers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .metrics import Evaluation, calibration, evaluate, labels as confusion_labels, predicted as predicted_classes
from .model import Model
from .trainer import History

RIGHT = "#0072B2"  # Okabe-Ito blue
WRONG = "#D55E00"  # Okabe-Ito vermillion
COUNTS = "Blues"
WEIGHTS = "PuOr"


def mosaic(images: np.ndarray, n_cols: int, pad: int = 1) -> np.ndarray:
    """Tile images (n, h, w) into one array, ``n_cols`` across, separated by ``pad`` NaN pixels (drawn blank).

    One image instead of n subplots: a 200-tile figure draws in milliseconds, not seconds.
    """
    n, h, w = images.shape
    n_rows = -(-n // n_cols)
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, n_cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return out


def square(n_pixels: int) -> tuple[int, int]:
    side = int(round(n_pixels**0.5))
    if side * side != n_pixels:
        raise ValueError(f"{n_pixels} pixels are not a square image: give image_shape")
    return side, side


def _tile_origin(i: int, n_cols: int, shape: tuple[int, int], pad: int = 1) -> tuple[int, int]:
    r, c = divmod(i, n_cols)
    return r * (shape[0] + pad), c * (shape[1] + pad)


def _blank_nan(cmap: str):
    """The colour map with NaN (the mosaic's gaps) drawn white."""
    return colormaps[cmap].with_extremes(bad="white")


def digit_grid(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    predicted: np.ndarray | None = None,
    *,
    image_shape: tuple[int, int] | None = None,
    n_cols: int = 10,
    title: str | None = None,
) -> Figure:
    """Images (n, h*w) in a grid, each with its label in a corner, as the post draws them.

    ``image_shape`` defaults to square images.

    With ``predicted``, a right prediction is labelled in blue, a wrong one in vermillion as
    "true→predicted".
    """
    images = np.asarray(images, dtype=float)
    image_shape = image_shape or square(images.shape[-1])
    images = images.reshape(-1, *image_shape)
    n_cols = min(n_cols, len(images))
    n_rows = -(-len(images) // n_cols)
    fig = Figure(figsize=(0.75 * n_cols + 0.4, 0.75 * n_rows + (0.6 if title else 0.3)), layout="constrained")
    ax = fig.subplots()
    ax.imshow(mosaic(images, n_cols), cmap=_blank_nan("binary"), interpolation="nearest")
    ax.set_axis_off()
    if labels is not None:
        for i, label in enumerate(labels):
            top, left = _tile_origin(i, n_cols, image_shape)
            text, colour = str(label), RIGHT
            if predicted is not None and predicted[i] != label:
                text, colour = f"{label}→{predicted[i]}", WRONG
            ax.text(left, top + image_shape[0] - 1, text, color=colour, fontsize=8, fontweight="bold", va="bottom")
    if title:
        ax.set_title(title)
    return fig


def confusion(matrix: np.ndarray | Evaluation, labels: list[int] | None = None, *, title: str | None = None) -> Figure:
    """Confusion-matrix heatmap in the post's orientation: true label across, predicted label up, counts in cells.

    ``matrix`` is rows = true, columns = predicted (scikit-learn's layout, :class:`Evaluation`'s),
    label -1 for "no digit chosen".
    """
    counts = matrix.confusion if isinstance(matrix, Evaluation) else np.asarray(matrix)
    labels = labels if labels is not None else confusion_labels(len(counts) - 1)
    shown = counts.T  # the post plots mat.T: predicted on the y axis
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(shown, cmap=COUNTS, origin="upper")
    top = shown.max() if shown.size else 0
    for (row, col), value in np.ndenumerate(shown):
        if value:
            ax.text(col, row, str(value), ha="center", va="center", fontsize=8,
                    color="white" if value > top / 2 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("true label")
    ax.set_ylabel("predicted label (-1: no digit chosen)")
    ax.set_title(title or "Confusion matrix")
    fig.colorbar(image, ax=ax, shrink=0.8, label="count")
    return fig


def learning_curves(history: History, *, label_smoothing: float = 0.0, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, training and validation, with the kept (best) epoch marked.

    The training loss is measured against the training targets: pass the model's
    ``label_smoothing`` so the legend says so (smoothed targets raise its floor above 0).
    """
    epochs = np.arange(1, history.epochs + 1)
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    smoothed = f" (targets smoothed by {label_smoothing:g})" if label_smoothing else ""
    loss_ax.plot(epochs, history.loss, color=RIGHT, label="training" + smoothed)
    acc_ax.plot(epochs, history.accuracy, color=RIGHT, label="training")
    if history.val_loss:
        loss_ax.plot(epochs[: len(history.val_loss)], history.val_loss, color=WRONG, linestyle="--", label="validation")
        acc_ax.plot(epochs[: len(history.val_accuracy)], history.val_accuracy, color=WRONG, linestyle="--",
                    label="validation")
    if history.best_epoch:
        for ax in (loss_ax, acc_ax):
            ax.axvline(history.best_epoch, color="black", linestyle=":", label=f"kept: epoch {history.best_epoch}")
    loss_ax.set(xlabel="epoch", ylabel="loss per sample", title="Loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title or f"Learning curves ({history.epochs} epochs, stopped: {history.stop_reason})")
    return fig


def mistakes(model: Model, X: np.ndarray, y: np.ndarray, *, n: int = 12, n_cols: int = 6) -> Figure:
    """The ``n`` most confident wrong predictions on raw pixels X with labels y."""
    P = model.predict_proba(X)
    predicted = predicted_classes(P)  # -1 for a NaN row: wrong, and least sure
    sure = np.where(predicted >= 0, P[np.arange(len(P)), np.maximum(predicted, 0)], -1.0)
    wrong = np.flatnonzero(predicted != y)
    wrong = wrong[np.argsort(-sure[wrong], kind="stable")][:n]
    fig = Figure(figsize=(1.6 * n_cols, 1.9 * max(1, -(-len(wrong) // n_cols))), layout="constrained")
    if len(wrong) == 0:
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"No mistakes on these {len(y)} digits.", ha="center", va="center")
        fig.suptitle("Most confident mistakes")
        return fig
    axes = fig.subplots(-(-len(wrong) // n_cols), n_cols, squeeze=False, subplot_kw={"xticks": [], "yticks": []})
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(X[i].reshape(model.inputs.image_shape), cmap="binary", interpolation="nearest")
        ax.set_title(f"true {y[i]}, said {predicted[i]}\n{max(sure[i], 0):.0%} sure", fontsize=9, color=WRONG)
    for ax in list(axes.flat)[len(wrong):]:
        ax.set_axis_off()
    fig.suptitle(f"Most confident mistakes ({len(wrong)} of {int(np.sum(predicted != y))} wrong of {len(y)})")
    return fig


def hidden_weights(model: Model, *, n_cols: int = 20) -> Figure:
    """Each hidden neuron's incoming weights (a column of W1) drawn as an image; one shared, symmetric scale."""
    W1 = model.params["W1"]
    n_hidden = W1.shape[1]
    tiles = W1.T.reshape(n_hidden, *model.inputs.image_shape)
    limit = float(np.abs(W1).max()) or 1.0
    n_cols = min(n_cols, n_hidden)
    fig = Figure(figsize=(0.5 * n_cols + 1.2, 0.5 * -(-n_hidden // n_cols) + 0.7), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(mosaic(tiles, n_cols), cmap=_blank_nan(WEIGHTS), vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_axis_off()
    fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    ax.set_title(f"First-layer weights of the {n_hidden} hidden neurons (orange negative, purple positive)")
    return fig


def reliability(P: np.ndarray, y: np.ndarray, *, n_bins: int = 10) -> Figure:
    """Reliability diagram: accuracy against confidence per bin, the diagonal being perfect calibration."""
    mean_conf, accuracy, count, ece = calibration(P, y, n_bins)
    used = count > 0
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax, hist = fig.subplots(1, 2)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    ax.plot(mean_conf[used], accuracy[used], marker="o", color=RIGHT, label="this model")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence (largest probability)", ylabel="accuracy",
           title=f"Reliability (ECE {ece:.3f})")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    edges = np.linspace(0, 1, n_bins + 1)
    hist.bar(edges[:-1], count, width=1 / n_bins, align="edge", color=RIGHT, edgecolor="white")
    hist.set(xlim=(0, 1), xlabel="confidence", ylabel="samples", title="Confidence histogram")
    return fig


def probabilities(p: np.ndarray, image: np.ndarray | None = None, *, image_shape: tuple[int, int] | None = None,
                  true_label: int | None = None) -> Figure:
    """One input's class probabilities as bars (the chosen class highlighted), and the input (an image) beside them."""
    p = np.asarray(p).ravel()
    fig = Figure(figsize=(7 if image is not None else 5, 3), layout="constrained")
    if image is not None:
        image_ax, ax = fig.subplots(1, 2, width_ratios=[1, 2.2])
        image = np.asarray(image)
        image_ax.imshow(image.reshape(image_shape or square(image.size)), cmap="binary", interpolation="nearest")
        image_ax.set(xticks=[], yticks=[], title="input" if true_label is None else f"input (true {true_label})")
    else:
        ax = fig.subplots()
    best = int(p.argmax())
    colours = [RIGHT if k == best else "#BBBBBB" for k in range(len(p))]
    ax.bar(range(len(p)), p, color=colours)
    ax.set(xticks=range(len(p)), ylim=(0, 1), xlabel="class", ylabel="probability",
           title=f"Predicted {best} ({p[best]:.0%})")
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)  # above this the post's rounding chooses the digit
    return fig


@dataclass(frozen=True)
class Scored:
    """A model and the data a figure is drawn on: raw inputs X (n, d), labels y (n,), and where they are from."""

    model: Model
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    where: str = ""

    @cached_property
    def P(self) -> np.ndarray:
        return self.model.predict_proba(self.X)

    @cached_property
    def scores(self) -> Evaluation:
        return evaluate(self.P, self.y)


@dataclass(frozen=True)
class FigureKind:
    title: str  # the report's heading
    draw: Callable[[Scored], Figure]
    caption: Callable[[Scored], str]
    needs_images: bool = False  # draws inputs as images: only for models whose inputs are an image's pixels
    needs_data: bool = True  # drawn on data (else from the model alone)


GRID = 100  # digits in the grid


def _least_confident(s: Scored) -> Figure:
    i = int(np.argsort(s.P.max(axis=1))[0])
    image = s.X[i] if s.model.inputs.image_shape else None
    return probabilities(s.P[i], image, image_shape=s.model.inputs.image_shape, true_label=int(s.y[i]))


FIGURES: dict[str, FigureKind] = {
    "digits": FigureKind(
        "Test digits",
        lambda s: digit_grid(s.X[:GRID], s.y[:GRID], predicted_classes(s.P[:GRID]), image_shape=s.model.inputs.image_shape,
                             title=f"{min(GRID, len(s.y))} digits from the {s.where}"),
        lambda s: f"The first {min(GRID, len(s.y))} digits scored, labelled as the post does; "
                  "wrong predictions in vermillion as true→predicted.",
        needs_images=True,
    ),
    "confusion": FigureKind(
        "Confusion matrix",
        lambda s: confusion(s.scores, title=f"Confusion matrix on the {s.where}"),
        lambda s: "True label across, predicted label up, as in the post; -1 means no output rounded to 1.",
    ),
    "curves": FigureKind(
        "Learning curves",
        lambda s: learning_curves(s.model.history, label_smoothing=s.model.config.label_smoothing),
        lambda s: "Per epoch; the dotted line is the epoch whose weights were kept. Training figures are "
                  "measured during the epoch (with dropout, if any); validation figures after it.",
        needs_data=False,
    ),
    "mistakes": FigureKind(
        "Most confident mistakes",
        lambda s: mistakes(s.model, s.X, s.y),
        lambda s: "The wrong answers the network was surest of.",
        needs_images=True,
    ),
    "reliability": FigureKind(
        "Calibration",
        lambda s: reliability(s.P, s.y),
        lambda s: f"Expected calibration error {calibration(s.P, s.y)[3]:.3f}: "
                  "the average gap between confidence and accuracy.",
    ),
    "weights": FigureKind(
        "Hidden-layer weights",
        lambda s: hidden_weights(s.model),
        lambda s: f"What each hidden neuron responds to: its {s.model.n_inputs} input weights as an image.",
        needs_images=True,
        needs_data=False,
    ),
    "probabilities": FigureKind(
        "One prediction up close",
        _least_confident,
        lambda s: "The least confident prediction in the data, with all its class probabilities.",
    ),
}
