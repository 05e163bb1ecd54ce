"""`birdbridge once` beside `birdbridge run` workers, as processes: a link a live run holds is
skipped with a line saying so (exit 0), and a `once` killed mid-run leaves nothing that a run
on the same machine has to wait for."""

from __future__ import annotations

import re
import signal
from collections import Counter
from pathlib import Path

from birdbridge.render.html import html_to_text

from ..conftest import Rig
from .conftest import cli, spawn, wait_for, write_config

FAST = {"poll_interval": 1, "deliver_interval": 1, "claim_timeout": 5, "request_timeout": 3}


def both_cursors_set(rig: Rig) -> bool:
    return all(
        (state := rig.store.link_state("alice", side)) is not None and state.cursor
        for side in ("twitter", "mastodon")
    )


def toots(rig: Rig) -> Counter[str]:
    return Counter(html_to_text(t["content"]) for t in rig.toots())


def test_once_beside_a_run_skips_its_link_with_a_line_and_exit_0(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge=FAST)
    log = tmp_path / "run.log"
    daemon = spawn("run", "--config", str(config), log=log)
    try:
        wait_for(lambda: both_cursors_set(rig), what="the first poll")
        worker = re.search(r"\(worker (\S+)\)", log.read_text())
        assert worker is not None, log.read_text()
        done = cli("once", "--config", str(config))
        assert done.returncode == 0, done.stderr
        said = " ".join(done.stdout.split())  # however the console wrapped it
        assert f"link alice: skipped: the worker {worker.group(1)}" in said, done.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    rig.tweet("after the run stopped")
    done = cli("once", "--config", str(config))  # the run let go: once runs the link now
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stdout and "mirrored 1" in done.stdout, done.stdout
    assert toots(rig) == Counter(["after the run stopped"])


def test_a_once_killed_mid_run_is_taken_over_at_once_by_a_run_here(
    rig: Rig, tmp_path: Path
) -> None:
    bridge = {"poll_interval": 1, "deliver_interval": 1, "lease_seconds": 600}
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge=bridge)
    first = cli("once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    rig.tweet("read by a once that was killed")
    # The next X read hangs: the `once` is killed while it waits (its 10-minute leases held).
    rig.x.add_fault(kind="delay", method="GET", path=r"^/2/users/\d+/tweets", delay=60)
    reads = len(rig.x.api_requests("GET", r"^/2/users/\d+/tweets"))
    cron = spawn("once", "--config", str(config), log=tmp_path / "once.log")
    wait_for(
        lambda: len(rig.x.api_requests("GET", r"^/2/users/\d+/tweets")) > reads,
        what="the once to read X",
    )
    cron.kill()
    cron.wait(timeout=10)
    held = rig.store.lease_holders(rig.store.database_now())
    assert set(held) == {"alice"}  # its lease, for ten minutes more
    daemon = spawn("run", "--config", str(config), log=tmp_path / "run.log")
    try:
        wait_for(
            lambda: "read by a once that was killed" in toots(rig),
            timeout=60,
            what="the run to take the link over and mirror the post",
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    assert toots(rig) == Counter(["read by a once that was killed"])
