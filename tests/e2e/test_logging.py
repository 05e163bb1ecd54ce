"""What the daemon writes, as a log drain reads it: with JSON logs every line on standard error
is one JSON object (stamina's retries and other libraries' lines included), one failure is one
line, and a summary line says the daemon is alive, with its figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..conftest import Rig
from .conftest import cli, wait_for, write_config

# Fast cycles, and an "alive" line every second instead of every hour ([bridge] knob).
FAST = {
    "poll_interval": 1,
    "deliver_interval": 1,
    "request_timeout": 3,
    "log_format": "json",
    "summary_interval": 1,
}
TIMELINE = r"^/api/v1/accounts/\d+/statuses$"  # the Mastodon poll's read


def start_daemon(config: Path, folder: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """``birdbridge run`` with standard output and standard error in separate files."""
    out, err = folder / "stdout.log", folder / "stderr.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "birdbridge", "run", "--config", str(config)],
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return process, out, err


def lines(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` as JSON (a line that is not JSON fails the test here)."""
    text = path.read_text(encoding="utf-8")
    parsed = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"line {number} is not JSON: {line!r}") from None
        assert isinstance(record, dict), line
        parsed.append(record)
    # a line cut in the middle (the reader caught a write halfway) is not counted
    return parsed if text.endswith("\n") or not text else parsed[:-1]


def complete_lines(path: Path) -> list[dict[str, Any]]:
    """The lines written so far, tolerating one being written right now."""
    text = path.read_text(encoding="utf-8")
    whole = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in whole.splitlines()]


