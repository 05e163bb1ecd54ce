"""``/oauth/authorize``: the page where a user approves an application, as Mastodon's
Oauth::AuthorizationsController (a Doorkeeper::AuthorizationsController) serves it, in the
shape every sandbox's authorization page has (sandbox/common/approve.py).

The sandbox has no sessions: the signed-in user is its first user, named in the form's
``username`` field, which the form's poster may change (docs/api-notes.md M6).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from html import escape

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.doorkeeper import (
    CHALLENGE_METHODS,
    CODE_LIFETIME_SECONDS,
    MESSAGES,
    MISSING_PARAM,
    NOT_REDIRECTABLE,
    default_scope,
    error_body,
    error_status,
    pkce_supported,
    redirect_uri_registered,
    scopes_allowed,
    with_params,
)
from birdbridge.sandbox.mastodon.oauth import NATIVE_REDIRECT
from birdbridge.sandbox.mastodon.oauth_records import AccessGrant, ClientApp
from birdbridge.sandbox.mastodon.records import MastodonUser
from birdbridge.sandbox.mastodon.state import MastodonState

AUTHORIZE_PATH = "/oauth/authorize"
NATIVE_PATH = "/oauth/authorize/native"  # doorkeeper config.rb:641-644, rails/routes.rb:56
# The pre-authorization's fields (doorkeeper authorizations_controller.rb:107-118), kept in
# the form as hidden inputs.
PRE_AUTH_FIELDS = (
    "client_id",
    "redirect_uri",
    "state",
    "response_type",
    "response_mode",
    "scope",
    "code_challenge",
    "code_challenge_method",
)
RESPONSE_MODES = ("query", "fragment", "form_post")  # Doorkeeper's code flow
# Oauth::AuthorizationsController#set_cache_headers
NO_CACHE = "no-cache, no-store, max-age=0, must-revalidate"
# ActiveModel::Type::Boolean::FALSE_VALUES (activemodel type/boolean.rb): "False", which
# Mastodon.py sends as force_login, is not among them, so it is true.
RAILS_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "off", "OFF"})


@dataclass(frozen=True)
class PreAuth:
    """Doorkeeper::OAuth::PreAuthorization: the request's fields and its first failing
    validation (``error``), in the order of oauth/pre_authorization.rb:8-18."""

    fields: dict[str, str]
    client: ClientApp | None
    scope: str
    error: str | None = None
    description: str | None = None

    def field(self, name: str) -> str:
        return self.fields.get(name, "")

    @property
    def redirectable(self) -> bool:
        """ErrorResponse#redirectable? (error_response.rb:59-61; invalid_request_response
        .rb:42-44): not for the client's own errors, not to the out-of-band URI."""
        return (
            self.error not in NOT_REDIRECTABLE
            and self.field("redirect_uri") != NATIVE_REDIRECT
            and self.description != MISSING_PARAM.format("client_id")
        )


