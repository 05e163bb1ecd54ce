"""The outbox: deliveries enqueued by the poll and the re-check, and what the loop guard
and the re-check read of them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from birdbridge.store.base import StoreBase, clear_publishing, delivery_of, side_state
from birdbridge.store.tables import DeliveryRow
from birdbridge.store.values import (
    CLOCK_SLACK,
    OPEN_STATUSES,
    Delivery,
    DeliveryKind,
    DeliveryPhase,
    DeliveryStatus,
    InFlight,
    NewDelivery,
    as_utc,
    utcnow,
)


class Outbox(StoreBase):
    """Enqueueing and finding deliveries."""

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
            state = side_state(session, link, network)
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
            "kind": str(new.kind),
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "parent_source_id": new.parent_source_id,
            "payload": new.payload,
            "idempotency_token": uuid.uuid4().hex,
            "phase": DeliveryPhase.HELD.value if new.held else None,
            "created_at": now,
            "updated_at": now,
        }
        dialect = session.get_bind().dialect.name
        # Imported here: each dialect's module is megabytes, and a database is only one of them.
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            inserting: Any = pg_insert(DeliveryRow)  # either dialect's Insert
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            inserting = sqlite_insert(DeliveryRow)
        statement = (
            inserting.values(**values).on_conflict_do_nothing().returning(col(DeliveryRow.id))
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
                select(DeliveryRow).where(
                    *_one_of(
                        link,
                        change.source_network,
                        change.source_id,
                        change.target_network,
                        change.kind,
                    )
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
            row.phase = None  # a new change starts with no phase of the last one
            # A new change starts afresh: nothing of it is being published (recovery keys on
            # publishing_part).
            clear_publishing(row)
            row.updated_at = now
            session.add(row)
            return True

    def replace_payload(self, delivery_id: int, payload: str, now: datetime | None = None) -> None:
        """A post edited before it was mirrored: mirror the newest version instead."""
        self._update(delivery_id, payload=payload, updated_at=now or utcnow())

    def requeue(self, delivery_id: int, now: datetime | None = None) -> bool:
        """Put a failed or skipped delivery back in the queue (``birdbridge retry``). Its last
        error goes: it described the attempt that failed, and `status` would show it as the
        reason of a delivery that is merely waiting (the log keeps the old one)."""
        now = now or utcnow()
        with self._session() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or row.status not in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED):
                return False
            row.status = DeliveryStatus.PENDING.value
            row.attempts = 0
            row.last_error = None
            row.next_attempt_at = now
            row.updated_at = now
            session.add(row)
            return True

    def due_deliveries(
        self, link: str, now: datetime | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Open deliveries of a link whose time has come, oldest first (causal order)."""
        now = now or utcnow()
        with self._session() as session:
            query = (
                select(DeliveryRow)
                .where(
                    DeliveryRow.link == link,
                    col(DeliveryRow.status).in_([s.value for s in OPEN_STATUSES]),
                    # Also due: rows last touched "in the future", i.e. the clock has been set
                    # back since; their retry times would otherwise hold them up by the jump.
                    or_(
                        col(DeliveryRow.next_attempt_at) <= now,
                        col(DeliveryRow.updated_at) > now + CLOCK_SLACK,
                    ),
                )
                .order_by(col(DeliveryRow.id))
                .limit(limit)
            )
            return [delivery_of(row) for row in session.exec(query)]

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self._session() as session:
            row = session.get(DeliveryRow, delivery_id)
            return delivery_of(row) if row is not None else None

    def delivery_for(
        self,
        link: str,
        source_network: str,
        source_id: str,
        target_network: str,
        kind: DeliveryKind = DeliveryKind.POST,
    ) -> Delivery | None:
        """The delivery of one source post (or its edit, or deletion) to one target."""
        with self._session() as session:
            where = _one_of(link, source_network, source_id, target_network, kind)
            row = session.exec(select(DeliveryRow).where(*where)).first()
            return delivery_of(row) if row is not None else None

    def recent_sources(self, link: str, source_network: str, since: datetime) -> list[Delivery]:
        """Posts of one side mirrored since ``since`` (delivered, not deleted since): what a
        re-check reads again. One delivery per source post."""
        with self._session() as session:
            query = (
                select(DeliveryRow)
                .where(
                    DeliveryRow.link == link,
                    DeliveryRow.source_network == source_network,
                    DeliveryRow.kind == DeliveryKind.POST.value,
                    DeliveryRow.status == DeliveryStatus.DONE.value,
                    col(DeliveryRow.created_at) >= since,
                )
                .order_by(col(DeliveryRow.id))
            )
            deleted = set(
                session.exec(
                    select(DeliveryRow.source_id).where(
                        DeliveryRow.link == link,
                        DeliveryRow.source_network == source_network,
                        DeliveryRow.kind == DeliveryKind.DELETE.value,
                        DeliveryRow.status == DeliveryStatus.DONE.value,
                        col(DeliveryRow.created_at) >= since,
                    )
                )
            )
            rows: dict[str, Delivery] = {}
            for row in session.exec(query):
                if row.source_id not in deleted:  # gone already: not read again
                    rows.setdefault(row.source_id, delivery_of(row))
            return list(rows.values())

    def enqueued_since(self, link: str, source_network: str, since: datetime) -> int:
        """New posts of one side put in the outbox since ``since`` (for max_per_hour)."""
        with self._session() as session:
            query = select(func.count(func.distinct(DeliveryRow.source_id))).where(
                DeliveryRow.link == link,
                DeliveryRow.source_network == source_network,
                DeliveryRow.kind == DeliveryKind.POST.value,
                col(DeliveryRow.created_at) >= since,
            )
            return int(session.exec(query).one())

    def in_flight(self, link: str, target_network: str) -> list[InFlight]:
        """Parts being published to ``target_network`` whose outcome is not recorded yet."""
        with self._session() as session:
            query = select(
                DeliveryRow.publishing_text,
                DeliveryRow.publishing_started_at,
                DeliveryRow.publishing_attempt_at,
            ).where(
                DeliveryRow.link == link,
                DeliveryRow.target_network == target_network,
                DeliveryRow.status == DeliveryStatus.PUBLISHING.value,
                col(DeliveryRow.publishing_text).is_not(None),
                col(DeliveryRow.publishing_started_at).is_not(None),
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
            query = select(DeliveryRow.source_id).where(
                DeliveryRow.link == link,
                DeliveryRow.source_network == network,
                DeliveryRow.kind == DeliveryKind.POST.value,
                col(DeliveryRow.created_at) >= since,
                or_(
                    col(DeliveryRow.phase).is_(None),
                    col(DeliveryRow.phase) != DeliveryPhase.HELD.value,
                ),
            )
            return set(session.exec(query))


def _one_of(
    link: str, source_network: str, source_id: str, target_network: str, kind: str
) -> tuple[ColumnElement[bool], ...]:
    """The row of one source post, target and kind (the outbox's unique key)."""
    return (
        col(DeliveryRow.link) == link,
        col(DeliveryRow.source_network) == source_network,
        col(DeliveryRow.source_id) == source_id,
        col(DeliveryRow.target_network) == target_network,
        col(DeliveryRow.kind) == str(kind),
    )
