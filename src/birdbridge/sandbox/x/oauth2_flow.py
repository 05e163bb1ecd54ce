"""X's OAuth 2.0 Authorization Code Flow with PKCE (XD:fundamentals/authentication/oauth-2-0/
authorization-code.mdx, …/user-access-token.mdx; bodies in docs/api-notes.md X7).

``GET /i/oauth2/authorize`` (the page) -> ``POST /i/oauth2/authorize`` (the person's decision:
a redirect with ``state`` and ``code``) -> ``POST /2/oauth2/token`` (``authorization_code``, then
``refresh_token``) and ``POST /2/oauth2/revoke``. The access token is a Bearer user token for
every API endpoint, within its scopes (auth.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.auth import Gate
from birdbridge.sandbox.x.oauth_pages import form_page, refusal_page
from birdbridge.sandbox.x.oauth_tokens import (
    CHALLENGE_METHODS,
    CODE_TTL,
    INVALID_CODE,
    INVALID_TOKEN,
    KNOWN_SCOPES,
    MAX_STATE_LENGTH,
    MISSING_AUTHORIZATION,
    OFFLINE_ACCESS,
    REDIRECT_MISMATCH,
    VERIFIER_MISMATCH,
    AuthorizationCode,
    OAuth2Token,
    missing,
    new_oauth2_value,
    random_text,
    token_error,
)

_AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
# X's page for an authorization request it refuses: an error page, no redirect
# (xdevplatform/twitter-api-typescript-sdk#59). The reason after it is the sandbox's.
REFUSED = "You weren't able to give access to the App. Go back and try logging in again."


@dataclass(frozen=True)
class _Authorization:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    challenge: str
    method: str


def _pkce_ok(code: AuthorizationCode, verifier: str) -> bool:
    """RFC 7636 4.6: S256 compares BASE64URL(SHA256(verifier)) without padding."""
    if code.method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        verifier = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return hmac.compare_digest(verifier, code.challenge)


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        client, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return ("", "")
    return client, secret


class OAuth2Flow(Gate):
    def _register_oauth2_routes(self) -> None:
        self.route("GET", r"/i/oauth2/authorize", self._oauth2_page)
        self.route("POST", r"/i/oauth2/authorize", self._oauth2_decision)
        self.route("POST", r"/2/oauth2/token", self._oauth2_token)
        self.route("POST", r"/2/oauth2/revoke", self._oauth2_revoke)

    # -- the authorization page ----------------------------------------------------------
    def _authorization(self, values: Mapping[str, str]) -> _Authorization | str:
        """The request's parameters (XD:…/authorization-code.mdx, "Parameters"), or why X
        refuses it."""
        with self._lock:
            registered = list(self.redirect_uris)
        scopes = tuple(dict.fromkeys(values.get("scope", "").split()))
        state = values.get("state", "")
        if values.get("client_id") != self.client_id:
            return "Unknown client_id."
        if values.get("redirect_uri") not in registered:
            # "This value must correspond to one of the Callback URLs defined in your App's
            # settings ... exact match validation" (authorization-code.mdx).
            return "redirect_uri is not a callback URL registered for the app."
        if values.get("response_type") != "code":
            return 'response_type must be "code".'
        if not scopes or not set(scopes) <= KNOWN_SCOPES:
            return "scope must name X's OAuth 2.0 scopes."
        if not state or len(state) > MAX_STATE_LENGTH:
            return f"state is required, up to {MAX_STATE_LENGTH} characters."
        if not values.get("code_challenge"):
            return "code_challenge is required (PKCE)."
        if values.get("code_challenge_method") not in CHALLENGE_METHODS:
            return "code_challenge_method must be S256 or plain."
        return _Authorization(
            values["client_id"],
            values["redirect_uri"],
            scopes,
            state,
            values["code_challenge"],
            values["code_challenge_method"],
        )

    def _oauth2_page(self, request: Request) -> Response:
        values = {name: request.arg(name) or "" for name in _AUTHORIZE_FIELDS}
        asked = self._authorization(values)
        if isinstance(asked, str):
            return refusal_page(f"{REFUSED} {asked}")
        with self._lock:
            first = next(iter(self._users.values()), None)
        what = f"The app wants to access your X account: {' '.join(asked.scopes)}."
        username = first.username if first else ""
        return form_page("Authorize app", what, request.path, values, username)

    def _oauth2_decision(self, request: Request) -> Response:
        form = {name: values[0] for name, values in request.form().items() if values}
        asked = self._authorization(form)
        if isinstance(asked, str):
            return refusal_page(f"{REFUSED} {asked}")
        decision = form.get("decision")
        if decision == "deny":
            # RFC 6749 4.1.2.1: the person said no.
            query = {"error": "access_denied", "state": asked.state}
        elif decision == "approve":
            with self._lock:
                try:
                    user = self._user_by_name(form.get("username", ""))
                except ValueError:
                    return refusal_page("No X account has that username.")
                code = self._new_code(user.id, asked)
            # "https://www.example.com/?state=state&code=VGNibzFW..." (user-access-token.mdx)
            query = {"state": asked.state, "code": code.code}
        else:
            return refusal_page("Choose Authorize app or Cancel.")
        separator = "&" if "?" in asked.redirect_uri else "?"
        location = asked.redirect_uri + separator + urlencode(query)
        return Response(302, b"", {"Location": location})

    def _new_code(self, user_id: str, asked: _Authorization) -> AuthorizationCode:
        now = self.now()
        code = AuthorizationCode(
            code=new_oauth2_value("ac", now),
            user_id=user_id,
            scopes=asked.scopes,
            redirect_uri=asked.redirect_uri,
            challenge=asked.challenge,
            method=asked.method,
            issued_at=now,
        )
        self._codes[code.code] = code
        return code

    # -- the token endpoint ----------------------------------------------------------------
    def _client_refusal(self, request: Request, form: Mapping[str, str]) -> Response | None:
        """Client authentication: Basic for a confidential client; a public client names its
        client_id in the body ("You still are required to include Client Id in the body for
        the requests with a public client", authorization-code.mdx). A confidential client
        without valid Basic credentials: 401 unauthorized_client (plhery/node-twitter-api-v2
        #319, unasuke/omniauth-twitter2#4, tweepy/tweepy#2035)."""
        refused = token_error("unauthorized_client", MISSING_AUTHORIZATION, 401)
        basic = _basic(request)
        body_id = form.get("client_id")
        if basic is not None:
            good = hmac.compare_digest(basic[0], self.client_id) and hmac.compare_digest(
                basic[1], self.client_secret
            )
            return None if good and body_id in (None, self.client_id) else refused
        if self.oauth2_client_type == "public":
            if not body_id:
                return missing("client_id")
            return None if body_id == self.client_id else refused
        return refused

    def _oauth2_token(self, request: Request) -> Response:
        form = _form_fields(request)
        refused = self._client_refusal(request, form)
        if refused is not None:
            return refused
        # "We only provide authorization code with PKCE and refresh token as the supported
        # grant types" (authorization-code.mdx, "Grant types").
        grant_type = form.get("grant_type")
        if not grant_type:
            return missing("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return token_error("unsupported_grant_type", "Grant type is not supported.")

    def _exchange_code(self, form: Mapping[str, str]) -> Response:
        for name in ("code", "redirect_uri", "code_verifier"):
            if not form.get(name):
                return missing(name)
        with self._lock:
            code = self._codes.get(form["code"])
            if code is None or code.used or self.now() - code.issued_at > CODE_TTL:
                return token_error("invalid_request", INVALID_CODE)
            # Single use: any exchange spends the code, a failed one too (RFC 6749 4.1.2).
            code.used = True
            if form["redirect_uri"] != code.redirect_uri:
                return token_error("invalid_request", REDIRECT_MISMATCH)
            if not _pkce_ok(code, form["code_verifier"]):
                return token_error("invalid_request", VERIFIER_MISMATCH)
            return self._issue(code.user_id, code.scopes, grant_id=random_text(16))

    def _refresh(self, form: Mapping[str, str]) -> Response:
        if not form.get("refresh_token"):
            return missing("refresh_token")
        with self._lock:
            old = self._oauth2_tokens.get(form["refresh_token"])
            if old is None or old.kind != "refresh" or old.state != "active":
                # A used (rotated), revoked or unknown refresh token (api-notes X7).
                return token_error("invalid_request", INVALID_TOKEN)
            old.state = "used"
            if self.refresh_revokes_access_tokens:
                for token in self._oauth2_tokens.values():
                    if token.grant_id == old.grant_id and token.kind == "access":
                        token.state = "revoked"
            response = self._issue(old.user_id, old.scopes, grant_id=old.grant_id)
            old.replaced_by = response.body.get("refresh_token")
            self.token_refreshes += 1
            return response

    def _issue(self, user_id: str, scopes: tuple[str, ...], grant_id: str) -> Response:
        """A new access token, and a refresh token with offline.access (call with the lock
        held). The reply's shape: myConsciousness/twitter-oauth2-pkce#10 (no offline.access)
        and the examples in api-notes X7."""
        now = self.now()
        ttl = self.access_token_ttl
        access = OAuth2Token(
            new_oauth2_value("at", now), "access", user_id, grant_id, scopes, now, now + ttl
        )
        self._oauth2_tokens[access.token] = access
        body: dict[str, object] = {
            "token_type": "bearer",
            "expires_in": int(ttl),
            "access_token": access.token,
            "scope": " ".join(scopes),
        }
        if OFFLINE_ACCESS in scopes:
            refresh = OAuth2Token(
                new_oauth2_value("rt", now), "refresh", user_id, grant_id, scopes, now, None
            )
            self._oauth2_tokens[refresh.token] = refresh
            body["refresh_token"] = refresh.token
        return json_response(body, 200, **{"Cache-Control": "no-store"})

    # -- revocation ------------------------------------------------------------------------
    def _oauth2_revoke(self, request: Request) -> Response:
        """ "A revoke token invalidates an access token or refresh token" (user-access-token.mdx,
        Step 6). As RFC 7009 (2.2) asks, an unknown token is answered the same way."""
        form = _form_fields(request)
        refused = self._client_refusal(request, form)
        if refused is not None:
            return refused
        if not form.get("token"):
            return missing("token")
        with self._lock:
            token = self._oauth2_tokens.get(form["token"])
            if token is not None:
                token.state = "revoked"
        return json_response({"revoked": True})


def _form_fields(request: Request) -> dict[str, str]:
    """The token endpoints read ``application/x-www-form-urlencoded`` bodies only
    (user-access-token.mdx: "You will need to pass in the Content-Type of
    application/x-www-form-urlencoded")."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return {name: values[0] for name, values in request.form().items() if values}
