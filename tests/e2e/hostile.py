"""A hostile X in front of the sandbox: a reverse proxy on 127.0.0.1 that passes every request
to the sandbox, except the token endpoint (``/2/oauth2/token``), which misbehaves as a test
asks (garbage, HTML, a huge or endless body, no access token, an odd ``expires_in``, a
redirect to another host, a hang). A second tiny server plays the other host and records what
it is sent."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

TOKEN_PATH = "/2/oauth2/token"
HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "content-encoding"}

Forward = Callable[[], tuple[int, list[tuple[str, str]], bytes]]
Behaviour = Callable[[BaseHTTPRequestHandler, bytes, Forward], None]


def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, **extra: str) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for name, value in extra.items():
        h.send_header(name.replace("_", "-"), value)
    h.end_headers()
    h.wfile.write(body)


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop = True
        self._server.shutdown()
        self._server.server_close()


class Stealer(_Server):
    """Another host (``localhost``, not ``127.0.0.1``): records every request it gets."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body.decode("latin-1"),
                    }
                )
                _send(self, 200, b'{"access_token": "stolen"}', "application/json")

            do_GET = do_POST = _any

            def log_message(self, *args: object) -> None:
                return

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def everything(self) -> str:
        return json.dumps(self.seen)


class HostileX(_Server):
    """A proxy to ``upstream`` whose token endpoint does ``behaviour`` (None: passes)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.behaviour: Behaviour | None = None
        self.token_calls = 0
        self.stop = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""

                def forward() -> tuple[int, list[tuple[str, str]], bytes]:
                    return outer._forward(self.command, self.path, dict(self.headers), body)

                if urlsplit(self.path).path == TOKEN_PATH and outer.behaviour is not None:
                    outer.token_calls += 1
                    outer.behaviour(self, body, forward)
                    self.close_connection = True
                    return
                status, headers, data = forward()
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *args: object) -> None:
                return

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=30
        )
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP | {"host"}}
        try:
            connection.request(method, path, body=body or None, headers=sent)
            reply = connection.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            connection.close()


# -- behaviours of the token endpoint ---------------------------------------------------------


def answer(status: int, body: bytes, ctype: str = "application/json", **extra: str) -> Behaviour:
    def behave(h: BaseHTTPRequestHandler, body_in: bytes, forward: Forward) -> None:
        _send(h, status, body, ctype, **extra)

    return behave


def patched(change: Callable[[dict[str, Any]], None]) -> Behaviour:
    """The sandbox's real answer (a real exchange or refresh), its JSON changed."""

    def behave(h: BaseHTTPRequestHandler, body_in: bytes, forward: Forward) -> None:
        status, _, data = forward()
        reply = json.loads(data)
        if status == 200:
            change(reply)
        _send(h, status, json.dumps(reply).encode(), "application/json")

    return behave


def redirect(status: int, location: str) -> Behaviour:
    return answer(status, b"", "text/plain", Location=location)


def hang(seconds: float) -> Behaviour:
    def behave(h: BaseHTTPRequestHandler, body_in: bytes, forward: Forward) -> None:
        time.sleep(seconds)

    return behave


def endless(step: float = 0.2, seconds: float = 120) -> Behaviour:
    """Headers at once, then a body that never ends: one space every ``step`` seconds, each
    well inside any read timeout (a slow-loris reply)."""

    def behave(h: BaseHTTPRequestHandler, body_in: bytes, forward: Forward) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(10**9))
        h.end_headers()
        h.wfile.write(b"{")
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(step)
        except OSError:
            return

    return behave
