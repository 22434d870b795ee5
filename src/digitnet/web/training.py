"""The Train view's routes: a thin layer mapping :mod:`digitnet.jobs` to HTTP and a Server-Sent Events stream.

    GET  /train                                the page (a plain HTML 404 when the server was started with --no-train)
    GET  /api/train                            what the page may ask: data, recipes' defaults, settings, limits
    POST /api/train                            start a run: 202; 409 while one trains; 422 for a bad setting
    GET  /api/train/events                     the latest run's events so far, then live (text/event-stream)
    POST /api/train/runs/{run}/pause|step|resume|stop
    POST /api/train/runs/{run}/use             serve its model on the drawing page (listed in /api/models)
    GET  /api/train/runs/{run}/model           its .safetensors file

The stream: every event has an ``id:``; a client that reconnects with ``Last-Event-ID`` (EventSource does) gets
the events after it, so nothing is missed or repeated. Each response lasts STREAM_SECONDS, then the browser
reconnects (``retry:``), so a server shutting down never waits on an open stream for long. With --no-train,
``GET /api/train`` says so, every other route answers 403, and none is listed in /docs.

Settings are typed strictly (no ``true`` for an integer, no ``1e50`` either) and checked by Config; the recipe
"auto" (the default) is the one ``digitnet train`` chooses for the data, and GET /api/train says which it is.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import typing
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Body, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from pydantic import ConfigDict, Field, create_model

from ..config import AUTO_RECIPE, RECIPES, SEED_LIMIT, Config, recipe_for
from ..errors import ConfigError
from ..jobs import SETTINGS, Busy, NotRunning, Runner

STREAM_SECONDS = 30.0  # one response of the event stream; then the browser reconnects where it left off
KEEPALIVE_SECONDS = 10.0  # a comment line this often keeps proxies and idle timers from closing the stream
RETRY_MS = 500  # how soon EventSource reconnects
MAX_SERVED_RUNS = 8  # trained models served at once beside the server's own; the oldest goes first
OFF = "training is turned off on this server (digitnet serve --no-train)"

STATIC = resources.files("digitnet.web") / "static"
_HINTS = typing.get_type_hints(Config)
# the request body: the settings of SETTINGS with Config's own types (Config checks the values), the data, the recipe
TrainRequest = create_model(
    "TrainRequest",
    __config__=ConfigDict(extra="forbid"),
    data=(str, Field("digits", max_length=500, description="a data set of GET /api/train")),
    recipe=(str, Field(AUTO_RECIPE, max_length=40, description=f"{AUTO_RECIPE} (chosen from the data, as digitnet "
                                                               f"train does) or one of {', '.join(RECIPES)}")),
    paused=(bool, Field(False, strict=True, description="pause before the first step (then step or resume)")),
    **{name: (_HINTS[name] | None, Field(None, strict=True, description=text)) for name, (_, text) in SETTINGS.items()},
)
OFF_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>digitnet: no Train view</title></head>
<body><h1>No Train view here</h1><p>{OFF[0].upper() + OFF[1:]}.</p><p><a href="/">Draw a digit</a></p></body></html>
"""


