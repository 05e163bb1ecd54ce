"""X OAuth 2.0 sign-ins refreshed by the bridge itself: by a running daemon, across a SIGKILL
in the middle of a refresh, and by two processes at once on one PostgreSQL database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from birdbridge.sandbox.common import FaultRule
from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox

from ..conftest import PG_ENV, PG_HINT, _drop_schema, _postgres_schema_url
from .conftest import cli, spawn, wait_for
from .signin_tools import Interactive, approve_in_browser
from .test_login import _free_port

STALE_TTL = 300.0  # under the 10 minutes birdbridge refreshes ahead: refreshed at once
TOKEN = r"/2/oauth2/token"


def _config(tmp: Path, x: XSandbox, masto: MastodonSandbox, database_url: str) -> Path:
    redirect = f"http://127.0.0.1:{_free_port()}/callback"
    x.register_redirect_uri(redirect)
    path = tmp / "birdbridge.toml"
    path.write_text(
        f"""
[bridge]
database_url = "{database_url}"
poll_interval = 1
deliver_interval = 1
log_format = "json"

[[links]]
name = "alice"
direction = "both"

[links.twitter]
api_base_url = "{x.url}"
client_id = "{x.client_id}"
redirect_uri = "{redirect}"

[links.mastodon]
api_base_url = "{masto.url}"
"""
    )
    path.chmod(0o600)
    return path


def _sign_in(config: Path, x: XSandbox, env: dict[str, str] | None = None) -> None:
    env = {**(env or {}), "X_CLIENT_SECRET": x.client_secret}
    for network in ("mastodon", "x"):
        login = Interactive(
            "login", network, "--link", "alice", "--no-browser", "-c", str(config), env=env
        )
        approve_in_browser(login.next_url())
        assert login.finish() == 0, login.text()


@pytest.fixture
def sandboxes():
    with XSandbox(access_token_ttl=STALE_TTL) as x, MastodonSandbox() as masto:
        x.create_user("alice", "Alice")
        masto.create_user("alice", "Alice")
        yield x, masto


def test_the_running_daemon_refreshes_and_keeps_mirroring(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto, f"sqlite:///{tmp_path / 'state.db'}")
    _sign_in(config, x)
    log = tmp_path / "run.log"
    daemon = spawn("run", "-c", str(config), log=log)
    try:
        wait_for(lambda: x.token_refreshes >= 3, what="three refreshes (each token is stale)")
        wait_for(lambda: "first poll of Mastodon" in log.read_text(), what="the first poll")
        masto.create_post("alice", "mirrored across refreshes")
        wait_for(
            lambda: [p["text"] for p in x.posts("alice")] == ["mirrored across refreshes"],
            what="the toot on X",
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    # Rotation: every refresh token but the newest has been used exactly once.
    refresh = [t for t in x.oauth2_tokens("alice") if t["kind"] == "refresh"]
    assert [t["state"] for t in refresh].count("active") == 1
    assert "paused" not in cli("status", "-c", str(config)).stdout


def test_a_sigkill_inside_a_refresh_keeps_the_link_working_then_asks_for_a_sign_in(
    sandboxes, tmp_path
):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto, f"sqlite:///{tmp_path / 'state.db'}")
    _sign_in(config, x)
    # X issues the new pair (the old refresh token is spent), then the reply is held back:
    # the daemon is killed before it can store the pair.
    x.add_fault(FaultRule(method="POST", path=TOKEN, kind="delay_after_commit", delay=60, times=1))
    log = tmp_path / "run.log"
    first = spawn("run", "-c", str(config), log=log)
    try:
        wait_for(lambda: x.token_refreshes == 1, what="the refresh served by X")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    x.clear_faults()

    log = tmp_path / "second.log"
    second = spawn("run", "-c", str(config), log=log)
    try:
        # The spent refresh token is refused; the current access token still works.
        wait_for(lambda: "Sign in again" in log.read_text(), what="the refused refresh said")
        wait_for(
            lambda: (
                "first poll of Mastodon" in (tmp_path / "run.log").read_text() + log.read_text()
            ),
            what="the first poll of Mastodon",
        )
        masto.create_post("alice", "still mirrored")
        wait_for(
            lambda: "still mirrored" in [p["text"] for p in x.posts("alice")],
            what="the toot on X on the old access token",
        )
        x.expire_access_tokens("alice")  # now nothing works without a new sign-in
        wait_for(
            lambda: (
                "Sign in again: `birdbridge login x --link alice`"
                in cli("status", "-c", str(config)).stdout
            ),
            what="the X side paused with the fix",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert "paused until" in cli("status", "-c", str(config)).stdout


def test_two_processes_refresh_one_sign_in_once_on_postgresql(sandboxes, tmp_path):
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_HINT)
    x, masto = sandboxes
    url, schema = _postgres_schema_url(base)
    env = {"BIRDBRIDGE_SECRET_KEY": Fernet.generate_key().decode()}
    try:
        config = _config(tmp_path, x, masto, url)
        _sign_in(config, x, env)
        x.access_token_ttl = 7200  # the refreshed token is fresh: one refresh is enough
        command = [sys.executable, "-m", "birdbridge", "once", "-c", str(config)]
        both = [
            subprocess.Popen(
                command,
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in both]
        assert [p.returncode for p in both] == [0, 0], outputs
        assert x.token_refreshes == 1, outputs
    finally:
        _drop_schema(base, schema)
