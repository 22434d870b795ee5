"""The HTML report: structure, embedded images, and how real headless Chromium renders it offline."""

import base64
import io
import json
import os
from html.parser import HTMLParser

import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

import digitnet
from digitnet import report
from digitnet.cli import app

from conftest import rewrite_model

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


class Page(HTMLParser):
    """Collects section ids, image sources, links and any tag that could fetch something."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.fetching, self.tables = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "table":
            self.tables += 1
        if tag in ("script", "link", "iframe") or (tag == "img" and not attrs["src"].startswith("data:")):
            self.fetching.append(tag)


@pytest.fixture(scope="module")
def report_file(small_model, tmp_path_factory):
    return report.write(small_model, tmp_path_factory.mktemp("report") / "report.html")


def test_report_has_every_section_and_decodable_images(report_file, small_model):
    text = report_file.read_text()
    page = Page()
    page.feed(text)
    assert page.sections == list(report.SECTIONS)
    assert page.fetching == []  # nothing to download: opens offline
    assert len(page.images) == 7 and page.tables == 3
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        pixels = imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400
        assert pixels[..., :3].std() > 0.05  # not blank
    assert f"Accuracy <b>{small_model.metrics['accuracy']:.2%}</b>" in text
    assert "config.lr" in text and "held-out test split of the embedded digits" in text


def test_report_in_headless_chromium_offline(report_file, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    requests, failed, errors = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report_file.as_uri())
        page.wait_for_load_state("load")
        loaded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        headings = page.locator("h2").all_inner_texts()
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert failed == [] and errors == []
    assert [u for u in requests if not u.startswith("data:")] == [report_file.as_uri()]
    assert loaded == [True] * 7
    assert headings == list(report.SECTIONS.values())
    pixels = imread(str(shot))
    assert pixels.shape[0] > 3000 and pixels[..., :3].std() > 0.05  # the whole report was drawn


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_report_command(model_file, tmp_path):
    out = tmp_path / "r.html"
    r = cli("report", model_file, "--out", out)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"Report written to {out}"
    page = Page()
    page.feed(out.read_text())
    assert page.sections == list(report.SECTIONS)


@pytest.mark.parametrize("kind", ["digits", "confusion", "curves", "mistakes", "weights", "reliability"])
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_command(model_file, tmp_path, kind, suffix):
    out = tmp_path / f"{kind}{suffix}"
    r = cli("plot", kind, model_file, "--out", out)
    assert r.exit_code == 0, r.stderr
    if suffix == ".png":
        pixels = imread(str(out))
        assert pixels[..., :3].std() > 0.05
    else:
        assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left behind


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "digits", "{model}", "--out", "{tmp}/x.jpg"], "unsupported image type '.jpg'"),
        (["plot", "digits", "{model}", "--out", "{tmp}/missing/x.png"], "does not exist (create it first)"),
        (["plot", "digits", "{tmp}/not-a-model.safetensors", "--out", "{tmp}/x.png"], "not a readable model file"),
        (["report", "{tmp}/not-a-model.safetensors", "--out", "{tmp}/r.html"], "not a readable model file"),
        (["report", "{model}", "--out", "{tmp}/missing/r.html"], "does not exist (create it first)"),
        (["report", "{model}", "--out", "{tmp}"], "is a directory"),
    ],
)
def test_plot_and_report_bad_input(model_file, tmp_path, args, message):
    (tmp_path / "not-a-model.safetensors").write_text("hello")
    before = sorted(p.name for p in tmp_path.iterdir())
    r = cli(*[a.replace("{model}", str(model_file)).replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and message in r.stderr
    assert r.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unknown_plot_kind_exits_2(model_file, tmp_path):
    r = cli("plot", "histogram", model_file, "--out", tmp_path / "x.png")
    assert r.exit_code == 2 and "histogram" in r.stderr


def test_evaluate_and_the_report_show_the_command_that_trained_the_model(tmp_path):
    """What trains the model again, recorded in its file by `digitnet train`, is shown by evaluate and the report."""
    path = tmp_path / "m.safetensors"
    assert cli("train", "--set", "epochs=2", "--seed", "3", "--quiet", "--out", path).exit_code == 0
    command = digitnet.load(path).command
    assert command == "digitnet train --recipe modern --set epochs=2 --set seed=3"
    r = cli("evaluate", path)
    assert r.exit_code == 0, r.stderr
    assert f"Trained by: {command}\n" in r.stdout
    assert json.loads(cli("evaluate", path, "--json").stdout)["command"] == command
    assert cli("report", path, "--out", tmp_path / "r.html").exit_code == 0
    assert f'<td class="key">trained by</td><td>{command}</td>' in (tmp_path / "r.html").read_text()


def test_a_crafted_command_is_shown_as_text(model_file, tmp_path):
    """The command in a model file is untrusted: HTML in it stays text in the report, and a terminal's control
    sequences are shown escaped by evaluate, never sent to the terminal."""
    crafted = rewrite_model(model_file, tmp_path / "crafted.safetensors",
                            metadata={"command": 'digitnet train <script>alert(1)</script> \x1b[2J\x1b]0;pwned\x07'})
    r = cli("evaluate", crafted)
    assert r.exit_code == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "Trained by: digitnet train <script>alert(1)</script> \\x1b[2J\\x1b]0;pwned\\x07\n" in r.stdout
    assert cli("report", crafted, "--out", tmp_path / "r.html").exit_code == 0
    page = (tmp_path / "r.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page and "\\x1b[2J" in page  # shown escaped, as evaluate shows it


def test_a_crafted_data_path_is_shown_escaped_by_evaluate(tmp_path):
    """The data path a model file records is printed by evaluate: a terminal's control sequence in it (a folder
    named so, holding the data whose checksum the file records) is shown escaped."""
    from conftest import write_csv

    folder = tmp_path / "data\x1b[31m"
    folder.mkdir()
    d = digitnet.load_digits()
    csv = write_csv(folder / "d.csv", d.X[:400], d.y[:400])
    path = tmp_path / "m.safetensors"
    assert cli("train", "--data", csv, "--set", "epochs=1", "--quiet", "--out", path).exit_code == 0
    r = cli("evaluate", path)
    assert r.exit_code == 0, r.stderr
    assert "\x1b" not in r.stdout and "data\\x1b[31m" in r.stdout
