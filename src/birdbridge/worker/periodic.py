"""A worker's few periodic jobs (renewing leases, finding due deliveries, the "alive" line,
links waiting for a sign-in), one after the other on one thread of their own.

The links' polls are PollScheduler's (scheduler.py); what is left is a handful of jobs that
each take milliseconds, so a timer loop does it (a job library would cost an idle daemon more
memory than the jobs themselves). Times are monotonic: a step of the wall clock moves nothing;
a job that could not run on time runs once, not once per period missed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Job:
    name: str
    period: float
    run: Callable[[], None]
    due: float


class Periodic:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._jobs: list[_Job] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="periodic", daemon=True)

    def every(self, seconds: float, job: Callable[[], None], name: str) -> None:
        """Run ``job`` every ``seconds``, the first time one period from now."""
        self._jobs.append(_Job(name, seconds, job, self._clock() + seconds))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Start no more jobs; wait up to ``timeout`` s for the one under way."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while self._jobs and not self._stop.is_set():
            job = min(self._jobs, key=lambda j: j.due)
            if self._stop.wait(max(0.0, job.due - self._clock())):
                return
            try:
                job.run()
            except Exception:  # the worker outlives any one job's surprise
                log.exception("unexpected error in the periodic job %r; run again later", job.name)
            now = self._clock()
            job.due += job.period
            if job.due <= now:
                job.due = now + job.period  # late: once, then on its period from now
