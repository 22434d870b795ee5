"""The drawing page in real headless Chromium (Debian's, driven by Playwright) against a real server:
drawing with a mouse and with touch, Clear, "no digit", the saliency and hidden-layer views."""

import os
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api")

from digitnet.web.app import create_app  # noqa: E402

from test_preprocess import CONTINENTAL_SEVEN, FLAGGED_ONE, STROKES  # noqa: E402
from webserver import model_28x28, running  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("DIGITNET_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
PAD = 280  # the pad's own coordinates, in which STROKES are written

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")]


@pytest.fixture(scope="module")
def url():
    import digitnet

    from digitnet.models import load_drawing

    with running(create_app({"default": (digitnet.train(), "default"), "mnist28": (model_28x28(), "fake 28x28"),
                             "drawing": (load_drawing(), "shipped")})) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Watched:
    """A page whose console errors, failed requests and 4xx/5xx responses are collected."""

    def __init__(self, page):
        self.page, self.problems = page, []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"))


@pytest.fixture
def page(browser, url):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    watched = Watched(context.new_page())
    watched.page.goto(url)
    watched.page.wait_for_function("document.getElementById('model-line').textContent.startsWith('Model')")
    yield watched
    context.close()
    assert watched.problems == []


def to_screen(page, x, y):
    box = page.locator("#pad").bounding_box()
    return box["x"] + x * box["width"] / PAD, box["y"] + y * box["height"] / PAD


def draw_with_mouse(page, strokes):
    for stroke in strokes:
        page.mouse.move(*to_screen(page, *stroke[0]))
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            for t in (0.25, 0.5, 0.75, 1.0):  # intermediate points, as a hand's moves arrive
                page.mouse.move(*to_screen(page, x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
        page.mouse.up()


def answer(page, expected: str, timeout=10_000) -> str:
    """The page's answer once the latest request is answered (answers to earlier strokes may show meanwhile)."""
    try:
        page.wait_for_function(f"document.getElementById('answer').dataset.digit === '{expected}' && "
                               "document.getElementById('answer').dataset.answered === document.body.dataset.asked",
                               timeout=timeout)
    except playwright.TimeoutError:
        pass
    return page.locator("#answer").get_attribute("data-digit")


def non_white(page, canvas_id) -> int:
    return page.evaluate(f"""() => {{
        const c = document.getElementById('{canvas_id}');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) n++;
        return n;
    }}""")


@pytest.mark.parametrize("digit", [0, 1, 4, 7])
def test_drawn_digits_are_recognised(page, digit):
    p = page.page
    assert p.locator("#answer").text_content() == "no digit"  # the empty pad
    draw_with_mouse(p, STROKES[digit])
    assert answer(p, str(digit)) == str(digit)
    assert p.locator("#answer").text_content() == str(digit)
    assert non_white(p, "input") > 100 and non_white(p, "saliency") > 100 and non_white(p, "hidden") > 1000
    assert p.locator("#units figure").count() == 8
    assert p.locator("#bars .bar").count() == 10
    if digit == 4:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "draw-a-4.png"
        p.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000


def test_clear_and_undo(page):
    p = page.page
    draw_with_mouse(p, STROKES[7])
    assert answer(p, "7") == "7"
    p.get_by_role("button", name="Undo").click()  # the crossbar goes: still a 7, or unsure; never an error
    p.wait_for_timeout(500)
    p.get_by_role("button", name="Clear").click()
    assert answer(p, "-1") == "-1"
    assert p.locator("#answer").text_content() == "no digit"
    assert non_white(p, "pad") == 0 and non_white(p, "saliency") == 0
    p.keyboard.press("Escape")  # the keyboard works too
    assert p.locator("#answer").text_content() == "no digit"


def test_a_dot_is_no_digit(page):
    p = page.page
    draw_with_mouse(p, [[[100, 100], [101, 100]]])
    p.wait_for_timeout(600)
    assert p.locator("#answer").text_content() == "no digit"
    assert "no digit" in p.locator("#reason").text_content()


def test_model_switch_and_upload(page, tmp_path):
    p = page.page
    assert p.locator("#model-switch").is_visible()
    p.locator("#model-select").select_option("mnist28")
    p.wait_for_function("document.getElementById('model-line').textContent.includes('28x28')")
    p.locator("#model-select").select_option("default")
    from PIL import Image, ImageDraw

    picture = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(picture).line([(60, 15), (60, 105)], fill=0, width=9)  # a dark 1 on white paper
    picture.save(tmp_path / "one.png")
    p.locator("#upload").set_input_files(str(tmp_path / "one.png"))
    assert answer(p, "1") == "1"


def test_a_failed_upload_clears_the_previous_answer(page, tmp_path):
    """After a 415 (a GIF), the answer to the picture before is not shown as if it answered this one."""
    p = page.page
    draw_with_mouse(p, STROKES[7])
    assert answer(p, "7") == "7"
    asked = p.evaluate("document.body.dataset.asked")
    from PIL import Image

    Image.new("L", (40, 40), 255).save(tmp_path / "x.gif")
    p.locator("#upload").set_input_files(str(tmp_path / "x.gif"))
    p.wait_for_function(f"document.body.dataset.asked !== '{asked}' && "
                        "document.getElementById('reason').textContent.includes('GIF')")
    assert p.locator("#answer").text_content() == "no answer"
    assert p.locator("#answer").get_attribute("data-digit") == ""
    assert p.locator("#answer").get_attribute("data-answered") == asked  # the failed request is not answered
    assert p.locator("#bars .bar.chosen").count() == 0 and non_white(p, "saliency") == 0
    assert page.problems and all("415" in problem for problem in page.problems), page.problems  # and nothing else
    page.problems.clear()


def test_the_shipped_model_reads_continental_habits(page):
    """A 7 with a bar and a 1 with a flag, which the embedded digits' writers never made, drawn small and large."""
    p = page.page
    p.locator("#model-select").select_option("drawing")
    p.wait_for_function("document.getElementById('model-line').textContent.includes('Model drawing')")
    for strokes, digit in ((CONTINENTAL_SEVEN, "7"), (FLAGGED_ONE, "1")):
        for k in (1.0, 0.4):  # the whole pad, then a small digit in a corner
            p.get_by_role("button", name="Clear").click()
            draw_with_mouse(p, [[[40 + (x - 40) * k, 30 + (y - 30) * k] for x, y in s] for s in strokes])
            assert answer(p, digit) == digit, (digit, k)
            assert p.locator("#answer").text_content().startswith(digit)


def test_touch_drawing_on_a_phone(browser, url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    watched = Watched(context.new_page())
    p = watched.page
    p.goto(url)
    p.wait_for_function("document.getElementById('model-line').textContent.startsWith('Model')")
    assert p.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    cdp = context.new_cdp_session(p)
    for stroke in STROKES[1]:
        # drawn upwards: a finger moving up scrolls the page down unless the pad keeps the gesture
        points = [to_screen(p, x, y) for x, y in reversed(stroke)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
        (x0, y0), (x1, y1) = points[0], points[-1]
        for t in [i / 12 for i in range(1, 13)]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                                  "touchPoints": [{"x": x0 + t * (x1 - x0), "y": y0 + t * (y1 - y0)}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert answer(p, "1") == "1"
    assert p.evaluate("window.scrollY") == 0  # drawing did not scroll the page
    context.close()
    assert watched.problems == []


def test_a_phone_photo_is_shrunk_in_the_browser_before_uploading(page, tmp_path):
    """A 12-megapixel photo (several MB) stored sideways with EXIF orientation 6, as phones do: the page
    uploads it redrawn upright at 1024 pixels, well under the limit, and the answer is the digit."""
    import numpy as np
    from PIL import Image, ImageDraw

    upright = Image.new("L", (3024, 4032), 255)
    ImageDraw.Draw(upright).line([(1512, 700), (1512, 3300)], fill=0, width=220)  # a 1
    noisy = np.asarray(upright, dtype=np.int16) + np.random.default_rng(0).integers(-25, 26, (4032, 3024))
    stored = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # turn a quarter clockwise to show
    stored.convert("RGB").save(tmp_path / "photo.jpg", quality=95, exif=exif.tobytes())
    assert (tmp_path / "photo.jpg").stat().st_size > 2_000_000
    sent = []
    p = page.page
    p.on("request", lambda r: "/api/predict-image" in r.url and sent.append(int(r.header_value("content-length"))))
    p.locator("#upload").set_input_files(str(tmp_path / "photo.jpg"))
    assert answer(p, "1") == "1"
    assert len(sent) == 1 and sent[0] < 1_000_000, sent


def test_the_api_docs_load_nothing_from_outside_the_server(browser, url):
    context = browser.new_context()
    outside = []

    def route(r):
        if r.request.url.startswith(url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    p = context.new_page()
    p.goto(url + "/docs")
    p.wait_for_selector(".opblock-summary-path", timeout=20_000)  # Swagger UI drew the operations
    assert "/api/predict-image" in p.locator(".opblock-summary-path").all_text_contents()
    p.wait_for_timeout(500)
    context.close()
    assert outside == []
