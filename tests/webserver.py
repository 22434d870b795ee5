"""A real uvicorn server on a free loopback port, in a thread, for the web tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import numpy as np

import digitnet
from digitnet.data import Dataset, Inputs

TEMPLATES = np.kron(np.random.default_rng(0).random((10, 7, 7)) > 0.5, np.ones((4, 4))) * 215


def model_28x28() -> digitnet.Model:
    """A 28x28 model of 0..255 inputs (fake digits: fixed block patterns), trained in a moment."""
    rng = np.random.default_rng(1)
    y = np.arange(600) % 10
    X = (rng.integers(0, 40, size=(600, 28, 28)) + TEMPLATES[y]).reshape(600, -1).astype(np.float32)
    data = Dataset(X, y, {"kind": "arrays"}, Inputs(784, (28, 28), (0.0, 255.0)), 10)
    return digitnet.train(data, digitnet.Config(epochs=5, patience=None, val_fraction=0.0))


@contextlib.contextmanager
def running(app):
    """Yields the base URL of ``app`` served by uvicorn on 127.0.0.1 at a port the OS picked."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def models_served(port: int, server, timeout: float = 60) -> dict:
    """/api/models of the `digitnet serve` subprocess ``server`` on 127.0.0.1:``port``, once it answers."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/models", timeout=2).json()
        except httpx.HTTPError:
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.2)
