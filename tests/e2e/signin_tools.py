"""Running `birdbridge login` (and `init`) as a subprocess and approving it over HTTP, as a
person in a browser would."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from birdbridge.sandbox.common.approve import approve

URL_WAIT = 60.0


class Interactive:
    """A CLI subprocess whose output is read line by line as it comes."""

    def __init__(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "birdbridge", *args],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def next_url(self, timeout: float = URL_WAIT) -> str:
        """The next authorization address the command prints."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("no address printed:\n" + self.text()) from None
            if line.strip().startswith("http"):
                return line.strip()

    def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        if self.process.stdin:
            self.process.stdin.close()
        return code

    def text(self) -> str:
        return "".join(self.output)


def approve_in_browser(url: str, *, decision: str = "approve") -> str | None:
    """Press the button and follow the redirect to the waiting command, as a browser does;
    the code shown instead when there is no redirect (out-of-band)."""
    answer = approve(url, decision=decision)
    if answer.code is not None and answer.location is None:
        return answer.code
    if answer.code is not None:  # Mastodon's native page
        return answer.code
    assert answer.location is not None
    httpx.get(answer.location, timeout=10)
    return None
