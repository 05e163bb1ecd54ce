"""The engine when the state database misbehaves: SQLite locked by another writer, SQLite on a
full disk, PostgreSQL connections killed between and in the middle of delivery passes.

Real things only: a second sqlite3 connection holding the write lock, a real tmpfs filled to the
last byte, real pg_terminate_backend() on the store's own PostgreSQL backends.
"""

from __future__ import annotations

import errno
import random
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.exc import DBAPIError, OperationalError

from birdbridge.render.html import html_to_text
from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox
from birdbridge.store import Store

from ..conftest import Rig

OPEN_OR_FAILED = ["pending", "publishing", "failed"]


def tweets(rig: Rig) -> Counter[str]:
    return Counter(t["text"] for t in rig.tweets())


def toots(rig: Rig) -> Counter[str]:
    return Counter(html_to_text(t["content"]) for t in rig.toots())


def assert_exactly_once(rig: Rig, from_x: list[str], from_mastodon: list[str]) -> None:
    """Every source post on both networks once: the original and its one mirror."""
    everything = Counter(from_x + from_mastodon)
    assert tweets(rig) == everything, tweets(rig)
    assert toots(rig) == everything, toots(rig)
    assert not rig.store.deliveries(statuses=OPEN_OR_FAILED)


def sqlite_path(rig: Rig) -> Path:
    if not rig.database_url.startswith("sqlite"):
        pytest.skip("SQLite locking: the PostgreSQL run has no file lock to hold")
    return Path(rig.database_url.removeprefix("sqlite:///"))


class WriteLockHolder(threading.Thread):
    """Another process's writer: ``BEGIN IMMEDIATE`` on its own connection, held ``hold`` s.

    ``start_when`` (optional) is polled first: the lock is taken at that moment.
    """

    def __init__(
        self, path: Path, hold: float, start_when: Callable[[], bool] | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.hold = hold
        self.start_when = start_when
        self.locked = threading.Event()
        self.released = threading.Event()
        self.error: BaseException | None = None
        # Called just before COMMIT, while the lock is still held.
        self.on_release: Callable[[], object] | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 30
            while self.start_when is not None and not self.start_when():
                if time.monotonic() > deadline:
                    raise TimeoutError("the moment to take the lock never came")
                time.sleep(0.005)
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            self.locked.set()
            time.sleep(self.hold)
            if self.on_release is not None:
                self.on_release()
            connection.execute("COMMIT")
            connection.close()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self.locked.set()
            self.released.set()


def test_sqlite_writer_lock_during_poll_waits_and_loses_nothing(rig: Rig) -> None:
    path = sqlite_path(rig)
    engine = rig.engine()
    engine.cycle()  # first poll
    rig.tweet("written while the database is locked (X)")
    rig.toot("written while the database is locked (M)")

    holder = WriteLockHolder(path, hold=1.0)
    seen_at_release: dict[str, int] = {}
    holder.on_release = lambda: seen_at_release.update(
        tweets=len(rig.tweets()), toots=len(rig.toots())
    )
    holder.start()
    assert holder.locked.wait(10)
    report = engine.cycle()  # its first write waits for the other writer (busy_timeout)
    holder.join(10)

    assert holder.error is None, holder.error
    assert holder.released.is_set()
    assert not report.errors, report.errors
    assert report.delivered.done == 2
    # Nothing was published while the cycle could not record it: the sources only.
    assert seen_at_release == {"tweets": 1, "toots": 1}
    engine.cycle()
    assert_exactly_once(
        rig,
        ["written while the database is locked (X)"],
        ["written while the database is locked (M)"],
    )


def test_sqlite_writer_lock_between_publish_and_record(rig: Rig) -> None:
    """The lock is taken while the target holds its answer: the engine's write of the mirror
    map has to wait for it, and still lands."""
    path = sqlite_path(rig)
    engine = rig.engine()
    engine.cycle()
    rig.masto.add_fault(
        kind="delay_after_commit", method="POST", path=r"^/api/v1/statuses$", delay=0.5
    )
    holder = WriteLockHolder(
        path,
        hold=1.5,
        start_when=lambda: bool(rig.masto.api_requests("POST", r"^/api/v1/statuses$")),
    )
    holder.start()
    rig.tweet("published, then the database is locked")
    report = engine.cycle()
    holder.join(10)

    assert holder.error is None, holder.error
    assert not report.errors, report.errors
    assert report.delivered.done == 1 and report.delivered.adopted == 0
    assert len(rig.masto.api_requests("POST", r"^/api/v1/statuses$")) == 1
    (mirror,) = rig.store.mirrors()
    assert mirror.target_network == "mastodon"
    engine.cycle()
    assert_exactly_once(rig, ["published, then the database is locked"], [])


# -- SQLite on a full disk ---------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real filesystem that really runs out of space."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            "disk-full test needs to mount a small tmpfs (root or CAP_SYS_ADMIN): "
            f"{mounted.stderr.strip()}"
        )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem says ENOSPC; returns it (delete it to make room)."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


