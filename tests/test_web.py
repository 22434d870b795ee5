"""The JSON API against a real uvicorn server on a free loopback port: every endpoint, every bad input."""

import io
import json
import socket
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from digitnet.web.app import MAX_BATCH, create_app  # noqa: E402

from webserver import TEMPLATES, model_28x28, models_served, running  # noqa: E402


@pytest.fixture(scope="module")
def models(small_model):
    return {"digits": (small_model, "small"), "mnist28": (model_28x28(), "fake 28x28")}


@pytest.fixture(scope="module")
def url(models):
    with running(create_app(models)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def grid(x, shape=(8, 8)):
    return np.asarray(x).reshape(shape).tolist()


def png(image: np.ndarray, mode="L", size=None) -> bytes:
    picture = Image.fromarray(image.astype(np.uint8), mode=None)
    if mode != picture.mode:
        picture = picture.convert(mode)
    if size:
        picture = picture.resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def paper(x8: np.ndarray, size=96) -> np.ndarray:
    """An 8x8 digit (0..16) as a dark-on-white picture of size x size."""
    ink = Image.fromarray((x8.reshape(8, 8) * 255 / 16).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
    return 255 - np.asarray(ink)


# ---- every endpoint --------------------------------------------------------------------------------------


def test_health_and_models(client, small_model):
    assert client.get("/healthz").json() == {"status": "ok", "models": 2}
    info = client.get("/api/models").json()
    assert info["default"] == "digits" and [m["id"] for m in info["models"]] == ["digits", "mnist28"]
    first = info["models"][0]
    assert first["image_shape"] == [8, 8] and first["value_range"] == [0, 16] and first["n_hidden"] == 200
    assert first["test_accuracy"] == pytest.approx(small_model.metrics["accuracy"])
    assert info["models"][1]["image_shape"] == [28, 28]


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<canvas id="pad"' in page.text and "http" not in page.text.replace("http-equiv", "")  # nothing external
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/docs").status_code == 200 and "/api/predict" in client.get("/openapi.json").text


def test_predict_pixels(client, small_model, digits):
    for row in range(5):
        answer = client.post("/api/predict", json={"pixels": grid(digits.X[row])}).json()
        expected = small_model.predict_proba(digits.X[row : row + 1])[0]
        assert answer["likeliest"] == int(expected.argmax()) == digits.y[row]
        np.testing.assert_allclose(answer["probabilities"], expected, atol=2e-4)
        assert np.array(answer["input"]).shape == (8, 8) and np.array(answer["saliency"]).shape == (8, 8)
        assert answer["digit"] == answer["likeliest"] and answer["rejected"] is False
        assert "hidden" not in answer


def test_predict_explains_on_request(client, digits):
    answer = client.post("/api/predict", json={"pixels": grid(digits.X[3]), "explain": True}).json()
    assert len(answer["hidden"]) == 200 and len(answer["units"]) == 8
    contributions = [u["contribution"] for u in answer["units"]]
    assert contributions == sorted(contributions, reverse=True)
    assert np.array(answer["units"][0]["weights"]).shape == (8, 8)


def test_predict_strokes(client):
    one = {"strokes": [[[140, 30], [142, 250]]], "width": 280, "height": 280}
    answer = client.post("/api/predict", json=one).json()
    assert answer["digit"] == 1 and sum(map(sum, answer["input"])) > 200  # the ink normalised to ~313


def test_empty_and_tiny_drawings_are_no_digit(client):
    for strokes in ([], [[[100, 100]]], [[[100, 100], [103, 101]]], [[[60, 140], [220, 146]]]):  # a dash too
        answer = client.post("/api/predict", json={"strokes": strokes, "width": 280, "height": 280}).json()
        assert answer["digit"] == -1 and answer["rejected"] is True and answer["probabilities"] is None
        assert answer["reason"] == "no digit: the drawing is empty, too small, or only dots or a dash"


def test_a_blank_picture_is_said_blank(client):
    """An uploaded picture with no ink is a blank picture, not an empty drawing."""
    answer = _upload(client, png(np.full((60, 60), 240.0))).json()
    assert answer["digit"] == -1 and answer["reason"] == "no digit: the picture is blank, or its ink is too small, specks or a dash"


def test_the_model_switch(client):
    x = (np.random.default_rng(3).integers(0, 40, (28, 28)) + TEMPLATES[4]).clip(0, 255)
    answer = client.post("/api/predict", json={"pixels": x.tolist(), "model": "mnist28"}).json()
    assert answer["model"] == "mnist28" and answer["likeliest"] == 4
    assert np.array(answer["saliency"]).shape == (28, 28)


def test_predict_image(client, small_model, digits):
    for row in (0, 1, 2, 10):
        picture = paper(digits.X[row])
        answer = client.post("/api/predict-image", files={"file": ("d.png", png(picture), "image/png")}).json()
        assert digits.y[row] in [answer["digit"], *answer["alternatives"]], answer  # named, if not first
        # a black pen on a transparent background: the same answer
        rgba = np.zeros((*picture.shape, 4), np.uint8)
        rgba[..., 3] = 255 - picture
        transparent = client.post("/api/predict-image", files={"file": ("t.png", png(rgba, "RGBA"), "image/png")}).json()
        assert transparent["likeliest"] == answer["likeliest"]
        np.testing.assert_allclose(transparent["input"], answer["input"], atol=2)
    buffer = io.BytesIO()
    Image.fromarray(paper(digits.X[0])).convert("RGB").save(buffer, format="JPEG", quality=90)
    jpeg = client.post("/api/predict-image?explain=true", files={"file": ("d.jpg", buffer.getvalue(), "image/jpeg")}).json()
    assert jpeg["likeliest"] == digits.y[0] and len(jpeg["units"]) == 8


def test_predict_batch(client, small_model, digits):
    X = digits.X[:100]
    answer = client.post("/api/predict-batch", json={"pixels": [grid(x) for x in X]}).json()
    assert [p["likeliest"] for p in answer["predictions"]] == small_model.predict(X).tolist()
    assert len(answer["predictions"]) == 100


def test_concurrent_requests_get_their_own_answers(url, small_model, digits):
    expected = small_model.predict(digits.X[:64]).tolist()
    results, errors = {}, []

    def worker(start):
        with httpx.Client(base_url=url, timeout=30) as c:
            for row in range(start, 64, 8):
                r = c.post("/api/predict", json={"pixels": grid(digits.X[row]), "explain": row % 2 == 0})
                if r.status_code != 200:
                    errors.append(r.status_code)
                results[row] = r.json()["likeliest"]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and [results[i] for i in range(64)] == expected


# ---- bad input: 4xx with a JSON detail, never a 500 ------------------------------------------------------

P = "/api/predict"
GOOD = grid(np.zeros(64))
BAD_JSON = [
    ("wrong rows", {"pixels": [[0] * 8] * 7}, "pixels must be 8 rows of 8 values"),
    ("wrong columns", {"pixels": [[0] * 9] * 8}, "pixels must be 8 rows of 8 values"),
    ("out of range", {"pixels": [[17] * 8] * 8}, "pixels must lie in 0..16"),
    ("negative", {"pixels": [[-1] * 8] * 8}, "pixels must lie in 0..16"),
    ("strings", {"pixels": [["a"] * 8] * 8}, "pixels.0.0"),
    ("both", {"pixels": GOOD, "strokes": [], "width": 9, "height": 9}, "give either pixels"),
    ("neither", {}, "give either pixels"),
    ("strokes without size", {"strokes": [[[1, 2]]]}, "width and height"),
    ("too many strokes", {"strokes": [[[1, 1]]] * 65, "width": 9, "height": 9}, "strokes"),
    ("too many points", {"strokes": [[[1, 1]] * 10_001], "width": 9, "height": 9}, "strokes.0"),
    ("3-D point", {"strokes": [[[1, 2, 3]]], "width": 9, "height": 9}, "strokes.0.0"),
    ("point off the canvas", {"strokes": [[[1e9, 2]]], "width": 9, "height": 9}, "must lie on the canvas"),
    ("zero width", {"strokes": [[[1, 2]]], "width": 0, "height": 9}, "width"),
    ("huge canvas", {"strokes": [[[1, 2]]], "width": 1e6, "height": 9}, "width"),
    ("unknown model", {"pixels": GOOD, "model": "nope"}, "unknown model 'nope'"),
    ("unknown field", {"pixels": GOOD, "colour": 3}, "colour"),
    ("not an object", [1, 2, 3], "valid dictionary"),
]


@pytest.mark.parametrize("body, message", [c[1:] for c in BAD_JSON], ids=[c[0] for c in BAD_JSON])
def test_bad_json_is_422_saying_what_is_wrong(client, body, message):
    r = client.post(P, json=body)
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"pixels": [[NaN, 0, 0, 0, 0, 0, 0, 0]]}',
                                 b'{"pixels": ' + json.dumps([[0] * 8] * 7 + [[0] * 7 + ["Infinity"]]).encode().replace(b'"Infinity"', b"Infinity") + b"}"])
