"""``/healthz`` and ``/metrics`` over HTTP, for container health checks and Prometheus.

``/healthz`` answers 200 only while the scheduler runs and the database answers a query;
otherwise 503 with the reason, so an orchestrator restarts a wedged worker. It says nothing
about the links (no names, no counts): it may be reachable from outside.

The server is small on purpose: a few worker threads, a bounded queue of waiting connections
(more are closed at once), and a socket timeout, so idle or slow clients cannot pile up
threads or hold the workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client.registry import Collector

from birdbridge.metrics import QueueCollector, XSpendCollector
from birdbridge.store import Store

WORKERS = 4  # probes and scrapes are rare and quick
WAITING = 8  # connections queued for a worker; more are closed at once
SOCKET_TIMEOUT = 3.0  # seconds a client may take to send its request


class _PooledHTTPServer(HTTPServer):
    """Each connection handled by a small pool; beyond ``WAITING`` queued ones, closed."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ops-http")
        self._slots = threading.BoundedSemaphore(WORKERS + WAITING)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: drop, never queue without end
            return
        self._pool.submit(self._handle, request, client_address)

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away or timed out is nothing to report

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class OpsServer:
    def __init__(
        self,
        port: int,
        store: Store,
        scheduler_alive: Callable[[], bool],
        host: str = "127.0.0.1",
        links: list[str] | None = None,
        stalled: Callable[[], bool] = lambda: False,
        budgets: dict[str, float | None] | None = None,
        collectors: Sequence[Collector] = (),
    ) -> None:
        self.store = store
        self.scheduler_alive = scheduler_alive
        self.stalled = stalled
        self.registry = CollectorRegistry()
        self.registry.register(QueueCollector(store, links or []))
        self.registry.register(XSpendCollector(store, budgets or {}))
        for collector in collectors:
            self.registry.register(collector)
        self._httpd = _PooledHTTPServer((host, port), self._handler())

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> OpsServer:
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="ops-http",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def health(self) -> tuple[int, str]:
        if not self.scheduler_alive():
            return 503, "scheduler not running\n"
        if not self.store.ping():
            return 503, "database not answering\n"
        if self.stalled():
            return 503, "a link has not completed a cycle for several poll intervals\n"
        return 200, "ok\n"

    def metrics(self) -> bytes:
        return generate_latest(DEFAULT_REGISTRY) + generate_latest(self.registry)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = SOCKET_TIMEOUT  # StreamRequestHandler sets it on the socket

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would drown the log

            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/healthz":
                    status, text = server.health()
                    self._reply(status, text.encode(), "text/plain; charset=utf-8")
                elif self.path.split("?")[0] == "/metrics":
                    self._reply(200, server.metrics(), CONTENT_TYPE_LATEST)
                else:
                    self._reply(404, b"not found: try /healthz or /metrics\n", "text/plain")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