def test_sqlite_disk_full_fails_clearly_then_recovers_exactly_once(
    tiny_disk: Path, x_sandbox: XSandbox, mastodon_sandbox: MastodonSandbox
) -> None:
    db_file = tiny_disk / "state.db"
    url = f"sqlite:///{db_file}"
    store = Store.open(url)
    try:
        rig = Rig(
            x=x_sandbox,
            masto=mastodon_sandbox,
            x_user=x_sandbox.create_user("alice", "Alice"),
            m_user=mastodon_sandbox.create_user("alice", "Alice"),
            store=store,
            database_url=url,
        )
        engine = rig.engine()
        engine.cycle()
        rig.tweet("before the disk filled up")
        engine.cycle()
        assert toots(rig)["before the disk filled up"] == 1

        from_x = [f"written on a full disk (X {n})" for n in range(3)]
        from_m = [f"written on a full disk (M {n})" for n in range(3)]
        for text in from_x:
            rig.tweet(text)
        for text in from_m:
            rig.toot(text)
        filler = fill(tiny_disk)

        failures = []
        for _ in range(3):  # it keeps failing the same clear way, and publishes nothing twice
            with pytest.raises(OperationalError) as caught:
                engine.cycle()
            failures.append(str(caught.value.orig))
        assert all("disk is full" in message for message in failures), failures
        assert integrity(db_file) == "ok"
        for text in from_x + from_m:  # nothing published more than once meanwhile
            assert tweets(rig)[text] <= 1 and toots(rig)[text] <= 1

        filler.unlink()  # room again
        for _ in range(2):
            report = engine.cycle()
            assert not report.errors, report.errors
        assert integrity(db_file) == "ok"
        assert_exactly_once(rig, ["before the disk filled up", *from_x], from_m)
    finally:
        store.close()


def test_sqlite_disk_full_between_publish_and_record(
    tiny_disk: Path, x_sandbox: XSandbox, mastodon_sandbox: MastodonSandbox
) -> None:
    """The disk fills while the targets hold their answers: the posts exist, the mirror map
    cannot say so. Once there is room, recovery must adopt them instead of posting again."""
    db_file = tiny_disk / "state.db"
    url = f"sqlite:///{db_file}"
    store = Store.open(url)
    try:
        rig = Rig(
            x=x_sandbox,
            masto=mastodon_sandbox,
            x_user=x_sandbox.create_user("alice", "Alice"),
            m_user=mastodon_sandbox.create_user("alice", "Alice"),
            store=store,
            database_url=url,
        )
        engine = rig.engine()
        engine.cycle()
        posts = ((rig.x, r"^/2/tweets$"), (rig.masto, r"^/api/v1/statuses$"))
        for server, path in posts:
            server.add_fault(kind="delay_after_commit", method="POST", path=path, delay=0.5)
        fillers: list[Path] = []

        def fill_during_the_first_post() -> None:
            deadline = time.monotonic() + 20
            while not any(s.api_requests("POST", p) for s, p in posts):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.005)
            fillers.append(fill(tiny_disk))

        filler_thread = threading.Thread(target=fill_during_the_first_post, daemon=True)
        filler_thread.start()
        rig.tweet("published as the disk filled (X)")
        rig.toot("published as the disk filled (M)")
        with pytest.raises(OperationalError, match="disk is full"):
            engine.cycle()
        filler_thread.join(20)
        assert fillers, "the disk was never filled"
        assert integrity(db_file) == "ok"
        published = tweets(rig) + toots(rig)
        assert max(published.values()) <= 2  # at most source + one mirror each
        assert published.total() == 3  # the two sources and the one post on the wire

        fillers[0].unlink()
        for _ in range(3):
            report = engine.cycle()
            assert not report.errors, report.errors
        assert integrity(db_file) == "ok"
        assert_exactly_once(
            rig, ["published as the disk filled (X)"], ["published as the disk filled (M)"]
        )
    finally:
        store.close()


