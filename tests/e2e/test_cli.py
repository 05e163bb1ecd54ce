"""The CLI as a user runs it: a subprocess, its exit code and what it prints."""

from __future__ import annotations

import re
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from ..conftest import Rig, config_text
from .conftest import cli, write_config

MINIMAL = """
[[links]]
name = "alice"
direction = "both"

[links.twitter]
consumer_key = "${X_KEY}"
consumer_secret = "s"
access_token = "t"
access_token_secret = "ts"

[links.mastodon]
api_base_url = "https://mastodon.example"
access_token = "m"
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_lists_the_commands() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "once", "check", "status", "demo", "retry", "skip"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (MINIMAL, {}, "links[0].twitter.consumer_key: environment variable X_KEY is not set"),
        (MINIMAL.replace('"both"', '"sideways"'), {"X_KEY": "k"}, "links[0] (alice).direction"),
        (
            MINIMAL + "\n[bridge]\npoll_intervall = 5\n",
            {"X_KEY": "k"},
            "bridge.poll_intervall: unknown key",
        ),
        ("[[links]\nname=", {}, "not valid TOML"),
        (
            MINIMAL.replace("https://mastodon.example", "mastodon.example"),
            {"X_KEY": "k"},
            "links[0] (alice).mastodon.api_base_url",
        ),
    ],
)
def test_config_errors_name_file_and_key_and_exit_2(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = cli("once", "--config", str(path), env={**env, "DATABASE_URL": ""})
    assert result.returncode == 2, result.stderr
    output = " ".join(result.stderr.split())
    assert str(path) in output
    assert expected in output
    assert "Traceback" not in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = cli("status", cwd=tmp_path, env={"BIRDBRIDGE_CONFIG": ""})
    assert result.returncode == 2
    assert "birdbridge.toml: config file not found" in result.stderr


def test_check_shows_both_accounts_and_limits(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    config.chmod(0o644)  # literal tokens readable by others: warned about at start-up
    result = cli("check", "--config", str(config))
    assert "is readable by other users" in result.stderr and "chmod 600" in result.stderr
    assert result.returncode == 0, result.stderr
    assert "X: @alice" in result.stdout and "max 280 characters" in result.stdout
    assert "Mastodon: @alice@sandbox.example" in result.stdout
    assert "max 500 characters" in result.stdout
    assert rig.m_user.access_token not in result.stdout + result.stderr


def test_check_names_the_network_whose_token_is_wrong(rig: Rig, tmp_path: Path) -> None:
    text = config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url)
    path = tmp_path / "birdbridge.toml"
    path.write_text(text.replace(rig.m_user.access_token, "not-a-token"))
    result = cli("check", "--config", str(path))
    assert result.returncode == 1
    assert "Mastodon" in result.stderr and "401" in result.stderr
    assert "X: @alice" in result.stdout  # the other side still checked


def test_check_names_the_scope_the_mastodon_token_lacks(rig: Rig, tmp_path: Path) -> None:
    token = rig.masto.create_token(rig.m_user.username, ["read", "write:statuses"])
    rig.m_user = replace(rig.m_user, access_token=token)
    result = cli("check", "--config", str(write_config(rig, tmp_path / "birdbridge.toml")))
    assert result.returncode == 1
    assert "ok: token scopes: read write:statuses" in result.stdout
    assert "problem: the access token lacks the scope write:media (or write)" in result.stderr
    assert token not in result.stdout + result.stderr


def test_check_cannot_see_scopes_before_mastodon_4_3_and_says_so(rig: Rig, tmp_path: Path) -> None:
    rig.masto.set_version("4.2.10")
    result = cli("check", "--config", str(write_config(rig, tmp_path / "birdbridge.toml")))
    assert result.returncode == 0, result.stderr
    assert "ok: scopes not verified" in result.stdout


def test_once_is_a_cron_job(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    old = rig.tweet("said [before] the bridge")  # older than the link: never mirrored
    first = cli("once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    rig.tweet("from cron")
    second = cli("once", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert "mirrored 1" in second.stdout
    assert [t["content"] for t in rig.toots()] == ["<p>from cron</p>"]
    third = cli("once", "--config", str(config))
    assert third.returncode == 0 and "mirrored 0" in third.stdout
    assert len(rig.toots()) == 1 and len(rig.tweets()) == 2
    # A fallback is said, on its own line, with the post it concerns
    quoting = rig.tweet("quoting [my] old self", quote_id=old["id"])
    fourth = cli("once", "--config", str(config))
    assert fourth.returncode == 0, fourth.stderr
    assert "mirrored 1" in fourth.stdout and "fallbacks 1" in fourth.stdout
    [line] = [ln for ln in fourth.stdout.splitlines() if ln.startswith("  fallback: ")]
    assert f"X post {quoting['id']}: quote posted as text with a link to" in line
    assert old["id"] in line


def test_once_exits_1_with_a_message_when_a_network_is_down(rig: Rig, tmp_path: Path) -> None:
    text = config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url)
    path = tmp_path / "birdbridge.toml"
    path.write_text(text.replace(rig.x.url, f"http://127.0.0.1:{closed_port()}"))
    result = cli("once", "--config", str(path))
    assert result.returncode == 1
    assert "link alice:" in result.stderr and "X GET /2/users/me" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_retry_and_skip(rig: Rig, tmp_path: Path) -> None:
    config = write_config(
        rig,
        tmp_path / "birdbridge.toml",
        direction="twitter-to-mastodon",
        bridge={"max_attempts": 1},
    )
    assert cli("once", "--config", str(config)).returncode == 0
    rig.tweet("refused at first")
    rig.tweet("skipped by hand")
    rig.masto.add_fault(
        kind="status",
        status=422,
        method="POST",
        path="^/api/v1/statuses$",
        times=2,
        body={"error": "Validation failed: something"},
    )
    cli("once", "--config", str(config))
    status = cli("status", "--config", str(config))
    assert status.returncode == 0
    flat = " ".join(status.stdout.split())
    assert "alice: X -> Mastodon" in flat and "failed" in flat
    assert "Validation failed" in flat
    skipped = cli("skip", "2", "--config", str(config))
    assert skipped.returncode == 0 and "skipped" in skipped.stdout
    retried = cli("retry", "--failed", "--config", str(config))
    assert retried.returncode == 0 and "requeued 1 delivery" in retried.stdout
    assert cli("once", "--config", str(config)).returncode == 0
    assert [t["content"] for t in rig.toots()] == ["<p>refused at first</p>"]
    assert cli("retry", "99", "--config", str(config)).returncode == 1


def test_demo_runs_with_no_accounts() -> None:
    result = cli("demo", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MISMATCH" not in result.stdout and "LEAK" not in result.stdout
    assert result.stdout.count("ok ") >= 4


def test_check_verifies_the_x_token_may_post(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    result = cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "ok: access level read-write: the token may post" in result.stdout


def test_check_tells_a_read_only_x_token_before_the_first_post(rig: Rig, tmp_path: Path) -> None:
    rig.x_user = rig.x.create_user("reader", access_level="read")
    config = write_config(rig, tmp_path / "birdbridge.toml")
    result = cli("check", "--config", str(config))
    assert result.returncode == 1
    assert "the X token may only read (x-access-level: read)" in result.stderr
    assert 'App permissions to "Read and write"' in result.stderr
    assert "regenerate the access token" in result.stderr


def test_status_and_check_say_x_is_out_of_credits_and_the_fix(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    assert cli("once", "--config", str(config)).returncode == 0
    rig.x.set_credits(0)
    rig.toot("waits")
    cli("once", "--config", str(config))
    status = cli("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    flat = " ".join(status.stdout.split())
    assert re.search(r"X paused until [-\d ]*\d\d:\d\d UTC \(out of credits\)", flat)
    assert "Add credits in the X developer console" in flat
    check = cli("check", "--config", str(config))
    assert "X paused (out of credits)" in check.stdout
    assert "out of credits (402: credits depleted)" in check.stderr


def test_explain_says_what_happens_if_x_refuses_a_reply(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", policy={"reply_refused": "skip"})
    toot = rig.toot(" ".join(f"word{i}" for i in range(60)))  # two parts on X
    result = cli("explain", str(toot["url"]), "--config", str(config))
    assert result.returncode == 0, result.stderr
    flat = " ".join(result.stdout.split())
    assert "if it refuses a part as a reply, the rest of the thread is not posted on X" in flat
    assert 'reply_refused = "skip"' in flat


def test_a_token_echoed_in_an_error_is_redacted_in_the_database_the_log_and_status(
    rig: Rig, tmp_path: Path
) -> None:
    token = rig.m_user.access_token
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge={"log_format": "json"})
    assert cli("once", "--config", str(config)).returncode == 0
    rig.masto.add_fault(
        kind="status",
        status=422,
        method="POST",
        path="^/api/v1/statuses$",
        times=None,
        body={"error": f"Validation failed: token {token} is not welcome here"},
    )
    rig.tweet("meets an error that echoes the token")
    once = cli("once", "--config", str(config))
    [failed] = rig.store.deliveries(statuses=["failed"])
    assert failed.last_error is not None and token not in failed.last_error
    assert "token [redacted] is not welcome" in failed.last_error
    status = cli("status", "--config", str(config))
    assert "[redacted]" in status.stdout
    for output in (once.stdout, once.stderr, status.stdout, status.stderr):
        assert token not in output
