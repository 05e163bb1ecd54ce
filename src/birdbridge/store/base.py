"""What every part of the store shares: the engine, one transaction per operation, and the
few writes more than one part makes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from birdbridge.store.tables import Delivery, LinkState

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
                update(Delivery).where(col(Delivery.id) == delivery_id).values(**values)
            )


def clear_publishing(row: Delivery) -> None:
    for name, value in NOT_PUBLISHING.items():
        setattr(row, name, value)


def side_state(session: Session, link: str, network: str) -> LinkState:
    """The state row of one side of a link, new when there is none yet."""
    return session.get(LinkState, (link, network)) or LinkState(link=link, network=network)