# -- PostgreSQL connections killed -------------------------------------------------------


@pytest.fixture
def pg_rig(
    database_url: str, x_sandbox: XSandbox, mastodon_sandbox: MastodonSandbox
) -> Iterator[tuple[Rig, str]]:
    """A rig whose store connects with its own application_name, so the test can kill exactly
    its backends (and not those of other tests sharing the server)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL connection faults: SQLite has no server connection to drop")
    app = f"bb_fault_{uuid.uuid4().hex[:10]}"
    joiner = "&" if "?" in database_url else "?"
    store = Store.open(f"{database_url}{joiner}application_name={app}")
    try:
        yield (
            Rig(
                x=x_sandbox,
                masto=mastodon_sandbox,
                x_user=x_sandbox.create_user("alice", "Alice"),
                m_user=mastodon_sandbox.create_user("alice", "Alice"),
                store=store,
                database_url=database_url,
            ),
            app,
        )
    finally:
        store.close()


class Terminator:
    """A separate connection that kills the store's backends with pg_terminate_backend()."""

    def __init__(self, database_url: str, app: str) -> None:
        self.engine = sqlalchemy.create_engine(database_url, poolclass=sqlalchemy.NullPool)
        self.app = app
        self.killed = 0

    def __call__(self) -> int:
        with self.engine.begin() as connection:
            number = len(
                connection.execute(
                    sqlalchemy.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND application_name = :app"
                    ),
                    {"app": self.app},
                ).all()
            )
        self.killed += number
        return number

    def close(self) -> None:
        self.engine.dispose()


def test_postgres_backends_killed_between_cycles(pg_rig: tuple[Rig, str]) -> None:
    rig, app = pg_rig
    terminate = Terminator(rig.database_url, app)
    try:
        engine = rig.engine()
        engine.cycle()
        rig.tweet("before the connections died (X)")
        rig.toot("before the connections died (M)")
        engine.cycle()
        assert terminate() >= 1  # the pool's idle connections are gone now

        rig.tweet("after the connections died (X)")
        rig.toot("after the connections died (M)")
        report = engine.cycle()  # pre-ping notices, reconnects
        assert not report.errors, report.errors
        assert report.delivered.done == 2
        engine.cycle()
        assert_exactly_once(
            rig,
            ["before the connections died (X)", "after the connections died (X)"],
            ["before the connections died (M)", "after the connections died (M)"],
        )
    finally:
        terminate.close()


