"""What an API's HTTP reply means: the one mapping from status, headers and body to
birdbridge's error types, for both networks and every client (tweepy, Mastodon.py, our own
media uploads), and the one reader of rate-limit headers.

X sends problem bodies (``{"type": "https://api.x.com/2/problems/...", "title", "detail"}``,
docs.x.com fundamentals/response-codes-and-errors) and ``x-rate-limit-*`` headers with an epoch
reset; Mastodon sends ``{"error": "..."}`` and ``X-RateLimit-*`` headers (no hyphen between
"Rate" and "Limit") whose reset is an ISO-8601 time (app/controllers/concerns/api/
rate_limit_headers.rb).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from birdbridge.errors import (
    AccountRefused,
    AlreadyReposted,
    AuthRevoked,
    CreditsDepleted,
    Duplicate,
    MediaRejected,
    MissingPermission,
    NetworkError,
    Permanent,
    RateLimited,
    Transient,
    UsageCapped,
)

# A family of endpoints from a call's ``"METHOD /path"`` (None: the account as a whole).
Scope = Callable[[str], str | None]
DEFAULT_WAIT = {"twitter": timedelta(minutes=15), "mastodon": timedelta(minutes=5)}

# X's problem types (docs.x.com fundamentals/response-codes-and-errors); matched on the last
# path segment, since live replies use both api.twitter.com/2/problems/... and
# api.x.com/2/problems/... (and the older ".../problems/credits" for credits).
CREDITS_DEPLETED = "credits-depleted"
USAGE_CAPPED = "usage-capped"
OAUTH1_PERMISSIONS = "oauth1-permissions"
# X's 403 details (quoted in public issue threads; see sandbox/x/errors.py for the sources).
DUPLICATE_WORDS = ("duplicate content",)
ALREADY_REPOSTED_WORDS = ("already retweeted", "already reposted")
READ_ONLY_WORDS = ("appropriate oauth1 app permissions", "not configured with the appropriate")
# A post whose media ids will not do (api-notes X1, M1). X: 400 invalid-request with "Your
# media IDs are invalid." in its ``errors`` array (a pending, unknown, expired or foreign id).
# Mastodon: 422 "Media 1, 2 not found or already attached to another post".
MEDIA_REFUSED_WORDS = ("your media ids are invalid", "not found or already attached")
# Mastodon (Doorkeeper, app/controllers/api/base_controller.rb): a token without the scope.
OUTSIDE_SCOPES = "outside the authorized scopes"
# Mastodon's 403s for an account that may not act at all (Api::BaseController
# #require_user!: disabled, unconfirmed, unapproved, moved or suspended logins).
ACCOUNT_DISABLED_WORDS = (
    "login is currently disabled",
    "missing a confirmed e-mail",
    "not approved",
    "suspended",
)

X_READ_ONLY_FIX = (
    "Give the X app write access: in the developer console, the app's User authentication "
    'settings, set App permissions to "Read and write", then regenerate the access token and '
    "secret (tokens keep the permissions they were made with) and put them in [links.twitter]"
)
X_CREDITS_FIX = "Add credits in the X developer console (pay-per-use billing)"


@dataclass(frozen=True)
class RateLimitHeaders:
    limit: int | None
    remaining: int | None
    reset_at: datetime | None


def rate_limit_headers(headers: Mapping[str, str]) -> RateLimitHeaders:
    """The rate-limit headers of either network, whichever spelling the reply used."""
    lowered = {k.lower(): v for k, v in headers.items()}

    def first(suffix: str) -> str | None:
        return lowered.get(f"x-rate-limit-{suffix}") or lowered.get(f"x-ratelimit-{suffix}")

    return RateLimitHeaders(
        limit=_int(first("limit")),
        remaining=_int(first("remaining")),
        reset_at=_reset(first("reset")),
    )


def reset_time(headers: Mapping[str, str], network: str = "twitter") -> datetime:
    """When a rate limit resets: the header's time, or the network's usual window from now."""
    return rate_limit_headers(headers).reset_at or datetime.now(UTC) + DEFAULT_WAIT.get(
        network, timedelta(minutes=15)
    )


def error_for_reply(
    network: str,
    what: str,
    status: int,
    headers: Mapping[str, str],
    body: Any,
    scope: Scope | None = None,
) -> NetworkError | None:
    """The error a reply means, or None for a 2xx. ``what`` is ``"METHOD /path"``."""
    if 200 <= status < 300:
        return None
    label = "X" if network == "twitter" else "Mastodon"
    problem = problem_of(body)
    detail = detail_of(body)
    text = f"{label} {what}: "
    common: dict[str, Any] = {
        "network": network,
        "status": status,
        "problem": problem,
        "detail": detail or None,
    }
    lowered = f"{problem or ''} {detail}".lower()
    if status == 402 or _is(problem, CREDITS_DEPLETED) or _is(problem, "credits"):
        # Pay-per-use: every request is refused until credits are added (docs.x.com
        # x-api/getting-started/pricing); a pause, never a failed delivery.
        return CreditsDepleted(
            text + f"out of credits ({status}{_colon(detail)})", fix=X_CREDITS_FIX, **common
        )
    if status == 429:
        retry_at = reset_time(headers, network)
        if _is(problem, USAGE_CAPPED):
            return UsageCapped(
                text + f"monthly usage cap reached (429 usage-capped{_colon(detail)})",
                retry_at=retry_at,
                **common,
            )
        return RateLimited(
            text + f"rate limited (429{_colon(detail)}) until {retry_at:%H:%M:%S} UTC",
            retry_at=retry_at,
            scope=scope(what) if scope else what,
            **common,
        )
    if status == 401:
        return AuthRevoked(
            text + f"the credentials were refused (401{_colon(detail)})",
            fix=f"Check the tokens in [links.{network}]: they may be revoked or mistyped",
            **common,
        )
    if status == 403:
        refused = _forbidden(network, text, status, detail, lowered, common)
        if refused is not None:
            return refused
    media = _media_refusal(status, body)
    if media is not None:
        return MediaRejected(text + f"refused the post's media ({status}: {media})", **common)
    if 400 <= status < 500:
        return Permanent(text + f"refused ({status}{_colon(detail)})", **common)
    return Transient(text + f"server error ({status}{_colon(detail)})", **common)


def _forbidden(
    network: str, text: str, status: int, detail: str, lowered: str, common: dict[str, Any]
) -> NetworkError | None:
    """The 403s that mean something beyond "this request is refused"."""
    if _is(common["problem"], OAUTH1_PERMISSIONS) or any(w in lowered for w in READ_ONLY_WORDS):
        return MissingPermission(
            text + f"the app or token may only read ({status}{_colon(detail)})",
            fix=X_READ_ONLY_FIX,
            **common,
        )
    if OUTSIDE_SCOPES in lowered:
        return MissingPermission(
            text + f"the token lacks a scope this needs ({status}{_colon(detail)})",
            fix="Create a Mastodon access token with the scopes birdbridge needs (see "
            "`birdbridge check` and the README) and put it in [links.mastodon]",
            **common,
        )
    if any(w in lowered for w in DUPLICATE_WORDS):
        return Duplicate(text + f"refused as a duplicate ({status}{_colon(detail)})", **common)
    if any(w in lowered for w in ALREADY_REPOSTED_WORDS):
        return AlreadyReposted(text + f"already reposted ({status}{_colon(detail)})", **common)
    if _is(common["problem"], "client-forbidden") and "attached to a project" in lowered:
        # X v2 needs keys of an app inside a Project (xdevplatform/samples#160).
        return AccountRefused(
            text + f"the X app may not use API v2 ({status}{_colon(detail)})",
            fix="Attach the app to a Project in the X developer console",
            **common,
        )
    if any(w in lowered for w in ACCOUNT_DISABLED_WORDS):
        return AccountRefused(
            text + f"the account may not act ({status}{_colon(detail)})",
            fix=f"Sign in to the account on the {network} website and settle what it asks",
            **common,
        )
    return None


def check_reply(
    network: str,
    what: str,
    status: int,
    headers: Mapping[str, str],
    body: Any,
    scope: Scope | None = None,
) -> None:
    """Raise the error a non-2xx reply means; return quietly on 2xx."""
    error = error_for_reply(network, what, status, headers, body, scope)
    if error is not None:
        raise error


def _media_refusal(status: int, body: Any) -> str | None:
    """The words of a 400 or 422 that refused a post's media ids, or None."""
    if status not in (400, 422):
        return None
    return next(
        (text for text in messages_of(body) if any(w in text.lower() for w in MEDIA_REFUSED_WORDS)),
        None,
    )