def alive(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event") == "alive"]


def mentioning(records: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    return [r for r in records if text in json.dumps(r)]


def test_json_logs_retries_one_line_per_failure_and_the_alive_summary(
    rig: Rig, tmp_path: Path
) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge=FAST)
    config.chmod(0o600)  # the literal tokens of the sandbox: no permission warning
    daemon, out, err = start_daemon(config, tmp_path)
    try:
        wait_for(lambda: len(alive(complete_lines(err))) >= 1, what="the first alive line")

        # A read that fails once: stamina retries it in-process, and says so.
        rig.masto.add_fault(kind="status", status=503, method="GET", path=TIMELINE)
        wait_for(
            lambda: any(r.get("logger") == "stamina" for r in complete_lines(err)),
            what="stamina's retry line",
        )
        # A read that fails every in-process try: the poll fails, logged once.
        rig.masto.add_fault(
            kind="status",
            status=503,
            method="GET",
            path=TIMELINE,
            times=3,
            body={"error": "the poll fault"},
        )
        # A post that the target refuses for good: the delivery fails, logged once.
        rig.masto.add_fault(
            kind="status",
            status=422,
            method="POST",
            path=r"^/api/v1/statuses$",
            body={"error": "Validation failed: the refusal of the test"},
        )
        rig.tweet("refused by Mastodon")
        rig.toot("mirrored to X")
        wait_for(
            lambda: mentioning(
                [r for r in complete_lines(err) if r.get("logger") != "stamina"], "the poll fault"
            ),
            what="the failed poll",
        )
        wait_for(lambda: any(t["text"] == "mirrored to X" for t in rig.tweets()), what="the mirror")
        wait_for(
            lambda: (
                sum(r["mirrored"] for r in alive(complete_lines(err))) >= 1
                and alive(complete_lines(err))[-1]["failed"] == 1
            ),
            what="an alive line counting the mirror and the failure",
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0

    records = lines(err)  # every line on stderr is JSON
    assert out.read_text() == ""  # and nothing goes to stdout (stamina's did, as console text)

    retries = [r for r in records if r.get("logger") == "stamina"]
    assert retries and retries[0]["event"] == "stamina.retry_scheduled"
    assert retries[0]["level"] == "warning" and "503" in retries[0]["caused_by"]

    others = [r for r in records if r.get("logger") != "stamina"]
    poll_failures = mentioning(others, "the poll fault")
    assert len(poll_failures) == 1, poll_failures
    refusals = mentioning(records, "the refusal of the test")
    assert len(refusals) == 1 and refusals[0]["level"] == "error", refusals

    summaries = alive(records)
    assert all(r["level"] == "info" and r["links"] == 1 for r in summaries)
    assert sum(r["mirrored"] for r in summaries) == 1  # the toot; the refused tweet is not
    assert summaries[-1]["failed"] == 1 and summaries[-1]["waiting"] == 0


def test_other_libraries_and_crashed_threads_log_json_lines(tmp_path: Path) -> None:
    """Python warnings, structlog loggers, APScheduler's and alembic's records, an exception
    that ends a thread and one that ends the program: each one JSON line, secrets redacted,
    on stderr only."""
    script = """
import logging, threading, warnings
import structlog
from birdbridge.logs import configure_logging

configure_logging("info", "json", ["s3cr3t-token"])
warnings.warn("an old API, s3cr3t-token")
structlog.get_logger("stamina").warning("stamina.retry_scheduled", retry_num=1)
logging.getLogger("apscheduler.executors.default").error("Job raised an exception")
logging.getLogger("alembic.runtime.migration").warning("a migration warning")

def crash():
    raise RuntimeError("thread died holding s3cr3t-token")

thread = threading.Thread(target=crash, name="worker-1")
thread.start()
thread.join()
raise ValueError("the main thread died too")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    (tmp_path / "stderr.log").write_text(result.stderr)
    records = lines(tmp_path / "stderr.log")
    assert result.stdout == ""
    by_logger = {r["logger"]: r for r in records}
    assert "an old API" in by_logger["py.warnings"]["event"]
    assert by_logger["stamina"]["retry_num"] == 1
    assert by_logger["apscheduler.executors.default"]["level"] == "error"
    assert by_logger["alembic.runtime.migration"]["level"] == "warning"
    crashed = by_logger["birdbridge.threads"]
    assert "worker-1" in crashed["event"] and "RuntimeError" in crashed["exception"]
    ended = by_logger["birdbridge"]
    assert ended["level"] == "critical" and "the main thread died too" in ended["exception"]
    assert result.returncode == 1
    assert "s3cr3t-token" not in result.stderr


def test_a_config_error_in_run_with_json_logs_is_not_a_traceback(tmp_path: Path) -> None:
    """Before logging is configured there is no JSON to speak of, but no traceback either."""
    config = tmp_path / "birdbridge.toml"
    config.write_text('[bridge]\nlog_format = "json"\nsummary_interval = 0\n')
    result = cli("run", "--config", str(config))
    assert result.returncode == 2
    assert "summary_interval" in result.stderr and "Traceback" not in result.stderr


def test_once_with_json_logs_says_its_warnings_and_problems_as_json(
    rig: Rig, tmp_path: Path
) -> None:
    """The config's permission warning, the engine's lines and `once`'s own "needs the
    operator" lines: with JSON logs every line on stderr is one JSON object."""
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge={"log_format": "json"})
    config.chmod(0o644)  # readable by others, with literal tokens in it: a warning
    rig.x.set_credits(0)
    result = cli("once", "--config", str(config))
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert any("is readable by other users" in r["event"] for r in records), records
    assert any(
        r["level"] == "error" and r["event"].startswith("link alice: X paused") for r in records
    )


def test_an_outage_of_one_side_is_logged_once_per_run(rig: Rig, tmp_path: Path) -> None:
    """X answers every read with 503: the poll's failure is one line (after stamina's retry
    lines), and the re-check of the same side is not tried again into the same outage."""
    config = write_config(
        rig,
        tmp_path / "birdbridge.toml",
        direction="twitter-to-mastodon",
        bridge={"log_format": "json"},
        policy={"deletes": True},
    )
    assert cli("once", "--config", str(config)).returncode == 0  # cursors
    rig.tweet("mirrored, so the re-check has something to re-read")
    assert cli("once", "--config", str(config)).returncode == 0
    assert rig.store.mirrors("alice"), "the tweet was mirrored"
    # The last re-check an hour ago: this run's is due.
    rig.store.mark_rechecked("alice", "twitter", datetime.now(UTC) - timedelta(hours=1))
    rig.x.add_fault(kind="status", status=503, method="GET", path=r"^/2/", times=None)
    result = cli("once", "--config", str(config))
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(mentioning(records, "polling X failed")) == 1, records
    assert mentioning(records, "re-checking") == [], records
