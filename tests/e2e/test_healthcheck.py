"""``python -m birdbridge.healthcheck`` as Docker runs it: a subprocess asking a real HTTP
server on 127.0.0.1, with the port taken from the config as ``birdbridge run`` takes it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Variables of the environment that choose or change the config: the probe must see only ours.
CONFIG_VARIABLES = (
    "BIRDBRIDGE_CONFIG",
    "BIRDBRIDGE_CONFIG_TOML",
    "PORT",
    "BIRDBRIDGE_HTTP_HOST",
    "DATABASE_URL",
    "BIRDBRIDGE_DATABASE_URL",
)

LINK = """
[[links]]
name = "alice"
direction = "both"

[links.twitter]
consumer_key = "ck"
consumer_secret = "cs"
access_token = "at"
access_token_secret = "as"

[links.mastodon]
api_base_url = "https://mastodon.example"
access_token = "mt"
"""


class FakeDaemon:
    """A real HTTP server that answers ``/healthz`` with ``status`` and records the paths."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"ok"
        self.paths: list[str] = []
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                daemon.paths.append(self.path)
                self.send_response(daemon.status)
                self.send_header("Content-Length", str(len(daemon.body)))
                self.end_headers()
                self.wfile.write(daemon.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def __enter__(self) -> FakeDaemon:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    with FakeDaemon() as server:
        yield server


def free_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "birdbridge.healthcheck"],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_config(folder: Path, bridge: str) -> None:
    (folder / "birdbridge.toml").write_text(f"[bridge]\n{bridge}\n{LINK}")


def test_healthy_daemon_exits_0_after_asking_healthz(tmp_path: Path, daemon: FakeDaemon) -> None:
    write_config(tmp_path, f"http_port = {daemon.port}")
    result = probe(tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert daemon.paths == ["/healthz"]


def test_a_503_exits_1_with_the_reason_on_one_line(tmp_path: Path, daemon: FakeDaemon) -> None:
    daemon.status, daemon.body = 503, b"scheduler not running\n"
    write_config(tmp_path, f'http_port = {daemon.port}\nhttp_host = "0.0.0.0"')
    result = probe(tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "503" in result.stderr and "scheduler not running" in result.stderr


def test_nothing_listening_exits_1(tmp_path: Path) -> None:
    port = free_port()
    write_config(tmp_path, f"http_port = {port}")
    result = probe(tmp_path)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "no answer" in result.stderr


def test_http_port_in_the_file_wins_over_port(tmp_path: Path, daemon: FakeDaemon) -> None:
    # The image sets PORT=8080; a config with its own http_port is served there (config.py),
    # so the probe must ask that port, not $PORT.
    write_config(tmp_path, f"http_port = {daemon.port}")
    result = probe(tmp_path, PORT=str(free_port()))
    assert (result.returncode, result.stderr) == (0, "")


def test_port_is_used_when_the_file_names_none(tmp_path: Path, daemon: FakeDaemon) -> None:
    # PORT alone means http_host 0.0.0.0 (config.py): the probe connects to 127.0.0.1.
    write_config(tmp_path, 'database_url = "sqlite:///x.db"')
    result = probe(tmp_path, PORT=str(daemon.port))
    assert (result.returncode, result.stderr) == (0, "")
    assert daemon.paths == ["/healthz"]


def test_the_whole_config_in_the_environment_is_read(tmp_path: Path, daemon: FakeDaemon) -> None:
    text = f"[bridge]\nhttp_port = {daemon.port}\n{LINK}"
    result = probe(tmp_path, BIRDBRIDGE_CONFIG_TOML=text)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_missing_config_exits_2(tmp_path: Path) -> None:
    result = probe(tmp_path)
    assert result.returncode == 2
    assert "birdbridge.toml" in result.stderr and "not found" in result.stderr


def test_a_config_without_http_exits_2_naming_the_fix(tmp_path: Path) -> None:
    write_config(tmp_path, "poll_interval = 60")
    result = probe(tmp_path)
    assert result.returncode == 2
    assert "http_port" in result.stderr and "PORT" in result.stderr
