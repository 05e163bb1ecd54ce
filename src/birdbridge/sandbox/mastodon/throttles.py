"""Mastodon's rate limits as the sandbox keeps them: rack-attack's throttles and the
``statuses`` family of Mastodon's own RateLimiter (docs/api-notes.md M2).

Rack::Attack (config/initializers/rack_attack.rb:66-106, rack-attack 6.8.0):

- fixed windows aligned to the epoch: a request at ``now`` counts in window
  ``now.to_i / period`` (lib/rack/attack/cache.rb:69-73), so a 5-minute window resets at
  :00, :05, ... UTC and windows never roll;
- the count includes the request, which is refused when ``count > limit`` (throttle.rb:31,43):
  request number limit+1 is the first 429, and refused requests are counted too;
- throttles are evaluated in declaration order and evaluation stops at the first that trips
  (configuration.rb:93-96); every throttle evaluated records its count for the headers.

The headers (app/controllers/concerns/api/rate_limit_headers.rb:35-68) describe the throttle
with the fewest calls left (``min_by limit - count``; on a tie the first declared), and the
reset is ``now + (period - now.to_i % period)`` written ``iso8601(6)``: the next window's start
plus the request's own microseconds, e.g. ``2026-08-21T13:55:00.123456Z``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MINUTE = 60
HOUR = 3600
# throttle_api_media (rack_attack.rb:81-82); API_DELETE_REBLOG_REGEX and
# API_DELETE_STATUS_REGEX (lines 101-102). Ruby's \d is ASCII only.
_MEDIA = re.compile(r"\A/api/v\d+/media\Z", re.IGNORECASE | re.ASCII)
_UNREBLOG = re.compile(r"\A/api/v1/statuses/\d+/unreblog\Z", re.ASCII)
_DELETE_STATUS = re.compile(r"\A/api/v1/statuses/\d+\Z", re.ASCII)


@dataclass(frozen=True)
class Caller:
    """What rack-attack's discriminators read of a request (rack_attack.rb:7-62)."""

    method: str
    path: str
    token_id: str | None  # authenticated_token_id: any token the server knows
    user_id: str | None  # authenticated_user_id: the token's user
    ip: str  # throttleable_remote_ip
    paging: bool  # paging_request?: page, min_id, max_id or since_id given

    @property
    def api(self) -> bool:
        return self.path.startswith("/api")


@dataclass
class Throttle:
    name: str
    limit: int
    period: int  # seconds (ActiveSupport durations are whole seconds)
    discriminator: Callable[[Caller], str | None]  # None: the throttle does not apply


@dataclass(frozen=True)
class Count:
    """One throttle's state after a request: ``rack.attack.throttle_data[name]``."""

    limit: int
    period: int
    count: int

    @property
    def left(self) -> int:
        return self.limit - self.count


def _when(applies: bool, who: str | None) -> str | None:
    return who if applies else None


def default_throttles() -> list[Throttle]:
    """The throttles that apply to API clients, in rack_attack.rb's declaration order (the
    sign-in, sign-up, app-registration and media-proxy ones never meet the bridge)."""
    return [
        Throttle(
            "throttle_authenticated_api", 1_500, 5 * MINUTE, lambda c: _when(c.api, c.user_id)
        ),
        Throttle("throttle_per_token_api", 300, 5 * MINUTE, lambda c: _when(c.api, c.token_id)),
        Throttle(
            "throttle_unauthenticated_api",
            300,
            5 * MINUTE,
            lambda c: _when(c.api and not c.user_id, c.ip),
        ),
        Throttle(
            "throttle_api_media",
            30,
            30 * MINUTE,
            lambda c: _when(c.method == "POST" and bool(_MEDIA.match(c.path)), c.user_id),
        ),
        Throttle(
            "throttle_authenticated_paging",
            300,
            15 * MINUTE,
            lambda c: _when(c.paging, c.user_id),
        ),
        Throttle(
            "throttle_unauthenticated_paging",
            300,
            15 * MINUTE,
            lambda c: _when(c.paging and not c.user_id, c.ip),
        ),
        Throttle("throttle_api_delete", 30, 30 * MINUTE, lambda c: _when(_deletes(c), c.user_id)),
    ]


def _deletes(c: Caller) -> bool:
    return (c.method == "POST" and bool(_UNREBLOG.match(c.path))) or (
        c.method == "DELETE" and bool(_DELETE_STATUS.match(c.path))
    )


