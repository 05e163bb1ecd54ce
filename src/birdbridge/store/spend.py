"""What each link spends on X: charges stored per UTC day and price class, with X's per-day
deduplication of reads applied (networks/x_prices.py explains the billing)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from birdbridge.models import Charge
from birdbridge.store.base import StoreBase
from birdbridge.store.tables import XBilledRow, XSpendRow


@dataclass(frozen=True)
class SpendLine:
    """One price class over a period: billable replies, billed units, cost (millionths of $)."""

    calls: int
    units: int
    micros: int


def month_start(now: datetime) -> date:
    return now.date().replace(day=1)


def month_end(now: datetime) -> date:
    """The month's last day: spend dated later (a clock that ran ahead) is not this month's."""
    return (month_start(now) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _insert_for(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (SQLite 3.24+, PostgreSQL 9.5+). Imported
    here: each dialect's module is megabytes, and a database is only one of them."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def _resource_key(kind: str, resource_id: str) -> str:
    """``post:123``; an id longer than X's (a server that answers nonsense) is hashed, so that
    the key always fits its column and one odd reply cannot stop the meter."""
    if len(resource_id) > 40 or not (resource_id.isascii() and resource_id.isprintable()):
        resource_id = "h" + hashlib.sha256(resource_id.encode("utf-8", "replace")).hexdigest()[:39]
    return f"{kind[:16]}:{resource_id}"


class Spend(StoreBase):
    def record_x_charges(self, link: str, charges: Iterable[Charge], now: datetime) -> int:
        """Store ``charges`` on the UTC day each was made (``Charge.at``, else ``now``'s);
        returns what they cost (millionths of a dollar) once reads already billed that day
        are left out. Safe with several processes: the day's billed ids and the spend rows
        are written with atomic upserts (INSERT ... ON CONFLICT), so no count is lost."""
        total = 0
        lines: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        with self._session() as session:
            insert = _insert_for(session)
            for charge in charges:
                day = (charge.at or now).date()
                line = lines[(day, charge.price_class)]
                line[0] += 1
                if charge.resources:
                    keys = dict.fromkeys(
                        _resource_key(charge.resource_kind or charge.price_class, rid)
                        for rid in charge.resources
                    )
                    billed = XBilledRow.__table__  # type: ignore[attr-defined]
                    fresh = session.execute(
                        insert(billed)
                        .values([{"link": link, "day": day, "resource": key} for key in keys])
                        .on_conflict_do_nothing()
                        .returning(billed.c.resource)
                    ).all()
                    units = len(fresh)
                else:
                    units = charge.units
                line[1] += units
                line[2] += units * charge.unit_micros
            spend = XSpendRow.__table__  # type: ignore[attr-defined]
            for (day, price_class), (calls, units, micros) in lines.items():
                row = {"calls": calls, "units": units, "micros": micros}
                statement = insert(spend).values(link=link, day=day, price_class=price_class, **row)
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["link", "day", "price_class"],
                        set_={name: spend.c[name] + statement.excluded[name] for name in row},
                    )
                )
                total += micros
            # Yesterday's ids are kept (a reply may straddle midnight); older ones are done.
            session.execute(
                delete(XBilledRow).where(col(XBilledRow.day) < now.date() - timedelta(days=1))
            )
        return total

    def x_spend(self, since: date, until: date | None = None) -> dict[str, dict[str, SpendLine]]:
        """Per link and price class, what was spent on X from ``since`` to ``until`` (days,
        inclusive)."""
        query = (
            sa_select(
                col(XSpendRow.link),
                col(XSpendRow.price_class),
                func.sum(col(XSpendRow.calls)),
                func.sum(col(XSpendRow.units)),
                func.sum(col(XSpendRow.micros)),
            )
            .where(col(XSpendRow.day) >= since)
            .group_by(XSpendRow.link, XSpendRow.price_class)
        )
        if until is not None:
            query = query.where(col(XSpendRow.day) <= until)
        result: dict[str, dict[str, SpendLine]] = defaultdict(dict)
        with self._session() as session:
            for link, price_class, calls, units, micros in session.execute(query):
                result[link][price_class] = SpendLine(
                    int(calls or 0), int(units or 0), int(micros or 0)
                )
        return dict(result)

    def x_month_micros(self, link: str, now: datetime) -> int:
        """What ``link`` has spent on X this UTC month (millionths of a dollar)."""
        query = select(func.sum(XSpendRow.micros)).where(
            XSpendRow.link == link,
            col(XSpendRow.day) >= month_start(now),
            col(XSpendRow.day) <= month_end(now),
        )
        with self._session() as session:
            return int(session.exec(query).one() or 0)

    def x_daily_micros(self, link: str, since: date) -> dict[date, int]:
        query = (
            sa_select(col(XSpendRow.day), func.sum(col(XSpendRow.micros)))
            .where(col(XSpendRow.link) == link, col(XSpendRow.day) >= since)
            .group_by(col(XSpendRow.day))
        )
        with self._session() as session:
            return {day: int(micros or 0) for day, micros in session.execute(query)}
