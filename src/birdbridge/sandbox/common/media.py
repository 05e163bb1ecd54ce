"""Where a sandbox keeps media bytes: on disk only, in a temporary folder of its own that
``stop()`` removes, so a large video never sits in the server's memory."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

MediaData = bytes | bytearray | memoryview | Path | str  # bytes, or the path of a file


class MediaFolder:
    def __init__(self, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_media(target: Path, data: MediaData) -> None:
    """Store bytes at ``target``, or copy a file there in 1 MiB chunks."""
    if isinstance(data, bytes | bytearray | memoryview):
        target.write_bytes(bytes(data))
        return
    with Path(data).open("rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
