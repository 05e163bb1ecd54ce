"""X's OAuth 1.0a sign-in: the 3-legged flow and its PIN-based (out-of-band) variant
(XD:fundamentals/authentication/oauth-1-0a/obtaining-user-access-tokens.mdx, …/pin-based-oauth.mdx,
XD:fundamentals/authentication/api-reference.mdx; bodies in docs/api-notes.md X7).

``POST /oauth/request_token`` (signed with the consumer key, no token) -> ``GET /oauth/authorize``
(the page) -> ``POST /oauth/authorize`` (the person's decision) -> ``POST /oauth/access_token``
(signed with the request token, with ``oauth_verifier``). The token it makes works on the API
like create_user's, with the user's access level (or read, with ``x_auth_access_type=read``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.auth import Gate
from birdbridge.sandbox.x.oauth_pages import denied_page, form_page, pin_page, refusal_page
from birdbridge.sandbox.x.oauth_tokens import (
    OUT_OF_BAND,
    OAuth1Grant,
    RequestToken,
    new_pin,
    random_text,
)
from birdbridge.sandbox.x.records import XUser

APP_NAME = "birdbridge sandbox app"
# GET oauth/authorize with a request token X does not know, or one already used (the page's
# words: meteor/meteor#3405, arunagw/omniauth-twitter#58).
STALE_REQUEST_TOKEN = (
    "The request token for this page is invalid. It may have already been used, or expired "
    "because it is too old. Please go back to the site or application that sent you here and "
    "try again; it was probably just a mistake."
)
# POST oauth/request_token with an oauth_callback the app has not registered: 403 and this XML
# (arunagw/omniauth-twitter#144, 2022; VocaDB/vocadb#455).
CALLBACK_NOT_APPROVED = (
    "Callback URL not approved for this client application. Approved callback URLs can be "
    "adjusted in your application settings"
)
# POST oauth/access_token refusals, as plain text with 401: an unknown or used request token
# (snarfed/bridgy#451, abraham/twitteroauth#314), a wrong verifier or PIN
# (alvarolorentedev/oauth-electron-twitter#9), no verifier (jmathai/twitter-async#180).
INVALID_REQUEST_TOKEN = "Invalid request token"
INVALID_VERIFIER = "Error processing your OAuth request: Invalid oauth_verifier parameter"
MISSING_VERIFIER = "Required oauth_verifier parameter not provided"


def _text(status: int, text: str) -> Response:
    return Response(status, text, {"Content-Type": "text/plain; charset=utf-8"})


def _form(values: dict[str, str]) -> Response:
    return Response(200, urlencode(values), {"Content-Type": "application/x-www-form-urlencoded"})


def _could_not_authenticate() -> Response:
    # A bad signature or consumer key on the oauth/ endpoints: v1.1's error 32.
    return json_response({"errors": [{"code": 32, "message": "Could not authenticate you."}]}, 401)


def _with_query(url: str, values: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(values)


class OAuth1Flow(Gate):
    def _register_oauth1_routes(self) -> None:
        self.route("POST", r"/oauth/request_token", self._request_token)
        # oauth/authenticate is oauth/authorize for "Sign in with X" (api-reference.mdx); the
        # sandbox asks every time, as authorize does.
        for page in (r"/oauth/authorize", r"/oauth/authenticate"):
            self.route("GET", page, self._oauth1_page)
            self.route("POST", page, self._oauth1_decision)
        self.route("POST", r"/oauth/access_token", self._access_token)

    # -- step 1 ------------------------------------------------------------------------
    def _request_token(self, request: Request) -> Response:
        params = self._oauth1_params(request)
        if params is None or params.get("oauth_token") or not self._signed(request, params, ""):
            return _could_not_authenticate()
        form = request.form()
        callback = params.get("oauth_callback") or request.arg("oauth_callback")
        callback = callback or (form.get("oauth_callback") or [""])[0]
        with self._lock:
            registered = list(self.redirect_uris)
        # "any callback URL that you use ... will have to be configured within your developer
        # App's settings" and the callback URL "is still required, even when using PIN-based
        # auth" (obtaining-user-access-tokens.mdx, pin-based-oauth.mdx). A missing
        # oauth_callback ("required", api-reference.mdx) gets the same refusal here.
        if not registered or (callback != OUT_OF_BAND and callback not in registered):
            xml = (
                "<?xml version='1.0' encoding='UTF-8'?><errors><error code=\"415\">"
                f"{CALLBACK_NOT_APPROVED}</error></errors>"
            )
            return Response(403, xml, {"Content-Type": "application/xml;charset=utf-8"})
        # x_auth_access_type=read asks for read-only access (api-reference.mdx).
        access_type = request.arg("x_auth_access_type") or params.get("x_auth_access_type")
        token = RequestToken(
            token=random_text(27),
            secret=random_text(32),
            callback=callback,
            access_level="read" if access_type == "read" else None,
        )
        with self._lock:
            self._request_tokens[token.token] = token
        return _form(
            {
                "oauth_token": token.token,
                "oauth_token_secret": token.secret,
                "oauth_callback_confirmed": "true",
            }
        )

    # -- step 2 ------------------------------------------------------------------------
    def _pending(self, token: str | None) -> RequestToken | None:
        """A request token nobody has decided on yet (call with the lock held)."""
        record = self._request_tokens.get(token or "")
        return record if record is not None and record.user_id is None else None

    def _oauth1_page(self, request: Request) -> Response:
        token = request.arg("oauth_token")
        with self._lock:
            record = self._pending(token)
            first = next(iter(self._users.values()), None)
        if record is None or token is None:
            return refusal_page(STALE_REQUEST_TOKEN)
        level = "read" if record.access_level == "read" else "read and write"
        what = f"{APP_NAME} wants to access your X account ({level})."
        hidden = {"oauth_token": token}
        username = request.arg("screen_name") or (first.username if first else "")
        return form_page("Authorize app", what, request.path, hidden, username)

    def _oauth1_decision(self, request: Request) -> Response:
        form = {name: values[0] for name, values in request.form().items() if values}
        decision = form.get("decision")
        with self._lock:
            record = self._pending(form.get("oauth_token"))
            if record is None:
                return refusal_page(STALE_REQUEST_TOKEN)
            try:
                user = self._user_by_name(form.get("username", ""))
            except ValueError:
                return refusal_page("No X account has that username.")
            if decision == "deny":
                # Cancel: X offers a way back to the app that carries ?denied=<request token>
                # and no verifier (opauth/twitter#1, singingwolfboy/flask-dance#125).
                del self._request_tokens[record.token]
            elif decision == "approve":
                record.user_id = user.id
                # A PIN is ~7 digits (pin-based-oauth.mdx); a web verifier 32 characters
                # (api-reference.mdx, POST oauth/access_token example).
                oob = record.callback == OUT_OF_BAND
                record.verifier = new_pin() if oob else random_text(32)
            else:
                return refusal_page("Choose Authorize app or Cancel.")
        return self._decided(record, decision == "approve")

    @staticmethod
    def _decided(record: RequestToken, approved: bool) -> Response:
        if record.callback == OUT_OF_BAND:
            return pin_page(record.verifier or "", APP_NAME) if approved else denied_page(APP_NAME)
        if approved:
            query = {"oauth_token": record.token, "oauth_verifier": record.verifier or ""}
        else:
            query = {"denied": record.token}
        return Response(302, b"", {"Location": _with_query(record.callback, query)})

    # -- step 3 ------------------------------------------------------------------------
    def _access_token(self, request: Request) -> Response:
        params = self._oauth1_params(request)
        if params is None:
            return _could_not_authenticate()
        with self._lock:
            record = self._request_tokens.get(params.get("oauth_token", ""))
        if record is None or record.user_id is None:
            return _text(401, INVALID_REQUEST_TOKEN)
        if not self._signed(request, params, record.secret):
            return _could_not_authenticate()
        form = request.form()
        verifier = params.get("oauth_verifier") or request.arg("oauth_verifier")
        verifier = verifier or (form.get("oauth_verifier") or [""])[0]
        if not verifier:
            return _text(401, MISSING_VERIFIER)
        with self._lock:
            # "PIN numbers are not reusable" (pin-based-oauth.mdx): the request token and its
            # verifier go with the first exchange.
            if self._request_tokens.get(record.token) is not record:
                return _text(401, INVALID_REQUEST_TOKEN)
            if verifier != record.verifier:
                return _text(401, INVALID_VERIFIER)
            del self._request_tokens[record.token]
            user = self._users[record.user_id]
            grant = self._new_oauth1_grant(user, record.access_level)
        return _form(
            {
                "oauth_token": grant.token,
                "oauth_token_secret": grant.secret,
                "user_id": user.id,
                "screen_name": user.username,
            }
        )

    def _new_oauth1_grant(self, user: XUser, access_level: str | None) -> OAuth1Grant:
        """A user token of the 3-legged flow (call with the lock held): "<user id>-<40>", as
        in api-reference.mdx's example; tweepy reads the user id from it."""
        grant = OAuth1Grant(
            token=f"{user.id}-{random_text(40)}",
            secret=random_text(45),
            user_id=user.id,
            access_level=access_level or user.access_level,
        )
        self._oauth1_grants[grant.token] = grant
        return grant
