"""The links a worker holds: its share of them, its leases renewed, a dead worker's taken
over (store/leases.py holds the rows).

Every third of ``lease_seconds`` (a tick) a `birdbridge run` worker says it is alive (its row
in ``bridge_worker``, with how its polls keep up), renews its leases, and evens out: with W
live workers each holds at most ceil(links / W), so it lets go of idle links above that and
takes free or expired ones below it. A worker that stopped cleanly has let go of everything;
one that died keeps its links until its leases run out -- unless it ran on this machine: a
worker id names its host and process, and a process that is gone holds nothing (a container
or service restarted after a crash goes on at once)."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from birdbridge.store import DatabaseError, Store, utcnow
from birdbridge.store.leases import WorkerInfo

log = logging.getLogger(__name__)
HOST = socket.gethostname()[:40]
GONE_AFTER = 10  # lease periods: a worker row not written for this long is removed


_OURS: set[str] = set()  # the worker ids made by this process


def new_worker_id() -> str:
    """Unique per process (a restarted daemon must not think a dead one's claims are its own),
    naming its host and process so that a dead one on the same machine can be told."""
    worker = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    _OURS.add(worker)
    return worker


def dead_here(worker_ids: Iterable[str], me: str) -> set[str]:
    """Those of ``worker_ids`` that ran on this machine in a process that is gone."""
    dead = set()
    for worker in worker_ids:
        parts = worker.rsplit(":", 2)  # host:pid:random (a host name has no colon)
        if worker == me or len(parts) != 3 or parts[0] != HOST or not parts[1].isdigit():
            continue
        pid_text = parts[1]
        if worker not in _OURS and not _alive(int(pid_text)):
            dead.add(worker)
    return dead


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        # An id with our pid that this process did not make: a process before ours (a
        # container restarted keeps its host name, and its first process is pid 1 again).
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@dataclass
class Tick:
    """What a tick changed: links taken (and when each was last polled), links let go."""

    taken: list[str] = field(default_factory=list)
    last_polls: dict[str, datetime] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)


class Holdings:
    """The leases of one worker on its links (``links``: those it can run)."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        links: Collection[str],
        lease_seconds: float,
        *,
        interval: float = 0,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.links = list(links)
        self.lease = timedelta(seconds=lease_seconds)
        self.interval = interval
        self.held: set[str] = set()
        self.started_at = utcnow()
        # Until when (this process's monotonic clock) the leases last, as last renewed:
        # counted from before the renewal was sent, so never later than the database's.
        self._valid_until = time.monotonic()
        self._lock = threading.Lock()

    def holds(self, link: str) -> bool:
        """Is ``link`` this worker's now? False after a lease could not be renewed in time:
        another worker may have taken it over."""
        with self._lock:
            return link in self.held and time.monotonic() < self._valid_until

    def add_links(self, links: Iterable[str]) -> None:
        """Links that can run now (signed in meanwhile)."""
        new = [link for link in links if link not in self.links]
        if new:
            self.store.ensure_leases(new)
            self.links.extend(new)

    def take_all(self) -> list[str]:
        """Hold every free link (``once``: no share, no worker row); returns those held."""
        sent = time.monotonic()
        now = self.store.database_now()
        holders = self.store.lease_holders(now)
        taken = self.store.take_leases(
            self.worker_id,
            self.links,
            until=now + self.lease,
            now=now,
            dead=dead_here(set(holders.values()), self.worker_id),
        )
        with self._lock:
            self.held = set(taken)
            self._valid_until = sent + self.lease.total_seconds()
        return taken

    def holder(self, link: str) -> str | None:
        return self.store.lease_holders(self.store.database_now()).get(link)

    def renew(self) -> list[str]:
        """Renew the leases held; returns the links lost (taken over meanwhile)."""
        sent = time.monotonic()
        now = self.store.database_now()
        kept = self.store.renew_leases(self.worker_id, now + self.lease)
        with self._lock:
            lost = sorted(self.held - kept)
            self.held &= kept
            self._valid_until = sent + self.lease.total_seconds()
        return lost

    def tick(self, stats: WorkerStats, idle: Callable[[str], bool]) -> Tick:
        """Say this worker is alive, renew, and even out the links (``idle``: may this link
        be let go now, i.e. no run of it is under way). Times are the database's."""
        now = self.store.database_now()
        self.store.beat(self._info(now, stats))
        workers = self.store.workers()
        gone = {w.id for w in workers if w.seen_at < now - GONE_AFTER * self.lease}
        gone |= dead_here({w.id for w in workers}, self.worker_id)
        self.store.forget_workers(gone)
        live = [w for w in workers if w.id not in gone and w.seen_at >= now - self.lease]
        share = math.ceil(len(self.links) / max(1, len(live)))
        tick = Tick(lost=self.renew())
        with self._lock:
            excess = len(self.held) - share
        if excess > 0:
            spare = sorted(link for link in self.held if idle(link))[-excess:]
            self.store.release_leases(self.worker_id, spare)
            with self._lock:
                self.held -= set(spare)
            tick.lost.extend(spare)
        elif excess < 0:
            tick.taken = self._take(now, -excess, workers)
            tick.last_polls = self.store.last_polls(tick.taken)
        return tick

    def _take(self, now: datetime, wanted: int, workers: list[WorkerInfo]) -> list[str]:
        holders = self.store.lease_holders(now)
        free = [link for link in self.links if link not in self.held]
        taken = self.store.take_leases(
            self.worker_id,
            free,
            until=now + self.lease,
            now=now,
            limit=wanted,
            dead=dead_here(set(holders.values()), self.worker_id),
            create=False,
        )
        with self._lock:
            self.held |= set(taken)
        return taken

    def release_all(self) -> None:
        """A clean stop: every link free at once, and this worker gone from the list."""
        try:
            self.store.release_leases(self.worker_id)
            self.store.forget_workers([self.worker_id])
        except DatabaseError as exc:  # they run out by themselves after lease_seconds
            log.warning("leases not released (they run out by themselves): %s", exc)
        with self._lock:
            self.held.clear()

    def _info(self, now: datetime, stats: WorkerStats) -> WorkerInfo:
        host, pid = HOST, os.getpid()
        with self._lock:
            held = len(self.held)
        return WorkerInfo(
            id=self.worker_id,
            host=host,
            pid=pid,
            started_at=self.started_at,
            seen_at=now,
            links=held,
            late=stats.late,
            worst_lag=round(stats.worst, 1),
            interval=self.interval,
        )


@dataclass(frozen=True)
class WorkerStats:
    late: int = 0
    worst: float = 0.0
