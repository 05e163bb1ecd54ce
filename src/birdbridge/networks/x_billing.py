"""The X adapter's till: every reply X bills is turned into charges (networks/x_prices.py)
when it arrives, kept until the engine stores them (store/spend.py), and every billable write
is shown to a guard before it is sent, so that a budget can refuse it (engine/budget.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import requests

from birdbridge.models import Charge
from birdbridge.networks.x_prices import (
    DEFAULT_TABLE,
    Billed,
    PriceClass,
    PriceTable,
    path_of,
    read_charges,
    request_json,
    write_class,
)

# Called with the class and price (millionths of a dollar) of a write about to be sent; raises
# errors.BudgetExceeded to stop it.
Guard = Callable[[PriceClass, int], None]
# Called before a billable read (each page of a poll): raises errors.BudgetExceeded once the
# month's spend has reached the budget, so a catching-up poll stops paging.
ReadGuard = Callable[[], None]
# The reads that are billed per post or user returned (x_prices.read_charges).
BILLED_READS = ("/2/users/", "/2/tweets")


class XBilling:
    def __init__(self, prices: PriceTable = DEFAULT_TABLE, *, owned: bool = True) -> None:
        self.prices = prices
        self.owned = owned  # own-timeline reads at the Owned Reads rate (x_prices docstring)
        self.guard: Guard | None = None
        self.read_guard: ReadGuard | None = None
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._lock = threading.Lock()
        self._pending: list[Charge] = []

    def before_send(self, method: str, url: str, json_body: Any) -> None:
        """Before a request leaves: a write the guard refuses is never sent; a write that is
        sent is counted now, since X may make it even if its reply is lost (a timeout), and
        taken back if X answers that it refused it."""
        path = path_of(url)
        price_class = write_class(method, path, json_body)
        if price_class is None:
            if method.upper() == "GET" and self.read_guard and path.startswith(BILLED_READS):
                self.read_guard()
            return
        if self.guard is not None:
            self.guard(price_class, self.prices.of(price_class))
        self._add([Billed(price_class, 1).charge(self.prices)])

    def observe(self, response: requests.Response) -> None:
        """A reply arrived: what X bills for a read; a refused write is not billed."""
        method = str(response.request.method or "GET").upper()
        path = path_of(response.url)
        if method != "GET":
            if not 200 <= response.status_code < 300:
                self._take_back(method, path, response.request.body)
            return
        if not 200 <= response.status_code < 300:
            return
        try:
            body = response.json()
        except ValueError:
            return  # garbage: the adapter turns it into an error; X bills nothing we saw
        self._add(
            [
                item.charge(self.prices)
                for item in read_charges(method, path, body, owned=self.owned)
            ]
        )

    def _add(self, charges: list[Charge]) -> None:
        if not charges:
            return
        at = self.clock()  # billed on the UTC day of the call, whenever it is stored
        with self._lock:
            self._pending.extend(replace(charge, at=at) for charge in charges)

    def _take_back(self, method: str, path: str, sent: Any) -> None:
        body = request_json(sent if isinstance(sent, bytes | str) else None)
        price_class = write_class(method, path, body)
        if price_class is None:
            return
        with self._lock:
            for index in range(len(self._pending) - 1, -1, -1):
                if self._pending[index].price_class == price_class.value:
                    del self._pending[index]
                    return

    def drain(self) -> list[Charge]:
        with self._lock:
            charges, self._pending = self._pending, []
        return charges

    def restore(self, charges: list[Charge]) -> None:
        """Put back charges that could not be stored."""
        with self._lock:
            self._pending[:0] = charges

    def pending_micros(self) -> int:
        """What the charges not stored yet cost at most (before the per-day deduplication)."""
        with self._lock:
            return sum(charge.micros for charge in self._pending)
