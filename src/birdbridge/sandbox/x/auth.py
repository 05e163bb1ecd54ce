"""Who calls and whether the call goes through: OAuth 1.0a user context (HMAC-SHA1 signatures
checked as X checks them) or an app-only Bearer token, the per-user per-endpoint rate limit,
the pay-per-use balance, and the read-only app's refusal."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

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
from birdbridge.sandbox.x.records import XUser
from birdbridge.sandbox.x.state import XState


@dataclass(frozen=True)
class _Secrets:  # what oauthlib's sign_hmac_sha1_with_client reads from a "client"
    client_secret: str
    resource_owner_secret: str


@dataclass
class Auth:
    user: XUser | None  # None: app-only Bearer

    @property
    def key(self) -> str:
        return self.user.id if self.user else "app"


AuthHandler = Callable[[Request, Auth], Response]
ApiRoute = tuple[str, str, str, AuthHandler, bool]


class Gate(XState):
    """Authentication, rate limits and billing around every API endpoint (:meth:`_api`)."""

    def _api_routes(self, *routes: ApiRoute) -> None:
        """Route each (method, path regex, endpoint key, handler, user only) through
        :meth:`_api`."""
        for method, pattern, endpoint_key, handler, user_only in routes:
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
            refused = self._refusal(request, auth)
            if refused is not None:
                return self._with_access_level(refused, auth)
            with self._lock:
                limit, window = self._limits.get(endpoint_key, (900, DEFAULT_WINDOW_S))
                now = time.time()
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
        if request.method != "GET" and auth.user is not None and auth.user.access_level == "read":
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
        # still seen on v2 replies to OAuth 1.0a requests, plhery/node-twitter-api-v2#469).
        if auth.user is not None:
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
            return unauthorized
        if not header.startswith("OAuth "):
            return unauthorized
        try:
            params = {
                k: oauth_utils.unescape(v)
                for k, v in oauth_utils.parse_authorization_header(header)
            }
        except (ValueError, TypeError):
            return unauthorized
        with self._lock:
            user = self._by_token.get(params.get("oauth_token", ""))
        if (
            user is None
            or params.get("oauth_consumer_key") != self.consumer_key
            or params.get("oauth_signature_method") != "HMAC-SHA1"
        ):
            return unauthorized
        if not hmac.compare_digest(
            self._expected_signature(request, params, user), params.get("oauth_signature", "")
        ):
            return unauthorized
        return Auth(user)

    def _expected_signature(self, request: Request, oauth: dict[str, str], user: XUser) -> str:
        pairs = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        pairs += [(k, v) for k, vs in request.query.items() for v in vs]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            pairs += [(k, v) for k, vs in request.form().items() for v in vs]
        host = request.headers.get("host") or self.url.split("://", 1)[1]
        base_uri = oauth_signature.base_string_uri(f"http://{host}{request.path}")
        normalized = oauth_signature.normalize_parameters(pairs)
        base = oauth_signature.signature_base_string(request.method, base_uri, normalized)
        secrets_ = _Secrets(self.consumer_secret, user.access_token_secret)
        return oauth_signature.sign_hmac_sha1_with_client(base, secrets_)
