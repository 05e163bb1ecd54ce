"""The X sandbox put together: :class:`XSandbox` is every part (a mixin of XState) with its
routes."""

from __future__ import annotations

from birdbridge.sandbox.x.control import ControlRoutes
from birdbridge.sandbox.x.media_routes import MediaRoutes
from birdbridge.sandbox.x.oauth1_flow import OAuth1Flow
from birdbridge.sandbox.x.oauth2_flow import OAuth2Flow
from birdbridge.sandbox.x.oauth_control import OAuthControls
from birdbridge.sandbox.x.post_reads import PostReads
from birdbridge.sandbox.x.post_writes import PostWrites


class XSandbox(
    ControlRoutes, OAuthControls, PostWrites, PostReads, MediaRoutes, OAuth1Flow, OAuth2Flow
):
    """X API v2 on 127.0.0.1: users/me, a user's timeline, tweet lookup (one and many),
    create, edit and delete tweets, polls, retweets (create and undo), media uploads,
    per-user per-endpoint rate limits, pay-per-use credits, OAuth 1.0a user context, OAuth
    2.0 user context (scopes checked) and app-only Bearer for reads, X's sign-in flows
    (OAuth 1.0a 3-legged and PIN, OAuth 2.0 with PKCE, refresh and revoke), and a JSON
    control API under ``/_sandbox/`` (options: :class:`XState`)."""

    def _register_routes(self) -> None:
        self._register_read_routes()
        self._register_write_routes()
        self._register_media_routes()
        self._register_oauth1_routes()
        self._register_oauth2_routes()
        self._register_control_routes()
        self._register_oauth_control_routes()
