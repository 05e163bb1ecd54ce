"""Attacks on the workers of issue 15 (store/leases.py, worker/holdings.py, worker/scheduler.py,
daemon.py, the engine's held runs and idle polls), on SQLite and PostgreSQL.

Each test passes when the code does what it says. Four were found as bugs (strict xfails) and
are fixed: links held but never polled after a tick failed half-way; links only some workers
can run left free; a live worker with our host name taken for dead; leases trusted after a
suspend. Real sandboxes and databases only: slow replies are the sandboxes'
``delay`` faults, a database outage is a TCP proxy cut in front of PostgreSQL, a failing read
is a table locked by another connection with a short ``lock_timeout``."""

from __future__ import annotations

import contextlib
import json
import math
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from birdbridge.config import LinkConfig
from birdbridge.daemon import Bridge
from birdbridge.engine import LinkEngine
from birdbridge.networks.factory import build_adapters
from birdbridge.render.html import html_to_text
from birdbridge.sandbox.common.faults import FaultRule
from birdbridge.store import Store, utcnow
from birdbridge.worker.holdings import HOST, Holdings, WorkerStats, dead_here, new_worker_id
from birdbridge.worker.scheduler import PollScheduler, Run

from ..conftest import Rig

LINKS = [f"link{n:02}" for n in range(10)]
X_TIMELINE = r"/2/users/\d+/tweets"


def idle(_link: str) -> bool:
    return True


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (a server to cut off, a table lock with a timeout)")


def gone_pid() -> int:
    """The pid of a process that has ended."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(ended.stdout)


def toots(rig: Rig) -> Counter[str]:
    return Counter(html_to_text(t["content"]) for t in rig.toots())


def engine_of(rig: Rig, link: LinkConfig, worker: str) -> LinkEngine:
    """The link's engine in the worker ``worker`` (each worker its own clients)."""
    return LinkEngine(
        link, rig.store, build_adapters(link, timeout=10), worker_id=worker, clock=rig.clock
    )


def run_in_thread(body: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(body()), daemon=True)
    thread.start()
    return thread, result


class Proxy:
    """A TCP proxy in front of PostgreSQL. ``cut()``: every connection through it is closed and
    new ones are closed at once (the database is unreachable); ``restore()`` ends that."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for end in (a, b):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for end in sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def proxy(database_url: str) -> Iterator[tuple[Proxy, str]]:
    """PostgreSQL through a proxy the test can cut, and the store's URL through it."""
    postgres_only(database_url)
    url = make_url(database_url)
    through = Proxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield (
            through,
            url.set(host="127.0.0.1", port=through.port).render_as_string(hide_password=False),
        )
    finally:
        through.close()


def with_pg_options(database_url: str, extra: str) -> str:
    """The URL with ``extra`` added to PostgreSQL's ``options`` (e.g. a lock_timeout)."""
    base, _, query = database_url.partition("?")
    params = dict(parse_qsl(query))
    params["options"] = (params.get("options", "") + " " + extra).strip()
    return base + "?" + urlencode(params, quote_via=quote)


# -- a cycle that outlives its lease, and the worker that takes the link over ----------------------


