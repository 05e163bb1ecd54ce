"""Mastodon's rate limits on the server: rack-attack's throttles on every API request (with
their headers on every reply) and the ``statuses`` family around statuses and edits
(throttles.py keeps the counts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from birdbridge.sandbox.common import Request, Response
from birdbridge.sandbox.mastodon.auth import Auth
from birdbridge.sandbox.mastodon.errors import Invalid, StatusesLimited
from birdbridge.sandbox.mastodon.records import MastodonUser
from birdbridge.sandbox.mastodon.throttles import (
    FAMILY_THROTTLES,
    STATUSES,
    Caller,
    headers_for,
    iso8601_6,
    keep_lower,
    lowest,
)


class RateLimits(Auth):
    def set_rate_limit(self, limit: int, window_s: float = 300, family: str | None = None) -> None:
        """Set one throttle's limit and period (whole seconds), its counts started afresh.
        ``family``: None, the API as a whole (per token; per IP without one); "media" (POST
        /api/v1|v2/media), "deletes" (DELETE /api/v1/statuses/:id, unreblogs), "paging"
        (requests with page, min_id, max_id or since_id) or "statuses" (statuses and edits
        per account: Mastodon's RateLimiter)."""
        period = max(int(window_s), 1)
        if family != STATUSES and family not in FAMILY_THROTTLES:
            raise ValueError(f"unknown rate-limit family {family!r}")
        with self._lock:
            if family == STATUSES:
                self._statuses_limit.set_limit(int(limit), period)
            else:
                self._rack_attack.set_limit(FAMILY_THROTTLES[family], int(limit), period)

    def rate_limit_response(self, reset_at: float) -> Response:
        """The ``rate_limit`` fault: a 429 of the per-token API throttle resetting at
        ``reset_at``, written as the throttled responder writes it."""
        per_token = self._rack_attack.limit_of("throttle_per_token_api")
        reset = iso8601_6(datetime.fromtimestamp(reset_at, UTC))
        return self._throttled({"X-RateLimit-Limit": str(per_token), "X-RateLimit-Reset": reset})

    @staticmethod
    def _throttled(headers: dict[str, str]) -> Response:
        # rack_attack.rb:156-168 throttled_responder: the tripped throttle's limit, 0 left;
        # the body is errors.429 (config/locales/en.yml:1594); no Retry-After
        return Response(
            429, {"error": "Too many requests"}, {**headers, "X-RateLimit-Remaining": "0"}
        )

    def dispatch(self, request: Request) -> Response:
        if not request.path.startswith("/api/"):
            return super().dispatch(request)
        now = self.now()
        with self._lock:
            seen, tripped = self._rack_attack.track(self._caller(request), now)
        if tripped is not None:
            return self._throttled(headers_for(seen[tripped.name], now))
        try:
            response = super().dispatch(request)
        except Invalid as exc:
            response = self.error_response(422, str(exc))
        # Api::RateLimitHeaders' before_action runs first in every API controller, so 401s,
        # 403s and 404s carry the headers too (rate_limit_headers.rb:18-19).
        keep_lower(response.headers, lowest(seen), now)
        return response

    def _caller(self, request: Request) -> Caller:
        grant = self._grants.get(self._token_of(request) or "")
        paging = any(request.arg(k) for k in ("page", "min_id", "max_id", "since_id"))
        return Caller(
            method=request.method,
            path=request.path,
            token_id=grant.id if grant else None,
            user_id=grant.account_id if grant else None,
            ip="127.0.0.1",
            paging=paging,
        )

    def _count_status(self, user: MastodonUser) -> None:
        """A status or an edit is created: RateLimitable's after_create records it in the
        ``statuses`` family (rate_limitable.rb:17-29, status.rb:64, status_edit.rb:34); over
        the limit, nothing is created (the error rolls the transaction back)."""
        if not self._statuses_limit.record(user.id, self.now()):
            raise StatusesLimited

    def _counted(
        self, user: MastodonUser, action: Callable[[], Response], halting: tuple[int, ...] = ()
    ) -> Response:
        """An action under ``override_rate_limit_headers ..., family: :statuses``
        (statuses_controller.rb:16-17, reblogs_controller.rb:12): after it, even when it
        failed, the family's headers are put on the reply (rate_limit_headers.rb:7-14; the
        dispatcher keeps them unless rack-attack's have fewer calls left). Over the family's
        limit the reply is 429 {"error": "Too many requests"} (error_handling.rb:44-46)."""
        try:
            response = action()
        except Invalid as exc:
            response = self.error_response(422, str(exc))
        except StatusesLimited:
            response = self.error_response(429, "Too many requests")
        if response.status not in halting:
            now = self.now()
            with self._lock:
                state = self._statuses_limit.state(user.id, now)
            response.headers.update(headers_for(state, now))
        return response
