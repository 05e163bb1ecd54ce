"""Several workers on one database: who holds which link, the live workers, and the batched
writes of idle polls.

A worker (a `birdbridge run` or `once` process) polls a link, and delivers its posts, only
while it holds the link's lease (``link_lease``): taken for ``lease_seconds``, renewed before
it runs out, released at a clean stop, and taken over by another worker once it has run out
(its worker died). Taking is one UPDATE of the free or expired rows, chosen on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` so that workers taking at the same moment never wait on, or take,
each other's rows (PostgreSQL docs, SELECT, "The Locking Clause"); SQLite's single writer
serialises the same UPDATE."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlmodel import col

from birdbridge.store.base import StoreBase, insert_for
from birdbridge.store.tables import (
    ApiCallsRow,
    DeliveryRow,
    LinkLeaseRow,
    LinkStateRow,
    WorkerRow,
)
from birdbridge.store.values import CLOCK_SLACK, OPEN_STATUSES, LinkState, as_utc, utcnow


@dataclass(frozen=True)
class WorkerInfo:
    """One worker as it last said (store/tables.py WorkerRow)."""

    id: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    links: int
    late: int
    worst_lag: float
    interval: float
    links_hash: str = ""


@dataclass(frozen=True)
class PollMark:
    """An idle poll of one side, written later with others (its own write would be the only
    write of an idle cycle)."""

    link: str
    network: str
    at: datetime


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at  # SQLite keeps no zone


def _worker_of(row: WorkerRow) -> WorkerInfo:
    values: dict[str, Any] = {
        name: as_utc(v) if isinstance(v := getattr(row, name), datetime) else v
        for name in WorkerInfo.__dataclass_fields__
    }
    return WorkerInfo(**values)


class Leases(StoreBase):
    def database_now(self) -> datetime:
        """The time by the database's clock (PostgreSQL's ``now()``): every lease is set and
        judged by it, so that workers on hosts whose clocks differ agree on which has run
        out. SQLite is on this machine: its clock is ours."""
        if self.engine.dialect.name != "postgresql":
            return utcnow()
        with self._session() as session:
            return _utc(session.execute(select(func.now())).scalar_one())

    def take_leases(
        self,
        worker: str,
        links: Collection[str],
        *,
        until: datetime,
        now: datetime,
        limit: int | None = None,
        dead: Collection[str] = (),
        create: bool = True,
    ) -> list[str]:
        """Hold up to ``limit`` of ``links`` that are free, expired, held by a ``dead`` worker
        or already this worker's, until ``until``; returns those now held (renewed too).
        ``create``: add the links' lease rows first (``ensure_leases`` did it already)."""
        if not links or (limit is not None and limit <= 0):
            return []
        if create:
            self.ensure_leases(links)
        with self._session() as session:
            table = LinkLeaseRow.__table__  # type: ignore[attr-defined]
            takeable = [
                table.c.worker.is_(None),
                table.c.expires_at < now,
                table.c.worker == worker,
            ]
            if dead:
                takeable.append(table.c.worker.in_(list(dead)))
            chosen = (
                select(table.c.link)
                .where(table.c.link.in_(bindparam("links", expanding=True)), or_(*takeable))
                .order_by(table.c.link)
            )
            if limit is not None:
                chosen = chosen.limit(limit)
            if session.get_bind().dialect.name == "postgresql":
                chosen = chosen.with_for_update(skip_locked=True)
            result = session.execute(
                update(table)
                .where(table.c.link.in_(chosen.scalar_subquery()))
                .values(worker=worker, expires_at=until)
                .returning(table.c.link),
                {"links": list(links)},
            )
            return sorted(row[0] for row in result)

    def ensure_leases(self, links: Collection[str]) -> None:
        """A lease row for each of ``links`` (free), where there is none yet."""
        with self._session() as session:
            table = LinkLeaseRow.__table__  # type: ignore[attr-defined]
            session.execute(
                insert_for(session)(table).on_conflict_do_nothing(),
                [{"link": link} for link in links],
            )

    def renew_leases(self, worker: str, until: datetime) -> set[str]:
        """Extend every lease this worker holds; returns the links it still holds (a lease that
        ran out and was taken over is not among them)."""
        with self._session() as session:
            table = LinkLeaseRow.__table__  # type: ignore[attr-defined]
            result = session.execute(
                update(table)
                .where(table.c.worker == worker)
                .values(expires_at=until)
                .returning(table.c.link)
            )
            return {row[0] for row in result}

    def release_leases(self, worker: str, links: Iterable[str] | None = None) -> int:
        """Let go of this worker's leases (all, or these): others may take them at once."""
        with self._session() as session:
            query = update(LinkLeaseRow).where(col(LinkLeaseRow.worker) == worker)
            if links is not None:
                query = query.where(col(LinkLeaseRow.link).in_(list(links)))
            result = session.execute(query.values(worker=None, expires_at=None))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def lease_holders(self, now: datetime) -> dict[str, str]:
        """The links held now, and by which worker."""
        with self._session() as session:
            rows = session.execute(
                select(col(LinkLeaseRow.link), col(LinkLeaseRow.worker)).where(
                    col(LinkLeaseRow.worker).is_not(None), col(LinkLeaseRow.expires_at) >= now
                )
            )
            return {link: worker for link, worker in rows if worker}

    def beat(self, info: WorkerInfo) -> None:
        """Write this worker's row: it is alive, and how it keeps up."""
        with self._session() as session:
            table = WorkerRow.__table__  # type: ignore[attr-defined]
            values = {name: getattr(info, name) for name in WorkerInfo.__dataclass_fields__}
            changing = {k: v for k, v in values.items() if k not in ("id", "started_at")}
            session.execute(
                insert_for(session)(table)
                .values(**values)
                .on_conflict_do_update(index_elements=["id"], set_=changing)
            )

    def workers(self) -> list[WorkerInfo]:
        """Every worker row (the caller decides which are alive by ``seen_at``)."""
        with self._session() as session:
            rows = session.execute(select(WorkerRow)).scalars()
            return [_worker_of(row) for row in rows]

    def forget_workers(self, workers: Collection[str]) -> None:
        """Remove these workers (gone: stopped, or found dead) and free their leases."""
        if not workers:
            return
        with self._session() as session:
            session.execute(delete(WorkerRow).where(col(WorkerRow.id).in_(list(workers))))
            session.execute(
                update(LinkLeaseRow)
                .where(col(LinkLeaseRow.worker).in_(list(workers)))
                .values(worker=None, expires_at=None)
            )

    def links_with_due_deliveries(self, now: datetime) -> set[str]:
        """Every link with a delivery due now: one query for all links (the same rows as
        ``due_deliveries`` finds per link)."""
        with self._session() as session:
            query = (
                select(col(DeliveryRow.link))
                .where(
                    col(DeliveryRow.status).in_([s.value for s in OPEN_STATUSES]),
                    or_(
                        col(DeliveryRow.next_attempt_at) <= now,
                        col(DeliveryRow.updated_at) > now + CLOCK_SLACK,
                    ),
                )
                .distinct()
            )
            return {row[0] for row in session.execute(query)}

    def link_states(self, link: str) -> dict[str, LinkState]:
        """Both sides' state of a link (cursors, pauses, re-check times) in one read: the
        first statement of every cycle, so a plain SELECT on a connection (no ORM session,
        no objects but the values)."""
        table = LinkStateRow.__table__  # type: ignore[attr-defined]
        fields = LinkState.__dataclass_fields__
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).where(table.c.link == link)).mappings()
            states = {}
            for row in rows:
                values: dict[str, Any] = {
                    name: as_utc(value) if isinstance(value, datetime) else value
                    for name, value in row.items()
                    if name in fields
                }
                states[row["network"]] = LinkState(**values)
            return states

    def last_polls(self, links: Collection[str]) -> dict[str, datetime]:
        """When each link was last polled (its latest side), for a worker taking it over."""
        if not links:
            return {}
        with self._session() as session:
            rows = session.execute(
                select(col(LinkStateRow.link), func.max(col(LinkStateRow.last_poll_at)))
                .where(col(LinkStateRow.link).in_(list(links)))
                .group_by(col(LinkStateRow.link))
            )
            return {
                link: at.replace(tzinfo=UTC) if at.tzinfo is None else at for link, at in rows if at
            }

    def write_batch(
        self,
        polls: Iterable[PollMark],
        calls: Iterable[tuple[str, str, datetime, int, int]] = (),
    ) -> None:
        """The idle polls' times and the API call counts (link, network, hour, calls, 429s)
        of many links, in one transaction of two batched statements."""
        marks = [{"l": m.link, "n": m.network, "at": m.at} for m in polls]
        counts = [
            {"link": link, "network": network, "hour": hour, "calls": n, "limited": limited}
            for link, network, hour, n, limited in calls
        ]
        if not marks and not counts:
            return
        with self._session() as session:
            if marks:
                state = LinkStateRow.__table__  # type: ignore[attr-defined]
                at = bindparam("at", type_=state.c.last_poll_at.type)
                session.execute(
                    update(state)
                    .where(
                        state.c.link == bindparam("l"),
                        state.c.network == bindparam("n"),
                        or_(state.c.last_poll_at.is_(None), state.c.last_poll_at < at),
                    )
                    .values(last_poll_at=at),
                    marks,
                )
            if counts:
                table = ApiCallsRow.__table__  # type: ignore[attr-defined]
                insert = insert_for(session)(table)
                session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["link", "network", "hour"],
                        set_={
                            "calls": table.c.calls + insert.excluded.calls,
                            "limited": table.c.limited + insert.excluded.limited,
                        },
                    ),
                    counts,
                )
