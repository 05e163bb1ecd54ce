"""Prometheus metrics (served at /metrics when `[bridge] http_port` or PORT is set).

API calls and 429s are counted where the replies are seen (networks/meter.py); the queue's
size and age are read from the database at each scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
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
