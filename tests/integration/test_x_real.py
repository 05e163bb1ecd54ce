"""What the real X does that a lenient sandbox let through: out of credits, duplicate content,
undoing a repost, one cashtag per post, refused replies, read-only tokens. Each over real HTTP
between the sandboxes with the real clients, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from birdbridge.engine.pauses import pause_for
from birdbridge.errors import CreditsDepleted
from birdbridge.models import NetworkName
from birdbridge.render.entities import WORD_JOINER
from birdbridge.store import DeliveryStatus
from tests.conftest import Rig


def started(rig: Rig, direction: str = "mastodon-to-twitter", **kwargs: object):  # type: ignore[no-untyped-def]
    engine = rig.engine(direction, **kwargs)
    engine.cycle()  # the first poll only sets the cursors
    return engine


def tweet_texts(rig: Rig) -> list[str]:
    return [t["text"] for t in rig.tweets()]


# -- 1. out of credits ---------------------------------------------------------------------


def test_out_of_credits_pauses_x_and_loses_nothing(rig: Rig) -> None:
    engine = started(rig)
    rig.x.set_credits(0)
    rig.toot("waits for credits")
    report = engine.cycle()
    assert rig.tweets() == []
    assert report.delivered.failed == 0
    [delivery] = rig.store.deliveries()
    assert delivery.status == DeliveryStatus.PENDING  # nothing marked failed
    pause = rig.store.pauses("alice", rig.clock())["twitter"]
    assert pause.paused_kind == "credits"
    assert "Add credits in the X developer console" in (pause.paused_reason or "")
    assert "birdbridge resume alice" in (pause.paused_reason or "")
    # Paused means no further calls to X at all (every one would be refused and billed nothing).
    calls = len(rig.x.api_requests())
    engine.cycle()
    assert len(rig.x.api_requests()) == calls
    # Credits added: birdbridge tries again by itself within the hour.
    rig.x.set_credits(5)
    rig.clock.advance(minutes=61)
    report = engine.cycle()
    assert tweet_texts(rig) == ["waits for credits"]
    assert "twitter" not in rig.store.pauses("alice", rig.clock())


def test_resume_after_adding_credits_tries_at_once(rig: Rig) -> None:
    engine = started(rig)
    rig.x.set_credits(0)
    rig.toot("goes out right after resume")
    engine.cycle()
    rig.x.set_credits(5)
    assert rig.store.resume("alice") == 1
    engine.cycle()
    assert tweet_texts(rig) == ["goes out right after resume"]


def test_credits_running_out_while_reading_x_pauses_the_side(rig: Rig) -> None:
    engine = started(rig, "twitter-to-mastodon")
    rig.x.set_credits(0)
    report = engine.cycle()
    assert "twitter" in report.paused
    assert rig.store.pauses("alice", rig.clock())["twitter"].paused_kind == "credits"


def test_the_sandbox_bills_posts_and_reads(rig: Rig) -> None:
    engine = started(rig)
    rig.x.set_credits(1.0)
    rig.toot("plain")
    rig.toot("with a link https://example.com/page")
    engine.cycle()
    assert len(rig.tweets()) == 2
    # $0.015 for the plain post, $0.20 for the one with a URL (pricing.mdx), plus reads.
    assert 0.215 <= rig.x.spent_usd < 0.25


def test_a_credits_pause_reads_as_a_fix(rig: Rig) -> None:
    error = CreditsDepleted(
        "X POST /2/tweets: out of credits (402: credits depleted)",
        fix="Add credits in the X developer console (pay-per-use billing)",
    )
    reason = pause_for(rig.store, "alice", NetworkName.TWITTER, error, rig.clock())
    assert reason.startswith("X POST /2/tweets: out of credits")
    assert "then run `birdbridge resume alice`" in reason
    assert "every 60 minutes" in reason


# -- 2. duplicate content ------------------------------------------------------------------


def test_a_duplicate_met_while_recovering_is_adopted_not_failed(rig: Rig) -> None:
    """The reply of the first publish is lost and X's timeline lags: recovery does not see the
    post, the new attempt meets "duplicate content", and the delivery waits and adopts it."""
    rig.x.timeline_lag_s = 1.5
    engine = started(rig)
    rig.toot("said once, whatever happens")
    rig.x.add_fault(kind="drop_after_commit", method="POST", path=r"^/2/tweets$", times=1)
    engine.cycle()
    rig.clock.advance(minutes=5)
    report = engine.cycle()  # recovery misses it (lag), X refuses the repeat as a duplicate
    refused = [r for r in rig.x.api_requests("POST", r"^/2/tweets$") if r.status == 403]
    assert len(refused) == 1
    assert report.delivered.failed == 0
    [delivery] = rig.store.deliveries()
    assert delivery.status == DeliveryStatus.PUBLISHING
    assert "duplicate" in (delivery.last_error or "")
    time.sleep(1.6)  # the timeline catches up
    rig.clock.advance(minutes=5)
    report = engine.cycle()
    assert report.delivered.adopted == 1 and report.delivered.done == 1
    assert tweet_texts(rig) == ["said once, whatever happens"]
    [mirror] = rig.store.mirrors("alice")
    assert mirror.target_id == rig.tweets()[0]["id"]


def test_a_link_that_x_rewrote_is_still_recognised_after_a_lost_reply(rig: Rig) -> None:
    """X stores a bare "example.com" as http://example.com: recovery compares links without
    their scheme, so the post is adopted instead of posted again (and refused)."""
    engine = started(rig)
    rig.toot("read example.com today")
    rig.x.add_fault(kind="drop_after_commit", method="POST", path=r"^/2/tweets$", times=1)
    engine.cycle()
    rig.clock.advance(minutes=5)
    report = engine.cycle()
    assert report.delivered.adopted == 1
    assert len(rig.tweets()) == 1
    assert not [r for r in rig.x.api_requests("POST", r"^/2/tweets$") if r.status == 403]


# -- 3. undoing a repost -------------------------------------------------------------------


def test_unboosting_undoes_the_retweet_with_the_unretweet_endpoint(rig: Rig) -> None:
    engine = started(rig, "both")
    toot = rig.toot("worth boosting")
    engine.cycle()
    [mirror] = rig.tweets()
    boost = rig.toot("", reblog_of=str(toot["id"]))
    engine.cycle()
    # X's reply to the retweet carries no id (the guide's shape): it was looked up.
    [retweet] = [t for t in rig.tweets() if t["id"] != mirror["id"]]
    repost = [m for m in rig.store.mirrors("alice") if m.repost_of is not None]
    assert [(m.target_id, m.repost_of) for m in repost] == [(retweet["id"], mirror["id"])]
    engine.cycle()  # the retweet is ours: not boosted back
    assert len([t for t in rig.toots() if t.get("reblog")]) == 1
    rig.masto.delete_post(str(boost["id"]))
    rig.clock.advance(seconds=1000)  # the re-check finds the boost gone
    engine.cycle()
    assert [t["id"] for t in rig.tweets()] == [mirror["id"]]  # the original stays
    assert rig.x.api_requests("DELETE", r"^/2/tweets/") == []
    undo = rig.x.api_requests("DELETE", rf"^/2/users/{rig.x_user.id}/retweets/{mirror['id']}$")
    assert [r.status for r in undo] == [200]


def test_a_retweet_whose_reply_was_lost_is_recorded_not_failed(rig: Rig) -> None:
    engine = started(rig, "both")
    toot = rig.toot("boost me once")
    engine.cycle()
    rig.toot("", reblog_of=str(toot["id"]))
    rig.x.add_fault(
        kind="drop_after_commit", method="POST", path=r"^/2/users/[^/]+/retweets$", times=1
    )
    engine.cycle()
    rig.clock.advance(minutes=5)
    report = engine.cycle()  # X: "already retweeted": it is there, record it
    assert report.delivered.failed == 0
    statuses = {d.kind: d.status for d in rig.store.deliveries() if d.target_network == "twitter"}
    assert set(statuses.values()) == {DeliveryStatus.DONE}
    assert len(rig.tweets()) == 2
    engine.cycle()
    assert len([t for t in rig.toots() if t.get("reblog")]) == 1  # not mirrored back


# -- 6. one cashtag per post, refused replies ------------------------------------------------


def test_only_the_first_cashtag_stays_a_cashtag_on_x(rig: Rig) -> None:
    engine = started(rig)
    rig.toot("$AAPL up, $GOOG down, $MSFT flat")
    report = engine.cycle()
    [tweet] = rig.tweets()
    assert tweet["text"] == f"$AAPL up, ${WORD_JOINER}GOOG down, ${WORD_JOINER}MSFT flat"
    assert any("one cashtag per post" in f for f in report.delivered.fallbacks)
    assert not [r for r in rig.x.api_requests("POST", r"^/2/tweets$") if r.status == 403]


def refusing_self_replies(rig: Rig) -> None:
    rig.x.reply_restriction = True
    rig.x.self_replies_allowed = False


def test_reply_refused_standalone_is_noted_for_status(rig: Rig) -> None:
    refusing_self_replies(rig)
    engine = started(rig)
    parent = rig.toot("first of two")
    rig.toot("second of two", in_reply_to_id=parent["id"])
    engine.cycle()
    assert tweet_texts(rig) == ["first of two", "second of two"]
    [noted] = rig.store.noted(rig.clock().replace(year=2000))
    assert noted.status == DeliveryStatus.DONE
    assert "refused part 1" in (noted.notes or "") and "standalone" in (noted.notes or "")


def test_reply_refused_skip_posts_nothing_more_of_the_thread(rig: Rig) -> None:
    refusing_self_replies(rig)
    engine = started(rig, policy={"reply_refused": "skip"})
    parent = rig.toot("first of two")
    rig.toot("second of two", in_reply_to_id=parent["id"])
    report = engine.cycle()
    assert tweet_texts(rig) == ["first of two"]
    assert report.delivered.skipped == 1 and report.delivered.failed == 0
    [skipped] = rig.store.deliveries(statuses=[DeliveryStatus.SKIPPED])
    assert 'reply_refused = "skip"' in (skipped.last_error or "")


def test_reply_refused_fail_leaves_it_to_the_operator(rig: Rig) -> None:
    refusing_self_replies(rig)
    engine = started(rig, policy={"reply_refused": "fail"})
    long_text = " ".join(f"word{i}" for i in range(60))  # two parts: the second is a reply
    rig.toot(long_text)
    engine.cycle()
    assert len(rig.tweets()) == 1
    [failed] = rig.store.deliveries(statuses=[DeliveryStatus.FAILED])
    assert "refused part 2" in (failed.last_error or "")


# -- 7. read-only tokens -------------------------------------------------------------------


def test_a_read_only_x_token_pauses_the_side_with_the_fix(rig: Rig) -> None:
    reader = rig.x.create_user("reader", access_level="read")
    rig.x_user = reader
    engine = started(rig)
    rig.toot("needs write access")
    report = engine.cycle()
    assert report.delivered.failed == 0
    pause = rig.store.pauses("alice", rig.clock())["twitter"]
    assert pause.paused_kind == "permission"
    assert '"Read and write"' in (pause.paused_reason or "")
    assert "regenerate the access token" in (pause.paused_reason or "")
    [delivery] = rig.store.deliveries()
    assert delivery.status == DeliveryStatus.PENDING


# -- private stays private, even when the account changes ----------------------------------


def test_locking_the_x_account_while_running_stops_mirroring_at_once(rig: Rig) -> None:
    engine = started(rig, "twitter-to-mastodon")
    rig.tweet("public, mirrored")
    engine.cycle()
    rig.x.set_protected("alice")  # the account is locked; the daemon keeps running
    rig.tweet("written after locking: followers only")
    report = engine.cycle()
    assert [t["content"] for t in rig.toots()] == ["<p>public, mirrored</p>"]
    assert any("private" in reason for _, reason in report.polls["twitter"].skipped)


def test_a_followers_only_boost_of_ones_own_mirrored_toot_is_not_retweeted(rig: Rig) -> None:
    """The native-repost shortcut checks the boost's own audience: a followers-only boost of
    a public toot stays on Mastodon."""
    engine = started(rig, "mastodon-to-twitter")
    toot = rig.toot("public toot")
    engine.cycle()
    rig.toot("", reblog_of=str(toot["id"]), visibility="private")
    report = engine.cycle()
    assert len(rig.tweets()) == 1
    assert rig.x.api_requests("POST", r"^/2/users/[^/]+/retweets$") == []
    assert any("private" in reason for _, reason in report.polls["mastodon"].skipped)
