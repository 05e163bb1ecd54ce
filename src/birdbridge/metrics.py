"""Prometheus metrics (served at /metrics when `[bridge] http_port` or PORT is set).

API calls and 429s are counted where the replies are seen (networks/meter.py); the queue's
size and age are read from the database at each scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

POLLS = Counter(
    "birdbridge_polls_total",
    "Polls of a link's source side by outcome",
    ["link", "network", "outcome"],
)
DELIVERIES = Counter(
    "birdbridge_deliveries_total", "Delivery attempts by outcome", ["link", "outcome"]
)
FALLBACKS = Counter("birdbridge_fallbacks_total", "Honest fallbacks by kind", ["link", "kind"])


class QueueCollector(Collector):
    """Pending deliveries and the age of the oldest one, per link, at scrape time."""

    def __init__(self, store: Any, links: list[str]) -> None:
        self.store = store
        self.links = links  # every configured link gets a sample, 0 when its queue is empty

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily(
            "birdbridge_queue_pending", "Deliveries pending or in flight", labels=["link"]
        )
        age = GaugeMetricFamily(
            "birdbridge_queue_oldest_seconds", "Age of the oldest pending delivery", labels=["link"]
        )
        failed = GaugeMetricFamily(
            "birdbridge_queue_failed",
            "Failed deliveries waiting for `birdbridge retry` or `skip`",
            labels=["link"],
        )
        now = datetime.now(UTC)
        stats = {link: (0, None, 0) for link in self.links} | self.store.queue_stats()
        for link, (count, oldest, failures) in stats.items():
            pending.add_metric([link], count)
            age.add_metric([link], (now - oldest).total_seconds() if oldest else 0.0)
            failed.add_metric([link], failures)
        yield pending
        yield age
        yield failed


class XSpendCollector(Collector):
    """What each link spent on X this UTC month, by price class, and its budget, read from the
    database at scrape time (so every worker and `once` run is in it)."""

    def __init__(self, store: Any, budgets: dict[str, float | None]) -> None:
        self.store = store
        self.budgets = budgets  # link -> monthly_budget_usd (None: no budget)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        spend = GaugeMetricFamily(
            "birdbridge_x_spend_usd",
            "X spend this UTC month in US dollars, by price class (X's rate card)",
            labels=["link", "price_class"],
        )
        calls = GaugeMetricFamily(
            "birdbridge_x_billable_calls",
            "Billable X replies this UTC month, by price class",
            labels=["link", "price_class"],
        )
        units = GaugeMetricFamily(
            "birdbridge_x_billed_units",
            "What X billed this UTC month (posts or users read, requests), by price class",
            labels=["link", "price_class"],
        )
        budget = GaugeMetricFamily(
            "birdbridge_x_budget_usd", "[links.twitter] monthly_budget_usd", labels=["link"]
        )
        now = datetime.now(UTC)
        start = now.date().replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        for link, lines in self.store.x_spend(start, end).items():
            for price_class, line in lines.items():
                spend.add_metric([link, price_class], line.micros / 1_000_000)
                calls.add_metric([link, price_class], line.calls)
                units.add_metric([link, price_class], line.units)
        for link, limit in self.budgets.items():
            if limit is not None:
                budget.add_metric([link], limit)
        yield spend
        yield calls
        yield units
        yield budget
