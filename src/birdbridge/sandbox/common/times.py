"""Times as both APIs write them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_millis(dt: datetime) -> str:
    """UTC with milliseconds and ``Z``: ``2026-08-21T13:55:00.123Z`` (X's ``created_at``,
    Mastodon's ``created_at``, ``edited_at`` and ``expires_at``)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
