"""Attacks on the X cost meter and the monthly budget (networks/x_prices.py, x_billing.py,
store/spend.py, engine/budget.py, the adaptive polling of engine/link.py): crafted and hostile
X replies, writes that fail or whose reply is lost, the budget's edges, the month boundary, a
clock that steps back, two engines on one budget, odd configs and odd stored spend.

A case the code survives is a plain test (it guards against regressions); a case that shows a
bug is a strict xfail whose reason says what goes wrong. Runs on SQLite, and on PostgreSQL when
BIRDBRIDGE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy

from birdbridge.config import parse_config
from birdbridge.engine import LinkEngine
from birdbridge.engine.budget import XBudget
from birdbridge.errors import ConfigError
from birdbridge.models import Charge
from birdbridge.networks.factory import build_adapters
from birdbridge.networks.x_billing import XBilling
from birdbridge.store import Store
from birdbridge.store.spend import SpendLine

from ..conftest import Rig, config_text
from .test_media import picture
from .test_x_costs import (
    MASTODON_TIMELINE,
    TIMELINE,
    make_engine,
    noon,
    set_clock,
    spend,
    toot_texts,
    tweet_texts,
    units,
)

POST_TWEETS = r"^/2/tweets$"


def page(ids: list[Any], *, users: list[dict[str, Any]] | None = None, **meta: Any) -> dict:
    """An own-timeline page: posts with these ids (kept as given: any JSON), and users."""
    body: dict[str, Any] = {
        "data": [{"id": i, "text": f"post {n}"} for n, i in enumerate(ids)],
        "meta": {"result_count": len(ids), **meta},
    }
    if users is not None:
        body["includes"] = {"users": users}
    return body


def polled_x_engine(rig: Rig, **kwargs: Any) -> Any:
    """An engine of an X -> Mastodon link whose first poll (the cursor) is done, at noon UTC."""
    noon(rig)
    engine = make_engine(rig, "twitter-to-mastodon", **kwargs)
    engine.cycle()
    assert units(rig) == {"user_read": 1}  # GET /2/users/me; the first page is empty
    return engine


# -- 1. crafted X replies ---------------------------------------------------------------------


def test_a_crafted_page_of_odd_ids_and_300_users_is_billed_per_distinct_resource(
    rig: Rig,
) -> None:
    engine = polled_x_engine(rig)
    odd = ["11", "11", None, {"nested": 1}, ["x"], "9x" * 100, "ünïcode", True, 1.5, "-3"]
    body = page(odd, users=[{"id": str(1000 + n)} for n in range(300)], newest_id="11")
    body["data"].append({"text": "a post with no id at all"})
    rig.x.add_fault(kind="status", status=200, method="GET", path=TIMELINE, body=body)
    report = engine.cycle()
    assert not report.errors  # the malformed posts are skipped, the cycle goes on
    # ten ids of which "11" twice: nine distinct resources; the post with no id is not
    # billed; 300 users at the user rate (the account's own was billed by the first poll)
    assert units(rig) == {"user_read": 301, "owned_read": 9}
    assert spend(rig)["owned_read"].calls == 1
    assert toot_texts(rig) == ["post 0"]  # "11", the one well-formed post
    # the same page again the same UTC day: nothing more is billed, the meter still works
    rig.x.add_fault(kind="status", status=200, method="GET", path=TIMELINE, body=body)
    engine.cycle()
    assert units(rig) == {"user_read": 301, "owned_read": 9}
    rig.tweet("a real one")
    engine.cycle()
    assert toot_texts(rig) == ["post 0", "a real one"]
    assert units(rig)["owned_read"] == 10


def test_a_huge_post_id_in_one_reply_does_not_stop_the_x_polls_for_good(rig: Rig) -> None:
    engine = polled_x_engine(rig)
    huge = "9" * 30
    rig.x.add_fault(
        kind="status", status=200, method="GET", path=TIMELINE, body=page([huge], newest_id=huge)
    )
    engine.cycle()
    assert units(rig) == {"user_read": 1, "owned_read": 1}  # the meter copes
    rig.tweet("after the huge id")
    report = engine.cycle()
    assert not report.errors, report.errors
    assert "after the huge id" in toot_texts(rig)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 200, "body": [1, 2, 3]},  # a JSON list
        {"kind": "status", "status": 200, "body": "null"},
        {"kind": "malformed"},  # truncated JSON
        {"kind": "empty"},
        {"kind": "html", "status": 200},
        {"kind": "status", "status": 200, "body": {"data": "not a list", "meta": {}}},
    ],
    ids=["list", "null", "truncated", "empty", "html", "data-a-string"],
)
def test_a_garbage_poll_reply_bills_nothing_and_the_meter_goes_on(
    rig: Rig, fault: dict[str, Any]
) -> None:
    engine = polled_x_engine(rig)
    rig.x.add_fault(method="GET", path=TIMELINE, **fault)
    engine.cycle()  # an error for this poll, never a crash
    assert units(rig) == {"user_read": 1}
    rig.tweet("after the garbage")
    engine.cycle()
    assert toot_texts(rig) == ["after the garbage"]
    assert units(rig) == {"user_read": 1, "owned_read": 1}


def test_a_nul_byte_in_a_read_id_does_not_stop_the_meter(rig: Rig) -> None:
    """PostgreSQL refuses NUL in text: such an id is hashed, so the meter goes on."""
    engine = polled_x_engine(rig)
    rig.x.add_fault(kind="status", status=200, method="GET", path=TIMELINE, body=page(["12\x0034"]))
    engine.cycle()
    rig.tweet("after the nul")
    engine.cycle()
    assert toot_texts(rig) == ["after the nul"]
    assert units(rig) == {"user_read": 1, "owned_read": 2}


# -- 2. writes that fail ------------------------------------------------------------------------


def to_x_engine(rig: Rig, **kwargs: Any) -> Any:
    """An engine of a Mastodon -> X link, first cycle done (X not read: nothing billed)."""
    noon(rig)
    engine = make_engine(rig, "mastodon-to-twitter", **kwargs)
    engine.cycle()
    assert units(rig) == {}
    return engine


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 400},
        {"kind": "rate_limit"},
        {"kind": "html", "status": 502},
    ],
    ids=["503", "500", "400", "429", "html-502"],
)
def test_a_refused_or_failed_post_is_not_billed(rig: Rig, fault: dict[str, Any]) -> None:
    engine = to_x_engine(rig)
    rig.x.add_fault(method="POST", path=POST_TWEETS, **fault)
    rig.toot("refused once")
    engine.cycle()
    assert rig.tweets() == []
    assert "post" not in units(rig)
    assert rig.x.spent_usd == 0  # X (the sandbox) billed nothing either


def test_a_post_whose_connection_dropped_is_counted_until_x_answers(rig: Rig) -> None:
    """No reply at all: X may have made the post (and billed it), and nothing says otherwise,
    so the meter counts it -- on the side of stopping early. The sandbox made nothing here, so
    this over-counts one post: the price of never under-counting one X did make."""
    engine = to_x_engine(rig)
    rig.x.add_fault(method="POST", path=POST_TWEETS, kind="drop")
    rig.toot("dropped once")
    engine.cycle()
    assert rig.tweets() == [] and rig.x.spent_usd == 0
    assert units(rig) == {"post": 1}


def test_a_2xx_with_no_body_to_a_post_is_billed_and_the_retry_too(rig: Rig) -> None:
    """X answered 200 with nothing: the adapter cannot read the id (a Transient), the post is
    retried. The meter billed the empty 2xx as a post (it cannot tell), and the retry again:
    counted on the side of stopping early, never under."""
    engine = to_x_engine(rig)
    rig.x.add_fault(kind="empty", method="POST", path=POST_TWEETS)
    rig.toot("an empty 200")
    report = engine.cycle()
    assert report.delivered.retried == 1 and rig.tweets() == []
    assert units(rig) == {"post": 1}
    rig.clock.advance(minutes=5)
    engine.cycle()
    assert tweet_texts(rig) == ["an empty 200"]
    assert units(rig)["post"] == 2
    assert spend(rig)["post"].micros == 30_000


def test_a_post_made_whose_reply_was_lost_is_billed(rig: Rig) -> None:
    engine = to_x_engine(rig)
    rig.x.add_fault(kind="drop_after_commit", method="POST", path=POST_TWEETS)
    rig.toot("made, reply lost")
    engine.cycle()
    rig.clock.advance(minutes=5)
    engine.cycle()  # the retry finds the post already there and adopts it
    assert tweet_texts(rig) == ["made, reply lost"]
    # the post is adopted (recovery finds it); a resend, if any, is refused as a duplicate
    # (403: not billed)
    first, *resent = rig.x.api_requests("POST", POST_TWEETS)
    assert first.status is None and all(r.status == 403 for r in resent)
    assert rig.x.spent_usd >= 0.015  # X billed the post it made
    assert units(rig).get("post") == 1, units(rig)


# -- 3. the guard at its edges ------------------------------------------------------------------


def budget(usd: float) -> dict[str, Any]:
    return {"monthly_budget_usd": usd}


def x_pause_kind(rig: Rig) -> str | None:
    pause = rig.store.pauses("alice", rig.clock()).get("twitter")
    return None if pause is None else pause.paused_kind


def test_a_budget_of_exactly_one_post_lets_that_post_go(rig: Rig) -> None:
    """The boundary is inclusive: spent + price <= budget. A second post is refused. The
    account is read ($0.01, once a day) before the first post is judged: it is in the sum."""
    engine = to_x_engine(rig, twitter=budget(0.025))
    rig.toot("exactly the budget")
    engine.cycle()
    assert tweet_texts(rig) == ["exactly the budget"]
    rig.toot("one too many")
    engine.cycle()
    assert tweet_texts(rig) == ["exactly the budget"]
    assert x_pause_kind(rig) == "budget"


def test_a_budget_of_exactly_one_post_is_not_overspent(rig: Rig) -> None:
    engine = to_x_engine(rig, twitter=budget(0.025))
    rig.toot("exactly the budget")
    engine.cycle()
    assert tweet_texts(rig) == ["exactly the budget"]
    assert rig.store.x_month_micros("alice", rig.clock()) == 25_000  # the account read + it


def test_a_budget_below_the_account_read_and_one_post_posts_nothing(rig: Rig) -> None:
    engine = to_x_engine(rig, twitter=budget(0.015))
    rig.toot("one post, but the account read comes first")
    engine.cycle()
    assert tweet_texts(rig) == [] and x_pause_kind(rig) == "budget"
    assert rig.store.x_month_micros("alice", rig.clock()) <= 15_000


def test_a_budget_of_zero_reads_and_writes_nothing_on_x(rig: Rig) -> None:
    noon(rig)
    engine = make_engine(rig, "both", twitter=budget(0.0))
    rig.tweet("never read")
    engine.cycle()
    rig.toot("never written to x")
    engine.cycle()
    assert rig.x.api_requests() == []  # not one call: no read, no write
    assert x_pause_kind(rig) == "budget"
    assert rig.store.x_month_micros("alice", rig.clock()) == 0
    assert toot_texts(rig) == ["never written to x"]  # the Mastodon side goes on
    [delivery] = rig.store.deliveries("alice")
    assert delivery.status == "pending" and delivery.attempts == 0


LONG = " ".join(f"Sentence {n} of a long post that needs three parts on X." for n in range(11))


def test_a_thread_of_three_where_two_would_fit_is_not_started(rig: Rig) -> None:
    # three parts: $0.045; the budget holds two and the account read ($0.04)
    engine = to_x_engine(rig, twitter=budget(0.04))
    rig.toot(LONG)
    engine.cycle()
    assert rig.x.api_requests("POST") == []
    assert x_pause_kind(rig) == "budget"
    [delivery] = rig.store.deliveries("alice")
    assert delivery.status == "pending" and delivery.attempts == 0
    assert "$0.045" in (delivery.last_error or "")  # the whole thread's price is said
    # a raised budget and a restart: the whole thread goes out
    rig.store.resume("alice")
    make_engine(rig, "mastodon-to-twitter", twitter=budget(1.0)).cycle()
    assert len(rig.tweets()) == 3


MP4 = (Path(__file__).parents[1] / "fixtures" / "tiny.mp4").read_bytes()


def test_a_video_and_pictures_that_need_two_posts_are_not_left_half_made(rig: Rig) -> None:
    # the estimate: 1 post + 3 video upload calls + 1 status check + 2 pictures = $0.095;
    # what it takes: 2 posts ($0.03), 5 upload calls, the status check(s), the account read
    engine = to_x_engine(rig, twitter=budget(0.11))
    rig.masto.create_post(
        rig.m_user.username,
        "mixed",
        media=[
            {"type": "video", "data": MP4},
            {"type": "image", "data": picture(color="green")},
            {"type": "image", "data": picture(color="blue")},
        ],
    )
    engine.cycle()
    made = len(rig.tweets())
    assert made in (0, 2), f"{made} of the 2 posts made, then {x_pause_kind(rig)!r}"


def test_a_media_fallback_that_adds_a_url_is_foreseen_by_the_estimate(rig: Rig) -> None:
    # the estimate: a post and two pictures, $0.045; what it takes: one picture and a post
    # with a URL, $0.215
    engine = to_x_engine(rig, twitter=budget(0.1), policy={"media_fallback": "link"})
    toot = rig.toot(
        "two pictures",
        media=[
            {"type": "image", "data": picture(color="green")},
            {"type": "image", "data": picture(color="blue")},
        ],
    )
    gone = urlsplit(toot["media_attachments"][1]["url"]).path
    rig.masto.add_fault(kind="status", status=404, method="GET", path=re.escape(gone), times=None)
    engine.cycle()
    uploads = len(rig.x.api_requests("POST", r"^/2/media/upload"))
    made = tweet_texts(rig)
    assert uploads == 0 or made, f"{uploads} picture(s) uploaded, no post, {x_pause_kind(rig)!r}"


def test_a_deletion_is_mirrored_when_the_budget_is_spent(rig: Rig) -> None:
    # the post ($0.015) and the account read ($0.01) spend the budget exactly
    engine = to_x_engine(rig, twitter=budget(0.025), policy={"deletes": True})
    toot = rig.toot("regretted at once")
    engine.cycle()
    assert tweet_texts(rig) == ["regretted at once"]
    assert rig.store.x_month_micros("alice", rig.clock()) == 25_000
    rig.masto.delete_post(toot["id"])
    rig.clock.advance(minutes=16)  # past recheck_interval: Mastodon is re-read, the deletion queued
    engine.cycle()
    deletes = [d for d in rig.store.deliveries("alice") if d.kind == "delete"]
    assert len(deletes) == 1  # it was found and queued ...
    assert tweet_texts(rig) == [], (x_pause_kind(rig), deletes[0].last_error)  # ... and made


def test_a_repost_that_does_not_fit_is_not_sent(rig: Rig) -> None:
    """A boost of one's own mirrored post is a native repost ($0.015): refused before it is
    sent when it does not fit, and made once the budget is raised."""
    engine = to_x_engine(rig, twitter=budget(0.03))
    toot = rig.toot("mirrored, then boosted")
    engine.cycle()
    assert rig.store.x_month_micros("alice", rig.clock()) == 25_000
    rig.masto.create_post(rig.m_user.username, "", reblog_of=toot["id"])
    engine.cycle()
    assert rig.x.api_requests("POST", r"^/2/users/\d+/retweets$") == []
    assert x_pause_kind(rig) == "budget"
    rig.store.resume("alice")
    make_engine(rig, "mastodon-to-twitter", twitter=budget(1.0)).cycle()
    assert len(rig.x.api_requests("POST", r"^/2/users/\d+/retweets$")) == 1
    assert units(rig)["repost"] == 1


LONG_EDITED = LONG.replace("long post", "long edited post")


def test_an_edit_of_a_thread_is_not_left_half_made(rig: Rig) -> None:
    premium = rig.x.create_user("carol", "Carol", premium=True)  # X edits need Premium
    rig = replace(rig, x_user=premium)
    # the thread ($0.045) and the account read ($0.01): $0.055; two edits more fit, not three
    engine = to_x_engine(rig, twitter=budget(0.085))
    toot = rig.toot(LONG)
    engine.cycle()
    assert len(rig.tweets()) == 3
    rig.masto.edit_post(toot["id"], LONG_EDITED)
    rig.clock.advance(minutes=16)  # Mastodon re-read: the edit is queued and carried
    engine.cycle()
    edits = [d for d in rig.store.deliveries("alice") if d.kind == "edit"]
    assert len(edits) == 1
    edited = ["long edited post" in t["text"] for t in rig.tweets()]
    assert len(set(edited)) == 1, f"parts edited: {edited}, X side {x_pause_kind(rig)!r}"


# -- 4. the month boundary and the clock ---------------------------------------------------------


def month_end(rig: Rig) -> datetime:
    """The first instant of the next UTC month (by the engine's clock)."""
    now = rig.clock()
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def test_spend_stored_at_23_59_59_is_last_month_at_00_00_01(rig: Rig) -> None:
    engine = to_x_engine(rig, twitter=budget(0.025))
    first = month_end(rig)
    set_clock(rig, first - timedelta(seconds=4))
    rig.toot("the last post of the month")
    engine.cycle()
    assert rig.store.x_month_micros("alice", rig.clock()) == 25_000
    rig.toot("the first post of the next")
    set_clock(rig, first - timedelta(seconds=1))
    engine.cycle()  # at 23:59:59: refused, paused until the 1st
    assert rig.clock() < first
    assert x_pause_kind(rig) == "budget"
    set_clock(rig, first + timedelta(seconds=1))
    assert rig.store.x_month_micros("alice", rig.clock()) == 0
    engine.cycle()
    assert tweet_texts(rig) == ["the last post of the month", "the first post of the next"]
    assert rig.store.x_month_micros("alice", rig.clock()) == 15_000  # the account is cached
    last_day = (first - timedelta(days=1)).date()
    assert units(rig, last_day, last_day) == {"post": 1, "user_read": 1}


def test_a_budget_pause_whose_until_has_passed_does_not_hold_the_side(rig: Rig) -> None:
    engine = to_x_engine(rig, twitter=budget(1.0))
    rig.store.pause(
        "alice",
        "twitter",
        until=rig.clock() - timedelta(days=3),
        kind="budget",
        reason="X budget: from a month that is over",
    )
    rig.toot("not held by an old pause")
    engine.cycle()
    assert tweet_texts(rig) == ["not held by an old pause"]


def test_a_read_before_midnight_is_stored_on_its_own_day(rig: Rig) -> None:
    engine = make_engine(rig, "both")
    engine.cycle()
    first = month_end(rig)
    rig.tweet("read at 23:59:59")
    set_clock(rig, first - timedelta(seconds=1.5))
    # the X poll is answered before midnight; the Mastodon poll after it, 3 s later
    rig.masto.add_fault(kind="delay", delay=3.0, method="GET", path=MASTODON_TIMELINE)
    engine.cycle()
    assert rig.clock() > first
    assert toot_texts(rig) == ["read at 23:59:59"]
    [read] = rig.x.api_requests("GET", TIMELINE)[-1:]
    answered = datetime.fromtimestamp(read.at, UTC) + rig.clock.offset
    assert answered < first  # X was read (and billed) on the month's last day
    assert rig.store.x_month_micros("alice", rig.clock()) == 0, spend(rig)


def quiet_x_engine(rig: Rig) -> tuple[Any, int]:
    """An X -> Mastodon link polled every 60 s, slowing to 480 s while X is quiet; cycles every
    60 s until the X side waits its longest. Returns the engine and the X polls so far."""
    engine = make_engine(rig, "twitter-to-mastodon", poll_interval=60.0, slowest_poll=480.0)
    for _ in range(16):
        engine.cycle()
        rig.clock.advance(seconds=60)
    return engine, len(rig.x.api_requests("GET", TIMELINE))


def test_a_failed_x_poll_is_tried_again_at_the_next_cycle(rig: Rig) -> None:
    engine, polls = quiet_x_engine(rig)
    # run to the next due poll, and make it fail
    rig.x.add_fault(kind="status", status=503, method="GET", path=TIMELINE, times=3)
    for _ in range(9):
        engine.cycle()
        rig.clock.advance(seconds=60)
        if len(rig.x.api_requests("GET", TIMELINE)) > polls:
            break
    # the adapter tries a read three times: all three refused
    assert [r.status for r in rig.x.api_requests("GET", TIMELINE)[polls:]] == [503] * 3
    rig.tweet("after the failed poll")
    engine.cycle()  # a failed poll does not make the side wait longer
    assert toot_texts(rig) == ["after the failed poll"]


def test_a_clock_stepping_back_does_not_starve_the_quiet_x_side(rig: Rig) -> None:
    engine, _ = quiet_x_engine(rig)
    rig.clock.advance(hours=-1)
    rig.tweet("after the clock stepped back")
    for _ in range(9):  # 9 minutes: longer than max_poll_interval (8)
        engine.cycle()
        rig.clock.advance(seconds=60)
    assert toot_texts(rig) == ["after the clock stepped back"]


@pytest.mark.timeout(300)
def test_a_quiet_x_side_can_stay_quiet_for_weeks(rig: Rig) -> None:
    noon(rig)
    # 1,030 polls in seconds of real time: past the sandbox's (real-time) 900 per 15 minutes
    rig.x.set_rate_limit("GET /2/users/:id/tweets", 100_000)
    engine = make_engine(rig, "twitter-to-mastodon", poll_interval=60.0, slowest_poll=600.0)
    for _ in range(1030):
        engine.cycle()
        rig.clock.advance(seconds=600)


# -- 5. two engines, one budget -----------------------------------------------------------------


def test_two_engines_on_one_link_do_not_overspend_its_budget(rig: Rig) -> None:
    """Found as a bug (each engine counted only its own write in flight); fixed by the link's
    lease: while one engine runs the link, the other finds it held and does nothing."""
    noon(rig)
    one = make_engine(rig, "mastodon-to-twitter", twitter=budget(0.025))
    two = make_engine(rig, "mastodon-to-twitter", twitter=budget(0.025))
    one.cycle()
    two.cycle()
    rig.toot("first")
    rig.toot("second")
    # the first post takes 2 s on X: it is in flight while the other engine runs
    rig.x.add_fault(kind="delay", delay=2.0, method="POST", path=POST_TWEETS)
    worker = threading.Thread(target=one.cycle)
    worker.start()
    deadline = monotonic() + 30
    while not rig.x.api_requests("POST", POST_TWEETS) and monotonic() < deadline:
        sleep(0.01)
    assert two.cycle().held_by == one.worker_id
    worker.join(30)
    made = tweet_texts(rig)
    spent = rig.store.x_month_micros("alice", rig.clock())
    assert spent <= 25_000, f"{made}: ${spent / 1e6} spent of a $0.025 budget"


class WriteLock:
    """Holds the write lock of ``x_spend`` from a connection of its own (readers go on), so
    that two writers both read before either writes."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = sqlalchemy.create_engine(database_url)
        self.connection = self.engine.connect()
        if self.postgres:
            self.connection.execute(sqlalchemy.text("BEGIN"))
            self.connection.execute(sqlalchemy.text("LOCK TABLE x_spend IN EXCLUSIVE MODE"))
        else:
            self.connection.exec_driver_sql("BEGIN IMMEDIATE")

    @property
    def postgres(self) -> bool:
        return self.url.startswith("postgresql")

    def wait_for_writers(self, count: int) -> None:
        if not self.postgres:
            sleep(3.0)  # SQLite cannot tell who waits: both have read well before this
            return
        watcher = self.engine.connect()
        query = sqlalchemy.text(
            "SELECT count(*) FROM pg_locks WHERE relation = 'x_spend'::regclass AND NOT granted"
        )
        deadline = monotonic() + 30
        while watcher.execute(query).scalar_one() < count and monotonic() < deadline:
            sleep(0.02)
        watcher.close()

    def release(self) -> None:
        self.connection.exec_driver_sql("COMMIT")
        self.connection.close()
        self.engine.dispose()


def test_two_processes_storing_spend_at_once_lose_none(rig: Rig) -> None:
    now = rig.clock()
    post = Charge("post", 1, 15_000)
    rig.store.record_x_charges("alice", [post], now)  # the day's row exists
    stores = [Store.open(rig.database_url) for _ in range(2)]
    budgets = []
    for store in stores:
        till = XBilling()
        till.restore([post])  # one post each, counted by each process's till
        budgets.append(XBudget(store, "alice", None, till, rig.clock))
    lock = WriteLock(rig.database_url)
    workers = [threading.Thread(target=b.flush) for b in budgets]
    for worker in workers:
        worker.start()
    lock.wait_for_writers(2)
    lock.release()
    for worker in workers:
        worker.join(60)
    for b in budgets:
        b.flush()  # what a flush could not store it keeps and stores now
    for store in stores:
        store.close()
    assert spend(rig)["post"] == SpendLine(calls=3, units=3, micros=45_000)


# -- 6. reads the budget does not see coming ------------------------------------------------------


def test_a_catching_up_poll_stops_paging_at_the_budget(rig: Rig) -> None:
    engine = polled_x_engine(rig, twitter=budget(0.05))
    for n in range(5):
        ids = [f"p{n}-{k}" for k in range(100)]  # billed, then skipped as malformed
        more = {"next_token": f"page{n + 1}"} if n < 4 else {}
        rig.x.add_fault(
            kind="status", status=200, method="GET", path=TIMELINE, body=page(ids, **more)
        )
    engine.cycle()
    pages = len(rig.x.api_requests("GET", TIMELINE)) - 1  # the first poll's cursor page
    spent = rig.store.x_month_micros("alice", rig.clock())
    # at most the page that crossed the budget: $0.01 + 100 posts at $0.001
    assert spent <= 110_000, f"{pages} pages read, ${spent / 1e6} spent of $0.05"


# -- 7. odd configs -----------------------------------------------------------------------------


def parse_with(rig: Rig, twitter: str = "", bridge: str = "") -> Any:
    text = config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url)
    text = text.replace("[links.twitter]\n", f"[links.twitter]\n{twitter}\n", 1)
    text = text.replace("[bridge]\n", f"[bridge]\n{bridge}\n", 1)
    return parse_config(text, "<test>", environ={})


@pytest.mark.parametrize(
    ("twitter", "bridge", "key"),
    [
        ("monthly_budget_usd = -1", "", "monthly_budget_usd"),
        ('monthly_budget_usd = "5"', "", "monthly_budget_usd"),
        ("monthly_budget_usd = true", "", "monthly_budget_usd"),
        ("monthly_budget_usd = 1e12", "", "monthly_budget_usd"),
        ("monthly_budget_usd = nan", "", "monthly_budget_usd"),
        ("monthly_budget_usd = inf", "", "monthly_budget_usd"),
        ('app_owner = "yes"', "", "app_owner"),
        ("app_owner = 1", "", "app_owner"),
        ("", "x_prices = { post = -1 }", "x_prices"),
        ("", "x_prices = { post = nan }", "x_prices"),
        ("", "x_prices = { post = true }", "x_prices"),
        ("", 'x_prices = { post = "0.01" }', "x_prices"),
        ("", "x_prices = { posts = 0.01 }", "x_prices"),
        ("", "max_poll_interval = 0", "max_poll_interval"),
        ("", "poll_interval = 120\nmax_poll_interval = 60", "max_poll_interval"),
    ],
)
def test_a_nonsense_cost_setting_is_a_config_error_naming_its_key(
    rig: Rig, twitter: str, bridge: str, key: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_with(rig, twitter, bridge)
    assert key in str(refused.value)


@pytest.mark.parametrize(
    ("twitter", "bridge", "limit"),
    [
        ("monthly_budget_usd = 5", "", 5_000_000),  # an integer is dollars too
        ("monthly_budget_usd = 0", "", 0),
        ("monthly_budget_usd = 1_000_000", "", 1_000_000_000_000),
        ("monthly_budget_usd = 0.0000004", "", 0),  # under a millionth: rounds to nothing
    ],
)
def test_an_edge_budget_is_taken_in_millionths(
    rig: Rig, twitter: str, bridge: str, limit: int
) -> None:
    config = parse_with(rig, twitter, bridge)
    engine = LinkEngine(
        config.links[0], rig.store, build_adapters(config.links[0], timeout=5), clock=rig.clock
    )
    assert engine.budget is not None and engine.budget.limit == limit


# -- 8. the commands over odd stored spend --------------------------------------------------------


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "birdbridge", *args],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def config_file(rig: Rig, path: Path, twitter: str) -> str:
    text = config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url)
    path.write_text(text.replace("[links.twitter]\n", f"[links.twitter]\n{twitter}\n", 1))
    return str(path)


def odd_spend(rig: Rig) -> None:
    """Rows the code never writes today: a price class it no longer knows, a link gone from
    the config, a huge month."""
    now = datetime.now(UTC)
    store = rig.store
    store.record_x_charges("alice", [Charge("teleport", 3, 1_000)], now)  # an unknown class
    store.record_x_charges("alice", [Charge("post", 1, 12_345_678_900_000)], now)  # $12.3 M
    store.record_x_charges("gone", [Charge("post_with_url", 2, 200_000)], now)


def test_status_and_check_survive_odd_spend_and_a_budget_of_zero(rig: Rig, tmp_path: Path) -> None:
    config = config_file(rig, tmp_path / "birdbridge.toml", "monthly_budget_usd = 0")
    assert cli("once", "--config", config).returncode == 0  # X paused by the budget at once
    odd_spend(rig)

    text = cli("status", "--config", config)
    assert text.returncode == 0, text.stderr
    assert "Traceback" not in text.stdout + text.stderr
    # a budget of $0: the spend and the share are said without a division by zero
    assert "X spend this month: $12,345,678.903 of $0.00 budget; about $" in text.stdout
    assert "X budget reached" in text.stdout

    verbose = cli("status", "--verbose", "--config", config)
    assert verbose.returncode == 0, verbose.stderr
    assert "teleport: 3 billed, $0.003" in verbose.stdout  # shown under its own name

    as_json = cli("status", "--json", "--config", config)
    assert as_json.returncode == 0, as_json.stderr
    links = {link["name"]: link for link in json.loads(as_json.stdout)["links"]}
    [x_side] = [s for s in links["alice"]["sides"] if s["network"] == "twitter"]
    assert x_side["x_spend"]["budget_usd"] == 0
    assert x_side["x_spend"]["by_class"]["teleport"]["usd"] == 0.003

    tweet = rig.tweet("explained with a budget of zero")
    explained = cli("explain", f"https://x.com/alice/status/{tweet['id']}", "--config", config)
    assert explained.returncode == 0, explained.stderr
    assert "reading it on X costs" in explained.stdout

    check = cli("check", "--config", config)
    assert check.returncode == 0, check.stderr
    # explain's post read ($0.005) and check's account read ($0.01) are billed and counted:
    # commands are not held by the budget (a design choice: they ask X one thing)
    assert "monthly budget $0.00; $12,345,678.918 spent this month" in check.stdout


# -- 9. a clock that ran ahead --------------------------------------------------------------------


def test_spend_stored_on_a_future_day_is_not_this_months(rig: Rig) -> None:
    now = rig.clock()
    rig.store.record_x_charges("alice", [Charge("post", 1, 15_000)], now + timedelta(days=400))
    assert rig.store.x_month_micros("alice", now) == 0


def test_a_budget_pause_made_while_the_clock_ran_ahead_ends_with_the_real_month(
    rig: Rig,
) -> None:
    engine = to_x_engine(rig, twitter=budget(0.025))
    rig.clock.advance(days=400)
    rig.toot("posted while the clock was wrong")
    rig.toot("refused while the clock was wrong")
    engine.cycle()
    assert x_pause_kind(rig) == "budget"
    rig.clock.advance(days=-400)
    set_clock(rig, month_end(rig) + timedelta(hours=1))  # the real next month
    engine.cycle()
    assert x_pause_kind(rig) is None


# -- 10. the budget's pause among the others ------------------------------------------------------


def test_resume_lifts_any_pause_and_a_spent_budget_pauses_again_before_any_call(
    rig: Rig,
) -> None:
    """One pause per side: the last one set is the one status shows. `birdbridge resume`
    (store.resume) lifts a credits pause; with the month's budget spent, the next cycle pauses
    the side for the budget before a single X request."""
    engine = polled_x_engine(rig, twitter=budget(0.01))  # the account read spent it
    rig.store.pause(
        "alice",
        "twitter",
        until=rig.clock() + timedelta(hours=1),
        kind="credits",
        reason="X: credits depleted",
    )
    rig.tweet("waits for the next month")
    engine.cycle()
    assert x_pause_kind(rig) == "credits"  # the credits pause holds: nothing asked
    calls = len(rig.x.api_requests())
    assert rig.store.resume("alice") == 1
    report = engine.cycle()
    assert x_pause_kind(rig) == "budget"
    assert "X budget" in report.paused["twitter"]
    assert len(rig.x.api_requests()) == calls  # not one request to X
    assert toot_texts(rig) == []


def test_a_month_paused_for_the_budget_does_not_starve_the_quiet_x_side(rig: Rig) -> None:
    """The adaptive poll's next time is kept while X is paused; at the new month X is polled
    at the first cycle, not after the quiet wait."""
    # The engine's clock is the sandbox's (now): a post made during the pause is one X shows.
    engine = make_engine(
        rig,
        "twitter-to-mastodon",
        twitter=budget(0.01),
        poll_interval=60.0,
        slowest_poll=480.0,
    )
    for _ in range(10):  # the account read spends the budget: paused at the second cycle
        engine.cycle()
        rig.clock.advance(seconds=60)
    assert x_pause_kind(rig) == "budget"
    rig.tweet("the first post of the month")  # made while X is paused: it waits
    set_clock(rig, month_end(rig) + timedelta(seconds=1))
    engine.cycle()
    assert toot_texts(rig) == ["the first post of the month"]
