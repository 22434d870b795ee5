"""The drawing page and its JSON API (FastAPI): a thin layer over preprocess, Model and explain.

    create_app({"default": model}) -> FastAPI      # `digitnet serve` runs it with uvicorn

Every bad request is a 4xx with {"detail": "what is wrong"}: 413 for bodies over MAX_BODY bytes and
pictures over the pixel limit, 422 for the rest. Models are only read while serving, so requests
run concurrently in the server's thread pool.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Literal

import numpy as np
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from ..answer import answer as answer_for, answers
from ..errors import DataError, TooLargeError
from ..explain import Explainer, Explanation
from ..model import Model
from ..preprocess import MAX_POINTS, MAX_STROKES, ink_from_image, ink_from_strokes, to_input

MAX_BODY = 1 << 20  # bytes of a request body
MAX_BATCH = 1000  # pixel grids in one /api/predict-batch
UNITS_SHOWN = 8  # strongest hidden units sent with explain=true
DIGITS = 4  # decimals of the floats sent back

STATIC = resources.files("digitnet.web") / "static"


Rule = Literal["likeliest", "blog"]  # answer.RULES


class PredictRequest(BaseModel):
    """Either pixels in the model's input shape and range, or strokes on a width x height canvas."""

    model_config = ConfigDict(extra="forbid")
    pixels: list[list[float]] | None = Field(None, max_length=4096, description="rows of the model's input image")
    strokes: list[Annotated[list[Annotated[list[float], Field(min_length=2, max_length=2)]], Field(max_length=MAX_POINTS)]] \
        | None = Field(None, max_length=MAX_STROKES, description="polylines of [x, y] points")
    width: float | None = Field(None, gt=0, le=4096)
    height: float | None = Field(None, gt=0, le=4096)
    model: str | None = Field(None, description="a model id from /api/models; default: the first")
    explain: bool = Field(False, description="add the hidden layer and the strongest units' receptive fields")
    rule: Rule = Field("likeliest", description="likeliest: the likeliest digit and those nearly as probable; "
                                                 "blog: the post's rule (a digit only when its probability rounds to 1)")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pixels: list[list[list[float]]] = Field(max_length=MAX_BATCH)
    model: str | None = None
    rule: Rule = "likeliest"


class Served:
    """A model being served: the model, its explainer and what /api/models says of it."""

    def __init__(self, name: str, model: Model, source: str) -> None:
        self.name, self.model, self.explainer = name, model, Explainer(model)
        inputs, metrics = model.inputs, model.metrics
        self.info = {
            "id": name,
            "file": source,
            "recipe": model.config.recipe,
            "n_inputs": model.n_inputs,
            "n_hidden": model.params["W1"].shape[1],
            "n_classes": model.n_classes,
            "image_shape": list(inputs.image_shape) if inputs.image_shape else None,
            "value_range": list(inputs.value_range) if inputs.value_range else None,
            "test_accuracy": metrics.get("accuracy"),
            "n_test": metrics.get("n_test"),
            "data": model.data_source.get("kind"),
        }


def create_app(models: dict[str, tuple[Model, str]]) -> FastAPI:
    """The app serving ``models`` (id -> (model, where it came from)); the first is the default."""
    if not models:
        raise ValueError("create_app needs at least one model")
    served = {name: Served(name, model, source) for name, (model, source) in models.items()}
    default = next(iter(served))
    app = FastAPI(title="digitnet", description="Handwritten digits: draw one, see what the network sees and why.",
                  version=__version__)
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    def pick(name: str | None) -> Served:
        if name is None:
            return served[default]
        if name not in served:
            raise DataError(f"unknown model {name!r}; the models are {', '.join(served)}")
        return served[name]

    @app.exception_handler(TooLargeError)
    async def too_large(request: Request, e: TooLargeError):
        return JSONResponse({"detail": str(e)}, status_code=413)

    @app.exception_handler(DataError)
    async def bad_data(request: Request, e: DataError):
        return JSONResponse({"detail": str(e)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError):
        return JSONResponse({"detail": _first_error(e)}, status_code=422)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "models": len(served)}

    @app.get("/api/models")
    def list_models():
        """The models served, the first being the default."""
        return {"default": default, "models": [s.info for s in served.values()]}

    # async endpoints: the work is a fraction of a millisecond, less than a hop to a worker thread costs;
    # answers are JSONResponse so that FastAPI does not walk every float of them again
    @app.post("/api/predict")
    async def predict(body: PredictRequest):
        """One digit from pixels or strokes: the answer, the probabilities, the input the network received and
        the saliency (gradient x input) over it; with explain=true also the hidden layer."""
        s = pick(body.model)
        if (body.pixels is None) == (body.strokes is None):
            raise DataError("give either pixels (the model's input image) or strokes with width and height")
        if body.pixels is not None:
            x = _pixels(body.pixels, s.model)
        else:
            if body.width is None or body.height is None:
                raise DataError("strokes need the canvas's width and height")
            x = to_input(ink_from_strokes(body.strokes, body.width, body.height), s.model.inputs)
        return JSONResponse(_answer(s, x, body.explain, body.rule))

    @app.post("/api/predict-image")
    async def predict_image(file: Annotated[UploadFile, File(description="a PNG or JPEG picture of one digit")],
                            model: Annotated[str | None, Query()] = None,
                            explain: Annotated[bool, Query()] = False,
                            rule: Annotated[Rule, Query()] = "likeliest"):
        """The same answer for an uploaded picture, preprocessed as the training data were made."""
        s = pick(model)
        data = await file.read()
        if not data:
            raise DataError("the uploaded file is empty")
        return JSONResponse(_answer(s, to_input(ink_from_image(data), s.model.inputs), explain, rule))

    @app.post("/api/predict-batch")
    async def predict_batch(body: BatchRequest):
        """Up to MAX_BATCH pixel grids in one call: digits and probabilities (no explanations)."""
        s = pick(body.model)
        if not body.pixels:
            raise DataError("pixels holds no images")
        X = np.stack([_pixels(grid, s.model, index=i) for i, grid in enumerate(body.pixels)])
        P = s.model.predict_proba(X).astype(np.float64)
        digits, alternatives = answers(P, body.rule)
        return JSONResponse({"model": s.name, "predictions": [
            {"digit": int(d), "likeliest": int(p.argmax()), "alternatives": list(a), "probabilities": _round(p),
             "rejected": bool(d == -1)}
            for d, a, p in zip(digits, alternatives, P)]})

    return app