def test_malformed_json_and_nan_are_422(client, raw):
    r = client.post(P, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]


def test_bodies_over_a_megabyte_are_413(url):
    big = b'{"pixels": [' + b"0," * 600_000 + b"0]}"
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post(P, content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "too large" in r.json()["detail"]

        def chunks():  # no Content-Length: read up to the limit, then refused
            for _ in range(40):
                yield b" " * 65536

        r = c.post(P, content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_batch_limits(client):
    r = client.post("/api/predict-batch", json={"pixels": [GOOD] * (MAX_BATCH + 1)})
    assert r.status_code in (413, 422)
    r = client.post("/api/predict-batch", json={"pixels": [GOOD, [[0] * 8] * 3]})
    assert r.status_code == 422 and "image 1: pixels must be 8 rows" in r.json()["detail"]
    r = client.post("/api/predict-batch", json={"pixels": []})
    assert r.status_code == 422


def _upload(client, data, name="x.png"):
    return client.post("/api/predict-image", files={"file": (name, data, "image/png")})


def test_bad_uploads(client, digits):
    r = _upload(client, b"GIF89a not a picture at all")
    assert r.status_code == 415 and "a picture in GIF format" in r.json()["detail"]
    r = _upload(client, b"hello, no picture at all")
    assert r.status_code == 415 and "not a PNG, JPEG or TIFF picture" in r.json()["detail"]
    whole = png(paper(digits.X[0]))
    r = _upload(client, whole[: len(whole) // 2])  # truncated
    assert r.status_code == 422 and r.json()["detail"] == ("a PNG file that cannot be read: truncated or corrupt "
                                                           "(it starts as a PNG does); save it again")
    assert _upload(client, b"").status_code == 422
    assert client.post("/api/predict-image").status_code == 422  # no file at all
    assert client.post("/api/predict-image?model=nope", files={"file": ("x.png", whole, "image/png")}).status_code == 422


def test_decompression_bombs_are_refused(client):
    bomb = io.BytesIO()
    Image.new("L", (6000, 6000), 255).save(bomb, format="PNG")  # 36 megapixels in a few tens of kB
    assert len(bomb.getvalue()) < 200_000
    r = _upload(client, bomb.getvalue())
    assert r.status_code == 413 and "too large" in r.json()["detail"]


def test_wrong_methods_and_paths_are_4xx(client):
    assert client.get(P).status_code == 405
    assert client.get("/api/nothing").status_code == 404


def test_binds_to_loopback_by_default():
    import inspect

    from digitnet import cli

    assert inspect.signature(cli.serve).parameters["host"].default == "127.0.0.1"


# ---- random input never gives a 500 ----------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)
KEYS = st.sampled_from(["pixels", "strokes", "width", "height", "model", "explain"])
POINT = st.lists(st.floats(min_value=-500, max_value=800, allow_nan=False), min_size=1, max_size=3)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON | st.dictionaries(KEYS, JSON, max_size=5))
def test_random_json_bodies_never_500(client, body):
    r = client.post(P, json=body)
    assert 400 <= r.status_code < 500 or r.status_code == 200, r.text
    assert isinstance(_strict_json(r.text), dict)
    r = client.post("/api/predict-batch", json=body)
    assert 400 <= r.status_code < 500 or r.status_code == 200, r.text
    assert isinstance(_strict_json(r.text), dict)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*"]).flatmap(
    lambda head: st.binary(max_size=300).map(lambda tail: head + tail)),
       model=st.none() | st.text(max_size=5), explain=st.sampled_from(["true", "false", "maybe", ""]))
def test_random_uploads_never_500(client, data, model, explain):
    params = {"explain": explain} | ({} if model is None else {"model": model})
    r = client.post("/api/predict-image", params=params, files={"file": ("x.png", data, "image/png")})
    assert r.status_code in (200, 413, 415, 422), r.text
    assert isinstance(_strict_json(r.text), dict)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strokes=st.lists(st.lists(POINT, max_size=30), max_size=6),
       width=st.floats(min_value=-10, max_value=5000, allow_nan=False), height=st.integers(-5, 5000))
