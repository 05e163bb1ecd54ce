"""Media transfers shown as rich progress bars, for the commands a person watches (`once`,
`demo`) on a terminal. Piped output and the daemon's logs never get them.

The bars implement :class:`birdbridge.media.progress.Progress`, the hook the engine passes
down to downloads and uploads; only this module knows about rich.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress

from birdbridge.media.progress import NO_PROGRESS, Progress, Transfer

ARROWS = {"download": "↓", "upload": "↑"}


class Bars:
    """One bar per file and direction, with bytes moved, total and speed."""

    def __init__(self, display: RichProgress) -> None:
        self.display = display
        self.tasks: dict[Transfer, TaskID] = {}
        self.lock = threading.Lock()  # the hook may be called from more than one thread

    def started(self, transfer: Transfer) -> None:
        label = f"{ARROWS[transfer.direction]} {transfer.direction} {transfer.name}"
        with self.lock:
            self.tasks[transfer] = self.display.add_task(label, total=transfer.total)

    def moved(self, transfer: Transfer, done: int) -> None:
        with self.lock:
            task = self.tasks.get(transfer)
        if task is not None:
            self.display.update(task, completed=done)

    def ended(self, transfer: Transfer) -> None:
        with self.lock:
            task = self.tasks.pop(transfer, None)
        if task is not None and transfer.total is None:
            # a download of unknown size: it is as big as what arrived
            done = self.display.tasks[task].completed
            self.display.update(task, total=done, completed=done)


@contextmanager
def media_bars(console: Console) -> Iterator[Progress]:
    """Bars on ``console`` while the block runs, when it is a terminal; else no progress."""
    from birdbridge.consoles import real

    console = real(console)
    if not console.is_terminal:
        yield NO_PROGRESS
        return
    display = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,  # gone at the end: what stays is the command's own summary
    )
    with display, _logs_above(display):
        yield Bars(display)


@contextmanager
def _logs_above(display: RichProgress) -> Iterator[None]:
    """Log lines printed above the bars instead of through them.

    While a rich live display runs, it replaces ``sys.stderr`` with a proxy that prints above
    the display (rich.live.Live, ``redirect_stderr``), but the log handler holds the stream
    it was given before: point it at the proxy meanwhile."""
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    if display.live.is_started:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
                moved.append((handler, handler.setStream(sys.stderr)))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)
