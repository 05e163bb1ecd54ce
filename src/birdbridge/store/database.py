"""Opening the database: engine options per dialect and migrations at start-up."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError

from birdbridge.errors import DatabaseUnavailable, DatabaseUnusable
from birdbridge.store.migrations import HEAD_REVISION

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it only has to be the same for every worker sharing the database.
_MIGRATION_LOCK_ID = 0x62697264  # "bird"


def create_db_engine(url: str, create: bool = True, connections: int = 5) -> Engine:
    """An engine with WAL and a busy timeout on SQLite, and pre-ping on PostgreSQL.
    ``connections``: how many the pool keeps open (as many as threads use the database at
    once: `run` gives poll_threads and a few; one closed and opened again on every use would
    cost PostgreSQL a process each time), and 5 more for a moment's need."""
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 -- parsed lazily: "host:notaport" raises only when read
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUnusable(
            f"not a database URL ({_without_password(str(exc), url)}): use "
            "sqlite:///birdbridge.db or postgresql://user:password@host/database"
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite" and driver == "pysqlite":
        path = _sqlite_file(parsed)
        _check_place(path)
        if not create and not path.is_file():
            # `status` on a mistyped path would otherwise show a fresh, empty bridge (and
            # create folders and a file there).
            raise DatabaseUnusable(
                f"there is no database at {path}: nothing has run with this config yet "
                "(`birdbridge once` or `run` creates it), or database_url names the wrong file"
            )
        _create_private(path)
        engine = create_engine(
            url, connect_args={"timeout": 30}, pool_size=connections, max_overflow=5
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql" and driver == "psycopg":
        return create_engine(url, pool_pre_ping=True, pool_size=connections, max_overflow=5)
    if backend in ("sqlite", "postgresql"):
        # Another driver (asyncpg, pg8000, aiosqlite, ...): not installed, and not one
        # birdbridge is tested with; the config's postgres:// and postgresql:// are psycopg.
        raise DatabaseUnusable(
            f"the driver {backend}+{driver} is not supported: write {backend}:// (birdbridge "
            f"uses {'psycopg' if backend == 'postgresql' else 'the sqlite3 module'})"
        )
    raise DatabaseUnusable(
        f"unsupported database {parsed.get_backend_name()!r} "
        "(use sqlite:///path.db or postgresql://...)"
    )


def _without_password(message: str, url: str) -> str:
    """``message`` with the URL's password (if any) masked: parsing errors may quote it."""
    password = re.search(r"://[^:/@\s]*:([^@/\s]+)@", url)
    return message.replace(password.group(1), "***") if password else message


def _sqlite_file(url: URL) -> Path:
    """The file a SQLite URL names; refused when there is none (SQLite would keep the state
    in memory and forget it at exit: cursors, the mirror map, so posts would be mirrored
    again or edits and deletions lost)."""
    shown = url.render_as_string(hide_password=True)
    if url.host:
        # "sqlite://relative.db": the name is read as a host, the file name is empty, and
        # pysqlite opens an in-memory database without a word.
        name = url.host + (f"/{url.database}" if url.database else "")
        raise DatabaseUnusable(
            f"{shown} has two slashes, so {url.host!r} is read as a host and SQLite would keep "
            f"everything in memory: write sqlite:///{name} (three slashes: a path relative to "
            f"the working directory) or sqlite:////absolute/path/{Path(name).name} (four)"
        )
    memory = url.query.get("mode") == "memory" or (url.database or "").startswith("file::memory:")
    if not url.database or url.database == ":memory:" or memory:
        raise DatabaseUnusable(
            f"{shown} is a database in memory: everything birdbridge keeps (cursors, what was "
            "mirrored) would be forgotten at exit, and posts mirrored again. Name a file: "
            "sqlite:///birdbridge.db"
        )
    return Path(url.database).expanduser()


def _check_place(path: Path) -> None:
    """Refuse a path that can never hold the database: a folder, or one under a file."""
    if path.is_dir():
        raise DatabaseUnusable(f"{path} is a folder: name a file in it, e.g. {path}/birdbridge.db")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise DatabaseUnusable(
            f"cannot create {path}: {blocker} is a file, not a folder. Choose another path "
            "for the database, or move that file away"
        )


def _create_private(path: Path) -> None:
    """A new SQLite file readable by its owner only: it holds what was mirrored, and (later)
    tokens. SQLite gives the -wal and -shm files the database file's permissions (unix VFS,
    findCreateFileMode), so they follow."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise DatabaseUnusable(_unwritable(path.parent)) from None
    if not path.exists():
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except PermissionError:
            raise DatabaseUnusable(_unwritable(path.parent)) from None


def _unwritable(folder: Path) -> str:
    return (
        f"the folder {folder} is not writable by this user, and SQLite writes the database "
        "and its -wal, -shm and .lock files there: give the user write access to it "
        "(chown or chmod), or put the database in a folder it owns"
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
    """Bring the schema to the newest revision. Safe when several workers start at once: a
    PostgreSQL advisory lock, or a file lock beside a SQLite database."""
    try:
        if not _at_head(engine):
            _upgrade(engine)
    except OperationalError as exc:
        if _server_unreachable(engine.url, exc):
            raise DatabaseUnavailable(_cannot_open(engine.url, exc)) from None
        raise DatabaseUnusable(_cannot_open(engine.url, exc)) from None
    except DatabaseError as exc:
        if type(exc) is not DatabaseError:
            raise  # an integrity or programming error in a migration: a bug, not the URL
        # SQLite's "file is not a database" (and a damaged file) come as the base class.
        raise DatabaseUnusable(_cannot_open(engine.url, exc)) from None
    except PermissionError:
        # The .lock file beside an existing database, in a folder this user cannot write.
        raise DatabaseUnusable(_unwritable(Path(engine.url.database or ".").parent)) from None


def _at_head(engine: Engine) -> bool:
    """Is the schema at HEAD_REVISION already (the usual start)? One plain query, no lock and
    no Alembic: importing it (and Mako with it) costs a tenth of a second and megabytes at each
    start of `once` or `run`. A migration under way elsewhere has not committed its revision
    yet, so this says no and _upgrade waits for it on the lock."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False  # a new database
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return [tuple(row) for row in rows] == [(HEAD_REVISION,)]


def _upgrade(engine: Engine) -> None:
    """Alembic's upgrade to head, under the lock; refuses a database of a newer birdbridge."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _sqlite_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Transaction-scoped lock: two workers starting together must not both migrate.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        _refuse_newer(connection, ScriptDirectory.from_config(config))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# SQLSTATE classes that say the URL itself is wrong (PostgreSQL: Appendix A, Error Codes):
# 28 invalid authorization (a wrong user or password), 3D000 invalid_catalog_name (no such
# database). Anything else at connect time (refused, timed out, a name that does not resolve
# yet, 57P03 "the database system is starting up") may pass by itself.
_URL_IS_WRONG = ("28", "3D000")
# libpq's own refusals of the URL's parameters ('invalid sslmode value', 'invalid port
# number', 'invalid connection option') come the same way, before any connection is tried.
_WRONG_URL_WORDS = re.compile(
    r"does not exist|authentication failed|pg_hba\.conf|password|invalid |unrecognized"
)


def _server_unreachable(url: URL, exc: OperationalError) -> bool:
    """True when a PostgreSQL connection failed for a reason that may pass by itself."""
    if url.get_backend_name() != "postgresql":
        return False  # a SQLite file that cannot be opened will not open on a retry either
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate:
        return not sqlstate.startswith(_URL_IS_WRONG)
    # psycopg raises a failed connection attempt without a SQLSTATE: libpq's message is all
    # there is ('FATAL:  database "x" does not exist', 'password authentication failed for
    # user "y"', 'no pg_hba.conf entry for host').
    return not _WRONG_URL_WORDS.search(str(exc.orig))


def _cannot_open(url: URL, exc: DBAPIError) -> str:
    """What went wrong at the first connection, and what to do about it."""
    reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc.orig)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "").expanduser()
        if "file is not a database" in reason:
            return (
                f"{path} is not a SQLite database ({reason}): point database_url at the right "
                "file, or at a new file name to start afresh"
            )
        if "readonly" in reason or "unable to open" in reason:
            return f"cannot write {path} ({reason}): " + _unwritable(path.parent)
        return f"cannot open the SQLite database {path}: {reason}"
    where = f"{url.host or 'localhost'}:{url.port or 5432}, database {url.database or '(none)'}"
    return (
        f"cannot connect to PostgreSQL at {where}: {reason}. Check that the server runs and "
        "accepts connections there, that the database exists, and the user and password"
    )


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
            raise DatabaseUnusable(
                f"the database has schema revision {revision!r}, written "
                f"by a newer birdbridge (this one knows up to {scripts.get_current_head()!r}): "
                "run that newer version, or point database_url at another database"
            )
