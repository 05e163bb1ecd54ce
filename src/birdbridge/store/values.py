"""What goes into the store and what comes out of it, as plain values (no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    PUBLISHING = "publishing"  # a network call for `publishing_part` may have happened
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.PUBLISHING)
HELD = "held"  # Delivery.phase of a post read while a same-text post of ours was in flight
CLOCK_SLACK = timedelta(minutes=1)  # clocks of several workers may differ a little


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class NewDelivery:
    source_network: str
    source_id: str
    target_network: str
    payload: str
    parent_source_id: str | None = None
    kind: str = "post"
    # Read while a post of ours with the same text was in flight: delivered only once that
    # publish is settled and did not turn out to be this very post (Delivery.phase "held").
    held: bool = False


@dataclass(frozen=True)
class InFlight:
    """A part being published whose outcome is not recorded yet (for the loop guard)."""

    text: str
    started_at: datetime  # the first attempt's start
    attempt_at: datetime  # the latest attempt's start


@dataclass(frozen=True)
class LinkSummary:
    link: str
    network: str
    cursor: str | None
    last_poll_at: datetime | None
    last_error: str | None
    pending: int
    failed: int
    done: int
    next_retry: datetime | None = None  # the soonest an open delivery from this side is due
    paused_until: datetime | None = None
    paused_kind: str | None = None
    paused_reason: str | None = None
