"""The X adapter's till: every reply X bills is turned into charges (networks/x_prices.py)
when it arrives, kept until the engine stores them (store/spend.py), and every billable write
is shown to a guard before it is sent, so that a budget can refuse it (engine/budget.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
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


class XBilling:
    def __init__(self, prices: PriceTable = DEFAULT_TABLE, *, owned: bool = True) -> None:
        self.prices = prices
        self.owned = owned  # own-timeline reads at the Owned Reads rate (x_prices docstring)
        self.guard: Guard | None = None
        self._lock = threading.Lock()
        self._pending: list[Charge] = []

    def before_send(self, method: str, url: str, json_body: Any) -> None:
        """Before a request leaves: a write the guard refuses is never sent."""
        price_class = write_class(method, path_of(url), json_body)
        if price_class is not None and self.guard is not None:
            self.guard(price_class, self.prices.of(price_class))

    def observe(self, response: requests.Response) -> None:
        """A reply arrived: what X bills for it (a refused request is not billed)."""
        if not 200 <= response.status_code < 300:
            return
        method = str(response.request.method or "GET").upper()
        path = path_of(response.url)
        if method == "GET":
            try:
                body = response.json()
            except ValueError:
                return  # garbage: the adapter turns it into an error; X bills nothing we saw
            billed = read_charges(method, path, body, owned=self.owned)
        else:
            sent = response.request.body
            body = request_json(sent if isinstance(sent, bytes | str) else None)
            price_class = write_class(method, path, body)
            billed = [Billed(price_class, 1)] if price_class is not None else []
        charges = [item.charge(self.prices) for item in billed]
        if charges:
            with self._lock:
                self._pending.extend(charges)

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
