"""Pausing one side of a link: after a 429 until the reset, after X's usage cap until it resets,
after refused credentials for an hour (or until `birdbridge resume`). Other links go on."""

from __future__ import annotations

from datetime import datetime, timedelta

from birdbridge.errors import AuthRevoked, RateLimited, UsageCapped
from birdbridge.models import NetworkName
from birdbridge.store import Store

AUTH_PAUSE = timedelta(hours=1)  # then try again: the token may have been fixed meanwhile


def pause_for(
    store: Store, link: str, network: NetworkName, error: Exception, now: datetime
) -> str:
    """Record the pause ``error`` calls for; returns the status line to show."""
    if isinstance(error, UsageCapped):
        kind, until = "usage_cap", error.retry_at
        reason = (
            f"{error}. Raise the app's usage cap in the X developer console, or wait; "
            f"`birdbridge resume {link}` retries at once"
        )
    elif isinstance(error, RateLimited):
        kind, until, reason = "rate_limit", error.retry_at, str(error)
    elif isinstance(error, AuthRevoked):
        kind, until = "auth", now + AUTH_PAUSE
        reason = (
            f"{error}. Fix [links.{network.value}] of link {link!r}, then restart or run "
            f"`birdbridge resume {link}`; retried automatically every hour"
        )
    else:
        raise TypeError(f"no pause for {type(error).__name__}")
    store.pause(link, network.value, until=max(until, now), kind=kind, reason=reason)
    return reason
