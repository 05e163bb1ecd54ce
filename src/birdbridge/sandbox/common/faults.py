"""Faults injected into a sandbox's replies: 429s, 5xx, timeouts, malformed bodies, and
"commit, then drop the connection".

A :class:`FaultRule` matches requests by method and path regex (and, optionally, body text);
the server takes the first rule due for a request (:func:`take_fault`) and lets
:func:`faulted_reply` answer in its place. Rules come from Python (``add_fault``) or from the
``/_sandbox/faults`` control API.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from birdbridge.sandbox.common.exchange import Request, Response

FAULT_KINDS = (
    "status",  # reply with `status` (and `body`), without running the handler
    "rate_limit",  # reply 429 with the network's own rate-limit headers (reset in `reset_in` s)
    "timeout",  # wait `delay` seconds, then close without a reply (handler not run)
    "malformed",  # reply 200 with a truncated JSON body (handler not run)
    "html",  # reply `status` (default 502) with an HTML error page (handler not run)
    "empty",  # reply 200 with an empty body (handler not run)
    "drop",  # close the connection without a reply (handler not run)
    "drop_after_commit",  # run the handler (so its effect is committed), then close silently
    "delay",  # wait `delay` seconds, then handle the request normally
    "delay_after_commit",  # run the handler, wait `delay` seconds, then reply (kill me now!)
)


@dataclass
class FaultRule:
    """Inject a fault into requests matching ``method`` and the ``path`` regex.

    ``times`` matching requests get the fault (``None``: all of them), after ``skip``
    matching requests went through untouched.
    """

    kind: str
    path: str = ".*"
    method: str = "*"
    times: int | None = 1
    skip: int = 0
    status: int = 500
    body: Any = None
    delay: float = 30.0
    reset_in: float = 60.0
    body_contains: str | None = None  # only requests whose body contains this text

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")
        self._pattern = re.compile(self.path)

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        if self.body_contains is not None and self.body_contains.encode() not in body:
            return False
        return (self.method in ("*", method)) and bool(self._pattern.search(path))


class Network(Protocol):
    """What a faulted reply takes from the server: its network's own bodies, and its clock."""

    def error_response(self, status: int, message: str) -> Response: ...

    def rate_limit_response(self, reset_at: float) -> Response: ...

    def now(self) -> float: ...


def take_fault(rules: list[FaultRule], method: str, path: str, body: bytes) -> FaultRule | None:
    """The first rule due for this request, its ``skip`` and ``times`` counted down (call
    with the server's lock held). Control calls (``/_sandbox/...``) are never faulted."""
    if path.startswith("/_sandbox/"):
        return None
    for rule in rules:
        if not rule.matches(method, path, body):
            continue
        if rule.skip > 0:
            rule.skip -= 1
            continue
        if rule.times is not None:
            if rule.times <= 0:
                continue
            rule.times -= 1
        return rule
    return None


def faulted_reply(
    fault: FaultRule, server: Network, request: Request, handle: Callable[[Request], Response]
) -> Response | None:
    """The reply to a faulted request (``handle`` runs the route); None: close the
    connection without one."""
    canned = _canned_reply(fault, server)
    if canned is not None:
        return canned
    kind = fault.kind
    if kind in ("timeout", "delay"):
        time.sleep(fault.delay)
        return handle(request) if kind == "delay" else None
    if kind == "drop":
        return None
    if kind == "delay_after_commit":
        response = handle(request)
        time.sleep(fault.delay)
        return response
    # drop_after_commit: the effect happens, the client never hears about it
    handle(request)
    return None


def _canned_reply(fault: FaultRule, server: Network) -> Response | None:
    """The replies that stand in for the route's without running it."""
    kind = fault.kind
    if kind == "status":
        body = fault.body
        if body is None:
            body = server.error_response(fault.status, "Injected").body
        return Response(fault.status, body)
    if kind == "rate_limit":
        return server.rate_limit_response(server.now() + fault.reset_in)
    if kind == "malformed":
        return Response(200, b'{"data": {"id": "12', {"Content-Type": "application/json"})
    if kind == "html":
        page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        status = fault.status if fault.status != 500 else 502
        return Response(status, page, {"Content-Type": "text/html"})
    if kind == "empty":
        return Response(200, b"", {"Content-Type": "application/json"})
    return None
