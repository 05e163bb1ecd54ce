"""How this worker's polls keep up, for /metrics (read from its scheduler at scrape time)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from birdbridge.worker.scheduler import PollScheduler


class PollCollector(Collector):
    def __init__(self, scheduler: PollScheduler) -> None:
        self.scheduler = scheduler

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        since = GaugeMetricFamily(
            "birdbridge_seconds_since_poll",
            "Seconds since the latest poll of each link this worker holds began",
            labels=["link"],
        )
        ages = self.scheduler.seconds_since_poll()
        for link, seconds in sorted(ages.items()):
            since.add_metric([link], round(seconds, 3))
        yield since
        yield GaugeMetricFamily(
            "birdbridge_links_held", "Links this worker holds (polls)", value=len(ages)
        )
        lateness = self.scheduler.lateness()
        yield GaugeMetricFamily(
            "birdbridge_polls_late",
            "Polls that began more than half an interval late, in the last minute",
            value=lateness.late,
        )
        yield GaugeMetricFamily(
            "birdbridge_poll_worst_delay_seconds",
            "The latest start of a poll after its due time, in the last minute",
            value=round(lateness.worst, 3),
        )
        yield CounterMetricFamily(
            "birdbridge_polls_missed",
            "Polls left out since the start: their link was still busy, or they were too late",
            value=lateness.missed,
        )
