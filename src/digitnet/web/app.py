"""The drawing page and its JSON API (FastAPI): a thin layer over preprocess, Model and explain.

    create_app({"default": (model, "model.safetensors")}) -> FastAPI      # `digitnet serve` runs it with uvicorn

Every bad request is a 4xx with {"detail": "what is wrong"}: 413 for bodies over MAX_BODY bytes
(BODY_LIMITS for pictures and batches) and pictures over the pixel limit, 415 for pictures in formats not read, 422
for the rest; 400 for a Host header that is not one of the server's own names (DNS rebinding). A model
may be a DigitNetClassifier (or a Model with class labels): answers are its labels. Models are only read
while serving; decoding pictures and drawing strokes run in the thread pool, off the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import PurePath
from typing import Annotated, Literal

import numpy as np
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from ..answer import BLANK_PICTURE, EMPTY_DRAWING, answer as answer_for, answers, blank_reason, no_variation
from ..errors import DataError, TooLargeError, UnsupportedPictureError, exact
from ..explain import Explainer, Explanation
from ..model import Model
from ..preprocess import MAX_POINTS, MAX_STROKES, ink_from_image, ink_from_strokes, to_input
from .hosts import LOOPBACK_HOSTS, HostCheck, is_public, trusted_hosts  # noqa: F401  (the CLI's imports)
from .training import training_router

MAX_BODY = 1 << 20  # bytes of a request body
MAX_UPLOAD = 16 << 20  # bytes of a picture upload: a phone's photo is 2-12 MB (the page shrinks it first)
MAX_BATCH = 1000  # pixel grids in one /api/predict-batch
LARGEST_GRID = 28 * 28  # pixels of the largest image input (MNIST's); a plain-feature model's grid is 1 row
BYTES_PER_VALUE = 26  # a value as JSON may take: "-1.2345678901234568e-05, " is 25 with its separator (most are far
# fewer), and each row's brackets add a little
# paths allowed more than MAX_BODY: pictures, and MAX_BATCH grids of the largest input (20.4 MB at most)
BODY_LIMITS = {"/api/predict-image": MAX_UPLOAD, "/api/predict-batch": MAX_BATCH * LARGEST_GRID * BYTES_PER_VALUE}
# what a client over a path's limit can do instead (the 413 says it after the limit)
BODY_ADVICE = {"/api/predict-image": "send a smaller picture (the page shrinks a photo before sending it)",
               "/api/predict-batch": f"send at most {MAX_BATCH:,} grids, the rest in further requests"}
MAX_DRAIN = 64 << 20  # an oversized body is read and dropped up to this many bytes, so that its sender reads the 413
MAX_CANVAS = 1024  # strokes on a larger canvas are drawn scaled down to this size (the ink is normalised anyway)
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
    width: float | None = Field(None, gt=0, le=4096, allow_inf_nan=False)
    height: float | None = Field(None, gt=0, le=4096, allow_inf_nan=False)
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
    """A model being served: the model, its class labels, its explainer and what /api/models says of it.

    ``model``: a Model, or a fitted DigitNetClassifier (its network and ``classes_``); a Model with ``classes``
    (an estimator's network) answers those. ``source``: where it came from; only its file name is shown.
    """

    def __init__(self, name: str, model, source: str) -> None:
        estimator_classes = getattr(model, "classes_", None)
        model = getattr(model, "model_", model)
        classes = estimator_classes if estimator_classes is not None else getattr(model, "classes", None)
        self.name, self.model, self.explainer = name, model, Explainer(model)
        self.classes = list(range(model.n_classes)) if classes is None else [
            c.item() if isinstance(c, np.generic) else c for c in classes]
        inputs, metrics = model.inputs, model.metrics
        self.info = {
            "id": name,
            "file": PurePath(source).name,  # never a path of this machine
            "classes": self.classes,
            "recipe": model.config.recipe,
            "n_inputs": model.n_inputs,
            "n_hidden": model.params["W1"].shape[1],
            "n_classes": model.n_classes,
            "image_shape": list(inputs.image_shape) if inputs.image_shape else None,
            "value_range": list(inputs.value_range) if inputs.value_range else None,
            "test_accuracy": metrics.get("accuracy"),
            "n_test": metrics.get("n_test"),
            "temperature": model.temperature,  # the probabilities' calibration (1: none)
            "data": model.data_source.get("kind"),
        }


def create_app(models: dict[str, tuple[Model, str]], runner=None, *, hosts: Sequence[str] = LOOPBACK_HOSTS,
               local_addresses: bool = False) -> FastAPI:
    """The app serving ``models`` (id -> (model or DigitNetClassifier, where it came from)); the first is the
    default. ``runner`` (a digitnet.jobs.Runner) trains on the Train view; None: training is off.
    ``hosts``: the Host header values answered (:func:`.hosts.trusted_hosts`); others get a 400.
    ``local_addresses``: a server on every interface answers the address a request came in on as well."""
    if not models:
        raise ValueError("create_app needs at least one model")
    served = {name: Served(name, model, source) for name, (model, source) in models.items()}
    default = next(iter(served))
    # FastAPIOffline: /docs loads Swagger UI from this server, not from a CDN (no online validator either);
    # no /redoc, whose page fetches its logo from its makers' site
    app = FastAPIOffline(title="digitnet", description="Handwritten digits: draw one, see what the network sees and why.",
                         version=__version__, redoc_url=None, swagger_ui_parameters={"validatorUrl": None})
    app.add_middleware(BodyLimit, limit=MAX_BODY, limits=BODY_LIMITS, advice=BODY_ADVICE)
    app.add_middleware(HostCheck, hosts=list(hosts), local_addresses=local_addresses)  # checked first

    def pick(name: str | None) -> Served:
        if name is None:
            return served[default]
        if name not in served:
            raise DataError(f"unknown model {name!r}; the models are {', '.join(served)}")
        return served[name]

    @app.exception_handler(TooLargeError)
    async def too_large(request: Request, e: TooLargeError):
        return JSONResponse({"detail": str(e)}, status_code=413)

    @app.exception_handler(UnsupportedPictureError)
    async def unsupported(request: Request, e: UnsupportedPictureError):
        return JSONResponse({"detail": str(e)}, status_code=415)

    @app.exception_handler(DataError)
    async def bad_data(request: Request, e: DataError):
        return JSONResponse({"detail": str(e)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError):
        return JSONResponse({"detail": _first_error(e)}, status_code=422)

    # async: the page, the health check and the model list never wait for a thread of the pool
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page():
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/healthz")
    async def healthz():
        """``{"status": "ok", "models": N}``: the server answers and serves N models (it answers while a big
        picture is decoded or a run trains)."""
        return {"status": "ok", "models": len(served)}

    @app.get("/api/models")
    async def list_models():  # on the event loop, as the Train view's additions to ``served``
        """The models served, the first being the default (``default``: its id): for each its id, file name (never a
        path), recipe, sizes, input shape and range, test accuracy, softmax temperature and ``classes``, the labels
        of the probabilities' columns (a Train-view run put to use joins them)."""
        return {"default": default, "models": [s.info for s in served.values()]}

    # answers are JSONResponse so that FastAPI does not walk every float of them again
    @app.post("/api/predict")
    async def predict(body: PredictRequest):
        """One digit from ``pixels`` (the model's input image, in its range) or ``strokes`` on a ``width`` x
        ``height`` canvas (drawn again with a pen that scales with the drawing): ``digit`` (-1 with ``rejected``:
        no digit), ``likeliest``, ``alternatives`` (digits at least a quarter as probable), ``probabilities``,
        ``reason``, the ``input`` the network received and the ``saliency`` (gradient x input) over it;
        ``explain: true`` adds the hidden layer and the strongest units; ``rule: "blog"`` answers by the post's
        rule. 413 over 1 MiB; 422 naming what is wrong (both or neither of pixels and strokes, values out of
        range, more than 64 strokes or 10,000 points in one, an unknown model)."""
        s = pick(body.model)
        if (body.pixels is None) == (body.strokes is None):
            raise DataError("give either pixels (the model's input image) or strokes with width and height")
        if body.pixels is not None:  # a fraction of a millisecond: less than a hop to a worker thread costs
            x = _pixels(body.pixels, s.model)
        else:  # drawing a canvas takes milliseconds to a second: off the event loop
            if body.width is None or body.height is None:
                raise DataError("strokes need the canvas's width and height")
            x = await run_in_threadpool(_strokes_input, body.strokes, body.width, body.height, s.model)
        return JSONResponse(_answer(s, x, body.explain, body.rule))

    @app.post("/api/predict-image")
    def predict_image(file: Annotated[UploadFile, File(description="a PNG, JPEG or TIFF picture of one digit")],
                      model: Annotated[str | None, Query()] = None,
                      explain: Annotated[bool, Query()] = False,
                      rule: Annotated[Rule, Query()] = "likeliest"):
        """The same answer for an uploaded PNG, JPEG or TIFF picture of one digit (multipart field ``file``),
        preprocessed as the training data were made; ``model``, ``explain`` and ``rule`` as query parameters. 413
        over 16 MiB or 16.7 million pixels (a JPEG: 67 million), 415 for other formats, 422 for an empty or corrupt file. (A plain def:
        FastAPI decodes it in its thread pool, so a big picture never stalls the other requests.)"""
        s = pick(model)
        data = file.file.read()
        if not data:
            raise DataError("the uploaded file is empty")
        return JSONResponse(_answer(s, to_input(ink_from_image(data), s.model.inputs), explain, rule, BLANK_PICTURE))

    @app.post("/api/predict-batch")
    def predict_batch(body: BatchRequest):
        """Up to 1,000 pixel grids in the model's input shape in one call (a body of up to 20.4 MB: 1,000 28x28
        grids however their numbers are written): for each ``digit``, ``likeliest``, ``alternatives``,
        ``probabilities`` and ``rejected`` (no input, saliency or explanation), and ``reason`` for a grid with no
        variation (every pixel the same: no digit, -1); ``rule`` as in /api/predict."""
        s = pick(body.model)
        if not body.pixels:
            raise DataError("pixels holds no images")
        X = np.stack([_pixels(grid, s.model, index=i) for i, grid in enumerate(body.pixels)])
        P = _finite(s.model.predict_proba(X).astype(np.float64))
        blank = no_variation(X)
        digits, alternatives = answers(P, body.rule, X)
        return JSONResponse({"model": s.name, "predictions": [
            {"digit": s.classes[d] if d != -1 else -1, "likeliest": s.classes[int(p.argmax())],
             "alternatives": [s.classes[k] for k in a], "probabilities": _round(p), "rejected": bool(d == -1),
             **({"reason": blank_reason(x)} if b else {})}
            for d, a, p, x, b in zip(digits.tolist(), alternatives, P, X, blank.tolist())]})

    app.include_router(training_router(runner, served, Served), include_in_schema=runner is not None)
    return app


def _strokes_input(strokes, width: float, height: float, model: Model) -> np.ndarray | None:
    """The network's input for strokes on a width x height canvas, drawn at most MAX_CANVAS pixels wide or high
    (the ink is size-normalised anyway; a 4096-pixel canvas would take a second and a quarter of a gigabyte)."""
    k = min(1.0, MAX_CANVAS / max(width, height))
    if k < 1:
        strokes = [[[x * k, y * k] for x, y in stroke] for stroke in strokes]
        width, height = max(1.0, width * k), max(1.0, height * k)
    return to_input(ink_from_strokes(strokes, width, height), model.inputs)


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
    low, high = model.input_bounds  # the valid range, and what the network's dtype can take
    if x.min() < low or x.max() > high:
        if not np.all(model.inputs.accepts(x)):
            low, high = model.inputs.value_range
            raise DataError(f"{where}pixels must lie in {low:g}..{high:g}; got values from {exact(x.min())} to {exact(x.max())}")
        raise DataError(f"{where}{model.input_error(x)}")
    return x


def _answer(s: Served, x: np.ndarray | None, explain: bool, rule: str = "likeliest", empty: str = EMPTY_DRAWING) -> dict:
    """The JSON answer: ``digit`` (-1: no digit), ``likeliest``, ``alternatives`` (digits nearly as probable),
    ``probabilities``, ``rejected``, ``reason`` (why no digit, or that it is unsure; ``empty`` when there is no
    input x: nothing drawn, or a blank picture), ``input`` and ``saliency``."""
    shape = s.model.inputs.image_shape or (1, s.model.n_inputs)
    if x is None:  # nothing that could be a digit: the model is not asked
        return {"model": s.name, "digit": -1, "likeliest": None, "alternatives": [], "probabilities": None,
                "rejected": True, "reason": empty,
                "input": np.zeros(shape).tolist(), "saliency": None}
    e: Explanation = s.explainer(x)
    p = _finite(s.model.predict_proba(x[None])[0].astype(np.float64))  # the model's own (calibrated) probabilities
    a = answer_for(p, rule, x)
    answer = {
        "model": s.name,
        "digit": s.classes[a.digit] if a.digit != -1 else -1,  # -1: no digit ("rejected" says so for any labels)
        "likeliest": s.classes[a.likeliest],
        "alternatives": [s.classes[k] for k in a.alternatives],
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


def _finite(P: np.ndarray) -> np.ndarray:
    """P, checked: JSON has no NaN, and an answer that is not a number is no answer."""
    if not np.all(np.isfinite(P)):
        raise DataError("the model's probabilities are not finite numbers for this input: the input is out of "
                        "what the model can compute")
    return P


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
    """ASGI middleware: request bodies over their path's limit (``limits``, else ``limit`` bytes) get a 413
    before the app reads them. A declared Content-Length is checked first (the server reads no more than it
    declares); a body without one is read up to the limit, then replayed to the app.

    The 413 goes out only after the rest of the body was read and dropped (up to ``drain`` bytes): a client
    that sends its whole request before it reads (most scripts; any that says Connection: close) would
    otherwise find the connection reset under its upload and never see the answer. A client that waits for
    "100 Continue" has sent nothing yet: it gets the 413 at once."""

    def __init__(self, app, limit: int = MAX_BODY, limits: dict[str, int] | None = None, drain: int = MAX_DRAIN,
                 advice: dict[str, str] | None = None) -> None:
        self.app, self.limit, self.limits, self.drain = app, limit, dict(limits or {}), drain
        self.advice = dict(advice or {})  # path -> what to do instead, said in its 413

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"], self.limit)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                return await self._reject(scope, receive, send, limit, headers, read=0)
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await self._reject(scope, receive, send, limit, headers, read=size, more=message.get("more_body"))
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

    async def _reject(self, scope, receive, send, limit: int, headers: dict, *, read: int, more: bool = True) -> None:
        whole = not more or headers.get(b"expect", b"").lower() == b"100-continue"
        while not whole and read <= self.drain:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            whole = not message.get("more_body")
        advice = self.advice.get(scope["path"], "send fewer values")
        response = JSONResponse({"detail": f"request body too large: the limit is {limit:,} bytes; {advice}"},
                                status_code=413,
                                headers=None if whole else {"connection": "close"})
        await response(scope, None, send)
