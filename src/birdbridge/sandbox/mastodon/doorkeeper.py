"""What Doorkeeper (the OAuth 2 server inside Mastodon) decides at sign-in, as pure functions:
the scopes a server of some version knows, whether a redirect URI is registered, whether asked
scopes are allowed, the S256 challenge, and its error bodies (docs/api-notes.md M6).

Sources: doorkeeper-gem/doorkeeper v5.9.6 (the files named at each rule) and Mastodon's
``config/initializers/doorkeeper.rb``, ``config/locales/doorkeeper.en.yml``.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from birdbridge.sandbox.common import Response
from birdbridge.sandbox.mastodon.oauth import NATIVE_REDIRECT
from birdbridge.sandbox.mastodon.versions import version_tuple

# doorkeeper config.rb:272 (Mastodon leaves it commented out: initializers/doorkeeper.rb)
CODE_LIFETIME_SECONDS = 600
DEFAULT_SCOPE = "read"  # initializers/doorkeeper.rb: default_scopes :read

# config/locales/en.yml of doorkeeper 5.9.6 (errors.messages), as Mastodon's
# doorkeeper.en.yml repeats them.
MESSAGES = {
    "invalid_redirect_uri": (
        "The requested redirect URI is malformed or doesn't match the client redirect URI."
    ),
    "unauthorized_client": (
        "The client is not authorized to perform this request using this method."
    ),
    "access_denied": "The resource owner or authorization server denied the request.",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
    "invalid_client": (
        "Client authentication failed due to unknown client, no client authentication "
        "included, or unsupported authentication method."
    ),
    "invalid_grant": (
        "The provided authorization grant is invalid, expired, revoked, does not match the "
        "redirection URI used in the authorization request, or was issued to another client."
    ),
    "unsupported_grant_type": (
        "The authorization grant type is not supported by the authorization server."
    ),
    "unsupported_response_type": "The authorization server does not support this response type.",
    "unsupported_response_mode": "The authorization server does not support this response mode.",
    # pkce_code_challenge_methods ['S256'] (Mastodon initializers/doorkeeper.rb): "one"
    "invalid_code_challenge_method": "The code_challenge_method must be S256.",
    "invalid_request": (
        "The request is missing a required parameter, includes an unsupported parameter "
        "value, or is otherwise malformed."
    ),
}
MISSING_PARAM = "Missing required parameter: {}."  # en.yml invalid_request.missing_param
REVOKE_REFUSED = "You are not authorized to revoke this token"  # en.yml revoke.unauthorized
# ErrorResponse::NON_REDIRECTABLE_STATES (oauth/error_response.rb:8)
NOT_REDIRECTABLE = frozenset({"invalid_redirect_uri", "invalid_client", "unauthorized_client"})
CHALLENGE_METHODS = ("S256",)


def server_scopes(version: str) -> tuple[str, ...]:
    """``Doorkeeper.configuration.scopes``: default_scopes then optional_scopes, in the
    order of initializers/doorkeeper.rb. ``profile`` came with 4.3.0 and ``crypto`` left;
    the ``collections`` scopes came with 4.6.0 (docs api/oauth-scopes.md#versions)."""
    at = version_tuple(version)
    granular = [
        "accounts",
        "blocks",
        "bookmarks",
        *(["collections"] if at >= (4, 6, 0) else []),
    ]
    writes = [*granular, "conversations", "favourites", "filters", "follows", "lists", "media"]
    writes += ["mutes", "notifications", "reports", "statuses"]
    reads = [*granular, "favourites", "filters", "follows", "lists", "mutes", "notifications"]
    reads += ["search", "statuses"]
    admin = ["accounts", "reports", "domain_allows", "domain_blocks", "ip_blocks"]
    admin += ["email_domain_blocks", "canonical_email_blocks"]
    return (
        "read",
        *(["profile"] if at >= (4, 3, 0) else []),
        "write",
        *(f"write:{what}" for what in writes),
        *(f"read:{what}" for what in reads),
        "follow",
        "push",
        "admin:read",
        *(f"admin:read:{what}" for what in admin),
        "admin:write",
        *(f"admin:write:{what}" for what in admin),
        *(["crypto"] if at < (4, 3, 0) else []),
    )


def grant_flows(version: str) -> tuple[str, ...]:
    """``grant_flows`` of initializers/doorkeeper.rb: the password grant left in 4.4.0."""
    if version_tuple(version) < (4, 4, 0):
        return ("authorization_code", "password", "client_credentials")
    return ("authorization_code", "client_credentials")


def pkce_supported(version: str) -> bool:
    """AccessGrant.pkce_supported? (models/access_grant_mixin.rb:99): the code_challenge
    columns came with Mastodon 4.3.0 (docs methods/oauth.md "4.3.0 - added support for PKCE");
    before, Doorkeeper ignores the PKCE parameters."""
    return version_tuple(version) >= (4, 3, 0)


def scopes_allowed(scope: str | None, app_scopes: tuple[str, ...], version: str) -> bool:
    """Helpers::ScopeChecker.valid? (oauth/helpers/scope_checker.rb:18-29): present, no
    newline or tab, and every scope one of the app's (the server's when the app has none),
    by exact name: ``read:statuses`` is not allowed to an app registered with ``read``."""
    if not scope or any(c in scope for c in "\n\r\t"):
        return False
    allowed = set(app_scopes) or set(server_scopes(version))
    return set(scope.split()) <= allowed


def default_scope(app_scopes: tuple[str, ...]) -> str:
    """PreAuthorization#build_scopes (oauth/pre_authorization.rb:74-81): the default scopes
    the app may have (``read`` if it has it, else nothing)."""
    if not app_scopes or DEFAULT_SCOPE in app_scopes:
        return DEFAULT_SCOPE
    return ""


def redirect_uri_valid(url: str) -> bool:
    """URIChecker.valid? (oauth/helpers/uri_checker.rb:9-16): oob, or a URI with a scheme
    (not ``localhost:``), a host if http(s), no fragment, not opaque."""
    if url == NATIVE_REDIRECT:
        return True
    parts = _split(url)
    if parts is None or not parts.scheme or parts.scheme == "localhost":
        return False
    if parts.scheme in ("http", "https") and not parts.hostname:
        return False
    opaque = not url[len(parts.scheme) + 1 :].startswith("/")
    return "#" not in url and not opaque


def redirect_uri_registered(url: str, registered: tuple[str, ...]) -> bool:
    """URIChecker.valid_for_authorization? (uri_checker.rb:47-49, matches? 18-39): the URI
    equals one registered, except that the order of a registered query does not matter and a
    loopback IP's port does not (RFC 8252 7.3)."""
    return redirect_uri_valid(url) and any(_matches(url, other) for other in registered)


def _matches(url: str, client_url: str) -> bool:
    if url == NATIVE_REDIRECT or client_url == NATIVE_REDIRECT:
        return url == client_url
    given, mine = _split(url), _split(client_url)
    if given is None or mine is None:
        return False
    if mine.query and sorted(mine.query.split("&")) != sorted((given.query or "").split("&")):
        return False
    if _loopback(given) and _loopback(mine):
        given, mine = _without_port(given), _without_port(mine)
    return _normal(given) == _normal(mine)


def _normal(parts: SplitResult) -> SplitResult:
    """URI#normalize, which URI#== compares: scheme and host in lower case, an empty http(s)
    path as "/"; the query is left out here (matches? clears it)."""
    path = parts.path or ("/" if parts.scheme.lower() in ("http", "https") else "")
    return parts._replace(
        scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), path=path, query=""
    )


