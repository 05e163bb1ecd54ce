"""Every API reply seen by an adapter: counted, and its rate-limit headers remembered.

X sends ``x-rate-limit-*`` per endpoint with an epoch reset; Mastodon sends ``X-RateLimit-*``
for the token as a whole with an ISO-8601 reset (api-facts sections 2 and 6). Before each call
the adapter asks :meth:`CallMeter.check`: when the last reply said no call is left until the
reset, we wait for the reset instead of spending a call on a certain 429.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from prometheus_client import Counter as PromCounter

from birdbridge.errors import RateLimited
from birdbridge.networks.media_http import reset_time

API_CALLS = PromCounter(
    "birdbridge_api_calls_total", "API calls by network and HTTP status", ["network", "status"]
)
RATE_LIMITED = PromCounter(
    "birdbridge_rate_limited_total", "429 replies and calls held back for a rate limit", ["network"]
)
# Ids are long numbers; "/2/" (X's API version) is not an id.
_NUMBER = re.compile(r"/\d{3,}(?=/|$)")
# Stop this many calls before the limit: never run an endpoint down to a certain 429, and
# leave a call for the account's other apps (and `birdbridge check`).
RESERVE = 1


@dataclass
class LimitState:
    remaining: int
    reset_at: datetime


def endpoint_key(method: str, url: str) -> str:
    """``GET /2/users/:id/tweets`` from a full URL: the same key the adapters' calls use."""
    path = urlsplit(url).path.rstrip("/") or "/"
    return f"{method.upper()} {_NUMBER.sub('/:id', path)}"


class CallMeter:
    def __init__(
        self,
        network: str,
        *,
        per_endpoint: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.network = network
        self.per_endpoint = per_endpoint  # X: per endpoint; Mastodon: one budget per token
        self.clock = clock
        self._lock = threading.Lock()
        self._limits: dict[str, LimitState] = {}
        self._unflushed: Counter[tuple[datetime, bool]] = Counter()

    def observe(self, method: str, url: str, status: int, headers: Mapping[str, str]) -> None:
        """Record one reply (a response hook calls this for every API response)."""
        API_CALLS.labels(self.network, str(status)).inc()
        limited = status == 429
        if limited:
            RATE_LIMITED.labels(self.network).inc()
        hour = self.clock().replace(minute=0, second=0, microsecond=0)
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self._unflushed[(hour, limited)] += 1
            remaining = lowered.get("x-ratelimit-remaining") or lowered.get(
                "x-rate-limit-remaining"
            )
            if remaining is not None and remaining.strip().lstrip("-").isdigit():
                self._limits[self._key(method, url)] = LimitState(
                    int(remaining), reset_time(lowered)
                )

    def check(self, what: str) -> None:
        """Raise RateLimited when the last reply left no call for ``what`` before its reset."""
        key = what if self.per_endpoint else "*"
        with self._lock:
            state = self._limits.get(key)
        if state is None or state.remaining > RESERVE:
            return
        if state.reset_at > self.clock():
            RATE_LIMITED.labels(self.network).inc()
            raise RateLimited(
                f"{'X' if self.network == 'twitter' else 'Mastodon'} {what}: no calls left until "
                f"{state.reset_at:%H:%M:%S} UTC (rate-limit headers); waiting instead of calling",
                retry_at=state.reset_at,
                network=self.network,
            )

    def drain(self) -> dict[tuple[datetime, bool], int]:
        """Counts since the last drain, per hour and whether they were 429s (to persist)."""
        with self._lock:
            counts, self._unflushed = dict(self._unflushed), Counter()
        return counts

    def restore(self, counts: dict[tuple[datetime, bool], int]) -> None:
        """Put back counts that could not be saved."""
        with self._lock:
            self._unflushed.update(counts)

    def _key(self, method: str, url: str) -> str:
        return endpoint_key(method, url) if self.per_endpoint else "*"
