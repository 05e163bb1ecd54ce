"""Helpers to run the ``birdbridge`` CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import Rig


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``birdbridge ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "birdbridge", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def spawn(*args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``birdbridge ARGS`` in the background, output to ``log``."""
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "birdbridge", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def write_config(rig: Rig, path: Path, **kwargs: object) -> Path:
    from ..conftest import config_text

    path.write_text(
        config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url, **kwargs)
    )  # type: ignore[arg-type]
    return path
