"""What the bridge spends on X, end to end over real HTTP: the meter (networks/x_billing.py,
store/spend.py), the monthly budget and its pause (engine/budget.py), price overrides, the
adaptive polling of a quiet X side (engine/link.py) and the decaying re-check (engine/recheck.py).

Runs on SQLite, and on PostgreSQL when BIRDBRIDGE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from birdbridge.config import parse_config
from birdbridge.engine import LinkEngine
from birdbridge.engine.pauses import START_LIFTS
from birdbridge.networks.factory import build_adapters
from birdbridge.render.html import html_to_text
from birdbridge.store import DeliveryStatus
from birdbridge.store.spend import SpendLine

from ..conftest import Rig, config_text
from .test_media import picture, tweet_text

TIMELINE = r"^/2/users/\d+/tweets$"
LOOKUP = r"^/2/tweets$"
MASTODON_TIMELINE = r"^/api/v1/accounts/\d+/statuses$"


def make_engine(
    rig: Rig,
    direction: str = "both",
    *,
    twitter: Mapping[str, Any] | None = None,
    x_prices: Mapping[str, float] | None = None,
    poll_interval: float = 0,
    slowest_poll: float = 0,
    **kwargs: Any,
) -> LinkEngine:
    """A link's engine as the daemon builds it (daemon.py): the config's price overrides
    unless ``x_prices`` is given, and extra ``[links.twitter]`` keys (budget, app_owner)."""
    text = config_text(
        rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url, direction=direction, **kwargs
    )
    extra = "".join(f"{key} = {str(value).lower()}\n" for key, value in (twitter or {}).items())
    text = text.replace("[links.twitter]\n", "[links.twitter]\n" + extra, 1)
    config = parse_config(text, "<test>", environ={})
    link = config.links[0]
    engine = LinkEngine(
        link,
        rig.store,
        build_adapters(link, timeout=5),
        max_attempts=config.bridge.max_attempts,
        clock=rig.clock,
        x_prices=config.bridge.x_prices if x_prices is None else x_prices,
        poll_interval=poll_interval,
        slowest_poll=slowest_poll,
    )
    rig.engines.append(engine)
    return engine


def spend(rig: Rig, since: date | None = None, until: date | None = None) -> dict[str, SpendLine]:
    """Link alice's X spend by price class, from ``since`` (default: this month) to ``until``."""
    first = since or rig.clock().date().replace(day=1)
    return rig.store.x_spend(first, until).get("alice", {})


def units(rig: Rig, since: date | None = None, until: date | None = None) -> dict[str, int]:
    return {name: line.units for name, line in spend(rig, since, until).items() if line.units}


def tweet_texts(rig: Rig) -> list[str]:
    return [t["text"] for t in rig.tweets()]


def toot_texts(rig: Rig) -> list[str]:
    return [html_to_text(t["content"]) for t in rig.toots()]


def next_month_start(now: datetime) -> datetime:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def set_clock(rig: Rig, when: datetime) -> None:
    """Move the engine's clock so that it reads ``when`` now."""
    rig.clock.offset = when - datetime.now(UTC)


# -- a. the meter --------------------------------------------------------------------------


def noon(rig: Rig) -> None:
    """The engine's clock well before midnight UTC, so what X bills once per UTC day stays in
    one day: now, or 21:00 if it is later than that. Never ahead of the sandbox's clock (the
    posts' own times): mirrors that looked hours old would be re-checked."""
    now = datetime.now(UTC)
    if now.hour >= 21:
        set_clock(rig, datetime.combine(now.date(), time(21), tzinfo=UTC))
    else:
        set_clock(rig, now)


