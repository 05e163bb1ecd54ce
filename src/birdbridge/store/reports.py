"""What `birdbridge status`, the health endpoint and the metrics read: API call counts, queue
figures, deliveries and fallbacks taken."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import text as sa_text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from birdbridge.store.base import StoreBase, delivery_of
from birdbridge.store.tables import ApiCallsRow, DeliveryRow, LinkStateRow
from birdbridge.store.values import OPEN_STATUSES, Delivery, DeliveryStatus, LinkSummary, as_utc


class Reports(StoreBase):
    """Counts and listings for people and probes."""

    def add_api_calls(
        self, link: str, network: str, counts: dict[tuple[datetime, bool], int]
    ) -> None:
        with self._session() as session:
            for (hour, limited), number in counts.items():
                row = session.get(ApiCallsRow, (link, network, hour)) or ApiCallsRow(
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
                    ApiCallsRow.link,
                    ApiCallsRow.network,
                    func.sum(ApiCallsRow.calls),
                    func.sum(ApiCallsRow.limited),
                )
                .where(ApiCallsRow.hour >= since)
                .group_by(ApiCallsRow.link, ApiCallsRow.network)
            )
            return {
                (link, network): (int(calls or 0), int(limited or 0))
                for link, network, calls, limited in session.exec(query)
            }

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
                select(DeliveryRow.link, func.count(), func.min(DeliveryRow.created_at))
                .where(col(DeliveryRow.status).in_([s.value for s in OPEN_STATUSES]))
                .group_by(DeliveryRow.link)
            )
            stats = {link: (int(n), as_utc(oldest), 0) for link, n, oldest in open_rows}
            failed_rows = session.exec(
                select(DeliveryRow.link, func.count())
                .where(DeliveryRow.status == DeliveryStatus.FAILED.value)
                .group_by(DeliveryRow.link)
            )
            for link, n in failed_rows:
                count, oldest, _ = stats.get(link, (0, None, 0))
                stats[link] = (count, oldest, int(n))
            return stats

    def deliveries(
        self, link: str | None = None, statuses: Sequence[str] | None = None
    ) -> list[Delivery]:
        with self._session() as session:
            query = select(DeliveryRow).order_by(col(DeliveryRow.id))
            if link is not None:
                query = query.where(DeliveryRow.link == link)
            if statuses:
                query = query.where(col(DeliveryRow.status).in_(list(statuses)))
            return [delivery_of(row) for row in session.exec(query)]

    def noted(self, since: datetime, link: str | None = None) -> list[Delivery]:
        """Deliveries updated since ``since`` that took a fallback, oldest first."""
        with self._session() as session:
            query = (
                select(DeliveryRow)
                .where(col(DeliveryRow.notes).is_not(None), DeliveryRow.updated_at >= since)
                .order_by(col(DeliveryRow.id))
            )
            if link is not None:
                query = query.where(DeliveryRow.link == link)
            return [delivery_of(row) for row in session.exec(query)]

    def summaries(self) -> list[LinkSummary]:
        with self._session() as session:
            counts: dict[tuple[str, str, str], int] = {}
            query = select(
                DeliveryRow.link, DeliveryRow.source_network, DeliveryRow.status, func.count()
            ).group_by(DeliveryRow.link, DeliveryRow.source_network, DeliveryRow.status)
            for link, network, status, number in session.exec(query):
                counts[(link, network, status)] = number
            next_due = {
                (link, network): as_utc(due)
                for link, network, due in session.exec(
                    select(
                        DeliveryRow.link,
                        DeliveryRow.source_network,
                        func.min(DeliveryRow.next_attempt_at),
                    )
                    .where(col(DeliveryRow.status).in_([s.value for s in OPEN_STATUSES]))
                    .group_by(DeliveryRow.link, DeliveryRow.source_network)
                )
            }
            states = list(
                session.exec(select(LinkStateRow).order_by(LinkStateRow.link, LinkStateRow.network))
            )

            def count(state: LinkStateRow, *statuses: str) -> int:
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
                    last_error_at=as_utc(s.last_error_at),
                    skipped=count(s, DeliveryStatus.SKIPPED),
                )
                for s in states
            ]
