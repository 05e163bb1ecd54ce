"""Who calls: access tokens and their scopes, checked as Doorkeeper checks them (oauth.py),
the scopes each endpoint accepts, and the application a token belongs to."""

from __future__ import annotations

import secrets

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.errors import error_json
from birdbridge.sandbox.mastodon.oauth import (
    REVOKED_TOKEN,
    Application,
    Grant,
    application_json,
    checked_scopes,
    forbidden,
    unauthorized,
)
from birdbridge.sandbox.mastodon.records import MastodonUser
from birdbridge.sandbox.mastodon.state import MastodonState
from birdbridge.sandbox.mastodon.versions import version_tuple

# The scopes each endpoint accepts, any one of them (docs/api-notes.md M3).
READ_ACCOUNTS = ("read", "read:accounts")  # accounts_controller.rb:6, lookup_controller.rb:4
# accounts/credentials_controller.rb:4: `profile` passes here, and only here
VERIFY_CREDENTIALS = ("profile", "read", "read:accounts")
READ_STATUSES = ("read", "read:statuses")  # statuses_controller.rb:7, accounts/statuses:4, ...
WRITE_STATUSES = ("write", "write:statuses")  # statuses_controller.rb:8, reblogs_controller.rb:7
WRITE_MEDIA = ("write", "write:media")  # media_controller.rb:4-5, GET /api/v1/media/:id too
NEEDS_USER = "This method requires an authenticated user"  # api/base_controller.rb require_user!


class Auth(MastodonState):
    def _register_auth_routes(self) -> None:
        self.route("GET", r"/api/v1/apps/verify_credentials", self._app_credentials)

    def create_token(
        self,
        username: str,
        scopes: str | list[str] | tuple[str, ...],
        app_name: str = "birdbridge",
    ) -> str:
        """Another access token of ``username``: a new application's, with ``scopes``."""
        granted = checked_scopes(scopes)
        with self._lock:
            user = self._require_user(username)
            token = secrets.token_urlsafe(32)
            self._grant(user.id, token, granted, app_name)
            return token

    def _grant(self, account_id: str, token: str, scopes: tuple[str, ...], app: str) -> None:
        number = str(next(self._grant_ids))
        application = Application(id=number, name=app, website=None, scopes=scopes)
        self._grants[token] = Grant(number, account_id, scopes, application)

    def _viewer(
        self, request: Request, required: bool, scopes: tuple[str, ...]
    ) -> tuple[MastodonUser | None, Response | None]:
        """Who asks, as Doorkeeper says (oauth.py). ``required``:
        doorkeeper_authorize! (no known token: 401); otherwise authorize_if_got_token! (no
        known token: anonymous). A known token needs one of ``scopes`` (else 403)."""
        with self._lock:
            grant, refused = self._grant_of(request)
            user = self._users.get(grant.account_id) if grant else None
        if grant is None:
            return None, refused if required else None
        if not grant.accepts(scopes):
            return None, forbidden(scopes)
        if user is None:
            # An app token (client credentials): require_user! (api/base_controller.rb)
            return None, error_json(422, NEEDS_USER) if required else None
        return user, None

    def _grant_of(self, request: Request) -> tuple[Grant | None, Response]:
        """The request's token, or the 401 for it: Doorkeeper tells a revoked token
        from an unknown one (InvalidTokenResponse.from_access_token; en.yml invalid_token)."""
        token = self._token_of(request) or ""
        grant = self._grants.get(token)
        issued = self._issued.get(token)
        if grant is None and issued is not None and issued.revoked_at is not None:
            return None, unauthorized(REVOKED_TOKEN)
        return grant, unauthorized()

    @staticmethod
    def _token_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.arg("access_token")

    def _app_of(self, request: Request) -> str:
        """The application of the request's token: PostStatusService stores it on the status
        (``application: doorkeeper_token.application``), shown to the owner."""
        grant = self._grants.get(self._token_of(request) or "")
        return grant.application.name if grant is not None else "Sandbox"

    def _app_credentials(self, request: Request) -> Response:
        """Api::V1::Apps::CredentialsController: since 4.3 any valid token, whatever its
        scopes (valid_doorkeeper_token?, line 5); before, doorkeeper_authorize! :read."""
        old = version_tuple(self.version) < (4, 3, 0)
        with self._lock:
            grant, refused = self._grant_of(request)
        if grant is None:
            return refused
        if old and not grant.accepts(("read",)):
            return forbidden(("read",))
        return json_response(application_json(grant.application, version_tuple(self.version)))
