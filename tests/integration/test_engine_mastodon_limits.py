"""The engine against the Mastodon sandbox's limits and scopes, end to end over real HTTP: a
spent throttle holds only the posts that need it, a token without a scope pauses the side
and loses nothing, a blip on posting costs seconds, not a pass.

Runs on SQLite, and on PostgreSQL when BIRDBRIDGE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import requests
from PIL import Image

from birdbridge.render.html import html_to_text
from birdbridge.store import DeliveryStatus
from birdbridge.store.store import as_utc

from ..conftest import Rig

MEDIA_WINDOW = 1800  # throttle_api_media: 30 uploads per 30 minutes (rack_attack.rb:81)


def photo(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buffer, "JPEG")
    return buffer.getvalue()


def toot_texts(rig: Rig) -> list[str]:
    return [html_to_text(t["content"]) for t in rig.toots()]


def tweet_texts(rig: Rig) -> list[str]:
    return [t["text"] for t in rig.tweets()]


def one_clock(rig: Rig) -> None:
    """The server's clock is the engine's: moving it on passes the server's windows too."""
    rig.masto.clock = lambda: rig.clock().timestamp()


def window_end(now: datetime, period: int) -> datetime:
    """Where an epoch-aligned window of ``period`` seconds that holds ``now`` ends."""
    seconds = now.timestamp()
    return datetime.fromtimestamp(seconds - seconds % period + period, UTC)