def test_writes_are_metered_by_class_at_the_rate_card(rig: Rig) -> None:
    noon(rig)
    engine = make_engine(rig, "both")
    engine.cycle()
    # Reading the account (GET /2/users/me) is the only charge of a first poll on empty
    # accounts: the empty timeline page costs nothing.
    assert spend(rig) == {"user_read": SpendLine(calls=1, units=1, micros=10_000)}
    rig.toot("no url here")
    rig.toot("see example.com")  # twitter-text links a bare domain: X bills the URL rate
    rig.toot("a red square", media=[{"type": "image", "data": picture(), "description": "Red"}])
    engine.cycle()
    plain, linked, pictured = rig.tweets()
    assert plain["text"] == "no url here" and tweet_text(pictured) == "a red square"
    # X did link the bare domain (t.co): the post was one "containing a URL"
    [url] = linked["entities"]["urls"]
    assert url["display_url"] == "example.com" and linked["text"].startswith("see https://t.co/")
    assert spend(rig) == {
        "user_read": SpendLine(calls=1, units=1, micros=10_000),
        # the post without a URL and the picture's post
        "post": SpendLine(calls=2, units=2, micros=30_000),
        "post_with_url": SpendLine(calls=1, units=1, micros=200_000),
        "media_upload": SpendLine(calls=1, units=1, micros=15_000),  # one-shot picture upload
        "media_metadata": SpendLine(calls=1, units=1, micros=5_000),  # its alt text
    }
    assert rig.store.x_month_micros("alice", rig.clock()) == 260_000

    rig.tweet("from x")
    engine.cycle()
    assert "from x" in toot_texts(rig)
    after = spend(rig)
    # The poll returns the new post and the three mirrors written since the last poll: X
    # bills each post returned, at the Owned Reads rate (the config's tokens own the app).
    # The author comes along once more (author_id expansion): already billed today.
    assert after["owned_read"] == SpendLine(calls=1, units=4, micros=4_000)
    assert after["user_read"] == SpendLine(calls=2, units=1, micros=10_000)
    assert "post_read" not in after

    for _ in range(3):  # polling again with nothing new costs nothing
        engine.cycle()
    assert spend(rig) == after
    assert len(rig.x.api_requests("GET", TIMELINE)) >= 5  # it did poll


@pytest.mark.parametrize(
    ("app_owner", "price_class", "micros"),
    [
        (None, "owned_read", 1_000),
        (True, "owned_read", 1_000),
        (False, "post_read", 5_000),
    ],
)
def test_own_posts_read_at_the_owned_rate_only_for_the_app_owner(
    rig: Rig, app_owner: bool | None, price_class: str, micros: int
) -> None:
    noon(rig)
    twitter = {} if app_owner is None else {"app_owner": app_owner}
    engine = make_engine(rig, "twitter-to-mastodon", twitter=twitter)
    engine.cycle()
    rig.tweet("read once")
    engine.cycle()
    assert toot_texts(rig) == ["read once"]
    assert spend(rig)[price_class] == SpendLine(calls=1, units=1, micros=micros)
    other = {"owned_read", "post_read"} - {price_class}
    assert not other & set(spend(rig))


def dedupe_rig(rig: Rig) -> tuple[LinkEngine, date]:
    """An X post mirrored at 20:00 UTC on day D (the engine's clock), with deletions mirrored,
    so that its re-checks at 15 min and 1 h fall on D and the one at 6 h on D+1."""
    rig.tweet("older than the link")  # the first poll starts from it (a since_id cursor)
    now = datetime.now(UTC)
    evening = datetime.combine(now.date(), time(20), tzinfo=UTC)
    set_clock(rig, evening if evening <= now else evening - timedelta(days=1))
    engine = make_engine(rig, "twitter-to-mastodon", policy={"deletes": True})
    engine.cycle()
    # created now by the engine's clock (in the past for the sandbox: shown at once)
    rig.tweet("mirrored at 20:00", created_at=rig.clock())
    engine.cycle()
    assert toot_texts(rig) == ["mirrored at 20:00"]
    day = rig.clock().date()
    # the first poll read the older post, the second the new one; the author once
    assert units(rig, day, day) == {"owned_read": 2, "user_read": 1}
    return engine, day


