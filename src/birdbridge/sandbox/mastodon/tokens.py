"""``POST /oauth/token`` and ``POST /oauth/revoke``, as Doorkeeper's TokensController answers
them for Mastodon (docs/api-notes.md M6): codes are single use and live 10 minutes, a user's
second sign-in to the same app with the same scopes gets the same token back
(``reuse_access_token``), and errors are Doorkeeper's bodies and statuses."""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import unquote

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.auth import Auth
from birdbridge.sandbox.mastodon.doorkeeper import (
    REVOKE_REFUSED,
    default_scope,
    grant_flows,
    missing,
    pkce_supported,
    redirect_uri_registered,
    s256,
    scopes_allowed,
    token_error,
)
from birdbridge.sandbox.mastodon.oauth import Grant
from birdbridge.sandbox.mastodon.oauth_records import AccessGrant, ClientApp, IssuedToken
from birdbridge.sandbox.mastodon.params import request_params

# TokenResponse#headers (doorkeeper oauth/token_response.rb:29-35)
TOKEN_HEADERS = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class TokenRoutes(Auth):
    def _register_token_routes(self) -> None:
        self.route("POST", r"/oauth/token", self._token)
        self.route("POST", r"/oauth/revoke", self._revoke)

    def _token(self, request: Request) -> Response:
        """TokensController#create: the grant type first (Request.token_strategy,
        doorkeeper request.rb:20-39), then the strategy's own validations."""
        params = {k: str(v[0]) for k, v in request_params(request).items() if v}
        grant_type = params.get("grant_type", "")
        if not grant_type:
            return missing("grant_type")
        if grant_type not in grant_flows(self.version):
            return token_error("unsupported_grant_type")
        with self._lock:
            client = self._client_of(request, params)
            if grant_type == "authorization_code":
                return self._code_token(params, client)
            if grant_type == "client_credentials":
                return self._client_token(params, client)
            # The password grant (before 4.4): the sandbox's users have no password, so
            # Doorkeeper finds no resource owner (password_access_token_request.rb).
            return token_error("invalid_client" if client is None else "invalid_grant")

    def _code_token(self, params: dict[str, str], client: ClientApp | None) -> Response:
        """AuthorizationCodeRequest (oauth/authorization_code_request.rb:6-11, 63-106):
        params, client, grant, redirect URI, code verifier; then the code is used up."""
        code = params.get("code", "")
        if not code:  # request/authorization_code.rb:20
            return missing("code")
        grant = self._codes.get(code)
        verifier = params.get("code_verifier", "")
        if grant is not None and grant.code_challenge and not verifier:
            return missing("code_verifier")
        if not params.get("redirect_uri"):
            return missing("redirect_uri")
        if client is None:
            return token_error("invalid_client")
        if grant is None or not self._usable(grant, client):
            return token_error("invalid_grant")
        if not redirect_uri_registered(params["redirect_uri"], (grant.redirect_uri,)):
            return token_error("invalid_grant")
        if not self._verifier_matches(grant, verifier):
            return token_error("invalid_grant")
        grant.revoked = True
        issued = self._find_or_create(client, grant.account_id, grant.scopes, "authorization_code")
        return _token_response(issued)

    def _usable(self, grant: AccessGrant, client: ClientApp) -> bool:
        """validate_grant: this client's, not used, not expired (accessible?)."""
        fresh = self.now() < grant.expires_at
        return grant.client_id == client.client_id and not grant.revoked and fresh

    def _verifier_matches(self, grant: AccessGrant, verifier: str) -> bool:
        """validate_code_verifier (authorization_code_request.rb:95-106): no verifier is
        right only for a code without a challenge; a verifier needs the S256 challenge."""
        if not pkce_supported(self.version):
            return True
        if not verifier:
            return not grant.code_challenge
        return grant.code_challenge_method == "S256" and s256(verifier) == grant.code_challenge

    def _client_token(self, params: dict[str, str], client: ClientApp | None) -> Response:
        """ClientCredentialsRequest (client_credentials/validator.rb:10-51): an app token,
        with the asked scopes or, if none, the app's share of the default ``read``."""
        if client is None:
            return token_error("invalid_client")
        app_scopes = client.application.scopes
        scope = params.get("scope") or default_scope(app_scopes)
        if not (scope or app_scopes) or (scope and scopes_allowed(scope, app_scopes, self.version)):
            issued = self._find_or_create(client, None, tuple(scope.split()), "client_credentials")
            return _token_response(issued)
        return token_error("invalid_scope")

    def _find_or_create(
        self, client: ClientApp, account_id: str | None, scopes: tuple[str, ...], how: str
    ) -> IssuedToken:
        """AccessToken.find_or_create_for with reuse_access_token (access_token_mixin.rb:
        221-242; matching_token_for 98-175): the newest live token of this app and owner
        with the same scopes, else a new one."""
        wanted = sorted(scopes)
        same = [
            t
            for t in self._issued.values()
            if t.client_id == client.client_id
            and t.account_id == account_id
            and t.revoked_at is None
            and sorted(t.scopes) == wanted
        ]
        if same:
            return max(same, key=lambda t: t.created_at)
        token = secrets.token_urlsafe(32)
        number = str(next(self._grant_ids))
        self._grants[token] = Grant(number, account_id or "", scopes, client.application)
        issued = IssuedToken(token, client.client_id, account_id, scopes, how, self.now())
        self._issued[token] = issued
        return issued

    def _revoke(self, request: Request) -> Response:
        """Oauth::TokensController#revoke (doorkeeper tokens_controller.rb:18-33, 50-110): a
        client must authenticate (else 403); an unknown token is fine (200 ``{}``); another
        client's token is refused (403)."""
        params = {k: str(v[0]) for k, v in request_params(request).items() if v}
        refused = {"error": "unauthorized_client", "error_description": REVOKE_REFUSED}
        with self._lock:
            client = self._client_of(request, params)
            if client is None:
                return json_response(refused, 403)
            token = params.get("token", "")
            grant = self._grants.get(token)
            issued = self._issued.get(token)
            if grant is None and issued is None:
                return json_response({})
            owner = issued.client_id if issued is not None else None
            if owner != client.client_id:
                return json_response(refused, 403)
            self._revoke_token(token)
        return json_response({})

    def _revoke_token(self, token: str) -> None:
        issued = self._issued.get(token)
        if issued is not None and issued.revoked_at is None:
            issued.revoked_at = self.now()
        self._grants.pop(token, None)

    def _client_of(self, request: Request, params: dict[str, str]) -> ClientApp | None:
        """OAuth::Client.authenticate with Doorkeeper's default credential methods:
        HTTP Basic, then ``client_id``/``client_secret`` (client/credentials.rb)."""
        client_id, secret = _basic(request) or (
            params.get("client_id", ""),
            params.get("client_secret", ""),
        )
        client = self._apps.get(client_id)
        if client is None or not secret or not secrets.compare_digest(client.client_secret, secret):
            return None
        return client


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)


def _token_response(issued: IssuedToken) -> Response:
    """TokenResponse#body (token_response.rb:14-23): no ``expires_in`` (Mastodon's tokens
    do not expire) and no ``refresh_token`` (not enabled)."""
    body = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "scope": " ".join(issued.scopes),
        "created_at": int(issued.created_at),
    }
    return json_response(body, 200, **TOKEN_HEADERS)
