"""What a test does to the sign-in side of the X sandbox, from Python and under
``/_sandbox/oauth/``: register callback URLs, shorten or end access tokens, play a person who
removes the app in their settings, and see which tokens exist and how many refreshes were
served."""

from __future__ import annotations

from typing import Any

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.oauth_tokens import OAuth2Token
from birdbridge.sandbox.x.state import XState


class OAuthControls(XState):
    def _register_oauth_control_routes(self) -> None:
        self.route("GET", r"/_sandbox/oauth", self._control_oauth)
        self.route("GET", r"/_sandbox/oauth/redirect_uris", self._control_redirect_uris)
        self.route("POST", r"/_sandbox/oauth/redirect_uris", self._control_register_uri)
        self.route("POST", r"/_sandbox/oauth/access_token_ttl", self._control_ttl)
        self.route("POST", r"/_sandbox/oauth/expire_access_tokens", self._control_expire)
        self.route("POST", r"/_sandbox/oauth/revoke_grants", self._control_revoke_grants)
        self.route("GET", r"/_sandbox/oauth/tokens", self._control_tokens)

    def register_redirect_uri(self, uri: str) -> None:
        """Add a callback URL to the app's settings (OAuth 2.0 redirect URI and OAuth 1.0a
        callback alike; matched exactly)."""
        if not isinstance(uri, str) or not uri or uri != uri.strip():
            raise ValueError("a redirect URI is a non-empty string without surrounding spaces")
        with self._lock:
            if uri not in self.redirect_uris:
                self.redirect_uris.append(uri)

    def expire_access_tokens(self, username: str) -> int:
        """Every OAuth 2.0 access token of the user expires now (refresh tokens still work).
        Returns how many expired."""
        with self._lock:
            user = self._user_by_name(username)
            now = self.now()
            count = 0
            for token in self._oauth2_tokens.values():
                if token.user_id == user.id and token.kind == "access" and token.state == "active":
                    token.expires_at = min(token.expires_at or now, now)
                    count += 1
            return count

    def revoke_grants(self, username: str) -> int:
        """The user removes the app in Settings > Connected apps: every token the app holds
        for them stops working - OAuth 2.0 access and refresh tokens, OAuth 1.0a tokens of
        the sign-in flows and create_user's own token - and pending codes and request tokens
        go ("These tokens do not expire but can be revoked by the user at any time",
        XD:…/oauth-1-0a/obtaining-user-access-tokens.mdx). Returns how many tokens ended."""
        with self._lock:
            user = self._user_by_name(username)
            count = 0
            for token in self._oauth2_tokens.values():
                if token.user_id == user.id and token.state == "active":
                    token.state = "revoked"
                    count += 1
            for key in [k for k, g in self._oauth1_grants.items() if g.user_id == user.id]:
                del self._oauth1_grants[key]
                count += 1
            for key in [k for k, u in self._by_token.items() if u.id == user.id]:
                del self._by_token[key]
                count += 1
            for code in [k for k, c in self._codes.items() if c.user_id == user.id]:
                del self._codes[code]
            for key in [k for k, r in self._request_tokens.items() if r.user_id == user.id]:
                del self._request_tokens[key]
            return count

    def oauth2_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        """Every OAuth 2.0 access and refresh token issued (of one user), oldest first:
        ``token``, ``kind`` (access | refresh), ``username``, ``scope``, ``state`` (active |
        expired | used | revoked; "used" is a refresh token already exchanged),
        ``issued_at``, ``expires_at``, ``replaced_by`` (the refresh token that a used one was
        exchanged for) and ``grant_id`` (shared by the tokens of one authorization)."""
        with self._lock:
            user_id = self._user_by_name(username).id if username is not None else None
            now = self.now()
            return [
                self._token_row(token, now)
                for token in self._oauth2_tokens.values()
                if user_id is None or token.user_id == user_id
            ]

    def _token_row(self, token: OAuth2Token, now: float) -> dict[str, Any]:
        state = token.state
        if state == "active" and token.expires_at is not None and now >= token.expires_at:
            state = "expired"
        return {
            "token": token.token,
            "kind": token.kind,
            "username": self._users[token.user_id].username,
            "scope": " ".join(token.scopes),
            "state": state,
            "issued_at": token.issued_at,
            "expires_at": token.expires_at,
            "replaced_by": token.replaced_by,
            "grant_id": token.grant_id,
        }

    # -- the same over HTTP ----------------------------------------------------------------
    def _control_oauth(self, request: Request) -> Response:
        """GET /_sandbox/oauth: the app's OAuth settings and counters."""
        with self._lock:
            return json_response(
                {
                    "consumer_key": self.consumer_key,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "client_type": self.oauth2_client_type,
                    "redirect_uris": list(self.redirect_uris),
                    "access_token_ttl": self.access_token_ttl,
                    "token_refreshes": self.token_refreshes,
                }
            )

    def _control_redirect_uris(self, request: Request) -> Response:
        with self._lock:
            return json_response({"redirect_uris": list(self.redirect_uris)})

    def _control_register_uri(self, request: Request) -> Response:
        """POST /_sandbox/oauth/redirect_uris ``{"uri": "..."}``."""
        body = request.json() or {}
        uri = body.get("uri") if isinstance(body, dict) else None
        try:
            self.register_redirect_uri(uri if isinstance(uri, str) else "")
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return self._control_redirect_uris(request)

    def _control_ttl(self, request: Request) -> Response:
        """POST /_sandbox/oauth/access_token_ttl ``{"seconds": N}``: for tokens made later."""
        body = request.json() or {}
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            return json_response({"error": "seconds must be a positive number"}, 422)
        with self._lock:
            self.access_token_ttl = float(seconds)
        return json_response({"access_token_ttl": self.access_token_ttl})

    def _control_expire(self, request: Request) -> Response:
        """POST /_sandbox/oauth/expire_access_tokens ``{"username"}``."""
        return self._per_user(request, "expired", self.expire_access_tokens)

    def _control_revoke_grants(self, request: Request) -> Response:
        """POST /_sandbox/oauth/revoke_grants ``{"username"}``."""
        return self._per_user(request, "revoked", self.revoke_grants)

    def _per_user(self, request: Request, key: str, action: Any) -> Response:
        body = request.json() or {}
        username = body.get("username") if isinstance(body, dict) else None
        try:
            count = action(str(username or ""))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 404)
        return json_response({key: count})

    def _control_tokens(self, request: Request) -> Response:
        """GET /_sandbox/oauth/tokens[?username=]: ``{"token_refreshes", "tokens"}``."""
        try:
            rows = self.oauth2_tokens(request.arg("username"))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 404)
        with self._lock:
            refreshes = self.token_refreshes
        return json_response({"token_refreshes": refreshes, "tokens": rows})