def test_postgres_backends_killed_while_a_post_is_on_the_wire(pg_rig: tuple[Rig, str]) -> None:
    """The target committed and holds its answer; meanwhile every connection of the store dies.
    Recording the part must reconnect, and the post must not be published again."""
    rig, app = pg_rig
    terminate = Terminator(rig.database_url, app)
    try:
        engine = rig.engine()
        engine.cycle()
        for server, path in ((rig.x, r"^/2/tweets$"), (rig.masto, r"^/api/v1/statuses$")):
            server.add_fault(kind="delay_after_commit", method="POST", path=path, delay=0.6)
        killed: list[int] = []

        def kill_during_posts() -> None:
            for server, path in ((rig.masto, r"^/api/v1/statuses$"), (rig.x, r"^/2/tweets$")):
                deadline = time.monotonic() + 20
                while not server.api_requests("POST", path) and time.monotonic() < deadline:
                    time.sleep(0.005)
                killed.append(terminate())

        killer = threading.Thread(target=kill_during_posts, daemon=True)
        killer.start()
        rig.tweet("on the wire when the database went away (X)")
        rig.toot("on the wire when the database went away (M)")
        report = engine.cycle()
        killer.join(20)

        assert len(killed) == 2 and all(n >= 1 for n in killed), killed
        assert not report.errors, report.errors
        assert report.delivered.done == 2 and report.delivered.adopted == 0
        assert len(rig.x.api_requests("POST", r"^/2/tweets$")) == 1
        assert len(rig.masto.api_requests("POST", r"^/api/v1/statuses$")) == 1
        engine.cycle()
        assert_exactly_once(
            rig,
            ["on the wire when the database went away (X)"],
            ["on the wire when the database went away (M)"],
        )
    finally:
        terminate.close()


def test_postgres_backends_killed_again_and_again_during_cycles(pg_rig: tuple[Rig, str]) -> None:
    """A connection may die inside any transaction (a server restart, a failover): the cycle
    then fails with a database error, and the following cycles finish the work exactly once."""
    rig, app = pg_rig
    terminate = Terminator(rig.database_url, app)
    stop = threading.Event()

    rng = random.Random(7)

    def keep_killing() -> None:
        # Often enough to land inside transactions, seldom enough that some cycles get through.
        while not stop.wait(rng.uniform(0.05, 0.4)):
            terminate()

    try:
        engine = rig.engine()
        engine.cycle()
        for server, path in ((rig.x, r"^/2/tweets$"), (rig.masto, r"^/api/v1/statuses$")):
            server.add_fault(
                kind="delay_after_commit", method="POST", path=path, delay=0.05, times=None
            )
        from_x: list[str] = []
        from_m: list[str] = []
        killer = threading.Thread(target=keep_killing, daemon=True)
        killer.start()
        failed_cycles = rounds = 0
        # Until a few cycles were cut by a kill inside a transaction (each round is one cycle).
        while failed_cycles < 4 and rounds < 40:
            round_ = rounds
            rounds += 1
            from_x.append(f"storm round {round_} (X)")
            rig.tweet(from_x[-1])
            # Two in three are long enough to become a thread of parts on X; each sentence
            # carries the round's tag so the parts can be found.
            sentences = 12 if round_ % 3 else 1
            from_m.append(
                " ".join(f"[m{round_:02d}] sentence {k} of the storm." for k in range(sentences))
            )
            rig.toot(from_m[-1])
            try:
                engine.cycle()
            except DBAPIError:
                failed_cycles += 1
        stop.set()
        killer.join(5)
        assert terminate.killed > 0

        deadline = time.monotonic() + 60
        while rig.store.deliveries(statuses=["pending", "publishing"]):
            assert time.monotonic() < deadline, rig.store.deliveries(statuses=OPEN_OR_FAILED)
            engine.cycle()
        engine.cycle()
        # The long Mastodon posts are split on X; compare joined parts there.
        assert toots(rig) == Counter(from_x + from_m), toots(rig)
        x_texts = [t["text"] for t in rig.tweets()]
        for text in from_x:
            assert x_texts.count(text) == 1, text
        for text in from_m:
            parts = [t for t in x_texts if text[:5] in t]
            assert parts, text
            assert " ".join(" ".join(parts).split()) == " ".join(text.split()), (text, parts)
        assert not rig.store.deliveries(statuses=OPEN_OR_FAILED)
        print(f"\n{terminate.killed} backends killed, {failed_cycles} of {rounds} cycles failed")
        assert failed_cycles > 0, "no kill landed inside a transaction"
    finally:
        stop.set()
        terminate.close()