def test_random_strokes_never_500(client, strokes, width, height):
    r = client.post(P, json={"strokes": strokes, "width": width, "height": height})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        answer = r.json()
        assert answer["digit"] in range(-1, 10)


# ---- `digitnet serve` ------------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_runs_a_server_until_ctrl_c(model_file, tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    port = _free_port()
    digitnet_cmd = str(Path(sys.executable).with_name("digitnet"))
    server = subprocess.Popen([digitnet_cmd, "serve", str(model_file), str(model_file), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        models = models_served(port, server)
        assert [m["id"] for m in models["models"]] == ["small", "small'"]  # the same file twice: two ids
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=20)
    assert server.returncode in (0, 130) and "Traceback" not in err
    assert f"http://127.0.0.1:{port}/" in err


def test_serve_refuses_a_busy_port_and_bad_files(model_file, tmp_path):
    from typer.testing import CliRunner

    from digitnet.cli import app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(app, ["serve", str(model_file), "--port", str(port)])
    assert r.exit_code == 2 and r.stderr.startswith("error: cannot listen on 127.0.0.1") and len(r.stderr.splitlines()) == 1
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    r = CliRunner().invoke(app, ["serve", str(tmp_path / "junk.safetensors")])
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    r = CliRunner().invoke(app, ["serve", str(model_file), "--port", "70000"])
    assert r.exit_code == 2 and "--port must be 1..65535" in r.stderr


def test_the_default_model_is_trained_once_then_cached(tmp_path, monkeypatch):
    from digitnet import cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = cli._default_model()
    cached = list((tmp_path / "digitnet").glob("default-*.safetensors"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    second = cli._default_model()
    assert cached[0].stat().st_mtime_ns == mtime  # read, not retrained and rewritten
    np.testing.assert_array_equal(first.params["W1"], second.params["W1"])
    assert first.metrics["accuracy"] > 0.97


# ---- issue 19: what the server sends, who may ask, labels, limits, a busy server, the process ---------------


def _strict_json(text: str):
    """JSON as a browser parses it: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise ValueError(f"{constant} in JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def labelled(digits, tmp_path_factory):
    """Estimators, as `digitnet load` gives them: string labels on the 8x8 digits; labels [2, 5, 11] on 7 plain
    features (no value range); a DigitNetClassifier on the 64 pixels without their range. Served from files in a
    folder whose path must not leak."""
    from digitnet import DigitNetClassifier

    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    strings = DigitNetClassifier(epochs=6).fit(digits.X, names[digits.y])
    rng = np.random.default_rng(7)
    y = rng.choice([2, 5, 11], 600)
    X = rng.normal(0, 1, (600, 7)) + (y[:, None] == np.array([2, 5, 11, 2, 5, 11, 2])) * 3.0
    plain = DigitNetClassifier(epochs=6).fit(X, y)
    folder = tmp_path_factory.mktemp("served-models")
    return {"strings": (strings, str(folder / "strings.safetensors")),
            "plain": (plain, str(folder / "sub" / "plain.safetensors")), "folder": str(folder), "X": X, "y": y}


@pytest.fixture(scope="module")
def labelled_url(labelled):
    with running(create_app({k: labelled[k] for k in ("strings", "plain")})) as base:
        yield base


def test_models_lists_file_names_and_class_labels_never_paths(labelled, labelled_url):
    r = httpx.get(f"{labelled_url}/api/models")
    info = r.json()
    assert labelled["folder"] not in r.text and "/" not in "".join(m["file"] for m in info["models"])
    files = {m["id"]: m["file"] for m in info["models"]}
    assert files == {"strings": "strings.safetensors", "plain": "plain.safetensors"}
    classes = {m["id"]: m["classes"] for m in info["models"]}
    assert classes["strings"] == ["eight", "five", "four", "nine", "one", "seven", "six", "three", "two", "zero"]
    assert classes["plain"] == [2, 5, 11]


def test_an_estimator_answers_its_class_labels(labelled, labelled_url, digits):
    strings, _ = labelled["strings"]
    with httpx.Client(base_url=labelled_url, timeout=30) as c:
        for row in range(5):
            answer = c.post("/api/predict", json={"pixels": grid(digits.X[row]), "model": "strings"}).json()
            expected = strings.predict(digits.X[row : row + 1])[0]
            assert answer["likeliest"] == expected and answer["digit"] in (expected, -1)
        batch = c.post("/api/predict-batch", json={"pixels": [grid(x) for x in digits.X[:20]], "model": "strings"}).json()
        assert [p["likeliest"] for p in batch["predictions"]] == strings.predict(digits.X[:20]).tolist()
        picture = png(paper(digits.X[0]))  # its pixels' range is not known: a picture cannot become its input
        image = c.post("/api/predict-image?model=strings", files={"file": ("d.png", picture, "image/png")})
        assert image.status_code == 422 and "cannot turn a picture into 64 pixels (8x8 images)" in image.json()["detail"]
        plain, _ = labelled["plain"]
        X = labelled["X"]
        for row in range(5):
            answer = c.post("/api/predict", json={"pixels": [X[row].tolist()], "model": "plain"}).json()
            assert answer["likeliest"] == plain.predict(X[row : row + 1])[0]
            np.testing.assert_allclose(answer["probabilities"], plain.predict_proba(X[row : row + 1])[0], atol=2e-4)


@pytest.mark.parametrize("value", [1e308, -1e308, 3.5e38, 1e38])
def test_values_that_overflow_a_plain_feature_model_are_422_and_the_connection_lives(labelled_url, value):
    with httpx.Client(base_url=labelled_url, timeout=30) as c:  # one keep-alive connection throughout
        r = c.post("/api/predict", json={"pixels": [[0, 0, value, 0, 0, 0, 0]], "model": "plain"})
        assert r.status_code == 422, r.text
        detail = _strict_json(r.text)["detail"]
        assert "overflow" in detail and f"{value:g}" in detail, detail
        r = c.post("/api/predict-batch", json={"pixels": [[[0] * 7], [[value] + [0] * 6]], "model": "plain"})
        assert r.status_code == 422 and "image 1" in r.json()["detail"]
        r = c.post("/api/predict", json={"pixels": [[0, 1, 2, 3, 0, 0, 1]], "model": "plain"})
        assert r.status_code == 200 and _strict_json(r.text)["likeliest"] in (2, 5, 11)
        # large but within what float32 takes after scaling: an answer, in plain JSON
        r = c.post("/api/predict", json={"pixels": [[0, 0, np.sign(value) * 1e30, 0, 0, 0, 0]], "model": "plain", "explain": True})
        assert r.status_code == 200 and _strict_json(r.text)["likeliest"] in (2, 5, 11)


def test_a_classifier_of_pixels_without_their_range_refuses_overflow(digits):
    from digitnet import DigitNetClassifier

    est = DigitNetClassifier(epochs=2).fit(digits.X, digits.y)  # 64 features: 8x8, but no 0..16 range known
    with running(create_app({"est": (est, "est.safetensors")})) as base, httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/predict", json={"pixels": [[1e308] * 8] * 8})
        assert r.status_code == 422 and "overflow" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200


def test_huge_and_odd_numbers_never_give_5xx_or_nan(client):
    bodies = [{"pixels": [[1e308] * 8] * 8}, {"pixels": [[-1e308] * 8] * 8}, {"pixels": [[5e-324] * 8] * 8},
              {"strokes": [[[1e308, 1e308]]], "width": 280, "height": 280},
              {"strokes": [[[1, 1], [2, 2]]], "width": 1e-308, "height": 280},
              {"strokes": [[[1, 1], [2, 2]]], "width": 4096, "height": 4096, "explain": True},
              {"pixels": [[0] * 28] * 28, "model": "mnist28", "explain": True}]
    for body in bodies:
        r = client.post(P, json=body)
        assert r.status_code in (200, 422), r.text
        _strict_json(r.text)
    for raw in (b'{"pixels": [[1e999, 0, 0, 0, 0, 0, 0, 0]]}', b'{"pixels": [[-Infinity]]}',
                b'{"strokes": [[[1, 1]]], "width": NaN, "height": 9}'):
        r = client.post(P, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
    r = client.post("/api/predict-batch", content=b'{"pixels": [[[NaN]]]}', headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_a_nan_canvas_size_is_not_a_finite_number(client):
    for field in ("width", "height"):
        body = {"strokes": [[[1, 1]]], "width": 9, "height": 9}
        raw = json.dumps(body).replace(f'"{field}": 9', f'"{field}": NaN').encode()
        r = client.post(P, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422 and "finite number" in r.json()["detail"], r.text
        assert "less than or equal" not in r.json()["detail"]


# ---- who may ask: the Host header (DNS rebinding) -------------------------------------------------------------


def _get(url, path, host):
    return httpx.get(url + path, headers={"host": host}, timeout=10)


def test_only_the_servers_own_host_names_are_answered(url):
    port = url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", "LOCALHOST"):
        assert _get(url, "/healthz", host).status_code == 200, host
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "localhost.", "[::2]", ""):
        r = _get(url, "/api/models", host)
        assert r.status_code == 400 and "digits" not in r.text, host
        # a JSON detail, as every other 4xx
        assert r.headers["content-type"] == "application/json"
        assert r.json()["detail"].startswith("this server does not answer requests for the host ") and \
            "--allow-host" in r.json()["detail"], host


def test_more_host_names_can_be_allowed(small_model):
    from digitnet.web.app import trusted_hosts

    assert trusted_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert trusted_hosts("::1")[0] == "[::1]" and "localhost" in trusted_hosts("::1")
    assert trusted_hosts("192.0.2.7", ["digits.example"]) == ["192.0.2.7", "digits.example"]
    everywhere = trusted_hosts("0.0.0.0")
    assert {"localhost", "127.0.0.1", "[::1]", socket.gethostname().lower()} <= set(everywhere)
    with running(create_app({"m": (small_model, "m")}, hosts=trusted_hosts("127.0.0.1", ["digits.example"]))) as base:
        assert _get(base, "/healthz", "digits.example:8000").status_code == 200
        assert _get(base, "/healthz", "other.example").status_code == 400


# ---- /docs: nothing from the network ---------------------------------------------------------------------------


def test_docs_are_served_from_the_server_itself(client):
    import re

    for path in ("/docs", "/redoc"):
        page = client.get(path)
        if path == "/redoc" and page.status_code == 404:
            continue
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|(?:Url|url)\s*:\s*["']([^"']+)["']""", page.text)
        urls = [a or b for a, b in urls]
        assert urls and not [u for u in urls if "//" in u], urls
        for u in urls:
            assert client.get(u).status_code == 200, u
        assert "cdn" not in page.text.lower() and "fonts.googleapis" not in page.text


# ---- body limits: a 413 the client can read --------------------------------------------------------------------


def _raw_post(url, path, body: bytes, *, chunked=False, close=True, content_type="application/json") -> bytes:
    """Sends a whole request on a fresh socket, piece by piece, as a client that writes all before it reads
    (Python's urllib, and most scripts); a server that closes before the body is in makes the sending fail
    (broken pipe, reset), and such a client never reads the answer. Returns the answer's first bytes."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        head += "Connection: close\r\n" if close else ""
        if chunked:
            head += "Transfer-Encoding: chunked\r\n\r\n"
            payload = b"".join(f"{len(body[i:i + 65536]):x}\r\n".encode() + body[i : i + 65536] + b"\r\n"
                               for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
        else:
            head += f"Content-Length: {len(body)}\r\n\r\n"
            payload = body
        s.sendall(head.encode())
        for i in range(0, len(payload), 16384):
            s.sendall(payload[i : i + 16384])
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 10:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


@pytest.mark.parametrize("chunked, close", [(False, True), (True, True), (False, False), (True, False)],
                         ids=["content-length, close", "chunked, close", "content-length, keep-alive", "chunked, keep-alive"])
def test_an_oversized_body_is_a_413_the_client_reads(url, chunked, close):
    body = b'{"pixels": [' + b"0," * 1_500_000 + b"0]}"  # 3 MB
    for _ in range(10):
        answer = _raw_post(url, P, body, chunked=chunked, close=close)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"request body too large" in answer


def test_a_client_waiting_for_100_continue_gets_the_413_at_once(url):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST {P} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: 3000000\r\nExpect: 100-continue\r\n\r\n".encode())
        assert s.recv(65536).startswith(b"HTTP/1.1 413")  # no body sent, none waited for


def test_pictures_may_be_larger_than_other_bodies(url, digits):
    from digitnet.web.app import MAX_BODY, MAX_UPLOAD

    assert MAX_UPLOAD >= 16 * MAX_BODY
    picture = Image.fromarray(paper(digits.X[0], size=1500)).convert("RGB")
    noisy = np.clip(np.asarray(picture, dtype=np.int16) + np.random.default_rng(0).integers(-6, 7, (1500, 1500, 3)), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(noisy.astype(np.uint8)).save(buffer, format="JPEG", quality=100)
    photo = buffer.getvalue()
    assert MAX_BODY < len(photo) < MAX_UPLOAD  # a phone's photo: megabytes
    with httpx.Client(base_url=url, timeout=60) as c:
        answer = c.post("/api/predict-image", files={"file": ("photo.jpg", photo, "image/jpeg")}).json()
        assert answer["likeliest"] == digits.y[0], answer
    too_big = b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n" + bytes(MAX_UPLOAD + 10)
    answer = _raw_post(url, "/api/predict-image", too_big, content_type="multipart/form-data; boundary=x")
    assert answer.startswith(b"HTTP/1.1 413") and b"request body too large" in answer


# ---- formats: 415 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["GIF", "WEBP", "BMP", "ICO", "TGA", "PCX", "PPM", "EPS"])
def test_pictures_of_other_formats_are_415(client, digits, format):
    if format == "EPS":
        data = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 96 96\nshowpage\n"
    else:
        buffer = io.BytesIO()
        Image.fromarray(paper(digits.X[0])).convert("RGBA" if format == "ICO" else "L").save(buffer, format=format)
        data = buffer.getvalue()
    r = _upload(client, data)
    assert r.status_code == 415, r.text
    assert r.json()["detail"] == f"a picture in {format} format: digitnet reads PNG, JPEG and TIFF pictures only; convert it to PNG"


def test_png_jpeg_and_tiff_are_read(client, digits):
    for format in ("PNG", "JPEG", "TIFF"):
        buffer = io.BytesIO()
        Image.fromarray(paper(digits.X[0])).save(buffer, format=format)
        answer = _upload(client, buffer.getvalue())
        assert answer.status_code == 200 and answer.json()["likeliest"] == digits.y[0]


# ---- a heavy request does not stall the others -----------------------------------------------------------------


def _heavy_picture() -> bytes:
    """A 4096x4096 photo-sized picture of a digit that compresses to little: under every body limit."""
    from PIL import ImageDraw

    picture = Image.new("RGB", (4096, 4096), "white")
    ImageDraw.Draw(picture).line([(1200, 700), (2900, 700), (1700, 3500)], fill="black", width=260)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 500_000
    return buffer.getvalue()


@pytest.mark.slow
def test_health_answers_while_big_pictures_and_canvases_are_processed(url):
    """/healthz's latency while heavy requests run: what it waits is the server's stall (a difference of two
    clocks on one request, not a race between requests)."""
    import time

    picture = _heavy_picture()
    zigzag = [[float(x), float((x * 7) % 4096)] for x in range(0, 4000, 4)]  # 1,000 points
    strokes = {"strokes": [zigzag] * 9, "width": 4096, "height": 4096}
    latencies, answers = [], []

    def heavy(kind):
        with httpx.Client(base_url=url, timeout=300) as c:
            for _ in range(2):
                if kind == "picture":
                    r = c.post("/api/predict-image", files={"file": ("big.png", picture, "image/png")})
                else:
                    r = c.post(P, json=strokes)
                answers.append((kind, r.status_code))

    workers = [threading.Thread(target=heavy, args=(k,)) for k in ("picture", "picture", "strokes", "strokes")]
    for w in workers:
        w.start()
    with httpx.Client(base_url=url, timeout=300) as c:
        while any(w.is_alive() for w in workers):
            start = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            if any(w.is_alive() for w in workers):  # answered while the heavy requests were still running
                latencies.append(time.perf_counter() - start)
            time.sleep(0.02)
    for w in workers:
        w.join()
    assert sorted(answers) == [("picture", 200)] * 4 + [("strokes", 200)] * 4  # the heavy work was done
    assert len(latencies) >= 5 and max(latencies) < 1.0, (len(latencies), max(latencies, default=None))


def test_a_huge_canvas_is_drawn_small(client):
    from digitnet.web.app import MAX_CANVAS

    big = {"strokes": [[[2048.0, 400.0], [2048.0, 3700.0]]], "width": 4096, "height": 4096}
    small = {"strokes": [[[140.0, 27.3], [140.0, 253.0]]], "width": 280, "height": 280}
    a, b = client.post(P, json=big).json(), client.post(P, json=small).json()
    assert a["likeliest"] == b["likeliest"] == 1
    # the same picture up to the pen's anti-aliasing at two resolutions (a tenth of the ~313 counts of ink)
    assert np.abs(np.array(a["input"]) - np.array(b["input"])).sum() <= 32
    assert MAX_CANVAS <= 1024


# ---- `digitnet serve` as a process: Ctrl-C, the address, the warning ------------------------------------------


def _serve(args, port):
    """A `digitnet serve` process, once it answers /healthz (on the address given by --host)."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    digitnet_cmd = str(Path(sys.executable).with_name("digitnet"))
    server = subprocess.Popen([digitnet_cmd, "serve", *args, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    host = args[args.index("--host") + 1] if "--host" in args else "127.0.0.1"
    probe = "127.0.0.1" if host == "0.0.0.0" else f"[{host}]" if ":" in host else host
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://{probe}:{port}/healthz", timeout=2)
            return server
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise AssertionError(server.communicate()[1])
            time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("presses, gap, busy", [(2, 0.0, False), (2, 0.0, False), (2, 0.05, False), (2, 0.3, False),
                                               (1, 0.0, False), (3, 0.0, False), (2, 0.0, True), (2, 0.2, True)])
def test_ctrl_c_on_serve_is_exit_130_and_one_line(model_file, presses, gap, busy):
    """Once, twice, three times, quickly or not, while requests are being answered: exit 130, one line."""
    import signal
    import time

    port = _free_port()
    server = _serve([str(model_file)], port)
    stop = threading.Event()

    def requests():  # canvases that take a while to draw, one after the other
        body = {"strokes": [[[float(x), float((x * 7) % 1000)] for x in range(0, 1000, 2)]] * 20,
                "width": 1000, "height": 1000}
        while not stop.is_set():
            try:
                httpx.post(f"http://127.0.0.1:{port}{P}", json=body, timeout=10)
            except httpx.HTTPError:
                pass

    worker = threading.Thread(target=requests)
    if busy:
        worker.start()
        time.sleep(0.5)
    for _ in range(presses):
        server.send_signal(signal.SIGINT)
        time.sleep(gap)
    _, err = server.communicate(timeout=30)
    stop.set()
    if busy:
        worker.join()
    lines = err.splitlines()
    assert server.returncode == 130 and "Traceback" not in err, err
    assert len(lines) == 2 and lines[0].startswith("Serving") and lines[1] == "stopped (Ctrl-C)", err


@pytest.mark.slow
def test_serve_on_ipv6_loopback_prints_a_url_with_brackets(model_file):
    import signal

    port = _free_port()
    server = _serve([str(model_file), "--host", "::1"], port)
    server.send_signal(signal.SIGINT)
    _, err = server.communicate(timeout=30)
    assert f"http://[::1]:{port}/" in err and "warning" not in err, err


@pytest.mark.slow
def test_serve_on_every_interface_warns_in_one_line(model_file):
    import signal

    port = _free_port()
    server = _serve([str(model_file), "--host", "0.0.0.0", "--allow-host", "Digits.Example"], port)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"host": "evil.example"}, timeout=5).status_code == 400
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"host": "digits.example"}, timeout=5).status_code == 200
    own = socket.gethostname()
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"host": f"{own}:{port}"}, timeout=5).status_code == 200
    server.send_signal(signal.SIGINT)
    _, err = server.communicate(timeout=30)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: --host 0.0.0.0 serves every network this machine is on, and the API has no "
                        "authentication: anyone who can reach port " f"{port} can use it"], err


