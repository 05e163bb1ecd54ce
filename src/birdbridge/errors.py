"""The failure types the engine reacts to. Adapters map library exceptions onto these."""

from __future__ import annotations

from datetime import datetime


class BirdbridgeError(Exception):
    """Base of every error birdbridge raises on purpose."""


class ConfigError(BirdbridgeError):
    """The configuration is unusable; the message names the file, key and problem."""


class NetworkError(BirdbridgeError):
    """A call to a network failed. ``network`` is "twitter" or "mastodon"."""

    def __init__(self, message: str, *, network: str = "") -> None:
        super().__init__(message)
        self.network = network


class RateLimited(NetworkError):
    """429: wait until ``retry_at`` (UTC) before calling this network again for this account."""

    def __init__(self, message: str, *, retry_at: datetime, network: str = "") -> None:
        super().__init__(message, network=network)
        self.retry_at = retry_at


class UsageCapped(RateLimited):
    """X's monthly usage cap is exhausted (429 "usage-capped"): pause X for this link."""


class AuthRevoked(NetworkError):
    """401/403 on the token itself: the link cannot work until the credentials are fixed."""


class Transient(NetworkError):
    """5xx, timeout, dropped connection, garbage body: retry later.

    The call MAY have taken effect: a publish that failed this way needs recovery first."""


class Permanent(NetworkError):
    """The request itself is refused (4xx): retrying the same request will not help."""


class Unsupported(NetworkError):
    """The target cannot express this (e.g. a feature the API does not offer)."""
