"""`birdbridge status` as a user sees it: on a real 80-column terminal (a pseudo-terminal, so
the program finds its width as it would in a shell), piped, and as JSON for scripts."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from birdbridge.store import NewDelivery, utcnow

from ..conftest import Rig
from .conftest import cli, spawn, wait_for, write_config

LINK = "alice.cats-2025"  # longer than the 4 cells the old table gave it ("alic" / "e")
# An error as an API might answer it, with what Rich would read as markup or an emoji code.
MARKUP_ERROR = (
    "Validation failed: text [/] is [bold]not allowed[/bold] here :id: and the rest of "
    "this sentence is long enough to need a second line on any terminal of 80 columns"
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def on_terminal(*args: str, columns: int = 80, rows: int = 24, timeout: float = 60) -> str:
    """Run ``birdbridge ARGS`` with its output on a pseudo-terminal of ``rows`` x ``columns``;
    everything it printed, ANSI codes removed, one line per printed line."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    # The size must come from the terminal: COLUMNS/LINES would override it.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [sys.executable, "-m", "birdbridge", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the program exited and closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=max(deadline - time.monotonic(), 1)) == 0, chunks
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    text = ANSI.sub("", b"".join(chunks).decode())
    return text.replace("\r\n", "\n").replace("\r", "")