# What set_rate_limit(family=...) changes. None is the API as a whole: the per-token throttle
# (and the per-IP one for requests without a token).
FAMILY_THROTTLES: dict[str | None, tuple[str, ...]] = {
    None: ("throttle_per_token_api", "throttle_unauthenticated_api"),
    "media": ("throttle_api_media",),
    "deletes": ("throttle_api_delete",),
    "paging": ("throttle_authenticated_paging", "throttle_unauthenticated_paging"),
}
STATUSES = "statuses"


class RackAttack:
    def __init__(self) -> None:
        self.throttles = default_throttles()
        self._counts: dict[tuple[str, str, int], int] = {}

    def track(self, caller: Caller, now: float) -> tuple[dict[str, Count], Throttle | None]:
        """Count one request; its throttle data, and the throttle it tripped (if any)."""
        seen: dict[str, Count] = {}
        for throttle in self.throttles:
            who = throttle.discriminator(caller)
            if who is None:
                continue
            key = (throttle.name, str(who), int(now) // throttle.period)
            count = self._counts[key] = self._counts.get(key, 0) + 1
            seen[throttle.name] = Count(throttle.limit, throttle.period, count)
            if count > throttle.limit:
                return seen, throttle
        if len(self._counts) > 10_000:
            self._forget_past(now)
        return seen, None

    def set_limit(self, names: tuple[str, ...], limit: int, period: int) -> None:
        for throttle in self.throttles:
            if throttle.name in names:
                throttle.limit, throttle.period = limit, period
        self._counts = {k: v for k, v in self._counts.items() if k[0] not in names}

    def limit_of(self, name: str) -> int:
        return next(t.limit for t in self.throttles if t.name == name)

    def _forget_past(self, now: float) -> None:
        periods = {t.name: t.period for t in self.throttles}
        self._counts = {k: v for k, v in self._counts.items() if k[2] >= int(now) // periods[k[0]]}


class StatusesLimiter:
    """RateLimiter's ``:statuses`` family (app/lib/rate_limiter.rb:6-58): statuses and edits
    per account, 300 per 3 hours in epoch-aligned windows. ``record!`` refuses when the count
    has reached the limit (line 38) and counts otherwise (line 40)."""

    def __init__(self, limit: int = 300, period: int = 3 * HOUR) -> None:
        self.limit, self.period = limit, period
        self._counts: dict[tuple[str, int], int] = {}

    def record(self, account_id: str, now: float) -> bool:
        """Count one status or edit; False (and nothing counted) when over the limit."""
        key = (account_id, int(now) // self.period)
        if self._counts.get(key, 0) >= self.limit:
            return False
        self._counts[key] = self._counts.get(key, 0) + 1
        return True

    def state(self, account_id: str, now: float) -> Count:
        count = self._counts.get((account_id, int(now) // self.period), 0)
        return Count(self.limit, self.period, count)

    def set_limit(self, limit: int, period: int) -> None:
        self.limit, self.period = limit, period
        self._counts.clear()


def lowest(seen: dict[str, Count]) -> Count | None:
    """The throttle the headers report: fewest calls left, the first declared on a tie
    (rate_limit_headers.rb:58-60 ``min_by``)."""
    return min(seen.values(), key=lambda c: c.left) if seen else None


def headers_for(state: Count, now: float, remaining: int | None = None) -> dict[str, str]:
    """X-RateLimit-* as Api::RateLimitHeaders (lines 35-55) and RateLimiter#to_headers
    (rate_limiter.rb:47-51) write them."""
    return {
        "X-RateLimit-Limit": str(state.limit),
        "X-RateLimit-Remaining": str(state.left if remaining is None else remaining),
        "X-RateLimit-Reset": iso8601_6(reset_after(now, state.period)),
    }


def reset_after(now: float, period: int) -> datetime:
    """``now + (period - now.to_i % period)``: the next window's start plus ``now``'s own
    fraction of a second."""
    return datetime.fromtimestamp(now, UTC) + timedelta(seconds=period - int(now) % period)


def iso8601_6(moment: datetime) -> str:
    """``Time#iso8601(6)`` of a UTC time: six fraction digits and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def keep_lower(response_headers: dict[str, str], rack: Count | None, now: float) -> None:
    """Put rack-attack's headers on a reply unless the action already put a RateLimiter
    family's with as few calls left or fewer (rate_limit_headers.rb:13: the family's replace
    rack-attack's unless rack-attack's Remaining is lower)."""
    if rack is None:
        return
    family = response_headers.get("X-RateLimit-Remaining")
    if family is not None and int(family) <= rack.left:
        return
    response_headers.update(headers_for(rack, now))
