"""The ``digitnet`` command and ``python -m digitnet``.

Ctrl-C while the libraries load ends the process with one line and exit code 130: the
handler is installed before the first heavy import, and the CLI replaces it once it runs.
"""

import os
import signal


def _interrupted_at_startup(signum: int, frame: object) -> None:
    os.write(2, b"interrupted while starting: nothing was done\n")
    os._exit(130)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_at_startup)
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
