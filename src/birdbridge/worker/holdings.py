"""The links a worker holds: its share of them, its leases renewed, a dead worker's taken
over (store/leases.py holds the rows).

Every third of ``lease_seconds`` (a tick) a `birdbridge run` worker says it is alive (its row
in ``bridge_worker``, with how its polls keep up), renews its leases, and evens out: with W
live workers each holds at most ceil(links / W), so it lets go of idle links above that and
takes free or expired ones below it. A worker that stopped cleanly has let go of everything;
one that died keeps its links until its leases run out -- unless it ran here: a worker id
names its host (with the kernel's boot and the process namespace: where its pid means what
ours does) and its process, and a process that is gone holds nothing (a service restarted
after a crash goes on at once; a container restarted gets a new process namespace, and waits
for the leases to run out).

Links that no live worker below its share takes (their workers' configs differ: a link only
some workers can run) are taken, beyond its share, by a worker that saw them free at two
ticks in a row, and kept: a link is never left without a worker that can run it."""

from __future__ import annotations

import hashlib
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
from pathlib import Path

from birdbridge.store import DatabaseError, Store, utcnow
from birdbridge.store.leases import WorkerInfo

log = logging.getLogger(__name__)
GONE_AFTER = 10  # lease periods: a worker row not written for this long is removed


def _where() -> str:
    """This host, as far as a pid means anything: its name (cut: an id fits 64 characters;
    the tag keeps long names apart), the kernel's boot and the process namespace. Two
    containers with one host name, each with its pid 1, are not the same place."""
    name = socket.gethostname()

    def read(path: str) -> str:
        try:
            return Path(path).read_text().strip() if "random" in path else os.readlink(path)
        except OSError:
            return ""

    boot, namespace = read("/proc/sys/kernel/random/boot_id"), read("/proc/self/ns/pid")
    tag = hashlib.sha1(f"{name}|{boot}|{namespace}".encode()).hexdigest()[:8]
    return f"{name.replace(':', '_')[:31]}~{tag}"


HOST = _where()


_OURS: set[str] = set()  # the worker ids made by this process


def new_worker_id() -> str:
    """Unique per process (a restarted daemon must not think a dead one's claims are its own),
    naming its host and process so that a dead one on the same machine can be told: at most
    31 + 9 + 1 + 7 + 1 + 6 = 55 characters."""
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
        # An id with our pid that this process did not make, from this boot and namespace:
        # a process before ours that had the same pid.
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
    """What a tick changed: links taken, links let go (or lost)."""

    taken: list[str] = field(default_factory=list)
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
        # Until when (_clock: counts a suspend too) the leases last, as last renewed: counted
        # from before the renewal was sent, so never later than the database's.
        self._valid_until = _clock()
        self._lock = threading.Lock()
        self._free_before: set[str] = set()  # links of ours nobody held at the last tick
        self._kept: set[str] = set()  # taken beyond the share: no one else took them
        self._new: list[str] = []  # links added whose lease rows are not written yet

    def holds(self, link: str) -> bool:
        """Is ``link`` this worker's now? False after a lease could not be renewed in time:
        another worker may have taken it over."""
        with self._lock:
            return link in self.held and _clock() < self._valid_until

    def held_now(self) -> set[str]:
        with self._lock:
            return set(self.held)

    def distrust(self) -> None:
        """Hold nothing until the next renewal (the machine was suspended, or its clock
        jumped: the leases may have run out and been taken meanwhile)."""
        with self._lock:
            self._valid_until = 0.0

    def add_links(self, links: Iterable[str]) -> None:
        """Links that can run now (signed in meanwhile): their lease rows are written at the
        next tick."""
        new = [link for link in links if link not in self.links]
        self.links.extend(new)
        self._new.extend(new)

    def take_all(self) -> list[str]:
        """Hold every free link (``once``: no share, no worker row); returns those held."""
        sent = _clock()
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
        sent = _clock()
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
        if self._new:
            self.store.ensure_leases(self._new)
            self._new = []
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
            self._kept &= self.held
            excess = len(self.held - self._kept) - share
        released = self._let_go(excess, idle) if excess > 0 else []
        tick.lost.extend(released)
        holders = self.store.lease_holders(now)
        free = {link for link in self.links if link not in holders} - set(released)
        # Workers that can run different links (their configs differ, or a sign-in opens on
        # some hosts only) cannot share by count alone: a link let go may be one no worker
        # with room can run. Then a link free at two ticks of ours in a row (every live
        # worker ticked between them), not let go by us, is taken beyond the share, and kept.
        uneven = len({w.links_hash for w in live} | {self._links_hash()}) > 1
        orphans = free & self._free_before if uneven else set()
        self._free_before = free
        wanted = max(0, -excess)
        if wanted or orphans:
            dead = dead_here(set(holders.values()), self.worker_id)
            tick.taken = self._take(now, wanted, dead)
            if orphans - set(tick.taken):
                kept = self._take(now, len(orphans), dead, among=orphans)
                with self._lock:
                    self._kept |= set(kept)
                tick.taken += kept
        return tick

    def _let_go(self, excess: int, idle: Callable[[str], bool]) -> list[str]:
        """Release ``excess`` idle links. Each leaves ``held`` before it is judged idle, so a
        run starting meanwhile either finds it gone or is seen under way (and it stays)."""
        with self._lock:
            spare = sorted(self.held - self._kept)[-excess:]
            self.held -= set(spare)
        busy = {link for link in spare if not idle(link)}
        with self._lock:
            self.held |= busy
        spare = [link for link in spare if link not in busy]
        if spare:
            self.store.release_leases(self.worker_id, spare)
        return spare

    def _take(
        self, now: datetime, wanted: int, dead: set[str], among: Collection[str] | None = None
    ) -> list[str]:
        choices = among if among is not None else self.links
        free = [link for link in choices if link not in self.held]
        taken = self.store.take_leases(
            self.worker_id,
            free,
            until=now + self.lease,
            now=now,
            limit=wanted,
            dead=dead,
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
            links_hash=self._links_hash(),
        )

    def _links_hash(self) -> str:
        names = "\n".join(sorted(self.links)).encode("utf-8")
        return hashlib.sha1(names).hexdigest()[:16]


def _clock() -> float:
    """Seconds that go on while the machine is suspended (CLOCK_BOOTTIME on Linux; monotonic
    elsewhere): a lease that ran out during a suspend is not trusted after it."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


@dataclass(frozen=True)
class WorkerStats:
    late: int = 0
    worst: float = 0.0
