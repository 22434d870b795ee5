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
    for strokes in ([], [[[100, 100]]], [[[100, 100], [103, 101]]]):
        answer = client.post("/api/predict", json={"strokes": strokes, "width": 280, "height": 280}).json()
        assert answer["digit"] == -1 and answer["rejected"] is True and answer["probabilities"] is None
        assert "no digit" in answer["reason"]


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
    assert r.status_code == 422 and "not a PNG or JPEG image" in r.json()["detail"]
    whole = png(paper(digits.X[0]))
    r = _upload(client, whole[: len(whole) // 2])  # truncated
    assert r.status_code == 422 and "image" in r.json()["detail"]
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
    assert isinstance(r.json(), dict)


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