# ---- found by a newcomer, after issues 19, 21 and 22 ------------------------------------------------------------


def test_a_batch_of_1000_28x28_grids_fits_the_body_limit(client):
    from digitnet.web.app import BODY_LIMITS

    rng = np.random.default_rng(5)
    grids = [(rng.integers(0, 40, (28, 28)) + TEMPLATES[k % 10]).clip(0, 255).tolist() for k in range(MAX_BATCH)]
    body = json.dumps({"pixels": grids, "model": "mnist28"})
    assert len(body) > 1 << 20  # more than other bodies may be
    r = client.post("/api/predict-batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text[:200]
    answers = r.json()["predictions"]
    assert len(answers) == MAX_BATCH and sum(a["likeliest"] == k % 10 for k, a in enumerate(answers)) > 0.9 * MAX_BATCH
    # the limit holds the largest grids written out long: 1,000 of 28x28 at the bytes a value may take
    from digitnet.web.app import BYTES_PER_VALUE

    longest = json.dumps({"pixels": [[[-1.2345678901234567e-05] * 28] * 28] * MAX_BATCH})
    assert len(longest) <= MAX_BATCH * 28 * 28 * BYTES_PER_VALUE <= BODY_LIMITS["/api/predict-batch"]
    # over it: a 413 that states the limit and what to do
    r = client.post("/api/predict-batch", content=b" " * (BODY_LIMITS["/api/predict-batch"] + 1),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"] == (
        f"request body too large: the limit is {BODY_LIMITS['/api/predict-batch']:,} bytes; send at most 1,000 grids, "
        "the rest in further requests")


def test_pages_answer_head(client):
    for path in ("/", "/static/app.js"):
        r = client.head(path)
        assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 0, path


def test_without_training_the_train_page_is_an_html_404_and_docs_leave_it_out(client):
    r = client.get("/train")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in r.text.lower() and "--no-train" in r.text and "http" not in r.text  # plain, offline
    assert client.head("/train").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/predict" in paths and not [p for p in paths if "train" in p]


def _own_address() -> str | None:
    """An address of this machine other than loopback (the one a default route would use), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent; the kernel picks the source address
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.slow
def test_serve_on_every_interface_answers_the_url_it_prints_and_this_machines_addresses(model_file):
    import re
    import signal

    port = _free_port()
    server = _serve([str(model_file), "--host", "0.0.0.0"], port)
    try:
        own = _own_address()
        for host in ("127.0.0.1", "localhost", "0.0.0.0"):
            r = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"host": f"{host}:{port}"}, timeout=5)
            assert r.status_code == 200, (host, r.text)
        if own:  # reached through that address, as another machine would: its Host is the address it came in on
            assert httpx.get(f"http://{own}:{port}/healthz", timeout=5).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    serving = next(line for line in err.splitlines() if line.startswith("Serving"))
    url = re.search(r"http://\S+/", serving).group()
    assert url == f"http://127.0.0.1:{port}/", serving  # a URL that works in a browser on this machine
    assert "--allow-host" in err and socket.gethostname().lower() in err.lower()
