"""Pausing one side of a link: after an account-wide rate limit until the reset, after X's
usage cap until it resets, at the X budget until the next UTC month, after an account-level
refusal (credentials, permissions, scopes,
credits) for an hour at a time (or until `birdbridge resume`). Other links go on.

A rate limit of one family of endpoints (X's per-endpoint limits, Mastodon's media, posting
and deletion throttles) pauses nothing: only the work that needs that family waits for the
reset (errors.RateLimited.scope)."""

from __future__ import annotations

from datetime import datetime

from birdbridge.errors import (
    AccountRefused,
    AuthRevoked,
    BudgetExceeded,
    CreditsDepleted,
    MissingPermission,
    RateLimited,
    UsageCapped,
)
from birdbridge.models import NetworkName
from birdbridge.store import Store

# Pauses that a fix by the operator ends: a new process lifts them at start (the fix may be in).
REFUSAL_KINDS = (AuthRevoked.kind, MissingPermission.kind, CreditsDepleted.kind, "refused")
# ... and the X budget's, which `run` lifts at start too (the budget may have been raised; if
# not, the first write that does not fit pauses the side again before anything is spent).
START_LIFTS = (*REFUSAL_KINDS, BudgetExceeded.kind)


def pauses_side(error: Exception) -> bool:
    """Does ``error`` stop the whole side of the link (reads and writes)?"""
    if isinstance(error, RateLimited):
        return error.scope is None
    return isinstance(error, AccountRefused)


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
    elif isinstance(error, BudgetExceeded):
        kind, until, reason = error.kind, error.retry_at, f"{error}. {error.fix}"
    elif isinstance(error, AccountRefused):
        kind, until = error.kind, now + error.recheck_after
        minutes = int(error.recheck_after.total_seconds() // 60)
        fix = error.fix or f"Fix [links.{network.value}] of link {link!r}"
        reason = (
            f"{error}. {fix}, then run `birdbridge resume {link}` (or restart); nothing is "
            f"lost meanwhile, and birdbridge tries again by itself every {minutes} minutes"
        )
    else:
        raise TypeError(f"no pause for {type(error).__name__}")
    store.pause(link, network.value, until=max(until, now), kind=kind, reason=reason)
    return reason
