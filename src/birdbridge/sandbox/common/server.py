"""The server both sandboxes are: routes, a request log, fault injection and the control API
that every sandbox has (``/_sandbox/faults``, ``/_sandbox/requests``).

A plain ``ThreadingHTTPServer`` on 127.0.0.1 (no framework): :mod:`.handler` reads each
request into a :class:`Request` and hands it to :meth:`SandboxServer.exchange`, which logs it,
applies a fault that is due (:mod:`.faults`) or routes it by method and path regex.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Self

from birdbridge.sandbox.common.exchange import Handler, Request, Response, json_response
from birdbridge.sandbox.common.faults import FaultRule, faulted_reply, take_fault
from birdbridge.sandbox.common.handler import SandboxHTTPServer


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int | None
    fault: str | None
    at: float
    # The whole exchange, kept only when the server's ``keep_exchanges`` is on (tests that
    # compare exact request bodies); off by default, so uploads are not held in memory.
    request: Request | None = None
    response: Response | None = None


class SandboxServer:
    """Routes, control API, fault injection and a request log; subclasses add the API."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[FaultRule] = []
        self._lock = threading.RLock()  # guards all server state; handlers run in threads
        self.requests: list[LoggedRequest] = []
        self.keep_exchanges = False
        self._httpd = SandboxHTTPServer((host, port), self)
        self._thread: threading.Thread | None = None
        self.route("POST", r"/_sandbox/faults", self._control_add_fault)
        self.route("DELETE", r"/_sandbox/faults", self._control_clear_faults)
        self.route("GET", r"/_sandbox/requests", self._control_requests)

    # -- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            name=type(self).__name__,
            daemon=True,
            # the default 0.5 s poll makes every stop() wait up to 0.5 s
            kwargs={"poll_interval": 0.02},
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing ---------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            allowed = True
            if method == request.method:
                request.path_params = match.groupdict()
                return handler(request)
        if allowed:
            return self.error_response(405, "Method Not Allowed")
        return self.error_response(404, "Not Found")

    def error_response(self, status: int, message: str) -> Response:
        """The network's own error shape; subclasses override."""
        return json_response({"error": message}, status)

    def rate_limit_response(self, reset_at: float) -> Response:
        """The network's own 429 with its rate-limit headers; subclasses override."""
        return json_response({"error": "Too many requests"}, 429)

    def now(self) -> float:
        """The server's clock (epoch seconds): its rate-limit windows and its ``Date``
        header. A test may make it another clock, e.g. its engine's."""
        return time.time()

    # -- one exchange ----------------------------------------------------------------
    def exchange(self, request: Request) -> Response | None:
        """Log the request and answer it, or let a fault that is due answer it; None:
        close the connection without a reply."""
        with self._lock:
            fault = take_fault(self._faults, request.method, request.path, request.body)
        logged = LoggedRequest(
            request.method,
            request.path,
            request.query,
            None,
            fault.kind if fault else None,
            time.time(),
            request if self.keep_exchanges else None,
        )
        with self._lock:
            self.requests.append(logged)
        if fault is None:
            response: Response | None = self._safe_dispatch(request)
        else:
            response = faulted_reply(fault, self, request, self._safe_dispatch)
        if response is not None:
            logged.status = response.status
            if self.keep_exchanges:
                logged.response = response
        return response

    def _safe_dispatch(self, request: Request) -> Response:
        try:
            return self.dispatch(request)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            return self.error_response(400, f"Bad request: {exc}")

    # -- faults and the request log --------------------------------------------------
    def add_fault(self, rule: FaultRule | None = None, **kwargs: Any) -> FaultRule:
        rule = rule or FaultRule(**kwargs)
        with self._lock:
            self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def api_requests(
        self, method: str | None = None, path: str | None = None
    ) -> list[LoggedRequest]:
        """Logged API requests (control calls excluded), filtered by method and path regex."""
        with self._lock:
            rows = list(self.requests)
        return [
            r
            for r in rows
            if not r.path.startswith("/_sandbox/")
            and (method is None or r.method == method)
            and (path is None or re.search(path, r.path))
        ]

    def _control_add_fault(self, request: Request) -> Response:
        try:
            rule = self.add_fault(**(request.json() or {}))
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response({"kind": rule.kind, "path": rule.path}, 201)

    def _control_clear_faults(self, request: Request) -> Response:
        self.clear_faults()
        return json_response({}, 200)

    def _control_requests(self, request: Request) -> Response:
        with self._lock:
            rows = [
                {
                    "method": r.method,
                    "path": r.path,
                    "query": r.query,
                    "status": r.status,
                    "fault": r.fault,
                }
                for r in self.requests
            ]
        return json_response(rows)