def test_a_poll_outliving_its_lease_and_the_takeover_mirror_a_post_once(rig: Rig) -> None:
    """Worker A's poll is stuck in a slow X read longer than its lease (its tick could not
    renew); B takes the link over and mirrors the post; A's read then returns the same post:
    it is not queued twice, not published twice, and A finds out at its next renewal."""
    link = rig.config(direction="twitter-to-mastodon").links[0]
    a = Holdings(rig.store, "host-a:1:aaaaaa", [link.name], 1.0)
    b = Holdings(rig.store, "host-b:1:bbbbbb", [link.name], 30)
    engine_a, engine_b = engine_of(rig, link, a.worker_id), engine_of(rig, link, b.worker_id)
    engine_a.held, engine_b.held = a.holds, b.holds
    assert a.take_all() == [link.name]
    assert not engine_a.cycle().errors  # the first poll: mirroring starts now
    rig.tweet("read by two workers, mirrored once")
    a.renew()
    rig.x.add_fault(FaultRule("delay", path=X_TIMELINE, method="GET", delay=2.5))
    reads = len(rig.x.api_requests("GET", X_TIMELINE))
    slow, result = run_in_thread(engine_a.cycle)
    wait_for(lambda: len(rig.x.api_requests("GET", X_TIMELINE)) > reads, 10, "A's read")
    time.sleep(1.1)  # A's lease has run out (A is still waiting for X)
    assert b.take_all() == [link.name]
    report_b = engine_b.cycle()
    assert report_b.delivered.done == 1, report_b
    slow.join(15)
    assert not slow.is_alive()
    (report_a,) = result
    assert report_a.polls["twitter"].enqueued == 0  # B's delivery: the same row, kept
    assert toots(rig) == Counter(["read by two workers, mirrored once"])
    assert len(rig.store.deliveries()) == 1
    assert a.renew() == [link.name]  # A learns it lost the link
    assert not a.holds(link.name)
    assert engine_a.cycle().busy  # and runs it no more
    assert rig.store.lease_holders(rig.store.database_now()) == {link.name: b.worker_id}


def test_a_publish_outliving_its_lease_is_not_published_again_by_the_takeover(rig: Rig) -> None:
    """A is publishing (Mastodon slow to answer) when its lease runs out and B takes over: B
    finds the delivery claimed by A and leaves it; one toot."""
    link = rig.config(direction="twitter-to-mastodon").links[0]
    a = Holdings(rig.store, "host-a:1:aaaaaa", [link.name], 1.0)
    b = Holdings(rig.store, "host-b:1:bbbbbb", [link.name], 30)
    engine_a, engine_b = engine_of(rig, link, a.worker_id), engine_of(rig, link, b.worker_id)
    engine_a.held, engine_b.held = a.holds, b.holds
    assert a.take_all() == [link.name]
    engine_a.cycle()
    rig.tweet("published while the lease ran out")
    a.renew()
    rig.masto.add_fault(FaultRule("delay", path=r"/api/v1/statuses$", method="POST", delay=2.5))
    slow, result = run_in_thread(engine_a.cycle)
    wait_for(lambda: rig.masto.api_requests("POST", r"/api/v1/statuses$"), 10, "A's publish")
    time.sleep(1.1)  # A's lease has run out (A is still waiting for Mastodon)
    assert b.take_all() == [link.name]
    report_b = engine_b.cycle()
    assert report_b.delivered.done == 0 and not report_b.errors, report_b
    slow.join(15)
    (report_a,) = result
    assert report_a.delivered.done == 1, report_a
    assert toots(rig) == Counter(["published while the lease ran out"])
    assert not rig.store.deliveries(statuses=["pending", "publishing", "failed"])


