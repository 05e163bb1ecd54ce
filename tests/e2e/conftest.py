"""Helpers to run the ``birdbridge`` CLI as a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from birdbridge.sandbox.common import LoggedRequest, SandboxServer

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


# Waits end on the event they wait for; the ceiling only bounds a broken run. It is generous:
# on a busy 2-core machine a daemon's start-up alone has taken over 20 s.
CEILING = 180.0


def until(condition: Callable[[], bool], timeout: float = CEILING) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` passes (its last answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def wait_for(
    condition: Callable[[], bool], timeout: float = CEILING, what: str = "condition"
) -> None:
    if not until(condition, timeout):
        pytest.fail(f"timed out after {timeout}s waiting for {what}")


def write_config(rig: Rig, path: Path, **kwargs: object) -> Path:
    from ..conftest import config_text

    path.write_text(
        config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url, **kwargs)
    )  # type: ignore[arg-type]
    return path


# -- killing a daemon while it publishes ----------------------------------------------------

# The requests that put something on a network: a new post (or part, or the new version of
# an edit carried as delete-and-post-again), and the deletion of a mirror.
CREATES = {"x": r"^/2/tweets$", "m": r"^/api/v1/statuses$"}
DELETES = {"x": r"^/2/tweets/\d+$", "m": r"^/api/v1/statuses/\d+$"}
# Both ways the daemon logs a part it found already published instead of publishing it again
# (engine/deliver.py: found by the look-up before a resend, or after the network called the
# resend a duplicate); the id is the post adopted.
ADOPTED = re.compile(r"already published as (\w+) \((?:recovered after an interruption|adopted)\)")


def lives_started(log: Path) -> int:
    """How many daemons writing to ``log`` reached "running" (their scheduler started)."""
    return log.read_text(errors="replace").count("birdbridge running") if log.exists() else 0


def adopted_ids(log: Path) -> list[str]:
    """The ids of the parts the daemons adopted after an interruption, in log order."""
    return ADOPTED.findall(log.read_text(errors="replace")) if log.exists() else []


@dataclass(frozen=True)
class Sent:
    """A request the daemon sent to a sandbox (``network`` "x" or "m")."""

    network: str
    kind: str  # "create" | "delete"
    request: LoggedRequest

    @property
    def answered(self) -> bool:
        return self.request.status is not None

    def committed_id(self) -> str | None:
        """The id of the post a create made, once the sandbox has answered it with a 2xx;
        None for anything else (not answered yet, refused, never run)."""
        status, response = self.request.status, self.request.response
        if self.kind != "create" or status is None or not 200 <= status < 300:
            return None
        if response is None or not isinstance(response.body, dict):
            return None
        body = response.body.get("data", response.body) if self.network == "x" else response.body
        return str(body["id"])


class Publishes:
    """The create and delete requests each daemon life sends, read from the sandboxes' own
    request logs. A request still unanswered when its daemon was SIGKILLed is one whose
    answer the daemon never read: the sandbox had read the whole request, so its handler runs
    (and commits) whatever happens to the client, and a later life owes a recovery for it."""

    def __init__(self, rig: Rig) -> None:
        self.servers: dict[str, SandboxServer] = {"x": rig.x, "m": rig.masto}
        for server in self.servers.values():
            server.keep_exchanges = True  # the answers carry the ids of what was committed
        self.start = dict.fromkeys(self.servers, 0)

    def new_life(self) -> None:
        """Requests logged from now on are the next daemon's (the last one is dead)."""
        self.start = {name: len(server.requests) for name, server in self.servers.items()}

    def sent(self) -> list[Sent]:
        """This life's creates and deletes so far."""
        out = []
        for name, server in self.servers.items():
            for request in server.requests[self.start[name] :]:
                kind = _kind(request, name)
                if kind is not None:
                    out.append(Sent(name, kind, request))
        return out

    def under_way(self) -> list[Sent]:
        return [s for s in self.sent() if not s.answered]


def _kind(request: LoggedRequest, network: str) -> str | None:
    if request.method == "POST" and re.search(CREATES[network], request.path):
        return "create"
    if request.method == "DELETE" and re.search(DELETES[network], request.path):
        return "delete"
    return None
