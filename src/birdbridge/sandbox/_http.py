"""A tiny routing HTTP server on 127.0.0.1 with fault injection, shared by both sandboxes.

The sandboxes must keep the real APIs' contracts over real HTTP, so this is a plain
``ThreadingHTTPServer`` (no framework): each request is parsed into a :class:`Request`,
routed by method and path regex, and the handler's :class:`Response` written back.
Faults (429, 5xx, timeouts, malformed bodies, "commit then drop the connection") are
injected per route by :class:`FaultRule`, from Python or the ``/_sandbox/faults`` control API.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

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
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """Fields of an urlencoded or multipart body (files as their raw bytes decoded latin-1)."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            return parse_qs(self.body.decode(), keep_blank_values=True)
        if ctype.startswith("multipart/form-data"):
            return {k: [v.decode("latin-1") for v in vs] for k, vs in self.multipart().items()}
        if ctype.startswith("application/json"):
            data = self.json() or {}
            return {k: (v if isinstance(v, list) else [v]) for k, v in data.items()}
        return {}

    def multipart(self) -> dict[str, list[bytes]]:
        ctype = self.headers.get("content-type", "")
        raw = b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.body
        message = BytesParser(policy=HTTP).parsebytes(raw)
        fields: dict[str, list[bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True)
                fields.setdefault(str(name), []).append(
                    payload if isinstance(payload, bytes) else b""
                )
        return fields


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str sent as is; a Path is streamed from disk
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain")
        if self.body is None and self.status == 204:
            return b"", "application/json"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(status=status, body=body, headers=dict(headers))


Handler = Callable[[Request], Response]


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
        self._httpd = ThreadingHTTPServer((host, port), self._make_handler())
        self._httpd.daemon_threads = True
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

    # -- faults ----------------------------------------------------------------------
    def add_fault(self, rule: FaultRule | None = None, **kwargs: Any) -> FaultRule:
        rule = rule or FaultRule(**kwargs)
        with self._lock:
            self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str, body: bytes = b"") -> FaultRule | None:
        if path.startswith("/_sandbox/"):
            return None
        with self._lock:
            for rule in self._faults:
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

    # -- the request handler ---------------------------------------------------------
    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately; with keep-alive, Nagle plus delayed
            # ACK would stall every response by about 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request log is kept in `server.requests` instead of stderr

            def date_time_string(self, timestamp: float | None = None) -> str:
                # The Date header every reply carries tells the server's own time (clients
                # such as Mastodon.py correct rate-limit resets with it).
                return super().date_time_string(server.now() if timestamp is None else timestamp)

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=parts.path.rstrip("/") or "/",
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                fault = server._take_fault(request.method, request.path, request.body)
                logged = LoggedRequest(
                    request.method,
                    request.path,
                    request.query,
                    None,
                    fault.kind if fault else None,
                    time.time(),
                    request if server.keep_exchanges else None,
                )
                with server._lock:
                    server.requests.append(logged)
                response = self._run(request, fault)
                if response is None:
                    self.close_connection = True
                    return
                logged.status = response.status
                if server.keep_exchanges:
                    logged.response = response
                self._send(response)

            def _run(self, request: Request, fault: FaultRule | None) -> Response | None:
                if fault is None:
                    return self._safe_dispatch(request)
                kind = fault.kind
                if kind == "status":
                    return Response(
                        fault.status,
                        fault.body
                        if fault.body is not None
                        else server.error_response(fault.status, "Injected").body,
                    )
                if kind == "rate_limit":
                    return server.rate_limit_response(server.now() + fault.reset_in)
                if kind == "timeout":
                    time.sleep(fault.delay)
                    return None
                if kind == "malformed":
                    return Response(
                        200, b'{"data": {"id": "12', {"Content-Type": "application/json"}
                    )
                if kind == "html":
                    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    return Response(
                        fault.status if fault.status != 500 else 502,
                        page,
                        {"Content-Type": "text/html"},
                    )
                if kind == "empty":
                    return Response(200, b"", {"Content-Type": "application/json"})
                if kind == "drop":
                    return None
                if kind == "delay":
                    time.sleep(fault.delay)
                    return self._safe_dispatch(request)
                if kind == "delay_after_commit":
                    response = self._safe_dispatch(request)
                    time.sleep(fault.delay)
                    return response
                # drop_after_commit: the effect happens, the client never hears about it
                self._safe_dispatch(request)
                return None

            def _safe_dispatch(self, request: Request) -> Response:
                try:
                    return server.dispatch(request)
                except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
                    return server.error_response(400, f"Bad request: {exc}")

            def _send(self, response: Response) -> None:
                if isinstance(response.body, Path):
                    self._send_file(response, response.body)
                    return
                payload, ctype = response.encode()
                self.send_response(response.status)
                headers = {"Content-Type": ctype, **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _send_file(self, response: Response, path: Path) -> None:
                """Stream a file from disk: a large video never sits in the server's memory."""
                self.send_response(response.status)
                headers = {"Content-Type": "application/octet-stream", **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(path.stat().st_size))
                self.end_headers()
                if self.command == "HEAD":
                    return
                with path.open("rb") as file:
                    while chunk := file.read(1 << 20):
                        self.wfile.write(chunk)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        return _Handler
