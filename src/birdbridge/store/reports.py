"""What `birdbridge status`, the health endpoint and the metrics read: API call counts, queue
figures, deliveries and fallbacks taken."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import text as sa_text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from birdbridge.store.base import StoreBase
from birdbridge.store.tables import ApiCalls, Delivery, LinkState
from birdbridge.store.values import OPEN_STATUSES, DeliveryStatus, LinkSummary, as_utc


class Reports(StoreBase):
    """Counts and listings for people and probes."""

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
