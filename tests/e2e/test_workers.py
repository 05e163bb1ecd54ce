"""Several `birdbridge run` workers on one PostgreSQL database (issue 15): the links are
spread over them, no link is polled by two at once, and when one dies (SIGKILL, mid-publish)
or stops (SIGTERM) the others take its links over; every post arrives exactly once.

Each worker reaches the sandboxes through its own port (a :class:`Door` onto the same
sandbox), so every request is known by the worker that sent it. Each worker also runs under
its own host name, as on three machines: a dead worker is then only known by its leases
running out (on one machine the others would see its process gone at once).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from birdbridge.render.html import html_to_text
from birdbridge.sandbox.common.exchange import Request, Response
from birdbridge.sandbox.common.handler import SandboxHTTPServer
from birdbridge.sandbox.common.server import SandboxServer
from birdbridge.sandbox.mastodon import MastodonSandbox, MastodonUser
from birdbridge.sandbox.x import XSandbox, XUser
from birdbridge.store import Store

from ..conftest import PG_ENV, PG_HINT, _drop_schema, _postgres_schema_url
from .conftest import ADOPTED, wait_for

LINKS = 6
WORKERS = 3
POLL = 1.0
BRIDGE = {
    "poll_interval": POLL,
    "max_poll_interval": POLL,  # an idle link is not polled less often
    "deliver_interval": 1,
    "claim_timeout": 5,
    "request_timeout": 3,
    "poll_threads": 4,
}
TIMELINES = {
    "x": re.compile(r"^/2/users/(\w+)/tweets$"),
    "m": re.compile(r"^/api/v1/accounts/(\w+)/statuses$"),
}
CREATES = {"x": "/2/tweets", "m": "/api/v1/statuses"}

# Run `birdbridge` under another host name (the first argument), as on another machine.
LAUNCH = (
    "import runpy, socket, sys; host = sys.argv.pop(1); socket.gethostname = lambda: host; "
    "runpy.run_module('birdbridge', run_name='__main__', alter_sys=True)"
)


# -- the sandboxes, seen by worker ---------------------------------------------------------


@dataclass
class Call:
    worker: int
    network: str
    method: str
    path: str
    start: float  # time.monotonic()
    end: float | None = None  # answered (or dropped)
    committed: bool = False  # the sandbox ran it (its answer may still be held)
    response: Response | None = None

    def created_id(self) -> str | None:
        """The id of the post a create made (None: not a create, or refused)."""
        response = self.response
        if self.method != "POST" or self.path != CREATES[self.network] or response is None:
            return None
        if not 200 <= response.status < 300 or not isinstance(response.body, dict):
            return None
        body = response.body.get("data", response.body) if self.network == "x" else response.body
        return str(body["id"])


class QuietServer(SandboxHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed worker's socket
            super().handle_error(request, client_address)


class Door:
    """One worker's own port onto a sandbox (the same state): logs who sent what, when, and
    can hold the answer of a create after the sandbox committed it (``hold`` seconds)."""

    def __init__(self, sandbox: SandboxServer, network: str, worker: int, calls: list[Call]):
        self.sandbox, self.network, self.worker = sandbox, network, worker
        self.calls = calls
        self.hold = 0.0
        self._httpd = QuietServer(("127.0.0.1", 0), self)
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def now(self) -> float:
        return self.sandbox.now()

    def exchange(self, request: Request) -> Response | None:
        call = Call(self.worker, self.network, request.method, request.path, time.monotonic())
        self.calls.append(call)  # list.append is atomic
        try:
            response = self.sandbox.exchange(request)
            call.committed, call.response = True, response
            if self.hold and request.method == "POST" and request.path == CREATES[self.network]:
                time.sleep(self.hold)
            return response
        finally:
            call.end = time.monotonic()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class Link:
    name: str
    x_user: XUser
    m_user: MastodonUser
    written: set[str] = field(default_factory=set)


@dataclass
class Fleet:
    """The links, the workers' doors and processes, and what the test can read."""

    x: XSandbox
    masto: MastodonSandbox
    store: Store
    url: str
    tmp: Path
    links: list[Link]
    calls: list[Call] = field(default_factory=list)
    doors: list[dict[str, Door]] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    lease_seconds: float = 3
    one_host: bool = False  # all workers on this machine (else each its own host name)

    def by_user(self) -> dict[tuple[str, str], str]:
        """(network, user id) -> link name."""
        out = {}
        for link in self.links:
            out[("x", link.x_user.id)] = link.name
            out[("m", link.m_user.id)] = link.name
        return out

    def config(self, worker: int) -> Path:
        doors = self.doors[worker]
        bridge = {**BRIDGE, "lease_seconds": self.lease_seconds}
        lines = ["[bridge]", f'database_url = "{self.url}"']
        lines += [f"{k} = {v}" for k, v in bridge.items()]
        for link in self.links:
            lines += [
                "",
                "[[links]]",
                f'name = "{link.name}"',
                'direction = "both"',
                "[links.twitter]",
                f'api_base_url = "{doors["x"].url}"',
                f'consumer_key = "{link.x_user.consumer_key}"',
                f'consumer_secret = "{link.x_user.consumer_secret}"',
                f'access_token = "{link.x_user.access_token}"',
                f'access_token_secret = "{link.x_user.access_token_secret}"',
                "[links.mastodon]",
                f'api_base_url = "{doors["m"].url}"',
                f'access_token = "{link.m_user.access_token}"',
            ]
        path = self.tmp / f"worker{worker}.toml"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)  # it holds tokens (else the worker warns)
        return path

    def host(self, worker: int) -> str:
        return socket.gethostname() if self.one_host else f"host-{worker}"

    def log(self, worker: int) -> Path:
        return self.tmp / f"worker{worker}.log"

    def start(self) -> None:
        for worker in range(WORKERS):
            self.doors.append(
                {
                    "x": Door(self.x, "x", worker, self.calls),
                    "m": Door(self.masto, "m", worker, self.calls),
                }
            )
        for worker in range(WORKERS):
            handle, config = self.log(worker).open("ab"), str(self.config(worker))
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", LAUNCH, self.host(worker), "run", "-c", config],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for doors in self.doors:
            for door in doors.values():
                door.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {w} ---\n" + self.log(w).read_text(errors="replace")[-4000:]
            for w in range(len(self.procs))
        )

    # -- reading --------------------------------------------------------------------------

    def polls(self) -> list[tuple[str, str, Call]]:
        """Every timeline read: (link, network, call), in the order they started."""
        users = self.by_user()
        out = []
        for call in list(self.calls):
            match = TIMELINES[call.network].match(call.path) if call.method == "GET" else None
            if match and (link := users.get((call.network, match.group(1)))):
                out.append((link, call.network, call))
        return sorted(out, key=lambda p: p[2].start)

    def polled_since(self, since: float) -> dict[tuple[str, str], set[int]]:
        """(link, network) -> the workers that read its timeline since ``since``."""
        seen: dict[tuple[str, str], set[int]] = defaultdict(set)
        for link, network, call in self.polls():
            if call.start >= since:
                seen[(link, network)].add(call.worker)
        return seen

    def holders(self) -> dict[str, int]:
        """link -> the worker (index) whose lease on it runs now."""
        pids = {proc.pid: n for n, proc in enumerate(self.procs)}
        held = self.store.lease_holders(datetime.now(UTC))
        return {link: pids.get(int(worker.rsplit(":", 2)[1]), -1) for link, worker in held.items()}

    def spread(self, workers: list[int]) -> bool:
        """Every link held, by ``workers`` only, each holding its fair share or one less."""
        held = self.holders()
        counts = Counter(held.values())
        share = -(-len(self.links) // len(workers))
        return (
            len(held) == len(self.links)
            and set(counts) == set(workers)
            and all(share - 1 <= c <= share for c in counts.values())
        )

    def settled(self) -> bool:
        return not self.store.deliveries(statuses=["pending", "publishing"])

    def texts(self, link: Link) -> tuple[Counter[str], Counter[str]]:
        tweets = Counter(t["text"] for t in self.x.posts(link.x_user.username))
        toots = Counter(html_to_text(t["content"]) for t in self.masto.posts(link.m_user.username))
        return tweets, toots

    def all_mirrored(self) -> bool:
        for link in self.links:
            tweets, toots = self.texts(link)
            if set(tweets) != link.written or set(toots) != link.written:
                return False
        return True


class Poster:
    """Posts on both sides of every link, a round a second, until stopped."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poster:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.rounds += 1
            for link in self.fleet.links:
                tweet = f"{link.name} from X, round {self.rounds}"
                toot = f"{link.name} from Mastodon, round {self.rounds}"
                link.written |= {tweet, toot}
                self.fleet.x.create_post(link.x_user.username, tweet)
                self.fleet.masto.create_post(link.m_user.username, toot)
            self._stop.wait(1.0)

    def wait_rounds(self, n: int) -> None:
        target = self.rounds + n
        wait_for(lambda: self.rounds >= target, what=f"{n} more round(s) of posts")


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_HINT)
    url, schema = _postgres_schema_url(base)
    try:
        yield url
    finally:
        _drop_schema(base, schema)


@pytest.fixture
def fleet(
    x_sandbox: XSandbox, mastodon_sandbox: MastodonSandbox, pg_url: str, tmp_path: Path
) -> Iterator[Fleet]:
    store = Store.open(pg_url)
    links = [
        Link(
            f"link{n}",
            x_sandbox.create_user(f"user{n}", f"User {n}"),
            mastodon_sandbox.create_user(f"user{n}", f"User {n}"),
        )
        for n in range(LINKS)
    ]
    made = Fleet(x_sandbox, mastodon_sandbox, store, pg_url, tmp_path, links)
    try:
        yield made
    finally:
        made.stop()
        store.close()


def started(fleet: Fleet) -> None:
    """All workers run, every side of every link has been read, and the links are spread."""
    begin = time.monotonic()
    wait_for(
        lambda: len(fleet.polled_since(begin)) == 2 * LINKS and fleet.spread(list(range(WORKERS))),
        timeout=120,
        what="every link polled and the links spread over the three workers",
    )


def overlapping_polls(fleet: Fleet, dead: dict[int, float]) -> list[str]:
    """Reads of one timeline by two workers at the same time (a dead worker's read ends when
    it died: its answer is nobody's)."""
    found = []
    last: dict[tuple[str, str], Call] = {}
    for link, network, call in fleet.polls():
        previous = last.get((link, network))
        if previous is not None and previous.worker != call.worker:
            end = previous.end if previous.end is not None else float("inf")
            end = min(end, dead.get(previous.worker, end))
            if call.start < end:
                found.append(f"{link} {network}: worker {previous.worker} and {call.worker}")
        if previous is None or (call.end or float("inf")) > (previous.end or float("inf")):
            last[(link, network)] = call
    return found


def handovers(fleet: Fleet) -> Counter[tuple[str, str]]:
    """How often each timeline's reader changed from one worker to another."""
    changes: Counter[tuple[str, str]] = Counter()
    last: dict[tuple[str, str], int] = {}
    for link, network, call in fleet.polls():
        key = (link, network)
        if key in last and last[key] != call.worker:
            changes[key] += 1
        last[key] = call.worker
    return changes


def largest_gaps(fleet: Fleet, since: float) -> dict[tuple[str, str], float]:
    """For each timeline, the longest time between two reads started after ``since``."""
    starts: dict[tuple[str, str], list[float]] = defaultdict(list)
    for link, network, call in fleet.polls():
        if call.start >= since:
            starts[(link, network)].append(call.start)
    return {
        key: max((b - a for a, b in itertools.pairwise(times)), default=0.0)
        for key, times in starts.items()
    }


def assert_exactly_once(fleet: Fleet) -> None:
    for link in fleet.links:
        tweets, toots = fleet.texts(link)
        expected = Counter(link.written)
        assert tweets == expected, (link.name, tweets - expected, expected - tweets)
        assert toots == expected, (link.name, toots - expected, expected - toots)


@pytest.mark.parametrize(
    ("hosts", "lease_seconds"),
    [
        # On three machines a dead worker is known by its leases running out.
        ("three", 3),
        # On one machine its process is seen gone at the survivors' next tick: long leases
        # show that the takeover did not wait for them.
        ("one", 9),
    ],
)
def test_three_workers_one_killed_mid_publish(
    fleet: Fleet, hosts: str, lease_seconds: float
) -> None:
    fleet.lease_seconds = lease_seconds
    fleet.one_host = hosts == "one"
    fleet.start()
    started(fleet)
    victim = 0
    survivors = [w for w in range(WORKERS) if w != victim]
    with Poster(fleet) as poster:
        poster.wait_rounds(2)
        # The victim's creates commit, then their answers are held: kill it in between.
        for door in fleet.doors[victim].values():
            door.hold = 2.0
        wait_for(
            lambda: any(held_publish(fleet, victim)),
            timeout=30,
            what="a publish of the victim committed and its answer held",
        )
        its_links = {link for link, w in fleet.holders().items() if w == victim}
        fleet.procs[victim].kill()
        fleet.procs[victim].wait(10)  # reaped: its pid is gone
        killed_at = time.monotonic()
        held = [call.created_id() for call in held_publish(fleet, victim)]
        wait_for(
            lambda: all(survivors_read(fleet, killed_at, link, survivors) for link in its_links),
            timeout=60,
            what="the killed worker's links polled by the survivors",
        )
        poster.wait_rounds(3)  # posts go on after the takeover
    wait_for(lambda: fleet.settled() and fleet.all_mirrored(), what="everything mirrored")
    time.sleep(3)  # a few more cycles: nothing may be added now

    assert its_links, fleet.holders()
    takeover = max(first_read_after(fleet, killed_at, link) for link in its_links)
    if fleet.one_host:  # at the next tick (a third of the lease) and the link's next slot
        assert takeover < lease_seconds / 3 + 3 * POLL, (takeover, fleet.logs())
    else:  # once the leases ran out, at the next tick
        assert takeover <= lease_seconds * 4 / 3 + 3 * POLL, (takeover, fleet.logs())
    assert all(fleet.procs[w].poll() is None for w in survivors), fleet.logs()
    assert fleet.spread(survivors), (fleet.holders(), fleet.logs())
    # What the victim published and never heard back about was found, not published again.
    assert held and None not in held, held
    adopted = {i for w in survivors for i in ADOPTED.findall(fleet.log(w).read_text())}
    assert set(held) <= adopted, (held, adopted, fleet.logs())
    assert_exactly_once(fleet)
    assert overlapping_polls(fleet, {victim: killed_at}) == [], fleet.logs()
    # Every link kept being read: the survivors' own links all along, the victim's with no
    # gap longer than the takeover.
    gaps = largest_gaps(fleet, killed_at - 5)
    assert len(gaps) == 2 * LINKS, gaps
    for (link, network), gap in gaps.items():
        bound = takeover + 2 * POLL if link in its_links else 5 * POLL
        assert gap <= bound, (link, network, gap, gaps)
    # A link changes hands when the workers start and when it is taken over, not back and
    # forth.
    changes = handovers(fleet)
    assert max(changes.values(), default=0) <= 3, changes


def held_publish(fleet: Fleet, worker: int) -> list[Call]:
    """The creates of ``worker`` that committed and whose answer it has not had yet."""
    return [
        call
        for call in list(fleet.calls)
        if call.worker == worker and call.created_id() and call.end is None
    ]


def survivors_read(fleet: Fleet, since: float, link: str, survivors: list[int]) -> bool:
    seen = fleet.polled_since(since)
    return all(seen.get((link, network), set()) & set(survivors) for network in ("x", "m"))


def first_read_after(fleet: Fleet, since: float, link: str) -> float:
    """Seconds from ``since`` until both sides of ``link`` were read again."""
    firsts = {}
    for name, network, call in fleet.polls():
        if name == link and call.start >= since and network not in firsts:
            firsts[network] = call.start - since
    return max(firsts.values()) if len(firsts) == 2 else float("inf")


def test_three_workers_one_stopped(fleet: Fleet) -> None:
    # Long leases: links taken over sooner than a lease runs out were let go at the stop.
    fleet.lease_seconds = 12
    fleet.start()
    started(fleet)
    stopping = 0
    survivors = [w for w in range(WORKERS) if w != stopping]
    with Poster(fleet) as poster:
        poster.wait_rounds(2)
        its_links = {link for link, w in fleet.holders().items() if w == stopping}
        fleet.procs[stopping].send_signal(signal.SIGTERM)
        assert fleet.procs[stopping].wait(timeout=10) == 0
        stopped_at = time.monotonic()
        wait_for(
            lambda: all(survivors_read(fleet, stopped_at, link, survivors) for link in its_links),
            timeout=60,
            what="the stopped worker's links polled by the survivors",
        )
        poster.wait_rounds(2)
    wait_for(lambda: fleet.settled() and fleet.all_mirrored(), what="everything mirrored")
    time.sleep(2)
    takeover = max(first_read_after(fleet, stopped_at, link) for link in its_links)
    # At the survivors' next tick (a third of the lease), well before the leases run out.
    assert takeover < fleet.lease_seconds / 3 + 3 * POLL, (takeover, fleet.logs())
    assert its_links
    assert "stopped" in fleet.log(stopping).read_text()
    assert all(fleet.procs[w].poll() is None for w in survivors), fleet.logs()
    assert fleet.spread(survivors), (fleet.holders(), fleet.logs())
    assert_exactly_once(fleet)
    assert overlapping_polls(fleet, {}) == [], fleet.logs()
