"""The one funnel every API call of an adapter goes through (docs/architecture.md: the layers):
the rate-limit budget is checked first, reads are retried quickly, and the adapter maps the
library's failures to birdbridge's error types in ``_invoke``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests

from birdbridge.errors import AuthRevoked
from birdbridge.networks.meter import CallMeter
from birdbridge.networks.retry import call_with_retries

T = TypeVar("T")


class Funnel:
    meter: CallMeter
    # Writes that may be repeated at once after a 5xx, a reset or a timeout without doubling
    # their effect (an Idempotency-Key, or an idempotent method): retried in-process.
    safe_writes: frozenset[str] = frozenset()
    # What to do when the network refuses the credentials (AuthRevoked): for a stored sign-in,
    # "sign in again" (set by networks/signins.py); None keeps the fix that names the config.
    auth_fix: str | None = None

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A requests response hook: every reply is counted and its rate-limit headers kept."""
        self.meter.observe(
            str(response.request.method), response.url, response.status_code, response.headers
        )

    def _call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def once() -> T:
            self.meter.check(what)
            try:
                return self._invoke(what, function, *args, **kwargs)
            except AuthRevoked as refused:
                if self.auth_fix:
                    refused.fix = self.auth_fix
                raise

        return call_with_retries(what, once, safe=what in self.safe_writes)

    def _invoke(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError
