"""`once` and `check` exit codes, as a cron job or a monitor reads them: 0 fine, 1 something
needs the operator (one line per reason on stderr), 2 a configuration problem."""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import Rig, config_text
from .conftest import cli, write_config

MASTODON_TIMELINE = r"^/api/v1/accounts/\d+/statuses$"


def operator_lines(stderr: str) -> list[str]:
    """What `once` said the operator must do: its own error lines (logged, so one JSON object
    each when stderr is not a terminal), apart from the engine's log lines."""
    said = []
    for line in stderr.splitlines():
        entry = json.loads(line)  # with JSON logs, every line on stderr is JSON
        if entry.get("logger") == "birdbridge.cli" and entry.get("level") == "error":
            said.append(entry["event"])
    return said


def started(rig: Rig, path: Path, **kwargs: object) -> Path:
    """A config whose first `once` (which only records the cursors) went through."""
    config = write_config(rig, path, **kwargs)
    first = cli("once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    return config


def test_the_help_texts_list_the_exit_codes() -> None:
    for command in ("once", "check"):
        text = " ".join(cli(command, "--help").stdout.split())
        assert "Exit codes: 0" in text, text
        assert "1 something needs the operator" in text and "2 a configuration problem" in text


def test_a_delivery_failed_for_good_exits_1_in_the_run_it_failed_in(
    rig: Rig, tmp_path: Path
) -> None:
    config = started(
        rig,
        tmp_path / "birdbridge.toml",
        direction="twitter-to-mastodon",
        bridge={"max_attempts": 1},
    )
    rig.masto.add_fault(
        kind="status",
        status=422,
        method="POST",
        path="^/api/v1/statuses$",
        times=1,
        body={"error": "Validation failed: [links.mastodon] :id: [/]"},
    )
    rig.tweet("refused for good")
    failing = cli("once", "--config", str(config))
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "link alice: 1 delivery failed for good: `birdbridge status` says why" in failing.stderr
    assert "Traceback" not in failing.stderr
    # Said once: the next run meets nothing new (status keeps the failed delivery).
    later = cli("once", "--config", str(config))
    assert later.returncode == 0, later.stderr
    assert "failed for good" not in later.stderr


def test_x_out_of_credits_exits_1_in_every_run_while_paused(rig: Rig, tmp_path: Path) -> None:
    config = started(rig, tmp_path / "birdbridge.toml")
    rig.x.set_credits(0)
    rig.toot("waits for credits")
    for _ in range(2):  # the pause lasts: each run could not do X's side
        result = cli("once", "--config", str(config))
        assert result.returncode == 1, result.stdout + result.stderr
        [line] = [ln for ln in operator_lines(result.stderr) if "paused" in ln]
        assert line.startswith("link alice: X paused (out of credits) until ")
        assert "Add credits in the X developer console" in line
    assert rig.store.pauses("alice")["twitter"].paused_kind == "credits"


def test_refused_mastodon_credentials_exit_1_naming_the_side(rig: Rig, tmp_path: Path) -> None:
    text = config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url)
    config = tmp_path / "birdbridge.toml"
    config.write_text(text.replace(rig.m_user.access_token, "revoked-token"))
    result = cli("once", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    flat = " ".join(result.stderr.split())
    assert "link alice: Mastodon paused (credentials refused) until" in flat and "401" in flat
    assert "revoked-token" not in result.stdout + result.stderr  # a secret, redacted
    # One line per reason: the poll's error is the pause's reason, not said twice. (The
    # engine's log line, also on stderr, is not one of the command's own lines.)
    said = operator_lines(result.stderr)
    assert len(said) == 1 and "Check the tokens in [links.mastodon]" in said[0], said


def test_a_rate_limit_pause_passes_by_itself_and_exits_0(rig: Rig, tmp_path: Path) -> None:
    config = started(rig, tmp_path / "birdbridge.toml")
    rig.masto.add_fault(kind="rate_limit", method="GET", path=MASTODON_TIMELINE, reset_in=600)
    result = cli("once", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert rig.store.pauses("alice")["mastodon"].paused_kind == "rate_limit"
    assert "paused" not in result.stderr
    assert "Mastodon paused (rate limited) until " in result.stdout  # said, on stdout
    assert "it resumes by itself" in result.stdout


def test_one_x_endpoint_at_its_rate_limit_waits_for_its_reset_and_exits_0(
    rig: Rig, tmp_path: Path
) -> None:
    """X limits each endpoint on its own: a 429 on the timeline read makes the next poll wait
    for that endpoint's reset (no pause of the side), which needs nobody."""
    config = started(rig, tmp_path / "birdbridge.toml")
    rig.x.add_fault(kind="rate_limit", method="GET", path=r"^/2/users/\d+/tweets$", reset_in=600)
    result = cli("once", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting for a rate limit" in result.stdout and "429" in result.stdout
    assert "twitter" not in rig.store.pauses("alice")  # not a pause: other endpoints go on


def test_a_network_that_cannot_be_reached_exits_1(rig: Rig, tmp_path: Path) -> None:
    config = started(rig, tmp_path / "birdbridge.toml")
    rig.masto.add_fault(kind="status", status=503, method="GET", path=MASTODON_TIMELINE, times=None)
    result = cli("once", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "link alice: " in result.stderr and "503" in result.stderr


def test_once_and_check_exit_2_on_a_configuration_problem(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", policy={"deletes": "yes"})
    for command in ("once", "check"):
        result = cli(command, "--config", str(config))
        assert result.returncode == 2, result.stdout + result.stderr
        assert 'policy.deletes: must be true or false (without quotes), not "yes"' in result.stderr
        assert "Traceback" not in result.stderr
    unusable = write_config(rig, tmp_path / "memory.toml")
    unusable.write_text(unusable.read_text().replace(rig.database_url, "sqlite://"))
    for command in ("once", "check"):
        result = cli(command, "--config", str(unusable))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "is a database in memory" in result.stderr


def test_check_exits_1_when_x_is_out_of_credits(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    rig.x.set_credits(0)
    result = cli("check", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "out of credits" in result.stderr
    assert "Mastodon: @alice@sandbox.example" in result.stdout  # the other side still fine


def test_the_x_budget_pause_waits_for_the_next_month_and_exits_0(rig: Rig, tmp_path: Path) -> None:
    """A budget is the operator's own choice: reaching it is not an error (cron would mail it
    every run until the 1st), but every run says so, and `check` shows the budget and spend."""
    config = started(rig, tmp_path / "birdbridge.toml")
    text = config.read_text()
    # $0.02: the account's identity check ($0.01, already spent) and one plain post do not fit.
    config.write_text(
        text.replace("[links.twitter]\n", "[links.twitter]\nmonthly_budget_usd = 0.02\n")
    )
    rig.toot("over the budget")
    for _ in range(2):
        result = cli("once", "--config", str(config))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "X paused (X budget reached) until " in result.stdout
        assert "it resumes by itself" in result.stdout
    assert rig.tweets() == []  # nothing was written to X
    pause = rig.store.pauses("alice")["twitter"]
    assert pause.paused_kind == "budget" and pause.paused_until is not None
    assert (pause.paused_until.day, pause.paused_until.hour) == (1, 0)
    checked = cli("check", "--config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    flat = " ".join(checked.stdout.split())
    assert "X paused (X budget reached)" in flat and "monthly budget $0.02;" in flat
