"""One scheduler for all the links of a worker: a heap of due times and a fixed pool of
threads, instead of a timer job per link.

Each link is polled every ``interval``: the next poll is due one interval after the previous
one was *due* (not after it ended), so a slow poll does not make a link drift. A poll that
could not start before its next one was due is not run twice in a row: the slots it missed
are counted (``missed``) and the link keeps its phase. Polls that start more than half an
interval late are counted and logged (at most once a minute), with the worst delay: that is
what "falling behind" means, and what `birdbridge status` and /metrics show.

A link's delivery pass between polls (a retry that is due) goes through the same threads, as
soon as one is free: the caller says which links have deliveries due (one query for all)."""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger(__name__)

LATE_WINDOW = 60.0  # seconds over which late polls are counted and reported
WARN_EVERY = 60.0  # seconds between two "falling behind" warnings


class Run(Enum):
    POLL = "poll"  # a cycle: deliver (when due), poll, deliver what it found
    DELIVER = "deliver"  # a delivery pass only


@dataclass(frozen=True)
class Lateness:
    """How the polls kept up over the last ``LATE_WINDOW`` seconds."""

    late: int  # polls that started more than half an interval after they were due
    worst: float  # seconds: the latest start after its due time (0: none late)
    missed: int  # polls left out since the start: their link was still busy, or too late


