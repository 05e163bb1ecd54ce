"""Where a side's credentials come from, in words (no tokens): the config's tokens win; else
a sign-in stored by ``birdbridge login``. Light on purpose: `status` imports it, and the
network clients are not needed to say this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from birdbridge.config import LinkConfig
from birdbridge.errors import ConfigError

if TYPE_CHECKING:
    from birdbridge.store.values import CredentialSummary

NETWORK_TITLES = {"twitter": "X", "mastodon": "Mastodon"}
LOGIN_NETWORK = {"twitter": "x", "mastodon": "mastodon"}
KIND_TITLES = {"oauth2": "OAuth 2.0", "oauth1": "OAuth 1.0a", "mastodon": "OAuth"}


class NotSignedIn(ConfigError):
    """A side has no tokens in the config and no stored sign-in (or one for another server)."""


def login_command(link: str, network: str) -> str:
    return f"birdbridge login {LOGIN_NETWORK[network]} --link {link}"


@dataclass(frozen=True)
class CredentialOrigin:
    """Where one side's credentials come from, in words for `status` and `check` (never the
    tokens themselves)."""

    network: str
    signed_in: bool
    kind: str  # "oauth1" | "oauth2" | "mastodon"
    handle: str | None = None
    expires_at: datetime | None = None
    refreshed_at: datetime | None = None

    def describe(self) -> str:
        if not self.signed_in:
            return "tokens from the config"
        who = f" as {self.handle}" if self.handle else ""
        text = f"signed in{who} ({KIND_TITLES.get(self.kind, self.kind)}, `birdbridge login`)"
        if self.expires_at is not None:
            text += f"; access token valid until {self.expires_at:%Y-%m-%d %H:%M} UTC"
            text += ", refreshed automatically"
        return text


def origin_of(
    link: LinkConfig, network: str, summary: CredentialSummary | None
) -> CredentialOrigin:
    """``network``'s credential origin for ``link``: config tokens win; else the sign-in;
    ``NotSignedIn`` when there is neither."""
    section = link.twitter if network == "twitter" else link.mastodon
    if section.has_tokens:
        kind = "oauth1" if network == "twitter" else "mastodon"
        return CredentialOrigin(network, signed_in=False, kind=kind)
    if summary is None:
        raise not_signed_in(link.name, network)
    return CredentialOrigin(
        network,
        signed_in=True,
        kind=summary.kind,
        handle=summary.handle,
        expires_at=summary.expires_at,
        refreshed_at=summary.refreshed_at,
    )


def not_signed_in(link: str, network: str) -> NotSignedIn:
    title = NETWORK_TITLES[network]
    return NotSignedIn(
        f"link {link!r}: {title} has no tokens in [links.{network}] and no sign-in: "
        f"run `{login_command(link, network)}`"
    )
