"""Named operations on the state database, each one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, func, or_, update
from sqlalchemy import text as sa_text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from birdbridge.redaction import redact
from birdbridge.store.database import create_db_engine, migrate
from birdbridge.store.tables import ApiCalls, Delivery, LinkState, Mirror


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    PUBLISHING = "publishing"  # a network call for `publishing_part` may have happened
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.PUBLISHING)
HELD = "held"  # Delivery.phase of a post read while a same-text post of ours was in flight
CLOCK_SLACK = timedelta(minutes=1)  # clocks of several workers may differ a little


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class NewDelivery:
    source_network: str
    source_id: str
    target_network: str
    payload: str
    parent_source_id: str | None = None
    kind: str = "post"
    # Read while a post of ours with the same text was in flight: delivered only once that
    # publish is settled and did not turn out to be this very post (Delivery.phase "held").
    held: bool = False


@dataclass(frozen=True)
class InFlight:
    """A part being published whose outcome is not recorded yet (for the loop guard)."""

    text: str
    started_at: datetime  # the first attempt's start
    attempt_at: datetime  # the latest attempt's start


@dataclass(frozen=True)
class LinkSummary:
    link: str
    network: str
    cursor: str | None
    last_poll_at: datetime | None
    last_error: str | None
    pending: int
    failed: int
    done: int
    next_retry: datetime | None = None  # the soonest an open delivery from this side is due
    paused_until: datetime | None = None
    paused_kind: str | None = None
    paused_reason: str | None = None


class Store:
    """The state database behind one URL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        engine = create_db_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # -- link state ------------------------------------------------------------------
    def link_state(self, link: str, network: str) -> LinkState | None:
        with self._session() as session:
            state = session.get(LinkState, (link, network))
            if state is not None:
                session.expunge(state)
            return state

    def record_poll(
        self,
        link: str,
        network: str,
        *,
        account_id: str,
        cursor: str | None,
        deliveries: Sequence[NewDelivery] = (),
        now: datetime | None = None,
    ) -> int:
        """Enqueue ``deliveries`` and advance the cursor in ONE transaction (exactly once).

        A delivery already in the outbox (same link, source post, target, kind) is kept as it
        is. Returns how many were new.
        """
        now = now or utcnow()
        with self._session() as session:
            added = sum(self._insert_delivery(session, link, d, now) for d in deliveries)
            state = session.get(LinkState, (link, network)) or LinkState(link=link, network=network)
            state.account_id = account_id
            if cursor is not None:
                state.cursor = cursor
            state.last_poll_at = now
            state.last_error = None
            state.last_error_at = None
            session.add(state)
            return added

    def _insert_delivery(self, session: Session, link: str, new: NewDelivery, now: datetime) -> int:
        values = {
            "link": link,
            "source_network": new.source_network,
            "source_id": new.source_id,
            "target_network": new.target_network,
            "kind": new.kind,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "parent_source_id": new.parent_source_id,
            "payload": new.payload,
            "idempotency_token": uuid.uuid4().hex,
            "phase": HELD if new.held else None,
            "created_at": now,
            "updated_at": now,
        }
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(Delivery).values(**values).on_conflict_do_nothing().returning(col(Delivery.id))
        )
        # RETURNING gives a row only when the insert happened (rowcount is -1 on psycopg).
        return len(session.execute(statement).all())

    def enqueue_change(self, link: str, change: NewDelivery, now: datetime | None = None) -> bool:
        """Enqueue an edit or a deletion. One row per source post, target and kind: a newer
        change replaces an older one that is not being published right now. False when
        nothing was enqueued (an identical change, or one in the middle of publishing)."""
        now = now or utcnow()
        with self._session() as session:
            if self._insert_delivery(session, link, change, now):
                return True
            row = session.exec(
                select(Delivery).where(
                    Delivery.link == link,
                    Delivery.source_network == change.source_network,
                    Delivery.source_id == change.source_id,
                    Delivery.target_network == change.target_network,
                    Delivery.kind == change.kind,
                )
            ).one()
            if row.status == DeliveryStatus.PUBLISHING.value or (
                row.payload == change.payload and row.status != DeliveryStatus.FAILED.value
            ):
                return False
            row.payload = change.payload
            row.status = DeliveryStatus.PENDING.value
            row.attempts = 0
            row.last_error = None
            row.next_attempt_at = now
            row.idempotency_token = uuid.uuid4().hex
            row.media_state = None
            # A new change starts afresh: nothing of it is being published (recovery keys on
            # publishing_part).
            row.publishing_part = None
            row.publishing_text = None
            row.publishing_started_at = None
            row.publishing_attempt_at = None
            row.phase = None  # a new change starts with no phase of the last one
            row.updated_at = now
            session.add(row)
            return True

    def replace_payload(self, delivery_id: int, payload: str, now: datetime | None = None) -> None:
        """A post edited before it was mirrored: mirror the newest version instead."""
        self._update(delivery_id, payload=payload, updated_at=now or utcnow())

    def recent_sources(self, link: str, source_network: str, since: datetime) -> list[Delivery]:
        """Posts of one side mirrored since ``since`` (delivered, not deleted since): what a
        re-check reads again. One delivery per source post."""
        with self._session() as session:
            query = (
                select(Delivery)
                .where(
                    Delivery.link == link,
                    Delivery.source_network == source_network,
                    Delivery.kind == "post",
                    Delivery.status == DeliveryStatus.DONE.value,
                    col(Delivery.created_at) >= since,
                )
                .order_by(col(Delivery.id))
            )
            deleted = set(
                session.exec(
                    select(Delivery.source_id).where(
                        Delivery.link == link,
                        Delivery.source_network == source_network,
                        Delivery.kind == "delete",
                        Delivery.status == DeliveryStatus.DONE.value,
                        col(Delivery.created_at) >= since,
                    )
                )
            )
            rows: dict[str, Delivery] = {}
            for row in session.exec(query):
                session.expunge(row)
                if row.source_id not in deleted:  # gone already: not read again
                    rows.setdefault(row.source_id, row)
            return list(rows.values())

    def enqueued_since(self, link: str, source_network: str, since: datetime) -> int:
        """New posts of one side put in the outbox since ``since`` (for max_per_hour)."""
        with self._session() as session:
            query = select(func.count(func.distinct(Delivery.source_id))).where(
                Delivery.link == link,
                Delivery.source_network == source_network,
                Delivery.kind == "post",
                col(Delivery.created_at) >= since,
            )
            return int(session.exec(query).one())

    def mark_rechecked(self, link: str, network: str, now: datetime | None = None) -> None:
        with self._session() as session:
            state = session.get(LinkState, (link, network)) or LinkState(link=link, network=network)
            state.rechecked_at = now or utcnow()
            session.add(state)

    def record_poll_error(
        self, link: str, network: str, error: str, now: datetime | None = None
    ) -> None:
        now = now or utcnow()
        with self._session() as session:
            state = session.get(LinkState, (link, network)) or LinkState(link=link, network=network)
            state.last_error = redact(error)
            state.last_error_at = now
            session.add(state)

    # -- pauses ----------------------------------------------------------------------
    def pause(self, link: str, network: str, *, until: datetime, kind: str, reason: str) -> None:
        with self._session() as session:
            state = session.get(LinkState, (link, network)) or LinkState(link=link, network=network)
            state.paused_until = until
            state.paused_kind = kind
            state.paused_reason = redact(reason)
            session.add(state)

    def pauses(self, link: str, now: datetime | None = None) -> dict[str, LinkState]:
        """The link's sides paused at ``now``, by network."""
        now = now or utcnow()
        with self._session() as session:
            rows = session.exec(
                select(LinkState).where(
                    LinkState.link == link, col(LinkState.paused_until).is_not(None)
                )
            )
            paused = {r.network: r for r in rows if (as_utc(r.paused_until) or now) > now}
            for row in paused.values():
                session.expunge(row)
            return paused

    def resume(self, link: str | None = None, kinds: Collection[str] | None = None) -> int:
        """Lift pauses (of one link and/or of these kinds); returns how many were lifted."""
        with self._session() as session:
            query = update(LinkState).where(col(LinkState.paused_until).is_not(None))
            if link is not None:
                query = query.where(col(LinkState.link) == link)
            if kinds is not None:
                query = query.where(col(LinkState.paused_kind).in_(list(kinds)))
            result = session.execute(
                query.values(paused_until=None, paused_kind=None, paused_reason=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- API call accounting ---------------------------------------------------------
    def add_api_calls(
        self, link: str, network: str, counts: dict[tuple[datetime, bool], int]
    ) -> None:
        with self._session() as session:
            for (hour, limited), number in counts.items():
                row = session.get(ApiCalls, (link, network, hour)) or ApiCalls(
                    link=link, network=network, hour=hour, calls=0, limited=0
                )
                row.calls += number
                row.limited += number if limited else 0
                session.add(row)

    def api_calls_since(self, since: datetime) -> dict[tuple[str, str], tuple[int, int]]:
        """(calls, 429s) per (link, network) since ``since``."""
        with self._session() as session:
            query = (
                select(
                    ApiCalls.link,
                    ApiCalls.network,
                    func.sum(ApiCalls.calls),
                    func.sum(ApiCalls.limited),
                )
                .where(ApiCalls.hour >= since)
                .group_by(ApiCalls.link, ApiCalls.network)
            )
            return {
                (link, network): (int(calls or 0), int(limited or 0))
                for link, network, calls, limited in session.exec(query)
            }

    # -- guard -----------------------------------------------------------------------
    def is_mirror_target(self, link: str, network: str, post_id: str) -> bool:
        """True when ``post_id`` on ``network`` is a post birdbridge published (no loops)."""
        with self._session() as session:
            query = select(Mirror.id).where(
                Mirror.link == link, Mirror.target_network == network, Mirror.target_id == post_id
            )
            return session.exec(query).first() is not None

    def in_flight(self, link: str, target_network: str) -> list[InFlight]:
        """Parts being published to ``target_network`` whose outcome is not recorded yet."""
        with self._session() as session:
            query = select(
                Delivery.publishing_text,
                Delivery.publishing_started_at,
                Delivery.publishing_attempt_at,
            ).where(
                Delivery.link == link,
                Delivery.target_network == target_network,
                Delivery.status == DeliveryStatus.PUBLISHING.value,
                col(Delivery.publishing_text).is_not(None),
                col(Delivery.publishing_started_at).is_not(None),
            )
            found = []
            for text, started, attempt in session.exec(query):
                first = as_utc(started)
                if text and first is not None:
                    found.append(InFlight(text, first, as_utc(attempt) or first))
            return found

    def native_ids(self, link: str, network: str, since: datetime) -> set[str]:
        """Posts of ``network`` the poll read as the user's own (enqueued, not held) since
        ``since``: recovery never adopts one of them as a post birdbridge wrote."""
        with self._session() as session:
            query = select(Delivery.source_id).where(
                Delivery.link == link,
                Delivery.source_network == network,
                Delivery.kind == "post",
                col(Delivery.created_at) >= since,
                or_(col(Delivery.phase).is_(None), col(Delivery.phase) != HELD),
            )
            return set(session.exec(query))

    # -- deliveries ------------------------------------------------------------------
    def due_deliveries(
        self, link: str, now: datetime | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Open deliveries of a link whose time has come, oldest first (causal order)."""
        now = now or utcnow()
        with self._session() as session:
            query = (
                select(Delivery)
                .where(
                    Delivery.link == link,
                    col(Delivery.status).in_([s.value for s in OPEN_STATUSES]),
                    # Also due: rows last touched "in the future", i.e. the clock has been set
                    # back since; their retry times would otherwise hold them up by the jump.
                    or_(
                        col(Delivery.next_attempt_at) <= now,
                        col(Delivery.updated_at) > now + CLOCK_SLACK,
                    ),
                )
                .order_by(col(Delivery.id))
                .limit(limit)
            )
            rows = list(session.exec(query))
            for row in rows:
                session.expunge(row)
            return rows

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self._session() as session:
            row = session.get(Delivery, delivery_id)
            if row is not None:
                session.expunge(row)
            return row

    def delivery_for(
        self,
        link: str,
        source_network: str,
        source_id: str,
        target_network: str,
        kind: str = "post",
    ) -> Delivery | None:
        with self._session() as session:
            row = session.exec(
                select(Delivery).where(
                    Delivery.link == link,
                    Delivery.source_network == source_network,
                    Delivery.source_id == source_id,
                    Delivery.target_network == target_network,
                    Delivery.kind == kind,
                )
            ).first()
            if row is not None:
                session.expunge(row)
            return row

    def lease(
        self, delivery_id: int, owner: str, seconds: float = 300, now: datetime | None = None
    ) -> bool:
        """Take a delivery for ``owner`` unless another worker holds a live lease on it."""
        now = now or utcnow()
        with self._session() as session:
            result = session.execute(
                update(Delivery)
                .where(
                    col(Delivery.id) == delivery_id,
                    col(Delivery.status).in_([s.value for s in OPEN_STATUSES]),
                    or_(
                        col(Delivery.lease_until).is_(None),
                        col(Delivery.lease_until) < now,
                        col(Delivery.lease_owner) == owner,
                    ),
                )
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def mark_publishing(
        self, delivery_id: int, part_index: int, text: str, now: datetime | None = None
    ) -> None:
        """Record the intent to publish one part, BEFORE the network call.

        A second attempt at the same part keeps the first attempt's time: recovery searches
        the target from there.
        """
        now = now or utcnow()
        with self._session() as session:
            row = session.get(Delivery, delivery_id)
            if row is None:
                return
            if row.publishing_part != part_index or row.publishing_started_at is None:
                row.publishing_started_at = now
            row.publishing_attempt_at = now
            row.status = DeliveryStatus.PUBLISHING.value
            row.publishing_part = part_index
            row.publishing_text = text
            row.updated_at = now
            session.add(row)

    def record_part(
        self,
        delivery: Delivery,
        part_index: int,
        target_id: str,
        target_url: str | None,
        now: datetime | None = None,
        *,
        repost_of: str | None = None,
    ) -> None:
        """Record one published part in the mirror map, right after the network call
        (``repost_of``: the part is a native repost of that target post)."""
        now = now or utcnow()
        with self._session() as session:
            session.add(
                Mirror(
                    link=delivery.link,
                    source_network=delivery.source_network,
                    source_id=delivery.source_id,
                    part_index=part_index,
                    target_network=delivery.target_network,
                    target_id=target_id,
                    target_url=target_url,
                    created_at=now,
                    repost_of=repost_of,
                )
            )
            session.execute(
                update(Delivery)
                .where(col(Delivery.id) == delivery.id)
                .values(
                    publishing_part=None,
                    publishing_text=None,
                    publishing_started_at=None,
                    publishing_attempt_at=None,
                    updated_at=now,
                )
            )

    def mark_done(self, delivery_id: int, now: datetime | None = None) -> None:
        now = now or utcnow()
        self._update(
            delivery_id,
            status=DeliveryStatus.DONE.value,
            last_error=None,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )

    def mark_retry(
        self,
        delivery_id: int,
        error: str,
        next_attempt_at: datetime,
        *,
        count_attempt: bool = True,
        refused: bool = False,
        now: datetime | None = None,
    ) -> int:
        """Schedule another try; returns the attempts used so far.

        ``refused``: the network answered "no" (429, 401, 4xx), so nothing was published and
        the part needs no recovery. Otherwise a ``publishing`` part stays marked for recovery.
        """
        now = now or utcnow()
        with self._session() as session:
            row = session.get(Delivery, delivery_id)
            if row is None:
                return 0
            row.attempts += 1 if count_attempt else 0
            if refused:
                row.status = DeliveryStatus.PENDING.value
                row.publishing_part = None
                row.publishing_text = None
                row.publishing_started_at = None
                row.publishing_attempt_at = None
            row.last_error = redact(error)
            row.next_attempt_at = next_attempt_at
            row.lease_owner = None
            row.lease_until = None
            row.updated_at = now
            session.add(row)
            return row.attempts

    def mark_failed(
        self, delivery_id: int, error: str, *, refused: bool = False, now: datetime | None = None
    ) -> None:
        """Give up until a command retries it. ``refused`` as in :meth:`mark_retry`."""
        now = now or utcnow()
        cleared = (
            {
                "publishing_part": None,
                "publishing_text": None,
                "publishing_started_at": None,
                "publishing_attempt_at": None,
            }
            if refused
            else {}
        )
        self._update(
            delivery_id,
            status=DeliveryStatus.FAILED.value,
            last_error=redact(error),
            lease_owner=None,
            lease_until=None,
            updated_at=now,
            **cleared,
        )

    def mark_skipped(self, delivery_id: int, reason: str, now: datetime | None = None) -> None:
        now = now or utcnow()
        self._update(
            delivery_id,
            status=DeliveryStatus.SKIPPED.value,
            last_error=redact(reason),
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )

    def requeue(self, delivery_id: int, now: datetime | None = None) -> bool:
        """Put a failed or skipped delivery back in the queue (``birdbridge retry``)."""
        now = now or utcnow()
        with self._session() as session:
            row = session.get(Delivery, delivery_id)
            if row is None or row.status not in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED):
                return False
            row.status = DeliveryStatus.PENDING.value
            row.attempts = 0
            row.next_attempt_at = now
            row.updated_at = now
            session.add(row)
            return True

    def set_phase(self, delivery_id: int, phase: str | None) -> None:
        self._update(delivery_id, phase=phase)

    def add_note(self, delivery_id: int, note: str) -> None:
        """Remember a fallback this delivery took (shown by `birdbridge status`)."""
        with self._session() as session:
            row = session.get(Delivery, delivery_id)
            if row is None or note in (row.notes or "").split("\n"):
                return  # a retry that takes the same fallback again says nothing new
            note = redact(note)
            row.notes = f"{row.notes}\n{note}" if row.notes else note
            session.add(row)

    def noted(self, since: datetime, link: str | None = None) -> list[Delivery]:
        """Deliveries updated since ``since`` that took a fallback, oldest first."""
        with self._session() as session:
            query = (
                select(Delivery)
                .where(col(Delivery.notes).is_not(None), Delivery.updated_at >= since)
                .order_by(col(Delivery.id))
            )
            if link is not None:
                query = query.where(Delivery.link == link)
            rows = list(session.exec(query))
            for row in rows:
                session.expunge(row)
            return rows

    def save_media_state(self, delivery_id: int, state: str) -> None:
        """Record uploaded media ids (and fallbacks) as soon as each upload is done."""
        self._update(delivery_id, media_state=state)

    def _update(self, delivery_id: int, **values: object) -> None:
        with self._session() as session:
            session.execute(
                update(Delivery).where(col(Delivery.id) == delivery_id).values(**values)
            )

    # -- the mirror map --------------------------------------------------------------
    def mirror_parts(
        self,
        link: str,
        source_network: str,
        source_id: str,
        target_network: str,
        *,
        include_deleted: bool = False,
    ) -> list[Mirror]:
        """The parts a source post became on the target, in order; deleted ones only when
        asked (a deleted target is never replied to or pointed at)."""
        with self._session() as session:
            query = (
                select(Mirror)
                .where(
                    Mirror.link == link,
                    Mirror.source_network == source_network,
                    Mirror.source_id == source_id,
                    Mirror.target_network == target_network,
                )
                .order_by(col(Mirror.part_index))
            )
            if not include_deleted:
                query = query.where(col(Mirror.deleted_at).is_(None))
            rows = list(session.exec(query))
            for row in rows:
                session.expunge(row)
            return rows

    def replace_part(
        self, mirror_id: int, target_id: str, target_url: str | None, now: datetime | None = None
    ) -> None:
        """An edited part got a new id (X gives each version its own): the map follows it."""
        with self._session() as session:
            session.execute(
                update(Mirror)
                .where(col(Mirror.id) == mirror_id)
                .values(target_id=target_id, target_url=target_url, deleted_at=None)
            )

    def mark_part_deleted(self, mirror_id: int, now: datetime | None = None) -> None:
        """The target post is gone. The row stays (the guard still knows the id was ours);
        its part number moves out of the way (-id) so the post can be published again."""
        with self._session() as session:
            session.execute(
                update(Mirror)
                .where(col(Mirror.id) == mirror_id)
                .values(deleted_at=now or utcnow(), part_index=-mirror_id)
            )

    def mirror_source(self, link: str, target_network: str, target_id: str) -> Mirror | None:
        """The mirror row whose target is ``target_id`` (which source post it came from)."""
        with self._session() as session:
            row = session.exec(
                select(Mirror).where(
                    Mirror.link == link,
                    Mirror.target_network == target_network,
                    Mirror.target_id == target_id,
                )
            ).first()
            if row is not None:
                session.expunge(row)
            return row

    def is_our_repost(self, link: str, network: str, reposted_id: str) -> bool:
        """Did birdbridge repost ``reposted_id`` on ``network`` (and not undo it)? The loop
        guard for reposts whose own id the network did not tell."""
        with self._session() as session:
            row = session.exec(
                select(Mirror.id).where(
                    Mirror.link == link,
                    Mirror.target_network == network,
                    Mirror.repost_of == reposted_id,
                    col(Mirror.deleted_at).is_(None),
                )
            ).first()
            return row is not None

    def mirror_target_ids(self, link: str, target_network: str, since: datetime) -> set[str]:
        """Ids of posts birdbridge published on ``target_network`` since ``since``."""
        with self._session() as session:
            query = select(Mirror.target_id).where(
                Mirror.link == link,
                Mirror.target_network == target_network,
                Mirror.created_at >= since,
            )
            return set(session.exec(query))

    def mirrors(self, link: str | None = None) -> list[Mirror]:
        with self._session() as session:
            query = select(Mirror).order_by(col(Mirror.id))
            if link is not None:
                query = query.where(Mirror.link == link)
            rows = list(session.exec(query))
            for row in rows:
                session.expunge(row)
            return rows

    # -- health and metrics -----------------------------------------------------------
    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(sa_text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def queue_stats(self) -> dict[str, tuple[int, datetime | None, int]]:
        """Per link: open deliveries, when the oldest was enqueued, failed deliveries."""
        with self._session() as session:
            open_rows = session.exec(
                select(Delivery.link, func.count(), func.min(Delivery.created_at))
                .where(col(Delivery.status).in_([s.value for s in OPEN_STATUSES]))
                .group_by(Delivery.link)
            )
            stats = {link: (int(n), as_utc(oldest), 0) for link, n, oldest in open_rows}
            failed_rows = session.exec(
                select(Delivery.link, func.count())
                .where(Delivery.status == DeliveryStatus.FAILED.value)
                .group_by(Delivery.link)
            )
            for link, n in failed_rows:
                count, oldest, _ = stats.get(link, (0, None, 0))
                stats[link] = (count, oldest, int(n))
            return stats

    # -- reporting -------------------------------------------------------------------
    def deliveries(
        self, link: str | None = None, statuses: Sequence[str] | None = None
    ) -> list[Delivery]:
        with self._session() as session:
            query = select(Delivery).order_by(col(Delivery.id))
            if link is not None:
                query = query.where(Delivery.link == link)
            if statuses:
                query = query.where(col(Delivery.status).in_(list(statuses)))
            rows = list(session.exec(query))
            for row in rows:
                session.expunge(row)
            return rows

    def summaries(self) -> list[LinkSummary]:
        with self._session() as session:
            counts: dict[tuple[str, str, str], int] = {}
            query = select(
                Delivery.link, Delivery.source_network, Delivery.status, func.count()
            ).group_by(Delivery.link, Delivery.source_network, Delivery.status)
            for link, network, status, number in session.exec(query):
                counts[(link, network, status)] = number
            next_due = {
                (link, network): as_utc(due)
                for link, network, due in session.exec(
                    select(
                        Delivery.link, Delivery.source_network, func.min(Delivery.next_attempt_at)
                    )
                    .where(col(Delivery.status).in_([s.value for s in OPEN_STATUSES]))
                    .group_by(Delivery.link, Delivery.source_network)
                )
            }
            states = list(
                session.exec(select(LinkState).order_by(LinkState.link, LinkState.network))
            )

            def count(state: LinkState, *statuses: str) -> int:
                return sum(counts.get((state.link, state.network, s), 0) for s in statuses)

            return [
                LinkSummary(
                    link=s.link,
                    network=s.network,
                    cursor=s.cursor,
                    last_poll_at=as_utc(s.last_poll_at),
                    last_error=s.last_error,
                    pending=count(s, DeliveryStatus.PENDING, DeliveryStatus.PUBLISHING),
                    failed=count(s, DeliveryStatus.FAILED),
                    done=count(s, DeliveryStatus.DONE),
                    next_retry=next_due.get((s.link, s.network)),
                    paused_until=as_utc(s.paused_until),
                    paused_kind=s.paused_kind,
                    paused_reason=s.paused_reason,
                )
                for s in states
            ]
