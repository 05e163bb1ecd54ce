"""Mastodon through Mastodon.py: reading and writing statuses, Idempotency-Key, async media.
A status becomes a Post in networks/mastodon_posts.py (pure), which this adapter calls.

Every call goes through :meth:`MastodonNetwork._call`, which maps Mastodon.py failures to
:mod:`birdbridge.errors` from the reply the session hook saw (networks/mastodon_replies.py).
``ratelimit_method="throw"``: the engine reschedules instead of sleeping inside the library
(Mastodon.py would otherwise sleep up to 5 minutes per call).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from birdbridge.config import MastodonConfig
from birdbridge.errors import (
    AccountRefused,
    NetworkError,
    Permanent,
    Transient,
    Unsupported,
)
from birdbridge.media.progress import NO_PROGRESS, Progress
from birdbridge.models import (
    Account,
    MediaKind,
    NetworkName,
    OutgoingPart,
    Poll,
    Published,
)
from birdbridge.networks.base import (
    NetworkLimits,
    UploadedMedia,
    Verified,
)
from birdbridge.networks.http import USER_AGENT, TimeoutSession
from birdbridge.networks.mastodon_limits import instance_limits
from birdbridge.networks.mastodon_media import MastodonMediaUploader
from birdbridge.networks.mastodon_posts import parse_time
from birdbridge.networks.mastodon_py import Mastodon, mastodon
from birdbridge.networks.mastodon_reads import MastodonReads
from birdbridge.networks.mastodon_replies import LastReply, error_of, reply_of
from birdbridge.networks.mastodon_scopes import missing, problem
from birdbridge.networks.mastodon_throttles import mastodon_scope
from birdbridge.networks.meter import CallMeter

log = logging.getLogger(__name__)
T = TypeVar("T")

LIMITS_TTL = 24 * 3600.0  # seconds between two reads of the instance's configuration


class MastodonNetwork(MastodonReads):
    name = NetworkName.MASTODON
    # Repeating these cannot double them, so a 5xx, a reset or a timeout is retried at once,
    # a few times (networks/retry.py) before the delivery goes back to the outbox: a status
    # is created with an Idempotency-Key (the same status comes back for an hour; research
    # section 6), an edit sets the same text again, deleting what is gone is a 404 taken as
    # done, a second boost returns the first (reblog_service.rb:19-21) and an unreblog of
    # nothing returns the status (reblogs_controller.rb:22-38).
    safe_writes = frozenset(
        {
            "POST /api/v1/statuses",
            "PUT /api/v1/statuses/:id",
            "DELETE /api/v1/statuses/:id",
            "POST /api/v1/statuses/:id/reblog",
            "POST /api/v1/statuses/:id/unreblog",
        }
    )

    def __init__(self, config: MastodonConfig, *, timeout: float = 20, target: bool = True) -> None:
        # Mastodon throttles the API as a whole and media, posting and deletions on their own.
        self.meter = CallMeter("mastodon", scope=mastodon_scope)
        self._seen = LastReply()
        self._target = target  # the link posts to Mastodon (so the token must write)
        if config.access_token is None:
            raise ValueError("no Mastodon access token (networks/signins.py finds a sign-in's)")
        token = config.access_token.get_secret_value()
        session = TimeoutSession(timeout)
        session.hooks["response"].append(self._observe)
        self.api = Mastodon(
            access_token=token,
            api_base_url=config.api_base_url,
            ratelimit_method="throw",
            request_timeout=timeout,
            version_check_mode="none",  # no request in the constructor (api-notes M4)
            session=session,
            user_agent=USER_AGENT,
        )
        self._uploader = MastodonMediaUploader(config.api_base_url, token, timeout, self.meter)
        self._domain = urlsplit(config.api_base_url).hostname or config.api_base_url
        self._account: Account | None = None
        self._limits: NetworkLimits | None = None
        self._limits_at: float | None = None
        self._app_name: str | None = None  # "" once read and not told

    # -- the funnel ------------------------------------------------------------------
    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Every reply: counted, its limits remembered (reset on our clock) and kept for
        this thread, so a failed call is read from the reply (networks/mastodon_replies.py)."""
        reply = reply_of(
            response.status_code, response.headers, lambda: response.text, self.meter.clock()
        )
        self.meter.observe(str(response.request.method), response.url, reply.status, reply.headers)
        self._seen.reply = reply

    def _invoke(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._seen.reply = None
        try:
            return function(*args, **kwargs)
        except mastodon.MastodonNetworkError as exc:
            raise Transient(f"Mastodon {what}: network error: {exc}", network="mastodon") from None
        except mastodon.MastodonIllegalArgumentError as exc:
            raise Permanent(f"Mastodon {what}: {exc}", network="mastodon") from None
        except (mastodon.MastodonError, RecursionError, ValueError, KeyError, TypeError) as exc:
            # RecursionError: Mastodon.py's version check recurses when /api/v1/instance fails
            # (halcy/Mastodon.py#450).
            raise self._failure(what, exc) from None

    def _failure(self, what: str, exc: Exception) -> NetworkError:
        """What a failed call means, read from its reply: Mastodon.py's exceptions carry no
        headers, its MastodonRatelimitError nothing at all (api-notes M4). Without an
        error reply (a 2xx it could not read, a library failure) it is transient."""
        reply = self._seen.reply
        error = error_of(what, reply) if reply is not None else None
        return error or Transient(
            f"Mastodon {what}: unreadable reply ({type(exc).__name__}: {exc})", network="mastodon"
        )

    # -- identity and limits ---------------------------------------------------------
    def account(self) -> Account:
        if self._account is None:
            me = self._call(
                "GET /api/v1/accounts/verify_credentials", self.api.account_verify_credentials
            )
            try:
                username = str(me["username"])
                # The handle's domain is the one in the profile URL: an instance may serve
                # its API on another host than the one in its users' addresses.
                self._domain = _host(str(me.get("url") or ""), self._domain)
                self._account = Account(
                    network=self.name,
                    id=str(me["id"]),
                    handle=f"@{username}@{self._domain}",
                    url=str(me.get("url") or ""),
                    protected=bool(me.get("locked")),
                )
            except (KeyError, TypeError, AttributeError) as exc:
                raise Transient(
                    f"Mastodon: malformed account: {exc!r}", network="mastodon"
                ) from None
        return self._account

    def verify(self) -> Verified:
        """The token's scopes against what birdbridge needs (networks/mastodon_scopes.py),
        read from GET /api/v1/apps/verify_credentials: any valid token may ask since 4.3,
        which added ``scopes`` (api-notes M3); before, they cannot be known."""
        try:
            app = self._call("GET /api/v1/apps/verify_credentials", self.api.app_verify_credentials)
        except (Permanent, AccountRefused) as exc:  # before 4.3 it needed `read` (403)
            return Verified(facts=(f"scopes not verified: {exc}",))
        granted = app.get("scopes") if isinstance(app, dict) else None
        if not isinstance(granted, list):
            return Verified(
                facts=(
                    "scopes not verified: this server (Mastodon before 4.3) does not tell a "
                    "token's scopes; a missing one shows as a pause when first needed",
                )
            )
        scopes = sorted(str(s) for s in granted)
        gaps = missing(scopes, target=self._target)
        return Verified(
            facts=(f"token scopes: {' '.join(scopes)}",),
            problems=tuple(problem(need) for need in gaps),
        )

    def limits(self) -> NetworkLimits:
        """The instance's limits, read once a day (instances change them rarely)."""
        if self._limits_at is not None and time.monotonic() - self._limits_at > LIMITS_TTL:
            self._limits = None
        if self._limits is None:
            self._limits = instance_limits(self._instance())
            self._limits_at = time.monotonic()
        return self._limits

    def _instance(self) -> Any:
        """``/api/v2/instance``; before Mastodon 4.0 only ``/api/v1/instance`` exists, and its
        ``configuration`` has the same ``statuses`` and ``media_attachments`` keys."""
        try:
            return self._call("GET /api/v2/instance", self.api.instance_v2)
        except Permanent:
            return self._call("GET /api/v1/instance", self.api.instance_v1)

    def upload_media(
        self,
        path: Path,
        mime: str,
        kind: MediaKind,
        alt_text: str,
        *,
        progress: Progress = NO_PROGRESS,
    ) -> UploadedMedia:
        return self._uploader.upload(path, mime, alt_text, progress)

    # -- writing ---------------------------------------------------------------------
    def publish(self, part: OutgoingPart, *, idempotency_key: str) -> Published:
        try:
            return self._post(part, part.in_reply_to_id, idempotency_key)
        except Permanent as exc:
            if part.in_reply_to_id is None or exc.status != 404:
                raise
            # The parent is gone (deleted meanwhile): keep the words, lose the threading.
            log.warning(
                "Mastodon refused the reply to %s (%s); posting it standalone",
                part.in_reply_to_id,
                exc,
            )
            published = self._post(part, None, idempotency_key + "-standalone")
            return Published(id=published.id, url=published.url, reply_fallback=True)

    def _post(self, part: OutgoingPart, in_reply_to_id: str | None, key: str) -> Published:
        # Idempotency-Key: a retried request returns the first status instead of a duplicate;
        # Mastodon keeps keys for 1 hour (docs: methods/statuses#create).
        extra: dict[str, Any] = {}
        if part.quote_id:
            extra["quoted_status_id"] = part.quote_id
        status = self._call(
            "POST /api/v1/statuses",
            self.api.status_post,
            part.text,
            in_reply_to_id=in_reply_to_id,
            spoiler_text=part.spoiler_text or None,
            sensitive=part.sensitive,
            visibility=part.visibility.value,
            language=part.language,
            media_ids=list(part.media_ids) or None,
            poll=self._poll_param(part.poll),
            idempotency_key=key,
            **extra,
        )
        return _published(status)

    def _poll_param(self, poll: Poll | None) -> Any:
        if poll is None:
            return None
        return self.api.make_poll(list(poll.options), poll.duration, multiple=poll.multiple)

    def edit(self, post_id: str, part: OutgoingPart) -> Published:
        """PUT /api/v1/statuses/:id (3.5+): new text and CW. Mastodon's API replaces the media
        and the poll with what the request carries (Api::V1::StatusesController#update always
        passes ``media_ids`` and ``poll`` to UpdateStatusService), so the status is read first
        and its media and poll are sent again unchanged."""
        current = self._call("GET /api/v1/statuses/:id", self.api.status, post_id)
        try:
            media_ids = [str(m["id"]) for m in current.get("media_attachments") or []]
            poll = self._same_poll(current.get("poll"))
            status = self._call(
                "PUT /api/v1/statuses/:id",
                self.api.status_update,
                post_id,
                status=part.text,
                spoiler_text=part.spoiler_text,
                sensitive=part.sensitive,
                media_ids=media_ids or None,
                poll=poll,
            )
        except Permanent as exc:
            if exc.status in (404, 422):
                raise Unsupported(f"Mastodon refused the edit: {exc}", network="mastodon") from None
            raise
        except (KeyError, TypeError, AttributeError) as exc:
            raise Transient(f"Mastodon: malformed status: {exc!r}", network="mastodon") from None
        return _published(status)

    def _same_poll(self, poll: Any) -> Any:
        """The status's poll as an edit must resend it: same options, same closing time."""
        if not isinstance(poll, dict) or not poll.get("options"):
            return None
        expires = parse_time(poll.get("expires_at"))
        left = int((expires - datetime.now(UTC)).total_seconds()) if expires else 86400
        options = [str(o.get("title") or "") for o in poll["options"]]
        limits = self.limits().polls
        floor = limits.min_duration if limits else 300
        return self.api.make_poll(options, max(left, floor), multiple=bool(poll.get("multiple")))

    def repost(self, post_id: str) -> Published:
        """A boost (POST /api/v1/statuses/:id/reblog); the reblog has its own status id."""
        status = self._call("POST /api/v1/statuses/:id/reblog", self.api.status_reblog, post_id)
        return _published(status)

    def unrepost(self, post_id: str) -> None:
        """POST /api/v1/statuses/:id/unreblog: 200 with the status also when there was no
        boost (Api::V1::Statuses::ReblogsController#destroy)."""
        try:
            self._call("POST /api/v1/statuses/:id/unreblog", self.api.status_unreblog, post_id)
        except Permanent as exc:
            if exc.status != 404:
                raise  # the boosted status is gone: so is the boost

    def app_name(self) -> str | None:
        """The token's application (GET /api/v1/apps/verify_credentials), read once. Mastodon
        shows a status's ``application`` to its owner (StatusSerializer, ``show_application?``),
        so recovery can tell our posts from the user's own words typed elsewhere."""
        if self._app_name is None:
            try:
                app = self._call(
                    "GET /api/v1/apps/verify_credentials", self.api.app_verify_credentials
                )
            except (Permanent, AccountRefused):
                return None  # before 4.3 this needed `read`: then posts are told apart without
            name = app.get("name") if isinstance(app, dict) else None
            self._app_name = str(name) if name else ""
        return self._app_name or None

    def delete(self, post_id: str) -> None:
        try:
            self._call("DELETE /api/v1/statuses/:id", self.api.status_delete, post_id)
        except Permanent as exc:
            if exc.status != 404:
                raise  # already gone is what we wanted; anything else is an error


def _published(status: Any) -> Published:
    try:
        return Published(id=str(status["id"]), url=status.get("url") or status.get("uri"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise Transient(
            f"Mastodon: malformed status in reply: {exc!r}", network="mastodon"
        ) from None


def _host(url: str, default: str) -> str:
    return urlsplit(url).hostname or default