def _pixels(grid: list[list[float]], model: Model, index: int | None = None) -> np.ndarray:
    where = "" if index is None else f"image {index}: "
    shape = model.inputs.image_shape or (1, model.n_inputs)
    rows = len(grid)
    if rows != shape[0] or any(len(row) != shape[1] for row in grid):
        got = f"{rows} rows" + (f" of {sorted({len(r) for r in grid})} values" if rows else "")
        raise DataError(f"{where}pixels must be {shape[0]} rows of {shape[1]} values (the model's input); got {got}")
    x = np.asarray(grid, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        raise DataError(f"{where}pixels must be finite numbers")
    low, high = model.inputs.bounds()
    if x.min() < low or x.max() > high:
        raise DataError(f"{where}pixels must lie in {low:g}..{high:g}; got values from {x.min():g} to {x.max():g}")
    return x


def _answer(s: Served, x: np.ndarray | None, explain: bool, rule: str = "likeliest") -> dict:
    """The JSON answer: ``digit`` (-1: no digit), ``likeliest``, ``alternatives`` (digits nearly as probable),
    ``probabilities``, ``rejected``, ``reason`` (why no digit, or that it is unsure), ``input`` and ``saliency``."""
    shape = s.model.inputs.image_shape or (1, s.model.n_inputs)
    if x is None:  # nothing that could be a digit: the model is not asked
        return {"model": s.name, "digit": -1, "likeliest": None, "alternatives": [], "probabilities": None,
                "rejected": True, "reason": "no digit: the drawing is empty or too small",
                "input": np.zeros(shape).tolist(), "saliency": None}
    e: Explanation = s.explainer(x)
    p = s.model.predict_proba(x[None])[0].astype(np.float64)  # the model's own (calibrated, where it is) probabilities
    a = answer_for(p, rule)
    answer = {
        "model": s.name,
        "digit": a.digit,
        "likeliest": a.likeliest,
        "alternatives": list(a.alternatives),
        "probabilities": _round(p),
        "rejected": a.digit == -1,
        "reason": a.reason,
        "input": _round(e.input.reshape(shape)),
        "saliency": _round(e.saliency.reshape(shape)),
    }
    if explain:
        W1 = s.model.params["W1"]
        answer["hidden"] = _round(e.hidden)
        answer["units"] = [{"unit": int(j), "activation": round(float(e.hidden[j]), DIGITS),
                            "contribution": round(float(e.contributions[j]), DIGITS),
                            "weights": _round(W1[:, j].astype(np.float64).reshape(shape))}
                           for j in e.strongest_units(UNITS_SHOWN)]
    return answer


def _round(a: np.ndarray) -> list:
    return np.round(np.asarray(a, dtype=np.float64), DIGITS).tolist()


def _first_error(e: RequestValidationError) -> str:
    errors = e.errors()
    if not errors:
        return "invalid request"
    error = errors[0]
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = error.get("msg", "invalid")
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


class BodyLimit:
    """ASGI middleware: request bodies over ``limit`` bytes get 413 before the app reads them. A declared
    Content-Length is checked first (the server reads no more than it declares); a body without one is
    read up to the limit, then replayed to the app."""

    def __init__(self, app, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                return await self._reject(scope, send)
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._reject(scope, send)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope, send) -> None:
        response = JSONResponse({"detail": f"request body too large: the limit is {self.limit:,} bytes"}, status_code=413)
        await response(scope, None, send)
