"""A one-shot listener on 127.0.0.1 for the browser's redirect after a sign-in.

RFC 8252 (OAuth 2.0 for native apps) section 7.3: a native app receives the authorization
response on a loopback address, on a port it opens for that one request. Only the callback
path answers; the first request to it ends the listener, whatever it holds.
"""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from birdbridge.errors import ConfigError

DONE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>birdbridge</title><h1>{title}</h1><p>{text}</p>"
)


class SignInTimeout(RuntimeError):
    """Nobody came back from the authorization page in time."""


class Loopback:
    """Listen on ``http://127.0.0.1:PORT/PATH`` (port 0: any free port) for one redirect."""

    def __init__(self, port: int = 0, path: str = "/callback", host: str = "127.0.0.1") -> None:
        self.path = path
        self._answer: dict[str, str] | None = None
        self._arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != outer.path or outer._arrived.is_set():
                    self.send_error(404)
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                outer._answer = query
                failed = "error" in query or "denied" in query
                title = "Not signed in" if failed else "Signed in"
                text = (
                    "The sign-in was refused or cancelled; see the terminal."
                    if failed
                    else "birdbridge has the answer: you can close this window."
                )
                body = DONE_PAGE.format(title=html.escape(title), text=html.escape(text))
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                outer._arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                return  # the terminal shows our own lines, not the server's

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} for the sign-in's redirect ({exc.strerror}): "
                "is another `birdbridge login` running? Use another redirect port"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}{self.path}"

    def __enter__(self) -> Loopback:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        """The query of the redirect, or SignInTimeout."""
        if not self._arrived.wait(timeout):
            raise SignInTimeout(f"no answer from the authorization page within {timeout:.0f} s")
        assert self._answer is not None
        return self._answer
