"""A link's X spend against its ``[links.twitter] monthly_budget_usd``.

Every billable X reply is counted by the adapter's till (networks/x_billing.py) and stored here
at the end of each pass (``flush``), with X's per-day deduplication of reads applied by the
store. Before a write is sent the till asks :meth:`XBudget.guard`; before a delivery starts,
the deliverer asks :meth:`XBudget.require` with the whole delivery's estimate (engine/costs.py)
so that a post is not half made (its media uploaded, its text refused). A write that would take
the month's spend over the budget is not made: :class:`BudgetExceeded` pauses the X side until
the next UTC month. Reads stop only once the spend has reached the budget itself. A new
process lifts the pause (the budget may have been raised); `birdbridge resume` does too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from birdbridge.errors import BudgetExceeded
from birdbridge.models import MICRO, NetworkName, dollars
from birdbridge.networks.base import Network
from birdbridge.networks.x_billing import XBilling
from birdbridge.networks.x_prices import PriceClass, PriceTable
from birdbridge.store import DatabaseError, LinkState, Store, month_start

log = logging.getLogger(__name__)

# What the budget lets through even when spent: deleting a mirror, undoing a repost.
UNDOING = frozenset({PriceClass.DELETE, PriceClass.UNDO_REPOST})
WARN_AT = 0.8  # share of the budget past which a warning is logged (once, when crossed)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


class XBudget:
    def __init__(
        self,
        store: Store,
        link: str,
        limit_usd: float | None,
        billing: XBilling,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.link = link
        self.limit = None if limit_usd is None else round(limit_usd * MICRO)
        self.billing = billing
        self.clock = clock
        billing.clock = clock  # each call is billed on the engine's UTC day
        if self.limit is not None:
            billing.guard = self.guard
            billing.read_guard = self.allow_reading  # each page of a catching-up poll

    def keep_pause_in_month(self, x_side: LinkState | None) -> None:
        """A budget pause is for this month: one that ends after the next month began in a
        month still to come (the clock ran ahead when it was set) is lifted; if this month's
        budget is spent too, the next write pauses the side again before anything is sent.
        ``x_side``: the X side's stored state, read by the cycle (nothing to lift: no write)."""
        if x_side is None or x_side.paused_kind != "budget" or x_side.paused_until is None:
            return
        if x_side.paused_until > (ending := next_month(self.clock())):
            self.store.resume(self.link, ["budget"], ending_after=ending)

    def spent(self) -> int:
        """This month's spend so far (millionths of a dollar). What the till holds is stored
        first (X's per-day deduplication of reads is applied there); what could not be stored
        counts in full."""
        self.flush()
        return self.store.x_month_micros(self.link, self.clock()) + self.billing.pending_micros()

    def guard(self, price_class: PriceClass, micros: int) -> None:
        """Before one write is sent (networks/x_billing.py). Taking a mirror down is never
        refused (counted all the same): a post its author deleted must not stay up for a month
        for want of half a cent."""
        if price_class in UNDOING:
            return
        self.require(micros, f"an X call ({price_class.label}, {dollars(micros)})")

    def require(self, micros: int, what: str) -> None:
        """Raise BudgetExceeded when ``micros`` more would take the month over the budget."""
        if self.limit is None:
            return
        spent = self.spent()
        if spent + micros <= self.limit:
            return
        self._refuse(
            f"X budget: {dollars(spent)} of {dollars(self.limit)} spent this month; {what} "
            "would go over it"
        )

    def allow_reading(self) -> None:
        """Before a poll or a re-check of X: stop once the month's spend reached the budget."""
        if self.limit is None:
            return
        spent = self.spent()
        if spent >= self.limit:
            self._refuse(f"X budget: {dollars(spent)} of {dollars(self.limit)} spent this month")

    def _refuse(self, message: str) -> None:
        until = next_month(self.clock())
        raise BudgetExceeded(
            message,
            retry_at=until,
            fix=(
                f"Nothing is lost: the posts wait (max_age decides whether they still go out) "
                f"until {until:%d %b} 00:00 UTC; raise [links.twitter] monthly_budget_usd of "
                f"link {self.link!r} and restart, or run `birdbridge resume {self.link}`, to go "
                "on sooner"
            ),
        )

    def flush(self) -> None:
        """Store the charges counted since the last flush; warn when the spend crosses 80 %."""
        charges = self.billing.drain()
        if not charges:
            return
        now = self.clock()
        try:
            before = self.store.x_month_micros(self.link, now) if self.limit else 0
            added = self.store.record_x_charges(self.link, charges, now)
        except DatabaseError as exc:
            self.billing.restore(charges)  # counted at the next flush; never lost
            log.warning("link %s: X spend not saved yet: %s", self.link, exc)
            return
        month = before + added
        if self.limit and before < WARN_AT * self.limit <= month:
            log.warning(
                "link %s: X spend this month is %s, %d%% of its budget of %s",
                self.link,
                dollars(month),
                round(100 * month / self.limit),
                dollars(self.limit),
            )


def settle_x_spend(
    store: Store, link: str, adapters: Mapping[NetworkName, Network], prices: PriceTable
) -> None:
    """Store what a command's own X calls cost (`check`, `explain`, a sign-in): every billed
    call is counted, not only the daemon's. Never fails the command: logged instead."""
    billing = getattr(adapters.get(NetworkName.TWITTER), "billing", None)
    if not isinstance(billing, XBilling):
        return
    charges = [
        replace(charge, unit_micros=prices.of(PriceClass(charge.price_class)))
        for charge in billing.drain()
    ]
    if not charges:
        return
    try:
        store.record_x_charges(link, charges, datetime.now(UTC))
    except DatabaseError as exc:
        log.warning("link %s: X spend of this command not saved: %s", link, exc)