def problem_of(body: Any) -> str | None:
    """X's problem ``type``; None for other bodies."""
    if isinstance(body, dict) and isinstance(body.get("type"), str):
        return str(body["type"])
    return None


def detail_of(body: Any) -> str:
    """The human-readable part of an error body (X problem or errors array, Mastodon error)."""
    texts = messages_of(body)
    return texts[0] if texts else ""


def messages_of(body: Any) -> list[str]:
    """Every human-readable text of an error body, the main one first: X's problem detail (or
    Mastodon's error, or a title), then the message of each entry of an ``errors`` array."""
    if not isinstance(body, dict):
        return []
    texts = [str(body[k]) for k in ("detail", "error", "title") if isinstance(body.get(k), str)]
    errors = body.get("errors")
    for entry in errors if isinstance(errors, list) else []:
        message = (entry.get("message") or entry.get("detail")) if isinstance(entry, dict) else None
        if message:
            texts.append(str(message))
    return [text for text in texts if text]


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _is(problem: str | None, name: str) -> bool:
    return problem is not None and problem.rstrip("/").rsplit("/", 1)[-1] == name


def _colon(detail: str) -> str:
    return f": {detail}" if detail else ""


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() else None


def _reset(value: str | None) -> datetime | None:
    """X: epoch seconds; Mastodon: ISO 8601 with microseconds ("2026-12-04T18:35:00.123456Z")."""
    if not value:
        return None
    value = value.strip()
    try:
        return datetime.fromtimestamp(int(float(value)), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