class PollScheduler:
    """Runs ``run(link, Run, deliver_first)`` for each link it is given, every ``interval``
    seconds, on ``threads`` threads. ``clock`` is monotonic (seconds)."""

    def __init__(
        self,
        interval: float,
        threads: int,
        run: Callable[[str, Run, bool], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._run = run
        self._clock = clock
        self._heap: list[tuple[float, int, str, Run]] = []
        self._order = itertools.count()  # ties in due time: first come, first run
        self._due: dict[str, float] = {}  # link -> when its next poll is due
        self._busy: dict[str, Run] = {}  # links with a run under way, and which
        self._anchor: dict[str, float] = {}  # a poll put off behind a delivery pass: its slot
        self._deliveries_due: set[str] = set()  # from the latest query of the outbox
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Semaphore(threads)  # threads free to take a run
        self._work: queue.SimpleQueue[tuple[str, Run, float] | None] = queue.SimpleQueue()
        self._started: dict[str, float] = {}  # link -> when its latest poll started
        self._late: deque[tuple[float, float]] = deque()  # (when, how late) in the window
        self._missed = 0
        self._warned = -WARN_EVERY
        self._threads = [
            threading.Thread(target=self._serve, name=f"poll-{n}", daemon=True)
            for n in range(threads)
        ]
        self._dispatcher = threading.Thread(target=self._dispatch, name="scheduler", daemon=True)

    # -- what the worker tells it ---------------------------------------------------------------
    def add(self, link: str, due: float) -> None:
        """Poll ``link`` at ``due`` (this clock), then every interval."""
        with self._lock:
            self._due[link] = due
            self._anchor.pop(link, None)
            heapq.heappush(self._heap, (due, next(self._order), link, Run.POLL))
        self._wake.set()

    def remove(self, link: str) -> None:
        """Poll ``link`` no more (a run under way ends as it would)."""
        with self._lock:
            self._due.pop(link, None)
            self._started.pop(link, None)
            self._anchor.pop(link, None)

    def wake(self) -> None:
        """Look at the due times again now (after a test's clock moved)."""
        self._wake.set()

    def links(self) -> set[str]:
        with self._lock:
            return set(self._due)

    def busy(self, link: str) -> bool:
        with self._lock:
            return link in self._busy

    def all_due_now(self) -> None:
        """Every link due at once (after the wall clock jumped: suspend, or a time step)."""
        now = self._clock()
        with self._lock:
            links = list(self._due)
        for link in links:
            self.add(link, now)

    def deliveries_due(self, links: Iterable[str]) -> None:
        """These links have deliveries due: a delivery pass for each (unless a run of it is
        under way), and their next poll starts with one."""
        now = self._clock()
        with self._lock:
            self._deliveries_due = set(links) & set(self._due)
            for link in self._deliveries_due - set(self._busy):
                heapq.heappush(self._heap, (now, next(self._order), link, Run.DELIVER))
        self._wake.set()

    # -- what it says ---------------------------------------------------------------------------
    def seconds_since_poll(self) -> dict[str, float]:
        """For each link held: seconds since its latest poll started (since it was taken,
        when none yet)."""
        now = self._clock()
        with self._lock:
            return {link: now - self._started.get(link, now) for link in self._due}

    def lateness(self) -> Lateness:
        now = self._clock()
        with self._lock:
            while self._late and self._late[0][0] < now - LATE_WINDOW:
                self._late.popleft()
            worst = max((late for _, late in self._late), default=0.0)
            return Lateness(len(self._late), worst, self._missed)

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self._dispatcher.start()

    def stop(self, timeout: float) -> None:
        """Start nothing more; wait up to ``timeout`` s for the runs under way."""
        self._stop.set()
        self._wake.set()
        for _ in self._threads:
            self._work.put(None)
        deadline = self._clock() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - self._clock()))

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            # A free thread first: the runs that wait stay in the heap, in due order (a queue
            # of thousands of runs would make every one of them late).
            if not self._idle.acquire(timeout=0.5):
                continue
            taken = self._next_run()
            if taken is None:
                self._idle.release()
                continue
            self._work.put(taken)

    def _next_run(self) -> tuple[str, Run, float] | None:
        """The next run due, once it is due (None: woken, or stopping)."""
        self._wake.clear()  # before looking: a link added meanwhile wakes the wait below
        with self._lock:
            wait = self._pop_due()
            if isinstance(wait, tuple):
                return wait
        self._wake.wait(timeout=min(wait, 1.0))
        return None

    def _pop_due(self) -> tuple[str, Run, float] | float:
        """Under the lock: a due run, or how long to wait for one."""
        while self._heap:
            due, _, link, kind = self._heap[0]
            if kind is Run.POLL and self._due.get(link) != due:
                heapq.heappop(self._heap)  # replaced (taken again, or due at once) or removed
                continue
            if kind is Run.DELIVER and (link not in self._due or link in self._busy):
                heapq.heappop(self._heap)  # the run under way delivers too
                continue
            now = self._clock()
            if due > now:
                return due - now
            heapq.heappop(self._heap)
            if kind is Run.POLL:
                if self._busy.get(link) is Run.DELIVER:
                    # A delivery pass is short: the poll follows it, in its own slot.
                    self._anchor.setdefault(link, due)
                    self._due[link] = now + 0.2
                    heapq.heappush(self._heap, (now + 0.2, next(self._order), link, Run.POLL))
                    continue
                due = self._anchor.pop(link, due)
                if link in self._busy:
                    # Still at its previous poll: this slot is left out (the next one, if it
                    # is already due too, comes round this loop again).
                    self._missed += 1
                    self._due[link] = due + self.interval
                    heapq.heappush(self._heap, (due + self.interval, next(self._order), link, kind))
                    continue
                self._schedule_next(link, due, now)
            self._busy[link] = kind
            return link, kind, due
        return 1.0

    def _schedule_next(self, link: str, due: float, now: float) -> None:
        """The next poll one interval after this one was due; slots already past are left
        out (counted), so that a late link does not poll twice in a row."""
        following = due + self.interval
        if following <= now:
            skipped = int((now - due) // self.interval)
            self._missed += skipped
            following = due + (skipped + 1) * self.interval
        # A poll that starts late is followed by the next one no sooner than half an interval
        # later (its rhythm shifts by that much): two polls back to back would only read the
        # same timeline twice while others wait.
        following = max(following, now + self.interval / 2)
        self._due[link] = following
        heapq.heappush(self._heap, (following, next(self._order), link, Run.POLL))

    def _serve(self) -> None:
        while (taken := self._work.get()) is not None:
            link, kind, due = taken
            try:
                if kind is Run.POLL:
                    self._note_start(link, due)
                with self._lock:
                    deliver_first = link in self._deliveries_due
                    self._deliveries_due.discard(link)
                self._run(link, kind, deliver_first or kind is Run.DELIVER)
            except Exception:  # the worker outlives any one run's surprise
                log.exception("unexpected error in a run of link %s; the next run retries", link)
            finally:
                with self._lock:
                    self._busy.pop(link, None)
                self._idle.release()
                self._wake.set()

    def _note_start(self, link: str, due: float) -> None:
        now = self._clock()
        late = now - due
        with self._lock:
            self._started[link] = now
            if late > self.interval / 2:
                self._late.append((now, late))
        if late > self.interval / 2 and now - self._warned >= WARN_EVERY:
            self._warned = now
            lateness = self.lateness()
            log.warning(
                "polls are falling behind: %d poll(s) in the last minute started more than "
                "half an interval late (up to %.0f s; interval %g s); raise [bridge] "
                "poll_threads, add workers or raise poll_interval",
                lateness.late,
                lateness.worst,
                self.interval,
            )
