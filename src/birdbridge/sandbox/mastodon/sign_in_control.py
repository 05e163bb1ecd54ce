"""Sign-in, as a test sees and steers it: the registered applications, the tokens issued at
``/oauth/token``, and a user revoking apps in Preferences > Authorized apps; from Python and
over HTTP (``GET /_sandbox/apps``, ``GET /_sandbox/oauth_tokens``,
``POST /_sandbox/revoke_tokens``)."""

from __future__ import annotations

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.apps import AppRoutes
from birdbridge.sandbox.mastodon.authorize import AuthorizeRoutes
from birdbridge.sandbox.mastodon.oauth_metadata import OAuthMetadataRoutes
from birdbridge.sandbox.mastodon.tokens import TokenRoutes


class SignInRoutes(TokenRoutes, AuthorizeRoutes, AppRoutes, OAuthMetadataRoutes):
    def _register_sign_in_routes(self) -> None:
        self._register_app_routes()
        self._register_authorize_routes()
        self._register_token_routes()
        self._register_oauth_metadata_routes()
        self.route("GET", r"/_sandbox/apps", self._control_apps)
        self.route("GET", r"/_sandbox/oauth_tokens", self._control_oauth_tokens)
        self.route("POST", r"/_sandbox/revoke_tokens", self._control_revoke_tokens)

    def applications(self) -> list[dict[str, object]]:
        """Every application registered with ``POST /api/v1/apps``, oldest first: ``id``,
        ``name``, ``website``, ``scopes`` and ``redirect_uris`` (as registered),
        ``client_id``, ``client_secret``, ``created_at``."""
        with self._lock:
            return [client.as_dict() for client in self._apps.values()]

    def issued_tokens(self, username: str | None = None) -> list[dict[str, object]]:
        """Every token ``/oauth/token`` issued (of ``username`` only, if given), oldest
        first: ``access_token``, ``client_id``, ``username`` (None for an app token),
        ``scopes``, ``grant_type``, ``created_at``, ``revoked``."""
        with self._lock:
            wanted = self._require_user(username).id if username is not None else None
            return [
                token.as_dict(self._username(token.account_id))
                for token in self._issued.values()
                if wanted is None or token.account_id == wanted
            ]

    def revoke_tokens(self, username: str, client_id: str | None = None) -> int:
        """The user revokes an app in Preferences (every app if ``client_id`` is None):
        its tokens and unused codes stop working (Doorkeeper revoke_all_for, called by
        Oauth::AuthorizedApplicationsController#destroy). Returns how many tokens."""
        with self._lock:
            user = self._require_user(username)
            tokens = [
                t.token
                for t in self._issued.values()
                if t.account_id == user.id
                and t.revoked_at is None
                and client_id in (None, t.client_id)
            ]
            for token in tokens:
                self._revoke_token(token)
            for grant in self._codes.values():
                if grant.account_id == user.id and client_id in (None, grant.client_id):
                    grant.revoked = True
            return len(tokens)

    def _username(self, account_id: str | None) -> str | None:
        user = self._users.get(account_id or "")
        return user.username if user is not None else None

    def _control_apps(self, request: Request) -> Response:
        return json_response(self.applications())

    def _control_oauth_tokens(self, request: Request) -> Response:
        try:
            return json_response(self.issued_tokens(request.arg("username")))
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)

    def _control_revoke_tokens(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            count = self.revoke_tokens(str(data["username"]), data.get("client_id"))
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)
        return json_response({"revoked": count})
