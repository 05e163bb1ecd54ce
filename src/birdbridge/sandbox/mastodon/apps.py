"""``POST /api/v1/apps``: registering an application, validated as Mastodon's
OAuth::Application model validates it, answered with the CredentialApplication of the version
the sandbox reports (docs/api-notes.md M6)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.doorkeeper import DEFAULT_SCOPE, server_scopes
from birdbridge.sandbox.mastodon.errors import Invalid, validation_failed
from birdbridge.sandbox.mastodon.oauth import NATIVE_REDIRECT, VAPID_KEY, Application
from birdbridge.sandbox.mastodon.oauth_records import ClientApp
from birdbridge.sandbox.mastodon.state import MastodonState
from birdbridge.sandbox.mastodon.versions import version_tuple

# app/models/oauth/application.rb (ApplicationExtension before 4.4): APP_NAME_LIMIT,
# APP_REDIRECT_URI_LIMIT, APP_WEBSITE_LIMIT
NAME_LIMIT, REDIRECT_URI_LIMIT, WEBSITE_LIMIT = 60, 2000, 2000
# forbid_redirect_uri in config/initializers/doorkeeper.rb
FORBIDDEN_SCHEMES = ("data", "vbscript", "javascript")


class AppRoutes(MastodonState):
    def _register_app_routes(self) -> None:
        self.route("POST", r"/api/v1/apps", self._create_app)

    def register_app(
        self,
        client_name: str,
        redirect_uris: str | list[str] = NATIVE_REDIRECT,
        scopes: str | list[str] = DEFAULT_SCOPE,
        website: str | None = None,
    ) -> dict[str, Any]:
        """What ``POST /api/v1/apps`` answers (its CredentialApplication), from Python.
        ValueError with Mastodon's message for what it refuses."""
        try:
            return self._register(client_name, redirect_uris, scopes, website)
        except Invalid as exc:
            raise ValueError(str(exc)) from exc

    def _create_app(self, request: Request) -> Response:
        """Api::V1::AppsController#create: no token needed; a failed validation is 422
        ``{"error": "Validation failed: ..."}`` (api/base_controller.rb rescues
        ActiveRecord::RecordInvalid)."""
        fields = _app_params(request)
        try:
            body = self._register(
                fields.get("client_name"),
                fields.get("redirect_uris"),
                fields.get("scopes"),
                fields.get("website"),
            )
        except Invalid as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(body)

    def _register(self, name: Any, uris: Any, scopes: Any, website: Any) -> dict[str, Any]:
        # apps_controller.rb app_scopes_or_default: an array is joined, blank is `read`
        scope = " ".join(scopes) if isinstance(scopes, list) else str(scopes or "")
        scope = scope or DEFAULT_SCOPE
        # 4.3.0: redirect_uris may be an array, stored one per line (docs methods/apps.md)
        uri = "\n".join(map(str, uris)) if isinstance(uris, list) else str(uris or "")
        name = str(name or "")
        website = str(website) if website else None
        with self._lock:
            errors = self._app_errors(name, uri, scope, website)
            if errors:
                raise validation_failed(errors)
            number = str(next(self._grant_ids))
            app = Application(number, name, website, tuple(scope.split()), tuple(uri.split()))
            client = ClientApp(
                app, secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.now()
            )
            self._apps[client.client_id] = client
            return credential_json(client, self.version, uri)

    def _app_errors(self, name: str, uri: str, scope: str, website: str | None) -> list[str]:
        """The model's validations in their order: Doorkeeper's (orm/active_record/mixins/
        application.rb:29-36), then Mastodon's (name, redirect URI and website lengths, the
        website a URL). Attribute names: config/locales/doorkeeper.en.yml."""
        errors = []
        if not name.strip():
            errors.append("Application name can't be blank")
        errors += [f"Redirect URI {message}" for message in redirect_uri_errors(uri)]
        known = set(server_scopes(self.version))
        if any(c in scope for c in "\n\r\t") or not set(scope.split()) <= known:
            # scopes_match_configured, with enforce_configured_scopes
            errors.append("Scopes doesn't match those configured on the server.")
        if len(name) > NAME_LIMIT:
            errors.append(f"Application name is too long (maximum is {NAME_LIMIT} characters)")
        if len(uri) > REDIRECT_URI_LIMIT:
            errors.append(f"Redirect URI is too long (maximum is {REDIRECT_URI_LIMIT} characters)")
        if website is not None:
            if not _is_url(website):  # app/validators/url_validator.rb
                errors.append("Application website is invalid")
            if len(website) > WEBSITE_LIMIT:
                limit = WEBSITE_LIMIT
                errors.append(f"Application website is too long (maximum is {limit} characters)")
        return errors


def redirect_uri_errors(value: str) -> list[str]:
    """Doorkeeper::RedirectUriValidator (orm/active_record/redirect_uri_validator.rb:9-29)
    with Mastodon's settings (force_ssl_in_redirect_uri false, forbid_redirect_uri)."""
    if not value.strip():
        return ["can't be blank"]
    errors: list[str] = []
    for uri in value.split():
        if uri == NATIVE_REDIRECT:
            continue
        try:
            parts = urlsplit(uri)
            _ = parts.port
        except ValueError:
            return [*errors, "must be a valid URI."]
        opaque = bool(parts.scheme) and not uri[len(parts.scheme) + 1 :].startswith("/")
        if parts.scheme.lower() in FORBIDDEN_SCHEMES:
            errors.append("is forbidden by the server.")
        if "#" in uri:
            errors.append("cannot contain a fragment.")
        if opaque or parts.scheme == "localhost":
            errors.append("must specify a scheme.")
        if not parts.scheme and not parts.hostname:
            errors.append("must be an absolute URI.")
        if parts.scheme in ("http", "https") and not parts.hostname and not opaque:
            errors.append("must be a valid URI.")
    return errors


def _is_url(value: str) -> bool:
    """UrlValidator#compliant?: an http(s) URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def credential_json(client: ClientApp, version: str, redirect_uri: str) -> dict[str, Any]:
    """The Application ``POST /api/v1/apps`` answers: REST::ApplicationSerializer before
    4.3.0; REST::CredentialApplicationSerializer since (``scopes``, ``redirect_uris``);
    ``client_secret_expires_at`` (always 0) since 4.4.0 (docs entities/Application.md)."""
    app, at = client.application, version_tuple(version)
    body: dict[str, Any] = {"id": app.id, "name": app.name, "website": app.website}
    if at >= (4, 3, 0):
        body["scopes"] = list(app.scopes)
    body["redirect_uri"] = redirect_uri
    if at >= (4, 3, 0):
        body["redirect_uris"] = list(app.redirect_uris)
    body.update(vapid_key=VAPID_KEY, client_id=client.client_id)
    body["client_secret"] = client.client_secret
    if at >= (4, 4, 0):
        body["client_secret_expires_at"] = 0
    return body


def _app_params(request: Request) -> dict[str, Any]:
    """The form's or the JSON's fields: ``redirect_uris`` and ``scopes`` may be arrays
    (``redirect_uris[]`` in a form)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        data = request.json()
        return data if isinstance(data, dict) else {}
    fields: dict[str, Any] = {k: v[0] for k, v in request.query.items() if v}
    for key, values in request.form().items():
        name = key.removesuffix("[]")
        fields[name] = list(values) if key.endswith("[]") else (values[0] if values else "")
    return fields
