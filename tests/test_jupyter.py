"""digitnet in Jupyter: a model's HTML card (escaped: a model file is untrusted), the progress bar of
digitnet.train (terminal and notebook), and scikit-learn's HTML view of DigitNetClassifier."""

import base64
import html
import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import digitnet
from digitnet.card import DATA_KINDS, model_card
from digitnet.errors import ConfigError
from digitnet.progress import EpochBar, _NotebookView, epoch_stats
from digitnet.trainer import History

from conftest import rewrite_model

CRAFTED = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_card_shows_recipe_architecture_inputs_accuracy_and_test_digits(small_model):
    card = small_model._repr_html_()
    text = html.unescape(re.sub(r"<[^>]+>", " ", card))
    assert "recipe modern" in " ".join(text.split())
    assert "64 → 200 tanh → 10 softmax" in text
    assert "64 pixels 0..16 (8x8 images)" in text
    m = small_model.metrics
    assert f"{m['accuracy']:.2%} on {m['n_test']:,} held-out samples" in text
    assert f"{small_model.history.epochs} epochs" in text
    assert DATA_KINDS["sklearn-digits"] in text
    # eight test digits, each a PNG of the digit with the model's answer under it
    from digitnet.data import held_out

    X, y, _ = held_out(small_model)
    answers = small_model.predict(X[:8])
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', card)
    assert len(images) == 8
    from PIL import Image

    first = np.asarray(Image.open(io.BytesIO(base64.b64decode(images[0]))))
    assert first.shape == (8, 8)
    assert np.array_equal(first, np.round(255 * (1 - X[0].reshape(8, 8) / 16)).astype(np.uint8))  # ink dark
    captions = re.findall(r"<figcaption[^>]*>([^<]+)</figcaption>", card)
    expected = [str(a) if a == t else f"{t}→{a}" for a, t in zip(answers, y[:8])]
    assert [html.unescape(c) for c in captions] == expected


def test_card_escapes_every_value_from_a_crafted_model_file(model_file, tmp_path):
    """A model file's metadata is untrusted: a recipe or a data path that is HTML must show as text."""
    import json

    from safetensors import safe_open

    with safe_open(str(model_file), framework="numpy") as f:
        meta = json.loads(f.metadata()["digitnet"])
    crafted = rewrite_model(model_file, tmp_path / "crafted.safetensors", metadata={
        "config": {**meta["config"], "recipe": CRAFTED},
        "data": {"kind": "csv", "path": CRAFTED},
    })
    model = digitnet.load(crafted)
    assert model.config.recipe == CRAFTED and model.data_source["path"] == CRAFTED
    card = model._repr_html_()
    assert "<script" not in card and "<img src=x" not in card and "onerror=alert(1)>" not in card
    assert card.count(html.escape(CRAFTED)) == 2  # the recipe and the data path, as text
    assert "data:image/png" not in card  # no test digits: a file named in the metadata is never read for a card


def test_card_of_a_model_without_a_test_split_says_so():
    X, y = digitnet.load_digits().X[:300], digitnet.load_digits().y[:300]
    model = digitnet.DigitNetClassifier(epochs=2).fit(X, y).model_
    card = model_card(model)
    assert "no held-out test split" in card and "data:image/png" not in card
    given = model_card(model, X[:3], y[:3])  # digits passed in are shown
    assert len(re.findall(r"data:image/png", given)) == 3


def test_digitnet_classifier_keeps_scikit_learns_html_view():
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    estimator = digitnet.DigitNetClassifier(n_hidden=50, epochs=3)
    view = estimator._repr_html_()
    assert "sk-top-container" in view and "DigitNetClassifier" in view
    assert "n_hidden" in view and "50" in view  # the changed parameter is shown
    assert "DigitNetClassifier" in make_pipeline(PCA(5), estimator)._repr_html_()
    data = digitnet.load_digits()
    fitted = estimator.fit(data.X[:200], data.y[:200])._repr_html_()
    assert "fitted" in fitted.lower() and "DigitNetClassifier" in fitted


def test_training_prints_nothing_unless_asked(capfd):
    digitnet.train(config=digitnet.Config(epochs=2))
    assert capfd.readouterr() == ("", "")


def test_terminal_bar_counts_epochs_and_shows_the_last_one():
    buffer = io.StringIO()
    with EpochBar(3, where="terminal", console=Console(file=buffer, width=120)) as show:
        model = digitnet.train(config=digitnet.Config(epochs=3), callback=show)
    out = buffer.getvalue()
    assert "3/3" in out and epoch_stats(model.history) in out


def test_train_rejects_an_unknown_progress_place():
    with pytest.raises(ConfigError, match="progress must be"):
        digitnet.train(config=digitnet.Config(epochs=1), progress="browser")


def test_notebook_view_is_html_with_a_text_fallback_and_escapes():
    view = _NotebookView.__new__(_NotebookView)  # no IPython display: only its rendering
    view.total, view.start = 32, 0.0
    h = History(loss=[0.5, 0.25], accuracy=[0.9, 0.975])
    bundle = view.bundle(h.epochs, epoch_stats(h), "stopped: <done>")
    assert '<progress value="2" max="32"' in bundle["text/html"]
    assert "epoch 2/32" in bundle["text/html"] and "loss 0.2500" in bundle["text/html"]
    assert "&lt;done&gt;" in bundle["text/html"] and "<done>" not in bundle["text/html"]
    assert bundle["text/plain"].startswith("[#....")  # 2 of 32 epochs: 1 of 20 marks


@pytest.mark.slow
def test_progress_bar_renders_in_a_real_notebook_kernel(tmp_path):
    """Run digitnet.train(progress=True) in a Jupyter kernel: the cell's output is the bar, updated in place
    to its final state, as HTML (no widget), with a text fallback."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import digitnet\n"
        "model = digitnet.train(config=digitnet.Config(epochs=4), progress=True)\n"
        "print(model.history.epochs)")]
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    bars = [o for o in outputs if o.get("output_type") == "display_data"]
    assert len(bars) == 1  # one output, updated in place, not one per epoch
    assert '<progress value="4" max="4"' in bars[0]["data"]["text/html"]
    assert "stopped: ran the maximum number of epochs" in bars[0]["data"]["text/plain"]
    assert not any("widget" in key for o in outputs for key in o.get("data", {}))
    assert [o["text"] for o in outputs if o.get("output_type") == "stream"] == ["4\n"]
