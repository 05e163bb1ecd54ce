"""deliver -> render -> publish -> record, and recover what a crash left ``publishing``.

The deliverer takes the due deliveries of one link in causal order, claims each, delivers it
(new posts: engine/posts.py; edits and deletions: engine/changes.py; what they share:
engine/publishing.py; recovery: engine/adopt.py) and turns whatever ended the attempt into a
retry, a pause, a skip or a failure with its reason, so that the pass goes on."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from birdbridge.engine.changes import Changes
from birdbridge.engine.outcomes import ClaimLost, DeliverReport, ReplyPolicy, Stopping, Wait
from birdbridge.engine.pauses import pause_for, pauses_side
from birdbridge.errors import (
    AccountRefused,
    BudgetExceeded,
    NetworkError,
    Permanent,
    RateLimited,
    Transient,
)
from birdbridge.models import NetworkName, Post
from birdbridge.store import DatabaseError, Delivery, DeliveryKind, LinkState

__all__ = ["DeliverReport", "Deliverer", "retry_delay"]

log = logging.getLogger(__name__)


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min, ... capped at 1 h."""
    base = min(30.0 * 2 ** max(attempt - 1, 0), 3600.0)
    return timedelta(seconds=base * random.uniform(0.5, 1.0))


class Deliverer(Changes):
    """Delivers the due deliveries of one link."""

    _budget_only: set[str] = set()  # targets paused for X's budget only (set by each run)

    def run(self, pauses: Mapping[str, LinkState] | None = None) -> DeliverReport:
        """One pass over the link's due deliveries. ``pauses``: the link's paused sides, when
        the caller read them already (one read of the link's state per cycle)."""
        report = DeliverReport()
        # Target networks that said "not now" (paused before, or during this pass).
        if pauses is None:
            pauses = self.store.pauses(self.link, self.clock())
        blocked: set[str] = set(pauses)
        # ... of which only for X's budget: deletions still go (engine/budget.py, UNDOING).
        self._budget_only = {n for n, state in pauses.items() if state.paused_kind == "budget"}
        for delivery in self.store.due_deliveries(self.link, self.clock()):
            if self.stop.is_set():
                break
            if delivery.target_network in blocked and not (
                delivery.kind is DeliveryKind.DELETE
                and delivery.target_network in self._budget_only
            ):
                continue
            if not self._claim(delivery):
                continue  # another worker has it (or had it, and crashed: wait for the claim)
            self._attempt(delivery, report, blocked)
        return report

    def _deliver(self, delivery: Delivery, report: DeliverReport) -> None:
        post = Post.from_json(json.loads(delivery.payload))
        target = self.adapters[NetworkName(delivery.target_network)]
        if delivery.kind is DeliveryKind.DELETE:
            self._delete(delivery, post, target, report)
        elif delivery.kind is DeliveryKind.EDIT:
            self._edit(delivery, post, target, report)
        else:
            self._post(delivery, post, target, report)

    def _attempt(self, delivery: Delivery, report: DeliverReport, blocked: set[str]) -> None:
        now = self.clock()
        try:
            self._deliver(delivery, report)
        except Wait as wait:
            report.waiting += 1
            self.store.mark_retry(delivery.id, wait.why, wait.until, count_attempt=False, now=now)
        except ClaimLost:
            log.warning(
                "link %s: delivery %s was taken over by another worker", self.link, delivery.id
            )
        except Stopping:
            self.store.mark_retry(
                delivery.id, "interrupted by shutdown", now, count_attempt=False, now=now
            )
        except ReplyPolicy as outcome:
            if outcome.skip:
                self._skip(delivery, str(outcome), report)
            else:
                self._fail(delivery, str(outcome), report, refused=True)
        except RateLimited as exc:
            self._rate_limited(delivery, exc, report, blocked, now)
        except AccountRefused as exc:
            self._account_refused(delivery, exc, report, blocked, now)
        except Transient as exc:
            attempts = self._retry_later(delivery, str(exc), report, now)
            if attempts is not None:
                log.warning(
                    "link %s: delivery %s will be retried (attempt %s/%s): %s",
                    self.link,
                    delivery.id,
                    attempts,
                    self.max_attempts,
                    exc,
                )
        except (Permanent, NetworkError) as exc:
            self._fail(delivery, str(exc), report, refused=True)
        except DatabaseError:
            raise  # the database, not this post: the pass cannot go on, the cycle reports it
        except Exception as exc:  # one post's surprise stays in that post
            self._unexpected(delivery, exc, report, now)

    def _rate_limited(
        self,
        delivery: Delivery,
        exc: RateLimited,
        report: DeliverReport,
        blocked: set[str],
        now: datetime,
    ) -> None:
        if pauses_side(exc):
            blocked.add(delivery.target_network)
            pause_for(self.store, self.link, NetworkName(delivery.target_network), exc, now)
        # A limit of one family of endpoints (media uploads, posting): this delivery waits for
        # its reset, the deliveries behind it that need other endpoints go on.
        self.store.mark_retry(
            delivery.id, str(exc), exc.retry_at, count_attempt=False, refused=True, now=now
        )
        report.retried += 1

    def _account_refused(
        self,
        delivery: Delivery,
        exc: AccountRefused,
        report: DeliverReport,
        blocked: set[str],
        now: datetime,
    ) -> None:
        blocked.add(delivery.target_network)
        if isinstance(exc, BudgetExceeded):
            self._budget_only.add(delivery.target_network)
        reason = pause_for(self.store, self.link, NetworkName(delivery.target_network), exc, now)
        report.errors.append(reason)
        log.warning("link %s: %s", self.link, reason)
        # Due again at once: the pause (not the delivery) decides when to try again, so
        # `birdbridge resume` takes effect immediately. Nothing is marked failed.
        self.store.mark_retry(
            delivery.id, str(exc), now, count_attempt=False, refused=True, now=now
        )

    def _unexpected(
        self, delivery: Delivery, exc: Exception, report: DeliverReport, now: datetime
    ) -> None:
        """An error no network raised (a bug, a crafted post, a corrupt row): that delivery
        is retried later and failed with the reason after ``max_attempts``; the pass goes on
        with the others (promise 4: one bad post never blocks the rest)."""
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
        log.exception("link %s: delivery %s: %s", self.link, delivery.id, reason)
        self._retry_later(delivery, reason, report, now)

    def _retry_later(
        self, delivery: Delivery, reason: str, report: DeliverReport, now: datetime
    ) -> int | None:
        """Another try after a backoff, or failed after ``max_attempts``; returns the attempts
        used so far when it will be tried again."""
        attempts = self.store.mark_retry(
            delivery.id, reason, now + retry_delay(delivery.attempts + 1), now=now
        )
        if attempts >= self.max_attempts:
            self._fail(delivery, f"gave up after {attempts} attempts: {reason}", report)
            return None
        report.retried += 1
        return attempts

    def _fail(
        self, delivery: Delivery, reason: str, report: DeliverReport, refused: bool = False
    ) -> None:
        self.store.mark_failed(delivery.id, reason, refused=refused, now=self.clock())
        report.failed += 1
        log.error(
            "link %s: delivery %s of %s post %s failed: %s (see `birdbridge status`; "
            "`birdbridge retry %s` tries again)",
            self.link,
            delivery.id,
            delivery.source_network,
            delivery.source_id,
            reason,
            delivery.id,
        )
