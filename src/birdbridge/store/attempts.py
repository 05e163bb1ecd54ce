"""One delivery's way through the deliverer: claimed, marked before each network call, and
settled (done, retried, failed, skipped) with what it took on the way."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col

from birdbridge.redaction import redact
from birdbridge.store.base import NOT_PUBLISHING, StoreBase, clear_publishing
from birdbridge.store.tables import DeliveryRow
from birdbridge.store.values import OPEN_STATUSES, DeliveryPhase, DeliveryStatus, utcnow


class Attempts(StoreBase):
    """The progress of one delivery."""

    def lease(
        self, delivery_id: int, owner: str, seconds: float = 300, now: datetime | None = None
    ) -> bool:
        """Take a delivery for ``owner`` unless another worker holds a live lease on it."""
        now = now or utcnow()
        with self._session() as session:
            result = session.execute(
                update(DeliveryRow)
                .where(
                    col(DeliveryRow.id) == delivery_id,
                    col(DeliveryRow.status).in_([s.value for s in OPEN_STATUSES]),
                    or_(
                        col(DeliveryRow.lease_until).is_(None),
                        col(DeliveryRow.lease_until) < now,
                        col(DeliveryRow.lease_owner) == owner,
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
            row = session.get(DeliveryRow, delivery_id)
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

    def mark_done(self, delivery_id: int, now: datetime | None = None) -> None:
        self._settle(delivery_id, DeliveryStatus.DONE, None, now)

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
            row = session.get(DeliveryRow, delivery_id)
            if row is None:
                return 0
            row.attempts += 1 if count_attempt else 0
            if refused:
                row.status = DeliveryStatus.PENDING.value
                clear_publishing(row)
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
        cleared = NOT_PUBLISHING if refused else {}
        self._settle(delivery_id, DeliveryStatus.FAILED, error, now, **cleared)

    def mark_skipped(self, delivery_id: int, reason: str, now: datetime | None = None) -> None:
        self._settle(delivery_id, DeliveryStatus.SKIPPED, reason, now)

    def _settle(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        error: str | None,
        now: datetime | None,
        **more: object,
    ) -> None:
        """End an attempt with ``status`` and its reason; the claim is released."""
        self._update(
            delivery_id,
            status=status.value,
            last_error=redact(error) if error is not None else None,
            lease_owner=None,
            lease_until=None,
            updated_at=now or utcnow(),
            **more,
        )

    def set_phase(self, delivery_id: int, phase: DeliveryPhase | None) -> None:
        self._update(delivery_id, phase=phase.value if phase is not None else None)

    def add_note(self, delivery_id: int, note: str) -> None:
        """Remember a fallback this delivery took (shown by `birdbridge status`)."""
        with self._session() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or note in (row.notes or "").split("\n"):
                return  # a retry that takes the same fallback again says nothing new
            note = redact(note)
            row.notes = f"{row.notes}\n{note}" if row.notes else note
            session.add(row)

    def save_media_state(self, delivery_id: int, state: str) -> None:
        """Record uploaded media ids (and fallbacks) as soon as each upload is done."""
        self._update(delivery_id, media_state=state)
