"""Lifecycle: config -> store -> adapters -> engines -> scheduler; SIGTERM/SIGINT drain."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

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
from birdbridge.worker.holdings import Holdings, WorkerStats, new_worker_id
from birdbridge.worker.metrics import PollCollector
from birdbridge.worker.periodic import Periodic
from birdbridge.worker.scheduler import PollScheduler, Run

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
        self.store = store or Store.open(
            config.bridge.database_url, connections=config.bridge.poll_threads + 3
        )
        self.stop = threading.Event()
        self._started = time.monotonic()
        self._completed: dict[str, float] = {}  # link -> when its last cycle completed
        self._mirrored = 0  # deliveries done since the last "alive" line
        self._counting = threading.Lock()  # the jobs run on the scheduler's threads
        # Unique per process: a restarted daemon must not think a dead one's claims are its own.
        self._worker = new_worker_id()
        self._adapter_factory = adapter_factory
        self._progress = progress
        self.signins = SignIns(self.store, config.bridge.database_url)
        self._running = False  # run_forever has started (it logs what waits)
        # Links that cannot run yet (no sign-in, a key that does not open it), with the reason:
        # the others run, and these are tried again every poll interval (a `birdbridge login`
        # meanwhile starts them without a restart).
        self.waiting: dict[str, str] = {}
        self.engines: list[LinkEngine] = []
        self._by_name: dict[str, LinkEngine] = {}
        self.holdings: Holdings | None = None  # run_forever's leases on the links
        self._ticking = threading.Lock()  # one tick at a time (a clock jump runs one too)
        self.poller: PollScheduler | None = None
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
            lease_seconds=self.config.bridge.lease_seconds,
        )
        self.engines.append(engine)
        self._by_name[link.name] = engine
        return engine

    def require_runnable(self) -> None:
        """ConfigError when no link can run at all (nothing would ever happen)."""
        if not self.engines and self.waiting:
            raise ConfigError("no link can run: " + "; ".join(self.waiting.values()))

    def run_once(self) -> list[CycleReport]:
        """One poll and delivery of every link (``birdbridge once``). A link that a running
        worker holds is left to it (its report says which worker: ``held_by``)."""
        lease = self.config.bridge.lease_seconds
        holdings = Holdings(self.store, self._worker, [e.name for e in self.engines], lease)
        taken = set(holdings.take_all())
        renewing = threading.Event()
        renewer = threading.Thread(
            target=self._renew_until, args=(holdings, renewing), name="leases", daemon=True
        )
        renewer.start()
        reports = []
        try:
            for engine in self.engines:
                if engine.name not in taken:
                    reports.append(self._held_elsewhere(engine, holdings))
                    continue
                engine.held = holdings.holds
                try:
                    reports.append(engine.cycle())
                finally:
                    engine.held = None
        finally:
            renewing.set()
            self._write_batch()
            holdings.release_all()
        return reports

    def _held_elsewhere(self, engine: LinkEngine, holdings: Holdings) -> CycleReport:
        holder = holdings.holder(engine.name) or "another worker"
        log.info("link %s: skipped: %s runs it (a `birdbridge run`)", engine.name, holder)
        return CycleReport(link=engine.name, busy=True, held_by=holder)

    def _renew_until(self, holdings: Holdings, done: threading.Event) -> None:
        """Keep a long ``once`` run's leases (a big upload may outlast one)."""
        period = self.config.bridge.lease_seconds / 3
        while not done.wait(period):
            try:
                holdings.renew()
            except DatabaseError as exc:
                log.warning("leases not renewed: %s", exc)

    def run_forever(self, install_signals: bool = True) -> None:
        """The daemon: hold this worker's share of the links (store/leases.py), poll each
        every ``poll_interval`` and deliver what is due, until SIGTERM/SIGINT."""
        if install_signals:
            self._install_signal_handlers()
        bridge = self.config.bridge
        self._started = time.monotonic()
        self.holdings = Holdings(
            self.store,
            self._worker,
            [engine.name for engine in self.engines],
            bridge.lease_seconds,
            interval=bridge.poll_interval,
        )
        self.store.ensure_leases(self.holdings.links)
        for engine in self.engines:
            engine.held = self.holdings.holds
        self.poller = PollScheduler(bridge.poll_interval, bridge.poll_threads, self._run_link)
        # A new process may run with fixed credentials, permissions, credits or a raised X
        # budget: retry at once.
        if lifted := self.store.resume(kinds=START_LIFTS):
            log.info("lifted %d pause(s) for refused requests: trying again", lifted)
        self._tick()
        self.poller.start()
        housekeeping = self._housekeeping()
        housekeeping.start()
        self._running = True
        for reason in self.waiting.values():
            log.error(
                "%s; the link waits (tried again every poll interval), the others run", reason
            )
        ops = self._start_ops_server(housekeeping)
        log.info(
            "birdbridge running: %d link(s), polling every %ss (worker %s)",
            len(self.engines),
            bridge.poll_interval,
            self._worker,
        )
        watch = ClockWatch()
        try:
            while not self.stop.wait(timeout=1.0):
                if jump := watch.tick():
                    self._after_clock_jump(jump)
        finally:
            if ops is not None:
                ops.stop()
            log.info("stopping: finishing the publish in flight")
            housekeeping.stop(timeout=2.0)  # a tick under way ends before the leases go
            self.poller.stop(SHUTDOWN_GRACE)
            with self._ticking:  # a tick under way ends before the leases go
                self._write_batch()
                self.holdings.release_all()  # the other workers take the links over at once
            self.store.close()
            log.info("stopped")

    def _housekeeping(self) -> Periodic:
        """The worker's few periodic jobs (the links' polls are the PollScheduler's)."""
        bridge = self.config.bridge
        jobs = Periodic()
        jobs.every(bridge.lease_seconds / 3, self._tick, "leases")
        jobs.every(bridge.deliver_interval, self._deliveries, "deliveries")
        jobs.every(bridge.summary_interval, self._log_alive, "alive")
        if self.waiting:
            jobs.every(bridge.poll_interval, self._start_waiting, "waiting links")
        return jobs

    def _run_link(self, link: str, kind: Run, deliver_first: bool) -> None:
        """One run of a held link, on one of the scheduler's threads."""
        engine = self._by_name.get(link)
        if engine is None or self.stop.is_set():
            return
        try:
            if kind is Run.POLL:
                report = engine.cycle(deliver_first=deliver_first)
            else:
                report = engine.deliver()
        except Exception:  # the daemon outlives any one cycle's surprise
            log.exception("unexpected error in a link cycle; the next cycle will retry")
            return
        if kind is Run.POLL and not report.busy:
            self._completed[report.link] = time.monotonic()
        with self._counting:
            self._mirrored += report.delivered.done
        # report.errors are not logged again here: the engine logged each one where it
        # happened, with its context (one failure, one line).

    def _tick(self) -> None:
        """Every third of lease_seconds: write the idle polls' batch, say this worker is
        alive, renew its leases and even out the links between the workers; then the
        scheduler polls exactly the links held, whatever a failed tick left half done."""
        assert self.holdings is not None and self.poller is not None
        poller = self.poller
        with self._ticking:
            self._write_batch()
            lateness = poller.lateness()
            try:
                tick = self.holdings.tick(
                    WorkerStats(lateness.late, lateness.worst),
                    idle=lambda link: not poller.busy(link),
                )
            except DatabaseError as exc:
                # Not renewed: the links stop here once the leases' time is up
                # (Holdings.holds), so that no other worker runs them at the same time.
                log.warning("leases not renewed (tried again in %gs): %s", self._tick_period, exc)
            else:
                if tick.taken or tick.lost:
                    log.info(
                        "holding %d link(s): took %d, let go of %d",
                        len(self.holdings.held),
                        len(tick.taken),
                        len(tick.lost),
                    )
            finally:
                self._reconcile()

    def _reconcile(self) -> None:
        assert self.holdings is not None and self.poller is not None
        held, scheduled = self.holdings.held_now(), self.poller.links()
        for link in scheduled - held:
            self.poller.remove(link)
        missing = sorted(held - scheduled)
        if missing:
            try:
                last_polls = self.store.last_polls(missing)
            except DatabaseError:
                last_polls = {}  # polled as links never polled: spread over an interval
            self._schedule(missing, last_polls)

    @property
    def _tick_period(self) -> float:
        return self.config.bridge.lease_seconds / 3

    def _schedule(self, links: list[str], last_polls: dict[str, datetime]) -> None:
        """Poll links just taken: one interval after their last poll (a link taken over keeps
        its rhythm), or, when that is past or there was none, spread over the first interval
        instead of all at once (the only jitter)."""
        assert self.poller is not None
        interval = self.config.bridge.poll_interval
        now, wall = time.monotonic(), datetime.now(UTC)
        overdue = []
        for link in links:
            self._completed[link] = now
            last = last_polls.get(link)
            wait = (last + timedelta(seconds=interval) - wall).total_seconds() if last else -1
            if 0 <= wait <= interval:
                self.poller.add(link, now + wait)
            else:
                overdue.append(link)
        for index, link in enumerate(overdue):
            self.poller.add(link, now + interval * index / len(overdue))

    def _deliveries(self) -> None:
        """Every deliver_interval: one query for every link with deliveries due."""
        assert self.holdings is not None and self.poller is not None
        try:
            due = self.store.links_with_due_deliveries(datetime.now(UTC))
        except DatabaseError as exc:
            log.warning("due deliveries not read (tried again): %s", exc)
            return
        self.poller.deliveries_due(due & self.holdings.held)

    def _write_batch(self) -> None:
        """The idle polls' times and the call counts of every link, in one transaction."""
        taken = [(engine, *engine.take_writes()) for engine in self.engines]
        marks = [mark for _, batch, _ in taken for mark in batch]
        calls = [line for _, _, lines in taken for line in lines]
        try:
            self.store.write_batch(marks, calls)
        except DatabaseError as exc:
            for engine, _, lines in taken:
                engine.give_back(lines)
            log.warning("poll times and API call counts not saved yet: %s", exc)

    def _start_waiting(self) -> None:
        """Try the links that were waiting for a sign-in again."""
        for link in self.config.links:
            if link.name not in self.waiting or self.stop.is_set():
                continue
            engine = self._start_link(link)
            if engine is not None:
                log.info("link %s: signed in; starting it", link.name)
                if self.holdings is not None:
                    engine.held = self.holdings.holds
                    self.holdings.add_links([link.name])  # taken at the next tick

    def _start_ops_server(self, jobs: Periodic) -> OpsServer | None:
        assert self.poller is not None
        port = self.config.bridge.http_port
        if port is None:
            return None
        try:
            server = OpsServer(
                port,
                self.store,
                lambda: jobs.running,
                stalled=self.stalled,
                host=self.config.bridge.http_host or "127.0.0.1",
                links=[engine.name for engine in self.engines],
                budgets={link.name: link.twitter.monthly_budget_usd for link in self.config.links},
                collectors=[PollCollector(self.poller)],
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

    def _after_clock_jump(self, jump: float) -> None:
        """After a suspend (or a step of the clock) the leases may have run out and been taken:
        none is trusted until renewed, at once; then every link held is polled now."""
        log.warning(
            "the wall clock jumped by %+.0f s (suspend or time step): renewing the leases and "
            "running every link now",
            jump,
        )
        if self.holdings is None or self.poller is None:
            return
        self.holdings.distrust()
        self._tick()
        self.poller.all_due_now()

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
        names = {engine.name for engine in self.engines}
        held = self.poller.links() if self.poller is not None else names
        return any(now - self._completed.get(link, self._started) > limit for link in held)

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