def training_router(runner: Runner | None, served: dict, make_served: typing.Callable) -> APIRouter:
    """The routes over ``runner`` (None: training is off). A model put to use joins ``served`` (the drawing
    page's id -> served model), made by ``make_served(id, model, source)``."""
    router = APIRouter()
    used: list[str] = []  # ids of trained models in ``served``, oldest first
    colormap = _colormap() if runner is not None else None  # now: importing matplotlib would stall a request

    def need() -> Runner:
        if runner is None:
            raise HTTPException(403, OFF)
        return runner

    def run_of(run: str):
        job = need().runs.get(run)
        if job is None:
            raise HTTPException(404, f"no run {run!r} on this server (it may have been forgotten: the latest "
                                     f"{len(runner.runs)} are kept)")
        return job

    @router.api_route("/train", methods=["GET", "HEAD"], include_in_schema=False)
    def page():
        if runner is None:  # a page for people: plain HTML, nothing fetched
            return HTMLResponse(OFF_PAGE, status_code=404)
        return FileResponse(str(STATIC / "train.html"), media_type="text/html")

    @router.get("/api/train")
    async def options():
        """What the Train view may ask for: the data sets (read when the server started), the recipes with their
        defaults, the settings with their bounds, the server's limits, and the latest run; ``{"enabled": false}``
        with the reason when the server runs with --no-train."""
        if runner is None:
            return {"enabled": False, "reason": OFF}
        limits = runner.limits
        bounds = {"n_hidden": (1, limits.n_hidden), "epochs": (1, limits.epochs), "dropout": (0, 0.99),
                  "lr": (0, None), "batch_size": (1, limits.batch_size), "seed": (0, SEED_LIMIT - 1)}
        return {
            "enabled": True,
            # "recipe": what auto chooses for these data
            "data": [{"name": name, "n_samples": len(d.y), "inputs": d.inputs.describe(), "n_classes": d.n_classes,
                      "recipe": recipe_for(d.inputs.image_shape, len(d.y))} for name, d in runner.datasets.items()],
            "auto": AUTO_RECIPE,
            "recipes": {name: {field: getattr(c, field) for field in SETTINGS} for name, c in RECIPES.items()},
            "settings": [{"name": name, "label": label, "explanation": text, "integer": _HINTS[name] is int,
                          "min": bounds[name][0], "max": bounds[name][1]} for name, (label, text) in SETTINGS.items()],
            "limits": dataclasses.asdict(limits),
            "colormap": colormap,
            "run": runner.job.summary() if runner.job else None,
        }

    @router.post("/api/train", status_code=202)
    async def start(request: Request, body: Annotated[TrainRequest, Body()]):
        """Start a run on ``data`` with ``recipe`` (settings left out take the recipe's default; ``paused: true``
        waits before the first step): 202 with the run's summary; 409 naming who trains what while another run
        trains (one at a time); 422 naming a setting over the server's limits or one Config refuses; 403 with
        --no-train."""
        r = need()
        settings = body.model_dump(exclude={"data", "paused"})
        who = request.client.host if request.client else ""
        try:
            job = r.start(body.data, settings, started_by=who, paused=body.paused)
        except Busy as e:
            raise HTTPException(409, str(e)) from None
        except (ConfigError, KeyError) as e:
            raise HTTPException(422, e.args[0] if isinstance(e, KeyError) else str(e)) from None
        return job.summary()

    @router.post("/api/train/runs/{run}/{action}")
    async def control(run: str, action: str):
        """``action``: pause, step (one epoch, then pause again), resume or stop a run (stop keeps the weights
        learnt so far): 409 once it has ended, step and resume only while paused; use: serve its finished model on
        the drawing page (it joins /api/models; 409 while it trains). 404 for an unknown run or action, 403 with
        --no-train."""
        job = run_of(run)
        if action not in ("pause", "step", "resume", "stop", "use"):
            raise HTTPException(404, f"no action {action!r}: pause, step, resume, stop or use")
        if action == "use":
            return use(job)
        try:
            return getattr(job, action)()
        except NotRunning as e:
            raise HTTPException(409, str(e)) from None

    def use(job) -> dict:
        result = job.result
        if result is None or result.model is None:
            why = "it is still training" if result is None else f"it has no model ({result.why})"
            raise HTTPException(409, f"run {job.id} cannot be used: {why}")
        if result.model_id not in served:
            served[result.model_id] = make_served(result.model_id, result.model, str(runner.cache.path(result.file)))
            used.append(result.model_id)
            while len(used) > MAX_SERVED_RUNS:
                served.pop(used.pop(0), None)
        return {"model": result.model_id}

    @router.get("/api/train/runs/{run}/model")
    def download(run: str):
        """The run's ``.safetensors`` model file: the bytes `digitnet train` writes with the same data, settings
        and seed. 409 while it trains, 404 when it has none (or the cache no longer holds it)."""
        job = run_of(run)
        if job.result is None or job.result.file is None:
            raise HTTPException(409 if job.result is None else 404, f"run {run} has no model file"
                                + (" yet: it is training" if job.result is None else f": {job.result.why}"))
        try:
            data = runner.cache.read(job.result.file)
        except FileNotFoundError:
            raise HTTPException(404, f"the model of run {run} is no longer in the cache") from None
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{job.result.file}"'})

    @router.get("/api/train/events")
    async def events(request: Request, last_event_id: Annotated[str | None, Header(max_length=100)] = None,
                     after: Annotated[str | None, Query(max_length=100, description="an event id, as Last-Event-ID")] = None):
        """Server-Sent Events (``text/event-stream``): the latest run's events so far, then live: start, ready,
        progress, epoch, paused, resumed, end. ``Last-Event-ID`` (or ``?after=ID``) resumes after that event, with
        no gap and no duplicate. 403 with --no-train."""
        r = need()
        return StreamingResponse(_stream(r, last_event_id or after), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return router


async def _stream(runner: Runner, cursor: str | None):
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def wake_up() -> None:  # called from the run's watching thread
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the loop has closed: the server is gone
            pass

    unsubscribe = runner.subscribe(wake_up)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        ends = loop.time() + STREAM_SECONDS
        while True:
            wake.clear()
            for event in runner.events_after(cursor):
                yield f"id: {event.id}\nevent: {event.kind}\ndata: {event.text}\n\n"
                cursor = event.id
            left = ends - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(wake.wait(), min(KEEPALIVE_SECONDS, left))
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        unsubscribe()


def _colormap() -> str:
    """The report's weight colour map (plots.WEIGHTS) as 256 RGB triples, base64: tiles index it."""
    import numpy as np
    from matplotlib import colormaps

    from ..plots import WEIGHTS
    from ..watch import COLOURS

    rgb = np.round(colormaps[WEIGHTS].resampled(COLOURS)(np.arange(COLOURS))[:, :3] * 255).astype(np.uint8)
    return base64.b64encode(rgb.tobytes()).decode()

