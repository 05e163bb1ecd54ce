"""Signing an X account in: OAuth 2.0 with PKCE (the default) or OAuth 1.0a with a PIN.

- OAuth 2.0 (XD:fundamentals/authentication/oauth-2-0/authorization-code.mdx): the browser
  goes to ``https://x.com/i/oauth2/authorize`` with an S256 code challenge; X redirects to the
  app's callback URL (registered exactly in the developer portal) with a code that must be
  exchanged within 30 seconds at ``POST https://api.x.com/2/oauth2/token``. The access token
  lasts two hours; ``offline.access`` brings a single-use refresh token
  (networks/x_tokens.py). oauthlib makes the verifier and the challenge.
- OAuth 1.0a (XD:fundamentals/authentication/oauth-1-0a/pin-based-oauth.mdx): request token
  with ``oauth_callback=oob``, the person authorizes and reads a PIN, the PIN buys the access
  token. requests-oauthlib's ``OAuth1Session`` does the signing (it is what tweepy's
  ``OAuth1UserHandler`` wraps; used directly for its timeouts and our base URL).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import requests
from oauthlib.oauth2 import WebApplicationClient
from pydantic import SecretStr
from requests_oauthlib import OAuth1Session

from birdbridge.config import TwitterConfig
from birdbridge.errors import AuthRevoked, NetworkError, Transient
from birdbridge.login.flow import (
    Interaction,
    SignedIn,
    SignInFailed,
    checked_code,
    new_state,
    redirected,
)
from birdbridge.login.loopback import Loopback
from birdbridge.networks.http import USER_AGENT
from birdbridge.networks.twitter import X_OAUTH2_SCOPES, TwitterNetwork
from birdbridge.networks.x_tokens import (
    X_REVOKE_PATH,
    X_TOKEN_PATH,
    token_lifetime,
    x_token_request,
)
from birdbridge.store import utcnow

# The API hosts whose authorization pages live on x.com, not on the API host itself.
X_API_HOSTS = {"api.x.com", "api.twitter.com"}
X_AUTHORIZE = "https://x.com/i/oauth2/authorize"


class StaticToken:
    """BearerTokens for the one check of a token just obtained."""

    def __init__(self, token: str) -> None:
        self.token = token

    def current(self) -> str:
        return self.token

    def after_unauthorized(self, used: str) -> str | None:
        return None


def authorize_endpoint(api_base_url: str) -> str:
    """x.com's authorization page for the real API; ``{base}/i/oauth2/authorize`` for any other
    base URL (a sandbox or a proxy serving both)."""
    if urlsplit(api_base_url).hostname in X_API_HOSTS:
        return X_AUTHORIZE
    return api_base_url.rstrip("/") + "/i/oauth2/authorize"


def sign_in_x_oauth2(
    config: TwitterConfig,
    *,
    client_id: str,
    client_secret: str | None,
    interaction: Interaction,
    timeout: float = 20,
) -> SignedIn:
    client = WebApplicationClient(client_id)
    verifier = client.create_code_verifier(128)
    challenge = client.create_code_challenge(verifier, "S256")
    state = new_state()
    redirect = config.redirect_uri
    # Built here, not by oauthlib: it refuses any http:// address (a local sandbox).
    url = (
        authorize_endpoint(config.api_base_url)
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect,
                "scope": " ".join(X_OAUTH2_SCOPES),
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    with ExitStack() as stack:
        listener = None
        if not interaction.paste:
            parts = urlsplit(redirect)
            listener = stack.enter_context(Loopback(parts.port or 0, parts.path or "/"))
        code = checked_code(redirected(interaction, url, listener), state, "X")
    try:
        answer = x_token_request(
            config.api_base_url.rstrip("/") + X_TOKEN_PATH,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "code_verifier": verifier,
            },
            client_id=client_id,
            client_secret=client_secret,
            timeout=timeout,
            what="exchange the sign-in's code",
            fix="Start `birdbridge login x` again (the code lasts 30 seconds)",
        )
    except (AuthRevoked, Transient) as exc:
        raise SignInFailed(str(exc)) from None
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise SignInFailed("X's token reply holds no access token")
    refresh = answer.get("refresh_token")
    scopes = str(answer.get("scope") or " ".join(X_OAUTH2_SCOPES))
    seconds = token_lifetime(answer.get("expires_in"))
    secrets = {"access_token": token, "client_id": client_id}
    if isinstance(refresh, str) and refresh:
        secrets["refresh_token"] = refresh
    if client_secret:
        secrets["client_secret"] = client_secret
    network = TwitterNetwork(config, timeout=timeout, tokens=StaticToken(token))
    network.granted_scopes = frozenset(scopes.split())
    return _checked(
        network,
        kind="oauth2",
        secrets=secrets,
        scopes=scopes,
        expires_at=utcnow() + timedelta(seconds=seconds),
    )


def sign_in_x_oauth1(
    config: TwitterConfig,
    *,
    consumer_key: str,
    consumer_secret: str,
    interaction: Interaction,
    callback: bool = False,
    timeout: float = 20,
) -> SignedIn:
    base = config.api_base_url.rstrip("/")
    with ExitStack() as stack:
        listener = None
        callback_uri = "oob"
        if callback and not interaction.paste:
            parts = urlsplit(config.redirect_uri)
            listener = stack.enter_context(Loopback(parts.port or 0, parts.path or "/"))
            callback_uri = config.redirect_uri
        session = OAuth1Session(consumer_key, consumer_secret, callback_uri=callback_uri)
        session.headers["User-Agent"] = USER_AGENT
        try:
            request_token = session.fetch_request_token(
                f"{base}/oauth/request_token", timeout=timeout
            )
        except (ValueError, requests.RequestException) as exc:
            raise SignInFailed(f"X refused the request token: {exc}") from None
        url = session.authorization_url(f"{base}/oauth/authorize")
        if listener is None:
            interaction.show_url(url)
            verifier = interaction.ask("Enter the PIN X shows").strip()
            if not verifier:
                raise SignInFailed("no PIN was entered: nothing was stored")
        else:
            answer = redirected(interaction, url, listener)
            if "denied" in answer:
                raise SignInFailed("the sign-in was cancelled on X")
            if answer.get("oauth_token") != request_token.get("oauth_token"):
                raise SignInFailed("X's answer does not belong to this sign-in")
            verifier = answer.get("oauth_verifier", "")
        try:
            access = session.fetch_access_token(
                f"{base}/oauth/access_token", verifier=verifier, timeout=timeout
            )
        except (ValueError, requests.RequestException) as exc:
            raise SignInFailed(f"X refused the PIN: {exc}") from None
    secrets = {
        "consumer_key": consumer_key,
        "consumer_secret": consumer_secret,
        "access_token": access["oauth_token"],
        "access_token_secret": access["oauth_token_secret"],
    }
    keys = config.model_copy(update={name: SecretStr(value) for name, value in secrets.items()})
    network = TwitterNetwork(keys, timeout=timeout)
    return _checked(network, kind="oauth1", secrets=secrets, scopes=None, expires_at=None)


def _checked(
    network: TwitterNetwork,
    *,
    kind: str,
    secrets: dict[str, str],
    scopes: str | None,
    expires_at: datetime | None,
) -> SignedIn:
    try:
        account = network.account()
        verified = network.verify()
    except NetworkError as exc:
        raise SignInFailed(f"the new X token does not work: {exc}") from None
    if verified.problems:
        raise SignInFailed("the new X sign-in: " + "; ".join(verified.problems))
    return SignedIn(
        network="twitter",
        kind=kind,
        secrets=secrets,
        account_id=account.id,
        handle=account.handle,
        scopes=scopes,
        expires_at=expires_at,
        facts=verified.facts,
        charges=tuple(network.billing.drain()),
    )


def revoke_x(api_base_url: str, kind: str, secrets: dict[str, str], timeout: float = 20) -> bool:
    """Revoke an OAuth 2.0 sign-in's tokens (POST /2/oauth2/revoke, the refresh token first:
    it is what keeps the grant alive). False for OAuth 1.0a: X API v2 has no revocation for
    it (the person removes the app under Settings > Security > Connected apps)."""
    if kind != "oauth2":
        return False
    url = api_base_url.rstrip("/") + X_REVOKE_PATH
    for hint in ("refresh_token", "access_token"):
        token = secrets.get(hint)
        if token:
            x_token_request(
                url,
                {"token": token, "token_type_hint": hint},
                client_id=secrets["client_id"],
                client_secret=secrets.get("client_secret"),
                timeout=timeout,
                what="revoke the sign-in",
                fix="Remove the app under Settings > Security > Connected apps on X",
            )
    return True
