"""`birdbridge run` as a subprocess: graceful stop, and SIGKILL mid-delivery then restart.

Every post must arrive exactly once in both directions, and nothing may echo back.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from functools import partial
from pathlib import Path

from birdbridge.render.html import html_to_text

from ..conftest import Rig
from .conftest import (
    Publishes,
    Sent,
    adopted_ids,
    lives_started,
    spawn,
    until,
    wait_for,
    write_config,
)

# Fast cycles; a crashed worker's claim runs out after 5 s; a held reply times out after 3 s.
FAST = {"poll_interval": 1, "deliver_interval": 1, "claim_timeout": 5, "request_timeout": 3}


def both_cursors_set(rig: Rig) -> bool:
    return all(
        (state := rig.store.link_state("alice", side)) is not None and state.cursor
        for side in ("twitter", "mastodon")
    )


def settled(rig: Rig) -> bool:
    """No delivery is pending or in flight."""
    return not rig.store.deliveries(statuses=["pending", "publishing"])


def tweets(rig: Rig) -> Counter[str]:
    return Counter(t["text"] for t in rig.tweets())


def toots(rig: Rig) -> Counter[str]:
    return Counter(html_to_text(t["content"]) for t in rig.toots())


def test_sigterm_stops_within_seconds_with_exit_0(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge=FAST)
    daemon = spawn("run", "--config", str(config), log=tmp_path / "daemon.log")
    wait_for(lambda: both_cursors_set(rig), what="the first poll")
    rig.tweet("mirrored while running")
    wait_for(lambda: "mirrored while running" in toots(rig), what="the mirror")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0  # within a container's 10 s grace, or it raises
    log = (tmp_path / "daemon.log").read_text()
    assert "stopped" in log
    assert rig.x_user.access_token_secret not in log and rig.m_user.access_token not in log


def test_sigkill_between_publish_and_record_then_restart(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge=FAST)
    log = tmp_path / "daemon.log"
    daemon = spawn("run", "--config", str(config), log=log)
    wait_for(lambda: both_cursors_set(rig), what="the first poll")

    # Both networks commit the next post, then hold the reply: the daemon is now between
    # the network call and its database write. Kill it there.
    rig.x.add_fault(kind="delay_after_commit", method="POST", path=r"^/2/tweets$", delay=30)
    rig.masto.add_fault(
        kind="delay_after_commit", method="POST", path=r"^/api/v1/statuses$", delay=30
    )
    rig.toot("toot A")
    rig.tweet("tweet A")
    wait_for(
        lambda: tweets(rig)["toot A"] == 1 and toots(rig)["tweet A"] == 1,
        what="both posts committed on the targets",
    )
    daemon.kill()
    daemon.wait(timeout=10)

    rig.toot("toot B")
    rig.tweet("tweet B")
    daemon = spawn("run", "--config", str(config), log=log)
    expected_tweets = {"tweet A", "tweet B", "toot A", "toot B"}
    wait_for(
        lambda: (
            settled(rig)
            and set(tweets(rig)) == expected_tweets
            and set(toots(rig)) == expected_tweets
        ),
        what="everything mirrored after the restart",
    )
    time.sleep(3)  # a few more cycles: nothing may be added now
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    assert tweets(rig) == Counter(expected_tweets), tweets(rig)
    assert toots(rig) == Counter(expected_tweets), toots(rig)
    assert "recovered after an interruption" in log.read_text()


def started(log: Path, lives: int) -> bool:
    return lives_started(log) >= lives


MID_PUBLISH_KILLS = 4  # the kills end when this many landed while an answer was held
MAX_LIVES = 12  # ... and the test fails if that takes more lives than this


def test_random_sigkills_while_posts_keep_coming(rig: Rig, tmp_path: Path) -> None:
    """Each daemon life is killed once it runs and publishes (a few hundred ms into the
    network's hold, at random); every post committed while its publisher died waiting for the
    answer must be adopted by a later life, and everything must arrive exactly once."""
    config = write_config(rig, tmp_path / "birdbridge.toml", bridge=FAST)
    log = tmp_path / "daemon.log"
    rng = random.Random(20261124)
    publishes = Publishes(rig)
    # The networks commit, then hold the answer 0.5 s: a kill then leaves a post published
    # and not recorded.
    rig.x.add_fault(
        kind="delay_after_commit", method="POST", path=r"^/2/tweets$", delay=0.5, times=None
    )
    rig.masto.add_fault(
        kind="delay_after_commit", method="POST", path=r"^/api/v1/statuses$", delay=0.5, times=None
    )
    daemon = spawn("run", "--config", str(config), log=log)
    wait_for(lambda: both_cursors_set(rig), what="the first poll")
    written: set[str] = set()
    held: list[list[Sent]] = []  # per kill, the requests its daemon died waiting for
    for life in range(1, MAX_LIVES + 1):
        # Not during its imports: once it runs ...
        wait_for(partial(started, log, life), what=f"start-up {life}")
        for n in range(2):
            text = f"life {life} post {n} from {'X' if n % 2 == 0 else 'M'}"
            (rig.tweet if n % 2 == 0 else rig.toot)(text)
            written.add(text)
        # ... and publishes (a life with nothing under way after 20 s is killed anyway).
        until(lambda: bool(publishes.under_way()), timeout=20)
        time.sleep(rng.uniform(0, 0.3))
        daemon.kill()
        daemon.wait(timeout=10)
        held.append(publishes.under_way())
        publishes.new_life()
        daemon = spawn("run", "--config", str(config), log=log)
        if sum(1 for h in held if any(s.kind == "create" for s in h)) >= MID_PUBLISH_KILLS:
            break
    wait_for(
        lambda: settled(rig) and set(tweets(rig)) == written and set(toots(rig)) == written,
        what="everything mirrored after the kills",
    )
    time.sleep(3)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    assert tweets(rig) == Counter(written), tweets(rig)
    assert toots(rig) == Counter(written), toots(rig)
    owed = [[i for s in h if (i := s.committed_id()) is not None] for h in held]
    assert sum(1 for ids in owed if ids) >= MID_PUBLISH_KILLS, owed  # not out of lives
    adopted = adopted_ids(log)
    assert [i for ids in owed for i in ids if i not in adopted] == [], (owed, adopted)
