"""Where media files wait between download and upload: a folder per process under the
system's temporary directory, emptied after each delivery and swept of dead processes'
leftovers at start-up (a crash must not leave a 200 MB video behind for ever)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ROOT_NAME = "birdbridge-media"


def media_root(base: Path | None = None) -> Path:
    root = (base or Path(tempfile.gettempdir())) / ROOT_NAME
    root.mkdir(parents=True, exist_ok=True)
    return root


def process_workdir(base: Path | None = None) -> Path:
    """This process's folder; removes folders left by processes that no longer run."""
    root = media_root(base)
    for entry in root.iterdir():
        if entry.is_dir() and entry.name.isdigit() and not _alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(exist_ok=True)
    return mine


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True
