"""The documentation site: built by Sphinx with warnings as errors, the tutorials executed; every public name
in the API reference, every command and option in the CLI reference; the tutorials' quoted figures are the
run's own; and real headless Chromium opens the built pages from the file system: math rendered, figures
loaded, no console error, no request leaving the machine."""

import ast
import html
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import digitnet
from digitnet.experiments import PUBLISHED

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorial").glob("*.ipynb"))
sys.path.insert(0, str(DOCS / "_ext"))
import digitnet_docs  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

# Numbers a tutorial's text may type: settings and names, not results of a run.
SETTINGS = {"0.1", "0.01", "4.0"}  # the post's learning rate and tolerance; the sample's licence, CC BY 4.0
GLUE = re.compile(r"\{glue:text\}`([^`:]+)(?::[^`]*)?`")


def markdown_cells(path):
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]


def prose(text):
    """A markdown cell without what may hold numbers: glued figures, code, math and link targets."""
    text = GLUE.sub(" ", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def test_there_are_two_tutorials():
    assert {p.name for p in TUTORIALS} == {"the-post.ipynb", "real-handwriting.ipynb"}


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorials_are_stored_without_outputs(path):
    """The build runs them: outputs in the repository would be stale figures that nothing checks."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert cells and all(c.outputs == [] and c.execution_count is None for c in cells)


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_text_types_no_figure(path):
    """Every percentage, measured decimal and count of epochs in the text is glued from a cell."""
    typed = []
    for text in map(prose, markdown_cells(path)):
        typed += re.findall(r"\d[\d.,]*\s*%", text)
        typed += [n for n in re.findall(r"\d+\.\d+", text) if n not in SETTINGS]
        typed += re.findall(r"\b\d+ epochs", text)
    assert typed == []


def test_the_check_for_typed_figures_finds_them():
    text = "It gets 98.9% right after 32 epochs, an error of 0.0097, at rate 0.1; {glue:text}`acc:.2%` and $p = 0.5$."
    cleaned = prose(text)
    assert re.findall(r"\d[\d.,]*\s*%", cleaned) == ["98.9%"]
    assert [n for n in re.findall(r"\d+\.\d+", cleaned) if n not in SETTINGS] == ["98.9", "0.0097"]
    assert re.findall(r"\b\d+ epochs", cleaned) == ["32 epochs"]


def test_the_api_reference_lists_every_public_name_and_each_has_a_docstring():
    groups = digitnet_docs.public_names()
    listed = [name for names in groups.values() for name in names]
    assert sorted(listed) == sorted(digitnet.__all__)
    assert "Other" not in groups  # every name's module has its section
    import inspect

    undocumented = [n for n in digitnet.__all__ if (inspect.isclass(getattr(digitnet, n)) or callable(getattr(digitnet, n)))
                    and not (inspect.getdoc(getattr(digitnet, n)) or "").strip()]
    assert undocumented == []


def test_every_setting_is_documented_by_its_comment_in_the_source():
    """The API reference documents Config's fields from the comment on each one's line."""
    import dataclasses

    comments = digitnet_docs.field_comments(digitnet.Config)
    assert sorted(comments) == sorted(f.name for f in dataclasses.fields(digitnet.Config))
    assert comments["l2"].startswith("L2 penalty")
    assert "\\|W1\\|" in "\n".join(digitnet_docs.field_lines(digitnet.Config))  # not an rST substitution


# ---- the built site -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built as `make docs` builds it (Sphinx, -W), into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees"),
         str(DOCS), str(out / "html")],
        cwd=ROOT, capture_output=True, text=True, timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    print(f"site built in {time.perf_counter() - start:.0f} s")
    return out


def glued(site, name):
    """The figures a tutorial glued in its run: key -> Python value of its text/plain."""
    data = json.loads((site / "jupyter_execute" / "tutorial" / f"{name}.glue.json").read_text())
    return {key: ast.literal_eval(value["data"]["text/plain"]) for key, value in data.items()}


def pasted(site, page):
    """The glued text as the page shows it."""
    text = (site / "html" / page).read_text()
    return re.findall(r'<span class="pasted-text">([^<]*)</span>', text)


@pytest.mark.slow
def test_every_public_name_has_an_entry_in_the_api_reference(site):
    page = (site / "html" / "reference" / "api.html").read_text()
    missing = [name for name in digitnet.__all__ if f'id="digitnet.{name}"' not in page]
    assert missing == []
    import dataclasses

    fields = [f.name for f in dataclasses.fields(digitnet.Config)]
    assert [f for f in fields if f'id="digitnet.Config.{f}"' not in page] == []
    assert "neurons in the tanh hidden layer" in page  # a field's comment in the source is its documentation


@pytest.mark.slow
def test_every_command_and_option_is_in_the_cli_reference(site):
    import typer.main

    from digitnet.cli import app

    page = html.unescape((site / "html" / "reference" / "cli.html").read_text())
    group = typer.main.get_command(app)
    assert group.commands
    for name, command in group.commands.items():
        assert f'id="cli-{name}"' in page, name
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" else []:
                assert f">{opt}" in page or f" {opt}" in page or f"{opt}<" in page, f"{name} {opt}"
        if command.help:
            assert " ".join(command.help.split())[:60] in " ".join(page.split()), name


@pytest.mark.slow
def test_the_tutorials_quote_what_the_code_computes(site):
    """The figures glued during the build are what digitnet gives now, and the pages show them."""
    post = glued(site, "the-post")
    assert post["n_digits"] == 1797
    assert (post["published_iteration"], post["published_error"], post["published_score"]) == \
           (PUBLISHED["epochs"] - 1, PUBLISHED["train_error"], PUBLISHED["blog_score"])
    blog = digitnet.train(config=digitnet.Config.from_recipe("blog", dropout=0.0, seed=0))
    assert post["post_iteration"] == blog.history.epochs - 1
    assert post["post_error"] == blog.history.error[-1]
    assert post["post_score"] == blog.metrics["blog_score"]
    modern = digitnet.train(config=digitnet.Config.from_recipe("modern", seed=0))
    assert post["modern_accuracy"] == modern.metrics["accuracy"]
    assert post["modern_epochs"] == modern.history.epochs
    shown = pasted(site, "tutorial/the-post.html")
    for text in (f"{post['post_score']:.2%}", f"{post['modern_accuracy']:.2%}", f"{post['post_error']:.6f}",
                 f"{PUBLISHED['blog_score']:.2%}"):
        assert text in shown

    real = glued(site, "real-handwriting")
    from digitnet.data import OPTDIGITS
    from digitnet.preprocess import ink_from_strokes, to_input

    sample = json.loads((DOCS / "tutorial" / "pendigits-sample.json").read_text())
    X = np.stack([to_input(ink_from_strokes(d["strokes"], sample["box"], sample["box"]), OPTDIGITS)
                  for d in sample["digits"]])
    y = np.array([d["label"] for d in sample["digits"]])
    accuracy = float(np.mean(digitnet.train().predict(X) == y))
    assert real["n_real"] == len(y) and real["real_accuracy"] == accuracy
    assert f"{accuracy:.1%}" in pasted(site, "tutorial/real-handwriting.html")


@pytest.mark.slow
def test_the_executed_tutorial_shows_the_progress_bar_and_the_model_card(site):
    nb = nbformat.read(site / "jupyter_execute" / "tutorial" / "the-post.ipynb", as_version=4)
    html_outputs = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "text/html" in o.get("data", {})]
    assert any('<progress value="32" max="32"' in h for h in html_outputs)
    assert any("digitnet-model-card" in h and "data:image/png" in h for h in html_outputs)
    assert any("sk-top-container" in h and "DigitNetClassifier" in h for h in html_outputs)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_the_built_site_in_chromium_renders_math_and_figures_offline(site):
    playwright = pytest.importorskip("playwright.sync_api")
    built = site / "html"
    executed = nbformat.read(site / "jupyter_execute" / "tutorial" / "the-post.ipynb", as_version=4)
    n_figures = sum("image/png" in o.get("data", {}) for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert n_figures >= 7
    pages = {"index.html": 0, "tutorial/the-post.html": 1, "reference/api.html": 0, "backprop.html": 1}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for page_name, needs_math in pages.items():
                page = browser.new_page()
                requests, problems = [], []
                page.on("request", lambda r: requests.append(r.url))
                page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
                page.goto((built / page_name).as_uri())
                page.wait_for_load_state("load")
                if needs_math:
                    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
                    page.evaluate("MathJax.startup.promise")
                    counts = page.evaluate("""() => ({
                        containers: document.querySelectorAll('mjx-container').length,
                        errors: document.querySelectorAll('mjx-merror').length,
                        unrendered: Array.from(document.querySelectorAll('.math')).filter(
                            e => !e.querySelector('mjx-container')).length})""")
                    assert counts["containers"] > 10 and counts["errors"] == 0 and counts["unrendered"] == 0, \
                        (page_name, counts)
                images = page.evaluate("Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])")
                assert all(ok for _, ok in images), (page_name, [src for src, ok in images if not ok])
                if page_name.startswith("tutorial/"):  # every figure the notebook drew, loaded
                    assert len([src for src, _ in images if "/_images/" in src]) == n_figures
                if page_name == "reference/api.html":
                    assert page.locator("[id='digitnet.train']").is_visible()
                outside = [url for url in requests if not url.startswith(("file://", "data:"))]
                assert outside == [], page_name
                assert problems == [], page_name
                page.close()
        finally:
            browser.close()
