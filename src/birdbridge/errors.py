"""The failure types the engine reacts to. Adapters map library exceptions onto these."""

from __future__ import annotations

from datetime import datetime, timedelta


class BirdbridgeError(Exception):
    """Base of every error birdbridge raises on purpose."""


class ConfigError(BirdbridgeError):
    """The configuration is unusable; the message names the file, key and problem."""


class DatabaseUnusable(ConfigError):
    """The database URL cannot be used: ``problem`` says why and what to do, without naming
    where the URL came from (the store does not know; the CLI names the key or variable).
    The message itself names ``bridge.database_url``, for callers that only print it."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"bridge.database_url: {problem}")
        self.problem = problem


class DatabaseUnavailable(BirdbridgeError):
    """The database server cannot be reached now (refused, timed out, starting up): not a
    configuration problem, so a supervisor's restart may fix it (exit 1, not 2: systemd's
    ``RestartPreventExitStatus=2`` would otherwise keep birdbridge down after a reboot in
    which PostgreSQL came up a little later). ``problem`` as in :class:`DatabaseUnusable`."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"bridge.database_url: {problem}")
        self.problem = problem


class NetworkError(BirdbridgeError):
    """A call to a network failed. ``network`` is "twitter" or "mastodon"; ``status`` the
    HTTP status when there was a reply, ``problem`` X's problem ``type`` when the body said
    one, ``detail`` the body's words (X's problem ``detail``, Mastodon's ``error``). Code
    that tells one refusal from another reads these, never the message."""

    def __init__(
        self,
        message: str,
        *,
        network: str = "",
        status: int | None = None,
        problem: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.network = network
        self.status = status
        self.problem = problem
        self.detail = detail


class RateLimited(NetworkError):
    """429: wait until ``retry_at`` (UTC) before calling again.

    ``scope`` says what waits: ``None`` is the whole account on this network (the side of the
    link pauses: Mastodon's API-wide throttle); otherwise the family of endpoints that ran out
    (X limits each endpoint, Mastodon throttles media uploads, posting and deletions on their
    own): only work that needs that family waits, everything else goes on."""

    def __init__(
        self,
        message: str,
        *,
        retry_at: datetime,
        network: str = "",
        scope: str | None = None,
        status: int | None = 429,
        problem: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, network=network, status=status, problem=problem, detail=detail)
        self.retry_at = retry_at
        self.scope = scope


class UsageCapped(RateLimited):
    """X's monthly usage cap is exhausted (429 "usage-capped"): pause X for this link."""


class AccountRefused(NetworkError):
    """The network refuses this account's requests until its operator acts: credentials,
    permissions, scopes, credits. The side of the link pauses (nothing is marked failed) and
    is tried again by itself every ``recheck_after``, or at once after `birdbridge resume`.

    ``kind`` names the pause ("auth", "credits", ...); ``fix`` says what the operator does."""

    kind = "refused"
    recheck_after = timedelta(hours=1)

    def __init__(self, message: str, *, fix: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.fix = fix


class AuthRevoked(AccountRefused):
    """401 (or 403 on the token itself): the credentials were refused."""

    kind = "auth"


class MissingPermission(AccountRefused):
    """The token works but may not do this: an X app or token without write access, a
    Mastodon token without the scope this call needs."""

    kind = "permission"


class CreditsDepleted(AccountRefused):
    """X pay-per-use: 402 "credits-depleted"; every request is refused until credits are
    added in the developer console."""

    kind = "credits"


class BudgetExceeded(AccountRefused):
    """A write to X that would take the link's spend this month over
    ``[links.twitter] monthly_budget_usd`` (or a read once the spend has reached it): not
    made. The X side pauses until the next UTC month (``retry_at``) or a raised budget."""

    kind = "budget"

    def __init__(self, message: str, *, retry_at: datetime, fix: str = "") -> None:
        super().__init__(message, fix=fix, network="twitter")
        self.retry_at = retry_at


class Transient(NetworkError):
    """5xx, timeout, dropped connection, garbage body: retry later.

    The call MAY have taken effect: a publish that failed this way needs recovery first."""


class Permanent(NetworkError):
    """The request itself is refused (4xx): retrying the same request will not help."""


class Duplicate(Permanent):
    """X refused a post as a duplicate of one of the account's recent posts (403): after an
    interrupted publish it usually means the post is already there."""


class ReplyRefused(Permanent):
    """The target refused to publish this as a reply (X's self-serve rule of 2026-02-23: a
    reply only where the author was mentioned or quoted). The link's ``reply_refused`` policy
    decides what happens instead."""


class MediaRejected(Permanent):
    """The target refused the media ids a post carried (expired, not yet processed, cleaned
    up by the server, or not the account's): the same ids will not do, new uploads may."""


class AlreadyReposted(Permanent):
    """The account has already reposted this post (X 403 "already retweeted")."""


class Unsupported(NetworkError):
    """The target cannot express this (e.g. a feature the API does not offer)."""
