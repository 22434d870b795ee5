"""Training progress, one epoch at a time: a bar in a terminal (rich, on stderr) or in a Jupyter notebook.

The trainer never prints; it reports each epoch to a callback. :class:`EpochBar` is such a callback
with a bar around it. ``digitnet train`` shows it on stderr; ``digitnet.train(progress=True)`` shows
it in the terminal or, inside a Jupyter kernel, as an HTML ``<progress>`` element updated in place
(a display update: no widgets and no JavaScript, so an executed notebook and the documentation site
keep its final state).
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .trainer import History

WHERE = ("auto", "terminal", "notebook")
NOTEBOOK_INTERVAL = 0.1  # seconds between two redraws in a notebook (each one is a message to the front end)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell that displays rich output), False in a terminal or script."""
    if "IPython" not in sys.modules:  # never imported IPython: not a kernel, and no need to import it now
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def epoch_stats(h: History) -> str:
    """The last epoch in a line: 'loss 0.1234  train 97.1%' (and 'val 96.0%' with a validation split)."""
    if not h.loss:
        return ""
    stats = f"loss {h.loss[-1]:.4f}  train {h.accuracy[-1]:.1%}"
    if h.val_accuracy:
        stats += f"  val {h.val_accuracy[-1]:.1%}"
    return stats


class EpochBar:
    """A progress bar over ``total`` epochs, fed by the trainer's per-epoch callback.

    ``with EpochBar(config.epochs) as callback: fit(..., callback=callback)``. ``where``: "terminal"
    (rich, on ``console``, by default stderr), "notebook" (HTML in the Jupyter output), or "auto"
    (the notebook inside a Jupyter kernel, else the terminal). With ``enabled=False`` the callback
    does nothing. Raises ConfigError for another ``where``.
    """

    def __init__(self, total: int, *, where: str = "auto", console=None, enabled: bool = True) -> None:
        if where not in WHERE:
            raise ConfigError(f"progress must be True, False or one of {', '.join(WHERE)}; got {where!r}")
        self.total, self.enabled, self.console = total, enabled, console
        self.notebook = where == "notebook" or (where == "auto" and in_notebook())
        self.view: _TerminalView | _NotebookView | None = None
        self.last: History | None = None

    def __enter__(self) -> Callable[[History], None]:
        if self.enabled:
            self.view = _NotebookView(self.total) if self.notebook else _TerminalView(self.total, self.console)
        return self.update

    def update(self, h: History) -> None:
        self.last = h
        if self.view is not None:
            self.view.show(h, final=False)

    def __exit__(self, *exc) -> None:
        if self.view is not None:
            self.view.close(self.last)


class _TerminalView:
    def __init__(self, total: int, console=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("epoch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), console=console or Console(stderr=True, highlight=False, soft_wrap=True),
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=total, stats="")

    def show(self, h: History, final: bool) -> None:
        self.progress.update(self.task, completed=h.epochs, stats=epoch_stats(h))

    def close(self, h: History | None) -> None:
        self.progress.stop()


class _NotebookView:
    """An output of the cell, updated in place: text/html with a <progress> bar, text/plain for other front ends."""

    def __init__(self, total: int) -> None:
        from IPython.display import display

        self.total, self.start, self.shown_at = total, time.perf_counter(), 0.0
        self.handle = display(self.bundle(0, "", ""), raw=True, display_id=True)

    def bundle(self, epochs: int, stats: str, ending: str) -> dict[str, str]:
        elapsed = f"{time.perf_counter() - self.start:.1f} s"
        text = "  ".join(part for part in (f"epoch {epochs}/{self.total}", stats, elapsed, ending) if part)
        filled = round(20 * epochs / self.total) if self.total else 20
        return {
            "text/plain": f"[{'#' * filled}{'.' * (20 - filled)}] {text}",
            "text/html": f'<div class="digitnet-progress" style="font-family: monospace">'
                         f'<progress value="{epochs}" max="{self.total}" style="width: 14em; vertical-align: middle">'
                         f"</progress> {html.escape(text)}</div>",
        }

    def show(self, h: History, final: bool) -> None:
        now = time.perf_counter()
        if final or now - self.shown_at >= NOTEBOOK_INTERVAL:
            from .trainer import STOP_REASONS

            ending = f"stopped: {STOP_REASONS.get(h.stop_reason, h.stop_reason)}" if final and h.stop_reason else ""
            self.handle.update(self.bundle(h.epochs, epoch_stats(h), ending), raw=True)
            self.shown_at = now

    def close(self, h: History | None) -> None:
        if h is not None:
            self.show(h, final=True)
