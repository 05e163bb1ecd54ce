"""What X's sign-in flows hand out and keep: OAuth 1.0a request tokens and user tokens, OAuth
2.0 authorization codes, access and refresh tokens, the scopes each API endpoint needs, and the
token endpoint's error bodies (docs/api-notes.md X7).

Formats are X's: an OAuth 1.0a access token is ``<user id>-<40 characters>`` (XD:fundamentals/
authentication/api-reference.mdx, POST oauth/access_token) and a PIN has 7 digits
(…/oauth-1-0a/pin-based-oauth.mdx). OAuth 2.0 codes and tokens are unpadded base64url of
``<43 characters>:<epoch ms>:1:1:<ac|at|rt>:1``, and a confidential client's id decodes to
``<20 characters>:1:ci`` (the examples in XD:…/oauth-2-0/user-access-token.mdx, decoded).
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass, field

from birdbridge.sandbox.common import Response, json_response

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
OUT_OF_BAND = "oob"
# "The access token ... will only stay valid for two hours" (XD:…/authorization-code.mdx);
# the token reply says expires_in 7200 with or without offline.access (api-notes X7).
DEFAULT_ACCESS_TOKEN_TTL = 7200.0
# "You will have to exchange it with an access token within 30 seconds, or the auth_code will
# expire" (XD:…/authorization-code.mdx, glossary).
CODE_TTL = 30.0
MAX_STATE_LENGTH = 500  # "The length of this string can be up to 500 characters" (same page)
CHALLENGE_METHODS = ("S256", "plain")  # "code_challenge_method ... (S256 OR plain)" (same page)
CLIENT_TYPES = ("confidential", "public")

# The scopes of the OAuth2UserToken security scheme in XD:openapi.json (2.167).
KNOWN_SCOPES = frozenset(
    {
        "block.read",
        "block.write",
        "bookmark.read",
        "bookmark.write",
        "broadcast.read",
        "broadcast.write",
        "dm.read",
        "dm.write",
        "follows.read",
        "follows.write",
        "like.read",
        "like.write",
        "list.read",
        "list.write",
        "media.write",
        "mute.read",
        "mute.write",
        "offline.access",
        "space.read",
        "timeline.read",
        "tweet.moderate.write",
        "tweet.read",
        "tweet.write",
        "users.read",
    }
)
OFFLINE_ACCESS = "offline.access"  # "If this scope is not passed, we will not generate a
# refresh token" (XD:…/authorization-code.mdx)

_READ = frozenset({"tweet.read", "users.read"})
_WRITE = frozenset({"tweet.read", "tweet.write", "users.read"})
_MEDIA = frozenset({"media.write"})
# What an OAuth 2.0 user token needs per endpoint: the `security` of each operation in
# XD:openapi.json (2.167), keyed as the sandbox's routes are (limits.ENDPOINT_DEFAULTS).
ENDPOINT_SCOPES: dict[str, frozenset[str]] = {
    "GET /2/users/me": _READ,
    "GET /2/users/:id/tweets": _READ,
    "GET /2/tweets/:id": _READ,
    "GET /2/tweets": _READ,
    "POST /2/tweets": _WRITE,
    "DELETE /2/tweets/:id": _WRITE,
    "POST /2/users/:id/retweets": _WRITE,
    "DELETE /2/users/:id/retweets/:source_tweet_id": _WRITE,
    "POST /2/media/upload": _MEDIA,
    "GET /2/media/upload": _MEDIA,
    "POST /2/media/upload/initialize": _MEDIA,
    "POST /2/media/upload/:id/append": _MEDIA,
    "POST /2/media/upload/:id/finalize": _MEDIA,
    "POST /2/media/metadata": _MEDIA,
}

# The token endpoint's refusals, as X words them (api-notes X7 names each source).
INVALID_CODE = "Value passed for the authorization code was invalid."
REDIRECT_MISMATCH = (
    "Value passed for the redirect uri did not match the uri of the authorization code."
)
VERIFIER_MISMATCH = "Value passed for the code verifier did not match the code challenge."
INVALID_TOKEN = "Value passed for the token was invalid."
MISSING_AUTHORIZATION = "Missing valid authorization header"


@dataclass
class RequestToken:
    """OAuth 1.0a temporary credentials, from request_token to access_token."""

    token: str
    secret: str
    callback: str  # "oob" or a registered URL
    access_level: str | None  # x_auth_access_type "read" narrows the token; None: the user's
    user_id: str | None = None  # who approved it
    verifier: str | None = None


@dataclass
class OAuth1Grant:
    """An OAuth 1.0a user token made by the 3-legged or PIN flow."""

    token: str
    secret: str
    user_id: str
    access_level: str


@dataclass
class AuthorizationCode:
    code: str
    user_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    challenge: str
    method: str
    issued_at: float
    used: bool = False


@dataclass
class OAuth2Token:
    """An OAuth 2.0 access or refresh token. ``state`` is "active", "used" (a refresh token
    exchanged once: rotation) or "revoked"."""

    token: str
    kind: str  # "access" | "refresh"
    user_id: str
    grant_id: str  # the authorization it descends from, through every refresh
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float | None  # access tokens only
    state: str = "active"
    replaced_by: str | None = field(default=None)  # a used refresh token's successor


_URL_SAFE = string.ascii_letters + string.digits + "_-"


def random_text(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_pin() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(7))


def new_oauth2_value(kind: str, now: float) -> str:
    """A code ("ac"), access token ("at") or refresh token ("rt") in X's shape."""
    raw = f"{random_text(43, _URL_SAFE)}:{int(now * 1000)}"
    return _b64(f"{raw}:1:1:{kind}:1")


def new_client_id() -> str:
    return _b64(f"{random_text(20, _URL_SAFE)}:1:ci")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def token_error(error: str, description: str, status: int = 400) -> Response:
    """The token and revoke endpoints' error body: {"error", "error_description"}."""
    return json_response({"error": error, "error_description": description}, status)


def missing(name: str) -> Response:
    # "Missing required parameter [code_verifier]." (tweepy/tweepy#2014, from X's reply)
    return token_error("invalid_request", f"Missing required parameter [{name}].")
