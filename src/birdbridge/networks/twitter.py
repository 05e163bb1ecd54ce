"""X (Twitter) API v2 through tweepy's ``Client``, OAuth 1.0a user context.

Every call goes through :meth:`TwitterNetwork._call`, which maps tweepy and requests failures
to :mod:`birdbridge.errors`. tweepy's host is hard-coded; :class:`BaseUrlSession` points it at
``api_base_url`` and adds the timeout tweepy lacks (api-notes X3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
import requests.auth
import tweepy
from requests_oauthlib import OAuth1

from birdbridge.config import TwitterConfig
from birdbridge.errors import (
    AlreadyReposted,
    Permanent,
    ReplyRefused,
    Transient,
    Unsupported,
)
from birdbridge.media.progress import NO_PROGRESS, Progress
from birdbridge.models import (
    Account,
    MediaKind,
    NetworkName,
    OutgoingPart,
    Published,
)
from birdbridge.networks.base import (
    NetworkLimits,
    UploadedMedia,
    Verified,
)
from birdbridge.networks.bearer import BearerAuth, BearerTokens
from birdbridge.networks.http import BaseUrlSession
from birdbridge.networks.meter import CallMeter, per_endpoint
from birdbridge.networks.replies import X_READ_ONLY_FIX, error_for_reply, json_or_none
from birdbridge.networks.twitter_media import XMediaUploader
from birdbridge.networks.twitter_reads import KnownAccount, TwitterReads, x_account
from birdbridge.networks.twitter_spec import (
    PAGE_SIZE,
    RECOVERY_MARGIN,
    TWEET_FIELDS,
    X_MEDIA_LIMITS,
    X_POLL_LIMITS,
    expect_dict,
    expect_list,
    json_body,
)
from birdbridge.networks.x_billing import XBilling
from birdbridge.render.capabilities import X_CAPABILITIES
from birdbridge.render.length import X_MAX_WEIGHTED_LENGTH, x_weighted_length

log = logging.getLogger(__name__)
T = TypeVar("T")

# X's 403 detail for a reply to a deleted post ("You attempted to reply to a Tweet that is
# deleted or not visible to you."). X's 403s for this and for a refused reply (and most
# others) share the problem type about:blank and the title Forbidden: the detail's words are
# the only thing that tells them apart.
PARENT_GONE = "deleted or not visible"


def oauth1_keys(config: TwitterConfig) -> dict[str, str]:
    """The four OAuth 1.0a values, or ValueError when the config holds no tokens (the caller
    uses a stored sign-in instead: networks/signins.py)."""
    values = {
        "consumer_key": config.consumer_key,
        "consumer_secret": config.consumer_secret,
        "access_token": config.access_token,
        "access_token_secret": config.access_token_secret,
    }
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"no OAuth 1.0a {', '.join(missing)} for X")
    return {name: value.get_secret_value() for name, value in values.items() if value is not None}


# What `birdbridge login x` asks for (OAuth 2.0): reading and writing posts, uploading media,
# reading the user (GET /2/users/me), and offline.access for a refresh token (api-facts 1;
# XD:fundamentals/authentication/oauth-2-0/authorization-code.mdx, "Scopes").
X_OAUTH2_SCOPES = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")


class TwitterNetwork(TwitterReads):
    name = NetworkName.TWITTER

    def __init__(
        self, config: TwitterConfig, *, timeout: float = 20, tokens: BearerTokens | None = None
    ) -> None:
        """OAuth 1.0a with the config's keys and tokens, or, with ``tokens``, OAuth 2.0 user
        context with the access tokens of a ``birdbridge login x`` sign-in."""
        self._config = config
        session = BaseUrlSession(config.api_base_url, timeout)
        if tokens is None:
            keys = oauth1_keys(config)
            self.client = tweepy.Client(
                **keys,
                return_type=dict,
                wait_on_rate_limit=False,  # never sleep inside a library call: we reschedule
            )
            auth: requests.auth.AuthBase = OAuth1(
                keys["consumer_key"],
                keys["consumer_secret"],
                keys["access_token"],
                keys["access_token_secret"],
            )
            self.user_auth = True
        else:
            # tweepy sends OAuth 2.0 user tokens as its "bearer token" and only when a call
            # says user_auth=False (api-facts 1: writes default to OAuth 1.0a). The token
            # changes on every refresh, so the session's auth sets it on each request.
            self.client = tweepy.Client(
                bearer_token="-", return_type=dict, wait_on_rate_limit=False
            )
            auth = BearerAuth(tokens)
            session.auth = auth
            self.user_auth = False
        self.client.session = session
        self.meter = CallMeter("twitter", scope=per_endpoint)
        # What X bills for each reply (networks/x_prices.py): own posts at the Owned Reads rate
        # when the account owns the app -- the config's tokens are the owner's (portal).
        owned = config.app_owner if config.app_owner is not None else tokens is None
        self.billing = XBilling(owned=owned)
        session.before_send = self.billing.before_send  # a budget may stop a write here
        self.client.session.hooks["response"].append(self._observe)
        self._uploader = XMediaUploader(self.client.session, config.api_base_url, auth)
        self._account: Account | None = None
        self._known: KnownAccount | None = None  # see know_account
        self.access_level: str | None = None  # the last x-access-level header seen
        self.granted_scopes: frozenset[str] | None = None  # OAuth 2.0: what the sign-in got

    # -- the funnel ------------------------------------------------------------------
    def _invoke(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if "user_auth" in kwargs:
            # Every call acts as the user: OAuth 1.0a (True) or OAuth 2.0 user context (False).
            kwargs["user_auth"] = self.user_auth
        try:
            return function(*args, **kwargs)
        except tweepy.HTTPException as exc:
            response = exc.response
            error = error_for_reply(
                "twitter",
                what,
                response.status_code,
                response.headers,
                json_or_none(response.text),
                per_endpoint,
            )
            raise (error or Transient(f"X {what}: unexpected reply", network="twitter")) from None
        except requests.Timeout:
            raise Transient(f"X {what}: timed out", network="twitter") from None
        except requests.RequestException as exc:
            # ConnectionError, a dropped connection, and JSONDecodeError (garbage body) land here.
            raise Transient(f"X {what}: {type(exc).__name__}: {exc}", network="twitter") from None
        except ValueError as exc:
            raise Transient(f"X {what}: unreadable reply: {exc}", network="twitter") from None

    # -- identity and limits ---------------------------------------------------------
    def account(self) -> Account:
        """Who the tokens act as, asked of X (GET /2/users/me, a billed user read) unless a
        read has shown it already (TwitterReads.account_seen)."""
        if self._account is None:
            body = self._call(
                "GET /2/users/me",
                self.client.get_me,
                user_fields=["id", "name", "username", "protected"],
                user_auth=True,
            )
            data = expect_dict(body, "data", "GET /2/users/me")
            self._account = x_account(data)
        return self._account

    def _post_url(self, post_id: str) -> str:
        """A post of the account's: x.com/<username>/status/<id>, as X links it."""
        if self._account is None and self._known is not None and self._known.handle:
            return f"https://x.com/{self._known.handle.lstrip('@')}/status/{post_id}"
        return f"{self.account().url}/status/{post_id}"

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        super()._observe(response, *args, **kwargs)
        self.billing.observe(response)
        level = response.headers.get("x-access-level")
        if level:
            self.access_level = level

    def verify(self) -> Verified:
        """The token's permission, from the ``x-access-level`` header X sends on user-context
        replies ("read", "read-write", "read-write-directmessages"; developer docs, App
        permissions): a read-only token fails at the first post, so say it now."""
        self.account()
        if not self.user_auth:
            return self._verify_scopes()
        level = self.access_level
        if level is None:
            return Verified(
                facts=(
                    "X did not report the token's access level (x-access-level): write "
                    "access is verified by the first post",
                )
            )
        if "write" not in level:
            return Verified(
                problems=(
                    f"the X token may only read (x-access-level: {level}). {X_READ_ONLY_FIX}",
                )
            )
        return Verified(facts=(f"access level {level}: the token may post",))

    def _verify_scopes(self) -> Verified:
        """OAuth 2.0: what the sign-in was granted (X's token reply lists the scopes)."""
        if self.granted_scopes is None:
            return Verified(facts=("signed in with OAuth 2.0",))
        missing = sorted(set(X_OAUTH2_SCOPES) - self.granted_scopes)
        if missing:
            return Verified(
                problems=(
                    f"the X sign-in was not granted {' '.join(missing)}. "
                    f"{self.auth_fix or 'Sign in again with `birdbridge login x`'}",
                )
            )
        return Verified(facts=(f"OAuth 2.0 scopes: {' '.join(sorted(self.granted_scopes))}",))

    def limits(self) -> NetworkLimits:
        return NetworkLimits(
            max_characters=X_MAX_WEIGHTED_LENGTH,
            counter=x_weighted_length,
            media=X_MEDIA_LIMITS,
            polls=X_POLL_LIMITS,
            quotes=False,  # quote posts through the API ended for self-serve apps (2026-04-20)
            capabilities=X_CAPABILITIES,
            # An X edit is a whole new version: its media would be uploaded again.
            edits_with_media=False,
            idempotency_window=None,  # X takes no idempotency key
        )

    def upload_media(
        self,
        path: Path,
        mime: str,
        kind: MediaKind,
        alt_text: str,
        *,
        progress: Progress = NO_PROGRESS,
    ) -> UploadedMedia:
        return self._uploader.upload(path, mime, kind, alt_text, progress)

    # -- writing ---------------------------------------------------------------------
    def publish(self, part: OutgoingPart, *, idempotency_key: str) -> Published:
        # X has no idempotency key: recovery searches our own posts instead (engine/recovery.py).
        try:
            return self._create(part, part.in_reply_to_id)
        except Permanent as exc:
            if part.in_reply_to_id is None or exc.status != 403:
                raise
            if PARENT_GONE in (exc.detail or "").lower():
                # The parent is gone (deleted meanwhile): keep the words, lose the threading.
                log.warning("X: the post %s replied to is gone; posting standalone", exc)
                published = self._create(part, None)
                return Published(id=published.id, url=published.url, reply_fallback=True)
            if _is_reply_refusal(exc):
                # The 2026 self-serve reply rule (api-notes X2): the engine's
                # `reply_refused` policy decides what happens instead.
                raise ReplyRefused(
                    str(exc),
                    network="twitter",
                    status=exc.status,
                    problem=exc.problem,
                    detail=exc.detail,
                ) from None
            raise

    def _create(self, part: OutgoingPart, in_reply_to_id: str | None) -> Published:
        poll = part.poll
        body = self._call(
            "POST /2/tweets",
            self.client.create_tweet,
            text=part.text or None,  # a post with media may have no text
            in_reply_to_tweet_id=in_reply_to_id,
            media_ids=list(part.media_ids) or None,
            poll_options=list(poll.options) if poll else None,
            poll_duration_minutes=poll.duration // 60 if poll else None,
            user_auth=True,
        )
        data = expect_dict(body, "data", "POST /2/tweets")
        tweet_id = str(data["id"])
        return Published(id=tweet_id, url=self._post_url(tweet_id))

    def app_name(self) -> str | None:
        return None  # X's v2 posts carry no app that the API reliably tells

    def delete(self, post_id: str) -> None:
        try:
            self._call("DELETE /2/tweets/:id", self.client.delete_tweet, post_id, user_auth=True)
        except Permanent as exc:
            if exc.status != 404:
                raise  # already gone is what we wanted; anything else is an error

    def edit(self, post_id: str, part: OutgoingPart) -> Published:
        """A new version of ``post_id`` (api-notes X5: X Premium, within X's edit
        window; every version gets a new id). Refusals raise :class:`Unsupported`."""
        body: dict[str, Any] = {"text": part.text, "edit_options": {"previous_post_id": post_id}}
        if part.media_ids:
            body["media"] = {"media_ids": list(part.media_ids)}
        try:
            reply = self._call(
                "POST /2/tweets (edit)",
                self.client.request,
                "POST",
                "/2/tweets",
                json=body,
                user_auth=True,
            )
        except Permanent as exc:
            if exc.status in (400, 403):
                raise Unsupported(
                    f"X refused to edit post {post_id} ({exc}); editing needs X Premium and "
                    "a post inside X's edit window",
                    network="twitter",
                ) from None
            raise
        data = expect_dict(json_body(reply), "data", "POST /2/tweets (edit)")
        new_id = str(data["id"])
        return Published(id=new_id, url=self._post_url(new_id))

    def repost(self, post_id: str) -> Published:
        """A native retweet of ``post_id`` (POST /2/users/:id/retweets). The guide's reply is
        ``{"data": {"retweeted": true}}`` with no id of the retweet (only the newest spec adds
        ``rest_id``): the loop guard needs that id, so it is looked up when missing; and a
        retweet that exists already (a retry after a lost reply) is that one."""
        started = datetime.now(UTC)
        try:
            body = self._call(
                "POST /2/users/:id/retweets", self.client.retweet, post_id, user_auth=True
            )
        except AlreadyReposted:
            return self._find_retweet(post_id, since=None)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data.get("retweeted"):
            raise Transient(
                "X POST /2/users/:id/retweets: reply says nothing was retweeted", network="twitter"
            )
        retweet_id = str(data.get("rest_id") or data.get("id") or "")
        if retweet_id:
            return Published(id=retweet_id, url=self._post_url(retweet_id))
        return self._find_retweet(post_id, since=started)

    def _find_retweet(self, post_id: str, since: datetime | None) -> Published:
        """The account's retweet of ``post_id``, from its own recent timeline (an owned read)."""
        params: dict[str, Any] = {"max_results": PAGE_SIZE, "tweet_fields": TWEET_FIELDS}
        if since is not None:
            start = since - RECOVERY_MARGIN
            params["start_time"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self._call(
            "GET /2/users/:id/tweets",
            self.client.get_users_tweets,
            self.account_id(),
            user_auth=True,
            **params,
        )
        for tweet in expect_list(body, "data"):
            references = tweet.get("referenced_tweets") or []
            if any(
                isinstance(r, dict) and r.get("type") == "retweeted" and str(r.get("id")) == post_id
                for r in references
            ):
                found = str(tweet["id"])
                return Published(id=found, url=self._post_url(found))
        raise Transient(
            f"X retweeted {post_id} but the retweet is not in the timeline yet; looked again "
            "on the next attempt",
            network="twitter",
        )

    def unrepost(self, post_id: str) -> None:
        """DELETE /2/users/:id/retweets/:source_tweet_id (docs.x.com posts/retweets): the
        documented way to undo a retweet; succeeds with no action when there is none."""
        self._call(
            "DELETE /2/users/:id/retweets/:source_tweet_id",
            self.client.unretweet,
            post_id,
            user_auth=True,
        )


def _is_reply_refusal(exc: Permanent) -> bool:
    """X's 403 for a reply the self-serve rule refuses ("Reply to this conversation is not
    allowed ..."): told by the detail's words (the type is about:blank, see PARENT_GONE)."""
    lowered = (exc.detail or "").lower()
    return exc.status == 403 and ("repl" in lowered or "conversation" in lowered)
