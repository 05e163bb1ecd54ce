"""Where media files wait between download and upload: a folder per process under the
system's temporary directory, emptied after each delivery and swept of dead processes'
leftovers at start-up (a crash must not leave a 200 MB video behind for ever).

A folder is known to be in use by the lock its process holds on the ``.lock`` file inside it
(``flock``: the kernel drops it when the process dies, however it dies). Process ids cannot
tell: in a container every run is PID 1, so a killed run's folder would look alive for ever.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import IO

ROOT_NAME = "birdbridge-media"
LOCK_NAME = ".lock"
_held: dict[Path, IO[bytes]] = {}  # this process's folders and their open, locked files


def media_root(base: Path | None = None) -> Path:
    root = (base or Path(tempfile.gettempdir())) / ROOT_NAME
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def process_workdir(base: Path | None = None) -> Path:
    """This process's folder (the same one on every call); removes the folders that no live
    process holds."""
    root = media_root(base)
    for folder, _ in _held.items():
        if folder.parent == root:
            return folder
    for entry in root.iterdir():
        if entry.is_dir() and entry not in _held and not _in_use(entry):
            shutil.rmtree(entry, ignore_errors=True)
    mine = root / f"{os.getpid()}-{secrets.token_hex(4)}"
    mine.mkdir(mode=0o700)
    lock = (mine / LOCK_NAME).open("wb")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _held[mine] = lock  # kept open (and locked) for the life of the process
    return mine


def _in_use(folder: Path) -> bool:
    """Does a live process hold this folder's lock?"""
    try:
        with (folder / LOCK_NAME).open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False  # no lock file: a folder of an older version, or half made
    except BlockingIOError:
        return True
    except OSError:
        return True  # cannot tell: leave it
    return False
