"""Link state per link and source network: the poll cursor, the last poll's outcome, the
last re-check, and pauses."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from birdbridge.redaction import redact
from birdbridge.store.base import StoreBase, link_state_of, side_state
from birdbridge.store.tables import LinkStateRow
from birdbridge.store.values import LinkState, utcnow


class LinkStates(StoreBase):
    """Cursors, poll outcomes and pauses."""

    def link_state(self, link: str, network: str) -> LinkState | None:
        with self._session() as session:
            state = session.get(LinkStateRow, (link, network))
            return link_state_of(state) if state is not None else None

    def mark_rechecked(self, link: str, network: str, now: datetime | None = None) -> None:
        with self._session() as session:
            state = side_state(session, link, network)
            state.rechecked_at = now or utcnow()
            session.add(state)

    def start_from(self, link: str, network: str, cursor: str) -> bool:
        """Set the side's first cursor when it has none yet (a first poll that could not be
        made: mirroring still starts from the link's start, not from when it could read)."""
        with self._session() as session:
            state = side_state(session, link, network)
            if state.cursor is not None:
                return False
            state.cursor = cursor
            session.add(state)
            return True

    def record_poll_error(
        self, link: str, network: str, error: str, now: datetime | None = None
    ) -> None:
        now = now or utcnow()
        with self._session() as session:
            state = side_state(session, link, network)
            state.last_error = redact(error)
            state.last_error_at = now
            session.add(state)

    def pause(self, link: str, network: str, *, until: datetime, kind: str, reason: str) -> None:
        with self._session() as session:
            state = side_state(session, link, network)
            state.paused_until = until
            state.paused_kind = kind
            state.paused_reason = redact(reason)
            session.add(state)

    def pauses(self, link: str, now: datetime | None = None) -> dict[str, LinkState]:
        """The link's sides paused at ``now``, by network."""
        now = now or utcnow()
        with self._session() as session:
            rows = session.exec(
                select(LinkStateRow).where(
                    LinkStateRow.link == link, col(LinkStateRow.paused_until).is_not(None)
                )
            )
            states = [link_state_of(row) for row in rows]
            return {s.network: s for s in states if (s.paused_until or now) > now}

    def resume(
        self,
        link: str | None = None,
        kinds: Collection[str] | None = None,
        *,
        ending_after: datetime | None = None,
    ) -> int:
        """Lift pauses (of one link and/or of these kinds, and/or that would end after
        ``ending_after``); returns how many were lifted."""
        with self._session() as session:
            query = update(LinkStateRow).where(col(LinkStateRow.paused_until).is_not(None))
            if ending_after is not None:
                query = query.where(col(LinkStateRow.paused_until) > ending_after)
            if link is not None:
                query = query.where(col(LinkStateRow.link) == link)
            if kinds is not None:
                query = query.where(col(LinkStateRow.paused_kind).in_(list(kinds)))
            result = session.execute(
                query.values(paused_until=None, paused_kind=None, paused_reason=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
