"""The X sandbox's options and what it holds, shared by every part of the server (the parts
are mixins of :class:`XState`; server.py puts them together)."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Iterable

from birdbridge.sandbox.common import Response, SandboxServer
from birdbridge.sandbox.common.media import MediaFolder
from birdbridge.sandbox.x.errors import error_body
from birdbridge.sandbox.x.limits import (
    DEFAULT_CREDITS_USD,
    DEFAULT_WINDOW_S,
    ENDPOINT_DEFAULTS,
    too_many,
)
from birdbridge.sandbox.x.media.kinds import DEFAULT_MEDIA_LIMITS, DEFAULT_MEDIA_TTL
from birdbridge.sandbox.x.oauth_tokens import (
    CLIENT_TYPES,
    DEFAULT_ACCESS_TOKEN_TTL,
    DEFAULT_REDIRECT_URI,
    AuthorizationCode,
    OAuth1Grant,
    OAuth2Token,
    RequestToken,
    new_client_id,
)
from birdbridge.sandbox.x.records import XMedia, XPost, XUser

_TWITTER_EPOCH_MS = 1288834974657
_ALNUM = string.ascii_letters + string.digits


def random_text(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class XState(SandboxServer):
    """X API v2 on 127.0.0.1: its options, its stores (guarded by the server's lock), and
    X's error bodies for what the router and the fault injection answer."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        reply_restriction: bool = True,
        self_replies_allowed: bool = True,
        credits_usd: float | None = DEFAULT_CREDITS_USD,
        retweet_reply_id: bool = False,
        timeline_lag_s: float = 0.0,
        media_processing_seconds: float = 0.5,
        media_ttl: float = DEFAULT_MEDIA_TTL,
        media_link_in_text: bool = True,
        quotes_allowed: bool = False,
        edit_window_s: float = 1800,
        redirect_uris: Iterable[str] = (DEFAULT_REDIRECT_URI,),
        access_token_ttl: float = DEFAULT_ACCESS_TOKEN_TTL,
        oauth2_client_type: str = "confidential",
    ) -> None:
        super().__init__(host, port)
        if oauth2_client_type not in CLIENT_TYPES:
            raise ValueError(f"oauth2_client_type must be one of {CLIENT_TYPES}")
        # Quote posts through the API: refused on self-serve tiers since 2026-04-20 (api-notes
        # X2); True behaves like an Enterprise app. The control API can always quote.
        self.quotes_allowed = quotes_allowed
        # Edit window from the original post: 30 min in XD:…/edit-posts.mdx, 1 h in the
        # 2025-10-03 changelog entry (api-notes X5), hence a parameter.
        self.edit_window_s = float(edit_window_s)
        # Real X ends a post's text with a t.co link to its media; False leaves it out.
        self.media_link_in_text = media_link_in_text
        self.media_processing_seconds = float(media_processing_seconds)  # keep <= 1 s
        self.media_ttl = float(media_ttl)  # expires_after_secs of uploaded media
        self.media_limits: dict[str, int] = dict(DEFAULT_MEDIA_LIMITS)  # bytes, by category
        # APPEND's reply: "expires_at" is the v2 reference's {"data": {"expires_at": ...}};
        # "204" and "200" answer with an empty body, as the v1.1 APPEND did.
        self.media_append_reply = "expires_at"
        # The self-serve reply rule (2026-02-23): a reply only where the parent's author
        # mentioned or quoted the replier. Whether one's own thread is exempt is not
        # documented (api-notes X2): allowed by default, refusable for tests.
        self.reply_restriction = reply_restriction
        self.self_replies_allowed = self_replies_allowed
        # Pay-per-use credits in USD (None: not metered), as every self-serve account is
        # since 2026-02: each billable call takes its price, and at zero every request is
        # refused with 402 credits-depleted until credits are added (set_credits).
        self.credits_usd = credits_usd
        self.spent_usd = 0.0
        # The retweet reply: the manage-retweets guide shows {"data": {"retweeted": true}};
        # only the newest openapi.json adds the retweet's own id (``rest_id``).
        self.retweet_reply_id = retweet_reply_id
        # X's timelines are eventually consistent: a post can take a moment to show in its
        # author's timeline (a test sets this to see what recovery does meanwhile).
        self.timeline_lag_s = float(timeline_lag_s)
        self.consumer_key = random_text(25)
        self.consumer_secret = random_text(50)
        self.bearer_token = "AAAAAAAAAAAAAAAAAAAAA" + random_text(60)
        # The app's OAuth 2.0 client (docs/api-notes.md X7). A confidential client ("Web App,
        # Automated App or bot") authenticates to the token endpoints with Basic auth; a public
        # one ("Native App, Single page App") sends client_id in the body instead
        # (XD:fundamentals/authentication/oauth-2-0/authorization-code.mdx).
        self.oauth2_client_type = oauth2_client_type
        self.client_id = new_client_id()
        self.client_secret = random_text(50, _ALNUM + "-_")
        # Lifetime of OAuth 2.0 access tokens made from now on (X: 2 h); a test shortens it.
        self.access_token_ttl = float(access_token_ttl)
        # Whether a refresh also ends the access tokens the refresh token's grant made before.
        # X does not document it; RFC 6749 (1.5) lets them live until they expire.
        self.refresh_revokes_access_tokens = False
        self.token_refreshes = 0  # refresh_token grants served
        # Callback URLs registered for the app: OAuth 2.0 redirect URIs and OAuth 1.0a
        # callbacks, matched exactly (XD:…/authorization-code.mdx, "exact match validation").
        self.redirect_uris: list[str] = list(dict.fromkeys(redirect_uris))
        # The server's clock (epoch seconds): new posts' created_at and ids, what a timeline
        # shows yet, the edit window and rate-limit windows. A test or a benchmark may make it
        # another clock, e.g. its engine's (as MastodonSandbox.clock).
        self.clock: Callable[[], float] = time.time
        self._init_stores()
        self._register_routes()

    def _init_stores(self) -> None:
        self._users: dict[str, XUser] = {}  # by id
        self._by_username: dict[str, str] = {}  # lower-cased username -> id
        self._by_token: dict[str, XUser] = {}
        self._tweets: dict[str, XPost] = {}  # by id
        self._chains: dict[str, list[str]] = {}  # edit chains by original id, oldest first
        self._last_tweet_id = 1800000000000000000
        self._next_user_id = 1700000000000000001
        # Media bytes live on disk only, in this per-server directory (removed by stop()).
        self._media_dir = MediaFolder("birdbridge-x-media-")
        self._media: dict[str, XMedia] = {}  # by media id
        self._media_by_key: dict[str, str] = {}
        self._last_media_id = 1900000000000000000
        self._limits: dict[str, tuple[int, float]] = {
            k: (v, DEFAULT_WINDOW_S) for k, v in ENDPOINT_DEFAULTS.items()
        }
        self._windows: dict[tuple[str, str], list[float]] = {}  # -> [used, reset_at]
        # Sign-in flows (oauth1_flow.py, oauth2_flow.py), each by its token or code.
        self._request_tokens: dict[str, RequestToken] = {}
        self._oauth1_grants: dict[str, OAuth1Grant] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._oauth2_tokens: dict[str, OAuth2Token] = {}

    def _register_routes(self) -> None:
        """The API's routes and the control API's (the server that puts the parts together)."""
        raise NotImplementedError

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self._media_dir.remove()

    # -- overrides of the base ---------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def error_response(self, status: int, message: str) -> Response:
        return error_body(status, message)

    def rate_limit_response(self, reset_at: float) -> Response:
        # Injected 429s do not know the endpoint; the headers still carry an epoch reset.
        return too_many(100, reset_at)

    # -- lookups (call with the lock held) ---------------------------------------------
    def _user_by_name(self, username: str) -> XUser:
        user_id = self._by_username.get(username.lstrip("@").lower())
        if user_id is None:
            raise ValueError(f"no X user {username!r}")
        return self._users[user_id]

    def _new_tweet_id(self) -> str:
        snowflake = (int(self.now() * 1000) - _TWITTER_EPOCH_MS) << 22
        self._last_tweet_id = max(self._last_tweet_id + 1, snowflake)
        return str(self._last_tweet_id)
