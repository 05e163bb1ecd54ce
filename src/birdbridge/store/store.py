"""The store: one facade over the state database, its operations grouped by concern."""

from __future__ import annotations

from birdbridge.store.attempts import Attempts
from birdbridge.store.credentials import Credentials
from birdbridge.store.database import create_db_engine, migrate
from birdbridge.store.leases import Leases
from birdbridge.store.links import LinkStates
from birdbridge.store.mirrors import MirrorMap
from birdbridge.store.outbox import Outbox
from birdbridge.store.reports import Reports
from birdbridge.store.spend import Spend
from birdbridge.store.values import as_utc, utcnow

__all__ = ["Store", "as_utc", "utcnow"]


class Store(Outbox, Attempts, MirrorMap, LinkStates, Leases, Reports, Credentials, Spend):
    """The state database behind one URL: the outbox (store/outbox.py) and each delivery's
    progress (store/attempts.py), the mirror map (store/mirrors.py), link state and pauses
    (store/links.py), what status and metrics read (store/reports.py), and the sign-ins of
    `birdbridge login`, encrypted, with their refresh lease (store/credentials.py), and what
    each link spends on X (store/spend.py), and which worker holds which link
    (store/leases.py)."""

    @classmethod
    def open(cls, url: str, create: bool = True, connections: int = 5) -> Store:
        """Open (and migrate) the database. ``create=False``: a SQLite file that is not there
        is an error instead of a new, empty database (for commands that only look).
        ``connections``: kept open in the pool (database.create_db_engine)."""
        engine = create_db_engine(url, create=create, connections=connections)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()