def test_a_post_re_read_the_same_utc_day_is_billed_once_and_again_the_next_day(
    rig: Rig,
) -> None:
    engine, day = dedupe_rig(rig)
    rig.clock.advance(minutes=16)
    engine.cycle()  # the 15-minute re-check
    assert len(rig.x.api_requests("GET", LOOKUP)) == 1
    first = units(rig, day, day)
    rig.clock.advance(minutes=45)
    engine.cycle()  # the 1-hour re-check: the same post again, the same UTC day
    assert len(rig.x.api_requests("GET", LOOKUP)) == 2
    assert units(rig, day, day) == first  # nothing more billed
    rig.clock.advance(hours=5)
    engine.cycle()  # the 6-hour re-check, at 02:01 the next UTC day: billed again
    assert len(rig.x.api_requests("GET", LOOKUP)) == 3
    assert units(rig, day, day) == first
    assert units(rig, day + timedelta(days=1)) == {"post_read": 1, "user_read": 1}


def test_a_re_check_the_same_day_as_the_poll_is_free(rig: Rig) -> None:
    engine, day = dedupe_rig(rig)
    before = units(rig, day, day)
    rig.clock.advance(minutes=16)
    engine.cycle()  # the 15-minute re-check reads the post polled 16 minutes earlier
    assert len(rig.x.api_requests("GET", LOOKUP)) == 1
    assert units(rig, day, day) == before


# -- b. the budget stops a write before it is made --------------------------------------------

# One $0.015 post fits, and the account read after it ($0.01: X returns the author's handle
# for the mirror's URL); a second post would make $0.04.
BUDGET = {"monthly_budget_usd": 0.03}


def three_toots_over_budget(rig: Rig, **kwargs: Any) -> LinkEngine:
    engine = make_engine(rig, "mastodon-to-twitter", twitter=BUDGET, **kwargs)
    engine.cycle()
    assert rig.store.x_month_micros("alice", rig.clock()) == 0  # X not read: one-way to X
    for n in (1, 2, 3):
        rig.toot(f"budget post {n}")
    return engine