def test_two_holders_at_once_poll_and_deliver_a_post_once(rig: Rig) -> None:
    """The worst overlap: two workers both believe they hold the link (each within its own
    lease's local validity) and run a cycle at the same moment."""
    link = rig.config(direction="both").links[0]
    engines = [engine_of(rig, link, f"host-{n}:1:abcdef") for n in range(2)]
    for engine in engines:
        engine.held = lambda _link: True
        engine.cycle()  # first polls
    rig.tweet("both workers read me")
    rig.toot("and me")
    start = threading.Barrier(2)

    def go(engine: LinkEngine) -> None:
        start.wait()
        engine.cycle()

    threads = [threading.Thread(target=go, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for engine in engines:  # anything held back as possibly ours is settled now
        engine.cycle()
    assert toots(rig) == Counter(["both workers read me", "and me"])
    assert Counter(t["text"] for t in rig.tweets()) == Counter(["both workers read me", "and me"])
    assert len(rig.store.deliveries(statuses=["done"])) == 2
    assert not rig.store.deliveries(statuses=["pending", "publishing", "failed"])


# -- shares ----------------------------------------------------------------------------------------


def test_links_only_some_workers_can_run_are_all_held(store: Store) -> None:
    store.ensure_leases(LINKS)
    one = Holdings(store, new_worker_id(), LINKS, 30, interval=60)
    one.tick(WorkerStats(), idle)  # alone: all ten
    two = Holdings(store, new_worker_id(), LINKS[:5], 30, interval=60)
    for _ in range(4):
        for holdings in (two, one):
            holdings.tick(WorkerStats(), idle)
    held = store.lease_holders(utcnow())
    assert sorted(held) == LINKS, f"never held: {sorted(set(LINKS) - set(held))}"


def test_many_workers_starting_together_converge_and_hold_every_link_once(store: Store) -> None:
    links = [f"l{n:02}" for n in range(23)]
    store.ensure_leases(links)
    workers = [Holdings(store, new_worker_id(), links, 30, interval=60) for _ in range(5)]
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def first_tick(holdings: Holdings) -> None:
        barrier.wait()
        try:
            holdings.tick(WorkerStats(), idle)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_tick, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    for _ in range(4):
        for holdings in workers:
            holdings.tick(WorkerStats(), idle)
    shares = [len(w.held) for w in workers]
    assert all(n <= math.ceil(23 / 5) for n in shares), shares
    everything = [link for w in workers for link in w.held]
    assert sorted(everything) == links  # each link held, by one worker
    holders = store.lease_holders(utcnow())
    assert holders == {link: w.worker_id for w in workers for link in w.held}


def test_a_worker_with_no_links_ticks_without_error(store: Store) -> None:
    empty = Holdings(store, new_worker_id(), [], 30, interval=60)
    assert empty.tick(WorkerStats(), idle).taken == []
    assert empty.take_all() == []
    empty.release_all()
    assert store.workers() == []


def test_a_live_worker_of_the_same_host_name_is_not_robbed(store: Store) -> None:
    store.ensure_leases(LINKS)
    # Another container with our host name (its own process namespace: another tag), whose
    # pid means nothing here.
    elsewhere = HOST.split("~")[0] + "~00000000"
    other = Holdings(store, f"{elsewhere}:{gone_pid()}:abcdef", LINKS, 600, interval=60)
    me = Holdings(store, new_worker_id(), LINKS, 600, interval=60)
    changes = 0
    for _ in range(3):
        for holdings in (other, me):
            tick = holdings.tick(WorkerStats(), idle)
            changes += len(tick.lost) if holdings is other else 0
    assert {w.id for w in store.workers()} == {other.worker_id, me.worker_id}
    assert changes <= 5, f"{changes} links taken from a worker that beats every tick"


def test_a_killed_once_on_this_machine_leaves_no_link_behind(store: Store) -> None:
    """`birdbridge once` (no worker row) killed mid-run: a `run` worker of the same machine
    takes its links at once, though its leases have long to run."""
    store.ensure_leases(LINKS)
    killed = Holdings(store, f"{HOST}:{gone_pid()}:abcdef", LINKS, 600)
    assert killed.take_all() == LINKS
    run = Holdings(store, new_worker_id(), LINKS, 600, interval=60)
    assert sorted(run.tick(WorkerStats(), idle).taken) == LINKS


def test_worker_ids_fit_their_columns_and_odd_ids_are_not_dead_here() -> None:
    longest_pid = 4_194_304  # Linux's pid_max ceiling
    assert len(f"{'h' * 40}:{longest_pid}:abcdef") <= 64
    assert len(new_worker_id()) <= 64
    odd = {"host:with:colons:123:abcdef", "nopid", ":", f"{HOST}:notapid:abcdef", "a:b"}
    assert dead_here(odd, "me") == set()


def test_status_shows_only_live_workers_whatever_their_rows_say(store: Store) -> None:
    from io import StringIO

    from rich.console import Console

    from birdbridge.store.leases import WorkerInfo
    from birdbridge.views import read_status, status_json, status_renderables

    now = store.database_now()
    rows = [
        WorkerInfo(
            "stale:1:aaaaaa",
            "stale",
            1,
            now - timedelta(days=3),
            now - timedelta(hours=1),
            7,
            0,
            0.0,
            60,
        ),
        WorkerInfo("h\u00e9:4194304:bbbbbb", "h\u00e9", 4194304, now, now, 0, 999, 12345.6, 0.5),
        WorkerInfo("x" * 64, "x" * 64, 2, now - timedelta(seconds=5), now, 3, 0, 0.0, 86400),
    ]
    for row in rows:
        store.beat(row)
    view = read_status(store, [], utcnow(), max_attempts=8, lease_seconds=60)
    assert [w.id for w in view.workers] == sorted(row.id for row in rows[1:])
    text = json.dumps(status_json(view))
    assert json.loads(text)["workers"][0]["pid"] == 4194304
    out = StringIO()
    console = Console(file=out, width=400)
    for renderable in status_renderables(view):
        console.print(renderable)
    printed = out.getvalue()
    assert "2 workers running, holding 3 links" in printed, printed
    assert "BEHIND: 999 polls" in printed and "polled every 0.5 s" in printed, printed


# -- the database away -----------------------------------------------------------------------------


def test_a_database_outage_stops_the_links_and_they_resume(
    rig: Rig, proxy: tuple[Proxy, str]
) -> None:
    """PostgreSQL unreachable for longer than a lease: the daemon's ticks fail (no crash), the
    link stops running on it once its lease's validity passed, another worker can take it
    then; when the database is back this worker learns it lost the link, takes it again once
    it is free, and the post written meanwhile is mirrored."""
    cut, url = proxy
    config = rig.config(
        direction="twitter-to-mastodon",
        bridge={
            "lease_seconds": 3,
            "poll_interval": 1,
            "max_poll_interval": 1,
            "deliver_interval": 1,
        },
    )
    store = Store.open(url)
    bridge = Bridge(config, store)
    daemon = threading.Thread(target=bridge.run_forever, kwargs={"install_signals": False})
    daemon.start()
    try:
        wait_for(lambda: rig.store.link_state("alice", "twitter") is not None, 20, "the first poll")
        holdings = bridge.holdings
        assert holdings is not None and bridge.poller is not None
        cut.cut()
        time.sleep(3.5)  # longer than lease_seconds
        assert daemon.is_alive()
        assert not holdings.holds("alice")
        rig.tweet("written while the database was away")
        other = Holdings(rig.store, "elsewhere:1:bbbbbb", ["alice"], 30)
        assert other.take_all() == ["alice"]  # its lease ran out: another worker takes it
        cut.restore()
        wait_for(lambda: "alice" not in bridge.poller.links(), 10, "the daemon to let it go")
        assert not holdings.holds("alice")
        assert "written while the database was away" not in toots(rig)
        other.release_all()
        wait_for(lambda: holdings.holds("alice"), 10, "the daemon to take it back")
        wait_for(lambda: "written while the database was away" in toots(rig), 20, "the mirror")
        assert toots(rig) == Counter(["written while the database was away"])
    finally:
        cut.restore()
        bridge.stop.set()
        daemon.join(30)
    assert not daemon.is_alive()
    assert rig.store.lease_holders(rig.store.database_now()) == {}  # let go at the stop


def test_links_taken_by_a_tick_that_then_fails_are_still_polled(
    rig: Rig, database_url: str
) -> None:
    postgres_only(database_url)
    config = rig.config(
        direction="twitter-to-mastodon",
        bridge={"lease_seconds": 3, "poll_interval": 1, "max_poll_interval": 1},
    )
    store = Store.open(with_pg_options(database_url, "-c lock_timeout=300"))
    other = Holdings(rig.store, "elsewhere:1:bbbbbb", ["alice"], 60)
    store.ensure_leases(["alice"])
    assert other.take_all() == ["alice"]  # held elsewhere while the daemon starts
    bridge = Bridge(config, store)
    daemon = threading.Thread(target=bridge.run_forever, kwargs={"install_signals": False})
    daemon.start()
    locker = sqlalchemy.create_engine(database_url)
    try:
        wait_for(lambda: bridge.poller is not None and bridge._running, 20, "the daemon")
        assert bridge.poller is not None and bridge.holdings is not None
        with locker.begin() as connection:
            # Another session holds link_state for a moment: the daemon's reads of it fail.
            connection.execute(sqlalchemy.text("LOCK TABLE link_state IN ACCESS EXCLUSIVE MODE"))
            other.release_all()  # the link is free: the daemon's next tick takes it
            holdings = bridge.holdings
            wait_for(lambda: holdings.holds("alice"), 10, "the take")
            time.sleep(0.5)
        rig.tweet("taken by a tick that failed")
        wait_for(lambda: "alice" in bridge.poller.links(), 6, "the link to be scheduled")
    finally:
        locker.dispose()
        bridge.stop.set()
        daemon.join(30)


def test_after_a_suspend_a_worker_runs_no_link_before_renewing(rig: Rig) -> None:
    config = rig.config(
        direction="both", bridge={"lease_seconds": 60, "poll_interval": 60, "max_poll_interval": 60}
    )
    bridge = Bridge(config, rig.store)
    daemon = threading.Thread(target=bridge.run_forever, kwargs={"install_signals": False})
    daemon.start()
    try:
        wait_for(lambda: rig.store.link_state("alice", "mastodon") is not None, 20, "a poll")
        holdings, poller = bridge.holdings, bridge.poller
        assert holdings is not None and poller is not None
        wait_for(lambda: not poller.busy("alice"), 20, "the first cycle to end")

        def requests() -> int:
            return len(rig.x.api_requests()) + len(rig.masto.api_requests())

        quiet = requests()
        time.sleep(1)
        assert requests() == quiet  # nothing polls until the next interval (60 s)
        # What the database looks like after a 15-minute suspend: the worker's lease ran out
        # and another worker took the link. The worker's monotonic clock saw none of it.
        rig.store.renew_leases(holdings.worker_id, rig.store.database_now() - timedelta(minutes=14))
        other = Holdings(rig.store, "elsewhere:1:bbbbbb", ["alice"], 600)
        assert other.take_all() == ["alice"]
        bridge._after_clock_jump(900.0)  # what ClockWatch reports after that suspend
        time.sleep(2)
        assert requests() == quiet, "polled a link another worker holds"
    finally:
        bridge.stop.set()
        daemon.join(30)


# -- idle polls: what record_poll did that an idle poll no longer does -----------------------------


def test_a_poll_after_a_failed_one_clears_the_error(rig: Rig) -> None:
    engine = rig.engine(direction="twitter-to-mastodon")
    engine.cycle()
    rig.x.add_fault(FaultRule("status", path=X_TIMELINE, method="GET", status=503, times=None))
    assert engine.cycle().errors  # (reads are retried in-process: every one fails)
    rig.x.clear_faults()
    state = rig.store.link_state("alice", "twitter")
    assert state is not None and state.last_error is not None
    report = engine.cycle()
    assert not report.errors and not report.polls["twitter"].idle  # recorded: a change
    state = rig.store.link_state("alice", "twitter")
    assert state is not None and state.last_error is None and state.last_error_at is None
    assert engine.cycle().polls["twitter"].idle  # now nothing changes


def test_an_idle_poll_time_reaches_the_database_and_never_moves_back(rig: Rig) -> None:
    rig.tweet("an old post")
    engine = rig.engine(direction="twitter-to-mastodon")
    engine.cycle()
    first = rig.store.link_state("alice", "twitter")
    assert first is not None and first.last_poll_at is not None
    rig.clock.advance(minutes=5)
    report = engine.cycle()  # a bare engine: its idle write goes out at the run's end
    assert report.polls["twitter"].idle
    later = rig.store.link_state("alice", "twitter")
    assert later is not None and later.last_poll_at is not None
    assert later.last_poll_at - first.last_poll_at >= timedelta(minutes=5)
    assert later.cursor == first.cursor


def test_posts_skipped_by_the_policy_move_the_cursor_and_are_not_read_again(rig: Rig) -> None:
    engine = rig.engine(direction="twitter-to-mastodon", policy={"include_tags": ["go"]})
    engine.cycle()
    before = rig.store.link_state("alice", "twitter")
    rig.tweet("no tag here, skipped")
    report = engine.cycle()
    assert report.polls["twitter"].skipped and not report.polls["twitter"].idle
    after = rig.store.link_state("alice", "twitter")
    assert after is not None and before is not None and after.cursor != before.cursor
    report = engine.cycle()
    assert report.polls["twitter"].seen == 0 and report.polls["twitter"].idle
    assert not rig.toots()


def test_an_account_without_posts_polls_idle(rig: Rig) -> None:
    """A side with no post at all yet: after its first poll, polls that find nothing write
    nothing either."""
    engine = rig.engine(direction="both")
    engine.cycle()
    report = engine.cycle()
    assert report.polls["twitter"].idle and report.polls["mastodon"].idle, report.polls


def test_a_retry_due_between_sweeps_is_delayed_not_lost(rig: Rig) -> None:
    """deliver_first=False (the sweep found nothing due) while a retry came due meanwhile:
    the idle cycle leaves it; the next sweep finds it and the delivery pass publishes it."""
    engine = rig.engine(direction="twitter-to-mastodon")
    engine.held = lambda _link: True  # a worker holds it
    engine.cycle()
    rig.tweet("retried after a 503")
    refused = FaultRule("status", path=r"/api/v1/statuses$", method="POST", status=503, times=None)
    rig.masto.add_fault(refused)
    assert engine.cycle().delivered.retried == 1
    rig.masto.clear_faults()
    rig.clock.advance(hours=2)  # the retry is due
    report = engine.cycle(deliver_first=False)
    assert report.delivered.done == 0  # not this cycle...
    assert rig.store.links_with_due_deliveries(rig.clock()) == {"alice"}  # ...the next sweep
    assert engine.deliver().delivered.done == 1
    assert toots(rig) == Counter(["retried after a 503"])


# -- the scheduler under a burst -------------------------------------------------------------------


def test_a_burst_of_thousands_of_due_links(request: pytest.FixtureRequest) -> None:
    """5,000 links due at once on 16 threads: each polled once, never two runs of one link at
    once, in due order (ties: the order they were added), none late on a 60 s interval."""
    lock = threading.Lock()
    started: list[str] = []
    running: set[str] = set()
    overlaps: list[str] = []

    def run(link: str, kind: Run, deliver_first: bool) -> None:
        with lock:
            if link in running:
                overlaps.append(link)
            running.add(link)
            started.append(link)
        with lock:
            running.discard(link)

    before = threading.active_count()
    scheduler = PollScheduler(60, 16, run)
    request.addfinalizer(lambda: scheduler.stop(5))
    links = [f"l{n:04}" for n in range(5000)]
    now = time.monotonic()
    for link in links:
        scheduler.add(link, now)
    scheduler.start()
    wait_for(lambda: len(started) >= 5000, 60, "5,000 polls")
    time.sleep(0.2)
    assert len(started) == 5000 and set(started) == set(links)
    assert not overlaps
    # Roughly in the order they were added (16 threads may pass one another a little).
    assert all(abs(started.index(links[n]) - n) <= 500 for n in range(0, 5000, 250))
    assert scheduler.lateness().late == 0
    scheduler.stop(5)
    wait_for(lambda: threading.active_count() <= before, 5, "the scheduler's threads to end")


def test_stop_during_a_burst_starts_nothing_more() -> None:
    lock = threading.Lock()
    started: list[float] = []

    def run(link: str, kind: Run, deliver_first: bool) -> None:
        with lock:
            started.append(time.monotonic())
        time.sleep(0.01)

    before = threading.active_count()
    scheduler = PollScheduler(60, 16, run)
    now = time.monotonic()
    for n in range(5000):
        scheduler.add(f"l{n:04}", now)
    scheduler.start()
    wait_for(lambda: len(started) >= 200, 30, "the burst to be under way")
    asked = time.monotonic()
    scheduler.stop(5)
    stopped = time.monotonic()
    assert stopped - asked < 2
    count = len(started)
    time.sleep(0.5)
    assert len(started) == count < 5000  # nothing started after stop() returned
    wait_for(lambda: threading.active_count() <= before, 5, "the scheduler's threads to end")