def flat(text: str) -> str:
    """The words of ``text`` with single spaces: what wrapping does not change."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Staged:
    config: Path
    failed_id: int  # refused by Mastodon with MARKUP_ERROR
    fallback_id: int  # a quote of a post older than the bridge, posted with a link instead
    retry_id: int  # Mastodon answered 503: waiting to retry


def stage(rig: Rig, tmp_path: Path) -> Staged:
    """Through the real engine (`once`) and the sandboxes: a delivery failed with
    MARKUP_ERROR, one waiting to retry after a 503, a fallback taken, and X paused for
    credits."""
    config = write_config(rig, tmp_path / "birdbridge.toml", name=LINK)
    old = rig.tweet("said before the bridge")
    assert cli("once", "--config", str(config)).returncode == 0  # the first poll
    refused = rig.tweet("refuse-me please")
    quoting = rig.tweet("quoting my old self", quote_id=old["id"])
    retried = rig.tweet("retry-me please")
    statuses = {"method": "POST", "path": "^/api/v1/statuses$"}
    rig.masto.add_fault(
        kind="status",
        status=422,
        body={"error": MARKUP_ERROR},
        body_contains="refuse-me",
        **statuses,
    )
    # Every try meets the 503: the delivery waits to retry whenever status looks.
    rig.masto.add_fault(kind="status", status=503, body_contains="retry-me", times=None, **statuses)
    cli("once", "--config", str(config))
    rig.x.set_credits(0)  # X refuses every call from now on: its side is paused
    rig.toot("waits for credits")
    cli("once", "--config", str(config))
    assert rig.store.pauses(LINK).get("twitter") is not None

    def delivery_of(post: dict[str, Any]) -> int:
        found = rig.store.delivery_for(LINK, "twitter", str(post["id"]), "mastodon")
        assert found is not None
        return found.id

    return Staged(config, delivery_of(refused), delivery_of(quoting), delivery_of(retried))


def test_status_fits_80_columns_with_a_pause_a_failure_a_retry_and_a_fallback(
    rig: Rig, tmp_path: Path
) -> None:
    staged = stage(rig, tmp_path)
    text = on_terminal("status", "--config", str(staged.config))
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= 80, [ln for ln in lines if cell_len(ln) > 80]
    assert any(line.startswith(f"{LINK}: X <-> Mastodon") for line in lines)
    words = flat(text)
    # X's side: paused, why, until when and the fix, in words
    assert re.search(r"X paused until (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \(out of credits\): ", words)
    assert "Add credits in the X developer console" in words
    assert f"then run `birdbridge resume {LINK}`" in words
    # the failed delivery: which, and its error as the API wrote it (no markup, no emoji)
    assert f"#{staged.failed_id} {LINK}: X post" in words
    assert MARKUP_ERROR in words
    assert f"`birdbridge retry {staged.failed_id}` or `birdbridge skip {staged.failed_id}`" in words
    # the one waiting to retry says so, with its attempt, never "publishing"
    retry = rig.store.delivery(staged.retry_id)
    assert retry is not None and retry.attempts >= 1
    entry = words[words.index(f"#{staged.retry_id} ") :]
    assert f"attempt {retry.attempts + 1} of 8" in entry.split("#", 2)[1]
    assert "publishing" not in words
    # the fallback
    assert f"#{staged.fallback_id} {LINK}: X post" in words
    assert "quote posted as text with a link to" in words
    # no internal tokens in the default view: the cursor is a post id, shown by --verbose
    assert "cursor" not in words and "last post seen" not in words
    assert "last poll just now" in words or "min ago" in words


def test_status_before_the_first_poll_says_how_to_start(rig: Rig, tmp_path: Path) -> None:
    config = write_config(
        rig, tmp_path / "birdbridge.toml", name=LINK, direction="twitter-to-mastodon"
    )
    text = on_terminal("status", "--config", str(config))
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    assert any(line.startswith(f"{LINK}: X -> Mastodon") for line in lines)
    words = flat(text)
    assert "X waiting for the first poll" in words
    assert "no poll yet: start `birdbridge run`, or `birdbridge once`" in words
    # Mastodon is only written to on this link: never "waiting" for a poll that never comes
    assert (
        "Mastodon running posts from X are mirrored here; this link does not read Mastodon" in words
    )
    as_json = json.loads(cli("status", "--json", "--config", str(config)).stdout)
    [link] = as_json["links"]
    x, m = link["sides"]
    assert (x["network"], x["read"], x["state"]) == ("twitter", True, "waiting_for_first_poll")
    assert (m["network"], m["read"], m["state"]) == ("mastodon", False, "running")
    assert x["last_poll_at"] is None and x["counts"]["waiting"] == 0
    assert as_json["queue"] == [] and as_json["fallbacks"] == []


SIDE_KEYS = {
    "network",
    "read",
    "state",
    "last_poll_at",
    "last_post_seen",
    "last_error",
    "last_error_at",
    "pause",
    "counts",
    "next_try_at",
    "api_calls_24h",
    "credentials",
    "x_spend",
}
DELIVERY_KEYS = {
    "id",
    "link",
    "kind",
    "from",
    "source_id",
    "to",
    "state",
    "state_text",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "last_error",
    "updated_at",
}


def test_status_json_has_the_documented_shape_and_values(rig: Rig, tmp_path: Path) -> None:
    staged = stage(rig, tmp_path)
    result = cli("status", "--json", "--config", str(staged.config))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"generated_at", "links", "workers", "queue", "fallbacks"}
    assert data["workers"] == []  # no `birdbridge run` on this database
    now = datetime.fromisoformat(data["generated_at"])
    assert data["generated_at"].endswith("Z") and now.utcoffset() == timedelta(0)
    [link] = data["links"]
    assert (link["name"], link["direction"], link["in_config"]) == (LINK, "both", True)
    x, m = link["sides"]
    assert set(x) == set(m) == SIDE_KEYS
    assert (x["network"], x["state"], m["network"], m["state"]) == (
        "twitter",
        "paused",
        "mastodon",
        "running",
    )
    assert x["pause"]["kind"] == "credits" and datetime.fromisoformat(x["pause"]["until"]) > now
    assert "Add credits in the X developer console" in x["pause"]["reason"]
    assert m["pause"] is None
    # posts from X: the quote mirrored, the 503 one waiting, the refused one failed
    assert x["counts"] == {"mirrored": 1, "waiting": 1, "failed": 1, "skipped": 0}
    assert m["counts"] == {"mirrored": 0, "waiting": 1, "failed": 0, "skipped": 0}
    state = rig.store.link_state(LINK, "twitter")
    assert state is not None and x["last_post_seen"] == state.cursor
    assert x["api_calls_24h"]["calls"] > 0 and x["api_calls_24h"]["rate_limited"] == 0
    # What X billed this month: the spend of each class adds up to the month's, as the store has it
    spend, stored = x["x_spend"], rig.store.x_spend(now.date().replace(day=1)).get(LINK, {})
    assert m["x_spend"] is None and spend["budget_usd"] is None
    assert spend["by_class"] and set(spend["by_class"]) == set(stored)
    assert spend["month_usd"] == sum(line.micros for line in stored.values()) / 1_000_000
    assert spend["month_usd"] == pytest.approx(sum(c["usd"] for c in spend["by_class"].values()))
    assert spend["projected_usd"] >= spend["month_usd"] > 0
    queue = {d["id"]: d for d in data["queue"]}
    assert all(set(d) == DELIVERY_KEYS for d in queue.values())
    failed, retry = queue[staged.failed_id], queue[staged.retry_id]
    assert (failed["state"], failed["from"], failed["to"], failed["kind"]) == (
        "failed",
        "twitter",
        "mastodon",
        "post",
    )
    assert MARKUP_ERROR in failed["last_error"]  # as stored: no markup read, no emoji
    assert retry["state"] == "waiting_to_retry" and retry["attempts"] >= 1
    assert retry["max_attempts"] == 8 and "503" in retry["last_error"]
    [waiting_for_x] = [d for d in queue.values() if d["to"] == "twitter"]
    assert (waiting_for_x["from"], waiting_for_x["state"]) == ("mastodon", "pending")
    [fallback] = data["fallbacks"]
    assert (fallback["id"], fallback["state"]) == (staged.fallback_id, "done")
    assert "quote posted as text with a link to" in fallback["notes"][0]


def test_each_state_of_a_delivery_reads_as_what_it_is(rig: Rig, tmp_path: Path) -> None:
    """Staged through the store's own operations, as the deliverer calls them: only a
    delivery a worker holds right now is "publishing"; one whose try ended, or whose worker
    is gone, waits to retry, with the attempt it is at."""
    config = write_config(rig, tmp_path / "birdbridge.toml", name=LINK)
    store, now = rig.store, utcnow()

    def new(source_id: str, held: bool = False) -> NewDelivery:
        return NewDelivery("twitter", source_id, "mastodon", "{}", held=held)

    ids = ["101", "102", "103", "104", "105", "106", "107"]
    store.record_poll(
        LINK,
        "twitter",
        account_id="1",
        cursor="107",
        deliveries=[new(i, held=i == "106") for i in ids],
        now=now - timedelta(minutes=5),
    )
    d = {i: store.delivery_for(LINK, "twitter", i, "mastodon") for i in ids}
    number = {i: found.id for i, found in d.items() if found is not None}
    assert store.lease(number["102"], "worker-a", seconds=300, now=now)
    store.mark_publishing(number["102"], 0, "being sent", now=now)
    store.mark_publishing(number["103"], 0, "timed out", now=now)  # a timeout: may exist
    long_error = "the server took too long " * 12
    store.mark_retry(number["103"], long_error, now + timedelta(minutes=10), now=now)
    store.mark_retry(number["104"], "429", now - timedelta(minutes=1), refused=True, now=now)
    # a worker that died mid-publish: its claim ran out
    assert store.lease(number["105"], "worker-b", seconds=60, now=now - timedelta(minutes=4))
    store.mark_publishing(number["105"], 0, "cut off", now=now - timedelta(minutes=4))
    store.mark_failed(number["107"], "refused for good", refused=True, now=now)

    data = json.loads(cli("status", "--json", "--config", str(config)).stdout)
    states = {d["source_id"]: (d["state"], d["attempts"]) for d in data["queue"]}
    assert states == {
        "101": ("pending", 0),
        "102": ("publishing", 0),
        "103": ("waiting_to_retry", 1),
        "104": ("waiting_to_retry", 1),
        "105": ("waiting_to_retry", 0),
        "106": ("held", 0),
        "107": ("failed", 0),
    }
    [side] = [s for s in data["links"][0]["sides"] if s["network"] == "twitter"]
    assert side["counts"] == {"mirrored": 0, "waiting": 6, "failed": 1, "skipped": 0}

    piped = cli("status", "--config", str(config))  # not a terminal: nothing may be cut
    assert piped.returncode == 0, piped.stderr
    words = flat(piped.stdout)
    entries = {e.split(" ", 1)[0]: e for e in words.split("#")[1:]}

    def entry(source_id: str) -> str:
        return entries[str(number[source_id])]

    assert "publishing now" in entry("102")
    assert "publishing" not in words.replace(entry("102"), "")
    retry_at = (now + timedelta(minutes=10)).strftime("%H:%M UTC")  # a date too after 0:00
    assert "waiting to retry at" in entry("103")
    assert f"{retry_at} (attempt 2 of 8)" in entry("103")
    assert flat(long_error) in entry("103")
    assert "retried at the next pass (attempt 2 of 8)" in entry("104")
    assert "interrupted; retried at the next pass (attempt 1 of 8)" in entry("105")
    assert "held until" in entry("106")
    assert "failed: `birdbridge retry" in entry("107")
    assert "waiting for the next pass" in entry("101")

    one = cli("status", LINK, "--config", str(config))
    assert one.returncode == 0 and LINK in one.stdout
    unknown = cli("status", "nobody", "--config", str(config))
    assert unknown.returncode == 1 and "no link named 'nobody'" in unknown.stderr
    verbose = flat(cli("status", "--verbose", "--config", str(config)).stdout)
    assert "last post seen: X post 107" in verbose


def test_status_shows_the_running_worker_and_that_its_polls_keep_up(
    rig: Rig, tmp_path: Path
) -> None:
    fast = {"poll_interval": 1, "deliver_interval": 1, "lease_seconds": 3}
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge=fast)
    before = json.loads(cli("status", "--json", "--config", str(config)).stdout)
    assert before["workers"] == []  # nothing runs yet: said so
    daemon = spawn("run", "--config", str(config), log=tmp_path / "daemon.log")
    try:

        def one_worker() -> bool:
            out = cli("status", "--json", "--config", str(config))
            workers = json.loads(out.stdout)["workers"]
            return len(workers) == 1 and workers[0]["links"] == 1

        wait_for(one_worker, what="the worker's row")
        (worker,) = json.loads(cli("status", "--json", "--config", str(config)).stdout)["workers"]
        assert worker["pid"] == daemon.pid and worker["poll_interval"] == 1
        assert worker["polls_late_last_minute"] == 0
        text = cli("status", "--config", str(config)).stdout
        assert "workers: 1 worker running, holding 1 link" in text
        assert "on time" in text and str(daemon.pid) in text
    finally:
        daemon.terminate()
        assert daemon.wait(timeout=15) == 0
    after = json.loads(cli("status", "--json", "--config", str(config)).stdout)
    assert after["workers"] == []  # a clean stop takes its row away
    text = cli("status", "--config", str(config)).stdout
    assert "no `birdbridge run` is running on this database" in text
