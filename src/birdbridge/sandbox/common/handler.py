"""The wire: a threading HTTP/1.1 server on which each exchange is read into a
:class:`Request` and its :class:`Response` written back (a file body streamed from disk).
What to answer is the sandbox's (:meth:`SandboxServer.exchange`), which the listening server
carries as ``sandbox``.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from birdbridge.sandbox.common.exchange import Request, Response


class Sandbox(Protocol):
    """What the wire needs of a sandbox (:class:`SandboxServer` is one)."""

    def exchange(self, request: Request) -> Response | None: ...

    def now(self) -> float: ...


class SandboxHTTPServer(ThreadingHTTPServer):
    """The listening socket of one sandbox; a thread per connection."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, RequestHandler)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are written separately; with keep-alive, Nagle plus delayed ACK would
    # stall every response by about 40 ms.
    disable_nagle_algorithm = True

    @property
    def sandbox(self) -> Sandbox:
        return cast(SandboxHTTPServer, self.server).sandbox

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is kept in `sandbox.requests` instead of stderr

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header every reply carries tells the server's own time (clients such as
        # Mastodon.py correct rate-limit resets with it).
        return super().date_time_string(self.sandbox.now() if timestamp is None else timestamp)

    def _handle(self) -> None:
        response = self.sandbox.exchange(self._read_request())
        if response is None:
            self.close_connection = True
            return
        if isinstance(response.body, Path):
            self._send_file(response, response.body)
        else:
            self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _read_request(self) -> Request:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        return Request(
            method=self.command,
            path=parts.path.rstrip("/") or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )

    def _send(self, response: Response) -> None:
        payload, ctype = response.encode()
        self._send_head(response, ctype, len(payload))
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_file(self, response: Response, path: Path) -> None:
        """Stream a file from disk: a large video never sits in the server's memory."""
        self._send_head(response, "application/octet-stream", path.stat().st_size)
        if self.command == "HEAD":
            return
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                self.wfile.write(chunk)

    def _send_head(self, response: Response, content_type: str, length: int) -> None:
        """Status line and headers: ``content_type`` unless the response names its own."""
        self.send_response(response.status)
        for name, value in {"Content-Type": content_type, **response.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
