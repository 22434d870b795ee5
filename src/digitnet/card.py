"""A model's card for Jupyter (``Model._repr_html_``): what it is, how it was trained, how well it did on
its held-out test split, and a few test digits with its answers.

Every value taken from the model is escaped: a model file's metadata is untrusted input (a crafted
file can put any text in its recipe or data path). The card is plain HTML with inline styles and PNG
images in data: URLs: no scripts, nothing fetched.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from .errors import DigitnetError
from .model import Model
from .trainer import STOP_REASONS

N_DIGITS = 8  # test digits shown
DIGIT_PX = 36  # shown size of one digit, CSS pixels
RIGHT, WRONG = "#0072B2", "#D55E00"  # Okabe-Ito, as plots.py
DATA_KINDS = {"sklearn-digits": "scikit-learn's embedded 8x8 digits", "csv": "CSV file", "mnist": "MNIST's IDX files",
              "images": "folder of pictures", "arrays": "arrays given to digitnet.train"}


def model_card(model: Model, X: np.ndarray | None = None, y: np.ndarray | None = None, *, n: int = N_DIGITS) -> str:
    """The card's HTML.

    Parameters
    ----------
    model : Model
        The model to describe.
    X, y : ndarray of shape (m, d) and (m,), optional
        Raw inputs (as ``model.inputs`` describes them) and their labels: the first ``n`` are shown
        with the model's answers. By default, the model's own held-out test split when it comes from
        the embedded digits; for other data nothing is read (a file named in the model's metadata is
        never opened to draw a card) and no digits are shown.
    n : int
        How many digits to show.

    Returns
    -------
    str
        An HTML fragment, every model-supplied value escaped.
    """
    if X is None and model.data_source.get("kind") == "sklearn-digits" and len(model.test_indices):
        X, y = _embedded_test_digits(model, n)
    rows = [(name, html.escape(value)) for name, value in _facts(model)]
    table = "".join(
        f'<tr><th style="text-align: left; padding: 1px 8px 1px 0; font-weight: 600; white-space: nowrap">{html.escape(name)}</th>'
        f'<td style="text-align: left; padding: 1px 0">{value}</td></tr>'
        for name, value in rows
    )
    digits = _digits_html(model, X, y, n) if X is not None and model.inputs.image_shape is not None else ""
    recipe = html.escape(str(model.config.recipe))
    return (
        '<div class="digitnet-model-card" style="border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; '
        'display: inline-block; font-family: system-ui, sans-serif; font-size: 13px; line-height: 1.35">'
        f'<div style="font-weight: 700; margin-bottom: 4px">digitnet model: recipe <code>{recipe}</code></div>'
        f'<table style="border-collapse: collapse">{table}</table>{digits}</div>'
    )


def _facts(model: Model) -> list[tuple[str, str]]:
    """(name, plain text) rows of the card; the caller escapes the text."""
    c, h, m = model.config, model.history, model.metrics
    n_hidden = model.params["W1"].shape[1]
    network = f"{model.n_inputs} → {n_hidden} tanh → {model.n_classes} softmax"
    extras = [f"dropout {c.dropout:g} in training"] if c.dropout else []
    extras.append("with biases" if "b1" in model.params else "no biases")
    facts = [
        ("architecture", f"{network} ({', '.join(extras)}); {sum(w.size for w in model.params.values()):,} parameters"),
        ("inputs", model.inputs.describe()),
        ("training", f"{c.loss}, {c.optimizer} at lr {c.lr:g}, batches of {c.batch_size}; "
                     f"{h.epochs} epoch{'s' if h.epochs != 1 else ''}: {STOP_REASONS.get(h.stop_reason, h.stop_reason)}"),
    ]
    if m:
        facts.append(("test accuracy", f"{m['accuracy']:.2%} on {m['n_test']:,} held-out samples "
                                       f"(the post's score {m['blog_score']:.2%})"))
    else:
        facts.append(("test accuracy", "none: fitted on all its data, no held-out test split"))
    source = model.data_source
    data = DATA_KINDS.get(source.get("kind"), str(source.get("kind", "unknown")))
    if source.get("path"):
        data += f": {source['path']}"
    facts.append(("data", data))
    return facts


def _embedded_test_digits(model: Model, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    from .data import held_out

    try:
        X, y, _ = held_out(model)
    except DigitnetError:  # a test split that does not fit the digits: no digits on the card
        return None, None
    return X[:n], y[:n]


def _digits_html(model: Model, X: np.ndarray, y: np.ndarray | None, n: int) -> str:
    X = np.asarray(X)[:n]
    try:
        P = model.predict_proba(X)
    except DigitnetError:  # inputs the model refuses: the card still shows the rest
        return ""
    answers = P.argmax(axis=1)
    cells = []
    for i, x in enumerate(X):
        truth = None if y is None else y[i]
        wrong = truth is not None and truth != answers[i]
        label = f"{truth}→{answers[i]}" if wrong else str(answers[i])
        title = f"answer {answers[i]} ({P[i, answers[i]]:.0%})" + ("" if truth is None else f", true {truth}")
        cells.append(
            f'<figure style="margin: 0 6px 0 0; text-align: center">'
            f'<img src="data:image/png;base64,{_png(x, model)}" width="{DIGIT_PX}" height="{DIGIT_PX}" '
            f'alt="{html.escape(title)}" title="{html.escape(title)}" style="image-rendering: pixelated; '
            f'border: 1px solid #ddd">'
            f'<figcaption style="color: {WRONG if wrong else RIGHT}; font-weight: 700">{html.escape(label)}</figcaption>'
            f"</figure>"
        )
    return ('<div style="margin-top: 6px">Test digits and the model\'s answers (wrong ones as true→answer):</div>'
            f'<div style="display: flex; flex-wrap: wrap; margin-top: 2px">{"".join(cells)}</div>')


def _png(x: np.ndarray, model: Model) -> str:
    """One input as a greyscale PNG (ink dark on white), base64."""
    from PIL import Image

    low, high = model.inputs.value_range or (float(np.min(x)), float(np.max(x)))
    ink = np.clip((np.asarray(x, dtype=np.float64) - low) / ((high - low) or 1.0), 0.0, 1.0)
    grey = np.round(255 * (1 - ink)).astype(np.uint8).reshape(model.inputs.image_shape)
    buffer = io.BytesIO()
    Image.fromarray(grey, "L").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
