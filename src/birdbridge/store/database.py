"""Opening the database: engine options per dialect and migrations at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from birdbridge.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it only has to be the same for every worker sharing the database.
_MIGRATION_LOCK_ID = 0x62697264  # "bird"


def create_db_engine(url: str) -> Engine:
    """An engine with WAL and a busy timeout on SQLite, and pre-ping on PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"bridge.database_url: not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ConfigError(
        f"bridge.database_url: unsupported database {parsed.get_backend_name()!r} "
        "(use sqlite:///path.db or postgresql://...)"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `birdbridge status` read while the daemon writes; busy_timeout waits for the
    # writer instead of failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision. Safe when several workers start at once."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Transaction-scoped lock: two workers starting together must not both migrate.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise ConfigError(f"bridge.database_url: cannot open the database: {exc.orig}") from None
