"""Where each side's credentials come from: the config (tokens written there win), or a sign-in
stored by ``birdbridge login`` (encrypted in the database: store/credentials.py,
secretbox.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import SecretStr

from birdbridge.config import LinkConfig, MastodonConfig
from birdbridge.credentials import NotSignedIn, login_command, not_signed_in
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.networks.twitter import TwitterNetwork
from birdbridge.networks.x_tokens import XTokenKeeper, sign_in_again
from birdbridge.redaction import register
from birdbridge.secretbox import SecretBox, secret_box

if TYPE_CHECKING:
    from birdbridge.store import Store
    from birdbridge.store.values import StoredCredential


class SignIns:
    """The stored sign-ins of one database; the key is looked for when one is first needed
    (a config with every token written in it needs no key)."""

    def __init__(
        self, store: Store, database_url: str, environ: Mapping[str, str] | None = None
    ) -> None:
        self.store = store
        self._database_url = database_url
        self._environ = environ
        self._box: SecretBox | None = None

    def box(self) -> SecretBox:
        if self._box is None:
            self._box = secret_box(self._database_url, self._environ, create=False)
        return self._box

    def stored(self, link: str, network: str) -> StoredCredential:
        if self.store.credential_summary(link, network) is None:  # no key needed to know
            raise not_signed_in(link, network)
        credential = self.store.credential(self.box(), link, network)
        if credential is None:
            raise not_signed_in(link, network)
        register(credential.secrets.values())
        return credential

    def twitter(self, link: LinkConfig, timeout: float) -> TwitterNetwork:
        if link.twitter.has_tokens:
            network = TwitterNetwork(link.twitter, timeout=timeout)
            token = link.twitter.access_token
            known = self._x_token_account(link.name, token.get_secret_value()) if token else None
            if known is not None:
                network.know_account(known)
            return network
        credential = self.stored(link.name, "twitter")
        if credential.kind == "oauth1":
            secrets = credential.secrets
            config = link.twitter.model_copy(
                update={
                    name: SecretStr(secrets[name])
                    for name in (
                        "consumer_key",
                        "consumer_secret",
                        "access_token",
                        "access_token_secret",
                    )
                }
            )
            network = TwitterNetwork(config, timeout=timeout)
        else:
            keeper = XTokenKeeper(
                self.store, self.box(), link.name, link.twitter.api_base_url, timeout
            )
            network = TwitterNetwork(link.twitter, timeout=timeout, tokens=keeper)
            if credential.scopes is not None:
                network.granted_scopes = frozenset(credential.scopes.split())
        network.auth_fix = sign_in_again(link.name)
        # A sign-in may be anyone's account: the Owned Reads rate only when the config says
        # the account owns the developer app (networks/x_prices.py).
        network.billing.owned = link.twitter.app_owner is True
        _know_signed_in(network, credential)
        return network

    def _x_token_account(self, link: str, access_token: str) -> str | None:
        """The account an OAuth 1.0a access token of the config acts as, when the database
        knows it for certain: X's access tokens begin with their user's id and a hyphen
        ("62532-Xt8...", X's 3-legged OAuth docs), and this side's last poll recorded that
        id (link_state). A token of another account (a new one in the config) begins with
        another id, and a token of another shape proves nothing: then X is asked who it is,
        as before."""
        user_id, hyphen, _ = access_token.partition("-")
        if not hyphen or not user_id.isdigit():
            return None
        state = self.store.link_state(link, "twitter")
        return user_id if state is not None and state.account_id == user_id else None

    def mastodon(self, link: LinkConfig, timeout: float, *, target: bool) -> MastodonNetwork:
        if link.mastodon.has_tokens:
            return MastodonNetwork(link.mastodon, timeout=timeout, target=target)
        credential = self.stored(link.name, "mastodon")
        signed_on = credential.secrets.get("api_base_url", "").rstrip("/")
        if signed_on and signed_on != link.mastodon.api_base_url.rstrip("/"):
            raise NotSignedIn(
                f"link {link.name!r}: the Mastodon sign-in is for {signed_on}, but "
                f"[links.mastodon] api_base_url is {link.mastodon.api_base_url}: run "
                f"`{login_command(link.name, 'mastodon')}` for the new server"
            )
        config = MastodonConfig(
            api_base_url=link.mastodon.api_base_url,
            access_token=SecretStr(credential.secrets["access_token"]),
        )
        network = MastodonNetwork(config, timeout=timeout, target=target)
        network.auth_fix = (
            f"Sign in again: `{login_command(link.name, 'mastodon')}` (the token was revoked "
            "or the app removed in the account's settings)"
        )
        # Not told its account (know_account), unlike X: Mastodon does not bill the question
        # (verify_credentials), and it is what notices a revoked token at each start, as public
        # timelines answer a revoked token as if it were none.
        return network


def _know_signed_in(network: TwitterNetwork, signed: StoredCredential) -> None:
    """A sign-in's account, as `birdbridge login` read it with these very tokens and stored
    it with them: a sign-in of another account replaces both (a refresh keeps the account)."""
    if signed.account_id:
        network.know_account(signed.account_id, signed.handle)
