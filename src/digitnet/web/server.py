"""Running the app with uvicorn for ``digitnet serve``: uvicorn's server, quiet once asked to stop."""

from __future__ import annotations

import logging

import uvicorn


class QuietStop(uvicorn.Server):
    """uvicorn's server, silent once a signal asks it to stop: the requests and tasks that a second Ctrl-C
    cuts short (uvicorn's "force exit") are what was asked for, not errors to print a traceback of."""

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)


def run(app, host: str, port: int) -> None:
    """Serve ``app`` on host:port until a signal stops it. uvicorn takes SIGINT and SIGTERM while it serves and
    raises them again once stopped, for the caller's handlers."""
    # a streaming Train view is cut after a second at shutdown, not waited for
    QuietStop(uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)).run()
