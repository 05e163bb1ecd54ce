"""The X app's keys a sign-in uses: from the link's config, else the environment, else the
link's previous sign-in (same app), else asked for."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from birdbridge.config import TwitterConfig, unresolved_placeholder
from birdbridge.errors import ConfigError

# The environment variables the README names for the app's keys.
CLIENT_ID_VARIABLE = "X_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "X_CLIENT_SECRET"
CONSUMER_KEY_VARIABLE = "X_CONSUMER_KEY"
CONSUMER_SECRET_VARIABLE = "X_CONSUMER_SECRET"


def _usable(value: str | None, key: str) -> str | None:
    """A config value, unless it is a ``${VAR}`` that could not be resolved."""
    if value is not None and value.startswith(unresolved_placeholder("")[:-2]):
        raise ConfigError(f"[links.twitter] {key}: {value[1:-1]} (set that variable)")
    return value or None


def oauth2_app(
    config: TwitterConfig,
    environ: Mapping[str, str],
    previous: Mapping[str, str] | None,
    ask: Callable[[str, bool], str] | None,
) -> tuple[str, str | None]:
    """(client_id, client_secret or None for a public client)."""
    client_id = _usable(config.client_id, "client_id") or environ.get(CLIENT_ID_VARIABLE)
    secret_value = config.client_secret.get_secret_value() if config.client_secret else None
    client_secret = _usable(secret_value, "client_secret") or environ.get(CLIENT_SECRET_VARIABLE)
    if not client_id and previous and previous.get("client_id"):
        client_id = previous["client_id"]
    if not client_id:
        if ask is None:
            raise ConfigError(
                "the X app's OAuth 2.0 Client ID is needed: set client_id in [links.twitter] "
                f"or {CLIENT_ID_VARIABLE} (developer portal: the app's 'Keys and tokens')"
            )
        client_id = ask("X app's OAuth 2.0 Client ID", False).strip()
    if client_secret is None and previous and previous.get("client_id") == client_id:
        client_secret = previous.get("client_secret")
    if client_secret is None and ask is not None:
        client_secret = ask("X app's Client Secret (empty for a public client)", True).strip()
    return client_id, client_secret or None


def oauth1_app(
    config: TwitterConfig,
    environ: Mapping[str, str],
    previous: Mapping[str, str] | None,
    ask: Callable[[str, bool], str] | None,
) -> tuple[str, str]:
    """(consumer_key, consumer_secret): the app's API Key and Secret."""
    key = config.consumer_key.get_secret_value() if config.consumer_key else None
    secret = config.consumer_secret.get_secret_value() if config.consumer_secret else None
    key = _usable(key, "consumer_key") or environ.get(CONSUMER_KEY_VARIABLE)
    secret = _usable(secret, "consumer_secret") or environ.get(CONSUMER_SECRET_VARIABLE)
    if not key and previous:
        key, secret = previous.get("consumer_key"), previous.get("consumer_secret")
    if not key or not secret:
        if ask is None:
            raise ConfigError(
                "the X app's API Key and Secret are needed for OAuth 1.0a: set consumer_key "
                f"and consumer_secret in [links.twitter], or {CONSUMER_KEY_VARIABLE} and "
                f"{CONSUMER_SECRET_VARIABLE}"
            )
        key = key or ask("X app's API Key (consumer key)", False).strip()
        secret = secret or ask("X app's API Key Secret", True).strip()
    return key, secret
