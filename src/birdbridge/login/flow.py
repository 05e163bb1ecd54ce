"""What every sign-in shares: how the person is shown the authorization page and how the
answer comes back (the loopback listener, or pasted by hand), and what a sign-in yields."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from birdbridge.errors import BirdbridgeError
from birdbridge.login.loopback import Loopback
from birdbridge.models import Charge


class SignInFailed(BirdbridgeError):
    """The sign-in was refused, cancelled or answered wrongly: nothing was stored."""


@dataclass(frozen=True)
class Interaction:
    """How a sign-in talks to the person at the terminal."""

    show_url: Callable[[str], None]  # print the authorization URL (and open a browser)
    ask: Callable[[str], str]  # a prompt for a pasted code, PIN or address
    paste: bool = False  # out-of-band: the answer is pasted, nothing listens
    timeout: float = 300.0  # seconds to wait for the browser's redirect
    # Called with the authorization URL once the listener is up (the demo approves by itself).
    approve: Callable[[str], None] | None = None


@dataclass(frozen=True)
class SignedIn:
    network: str  # "twitter" | "mastodon"
    kind: str  # "oauth2" | "oauth1" | "mastodon"
    secrets: Mapping[str, str]
    account_id: str
    handle: str
    scopes: str | None
    expires_at: datetime | None
    facts: tuple[str, ...] = field(default=())  # what the check of the new token found
    # What X billed for that check (GET /2/users/me: a user read), stored with the sign-in.
    charges: tuple[Charge, ...] = field(default=())


def new_state() -> str:
    """The OAuth ``state``: unguessable, checked on the way back (RFC 6749 section 10.12)."""
    return secrets.token_urlsafe(24)


def redirected(interaction: Interaction, url: str, listener: Loopback | None) -> Mapping[str, str]:
    """Show ``url``; the query the browser came back with (listened for, or pasted)."""
    interaction.show_url(url)
    if listener is not None:
        if interaction.approve is not None:
            interaction.approve(url)
        return listener.wait(interaction.timeout)
    pasted = interaction.ask(
        "Paste the address your browser ended on (it may show an error page: that is fine)"
    ).strip()
    query = urlsplit(pasted).query if "?" in pasted else pasted
    return {k: v[0] for k, v in parse_qs(query).items()}


def checked_code(answer: Mapping[str, str], state: str, network: str) -> str:
    """The authorization code of a redirect, after checking its ``state``."""
    if "error" in answer:
        described = answer.get("error_description") or answer["error"]
        raise SignInFailed(f"{network} refused the sign-in: {described}")
    if answer.get("state") != state:
        raise SignInFailed(
            f"{network}: the answer does not belong to this sign-in (its state does not match): "
            "start `birdbridge login` again"
        )
    code = answer.get("code")
    if not code:
        raise SignInFailed(f"{network}: the answer holds no authorization code")
    return code
