"""Opening the database: engine options per dialect and migrations at start-up."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
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
            _create_private(Path(parsed.database).expanduser())
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ConfigError(
        f"bridge.database_url: unsupported database {parsed.get_backend_name()!r} "
        "(use sqlite:///path.db or postgresql://...)"
    )


def _create_private(path: Path) -> None:
    """A new SQLite file readable by its owner only: it holds what was mirrored, and (later)
    tokens. SQLite gives the -wal and -shm files the database file's permissions (unix VFS,
    findCreateFileMode), so they follow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `birdbridge status` read while the daemon writes; busy_timeout waits for the
    # writer instead of failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision. Safe when several workers start at once: a
    PostgreSQL advisory lock, or a file lock beside a SQLite database."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with _sqlite_lock(engine), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Transaction-scoped lock: two workers starting together must not both migrate.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            _refuse_newer(connection, ScriptDirectory.from_config(config))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise ConfigError(f"bridge.database_url: cannot open the database: {exc.orig}") from None


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.lock`` while migrating a SQLite file: two
    processes starting on a fresh file would otherwise both create the tables."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".lock")
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _refuse_newer(connection: Connection, scripts: ScriptDirectory) -> None:
    """A database that a newer birdbridge migrated: say so instead of alembic's traceback."""
    if not inspect(connection).has_table("alembic_version"):
        return  # a new database
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    known = {script.revision for script in scripts.walk_revisions()}
    for (revision,) in rows:
        if revision not in known:
            raise ConfigError(
                f"bridge.database_url: the database has schema revision {revision!r}, written "
                f"by a newer birdbridge (this one knows up to {scripts.get_current_head()!r}): "
                "run that newer version, or point database_url at another database"
            )
