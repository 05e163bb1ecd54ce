"""Signing a Mastodon account in with Mastodon.py's OAuth pieces (api-facts 9):
``create_app`` registers an application with exactly the scopes the link needs,
``auth_request_url`` makes the authorization page's address, ``log_in`` exchanges the code
(and refuses a grant without every scope asked for)."""

from __future__ import annotations

from contextlib import ExitStack

from pydantic import SecretStr

from birdbridge.config import MastodonConfig
from birdbridge.errors import NetworkError
from birdbridge.login.flow import (
    Interaction,
    SignedIn,
    SignInFailed,
    checked_code,
    new_state,
    redirected,
)
from birdbridge.login.loopback import Loopback
from birdbridge.networks.http import USER_AGENT, TimeoutSession
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.networks.mastodon_py import Mastodon, mastodon
from birdbridge.networks.mastodon_scopes import ASK_FOR_EXACTLY

APP_NAME = "birdbridge"
APP_WEBSITE = "https://pypi.org/project/birdbridge/"
OUT_OF_BAND = "urn:ietf:wg:oauth:2.0:oob"  # Doorkeeper's native redirect: the code is shown
READ_ONLY_SCOPES = "read:accounts read:statuses"  # a link that only mirrors FROM Mastodon


def scopes_for(target: bool) -> list[str]:
    """Least privilege: write scopes only for a link that posts to Mastodon."""
    return (ASK_FOR_EXACTLY if target else READ_ONLY_SCOPES).split()


def sign_in_mastodon(
    instance: str, *, target: bool, interaction: Interaction, timeout: float = 20
) -> SignedIn:
    scopes = scopes_for(target)
    instance = instance.rstrip("/")
    http = instance.startswith("http://")  # a local sandbox or LAN server: the user chose it
    with ExitStack() as stack:
        listener = None if interaction.paste else stack.enter_context(Loopback())
        redirect = listener.redirect_uri if listener else OUT_OF_BAND
        try:
            client_id, client_secret = Mastodon.create_app(
                APP_NAME,
                scopes=scopes,
                redirect_uris=redirect,
                website=APP_WEBSITE,
                api_base_url=instance,
                request_timeout=timeout,
                session=TimeoutSession(timeout),
                user_agent=USER_AGENT,
            )
        except (mastodon.MastodonError, KeyError, ValueError) as exc:
            raise SignInFailed(
                f"Mastodon at {instance} did not register the application: {_reason(exc)}"
            ) from None
        api = Mastodon(
            client_id=client_id,
            client_secret=client_secret,
            api_base_url=instance,
            request_timeout=timeout,
            version_check_mode="none",
            session=TimeoutSession(timeout),
            user_agent=USER_AGENT,
        )
        state = new_state()
        try:
            url = api.auth_request_url(
                redirect_uris=redirect, scopes=scopes, state=state, allow_http=http
            )
        except mastodon.MastodonError as exc:
            raise SignInFailed(f"Mastodon at {instance}: {_reason(exc)}") from None
        if listener is None:
            interaction.show_url(url)
            code = interaction.ask("Paste the code Mastodon shows").strip()
            if not code:
                raise SignInFailed("no code was pasted: nothing was stored")
        else:
            code = checked_code(redirected(interaction, url, listener), state, "Mastodon")
        try:
            token = api.log_in(code=code, redirect_uri=redirect, scopes=scopes, allow_http=http)
        except mastodon.MastodonError as exc:
            raise SignInFailed(f"Mastodon at {instance} refused the code: {_reason(exc)}") from None
    return _checked(instance, token, client_id, client_secret, scopes, target, timeout)


def _checked(
    instance: str,
    token: str,
    client_id: str,
    client_secret: str,
    scopes: list[str],
    target: bool,
    timeout: float,
) -> SignedIn:
    """Use the new token once (whose account, which scopes) before it is stored."""
    network = MastodonNetwork(
        MastodonConfig(api_base_url=instance, access_token=SecretStr(token)),
        timeout=timeout,
        target=target,
    )
    try:
        account = network.account()
        verified = network.verify()
    except NetworkError as exc:
        raise SignInFailed(f"the new Mastodon token does not work: {exc}") from None
    if verified.problems:
        raise SignInFailed("the new Mastodon token: " + "; ".join(verified.problems))
    return SignedIn(
        network="mastodon",
        kind="mastodon",
        secrets={
            "access_token": token,
            "client_id": client_id,
            "client_secret": client_secret,
            "api_base_url": instance,
        },
        account_id=account.id,
        handle=account.handle,
        scopes=" ".join(scopes),
        expires_at=None,  # Mastodon's tokens last until revoked
        facts=verified.facts,
    )


def revoke_mastodon(secrets: dict[str, str], timeout: float = 20) -> None:
    """Revoke a stored sign-in's token (POST /oauth/revoke); MastodonError on failure."""
    instance = secrets["api_base_url"]
    api = Mastodon(
        client_id=secrets["client_id"],
        client_secret=secrets["client_secret"],
        access_token=secrets["access_token"],
        api_base_url=instance,
        request_timeout=timeout,
        version_check_mode="none",
        session=TimeoutSession(timeout),
        user_agent=USER_AGENT,
    )
    api.revoke_access_token(allow_http=instance.startswith("http://"))


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
