"""Lifecycle: config -> store -> adapters -> engines -> scheduler; SIGTERM/SIGINT drain."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from birdbridge.clockwatch import ClockWatch
from birdbridge.config import Config, LinkConfig
from birdbridge.engine import CycleReport, LinkEngine
from birdbridge.engine.pauses import START_LIFTS
from birdbridge.errors import ConfigError
from birdbridge.health import OpsServer
from birdbridge.media.progress import NO_PROGRESS, Progress
from birdbridge.models import NetworkName
from birdbridge.networks.base import Network
from birdbridge.networks.factory import build_adapters
from birdbridge.networks.signins import SignIns
from birdbridge.store import DatabaseError, Store

log = logging.getLogger(__name__)
SHUTDOWN_GRACE = 8.0  # seconds; containers send SIGKILL 10 s after SIGTERM by default
STALLED_INTERVALS = 3  # /healthz: a link without a completed cycle for this many intervals
STALLED_MINIMUM = 300.0  # seconds, whatever the interval


class Bridge:
    """Every link of one config, on one store."""

    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        adapter_factory: Callable[..., dict[NetworkName, Network]] = build_adapters,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.config = config
        self.store = store or Store.open(config.bridge.database_url)
        self.stop = threading.Event()
        self._started = time.monotonic()
        self._completed: dict[str, float] = {}  # link -> when its last cycle completed
        self._mirrored = 0  # deliveries done since the last "alive" line
        self._counting = threading.Lock()  # the jobs run on the scheduler's threads
        # Unique per process: a restarted daemon must not think a dead one's claims are its own.
        self._worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._adapter_factory = adapter_factory
        self._progress = progress
        self.signins = SignIns(self.store, config.bridge.database_url)
        self._running = False  # run_forever has started (it logs what waits)
        # Links that cannot run yet (no sign-in, a key that does not open it), with the reason:
        # the others run, and these are tried again every poll interval (a `birdbridge login`
        # meanwhile starts them without a restart).
        self.waiting: dict[str, str] = {}
        self.engines: list[LinkEngine] = []
        for link in config.links:
            self._start_link(link)

    def _start_link(self, link: LinkConfig) -> LinkEngine | None:
        try:
            adapters = self._adapter_factory(link, self.config.bridge.request_timeout, self.signins)
        except ConfigError as exc:  # NotSignedIn, SecretKeyError
            # Said by `once` and `check` themselves; `run` logs it (once per new reason).
            if self._running and self.waiting.get(link.name) != str(exc):
                log.error("%s; the link waits, the others run", exc)
            self.waiting[link.name] = str(exc)
            return None
        self.waiting.pop(link.name, None)
        engine = LinkEngine(
            link,
            self.store,
            adapters,
            max_attempts=self.config.bridge.max_attempts,
            stop=self.stop,
            worker_id=self._worker,
            claim_timeout=self.config.bridge.claim_timeout,
            progress=self._progress,
            x_prices=self.config.bridge.x_prices,
            poll_interval=self.config.bridge.poll_interval,
            slowest_poll=self.config.bridge.slowest_poll,
        )
        self.engines.append(engine)
        return engine

    def require_runnable(self) -> None:
        """ConfigError when no link can run at all (nothing would ever happen)."""
        if not self.engines and self.waiting:
            raise ConfigError("no link can run: " + "; ".join(self.waiting.values()))

    def run_once(self) -> list[CycleReport]:
        """One poll and delivery of every link (``birdbridge once``)."""
        return [engine.cycle() for engine in self.engines]

    def run_forever(self, install_signals: bool = True) -> None:
        """The daemon: poll each link every ``poll_interval`` (with jitter), deliver retries
        every ``deliver_interval``, until SIGTERM/SIGINT."""
        if install_signals:
            self._install_signal_handlers()
        interval = self.config.bridge.poll_interval
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": ThreadPoolExecutor(max_workers=min(8, max(2, 2 * len(self.engines))))
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        start = datetime.now(UTC)
        self._started = time.monotonic()
        for index, engine in enumerate(self.engines):
            # Spread the links' first polls over the interval instead of all at once.
            first = start + timedelta(seconds=(interval * index / len(self.engines)) % interval)
            self._schedule(scheduler, engine, first)
        self._running = True
        for reason in self.waiting.values():
            log.error(
                "%s; the link waits (tried again every poll interval), the others run", reason
            )
        if self.waiting:
            scheduler.add_job(
                lambda: self._start_waiting(scheduler),
                "interval",
                seconds=interval,
                id="waiting-links",
            )
        scheduler.add_job(
            self._log_alive,
            "interval",
            seconds=self.config.bridge.summary_interval,
            id="alive",
        )
        # A new process may run with fixed credentials, permissions, credits or a raised X
        # budget: retry at once.
        if lifted := self.store.resume(kinds=START_LIFTS):
            log.info("lifted %d pause(s) for refused requests: trying again", lifted)
        scheduler.start()
        ops = self._start_ops_server(scheduler)
        log.info("birdbridge running: %d link(s), polling every %ss", len(self.engines), interval)
        watch = ClockWatch()
        try:
            while not self.stop.wait(timeout=1.0):
                if jump := watch.tick():
                    self._after_clock_jump(scheduler, jump)
        finally:
            if ops is not None:
                ops.stop()
            log.info("stopping: finishing the publish in flight")
            shutdown = threading.Thread(
                target=scheduler.shutdown, kwargs={"wait": True}, daemon=True
            )
            shutdown.start()
            shutdown.join(SHUTDOWN_GRACE)
            self.store.close()
            log.info("stopped")

    def _schedule(
        self, scheduler: BackgroundScheduler, engine: LinkEngine, first: datetime
    ) -> None:
        interval = self.config.bridge.poll_interval
        scheduler.add_job(
            self._guarded(engine.cycle, cycle=True),
            "interval",
            seconds=interval,
            jitter=min(interval / 10, 30),
            next_run_time=first,
            id=f"poll:{engine.name}",
        )
        scheduler.add_job(
            self._guarded(engine.deliver),
            "interval",
            seconds=self.config.bridge.deliver_interval,
            id=f"deliver:{engine.name}",
        )

    def _start_waiting(self, scheduler: BackgroundScheduler) -> None:
        """Try the links that were waiting for a sign-in again."""
        for link in self.config.links:
            if link.name not in self.waiting or self.stop.is_set():
                continue
            engine = self._start_link(link)
            if engine is not None:
                log.info("link %s: signed in; starting it", link.name)
                self._completed[link.name] = time.monotonic()
                self._schedule(scheduler, engine, datetime.now(UTC))

    def _start_ops_server(self, scheduler: BackgroundScheduler) -> OpsServer | None:
        port = self.config.bridge.http_port
        if port is None:
            return None
        try:
            server = OpsServer(
                port,
                self.store,
                lambda: bool(scheduler.running),
                stalled=self.stalled,
                host=self.config.bridge.http_host or "127.0.0.1",
                links=[engine.name for engine in self.engines],
                budgets={link.name: link.twitter.monthly_budget_usd for link in self.config.links},
            ).start()
        except OSError as exc:
            log.error("cannot serve /healthz and /metrics on port %s: %s", port, exc)
            return None
        log.info(
            "serving /healthz and /metrics on %s port %s",
            self.config.bridge.http_host or "127.0.0.1",
            server.port,
        )
        return server

    def _after_clock_jump(self, scheduler: BackgroundScheduler, jump: float) -> None:
        """Run every job now: after a step back, wall-clock schedules would wait the jump out;
        after a suspend, the links are overdue anyway."""
        log.warning(
            "the wall clock jumped by %+.0f s (suspend or time step): running every link now", jump
        )
        now = datetime.now(UTC)
        for job in scheduler.get_jobs():
            job.modify(next_run_time=now)

    def _guarded(self, job: Callable[[], CycleReport], cycle: bool = False) -> Callable[[], None]:
        def run() -> None:
            if self.stop.is_set():
                return
            try:
                report = job()
            except Exception:  # the daemon outlives any one cycle's surprise
                log.exception("unexpected error in a link cycle; the next cycle will retry")
                return
            if cycle and not report.busy:
                self._completed[report.link] = time.monotonic()
            with self._counting:
                self._mirrored += report.delivered.done
            # report.errors are not logged again here: the engine logged each one where it
            # happened, with its context (one failure, one line).

        return run

    def _log_alive(self) -> None:
        """The summary line of an idle or busy daemon: every ``[bridge] summary_interval``."""
        with self._counting:
            mirrored, self._mirrored = self._mirrored, 0
        try:
            stats = self.store.queue_stats()
        except DatabaseError as exc:
            log.warning("alive, but the database did not answer: %s", exc)
            return
        names = [engine.name for engine in self.engines]
        waiting = sum(stats.get(name, (0, None, 0))[0] for name in names)
        failed = sum(stats.get(name, (0, None, 0))[2] for name in names)
        # The event is a fixed word and the figures are fields (log drains filter on them);
        # ExtraAdder in logs.py puts `extra` into the line.
        log.info(
            "alive",
            extra={
                "links": len(names),
                "mirrored": mirrored,
                "waiting": waiting,
                "failed": failed,
                "seconds": self.config.bridge.summary_interval,
            },
        )

    def stalled(self) -> bool:
        """Has any link gone several poll intervals without completing a cycle (a cycle that
        fails every time, a wedged call)? /healthz turns 503 then, naming no link."""
        limit = max(STALLED_INTERVALS * self.config.bridge.poll_interval, STALLED_MINIMUM)
        now = time.monotonic()
        return any(
            now - self._completed.get(engine.name, self._started) > limit for engine in self.engines
        )

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
