"""One link's cycle: deliver what is due (recovering interrupted work), poll, deliver again."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from birdbridge.config import LinkConfig
from birdbridge.engine.budget import XBudget
from birdbridge.engine.deliver import Deliverer, DeliverReport
from birdbridge.engine.media import MediaCarrier
from birdbridge.engine.pauses import pause_for, pauses_side
from birdbridge.engine.poll import PollReport, poll_side
from birdbridge.engine.recheck import RecheckReport, recheck_side
from birdbridge.errors import AccountRefused, BudgetExceeded, NetworkError, RateLimited
from birdbridge.media.addresses import api_hosts
from birdbridge.media.progress import NO_PROGRESS, Progress
from birdbridge.media.workdir import process_workdir
from birdbridge.metrics import DELIVERIES, POLLS
from birdbridge.models import NetworkName
from birdbridge.networks.base import Network
from birdbridge.networks.twitter_spec import TIME_CURSOR
from birdbridge.networks.x_billing import XBilling
from birdbridge.networks.x_prices import PriceTable
from birdbridge.render.capabilities import Capabilities
from birdbridge.store import DatabaseError, LinkState, Store, utcnow
from birdbridge.store.leases import PollMark

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    link: str
    polls: dict[str, PollReport] = field(default_factory=dict)
    rechecks: dict[str, RecheckReport] = field(default_factory=dict)
    delivered: DeliverReport = field(default_factory=DeliverReport)
    errors: list[str] = field(default_factory=list)
    # What waits for a reset by itself (one endpoint's rate limit): said, but not a failure.
    waits: list[str] = field(default_factory=list)
    paused: dict[str, str] = field(default_factory=dict)  # network -> why
    busy: bool = False  # another run of this link was in progress: nothing done
    held_by: str | None = None  # busy because this worker (another process) holds the link
    quiet: list[str] = field(default_factory=list)  # sides not polled: quiet, polled less often

    @property
    def active(self) -> bool:
        """Did anything happen: a new post read on either side, or one mirrored?"""
        return self.delivered.done > 0 or any(
            poll.enqueued or poll.edits for poll in self.polls.values()
        )

    def merge(self, other: DeliverReport) -> None:
        for outcome in ("done", "retried", "failed", "skipped"):
            if getattr(other, outcome):
                DELIVERIES.labels(self.link, outcome).inc(getattr(other, outcome))
        mine = self.delivered
        for name in ("done", "parts", "retried", "failed", "skipped", "waiting", "adopted"):
            setattr(mine, name, getattr(mine, name) + getattr(other, name))
        mine.fallbacks.extend(other.fallbacks)
        self.errors.extend(other.errors)


class LinkEngine:
    """Runs one link. Never two runs of one link at once (``lock``), so a post being published
    is recorded before the same link polls that network again."""

    def __init__(
        self,
        config: LinkConfig,
        store: Store,
        adapters: Mapping[NetworkName, Network],
        *,
        max_attempts: int = 8,
        stop: threading.Event | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        claim_timeout: float = 60,
        progress: Progress = NO_PROGRESS,
        x_prices: Mapping[str, float] | None = None,
        poll_interval: float = 0,
        slowest_poll: float = 0,
        lease_seconds: float = 60,
    ) -> None:
        """``poll_interval`` and ``slowest_poll`` (seconds): a quiet X side is polled every
        ``poll_interval``, twice that after a poll that found nothing, and so on up to
        ``slowest_poll``; activity on either side brings it back at once. 0: every cycle.

        A run (a cycle, a delivery pass) takes the link's lease for ``lease_seconds`` and lets
        it go at its end, so that no other process runs the link meanwhile; unless a worker
        holds the lease for the engine (``held``, set by daemon.py)."""
        self.config = config
        self.store = store
        self.adapters = adapters
        self.stop = stop or threading.Event()
        self.clock = clock
        self.lock = threading.Lock()
        for adapter in adapters.values():
            adapter.meter.clock = clock  # rate-limit resets compared with the engine's clock
        self.budget = self._x_budget(x_prices)
        self.poll_interval = poll_interval
        self.slowest_poll = max(slowest_poll, poll_interval)
        self._x_quiet_polls = 0  # X polls in a row that found nothing (and nothing else moved)
        self._x_due: datetime | None = None  # when the quiet X side is polled next
        # No mirrored X post in the re-check window (found by a look): the X side's re-check
        # has nothing to read until its poll queues a post, so it does not look again (a
        # query per X poll, for thousands of quiet links).
        self._x_window_empty = False
        self.worker_id = worker_id or uuid.uuid4().hex[:16]
        self.lease_seconds = lease_seconds
        # Set by a worker that holds this link's lease (daemon.py): the runs then take no lease
        # of their own, and leave their idle writes (poll times, call counts) to the worker,
        # which writes them for all its links at once (``take_writes``).
        self.held: Callable[[str], bool] | None = None
        self._poll_marks: list[PollMark] = []
        self.deliverer = Deliverer(
            store,
            config.name,
            adapters,
            worker_id=self.worker_id,
            max_attempts=max_attempts,
            stop=self.stop,
            clock=clock,
            claim_timeout=claim_timeout,
            policy=config.policy,
            # Media may come from this link's own API hosts even on a private address (a
            # sandbox, an instance on the LAN): the operator chose them. Others must be public.
            media=MediaCarrier(
                store,
                process_workdir(),
                allowed_hosts=api_hosts(
                    [config.twitter.api_base_url, config.mastodon.api_base_url]
                ),
                progress=progress,  # media transfers, shown by `birdbridge once` on a terminal
            ),
        )
        self.deliverer.budget = self.budget  # asked before each delivery to X

    def _x_budget(self, x_prices: Mapping[str, float] | None) -> XBudget | None:
        """The X side's till, priced with the config's overrides, and the budget it answers to."""
        billing = getattr(self.adapters.get(NetworkName.TWITTER), "billing", None)
        if not isinstance(billing, XBilling):
            return None  # an adapter that does not bill (a test's stand-in)
        billing.prices = PriceTable.with_overrides(x_prices)
        limit = self.config.twitter.monthly_budget_usd
        return XBudget(self.store, self.name, limit, billing, self.clock)

    @property
    def name(self) -> str:
        return self.config.name

    def cycle(self, deliver_first: bool = True) -> CycleReport:
        """Deliver, poll every source side, deliver again. ``deliver_first=False``: the worker
        knows the link has no delivery due (one query for all its links), so the first pass,
        which would find nothing, is left out."""
        return self._locked(lambda report: self._cycle(report, deliver_first))

    def deliver(self) -> CycleReport:
        """Deliver what is due (retries between polls)."""
        return self._locked(self._deliver_only)

    def _locked(self, body: Callable[[CycleReport], None]) -> CycleReport:
        report = CycleReport(link=self.name)
        if not self.lock.acquire(blocking=False):
            report.busy = True
            return report
        try:
            if self.held is not None:
                if self.held(self.name):
                    body(report)
                else:  # the worker lost the lease (taken over while it could not renew it)
                    report.busy = True
                return report
            holder = self._take_lease()
            if holder is not None:
                report.busy, report.held_by = True, holder
                return report
            try:
                body(report)
            finally:
                self._write_now()
                self._release_lease()
        finally:
            self.lock.release()
        return report

    def _take_lease(self) -> str | None:
        """Hold the link for this run; the worker holding it instead, if another does."""
        now = self.store.database_now()  # between processes: not the engine's own clock
        until = now + timedelta(seconds=self.lease_seconds)
        if self.store.take_leases(self.worker_id, [self.name], until=until, now=now):
            return None
        return self.store.lease_holders(now).get(self.name, "another worker")

    def _release_lease(self) -> None:
        try:
            self.store.release_leases(self.worker_id, [self.name])
        except DatabaseError as exc:  # it runs out by itself after lease_seconds
            log.warning("link %s: lease not released: %s", self.name, exc)

    def _cycle(self, report: CycleReport, deliver_first: bool) -> None:
        # Deliver first: work a crash left `publishing` is resolved before we read the
        # target networks again, so our own posts are recognised as ours.
        try:
            states = self.store.link_states(self.name)  # the one read of the link's state
            if self.budget is not None:
                self.budget.keep_pause_in_month(states.get(NetworkName.TWITTER.value))
            delivered_first = False
            if deliver_first:
                first = self.deliverer.run(self._paused(states))
                report.merge(first)
                if delivered_first := _touched(first):
                    states = self.store.link_states(self.name)  # it may have paused a side
            now = self.clock()
            for source, target in self.config.direction.pairs():
                if self.stop.is_set():
                    return
                if source is NetworkName.TWITTER and not self._x_poll_due(now, report):
                    report.quiet.append(source.value)
                    continue
                self._poll_and_recheck(source, target, report, states)
            if report.quiet and report.active:
                # Activity on the other side: the quiet X side is polled at once after all.
                report.quiet.clear()
                for source, target in self.config.direction.pairs():
                    if source is NetworkName.TWITTER:
                        self._poll_and_recheck(source, target, report, states)
            self._after_x_poll(report, now)
            if delivered_first or _queued(report):
                report.merge(self.deliverer.run())
        finally:
            self._after_deliveries(report)
            if self.budget is not None:
                self.budget.flush()  # X charges: stored at once (the budget reads them)

    def _paused(self, states: Mapping[str, LinkState]) -> dict[str, LinkState]:
        """The sides of ``states`` paused now (as ``store.pauses`` reads them)."""
        now = self.clock()
        return {
            network: state
            for network, state in states.items()
            if state.paused_until is not None and state.paused_until > now
        }

    def _poll_and_recheck(
        self,
        source: NetworkName,
        target: NetworkName,
        report: CycleReport,
        states: Mapping[str, LinkState],
    ) -> None:
        self._poll(source, [target], report, states)
        if source.value in report.polls:
            # A side whose poll failed is not re-read now: the same outage would only be met
            # (and logged) again; the re-check waits for the next cycle.
            self._recheck(source, [target], report, states)

    def _x_poll_due(self, now: datetime, report: CycleReport) -> bool:
        """Poll X only as often as it pays: after quiet polls, less often (api calls are
        counted and rate-limited even when X bills an empty page nothing)."""
        if self._x_due is None or report.active:
            return True
        if self._x_due - now > timedelta(seconds=self.slowest_poll):
            return True  # the clock stepped back: never wait longer than the slowest poll
        # A cycle that fires a little early (the scheduler's jitter) still counts as due.
        return now >= self._x_due - timedelta(seconds=self.poll_interval / 4)

    def _after_x_poll(self, report: CycleReport, now: datetime) -> None:
        if NetworkName.TWITTER.value not in report.polls or not self.poll_interval:
            return
        self._x_quiet_polls = 0 if report.active else min(self._x_quiet_polls + 1, 30)
        wait = min(self.poll_interval * 2**self._x_quiet_polls, self.slowest_poll)
        self._x_due = now + timedelta(seconds=wait)

    def _after_deliveries(self, report: CycleReport) -> None:
        """A post mirrored (an X post among them, maybe): the X re-check window may hold one
        now, so the next X poll's re-check looks again."""
        if report.delivered.done:
            self._x_window_empty = False

    def _deliver_only(self, report: CycleReport) -> None:
        try:
            report.merge(self.deliverer.run())
        finally:
            self._after_deliveries(report)
            if self.budget is not None:
                self.budget.flush()

    def take_writes(self) -> tuple[list[PollMark], list[tuple[str, str, datetime, int, int]]]:
        """The idle polls' times and the API call counts since the last call, for the worker
        to write with other links' (``store.write_batch``); ``give_back`` if that fails."""
        marks, self._poll_marks = self._poll_marks, []
        calls: list[tuple[str, str, datetime, int, int]] = []
        for network, adapter in self.adapters.items():
            merged: dict[datetime, list[int]] = {}
            for (hour, limited), number in adapter.meter.drain().items():
                line = merged.setdefault(hour, [0, 0])
                line[0] += number
                line[1] += number if limited else 0
            calls.extend(
                (self.name, network.value, hour, n, limited)
                for hour, (n, limited) in merged.items()
            )
        return marks, calls

    def give_back(self, calls: list[tuple[str, str, datetime, int, int]]) -> None:
        """Keep call counts that could not be written for the next batch (poll times are
        not kept: a later poll's time replaces them anyway)."""
        for _link, network, hour, number, limited in calls:
            meter = self.adapters[NetworkName(network)].meter
            meter.restore({(hour, True): limited, (hour, False): number - limited})

    def _write_now(self) -> None:
        """A run on its own (``once``, a test): its idle writes go out at its end."""
        marks, calls = self.take_writes()
        try:
            self.store.write_batch(marks, calls)
        except DatabaseError as exc:
            # Never mask the run's own error (this runs in a `finally`); keep the counts.
            self.give_back(calls)
            log.warning("link %s: API call counts not saved yet: %s", self.name, exc)

    def _capabilities(self, targets: list[NetworkName]) -> Capabilities | None:
        """The single target's capabilities for the policy, from its adapter's limits (read
        once a day); None (the network's usual ones) when the target cannot tell right now:
        a target that is down must not stop or pause the reading of the source."""
        if len(targets) != 1:
            return None
        try:
            return self.adapters[targets[0]].limits().capabilities
        except NetworkError as exc:
            log.info(
                "link %s: %s limits not read (%s); usual ones assumed",
                self.name,
                targets[0].label,
                exc,
            )
            return None

    def _poll(
        self,
        source: NetworkName,
        targets: list[NetworkName],
        report: CycleReport,
        states: Mapping[str, LinkState],
    ) -> None:
        paused = self._paused(states).get(source.value)
        if paused is not None:
            report.paused[source.value] = paused.paused_reason or paused.paused_kind or "paused"
            POLLS.labels(self.name, source.value, "paused").inc()
            return
        adapter = self.adapters[source]
        try:
            if source is NetworkName.TWITTER and self.budget is not None:
                self.budget.allow_reading()
            capabilities = self._capabilities(targets)
            now = self.clock()
            polled = poll_side(
                self.store,
                self.name,
                adapter,
                targets,
                self.config.policy,
                now=now,
                capabilities=capabilities,
                state=states.get(source.value),
            )
            report.polls[source.value] = polled
            if polled.enqueued or polled.edits:
                self._x_window_empty = False
            if polled.idle:
                self._poll_marks.append(PollMark(self.name, source.value, now))
            POLLS.labels(self.name, source.value, "ok").inc()
        except (RateLimited, AccountRefused) as exc:
            POLLS.labels(self.name, source.value, "rate_limited_or_refused").inc()
            if isinstance(exc, BudgetExceeded) and source is NetworkName.TWITTER:
                # A link whose very first X poll the budget stops still starts now: its posts
                # from here on wait for the next month, they are not skipped as "older".
                start = TIME_CURSOR + self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
                self.store.start_from(self.name, source.value, start)
            if pauses_side(exc):
                reason = pause_for(self.store, self.name, source, exc, self.clock())
                report.paused[source.value] = reason
            else:  # one endpoint's limit (reading): the next poll waits for its reset
                reason = str(exc)
                report.waits.append(reason)
            self._poll_failed(source, reason, report, passes=not pauses_side(exc))
        except NetworkError as exc:
            POLLS.labels(self.name, source.value, "error").inc()
            self._poll_failed(source, str(exc), report)

    def _recheck(
        self,
        source: NetworkName,
        targets: list[NetworkName],
        report: CycleReport,
        states: Mapping[str, LinkState],
    ) -> None:
        """Find edits and deletions (when due). A failure only delays them to the next cycle:
        the posts stay in the window and nothing is lost."""
        if source.value in report.paused or source.value in self._paused(states):
            return
        x_side = source is NetworkName.TWITTER
        if x_side and self._x_window_empty:
            return
        try:
            if source is NetworkName.TWITTER and self.budget is not None:
                self.budget.allow_reading()
            report.rechecks[source.value] = recheck_side(
                self.store,
                self.name,
                self.adapters[source],
                targets,
                self.config.policy,
                self.config.direction,
                self.clock(),
                state=states.get(source.value),
            )
            if x_side:
                self._x_window_empty = report.rechecks[source.value].in_window == 0
        except AccountRefused:
            return  # the budget: the X side is paused by the next poll, before any read
        except NetworkError as exc:
            log.warning(
                "link %s: re-checking %s for edits and deletions failed: %s (tried again "
                "next cycle)",
                self.name,
                source.label,
                exc,
            )

    def _poll_failed(
        self, source: NetworkName, message: str, report: CycleReport, passes: bool = False
    ) -> None:
        """Record and log a failed poll; ``passes``: it waits for a reset by itself, so it is
        not one of the report's errors (``once`` exits 0 for it)."""
        if not passes:
            report.errors.append(message)
        self.store.record_poll_error(self.name, source.value, message, now=self.clock())
        log.warning("link %s: polling %s failed: %s", self.name, source.label, message)


def _touched(report: DeliverReport) -> bool:
    """Did a delivery pass do anything (so the link's state may have changed)?"""
    counts = (report.done, report.retried, report.failed, report.skipped, report.waiting)
    return any(counts) or bool(report.adopted or report.errors)


def _queued(report: CycleReport) -> bool:
    """Did the polls or re-checks of a cycle queue anything to deliver?"""
    return any(poll.enqueued or poll.edits for poll in report.polls.values()) or any(
        check.deleted or check.edited for check in report.rechecks.values()
    )
