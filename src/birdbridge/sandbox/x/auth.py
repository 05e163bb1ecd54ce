"""Who calls and whether the call goes through: OAuth 1.0a user context (HMAC-SHA1 signatures
checked as X checks them), OAuth 2.0 user context (a Bearer user access token and its scopes,
docs/api-notes.md X7) or an app-only Bearer token, the per-user per-endpoint rate limit, the
pay-per-use balance, and the read-only app's refusal."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from birdbridge.sandbox.common import Handler, Request, Response, json_response
from birdbridge.sandbox.x.errors import (
    APP_ONLY_FORBIDDEN_DETAIL,
    CREDITS_DEPLETED_DETAIL,
    CREDITS_DEPLETED_TYPE,
    OAUTH1_PERMISSIONS_DETAIL,
    PROBLEMS,
    problem,
)
from birdbridge.sandbox.x.limits import DEFAULT_WINDOW_S, rate_limit_headers, too_many
from birdbridge.sandbox.x.limits import price as price_of
from birdbridge.sandbox.x.oauth_tokens import ENDPOINT_SCOPES, OAuth2Token
from birdbridge.sandbox.x.records import XUser
from birdbridge.sandbox.x.state import XState


@dataclass(frozen=True)
class _Secrets:  # what oauthlib's sign_hmac_sha1_with_client reads from a "client"
    client_secret: str
    resource_owner_secret: str


@dataclass
class Auth:
    user: XUser | None  # None: app-only Bearer
    scopes: frozenset[str] | None = None  # OAuth 2.0 user context: the token's scopes

    @property
    def key(self) -> str:
        return self.user.id if self.user else "app"


AuthHandler = Callable[[Request, Auth], Response]
ApiRoute = tuple[str, str, str, AuthHandler, bool]


class Gate(XState):
    """Authentication, rate limits and billing around every API endpoint (:meth:`_api`)."""

    def _api_routes(self, *routes: ApiRoute) -> None:
        """Route each (method, path regex, endpoint key, handler, user only) through
        :meth:`_api`. Every endpoint names the OAuth 2.0 scopes it needs (ENDPOINT_SCOPES)."""
        for method, pattern, endpoint_key, handler, user_only in routes:
            if endpoint_key not in ENDPOINT_SCOPES:
                raise KeyError(f"{endpoint_key!r} has no entry in oauth_tokens.ENDPOINT_SCOPES")
            self.route(method, pattern, self._api(endpoint_key, handler, user_only))

    def _api(self, endpoint_key: str, handler: AuthHandler, user_only: bool = False) -> Handler:
        """The route of an endpoint: ``handler`` runs, with the lock held, for a caller who
        passes (``user_only``: OAuth 1.0a user context only)."""

        def wrapped(request: Request) -> Response:
            auth = self._authenticate(request)
            if isinstance(auth, Response):
                return auth
            if auth.user is None and user_only:
                body = problem(
                    403,
                    APP_ONLY_FORBIDDEN_DETAIL,
                    "Unsupported Authentication",
                    PROBLEMS + "unsupported-authentication",
                )
                return json_response(body, 403)
            if auth.scopes is not None and not ENDPOINT_SCOPES[endpoint_key] <= auth.scopes:
                # A user token without a scope the endpoint lists: X's bare 403 problem
                # (plhery/node-twitter-api-v2#265: GET /2/users/me with users.read alone;
                # florianmartens/passport-twitter-oauth2.0#1).
                return json_response(problem(403), 403)
            refused = self._refusal(request, auth)
            if refused is not None:
                return self._with_access_level(refused, auth)
            with self._lock:
                limit, window = self._limits.get(endpoint_key, (900, DEFAULT_WINDOW_S))
                now = self.now()
                slot = self._windows.get((endpoint_key, auth.key))
                if slot is None or now >= slot[1]:
                    slot = self._windows[(endpoint_key, auth.key)] = [0, now + window]
                if slot[0] >= limit:
                    return self._with_access_level(too_many(limit, slot[1]), auth)
                slot[0] += 1
                headers = rate_limit_headers(limit, limit - int(slot[0]), slot[1])
                response = handler(request, auth)
                self._bill(endpoint_key, request, auth, response)
            response.headers.update(headers)
            return self._with_access_level(response, auth)

        return wrapped

    def _refusal(self, request: Request, auth: Auth) -> Response | None:
        """Account-level refusals before any endpoint work: no credits left, or a write with a
        token of a read-only app."""
        if self.credits_usd is not None and self.credits_usd <= 0:
            # Pay-per-use: "API requests will be blocked until you add credits" (XD:x-api/
            # getting-started/pricing.mdx); the 402 body as seen in public issue threads.
            return json_response(
                problem(402, CREDITS_DEPLETED_DETAIL, "Payment Required", CREDITS_DEPLETED_TYPE),
                402,
            )
        if (
            request.method != "GET"
            and auth.user is not None
            and auth.scopes is None  # OAuth 2.0 tokens carry scopes instead
            and auth.user.access_level == "read"
        ):
            # A read-only app's token may not write: 403 oauth1-permissions, as quoted in
            # plhery/node-twitter-api-v2#493 (and on the api.x.com host in 2026).
            return json_response(
                problem(
                    403, OAUTH1_PERMISSIONS_DETAIL, "Forbidden", PROBLEMS + "oauth1-permissions"
                ),
                403,
            )
        return None

    @staticmethod
    def _with_access_level(response: Response, auth: Auth) -> Response:
        # "All authenticated API requests return an x-access-level header ... read, read-write,
        # and read-write-directmessages" (XD:fundamentals/developer-apps.mdx until 2026-01-16;
        # still seen on v2 replies to OAuth 1.0a requests, plhery/node-twitter-api-v2#469). Not
        # documented for OAuth 2.0 tokens, whose permission is their scopes: none is sent.
        if auth.user is not None and auth.scopes is None:
            response.headers["x-access-level"] = auth.user.access_level
        return response

    def _bill(self, endpoint_key: str, request: Request, auth: Auth, response: Response) -> None:
        """Take a successful call's price from the credits (with the lock held)."""
        if self.credits_usd is None or not 200 <= response.status < 300:
            return
        price = price_of(endpoint_key, request, auth.user, response)
        self.spent_usd += price
        self.credits_usd -= price

    def _authenticate(self, request: Request) -> Auth | Response:
        unauthorized = json_response(problem(401, "Unauthorized"), 401)
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :].strip()
            if hmac.compare_digest(token, self.bearer_token):
                return Auth(None)
            # An OAuth 2.0 user access token; an unknown, expired or revoked one gets the same
            # 401 as any bad credential (xdevplatform/samples#69, plhery/node-twitter-api-v2#594).
            with self._lock:
                grant = self._oauth2_tokens.get(token)
                if grant is None or grant.kind != "access" or not self._live(grant):
                    return unauthorized
                return Auth(self._users[grant.user_id], frozenset(grant.scopes))
        params = self._oauth1_params(request)
        if params is None:
            return unauthorized
        user = self._oauth1_user(params.get("oauth_token", ""))
        if user is None or not self._signed(request, params, user.access_token_secret):
            return unauthorized
        return Auth(user)

    def _oauth1_user(self, token: str) -> XUser | None:
        """The user of an OAuth 1.0a access token: one of create_user's, or one made by the
        3-legged or PIN flow (with that grant's token, secret and access level)."""
        with self._lock:
            user = self._by_token.get(token)
            if user is not None:
                return user
            grant = self._oauth1_grants.get(token)
            if grant is None:
                return None
            return replace(
                self._users[grant.user_id],
                access_token=grant.token,
                access_token_secret=grant.secret,
                access_level=grant.access_level,
            )

    def _live(self, grant: OAuth2Token) -> bool:
        """An OAuth 2.0 token that still works (call with the lock held)."""
        if grant.state != "active":
            return False
        return grant.expires_at is None or self.now() < grant.expires_at

    @staticmethod
    def _oauth1_params(request: Request) -> dict[str, str] | None:
        """The ``oauth_*`` parameters of an ``Authorization: OAuth`` header."""
        header = request.headers.get("authorization", "")
        if not header.startswith("OAuth "):
            return None
        try:
            return {
                k: oauth_utils.unescape(v)
                for k, v in oauth_utils.parse_authorization_header(header)
            }
        except (ValueError, TypeError):
            return None

    def _signed(self, request: Request, oauth: dict[str, str], token_secret: str) -> bool:
        """Signed with the app's consumer key and secret and ``token_secret`` ("" for none)."""
        if (
            oauth.get("oauth_consumer_key") != self.consumer_key
            or oauth.get("oauth_signature_method") != "HMAC-SHA1"
        ):
            return False
        expected = self._expected_signature(request, oauth, token_secret)
        return hmac.compare_digest(expected, oauth.get("oauth_signature", ""))

    def _expected_signature(
        self, request: Request, oauth: dict[str, str], token_secret: str
    ) -> str:
        pairs = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        pairs += [(k, v) for k, vs in request.query.items() for v in vs]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            pairs += [(k, v) for k, vs in request.form().items() for v in vs]
        host = request.headers.get("host") or self.url.split("://", 1)[1]
        base_uri = oauth_signature.base_string_uri(f"http://{host}{request.path}")
        normalized = oauth_signature.normalize_parameters(pairs)
        base = oauth_signature.signature_base_string(request.method, base_uri, normalized)
        secrets_ = _Secrets(self.consumer_secret, token_secret)
        return oauth_signature.sign_hmac_sha1_with_client(base, secrets_)
