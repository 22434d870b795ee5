"""One self-contained HTML report of a model: metadata, scores and every plot, images embedded.

No scripts, no external fonts, styles or images: the file opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from . import plots
from ._version import __version__
from .metrics import ECE_BINS, NO_DIGIT
from .data import held_out
from .errors import one_line
from .model import Model
from .files import write_atomic
from .trainer import STOP_REASONS


# every section in order; a model whose inputs are not images skips the figures that draw them
SECTIONS = {"summary": "Summary", "metrics": "Scores", **{key: kind.title for key, kind in plots.FIGURES.items()},
            "model": "Model and settings"}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; } table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; } th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
td.key { text-align: left; font-family: monospace; } img { max-width: 100%; height: auto; display: block; }
.big { font-size: 1.3em; } .note { color: #555; font-size: 0.95em; }
"""


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def build(model: Model, X: np.ndarray, y: np.ndarray, where: str, *, title: str = "digitnet model report") -> str:
    """The report's HTML for ``model`` scored on raw pixels X with labels y (``where`` says what they are)."""
    scored = plots.Scored(model, X, y, where)
    images = model.inputs.image_shape is not None
    shown = {key: kind for key, kind in plots.FIGURES.items() if images or not kind.needs_images}
    body = {key: _figure_html(kind.draw(scored), kind.caption(scored)) for key, kind in shown.items()}
    scores = scored.scores
    body["summary"] = _summary(model, scores, where)
    body["metrics"] = _metrics(scores)
    body["model"] = _model_table(model)
    headings = {key: name for key, name in SECTIONS.items() if key in body}
    nav = " ".join(f'<a href="#{key}">{html.escape(name)}</a>' for key, name in headings.items())
    sections = "\n".join(
        f'<section id="{key}"><h2>{html.escape(name)}</h2>\n{body[key]}\n</section>' for key, name in headings.items()
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"note\">digitnet {__version__}: a {model.n_inputs}-{model.params['W1'].shape[1]}-{model.n_classes} "
        f"tanh network, recipe <b>{html.escape(model.config.recipe)}</b>.</p>\n<nav>{nav}</nav>\n{sections}\n</body></html>\n"
    )


def write(model: Model, path: str | Path, data: str | Path | None = None) -> Path:
    """Write the report of ``model`` (on its held-out test split, or the CSV ``data``) to ``path`` atomically."""
    X, y, where = held_out(model, data)
    return write_atomic(path, build(model, X, y, where).encode("utf-8"), example="report.html")


def _figure_html(fig: Figure, caption: str) -> str:
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">' \
           f"<figcaption class=\"note\">{html.escape(caption)}</figcaption></figure>"


def _summary(model: Model, scores, where: str) -> str:
    h = model.history
    kept = f"; the weights of epoch {h.best_epoch} were kept" if h.best_epoch else ""
    return (
        f'<p class="big">Accuracy <b>{scores.accuracy:.2%}</b> on {scores.n} digits '
        f"({html.escape(where)}); the post's score {scores.blog_score:.2%}.</p>\n"
        f"<p>Trained for {h.epochs} epochs: {html.escape(STOP_REASONS.get(h.stop_reason, h.stop_reason))}{kept}. "
        f"The post's rule chose no digit for {scores.no_digit} of them.</p>"
    )


def _metrics(scores) -> str:
    rows = [
        ("accuracy (argmax)", f"{scores.accuracy:.4f}"),
        ("the post's score (every rounded output right)", f"{scores.blog_score:.4f}"),
        ("the post's squared error per digit", f"{scores.squared_error:.4f}"),
        (f"expected calibration error ({ECE_BINS} equal bins of the top probability)", f"{scores.ece:.4f}"),
        ("log loss (mean -ln p of the true digit)", f"{scores.log_loss:.4f}"),
        (f"no digit chosen ({NO_DIGIT})", str(scores.no_digit)),
        ("digits scored", str(scores.n)),
    ]
    table = _table(["score", "value"], rows)
    per_class = _table(
        ["digit", "precision", "recall", "F1"],
        [(str(k), f"{scores.precision[k]:.3f}", f"{scores.recall[k]:.3f}", f"{scores.f1[k]:.3f}")
         for k in range(len(scores.precision))],
    )
    return f"{table}\n<h3>Per class (argmax predictions)</h3>\n{per_class}"


def _model_table(model: Model) -> str:
    info = {
        "architecture": f"{model.inputs.describe()}, "
                        f"{model.params['W1'].shape[1]} tanh hidden, {model.n_classes} softmax outputs, "
                        f"{'with' if 'b1' in model.params else 'no'} biases",
        "parameters": str(sum(w.size for w in model.params.values())),
        "input scaling": f"{model.scaling.method}: (x - {model.scaling.offset[0]:.4g}) / {model.scaling.scale[0]:.4g}",
        "softmax temperature": f"{model.temperature:.4g}" + (" (calibrated on held-out training data)"
                                                             if model.temperature != 1 else " (uncalibrated)"),
        # from the file: a control character or a right-to-left override is shown escaped, as evaluate shows it
        "trained by": one_line(model.command) if model.command else "(not recorded: not trained by `digitnet train`)",
        "data": json.dumps(model.data_source),
        "test rows": str(len(model.test_indices)),
        **{f"config.{k}": str(v) for k, v in model.config.to_dict().items()},
    }
    return _table(["setting", "value"], list(info.items()), key_column=True)


def _table(header: list[str], rows: list[tuple[str, ...]], key_column: bool = False) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>" + "".join(
            f'<td class="key">{html.escape(c)}</td>' if key_column and i == 0 else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
