"""Every API reply seen by an adapter: counted, and its rate-limit headers remembered.

X sends ``x-rate-limit-*`` per endpoint with an epoch reset; Mastodon sends ``X-RateLimit-*``
with an ISO-8601 reset for whichever of its throttles is closest to its limit: the API as a
whole, or media uploads, posting, deletions on their own (networks/mastodon_throttles.py). The
adapter's ``scope`` maps a call to the family its limit belongs to (None: the whole account),
and the headers are remembered per family. Before each call the adapter asks
:meth:`CallMeter.check`: when the last reply said no call of that family (or of the account)
is left until the reset, we wait for the reset instead of spending a call on a certain 429.
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
from birdbridge.networks.replies import Scope, rate_limit_headers

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
ACCOUNT = "*"  # the key of limits on the account as a whole


def per_endpoint(what: str) -> str | None:
    """X limits each endpoint on its own (docs.x.com fundamentals/rate-limits): the family of
    ``"POST /2/tweets (edit)"`` is ``"POST /2/tweets"``."""
    return what.split(" (")[0]


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
        scope: Scope,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.network = network
        self.scope = scope  # "METHOD /path" -> the family whose limit it uses (None: account)
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
        limits = rate_limit_headers(headers)
        with self._lock:
            self._unflushed[(hour, limited)] += 1
            if limits.remaining is not None:
                self._limits[self._key(endpoint_key(method, url))] = LimitState(
                    limits.remaining, limits.reset_at or self.clock()
                )

    def check(self, what: str) -> None:
        """Raise RateLimited when the last replies left no call for ``what`` (its family, or
        the account as a whole) before the reset."""
        family = self.scope(what)
        with self._lock:
            states = [(key, self._limits.get(key)) for key in {self._key(what), ACCOUNT}]
        now = self.clock()
        for key, state in states:
            if state is None or state.remaining > RESERVE or state.reset_at <= now:
                continue
            RATE_LIMITED.labels(self.network).inc()
            raise RateLimited(
                f"{'X' if self.network == 'twitter' else 'Mastodon'} {what}: no calls left "
                f"until {state.reset_at:%H:%M:%S} UTC (rate-limit headers); waiting instead "
                "of calling",
                retry_at=state.reset_at,
                network=self.network,
                scope=None if key == ACCOUNT else family,
                status=None,
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

    def _key(self, what: str) -> str:
        return self.scope(what) or ACCOUNT
