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
from birdbridge.store import DatabaseError, Store, utcnow

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
    ) -> None:
        """``poll_interval`` and ``slowest_poll`` (seconds): a quiet X side is polled every
        ``poll_interval``, twice that after a poll that found nothing, and so on up to
        ``slowest_poll``; activity on either side brings it back at once. 0: every cycle."""
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
        self.deliverer = Deliverer(
            store,
            config.name,
            adapters,
            worker_id=worker_id or uuid.uuid4().hex[:16],
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

    def cycle(self) -> CycleReport:
        """Deliver, poll every source side, deliver again."""
        return self._locked(self._cycle)

    def deliver(self) -> CycleReport:
        """Deliver what is due (retries between polls)."""
        return self._locked(self._deliver_only)

    def _locked(self, body: Callable[[CycleReport], None]) -> CycleReport:
        report = CycleReport(link=self.name)
        if not self.lock.acquire(blocking=False):
            report.busy = True
            return report
        try:
            body(report)
        finally:
            self.lock.release()
        return report

    def _cycle(self, report: CycleReport) -> None:
        # Deliver first: work a crash left `publishing` is resolved before we read the
        # target networks again, so our own posts are recognised as ours.
        try:
            if self.budget is not None:
                self.budget.keep_pause_in_month()
            report.merge(self.deliverer.run())
            now = self.clock()
            for source, target in self.config.direction.pairs():
                if self.stop.is_set():
                    return
                if source is NetworkName.TWITTER and not self._x_poll_due(now, report):
                    report.quiet.append(source.value)
                    continue
                self._poll_and_recheck(source, target, report)
            if report.quiet and report.active:
                # Activity on the other side: the quiet X side is polled at once after all.
                report.quiet.clear()
                for source, target in self.config.direction.pairs():
                    if source is NetworkName.TWITTER:
                        self._poll_and_recheck(source, target, report)
            self._after_x_poll(report, now)
            report.merge(self.deliverer.run())
        finally:
            self._flush_api_calls()

    def _poll_and_recheck(
        self, source: NetworkName, target: NetworkName, report: CycleReport
    ) -> None:
        self._poll(source, [target], report)
        if source.value in report.polls:
            # A side whose poll failed is not re-read now: the same outage would only be met
            # (and logged) again; the re-check waits for the next cycle.
            self._recheck(source, [target], report)

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

    def _deliver_only(self, report: CycleReport) -> None:
        try:
            report.merge(self.deliverer.run())
        finally:
            self._flush_api_calls()

    def _flush_api_calls(self) -> None:
        """Persist the API calls counted since the last flush (`birdbridge status` shows them),
        and what X bills for them."""
        if self.budget is not None:
            self.budget.flush()
        for network, adapter in self.adapters.items():
            counts = adapter.meter.drain()
            if not counts:
                continue
            try:
                self.store.add_api_calls(self.name, network.value, counts)
            except DatabaseError as exc:
                # Never mask the cycle's own error (this runs in a `finally`); keep the counts
                # for the next flush.
                adapter.meter.restore(counts)
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

    def _poll(self, source: NetworkName, targets: list[NetworkName], report: CycleReport) -> None:
        paused = self.store.pauses(self.name, self.clock()).get(source.value)
        if paused is not None:
            report.paused[source.value] = paused.paused_reason or paused.paused_kind or "paused"
            POLLS.labels(self.name, source.value, "paused").inc()
            return
        adapter = self.adapters[source]
        try:
            if source is NetworkName.TWITTER and self.budget is not None:
                self.budget.allow_reading()
            capabilities = self._capabilities(targets)
            report.polls[source.value] = poll_side(
                self.store,
                self.name,
                adapter,
                targets,
                self.config.policy,
                now=self.clock(),
                capabilities=capabilities,
            )
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
        self, source: NetworkName, targets: list[NetworkName], report: CycleReport
    ) -> None:
        """Find edits and deletions (when due). A failure only delays them to the next cycle:
        the posts stay in the window and nothing is lost."""
        if source.value in report.paused or self.store.pauses(self.name, self.clock()).get(
            source.value
        ):
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
            )
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
