"""``GET /.well-known/oauth-authorization-server`` (RFC 8414), served from Mastodon 4.3.0
(WellKnown::OauthMetadataController, OauthMetadataPresenter; docs methods/oauth.md
#authorization-server-metadata). Before 4.3 the path is unknown: 404."""

from __future__ import annotations

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.doorkeeper import CHALLENGE_METHODS, grant_flows, server_scopes
from birdbridge.sandbox.mastodon.state import MastodonState
from birdbridge.sandbox.mastodon.versions import version_tuple


class OAuthMetadataRoutes(MastodonState):
    def _register_oauth_metadata_routes(self) -> None:
        self.route("GET", r"/\.well-known/oauth-authorization-server", self._oauth_metadata)

    def _oauth_metadata(self, request: Request) -> Response:
        at = version_tuple(self.version)
        if at < (4, 3, 0):
            return self.error_response(404, "Not Found")
        return json_response(oauth_metadata(self._base_url(request), self.version))


def oauth_metadata(base: str, version: str) -> dict[str, object]:
    """The presenter's attributes in OAuthMetadataSerializer's order, URLs absolute (the
    server's own, as the client reached it). ``userinfo_endpoint`` came with 4.4.0;
    ``code_challenge_methods_supported`` is the initializer's pkce_code_challenge_methods.
    The sandbox does not serve /oauth/userinfo."""
    document: dict[str, object] = {
        "issuer": f"{base}/",
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
    }
    if version_tuple(version) >= (4, 4, 0):
        document["userinfo_endpoint"] = f"{base}/oauth/userinfo"
    document.update(
        scopes_supported=list(server_scopes(version)),
        response_types_supported=["code"],
        response_modes_supported=["query", "fragment", "form_post"],
        grant_types_supported=list(grant_flows(version)),
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        code_challenge_methods_supported=list(CHALLENGE_METHODS),
        service_documentation="https://docs.joinmastodon.org/",
        app_registration_endpoint=f"{base}/api/v1/apps",
    )
    return document
