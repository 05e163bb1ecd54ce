"""The store's named operations, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy
from sqlalchemy.exc import IntegrityError

from birdbridge.store import DeliveryStatus, NewDelivery, Store
from birdbridge.store.store import utcnow


def new(source_id: str, parent: str | None = None, payload: str = "{}") -> NewDelivery:
    return NewDelivery(
        source_network="twitter",
        source_id=source_id,
        target_network="mastodon",
        payload=payload,
        parent_source_id=parent,
    )


def test_migrations_are_idempotent_and_reach_head(database_url: str) -> None:
    first = Store.open(database_url)
    second = Store.open(database_url)  # a second worker starting on the same database
    with second.engine.connect() as connection:
        version = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version"))
        assert version.scalar_one() == "0003"
    first.close()
    second.close()


def test_record_poll_enqueues_once_and_advances_the_cursor(store: Store) -> None:
    added = store.record_poll(
        "a", "twitter", account_id="1", cursor="10", deliveries=[new("9"), new("10")]
    )
    assert added == 2
    again = store.record_poll("a", "twitter", account_id="1", cursor="10", deliveries=[new("10")])
    assert again == 0
    state = store.link_state("a", "twitter")
    assert state is not None and state.cursor == "10" and state.account_id == "1"
    assert [d.source_id for d in store.due_deliveries("a")] == ["9", "10"]
    assert store.due_deliveries("other link") == []


def test_record_poll_is_one_transaction(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="5")
    broken = NewDelivery(
        source_network="twitter", source_id="7", target_network="mastodon", payload=None
    )  # type: ignore[arg-type]  # NOT NULL violation
    with pytest.raises(IntegrityError):
        store.record_poll("a", "twitter", account_id="1", cursor="7", deliveries=[new("6"), broken])
    state = store.link_state("a", "twitter")
    assert state is not None and state.cursor == "5"  # the cursor did not move
    assert store.due_deliveries("a") == []  # and "6" was not enqueued either


def test_a_poll_with_nothing_new_keeps_the_cursor(store: Store) -> None:
    store.record_poll("a", "mastodon", account_id="1", cursor="42")
    store.record_poll("a", "mastodon", account_id="1", cursor=None)
    assert store.link_state("a", "mastodon").cursor == "42"


def test_poll_errors_are_recorded_and_cleared(store: Store) -> None:
    store.record_poll_error("a", "twitter", "X is down")
    assert store.link_state("a", "twitter").last_error == "X is down"
    store.record_poll("a", "twitter", account_id="1", cursor="1")
    assert store.link_state("a", "twitter").last_error is None


def test_mirror_map_is_unique_both_ways(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="2", deliveries=[new("1"), new("2")])
    one, two = store.due_deliveries("a")
    store.record_part(one, 0, "m1", "https://m/1")
    assert store.is_mirror_target("a", "mastodon", "m1")
    assert not store.is_mirror_target("a", "mastodon", "m2")
    assert not store.is_mirror_target("b", "mastodon", "m1")
    with pytest.raises(IntegrityError):
        store.record_part(one, 0, "m9", None)  # the same part twice
    with pytest.raises(IntegrityError):
        store.record_part(two, 0, "m1", None)  # two sources, one target
    source = store.mirror_source("a", "mastodon", "m1")
    assert source is not None and source.source_id == "1"


def test_parts_come_back_in_order(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="1", deliveries=[new("1")])
    [delivery] = store.due_deliveries("a")
    for index in (2, 0, 1):
        store.record_part(delivery, index, f"m{index}", None)
    parts = store.mirror_parts("a", "twitter", "1", "mastodon")
    assert [p.target_id for p in parts] == ["m0", "m1", "m2"]


def test_lease_keeps_two_workers_apart(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="1", deliveries=[new("1")])
    [delivery] = store.due_deliveries("a")
    now = utcnow()
    assert store.lease(delivery.id, "worker-1", seconds=60, now=now)
    assert store.lease(delivery.id, "worker-1", seconds=60, now=now)  # renewing is fine
    assert not store.lease(delivery.id, "worker-2", seconds=60, now=now)
    assert store.lease(delivery.id, "worker-2", seconds=60, now=now + timedelta(seconds=61))


def test_publishing_mark_survives_a_transient_retry_but_not_a_refusal(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="1", deliveries=[new("1")])
    [delivery] = store.due_deliveries("a")
    started = utcnow()
    store.mark_publishing(delivery.id, 0, "hello", now=started)
    store.mark_publishing(delivery.id, 0, "hello", now=started + timedelta(minutes=5))
    row = store.delivery(delivery.id)
    assert row.status == DeliveryStatus.PUBLISHING and row.publishing_part == 0
    assert (
        abs(
            (
                row.publishing_started_at.replace(tzinfo=None) - started.replace(tzinfo=None)
            ).total_seconds()
        )
        < 1
    )  # the first attempt's time
    assert store.in_flight_texts("a", "mastodon") == ["hello"]

    attempts = store.mark_retry(delivery.id, "timeout", started + timedelta(seconds=30))
    assert attempts == 1
    row = store.delivery(delivery.id)
    assert row.status == DeliveryStatus.PUBLISHING and row.publishing_text == "hello"

    store.mark_retry(delivery.id, "429", started, count_attempt=False, refused=True)
    row = store.delivery(delivery.id)
    assert row.status == DeliveryStatus.PENDING and row.publishing_part is None
    assert row.attempts == 1
    assert store.in_flight_texts("a", "mastodon") == []


def test_due_respects_next_attempt_and_status(store: Store) -> None:
    store.record_poll(
        "a", "twitter", account_id="1", cursor="3", deliveries=[new("1"), new("2"), new("3")]
    )
    one, two, three = store.due_deliveries("a")
    now = utcnow()
    store.mark_retry(one.id, "later", now + timedelta(minutes=10), now=now)
    store.mark_done(two.id)
    store.mark_failed(three.id, "no")
    assert store.due_deliveries("a", now) == []
    assert [d.id for d in store.due_deliveries("a", now + timedelta(minutes=11))] == [one.id]


def test_requeue_and_skip(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="2", deliveries=[new("1"), new("2")])
    one, two = store.due_deliveries("a")
    assert not store.requeue(one.id)  # only failed or skipped deliveries go back
    store.mark_failed(one.id, "broken")
    assert store.requeue(one.id)
    row = store.delivery(one.id)
    assert row.status == DeliveryStatus.PENDING and row.attempts == 0
    store.mark_skipped(two.id, "by hand")
    assert [d.id for d in store.due_deliveries("a")] == [one.id]


def test_summaries_count_per_link_and_side(store: Store) -> None:
    store.record_poll(
        "a", "twitter", account_id="1", cursor="3", deliveries=[new("1"), new("2"), new("3")]
    )
    store.record_poll("a", "mastodon", account_id="9", cursor="x")
    one, two, _ = store.due_deliveries("a")
    store.mark_done(one.id)
    store.mark_failed(two.id, "no")
    rows = {(s.link, s.network): s for s in store.summaries()}
    twitter = rows[("a", "twitter")]
    assert (twitter.pending, twitter.failed, twitter.done) == (1, 1, 1)
    assert twitter.cursor == "3"
    assert (rows[("a", "mastodon")].pending, rows[("a", "mastodon")].cursor) == (0, "x")


def test_a_clock_set_back_does_not_hold_retries_up(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="1", deliveries=[new("1")])
    [delivery] = store.due_deliveries("a")
    now = utcnow()
    store.mark_retry(delivery.id, "timeout", now + timedelta(seconds=30), now=now)
    assert store.due_deliveries("a", now) == []
    set_back = now - timedelta(hours=1)  # NTP stepped the clock back an hour
    assert [d.id for d in store.due_deliveries("a", set_back)] == [delivery.id]