def spend_uploads(rig: Rig, count: int) -> None:
    """Another application of the same account (a phone app) uploads ``count`` pictures."""
    token = rig.masto.create_token(rig.m_user.username, ["write:media"], app_name="phone")
    for _ in range(count):
        r = requests.post(
            f"{rig.masto.url}/api/v2/media",
            files={"file": ("p.jpg", photo("gray"))},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert r.status_code == 200


# -- item 9: separate throttles ---------------------------------------------------------------


def test_reaching_the_media_limit_holds_only_the_posts_with_pictures(rig: Rig) -> None:
    one_clock(rig)
    rig.masto.set_rate_limit(3, MEDIA_WINDOW, family="media")
    spend_uploads(rig, 3)
    engine = rig.engine("both")
    engine.cycle()
    rig.tweet("picture one", media=[{"type": "photo", "data": photo("red")}])
    rig.tweet("plain one")
    rig.tweet("picture two", media=[{"type": "photo", "data": photo("blue")}])
    rig.tweet("plain two")
    report = engine.cycle()
    # Text posts to Mastodon go on; the picture posts wait for the media throttle's reset:
    # pending, no attempt counted, nothing failed, the Mastodon side not paused.
    assert toot_texts(rig) == ["plain one", "plain two"]
    assert "mastodon" not in report.paused
    assert "mastodon" not in rig.store.pauses("alice", rig.clock())
    assert not rig.store.deliveries(statuses=[DeliveryStatus.FAILED])
    waiting = rig.store.deliveries(statuses=[DeliveryStatus.PENDING])
    assert len(waiting) == 2
    reset = window_end(rig.clock(), MEDIA_WINDOW)
    for delivery in waiting:
        assert delivery.attempts == 0
        due = as_utc(delivery.next_attempt_at)
        assert due is not None and abs((due - reset).total_seconds()) < 3
    # Reading goes on, both sides: a toot reaches X, a new tweet reaches Mastodon.
    rig.toot("written on")
    rig.tweet("plain three")
    engine.cycle()
    assert "written on" in tweet_texts(rig)
    assert "plain three" in toot_texts(rig)
    assert len(rig.store.deliveries(statuses=[DeliveryStatus.PENDING])) == 2
    # When they are due (the reset), each picture post arrives, once, with its picture.
    due = max(as_utc(d.next_attempt_at) or rig.clock() for d in waiting)
    rig.clock.advance(seconds=(due - rig.clock()).total_seconds() + 1)
    engine.cycle()
    assert Counter(toot_texts(rig)) == Counter(
        ["plain one", "plain two", "plain three", "picture one", "picture two", "written on"]
    )
    pictures = [t for t in rig.toots() if html_to_text(t["content"]).startswith("picture")]
    assert [len(t["media_attachments"]) for t in pictures] == [1, 1]
    assert len(rig.masto.uploads()) == 3 + 2  # the phone's, and ours once each
    assert not rig.store.deliveries(statuses=[DeliveryStatus.PENDING, DeliveryStatus.FAILED])


def test_a_spent_statuses_family_waits_without_pausing_reads(rig: Rig) -> None:
    one_clock(rig)
    rig.masto.set_rate_limit(1, 3 * 3600, family="statuses")
    token = rig.masto.create_token(rig.m_user.username, ["write:statuses"], app_name="phone")
    r = requests.post(
        f"{rig.masto.url}/api/v1/statuses",
        data={"status": "from the phone"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert r.status_code == 200
    engine = rig.engine("both")
    engine.cycle()
    rig.tweet("waits for the statuses family")
    report = engine.cycle()
    assert "mastodon" not in report.paused
    [delivery] = rig.store.deliveries(statuses=[DeliveryStatus.PENDING])
    due = as_utc(delivery.next_attempt_at)
    assert due is not None
    assert abs((due - window_end(rig.clock(), 3 * 3600)).total_seconds()) < 3
    assert delivery.attempts == 0 and "429" in (delivery.last_error or "")
    rig.toot("still read")
    engine.cycle()
    assert "still read" in tweet_texts(rig)


# -- item 10: scopes --------------------------------------------------------------------------


def test_a_token_without_write_media_pauses_mastodon_and_posts_nothing_as_a_link(
    rig: Rig,
) -> None:
    rig.m_user = replace(
        rig.m_user,
        access_token=rig.masto.create_token(rig.m_user.username, ["read", "write:statuses"]),
    )
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet("plain first")
    tweet = rig.tweet("with a picture", media=[{"type": "photo", "data": photo()}])
    rig.tweet("plain after")
    report = engine.cycle()
    pause = rig.store.pauses("alice", rig.clock())["mastodon"]
    assert pause.paused_kind == "permission"
    reason = pause.paused_reason or ""
    assert "outside the authorized scopes" in reason and "write:media" in reason
    assert any("write:media" in e for e in report.errors)
    # Nothing failed, nothing was uploaded, nothing went out as a link instead.
    assert not report.delivered.fallbacks
    assert not rig.store.deliveries(statuses=[DeliveryStatus.FAILED])
    assert rig.masto.uploads() == []
    assert toot_texts(rig) == ["plain first"]
    assert all(tweet["id"] not in t["content"] for t in rig.toots())
    picture_post = [d for d in rig.store.deliveries() if d.source_id == tweet["id"]]
    assert picture_post[0].status == DeliveryStatus.PENDING and picture_post[0].attempts == 0
    # The operator makes a token with write:media and resumes: nothing was lost.
    rig.m_user = replace(
        rig.m_user, access_token=rig.masto.create_token(rig.m_user.username, ["read", "write"])
    )
    assert rig.store.resume("alice") == 1
    rig.engine("twitter-to-mastodon").cycle()
    assert toot_texts(rig) == ["plain first", "with a picture", "plain after"]
    assert [len(t["media_attachments"]) for t in rig.toots()] == [0, 1, 0]


def test_a_token_that_may_not_post_pauses_mastodon_with_the_scope_named(rig: Rig) -> None:
    rig.m_user = replace(
        rig.m_user, access_token=rig.masto.create_token(rig.m_user.username, ["read"])
    )
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet("needs write:statuses")
    engine.cycle()
    pause = rig.store.pauses("alice", rig.clock())["mastodon"]
    assert pause.paused_kind == "permission"
    assert "write or write:statuses" in (pause.paused_reason or "")
    assert rig.toots() == []
    assert not rig.store.deliveries(statuses=[DeliveryStatus.FAILED])
    rig.clock.advance(minutes=5)
    assert rig.store.pauses("alice", rig.clock() + timedelta(minutes=50))
