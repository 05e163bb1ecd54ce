"""Progress of media transfers: a hook passed down by whoever wants to show it.

The command line passes one that draws bars on a terminal (``birdbridge/progress.py``); the
daemon passes nothing and gets :data:`NO_PROGRESS`. The code that moves bytes (downloads, the
adapters' uploads) reports through :func:`tracked` and knows nothing of how it is shown: no
rich below the command line (the import-linter layers in pyproject.toml).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["NO_PROGRESS", "CountingFile", "NoProgress", "Progress", "Transfer", "tracked"]

Direction = Literal["download", "upload"]


# eq=False: two transfers of the same name and size are still two bars
@dataclass(frozen=True, eq=False)
class Transfer:
    direction: Direction
    name: str  # what moves, for a label: "image 1 from pbs.twimg.com", "video to Mastodon"
    total: int | None  # bytes, when known before the end


class Progress(Protocol):
    """Told when a transfer starts, each time more of it has moved, and when it ends (done
    or not). ``done`` counts bytes from the start of the transfer and never decreases."""

    def started(self, transfer: Transfer) -> None: ...

    def moved(self, transfer: Transfer, done: int) -> None: ...

    def ended(self, transfer: Transfer) -> None: ...


class NoProgress:
    """The default: nobody is watching."""

    def started(self, transfer: Transfer) -> None:
        pass

    def moved(self, transfer: Transfer, done: int) -> None:
        pass

    def ended(self, transfer: Transfer) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()


@contextmanager
def tracked(
    progress: Progress, direction: Direction, name: str, total: int | None
) -> Iterator[Callable[[int], None]]:
    """A transfer reported to ``progress``: yields the function to call with the bytes moved
    so far; its end is reported however the block ends."""
    transfer = Transfer(direction, name, total)
    progress.started(transfer)
    last = 0

    def moved(done: int) -> None:
        nonlocal last
        if done > last:  # a re-read (a seek back) is not progress
            last = done
            progress.moved(transfer, done)

    try:
        yield moved
    finally:
        progress.ended(transfer)


class CountingFile(io.FileIO):
    """A file opened for reading that reports its position after each read: an HTTP client
    streaming it as a request body (httpx reads 64 KiB at a time) reports the upload as it
    goes. A real file (``fileno``), so clients still take its length from the disk."""

    def __init__(self, path: str, moved: Callable[[int], None]) -> None:
        super().__init__(path, "rb")
        self._moved = moved

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        if chunk:
            self._moved(self.tell())
        return chunk or b""
