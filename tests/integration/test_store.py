"""The store's named operations, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text as sa_text
from sqlalchemy.exc import IntegrityError

from birdbridge.errors import ConfigError
from birdbridge.store import DeliveryStatus, NewDelivery, Store
from birdbridge.store.database import MIGRATIONS, create_db_engine
from birdbridge.store.migrations import HEAD_REVISION
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
        assert version.scalar_one() == HEAD_REVISION
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
    [flight] = store.in_flight("a", "mastodon")
    assert flight.text == "hello"
    # recovery looks from the first attempt's start up to the latest attempt's end
    assert flight.started_at == started and flight.attempt_at == started + timedelta(minutes=5)

    attempts = store.mark_retry(delivery.id, "timeout", started + timedelta(seconds=30))
    assert attempts == 1
    row = store.delivery(delivery.id)
    assert row.status == DeliveryStatus.PUBLISHING and row.publishing_text == "hello"

    store.mark_retry(delivery.id, "429", started, count_attempt=False, refused=True)
    row = store.delivery(delivery.id)
    assert row.status == DeliveryStatus.PENDING and row.publishing_part is None
    assert row.attempts == 1
    assert store.in_flight("a", "mastodon") == []


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


def test_changes_replace_older_changes_but_not_one_being_published(store: Store) -> None:
    edit = NewDelivery("twitter", "9", "mastodon", '{"v": 1}', kind="edit")
    assert store.enqueue_change("a", edit)
    assert not store.enqueue_change("a", edit)  # the same change again: nothing to do
    [row] = [d for d in store.due_deliveries("a") if d.kind == "edit"]
    assert row.id is not None
    store.mark_done(row.id)
    newer = NewDelivery("twitter", "9", "mastodon", '{"v": 2}', kind="edit")
    assert store.enqueue_change("a", newer)  # a later edit reopens the row with its payload
    again = store.delivery(row.id)
    assert again is not None and again.status == "pending" and again.payload == '{"v": 2}'
    store.mark_publishing(row.id, 0, "text")
    assert not store.enqueue_change("a", NewDelivery("twitter", "9", "mastodon", "{}", kind="edit"))
    assert store.delivery(row.id).payload == '{"v": 2}'  # type: ignore[union-attr]


def test_deleted_parts_leave_the_live_map_but_stay_ours(store: Store) -> None:
    store.record_poll("a", "twitter", account_id="1", cursor="9", deliveries=[new("9")])
    [delivery] = store.due_deliveries("a")
    store.record_part(delivery, 0, "m1", "https://m/1")
    store.record_part(delivery, 1, "m2", "https://m/2")
    parts = store.mirror_parts("a", "twitter", "9", "mastodon")
    assert parts[1].id is not None
    store.mark_part_deleted(parts[1].id)
    assert [m.target_id for m in store.mirror_parts("a", "twitter", "9", "mastodon")] == ["m1"]
    everything = store.mirror_parts("a", "twitter", "9", "mastodon", include_deleted=True)
    assert {m.target_id for m in everything} == {"m1", "m2"}
    assert store.is_mirror_target("a", "mastodon", "m2")  # the guard still knows it
    store.record_part(delivery, 1, "m3", "https://m/3")  # part 1 can be published again
    assert parts[0].id is not None
    store.replace_part(parts[0].id, "m1-v2", "https://m/1-v2")
    live = store.mirror_parts("a", "twitter", "9", "mastodon")
    assert [m.target_id for m in live] == ["m1-v2", "m3"]


def test_recent_sources_and_the_hourly_count(store: Store) -> None:
    now = utcnow()
    store.record_poll("a", "twitter", account_id="1", cursor="2", deliveries=[new("1"), new("2")])
    assert store.enqueued_since("a", "twitter", now - timedelta(hours=1)) == 2
    assert store.enqueued_since("a", "twitter", now + timedelta(minutes=1)) == 0
    assert store.recent_sources("a", "twitter", now - timedelta(hours=1)) == []  # none done
    first = store.due_deliveries("a")[0]
    assert first.id is not None
    store.mark_done(first.id)
    assert [
        d.source_id for d in store.recent_sources("a", "twitter", now - timedelta(hours=1))
    ] == ["1"]
    store.replace_payload(first.id, '{"edited": true}')
    assert store.delivery(first.id).payload == '{"edited": true}'  # type: ignore[union-attr]
    store.mark_rechecked("a", "twitter", now)
    state = store.link_state("a", "twitter")
    assert state is not None and state.rechecked_at is not None


def test_a_source_whose_deletion_is_done_is_not_read_again(store: Store) -> None:
    now = utcnow()
    store.record_poll("a", "twitter", account_id="1", cursor="2", deliveries=[new("1"), new("2")])
    for delivery in store.due_deliveries("a"):
        assert delivery.id is not None
        store.mark_done(delivery.id)
    store.enqueue_change("a", NewDelivery("twitter", "1", "mastodon", "{}", kind="delete"))
    since = now - timedelta(hours=1)
    assert {d.source_id for d in store.recent_sources("a", "twitter", since)} == {"1", "2"}
    [deletion] = store.due_deliveries("a")
    assert deletion.id is not None
    store.mark_done(deletion.id)
    assert [d.source_id for d in store.recent_sources("a", "twitter", since)] == ["2"]


def test_a_database_from_a_newer_birdbridge_is_named_not_a_traceback(database_url: str) -> None:
    store = Store.open(database_url)
    with store.engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = '0099'"))
    store.close()
    with pytest.raises(ConfigError) as refused:
        Store.open(database_url)
    message = str(refused.value)
    assert "schema revision '0099', written by a newer birdbridge" in message
    assert f"knows up to '{HEAD_REVISION}'" in message


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db"
    store = Store.open(f"sqlite:///{path}")
    store.record_poll("a", "twitter", account_id="1", cursor="1", deliveries=[new("1")])
    files = [path, path.with_name("state.db-wal"), path.with_name("state.db-shm")]
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}
    store.close()
    assert modes["state.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_two_processes_starting_on_a_fresh_sqlite_file_both_work(tmp_path: Path) -> None:
    code = "import sys; from birdbridge.store import Store; Store.open(sys.argv[1]).close()"
    for round_ in range(5):
        url = f"sqlite:///{tmp_path / f'fresh-{round_}.db'}"
        starts = [
            subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        for process in starts:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr


def test_recovery_never_takes_posts_the_poll_read_as_the_users_own(store: Store) -> None:
    """native_ids: posts enqueued as the user's own are listed; held ones (maybe ours, being
    published) are not, so recovery may still adopt them."""
    held = NewDelivery(
        source_network="twitter", source_id="2", target_network="mastodon", payload="{}", held=True
    )
    store.record_poll("a", "twitter", account_id="1", cursor="2", deliveries=[new("1"), held])
    since = utcnow() - timedelta(minutes=1)
    assert store.native_ids("a", "twitter", since) == {"1"}
    assert store.native_ids("a", "mastodon", since) == set()
    [_, row] = store.deliveries()
    assert row.phase == "held"


def test_a_database_from_the_first_revision_with_rows_in_it_upgrades_intact(
    database_url: str,
) -> None:
    """A birdbridge 0001 database in use (a cursor, a pending and a publishing delivery, a
    mirror) upgraded by today's start-up: every row keeps its meaning and the store works."""
    engine = create_db_engine(database_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    now = utcnow()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.upgrade(config, "0001")
        connection.execute(
            sa_text(
                "INSERT INTO link_state (link, network, account_id, cursor, last_poll_at) "
                "VALUES ('a', 'twitter', '1', '42', :now)"
            ),
            {"now": now},
        )
        for number, status, part in (("7", "pending", None), ("8", "publishing", 0)):
            connection.execute(
                sa_text(
                    "INSERT INTO delivery (link, source_network, source_id, target_network, "
                    "kind, status, attempts, next_attempt_at, payload, idempotency_token, "
                    "publishing_part, publishing_text, publishing_started_at, created_at, "
                    "updated_at) VALUES ('a', 'twitter', :id, 'mastodon', 'post', :status, 0, "
                    ":now, '{}', :token, :part, :text, :started, :now, :now)"
                ),
                {
                    "id": number,
                    "status": status,
                    "now": now,
                    "token": f"t{number}",
                    "part": part,
                    "text": "in flight" if part is not None else None,
                    "started": now if part is not None else None,
                },
            )
        connection.execute(
            sa_text(
                "INSERT INTO mirror (link, source_network, source_id, part_index, "
                "target_network, target_id, target_url, created_at) "
                "VALUES ('a', 'twitter', '6', 0, 'mastodon', '600', 'https://m/600', :now)"
            ),
            {"now": now},
        )
    engine.dispose()

    store = Store.open(database_url)  # migrates to the newest revision
    try:
        state = store.link_state("a", "twitter")
        assert state is not None and state.cursor == "42" and state.paused_until is None
        pending, publishing = store.deliveries()
        assert (pending.source_id, pending.status, pending.phase) == ("7", "pending", None)
        assert publishing.status == DeliveryStatus.PUBLISHING and publishing.notes is None
        [flight] = store.in_flight("a", "mastodon")  # recovery still knows what was in flight
        assert flight.text == "in flight" and flight.attempt_at == flight.started_at
        mirror = store.mirror_source("a", "mastodon", "600")
        assert mirror is not None and mirror.source_id == "6" and mirror.repost_of is None
        assert store.is_mirror_target("a", "mastodon", "600")
        assert [d.source_id for d in store.due_deliveries("a", now + timedelta(seconds=1))] == [
            "7",
            "8",
        ]
    finally:
        store.close()


def test_x_spend_is_kept_per_day_and_reads_are_billed_once_a_day(store: Store) -> None:
    from birdbridge.models import Charge

    day = datetime(2026, 12, 15, 12, tzinfo=UTC)
    posts = Charge("owned_read", 2, 1_000, ("1", "2"), resource_kind="post")
    again = Charge("post_read", 2, 5_000, ("2", "3"), resource_kind="post")  # "2" is billed
    write = Charge("post", 1, 15_000)
    assert store.record_x_charges("a", [posts, write], day) == 17_000
    assert store.record_x_charges("a", [again], day) == 5_000
    assert store.record_x_charges("a", [again], day + timedelta(days=1)) == 10_000
    spent = store.x_spend(day.date())["a"]
    assert (spent["owned_read"].units, spent["post_read"].units, spent["post"].units) == (2, 3, 1)
    assert store.x_month_micros("a", day + timedelta(days=1)) == 32_000
    assert store.x_month_micros("a", datetime(2027, 1, 1, tzinfo=UTC)) == 0  # a new month
    # A server that answers ids no X post has (huge, not ASCII) cannot stop the meter.
    odd = Charge("post_read", 2, 5_000, ("9" * 500, "ü" * 30), resource_kind="post")
    assert store.record_x_charges("a", [odd, odd], day) == 10_000