class AuthorizeRoutes(MastodonState):
    def _register_authorize_routes(self) -> None:
        self.route("GET", AUTHORIZE_PATH, self._authorize_page)
        self.route("POST", AUTHORIZE_PATH, self._authorize_decision)
        self.route("GET", NATIVE_PATH, self._native_page)

    def _pre_authorize(self, fields: dict[str, str]) -> PreAuth:
        client_id, uri = fields.get("client_id", ""), fields.get("redirect_uri", "")
        client = self._apps.get(client_id)
        if not client_id:
            return PreAuth(fields, None, "", "invalid_request", MISSING_PARAM.format("client_id"))
        if client is None:
            return PreAuth(fields, None, "", "invalid_client")
        app = client.application
        scope = fields.get("scope") or default_scope(app.scopes)
        if not uri or not redirect_uri_registered(uri, app.redirect_uris):
            return PreAuth(fields, client, scope, "invalid_redirect_uri")
        response_type = fields.get("response_type", "")
        if not response_type:
            return PreAuth(
                fields, client, scope, "invalid_request", MISSING_PARAM.format("response_type")
            )
        if response_type != "code":  # grant_flows has no implicit grant
            return PreAuth(fields, client, scope, "unsupported_response_type")
        if (fields.get("response_mode") or "query") not in RESPONSE_MODES:
            return PreAuth(fields, client, scope, "unsupported_response_mode")
        if not scopes_allowed(scope, app.scopes, self.version):
            return PreAuth(fields, client, scope, "invalid_scope")
        challenge = fields.get("code_challenge") if pkce_supported(self.version) else None
        if challenge and fields.get("code_challenge_method") not in CHALLENGE_METHODS:
            return PreAuth(fields, client, scope, "invalid_code_challenge_method")
        return PreAuth(fields, client, scope)

    def _authorize_page(self, request: Request) -> Response:
        """GET: the form, or Doorkeeper's error page (with the error's status: 401 for an
        unknown client, 400 otherwise; authorizations_controller.rb:43-53). An application
        the user already approved with the same scopes is approved again at once, unless
        ``force_login`` (Mastodon's render_success / can_authorize_response?)."""
        fields = {k: v[0] for k, v in request.query.items() if v and v[0] and k in PRE_AUTH_FIELDS}
        with self._lock:
            pre = self._pre_authorize(fields)
            user = next(iter(self._users.values()), None)
            if pre.error is not None:
                return _error_page(pre)
            if user is None:  # resource_owner_authenticator: sign in first
                return Response(302, b"", {"Location": "/auth/sign_in"})
            force = request.arg("force_login")
            if not (force and force not in RAILS_FALSE) and self._approved_before(pre, user):
                return self._approve(pre, user)
        return _form_page(pre, user)

    def _authorize_decision(self, request: Request) -> Response:
        """POST: ``decision=approve`` issues a code (Doorkeeper's #create), anything else
        denies (#destroy, which Doorkeeper does not re-validate)."""
        form = request.form()
        fields = {k: v[0] for k, v in form.items() if v and v[0] and k in PRE_AUTH_FIELDS}
        decision = (form.get("decision") or [""])[0]
        username = (form.get("username") or [""])[0]
        with self._lock:
            user = self._find_user(username)
            if user is None:
                return _page(400, "An error has occurred", f"<pre>No user {escape(username)}</pre>")
            if decision != "approve":
                denied = PreAuth(fields, None, "", "access_denied")
                return _redirect_or_render(denied, error_body("access_denied", fields.get("state")))
            return self._approve(self._pre_authorize(fields), user)

    def _approved_before(self, pre: PreAuth, user: MastodonUser) -> bool:
        """matching_token? (authorizations_controller.rb:61-69): a live token of this user
        for this app with exactly these scopes."""
        assert pre.client is not None
        wanted = sorted(pre.scope.split())
        return any(
            t.client_id == pre.client.client_id
            and t.account_id == user.id
            and t.revoked_at is None
            and sorted(t.scopes) == wanted
            for t in self._issued.values()
        )

    def _approve(self, pre: PreAuth, user: MastodonUser) -> Response:
        """authorize_response (authorizations_controller.rb:132-150): an invalid request's
        error, else a new code (CodeRequest#authorize, CodeResponse)."""
        if pre.error is not None or pre.client is None:
            state = pre.field("state")
            return _redirect_or_render(pre, error_body(pre.error or "", state, pre.description))
        pkce = pkce_supported(self.version) and bool(pre.field("code_challenge"))
        grant = AccessGrant(
            code=secrets.token_urlsafe(32),
            client_id=pre.client.client_id,
            account_id=user.id,
            redirect_uri=pre.field("redirect_uri"),
            scopes=tuple(pre.scope.split()),
            code_challenge=pre.field("code_challenge") if pkce else None,
            code_challenge_method=pre.field("code_challenge_method") if pkce else None,
            expires_at=self.now() + CODE_LIFETIME_SECONDS,
        )
        self._codes[grant.code] = grant
        if grant.redirect_uri == NATIVE_REDIRECT:  # Authorization::Code#oob_redirect
            return Response(302, b"", {"Location": with_params(NATIVE_PATH, {"code": grant.code})})
        return _redirect_or_render(pre, {"code": grant.code, "state": pre.field("state")})

    def _native_page(self, request: Request) -> Response:
        """The out-of-band code, shown (doorkeeper views/doorkeeper/authorizations/show)."""
        code = escape(request.arg("code") or "")
        return _page(200, "Authorization code", f'<code id="code">{code}</code>')


def _redirect_or_render(pre: PreAuth, body: dict) -> Response:
    """redirect_or_render (authorizations_controller.rb:71-93): to the client's redirect URI
    (in its query, its fragment, or a form posted to it), else the body as JSON."""
    if not pre.redirectable or not pre.field("redirect_uri"):
        return json_response(body, error_status(body.get("error", "")) if "error" in body else 200)
    mode = pre.field("response_mode") or "query"
    if mode == "form_post":
        inputs = "".join(_hidden(k, str(v)) for k, v in body.items() if v)
        action = escape(pre.field("redirect_uri"))
        return _page(
            200, "Submit this form", f'<form method="post" action="{action}">{inputs}</form>'
        )
    location = with_params(pre.field("redirect_uri"), body, fragment=mode == "fragment")
    return Response(302, b"", {"Location": location, "Cache-Control": NO_CACHE})


def _form_page(pre: PreAuth, user: MastodonUser) -> Response:
    """views/oauth/authorizations/new: the app, the scopes it asks, Authorize and Deny."""
    assert pre.client is not None
    app = pre.client.application
    hidden = "".join(_hidden(name, pre.field(name)) for name in PRE_AUTH_FIELDS if name != "scope")
    hidden += _hidden("scope", pre.scope)
    scopes = "".join(f"<li>{escape(scope)}</li>" for scope in pre.scope.split())
    content = (
        f"<p>Application <strong>{escape(app.name)}</strong> requests access to your account"
        f"</p><ul>{scopes}</ul>"
        f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
        f'<label>Signed in as <input name="username" value="{escape(user.username)}"></label>'
        '<button type="submit" name="decision" value="approve">Authorize</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
    )
    return _page(200, "Authorization required", content)


def _error_page(pre: PreAuth) -> Response:
    """views/doorkeeper/authorizations/error: the error's description, no form."""
    description = pre.description or MESSAGES[pre.error or "invalid_request"]
    return _page(
        error_status(pre.error or ""), "An error has occurred", f"<pre>{escape(description)}</pre>"
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def _page(status: int, title: str, content: str) -> Response:
    html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title></head><body><h1>{escape(title)}</h1>{content}</body></html>"
    )
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": NO_CACHE}
    return Response(status, html, headers)
