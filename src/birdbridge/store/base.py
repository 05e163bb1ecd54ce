"""What every part of the store shares: the engine, one transaction per operation, the few
writes more than one part makes, and the making of values from rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, SQLModel, col

from birdbridge.store.tables import DeliveryRow, LinkStateRow, MirrorRow
from birdbridge.store.values import (
    Delivery,
    DeliveryKind,
    DeliveryPhase,
    DeliveryStatus,
    LinkState,
    Mirror,
    as_utc,
)

# A part's publishing mark, cleared: its outcome is recorded, or nothing was published.
NOT_PUBLISHING: dict[str, object] = {
    "publishing_part": None,
    "publishing_text": None,
    "publishing_started_at": None,
    "publishing_attempt_at": None,
}


class StoreBase:
    """The state database behind one engine; each named operation is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _update(self, delivery_id: int, **values: object) -> None:
        with self._session() as session:
            session.execute(
                update(DeliveryRow).where(col(DeliveryRow.id) == delivery_id).values(**values)
            )


def insert_for(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (SQLite 3.24+, PostgreSQL 9.5+). Imported
    here: each dialect's module is megabytes, and a database is only one of them."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def clear_publishing(row: DeliveryRow) -> None:
    for name, value in NOT_PUBLISHING.items():
        setattr(row, name, value)


def side_state(session: Session, link: str, network: str) -> LinkStateRow:
    """The state row of one side of a link, new when there is none yet."""
    return session.get(LinkStateRow, (link, network)) or LinkStateRow(link=link, network=network)


# Columns whose value type is an enum: made by the function for that value.
ENUM_COLUMNS = frozenset({"kind", "status", "phase"})


def delivery_of(row: DeliveryRow) -> Delivery:
    phase = DeliveryPhase(row.phase) if row.phase else None
    kind, status = DeliveryKind(row.kind), DeliveryStatus(row.status)
    return Delivery(**_plain(row, Delivery), kind=kind, status=status, phase=phase)


def mirror_of(row: MirrorRow) -> Mirror:
    return Mirror(**_plain(row, Mirror))


def link_state_of(row: LinkStateRow) -> LinkState:
    return LinkState(**_plain(row, LinkState))


def _plain(row: SQLModel, value: type[Any]) -> dict[str, Any]:
    """The row's columns that ``value`` has (but its enums), with times in UTC (SQLite hands
    them back without a zone) and an id that is there (every stored row has one)."""
    plain = {}
    for name in value.__dataclass_fields__:
        column = getattr(row, name)
        if name == "id" and column is None:
            raise ValueError(f"a {type(row).__name__} that was never stored")
        if name not in ENUM_COLUMNS:
            plain[name] = as_utc(column) if isinstance(column, datetime) else column
    return plain
