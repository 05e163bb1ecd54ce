"""``/healthz`` and ``/metrics`` over HTTP, for container health checks and Prometheus.

``/healthz`` answers 200 only while the scheduler runs and the database answers a query;
otherwise 503 with the reason, so an orchestrator restarts a wedged worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from birdbridge.metrics import QueueCollector
from birdbridge.store import Store


class OpsServer:
    def __init__(
        self,
        port: int,
        store: Store,
        scheduler_alive: Callable[[], bool],
        host: str = "0.0.0.0",
        links: list[str] | None = None,
    ) -> None:
        self.store = store
        self.scheduler_alive = scheduler_alive
        self.registry = CollectorRegistry()
        self.registry.register(QueueCollector(store, links or []))
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True

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
        return 200, "ok\n"

    def metrics(self) -> bytes:
        return generate_latest(DEFAULT_REGISTRY) + generate_latest(self.registry)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
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
