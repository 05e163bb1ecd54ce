"""What an operator relies on: health and metrics over HTTP, JSON logs with one line per
mirrored post, secrets that never show, pauses visible in `status` and lifted by `resume`."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
import urllib.error
import urllib.request
from pathlib import Path

from birdbridge.health import OpsServer
from birdbridge.store import Store

from ..conftest import Rig
from .conftest import cli, spawn, wait_for, write_config

FAST = {"poll_interval": 1, "deliver_interval": 1, "claim_timeout": 5, "request_timeout": 3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_health_metrics_and_json_logs(rig: Rig, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(
        rig, tmp_path / "birdbridge.toml", bridge=FAST, direction="twitter-to-mastodon"
    )
    log = tmp_path / "daemon.log"
    old = rig.tweet("older than the bridge")  # never mirrored: quoting it takes a fallback
    daemon = spawn("run", "--config", str(config), log=log, env={"PORT": str(port)})
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200, what="/healthz")
        wait_for(lambda: rig.store.link_state("alice", "twitter") is not None, what="a poll")
        tweet = rig.tweet("watched by prometheus")
        wait_for(lambda: len(rig.toots()) == 1, what="the mirror")
        # The toot exists as soon as it is published; the cycle counts it when its pass ends.
        done = 'birdbridge_deliveries_total{link="alice",outcome="done"}'
        wait_for(lambda: done in get(f"http://127.0.0.1:{port}/metrics")[1], what="the count")
        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'birdbridge_api_calls_total{network="twitter",status="200"}' in metrics
        assert 'birdbridge_polls_total{link="alice",network="twitter",outcome="ok"}' in metrics
        assert 'birdbridge_queue_pending{link="alice"} 0.0' in metrics
        assert "birdbridge_fallbacks_total{" not in metrics  # none taken yet
        rig.tweet("quoting what came before", quote_id=old["id"])
        fallback = 'birdbridge_fallbacks_total{kind="quote_link",link="alice"} 1.0'
        wait_for(lambda: fallback in get(f"http://127.0.0.1:{port}/metrics")[1], what="fallback")
        assert get(f"http://127.0.0.1:{port}/nothing")[0] == 404
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    mirrored = [r for r in records if "mirrored" in r["event"]]
    assert len(mirrored) == 2  # the first tweet, then the quote
    [fallback_line] = [r for r in records if r.get("fallback") == "quote_link"]
    assert fallback_line["link"] == "alice" and old["id"] in fallback_line["event"]
    assert mirrored[0]["link"] == "alice" and mirrored[0]["source_url"].endswith(tweet["id"])
    assert mirrored[0]["target_urls"] == [rig.toots()[0]["url"]]


def test_healthz_is_503_when_the_scheduler_is_gone(store: Store) -> None:
    alive = {"value": True}
    server = OpsServer(0, store, lambda: alive["value"], host="127.0.0.1").start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        assert get(url) == (200, "ok\n")
        alive["value"] = False
        assert get(url) == (503, "scheduler not running\n")
    finally:
        server.stop()


def test_secrets_never_show_in_logs_outputs_or_the_database(rig: Rig, tmp_path: Path) -> None:
    """Debug logging, through refused tokens, server errors and garbage: grep for the tokens."""
    secrets = [
        rig.x_user.consumer_secret,
        rig.x_user.access_token,
        rig.x_user.access_token_secret,
        rig.m_user.access_token,
    ]
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge={**FAST, "log_level": "debug"})
    rig.masto.add_fault(
        kind="status",
        status=401,
        method="POST",
        path="^/api/v1/statuses$",
        times=None,
        body={"error": "The access token is invalid"},
    )
    rig.x.add_fault(kind="malformed", method="POST", path="^/2/tweets$", times=1)
    log = tmp_path / "daemon.log"
    daemon = spawn("run", "--config", str(config), log=log)
    wait_for(lambda: rig.store.link_state("alice", "mastodon") is not None, what="a poll")
    rig.tweet("tweet meets a refused token")
    rig.toot("toot meets garbage")
    wait_for(lambda: rig.store.pauses("alice").get("mastodon") is not None, what="the pause")
    wait_for(lambda: len(rig.tweets()) >= 2, timeout=60, what="the toot after the garbage")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    outputs = [log.read_text()]
    for command in ("status", "check"):
        result = cli(command, "--config", str(config))
        outputs += [result.stdout, result.stderr]
    # `status` shows why the link is paused
    paused = " ".join(outputs[1].split())
    assert "Mastodon paused until" in paused and "(credentials refused)" in paused
    database = Path(rig.database_url.removeprefix("sqlite:///"))
    if database.exists():
        with sqlite3.connect(database) as connection:
            outputs += [
                str(row)
                for table in ("delivery", "link_state", "mirror")
                for row in connection.execute(f"SELECT * FROM {table}")
            ]
    else:  # PostgreSQL: read the rows through the store
        outputs += [repr(d) for d in rig.store.deliveries()]
        outputs += [repr(s) for s in rig.store.summaries()]
    everything = "\n".join(outputs)
    assert "access token" in everything  # the failure itself is reported...
    for secret in secrets:
        assert secret not in everything  # ...but never a token


def test_pause_shows_in_status_and_resume_lifts_it(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", direction="twitter-to-mastodon")
    assert cli("once", "--config", str(config)).returncode == 0
    rig.tweet("held by a pause")
    rig.masto.add_fault(
        kind="status",
        status=401,
        method="POST",
        path="^/api/v1/statuses$",
        body={"error": "The access token is invalid"},
    )
    first = cli("once", "--config", str(config))
    assert first.returncode == 1 and "birdbridge resume alice" in first.stderr
    status = " ".join(cli("status", "--config", str(config)).stdout.split())
    assert "Mastodon paused until" in status and "(credentials refused)" in status
    assert "lifted 1 pause of link alice" in cli("resume", "alice", "--config", str(config)).stdout
    assert cli("once", "--config", str(config)).returncode == 0
    assert len(rig.toots()) == 1
    assert cli("resume", "nobody", "--config", str(config)).returncode == 1


def test_the_ops_server_binds_this_machine_by_default_and_the_platforms_address_with_port() -> None:
    from birdbridge.config import parse_config

    text = (
        '[[links]]\nname = "a"\ndirection = "both"\n[links.twitter]\nconsumer_key = "k"\n'
        'consumer_secret = "s"\naccess_token = "t"\naccess_token_secret = "ts"\n'
        '[links.mastodon]\napi_base_url = "https://m.example"\naccess_token = "m"\n'
    )
    alone = parse_config("[bridge]\nhttp_port = 8080\n" + text, "<test>", environ={})
    assert alone.bridge.http_host is None  # served on 127.0.0.1: this machine only
    paas = parse_config(text, "<test>", environ={"PORT": "5000"})
    assert (paas.bridge.http_port, paas.bridge.http_host) == (5000, "0.0.0.0")
    image = parse_config(text, "<test>", environ={"PORT": "8080", "BIRDBRIDGE_HTTP_HOST": "::"})
    assert image.bridge.http_host == "::"


def test_idle_connections_neither_pile_up_threads_nor_block_healthz(store: Store) -> None:
    server = OpsServer(0, store, lambda: True).start()
    idle: list[socket.socket] = []
    try:
        before = threading.active_count()
        for _ in range(100):  # connect and say nothing
            idle.append(socket.create_connection(("127.0.0.1", server.port)))
        url = f"http://127.0.0.1:{server.port}/healthz"
        # The idle ones time out or are turned away, never a thread each; a probe that keeps
        # asking (as orchestrators do) gets its answer.
        wait_for(lambda: get(url, timeout=2) == (200, "ok\n"), timeout=120, what="healthz")
        assert threading.active_count() - before <= 4
    finally:
        for connection in idle:
            connection.close()
        server.stop()


def test_healthz_turns_503_when_a_link_stops_completing_cycles(rig: Rig) -> None:
    from birdbridge.daemon import Bridge
    from birdbridge.worker.scheduler import Run

    bridge = Bridge(rig.config(), rig.store)
    server = OpsServer(0, rig.store, lambda: True, stalled=bridge.stalled).start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        assert get(url) == (200, "ok\n")
        bridge._started -= 3600  # an hour without a completed cycle of the link
        status, text = get(url)
        assert status == 503 and "has not completed a cycle" in text
        assert "alice" not in text  # /healthz names no link
        bridge._run_link("alice", Run.POLL, deliver_first=True)  # a cycle completes
        assert get(url) == (200, "ok\n")
    finally:
        server.stop()
