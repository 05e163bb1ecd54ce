"""What sign-in leaves behind, as Doorkeeper's tables hold it: registered applications
(oauth_applications), authorization codes (oauth_access_grants) and the tokens issued at the
token endpoint (oauth_access_tokens)."""

from __future__ import annotations

from dataclasses import dataclass

from birdbridge.sandbox.mastodon.oauth import Application


@dataclass(frozen=True)
class ClientApp:
    """An application registered with ``POST /api/v1/apps``: its client credentials."""

    application: Application
    client_id: str  # Doorkeeper's uid
    client_secret: str
    created_at: float

    def as_dict(self) -> dict[str, object]:
        app = self.application
        return {
            "id": app.id,
            "name": app.name,
            "website": app.website,
            "scopes": list(app.scopes),
            "redirect_uris": list(app.redirect_uris),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "created_at": self.created_at,
        }


@dataclass
class AccessGrant:
    """An authorization code (Authorization::Code#access_grant_attributes, doorkeeper
    oauth/authorization/code.rb:36-51): single use, ``expires_at`` 10 minutes after issue."""

    code: str
    client_id: str
    account_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    revoked: bool = False


@dataclass
class IssuedToken:
    """A token the token endpoint issued (``account_id`` None: a client-credentials token)."""

    token: str
    client_id: str
    account_id: str | None
    scopes: tuple[str, ...]
    grant_type: str
    created_at: float
    revoked_at: float | None = None

    def as_dict(self, username: str | None) -> dict[str, object]:
        return {
            "access_token": self.token,
            "client_id": self.client_id,
            "username": username,
            "scopes": list(self.scopes),
            "grant_type": self.grant_type,
            "created_at": self.created_at,
            "revoked": self.revoked_at is not None,
        }