def _loopback(parts: SplitResult) -> bool:
    """IPAddr.new(host).loopback?: an IP address in 127.0.0.0/8 or ::1 (not "localhost")."""
    host = parts.hostname or ""
    return host == "::1" or (host.startswith("127.") and host.replace(".", "").isdigit())


def _without_port(parts: SplitResult) -> SplitResult:
    host = parts.hostname or ""
    return parts._replace(netloc=f"[{host}]" if ":" in host else host)


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number is an invalid URI
    except ValueError:
        return None
    return parts


def s256(verifier: str) -> str:
    """AccessGrant.generate_code_challenge (access_grant_mixin.rb:95-97)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def with_params(url: str, params: dict[str, str | None], fragment: bool = False) -> str:
    """Authorization::URIBuilder (oauth/authorization/uri_builder.rb): the parameters merged
    into the URI's query (or put in its fragment), blank ones left out."""
    kept = {k: v for k, v in params.items() if v}
    parts = urlsplit(url)
    if fragment:
        return urlunsplit(parts._replace(fragment=urlencode(kept)))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(query=urlencode({**query, **kept})))


def error_body(name: str, state: str | None = None, description: str | None = None) -> dict:
    """ErrorResponse#body (oauth/error_response.rb:43-49): blank values left out."""
    body = {"error": name, "error_description": description or MESSAGES[name], "state": state}
    return {k: v for k, v in body.items() if v}


def error_status(name: str) -> int:
    """ErrorResponse#status (error_response.rb:51-57)."""
    return 401 if name in ("invalid_client", "unauthorized_client") else 400


def token_error(name: str, description: str | None = None) -> Response:
    """A token endpoint's error: the body, its status and ErrorResponse#headers (71-77)."""
    body = error_body(name, description=description)
    challenge = (
        f'Bearer realm="Doorkeeper", error="{name}", '
        f'error_description="{_rfc6750(body["error_description"])}"'
    )
    headers = {"Cache-Control": "no-store, no-cache", "WWW-Authenticate": challenge}
    return Response(error_status(name), body, headers)


def missing(param: str) -> Response:
    """InvalidRequestResponse for a missing parameter (invalid_request_response.rb)."""
    return token_error("invalid_request", MISSING_PARAM.format(param))


def _rfc6750(text: str) -> str:
    """sanitize_error_values (error_response.rb:108-118)."""
    return "".join(c if c in " !" or "#" <= c <= "[" or "]" <= c <= "~" else "_" for c in text)
