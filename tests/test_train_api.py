"""The Train view's API against a real uvicorn server, with real worker processes: a run streamed to its end,
pause, step, resume and stop, one run at a time, bad settings, a lost connection resumed, --no-train, and the
downloaded model byte for byte the one `digitnet train` writes."""

import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from typer.testing import CliRunner  # noqa: E402

import digitnet  # noqa: E402
from digitnet.cli import app as cli_app  # noqa: E402
from digitnet.config import RECIPES  # noqa: E402
from digitnet.jobs import SETTINGS, Limits, Runner  # noqa: E402
from digitnet.run_cache import RunCache  # noqa: E402
from digitnet.web.app import create_app  # noqa: E402

from webserver import running  # noqa: E402

DIGITNET = shutil.which("digitnet", path=str(Path(sys.executable).parent)) or "digitnet"
END = 60  # seconds a run of these tests may take, worker start-up included, on a busy machine


@pytest.fixture(scope="module")
def runner(digits, small_model, tmp_path_factory):
    r = Runner({"digits": digits}, Limits(seconds=120, n_hidden=500, epochs=400),
               RunCache(tmp_path_factory.mktemp("cache")))
    yield r
    r.close()


@pytest.fixture(scope="module")
def url(runner, small_model):
    with running(create_app({"small": (small_model, "small")}, runner)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


class Event:
    def __init__(self, id, kind, data):
        self.id, self.kind, self.data = id, kind, json.loads(data)

    def __repr__(self):
        return f"{self.kind}({self.data.get('epoch')})"


def events(client, until=lambda e: e.kind == "end", last_id=None, limit=None, seconds=END):
    """Events from /api/train/events, reconnecting with Last-Event-ID as EventSource does, until ``until`` says stop."""
    out = []
    deadline = time.monotonic() + seconds
    while True:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        with client.stream("GET", "/api/train/events", headers=headers, timeout=seconds) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            fields = {}
            for line in response.iter_lines():  # a keep-alive comment comes at least every 10 s
                assert time.monotonic() < deadline, f"no end of the events within {seconds} s; got {out}"
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                    continue
                if "event" in fields:
                    event = Event(fields["id"], fields["event"], fields["data"])
                    out.append(event)
                    last_id = event.id
                    if until(event) or (limit and len(out) >= limit):
                        return out
                fields = {}


def start(client, **settings):
    response = client.post("/api/train", json=settings)
    assert response.status_code == 202, response.text
    return response.json()["run"]


def of_run(log, run):
    return [e for e in log if e.data.get("run") == run]


def test_the_options_come_from_the_recipes(client):
    options = client.get("/api/train").json()
    assert options["enabled"] and [d["name"] for d in options["data"]] == ["digits"]
    assert options["data"][0]["n_samples"] == 1797 and options["limits"]["n_hidden"] == 500
    assert options["data"][0]["recipe"] == "modern"  # what auto (the default) chooses for them
    bounds = {s["name"]: (s["min"], s["max"]) for s in options["settings"]}
    assert options["limits"]["batch_size"] == 10_000 and bounds["batch_size"] == (1, 10_000)
    assert bounds["n_hidden"] == (1, 500) and bounds["epochs"] == (1, 400)
    for name, config in RECIPES.items():
        assert options["recipes"][name] == {field: getattr(config, field) for field in SETTINGS}
    assert [(s["name"], s["label"], s["explanation"]) for s in options["settings"]] == \
        [(name, label, text) for name, (label, text) in SETTINGS.items()]
    from matplotlib import colormaps

    lut = np.frombuffer(base64.b64decode(options["colormap"]), np.uint8).reshape(256, 3)
    np.testing.assert_allclose(lut, colormaps["PuOr"](np.arange(256))[:, :3] * 255, atol=0.5)  # the report's map


def test_a_run_streams_every_epoch_then_ends_with_the_model_digitnet_train_writes(client, tmp_path):
    run = start(client, recipe="modern", epochs=6, seed=3)
    log = of_run(events(client), run)
    kinds = [e.kind for e in log]
    assert kinds[:2] == ["start", "ready"] and kinds[-1] == "end"
    assert set(kinds[2:-1]) <= {"progress", "epoch"}
    assert [e.data["epoch"] for e in log if e.kind == "epoch"] == [1, 2, 3, 4, 5, 6]
    numbers = [int(e.id.rsplit(".", 1)[1]) for e in log]
    assert numbers == list(range(numbers[0], numbers[0] + len(log)))  # in order, none missing
    end = log[-1].data
    assert end["stop_reason"] == "max_epochs" and end["epochs"] == 6 and end["model"] == f"modern-{run}"
    sixth = log[-2].data
    assert 0.9 < sixth["test_accuracy"] <= 1 and sixth["loss"] < log[kinds.index("epoch")].data["loss"]
    confusion = np.array(sixth["confusion"])
    assert confusion.shape == (11, 11) and sixth["labels"] == list(range(-1, 10))
    assert confusion[0].sum() == 0 and confusion.sum() == end["test"]["n_test"] == 450
    tiles = np.frombuffer(base64.b64decode(sixth["tiles"]["levels"]), np.uint8)
    assert sixth["tiles"]["shape"] == [8, 8] and sixth["tiles"]["count"] == 200 and tiles.size == 200 * 64
    assert tiles.min() == 0 or tiles.max() == 255  # the largest weight takes an end of the shared scale
    assert all(0 <= m["confidence"] <= 1 and m["true"] != m["said"] for m in sixth["mistakes"])

    download = client.get(f"/api/train/runs/{run}/model")
    assert download.status_code == 200 and f'filename="modern-{run}.safetensors"' in download.headers["content-disposition"]
    out = tmp_path / "cli.safetensors"
    # the command in a process of its own, as the worker: both inherit this environment (BLAS threads: Dask's
    # LocalCluster, in test_sweep, sets OPENBLAS_NUM_THREADS=1 in it, and the test split's scores round by them)
    result = subprocess.run([DIGITNET, "train", "--epochs", "6", "--seed", "3", "--out", out, "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert download.content == out.read_bytes()  # the same bytes

    assert client.post(f"/api/train/runs/{run}/use").json() == {"model": f"modern-{run}"}
    models = [m["id"] for m in client.get("/api/models").json()["models"]]
    assert models == ["small", f"modern-{run}"]
    answer = client.post("/api/predict", json={"pixels": [[0, 0, 5, 13, 9, 1, 0, 0]] * 8, "model": f"modern-{run}"})
    assert answer.status_code == 200 and answer.json()["model"] == f"modern-{run}"

    # a second tab, late: the same events, from the start
    again = of_run(events(client), run)
    assert [(e.id, e.kind) for e in again] == [(e.id, e.kind) for e in log]


def test_pause_step_resume_stop_and_one_run_at_a_time(client):
    run = start(client, recipe="modern", epochs=3, paused=True)
    log = events(client, until=lambda e: e.kind == "paused" and e.data["run"] == run)
    assert log[-1].data["epoch"] == 0

    busy = client.post("/api/train", json={"recipe": "blog"})
    assert busy.status_code == 409
    assert busy.json()["detail"].startswith("a run is training: modern on digits, epoch 0 of 3, started by 127.0.0.1 at ")

    assert client.post(f"/api/train/runs/{run}/step").status_code == 200  # one epoch, then paused again
    log = events(client, until=lambda e: e.kind == "paused", last_id=log[-1].id)
    assert [e.kind for e in log if e.kind != "progress"] == ["resumed", "epoch", "paused"]
    assert log[-1].data["epoch"] == 1

    assert client.post(f"/api/train/runs/{run}/resume").json()["run"] == run
    log = events(client, last_id=log[-1].id)
    assert [e.data["epoch"] for e in log if e.kind == "epoch"] == [2, 3]
    assert log[-1].data["stop_reason"] == "max_epochs"
    for action in ("pause", "step", "resume", "stop"):
        ended = client.post(f"/api/train/runs/{run}/{action}")
        assert ended.status_code == 409 and "it has ended (max_epochs)" in ended.json()["detail"]


def test_stop_keeps_the_weights_learnt_so_far(client, tmp_path):
    run = start(client, recipe="modern", epochs=5, paused=True)
    log = events(client, until=lambda e: e.kind == "paused" and e.data["run"] == run)
    client.post(f"/api/train/runs/{run}/step")
    log = events(client, until=lambda e: e.kind == "paused", last_id=log[-1].id)
    assert client.post(f"/api/train/runs/{run}/step").status_code == 200
    log = events(client, until=lambda e: e.kind == "paused", last_id=log[-1].id)
    assert client.post(f"/api/train/runs/{run}/stop").status_code == 200
    end = events(client, last_id=log[-1].id)[-1].data
    assert end["stop_reason"] == "stopped" and end["epochs"] == 2 and end["why"].startswith("stopped on request")
    (tmp_path / "run.safetensors").write_bytes(client.get(f"/api/train/runs/{run}/model").content)
    model = digitnet.load(tmp_path / "run.safetensors")
    assert model.history.stop_reason == "stopped" and model.history.epochs == 2
    assert model.metrics["accuracy"] == end["test"]["accuracy"]


def test_pause_a_running_run(client):
    run = start(client, recipe="modern", epochs=400, n_hidden=500, batch_size=8)  # a minute's work: time to pause it
    log = events(client, until=lambda e: e.kind == "epoch" and e.data["run"] == run)
    assert client.post(f"/api/train/runs/{run}/pause").status_code == 200
    log = events(client, until=lambda e: e.kind == "paused", last_id=log[-1].id)
    assert client.get("/api/train").json()["run"]["state"] == "paused"
    client.post(f"/api/train/runs/{run}/stop")
    assert events(client, last_id=log[-1].id)[-1].data["stop_reason"] == "stopped"


def test_a_lost_connection_resumes_without_gaps_or_duplicates(client):
    run = start(client, recipe="blog", epochs=30, seed=2)
    first = events(client, limit=4)  # then the connection drops
    rest = events(client, last_id=first[-1].id)
    whole = of_run(events(client), run)
    assert [e.id for e in first + rest] == [e.id for e in whole]
    assert [e.data for e in first + rest if e.kind != "progress"] == [e.data for e in whole if e.kind != "progress"]
    assert [e.data["epoch"] for e in whole if e.kind == "epoch"] == list(range(1, 31))
    assert events(client, last_id="another-server.17", limit=1)[0].data["run"] == run  # from this run's start


@pytest.mark.parametrize("settings, detail", [
    ({"n_hidden": 0}, "n_hidden must be 1..1,000,000,000; got 0"),
    ({"n_hidden": "many"}, "n_hidden: Input should be a valid integer"),
    ({"dropout": 1.5}, "dropout must be in [0, 1); got 1.5"),
    ({"lr": -1}, "lr must be a positive number; got -1.0"),
    ({"epochs": 401}, "epochs 401 is more than this server allows (400, its --max-train-epochs)"),
    ({"recipe": "blog", "batch_size": 8}, "it needs loss 'mse', optimizer 'sgd' and batch_size 1"),
    ({"recipe": "fast"}, f"unknown recipe 'fast'; choose one of {', '.join(digitnet.RECIPES)}"),
    ({"data": "mnist"}, "unknown data 'mnist'; this server trains on digits"),
    ({"l2": 0.1}, "l2: Extra inputs are not permitted"),
    # no bool for an int, no float for an int, and integers the compiled code takes
    ({"n_hidden": True}, "n_hidden: Input should be a valid integer"),
    ({"epochs": 3.0}, "epochs: Input should be a valid integer"),
    ({"lr": True}, "lr: Input should be a valid number"),
    ({"batch_size": 1e50}, "batch_size: Input should be a valid integer"),
    ({"batch_size": 10**50}, "batch_size must be 1..1,000,000,000"),
    ({"seed": 2**64}, "seed must be in 0..4294967295"),
    ({"batch_size": 10_001}, "batch_size 10001 is more than this server allows (10000, its --max-train-batch-size)"),
])
def test_bad_settings_get_422_naming_the_field(client, settings, detail):
    response = client.post("/api/train", json=settings)
    assert response.status_code == 422 and detail in response.json()["detail"]


def test_unknown_runs_and_actions(client):
    assert client.post("/api/train/runs/nope/pause").status_code == 404
    assert client.get("/api/train/runs/nope/model").status_code == 404
    run = client.get("/api/train").json()["run"]["run"]
    assert client.post(f"/api/train/runs/{run}/explode").status_code == 404


def test_with_training_off_the_routes_refuse(small_model):
    with running(create_app({"small": (small_model, "small")})) as base, httpx.Client(base_url=base) as c:
        assert c.get("/api/train").json() == {"enabled": False,
                                              "reason": "training is turned off on this server (digitnet serve --no-train)"}
        assert c.get("/train").status_code == 404
        assert c.post("/api/train", json={}).status_code == 403
        assert c.get("/api/train/events").status_code == 403
        assert c.post("/api/train/runs/x/stop").status_code == 403
        assert c.get("/api/train/runs/x/model").status_code == 403
        assert c.get("/").status_code == 200  # the drawing page stays


def test_serve_refuses_data_with_training_off():
    result = CliRunner().invoke(cli_app, ["serve", "--no-train", "--data", "x.csv"])
    assert result.exit_code == 2 and "with --no-train there is none" in result.output



def test_the_time_limit_stops_a_run_keeping_what_it_learnt(digits, tmp_path):
    r = Runner({"digits": digits}, Limits(seconds=1), RunCache(tmp_path))
    try:
        job = r.start("digits", {"recipe": "modern", "epochs": 500, "n_hidden": 1000, "batch_size": 8})  # minutes
        deadline = time.monotonic() + END
        while job.result is None:
            assert time.monotonic() < deadline, "the run did not stop at its time limit"
            time.sleep(0.1)
        assert job.result.stop_reason == "stopped" and job.result.why.startswith("stopped at the server's limit of 1 s")
        end = r.events_after(None)[-1].data
        assert end["model"] == job.model_id and 1 <= end["seconds"] < 5 and end["epochs"] < 500
        assert job.result.model.history.stop_reason == "stopped"
    finally:
        r.close()


# ---- found by a newcomer, after issues 19, 21 and 22 ------------------------------------------------------------


def _wait_end(job, seconds=END):
    deadline = time.monotonic() + seconds
    while job.result is None:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.05)
    return job.result


def test_a_run_stopped_before_its_first_epoch_ends_has_no_model(client):
    run = start(client, recipe="modern", epochs=3, paused=True)
    log = events(client, until=lambda e: e.kind == "paused" and e.data["run"] == run)
    assert client.post(f"/api/train/runs/{run}/stop").status_code == 200
    end = events(client, last_id=log[-1].id)[-1].data
    assert end["stop_reason"] == "stopped" and end["epochs"] == 0 and end["model"] is None
    assert end["why"] == "stopped before the first epoch ended: nothing was learnt, so there is no model"
    download = client.get(f"/api/train/runs/{run}/model")
    assert download.status_code == 404 and "nothing was learnt" in download.json()["detail"]
    use = client.post(f"/api/train/runs/{run}/use")
    assert use.status_code == 409 and "it has no model (stopped before the first epoch ended" in use.json()["detail"]


def test_a_run_whose_loss_blew_up_has_no_model_though_its_weights_are_finite(client):
    run = start(client, recipe="modern", epochs=2, lr=1e9)
    end = of_run(events(client, until=lambda e: e.kind == "end" and e.data["run"] == run), run)[-1].data
    assert end["stop_reason"] == "diverged" and end["model"] is None
    assert client.get(f"/api/train/runs/{run}/model").status_code == 404


def test_auto_is_the_default_recipe_chosen_from_the_data(client, tmp_path):
    from digitnet.data import Dataset, Inputs
    from digitnet.jobs import config_from

    run = start(client, epochs=1, paused=True)  # no recipe: auto
    summary = client.get("/api/train").json()["run"]
    assert summary["run"] == run and summary["recipe"] == "modern" and summary["recipe_chosen_by"] == "auto"
    client.post(f"/api/train/runs/{run}/stop")
    events(client, until=lambda e: e.kind == "end" and e.data["run"] == run)
    big = Dataset(np.zeros((10_000, 784), np.float32), np.arange(10_000) % 10, inputs=Inputs(784, (28, 28), (0.0, 255.0)))
    assert config_from({}, big).recipe == "mnist" and config_from({"recipe": "auto"}, big).recipe == "mnist"
    assert config_from({"recipe": "blog"}, big).recipe == "blog"
    assert config_from({"recipe": "auto", "epochs": 2}, big).epochs == 2


def test_the_runs_cache_is_pruned_and_checked_when_the_server_starts(digits, tmp_path):
    import os

    from digitnet.errors import OutputFileError

    runs = tmp_path / "digitnet" / "runs"
    runs.mkdir(parents=True)
    for k in range(6):  # left by earlier servers, oldest first
        (runs / f"modern-{k:08x}.safetensors").write_bytes(b"old")
        os.utime(runs / f"modern-{k:08x}.safetensors", ns=(k * 10**9, k * 10**9))
    (runs / ".modern-00000009.safetensors.999999999.tmp").write_bytes(b"a dead writer's")
    outside = tmp_path / "precious.safetensors"
    outside.write_bytes(b"a user's file")
    (runs / "modern-0000000a.safetensors").symlink_to(outside)  # not the cache's: left alone, never followed
    (runs / "notes.txt").write_bytes(b"not the cache's")
    r = Runner({"digits": digits}, Limits(), RunCache(tmp_path, keep=3))
    r.close()
    assert sorted(p.name for p in runs.iterdir()) == [
        "modern-00000003.safetensors", "modern-00000004.safetensors", "modern-00000005.safetensors",
        "modern-0000000a.safetensors", "notes.txt"]
    assert outside.read_bytes() == b"a user's file"

    linked = tmp_path / "linked"
    (linked / "digitnet").mkdir(parents=True)
    (linked / "digitnet" / "runs").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(OutputFileError, match=r"linked/digitnet/runs: a symbolic link or not a directory"):
        Runner({"digits": digits}, Limits(), RunCache(linked))


def test_serve_checks_its_options_before_anything_else(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cases = [
        (["--no-train", "--max-train-hidden", "0"], "--max-train-hidden must be positive; got 0"),
        (["--max-train-seconds", "0"], "--max-train-seconds must be positive; got 0.0"),
        (["--max-train-seconds", "nan"], "--max-train-seconds must be positive; got nan"),
        (["--max-train-batch-size", "-1"], "--max-train-batch-size must be positive; got -1"),
        (["--allow-host", ""], "--allow-host '': an empty host name answers nothing"),
        (["--allow-host", "a*b"], "--allow-host 'a*b': '*' stands alone"),
        # the embedded digits alone, over the limit: the advice that applies
        (["--max-train-samples", "1000"], "--max-train-samples 1000 leaves the Train view no data: the embedded digits "
                                          "have 1,797 samples; raise it to 1,797 or more, or serve with --no-train"),
    ]
    for args, message in cases:
        r = CliRunner().invoke(cli_app, ["serve", *args])
        assert r.exit_code == 2 and r.stderr.startswith(f"error: {message}") and r.stderr.count("\n") == 1, (args, r.stderr)
    (tmp_path / "cache" / "digitnet").mkdir(parents=True)
    (tmp_path / "cache" / "digitnet" / "runs").symlink_to(tmp_path, target_is_directory=True)
    r = CliRunner().invoke(cli_app, ["serve"])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1 and "runs: a symbolic link" in r.stderr, r.stderr
    with socket.socket() as busy:  # a busy port: said before any model is trained or read
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = CliRunner().invoke(cli_app, ["serve", "--port", str(busy.getsockname()[1]), "--no-train"])
    assert r.exit_code == 2 and r.stderr.startswith("error: cannot listen on 127.0.0.1") and len(r.stderr.splitlines()) == 1


def test_data_over_the_sample_limit(tmp_path, digits):
    from conftest import write_csv

    small = write_csv(tmp_path / "small.csv", digits.X[:200], digits.y[:200])
    big = write_csv(tmp_path / "big.csv", digits.X, digits.y)
    r = CliRunner().invoke(cli_app, ["serve", "--max-train-samples", "1000", "--data", str(small), "--data", str(big)])
    assert r.exit_code == 2 and r.stderr == (f"error: --data {big} has 1,797 samples, more than --max-train-samples 1000: "
                                             "raise it to 1,797 or more, or leave that --data out\n")
    from digitnet.cli import _train_sources

    sources, notes = _train_sources([str(small)], Limits(samples=1000))
    assert list(sources) == [str(small)]
    assert notes == ["the embedded digits (1,797 samples) are left out of the Train view: more than "
                     "--max-train-samples 1000"]


@pytest.mark.slow
def test_sigterm_stops_serve_and_its_training_worker_cleanly(model_file, tmp_path, monkeypatch):
    """`kill` (SIGTERM) while a run trains: the worker ends, nothing is printed but one line, nothing is leaked."""
    import signal

    import psutil  # dev extra: a skip would hide a SIGTERM that leaves its worker behind
    from test_web import _free_port, _serve

    port = _free_port()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the server's runs cache
    server = _serve([str(model_file)], port)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        run = start(c, epochs=400, n_hidden=500, batch_size=8)
        events(c, until=lambda e: e.kind == "epoch" and e.data["run"] == run)
    workers = psutil.Process(server.pid).children(recursive=True)
    assert workers, "no worker process"
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=60)
    assert "Traceback" not in err and "leaked" not in err and "Error" not in err, err
    assert err.strip().splitlines()[-1] == "stopped (SIGTERM)", err
    assert server.returncode == 128 + signal.SIGTERM
    psutil.wait_procs(workers, timeout=10)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
