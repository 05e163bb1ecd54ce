"""Access tokens, their scopes and applications, checked as Mastodon checks them with
Doorkeeper 5.9.6 (docs/api-notes.md M3).

- A token carries scopes, and an endpoint lists the scopes it accepts: the token passes if it
  has ANY of them, by exact string (doorkeeper lib/doorkeeper/models/concerns/scopes.rb:22-23,
  oauth/scopes.rb:30-38). There is no hierarchy: ``read`` passes ``read:statuses`` endpoints
  only because their controllers list both ``:read, :'read:statuses'``.
- ``doorkeeper_authorize!`` needs a token (none, or an unknown one: 401); the
  ``authorize_if_got_token!`` endpoints (api/base_controller.rb:90-92) serve a request without
  a known token as anonymous and check the scopes of a known one.
- A missing scope is 403 ``{"error": "This action is outside the authorized scopes"}``
  (api/base_controller.rb:27-28); 401 and 403 carry ``WWW-Authenticate`` and ``Cache-Control``
  (doorkeeper oauth/error_response.rb:71-76,97-118).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from birdbridge.sandbox.common import Response

# default_scopes and optional_scopes (config/initializers/doorkeeper.rb:72-119); with
# enforce_configured_scopes (line 61) an application cannot ask for anything else.
KNOWN_SCOPES = frozenset(
    {"read", "write", "follow", "push", "profile"}
    | {
        f"{kind}:{what}"
        for kind in ("read", "write")
        for what in (
            "accounts",
            "blocks",
            "bookmarks",
            "collections",
            "favourites",
            "filters",
            "follows",
            "lists",
            "mutes",
            "notifications",
            "statuses",
        )
    }
    | {"read:search", "write:conversations", "write:media", "write:reports"}
    | {"admin:read", "admin:write"}
    | {
        f"admin:{kind}:{what}"
        for kind in ("read", "write")
        for what in (
            "accounts",
            "reports",
            "domain_allows",
            "domain_blocks",
            "ip_blocks",
            "email_domain_blocks",
            "canonical_email_blocks",
        )
    }
)
# The sandbox's tokens get "read write" unless a test asks for others: the two parent scopes
# birdbridge's README asks for, which every endpoint the sandbox serves accepts, so tests
# that are not about scopes never meet a 403.
DEFAULT_SCOPES = ("read", "write")
OUT_OF_SCOPE = "This action is outside the authorized scopes"
INVALID_TOKEN = "The access token is invalid"  # config/locales/doorkeeper.en.yml:98-101
REVOKED_TOKEN = "The access token was revoked"
NATIVE_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"
# A P-256 public key, base64url: what a real server sends as its Web Push VAPID key.
VAPID_KEY = (
    "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M="
)


@dataclass(frozen=True)
class Application:
    id: str
    name: str
    website: str | None
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = (NATIVE_REDIRECT,)


@dataclass(frozen=True)
class Grant:
    """An access token: whose it is, its scopes, and the application it was made for. Its
    scopes are its application's, as for "Your access token" of an application made in
    Preferences > Development."""

    id: str
    account_id: str
    scopes: tuple[str, ...]
    application: Application

    def accepts(self, scopes: tuple[str, ...]) -> bool:
        """``includes_scope?``: nothing listed passes; else ANY listed scope the token has."""
        return not scopes or any(scope in self.scopes for scope in scopes)


def checked_scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """The scopes an application may be made with (space-separated or a list)."""
    wanted = scopes.split() if isinstance(scopes, str) else [str(s) for s in scopes]
    unknown = sorted(set(wanted) - KNOWN_SCOPES)
    if unknown or not wanted:
        raise ValueError(f"scopes must be some of Mastodon's scopes, not {unknown or 'none'}")
    return tuple(dict.fromkeys(wanted))


def unauthorized(description: str = INVALID_TOKEN) -> Response:
    """401 from doorkeeper_authorize! (doorkeeper/rails/helpers.rb:44-49; the body from
    api/base_controller.rb:23-24)."""
    return _error(401, description, "invalid_token", description)


def forbidden(scopes: tuple[str, ...]) -> Response:
    """403 for a token without any of ``scopes``; the header names them
    (doorkeeper forbidden_token_response.rb, en.yml ``missing_scope``)."""
    described = f'Access to this resource requires scope "{" ".join(scopes)}".'
    return _error(403, OUT_OF_SCOPE, "insufficient_scope", described)


def _error(status: int, message: str, name: str, description: str) -> Response:
    challenge = (
        f'Bearer realm="Doorkeeper", error="{_sanitized(name)}", '
        f'error_description="{_sanitized(description)}"'
    )
    headers = {"WWW-Authenticate": challenge, "Cache-Control": "no-store, no-cache"}
    return Response(status, {"error": message}, headers)


def _sanitized(text: str) -> str:
    """error_response.rb:108-118 (RFC 6750): characters other than %x20-21 / %x23-5B /
    %x5D-7E become "_", so the quotes around the scopes arrive as underscores."""
    return "".join(c if c in " !" or "#" <= c <= "[" or "]" <= c <= "~" else "_" for c in text)


def application_json(app: Application, version: tuple[int, int, int]) -> dict[str, object]:
    """GET /api/v1/apps/verify_credentials: REST::ApplicationSerializer (4-10); ``scopes``
    (an array) and ``redirect_uris`` came with 4.3.0 (commit 7c3fea7275, docs
    methods/apps.md:148-153); before, ``name``, ``website`` and ``vapid_key``."""
    if version < (4, 3, 0):
        return {"name": app.name, "website": app.website, "vapid_key": VAPID_KEY}
    return {
        "id": app.id,
        "name": app.name,
        "website": app.website,
        "scopes": list(app.scopes),
        "redirect_uris": list(app.redirect_uris),
        "redirect_uri": "\n".join(app.redirect_uris),
        "vapid_key": VAPID_KEY,
    }
