"""/api/predict and /api/predict-batch: a grid with no variation is no digit, and an out-of-range value is shown
with all its digits."""

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from digitnet.web.app import create_app  # noqa: E402

from webserver import running  # noqa: E402


@pytest.fixture(scope="module")
def client(small_model):
    with running(create_app({"digits": (small_model, "small")})) as base, httpx.Client(base_url=base, timeout=30) as c:
        yield c


@pytest.mark.parametrize("value", [0, 16])
def test_the_api_answers_a_uniform_grid_no_digit_with_a_reason(client, digits, value):
    blank = np.full((8, 8), value).tolist()
    a = client.post("/api/predict", json={"pixels": blank}).json()
    assert a["digit"] == -1 and a["rejected"] is True and a["reason"] == f"no digit: every pixel is {value}, a blank grid"
    batch = client.post("/api/predict-batch", json={"pixels": [blank, digits.X[0].reshape(8, 8).tolist()]}).json()
    first, second = batch["predictions"]
    assert first["digit"] == -1 and first["rejected"] is True and "every pixel" in first["reason"]
    assert second["digit"] == 0 and "reason" not in second


def test_a_value_just_over_the_range_is_shown_with_its_digits(client, digits):
    x = digits.X[0].reshape(8, 8).tolist()
    x[3][3] = 16.000001
    for path, body, where in (("/api/predict", {"pixels": x}, ""), ("/api/predict-batch", {"pixels": [x]}, "image 0: ")):
        r = client.post(path, json=body)
        assert r.status_code == 422
        assert r.json()["detail"] == f"{where}pixels must lie in 0..16; got values from 0 to 16.000001"


GUIDE = __import__("pathlib").Path(__file__).parents[1] / "docs" / "guide"


def test_the_upload_limit_is_on_the_body_as_the_docs_say(client):
    from digitnet.web.app import MAX_UPLOAD

    r = client.post("/api/predict-image", files={"file": ("big.png", b"\0" * MAX_UPLOAD, "image/png")})
    assert r.status_code == 413  # a picture of exactly the limit: the form's few hundred bytes put it over
    for page in ("serving-safely.md", "drawing-page.md"):
        text = " ".join((GUIDE / page).read_text().split())
        assert "plus a few hundred bytes of form" in text and "exactly 16 MiB" in text, page


def test_json_nested_too_deeply_is_a_400_listed_in_the_docs(client):
    r = client.post("/api/predict", content='{"pixels": ' + "[" * 100_000 + "]" * 100_000 + "}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json() == {"detail": "There was an error parsing the body"}
    rows = [line for line in (GUIDE / "serving-safely.md").read_text().splitlines() if "nested too deeply" in line]
    assert len(rows) == 1 and rows[0].rstrip().endswith("| 400 |")
    assert "nested too deeply" in (GUIDE / "drawing-page.md").read_text()