def test_a_budget_stops_the_second_of_three_posts_and_pauses_x(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    engine = three_toots_over_budget(rig)
    with caplog.at_level(logging.WARNING, logger="birdbridge"):
        report = engine.cycle()
    assert tweet_texts(rig) == ["budget post 1"]
    # the second was refused before it was sent: one POST /2/tweets reached X, no other write
    assert len(rig.x.api_requests("POST")) == 1
    assert len(rig.x.api_requests("POST", r"^/2/tweets$")) == 1
    assert rig.store.x_month_micros("alice", rig.clock()) == 25_000

    pause = rig.store.pauses("alice", rig.clock())["twitter"]
    assert pause.paused_kind == "budget"
    reason = pause.paused_reason or ""
    assert "X budget" in reason and "$0.03" in reason and "$0.025" in reason
    assert "monthly_budget_usd" in reason and "birdbridge resume alice" in reason
    assert pause.paused_until == next_month_start(rig.clock())
    assert "mastodon" not in rig.store.pauses("alice", rig.clock())
    assert any("X budget" in error for error in report.errors)
    # crossing 80 % of the budget ($0.025 of $0.03) was said once
    crossed = [r for r in caplog.records if "of its budget" in r.getMessage()]
    assert len(crossed) == 1 and "83%" in crossed[0].getMessage()

    one, two, three = rig.store.deliveries("alice")
    assert one.status == DeliveryStatus.DONE
    for waiting in (two, three):  # not failed, no attempt counted
        assert waiting.status == DeliveryStatus.PENDING and waiting.attempts == 0
    assert "X budget" in (two.last_error or "")

    rig.clock.advance(hours=1)
    engine.cycle()  # still paused: nothing more is tried
    assert len(rig.x.api_requests("POST")) == 1
    assert [d.status for d in rig.store.deliveries("alice")] == ["done", "pending", "pending"]


def test_a_post_whose_media_would_go_over_is_not_half_made(rig: Rig) -> None:
    # the post alone ($0.015) would fit; with its picture ($0.015) and alt text ($0.005): $0.035
    engine = make_engine(rig, "mastodon-to-twitter", twitter={"monthly_budget_usd": 0.03})
    engine.cycle()
    rig.toot("a red square", media=[{"type": "image", "data": picture(), "description": "Red"}])
    engine.cycle()
    assert rig.x.api_requests("POST") == []  # not even the upload
    assert rig.store.pauses("alice", rig.clock())["twitter"].paused_kind == "budget"
    [delivery] = rig.store.deliveries("alice")
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    assert "$0.035" in (delivery.last_error or "")  # the whole delivery's estimate


def test_reads_stop_once_the_month_spend_reaches_the_budget(rig: Rig) -> None:
    # reading the account costs $0.01: the budget is spent by the first poll
    engine = make_engine(rig, "twitter-to-mastodon", twitter={"monthly_budget_usd": 0.01})
    engine.cycle()
    reads = len(rig.x.api_requests("GET"))
    rig.tweet("not read this month")
    report = engine.cycle()
    assert "X budget" in report.paused["twitter"]
    assert rig.store.pauses("alice", rig.clock())["twitter"].paused_kind == "budget"
    assert len(rig.x.api_requests("GET")) == reads  # not polled, not re-checked
    assert toot_texts(rig) == [] and rig.store.x_month_micros("alice", rig.clock()) == 10_000


# -- c. a new month lifts the pause ---------------------------------------------------------


def test_the_first_of_the_next_month_delivers_what_waited(rig: Rig) -> None:
    engine = three_toots_over_budget(rig)
    engine.cycle()
    assert tweet_texts(rig) == ["budget post 1"]
    old_month = rig.clock().date().replace(day=1)
    new_month = next_month_start(rig.clock())
    set_clock(rig, new_month - timedelta(seconds=5))
    engine.cycle()  # still the old month: still paused
    assert tweet_texts(rig) == ["budget post 1"]
    set_clock(rig, new_month + timedelta(seconds=1))
    engine.cycle()
    assert tweet_texts(rig) == ["budget post 1", "budget post 2", "budget post 3"]
    assert "twitter" not in rig.store.pauses("alice", rig.clock())
    assert [d.status for d in rig.store.deliveries("alice")] == ["done"] * 3
    # each month's spend on its own: the new one starts from nothing, $0.03 fits two posts
    assert units(rig, old_month, new_month.date() - timedelta(days=1)) == {
        "user_read": 1,
        "post": 1,
    }
    assert units(rig, new_month.date()) == {"post": 2}
    assert rig.store.x_month_micros("alice", rig.clock()) == 30_000


def test_posts_that_waited_past_max_age_are_skipped_at_the_new_month(rig: Rig) -> None:
    engine = three_toots_over_budget(rig, policy={"max_age": 60})
    engine.cycle()
    assert tweet_texts(rig) == ["budget post 1"]
    new_month = next_month_start(rig.clock())
    if new_month - rig.clock() < timedelta(minutes=2):  # run at the very end of a month
        new_month = next_month_start(new_month + timedelta(seconds=1))
    set_clock(rig, new_month + timedelta(seconds=1))
    engine.cycle()
    assert tweet_texts(rig) == ["budget post 1"]
    one, two, three = rig.store.deliveries("alice")
    assert one.status == DeliveryStatus.DONE
    for late in (two, three):
        assert late.status == DeliveryStatus.SKIPPED and "max_age" in (late.last_error or "")
    assert "twitter" not in rig.store.pauses("alice", rig.clock())


# -- d. price overrides ---------------------------------------------------------------------


@pytest.mark.parametrize("through", ["config", "argument"])
def test_a_price_override_changes_the_meter_and_stops_the_budget_earlier(
    rig: Rig, through: str
) -> None:
    budget = {"monthly_budget_usd": 1.0}
    if through == "config":
        engine = make_engine(
            rig, "mastodon-to-twitter", twitter=budget, bridge={"x_prices": {"post": 0.5}}
        )
    else:
        engine = make_engine(rig, "mastodon-to-twitter", twitter=budget, x_prices={"post": 0.5})
    engine.cycle()
    for n in (1, 2, 3):
        rig.toot(f"dear post {n}")
    engine.cycle()
    # $0.01 + $0.50 fits the dollar; a second $0.50 does not
    assert tweet_texts(rig) == ["dear post 1"]
    assert spend(rig)["post"] == SpendLine(calls=1, units=1, micros=500_000)
    assert spend(rig)["user_read"].micros == 10_000  # other classes keep X's card
    assert rig.store.pauses("alice", rig.clock())["twitter"].paused_kind == "budget"


def test_at_the_card_prices_the_same_budget_takes_all_three(rig: Rig) -> None:
    engine = make_engine(rig, "mastodon-to-twitter", twitter={"monthly_budget_usd": 1.0})
    engine.cycle()
    for n in (1, 2, 3):
        rig.toot(f"dear post {n}")
    engine.cycle()
    assert tweet_texts(rig) == ["dear post 1", "dear post 2", "dear post 3"]
    assert spend(rig)["post"] == SpendLine(calls=3, units=3, micros=45_000)
    assert "twitter" not in rig.store.pauses("alice", rig.clock())


# -- e. restarts ----------------------------------------------------------------------------


def test_a_budget_pause_outlives_the_engine_and_start_lifts_it(rig: Rig) -> None:
    first = three_toots_over_budget(rig)
    first.cycle()
    assert tweet_texts(rig) == ["budget post 1"]

    restarted = make_engine(rig, "mastodon-to-twitter", twitter=BUDGET)
    restarted.cycle()  # a new engine in the same process: the pause is a row in the store
    assert tweet_texts(rig) == ["budget post 1"]
    assert rig.store.pauses("alice", rig.clock())["twitter"].paused_kind == "budget"

    # `run` lifts refusals and budget pauses at start, not rate limits
    rig.store.pause(
        "alice", "mastodon", until=rig.clock() + timedelta(hours=1), kind="rate_limit", reason="x"
    )
    assert rig.store.resume(kinds=START_LIFTS) == 1
    assert set(rig.store.pauses("alice", rig.clock())) == {"mastodon"}
    rig.store.resume("alice")

    # the same budget: the first write that does not fit pauses again, before anything is sent
    same = make_engine(rig, "mastodon-to-twitter", twitter=BUDGET)
    same.cycle()
    assert len(rig.x.api_requests("POST", r"^/2/tweets$")) == 1
    assert rig.store.pauses("alice", rig.clock())["twitter"].paused_kind == "budget"

    # a raised budget and a restart: what waited goes out
    assert rig.store.resume(kinds=START_LIFTS) == 1
    raised = make_engine(rig, "mastodon-to-twitter", twitter={"monthly_budget_usd": 1.0})
    raised.cycle()
    assert tweet_texts(rig) == ["budget post 1", "budget post 2", "budget post 3"]
    assert [d.status for d in rig.store.deliveries("alice")] == ["done"] * 3
    assert "twitter" not in rig.store.pauses("alice", rig.clock())


# -- f. adaptive polling ----------------------------------------------------------------------


def x_polls(rig: Rig) -> int:
    return len(rig.x.api_requests("GET", TIMELINE))


def test_a_quiet_x_side_is_polled_less_often_and_at_once_after_activity(rig: Rig) -> None:
    engine = make_engine(rig, "both", poll_interval=60, slowest_poll=480)
    polled: list[int] = []
    masto_polls = []
    for n in range(31):
        before, masto_before = x_polls(rig), len(rig.masto.api_requests("GET", MASTODON_TIMELINE))
        report = engine.cycle()
        assert x_polls(rig) - before in (0, 1)
        if x_polls(rig) > before:
            polled.append(n)
            assert report.quiet == []
        else:
            assert report.quiet == ["twitter"]
        masto_polls.append(len(rig.masto.api_requests("GET", MASTODON_TIMELINE)) - masto_before)
        rig.clock.advance(seconds=60)
    # config.example.toml: "twice poll_interval after a poll that found nothing, and so on up
    # to" max_poll_interval: waits of 120, 240, then 480 s (the most) between polls
    assert polled == [0, 2, 6, 14, 22, 30]
    assert masto_polls == [1] * 31  # Mastodon's reads are free: polled every cycle

    # cycle 31 (t = 1860 s): not due before 2280 s, but a new Mastodon post is activity
    rig.toot("wakes the X side")
    before = x_polls(rig)
    report = engine.cycle()
    assert x_polls(rig) == before + 1 and report.quiet == []
    assert tweet_texts(rig) == ["wakes the X side"]
    rig.clock.advance(seconds=60)
    engine.cycle()  # back to poll_interval after activity
    assert x_polls(rig) == before + 2


def test_a_new_x_post_keeps_the_x_side_at_poll_interval(rig: Rig) -> None:
    engine = make_engine(rig, "twitter-to-mastodon", poll_interval=60, slowest_poll=480)
    engine.cycle()  # t = 0; next poll at 120 s
    rig.clock.advance(seconds=120)
    rig.tweet("activity on X")
    engine.cycle()  # t = 120: polled, finds the post
    assert toot_texts(rig) == ["activity on X"]
    polls = x_polls(rig)
    rig.clock.advance(seconds=60)
    engine.cycle()  # t = 180: polled again a poll_interval later
    assert x_polls(rig) == polls + 1
    rig.clock.advance(seconds=60)
    engine.cycle()  # t = 240: the last poll found nothing: next at 300
    assert x_polls(rig) == polls + 1


# -- g. the decaying re-check -----------------------------------------------------------------


class Rechecks:
    """Cycles every ``step`` minutes of the engine's clock, counting X's re-reads by the age
    (minutes since the first cycle after the post) at which they happened."""

    def __init__(self, rig: Rig, engine: LinkEngine) -> None:
        self.rig, self.engine, self.minutes = rig, engine, 0

    def until(self, minutes: int, step: int = 5) -> list[int]:
        reads: list[int] = []
        while self.minutes + step <= minutes:
            self.minutes += step
            self.rig.clock.advance(minutes=step)
            before = len(self.rig.x.api_requests("GET", LOOKUP))
            self.engine.cycle()
            reads += [self.minutes] * (len(self.rig.x.api_requests("GET", LOOKUP)) - before)
        return reads


def mirrored_x_post(rig: Rig, text: str) -> LinkEngine:
    engine = make_engine(rig, "twitter-to-mastodon", policy={"deletes": True})
    engine.cycle()
    rig.tweet(text)
    engine.cycle()
    assert toot_texts(rig) == [text]
    return engine


def test_a_mirrored_x_post_is_re_read_at_15_minutes_1_hour_and_6_hours(rig: Rig) -> None:
    engine = mirrored_x_post(rig, "watched for deletion")
    assert Rechecks(rig, engine).until(23 * 60 + 50) == [15, 60, 360]


def test_a_mirrored_x_post_is_re_read_four_times_in_its_first_day(rig: Rig) -> None:
    engine = mirrored_x_post(rig, "watched for deletion")
    assert Rechecks(rig, engine).until(25 * 60) == [15, 60, 360, 1440]


def test_without_mirrored_deletions_x_is_never_re_read(rig: Rig) -> None:
    engine = make_engine(rig, "twitter-to-mastodon")  # one-way: deletes off by default
    engine.cycle()
    rig.tweet("never re-read")
    engine.cycle()
    assert Rechecks(rig, engine).until(7 * 60, step=15) == []


def test_a_deletion_on_x_after_20_minutes_is_mirrored_at_the_1_hour_check(rig: Rig) -> None:
    engine = mirrored_x_post(rig, "regretted")
    [tweet] = rig.tweets()
    rechecks = Rechecks(rig, engine)
    assert rechecks.until(20) == [15]
    rig.x.delete_post(tweet["id"])
    assert rechecks.until(55) == []  # not read again before the hour
    assert toot_texts(rig) == ["regretted"]
    assert rechecks.until(60) == [60]
    assert toot_texts(rig) == []
    deletes = [d for d in rig.store.deliveries("alice") if d.kind == "delete"]
    assert [d.status for d in deletes] == [DeliveryStatus.DONE]
