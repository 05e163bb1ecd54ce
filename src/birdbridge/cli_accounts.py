"""``birdbridge login``, ``logout`` and ``init``: linking accounts by signing in.

Registered on the main command line by cli.py; the flows themselves are in login/."""

from __future__ import annotations

import json
import os
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from birdbridge.cli import (
    ConfigOption,
    _error,
    _load,
    _open_store,
    _warn,
    app,
)
from birdbridge.consoles import console
from birdbridge.errors import ConfigError
from birdbridge.redaction import redact, register

if TYPE_CHECKING:
    from birdbridge.config import Config, LinkConfig
    from birdbridge.login.flow import Interaction, SignedIn
    from birdbridge.secretbox import SecretBox
    from birdbridge.store import Store

login_app = typer.Typer(
    no_args_is_help=True,
    help="Sign an account in for a link (stored encrypted in the database).",
)
app.add_typer(login_app, name="login")

# config.DEFAULT_X_REDIRECT_URI written out: importing the config's models (pydantic) for one
# string would slow down every --help. tests/unit/test_startup_imports.py checks they agree.
DEFAULT_X_REDIRECT_URI = "http://127.0.0.1:8765/callback"

LinkOption = Annotated[str, typer.Option("--link", "-l", help="The link's name in the config.")]
NoBrowser = Annotated[
    bool, typer.Option("--no-browser", help="Print the address instead of opening a browser.")
]
Paste = Annotated[
    bool,
    typer.Option(
        "--paste",
        help="No browser on this machine: open the address elsewhere and paste the code, PIN "
        "or final address here.",
    ),
]
Timeout = Annotated[float, typer.Option(help="Seconds to wait for the browser's answer.", min=1)]


def _interaction(no_browser: bool, paste: bool, timeout: float) -> Interaction:
    from birdbridge.login.flow import Interaction

    def show(url: str) -> None:
        opened = False
        if not (no_browser or paste):
            try:
                opened = webbrowser.open(url)
            except webbrowser.Error:
                opened = False
        lead = "A browser should open; if not, open" if opened else "Open"
        console.print(f"{lead} this address to sign in:\n\n  {url}\n", soft_wrap=True)
        if not paste:
            console.print("Waiting for the answer (Ctrl-C to give up)...")

    def ask(prompt: str) -> str:
        return str(typer.prompt(prompt))

    return Interaction(show_url=show, ask=ask, paste=paste, timeout=timeout)


def _ask_secret(prompt: str, hidden: bool) -> str:
    return str(typer.prompt(prompt, hide_input=hidden, default="", show_default=False))


def _link(settings: Config, name: str) -> LinkConfig:
    try:
        return settings.link(name)
    except ConfigError as exc:
        names = ", ".join(link.name for link in settings.links)
        _error(f"{exc} (links: {names}); add it to {settings.source} or run `birdbridge init`")
        raise typer.Exit(2) from None


def _box(settings: Config, *, create: bool) -> SecretBox:
    from birdbridge.secretbox import secret_box

    try:
        return secret_box(settings.bridge.database_url, create=create)
    except ConfigError as exc:
        _error(redact(str(exc)))
        raise typer.Exit(2) from None


def _store_sign_in(store: Store, box: SecretBox, link: LinkConfig, signed: SignedIn) -> None:
    from rich.text import Text

    from birdbridge.credentials import NETWORK_TITLES
    from birdbridge.login.storing import save_sign_in

    save_sign_in(store, box, link.name, signed)
    title = NETWORK_TITLES[signed.network]
    console.print(
        Text.assemble(
            ("signed in: ", "green"),
            f"link {link.name}: {title} {signed.handle} (id {signed.account_id})",
        )
    )
    for fact in signed.facts:
        console.print(f"  ok: {fact}")
    console.print(f"  stored encrypted in the database (key: {box.source})")
    section = link.twitter if signed.network == "twitter" else link.mastodon
    if section.has_tokens:
        _warn(
            f"[links.{signed.network}] of link {link.name!r} holds tokens, which win over this "
            "sign-in: remove access_token (and access_token_secret) from the config to use it"
        )


def _fail(exc: Exception) -> typer.Exit:
    _error(redact(str(exc)))
    return typer.Exit(2 if isinstance(exc, ConfigError) else 1)


@login_app.command("mastodon")
def login_mastodon(
    link: LinkOption,
    instance: Annotated[
        str | None,
        typer.Option(
            help="The Mastodon server, e.g. https://mastodon.social (default: the config's)."
        ),
    ] = None,
    no_browser: NoBrowser = False,
    paste: Paste = False,
    timeout: Timeout = 300,
    config: ConfigOption = None,
) -> None:
    """Sign a Mastodon account in: registers an app with the scopes the link needs, opens the
    authorization page and stores the token. Exit 0 signed in, 1 refused, 2 configuration."""
    from birdbridge.login.mastodon import sign_in_mastodon
    from birdbridge.models import NetworkName

    settings = _load(config, secrets=False)
    chosen = _link(settings, link)
    configured = chosen.mastodon.api_base_url.rstrip("/")
    if instance is not None and instance.rstrip("/") != configured:
        _error(
            f"--instance {instance} is not the server of link {link!r} ({configured}): change "
            f"[links.mastodon] api_base_url in {settings.source} first"
        )
        raise typer.Exit(2)
    store = _open_store(settings)
    box = _box(settings, create=True)
    target = NetworkName.MASTODON in {t for _, t in chosen.direction.pairs()}
    try:
        signed = sign_in_mastodon(
            configured,
            target=target,
            interaction=_interaction(no_browser, paste, timeout),
            timeout=settings.bridge.request_timeout,
        )
    except Exception as exc:
        raise _fail(exc) from None
    _store_sign_in(store, box, chosen, signed)
    store.close()


@login_app.command("x")
def login_x(
    link: LinkOption,
    oauth1: Annotated[
        bool,
        typer.Option("--oauth1", help="OAuth 1.0a with a PIN instead of OAuth 2.0 (PKCE)."),
    ] = False,
    callback: Annotated[
        bool,
        typer.Option(
            "--callback", help="OAuth 1.0a: listen on redirect_uri instead of asking for a PIN."
        ),
    ] = False,
    no_browser: NoBrowser = False,
    paste: Paste = False,
    timeout: Timeout = 300,
    config: ConfigOption = None,
) -> None:
    """Sign an X account in with the app's keys (config, else X_CLIENT_ID / X_CLIENT_SECRET,
    or X_CONSUMER_KEY / X_CONSUMER_SECRET with --oauth1). OAuth 2.0 sends the browser back to
    [links.twitter] redirect_uri (default http://127.0.0.1:8765/callback), which must be
    among the app's callback URLs. Exit 0 signed in, 1 refused, 2 configuration."""
    from birdbridge.login import keys
    from birdbridge.login.x import sign_in_x_oauth1, sign_in_x_oauth2

    settings = _load(config, secrets=False)
    chosen = _link(settings, link)
    store = _open_store(settings)
    box = _box(settings, create=True)
    try:
        previous = store.credential(box, link, "twitter")
    except ConfigError:
        previous = None  # a sign-in under another key: this one replaces it
    interaction = _interaction(no_browser, paste, timeout)
    try:
        if oauth1:
            key, secret = keys.oauth1_app(
                chosen.twitter, os.environ, previous.secrets if previous else None, _ask_secret
            )
            signed = sign_in_x_oauth1(
                chosen.twitter,
                consumer_key=key,
                consumer_secret=secret,
                interaction=interaction,
                callback=callback,
                timeout=settings.bridge.request_timeout,
            )
        else:
            client_id, client_secret = keys.oauth2_app(
                chosen.twitter, os.environ, previous.secrets if previous else None, _ask_secret
            )
            signed = sign_in_x_oauth2(
                chosen.twitter,
                client_id=client_id,
                client_secret=client_secret,
                interaction=interaction,
                timeout=settings.bridge.request_timeout,
            )
    except Exception as exc:
        raise _fail(exc) from None
    _store_sign_in(store, box, chosen, signed)
    store.close()


@app.command()
def logout(
    link: LinkOption,
    network: Annotated[
        str | None, typer.Argument(help="x or mastodon (default: both).", show_default=False)
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Revoke a link's sign-in where the network allows it, and forget it."""
    from birdbridge.cli import _network_option
    from birdbridge.credentials import NETWORK_TITLES
    from birdbridge.login.mastodon import revoke_mastodon
    from birdbridge.login.x import revoke_x

    settings = _load(config, secrets=False)
    chosen = _link(settings, link)
    networks = ["twitter", "mastodon"] if network is None else [_network_option(network).value]
    store = _open_store(settings, create=False)
    forgotten = 0
    for name in networks:
        summary = store.credential_summary(link, name)
        title = NETWORK_TITLES[name]
        if summary is None:
            console.print(f"link {link}: {title} is not signed in")
            continue
        try:
            credential = store.credential(_box(settings, create=False), link, name)
        except typer.Exit:
            credential = None
        if credential is not None:
            register(credential.secrets.values())
            try:
                if name == "mastodon":
                    revoke_mastodon(dict(credential.secrets), settings.bridge.request_timeout)
                    console.print(f"link {link}: {title} token revoked")
                elif revoke_x(
                    chosen.twitter.api_base_url,
                    credential.kind,
                    dict(credential.secrets),
                    settings.bridge.request_timeout,
                ):
                    console.print(f"link {link}: {title} tokens revoked")
                else:
                    _warn(
                        "X cannot revoke OAuth 1.0a tokens through the API: remove the app "
                        "under Settings > Security > Connected apps on X"
                    )
            except Exception as exc:  # forgetting must not depend on the network
                _warn(redact(f"could not revoke the {title} token ({exc}); forgetting it anyway"))
        store.forget_credential(link, name)
        forgotten += 1
        console.print(f"link {link}: {title} sign-in forgotten")
    store.close()
    raise typer.Exit(0)


INIT_TEMPLATE = """\
# Written by `birdbridge init`. No secrets here: the sign-ins are stored in the database,
# encrypted (`birdbridge login` adds or replaces one). Every key: config.example.toml.
[bridge]
database_url = {database_url}
poll_interval = 120

[[links]]
name = {name}
direction = {direction}

[links.twitter]
{twitter}
[links.mastodon]
api_base_url = {instance}
"""
DIRECTIONS = ("both", "twitter-to-mastodon", "mastodon-to-twitter")


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are all valid TOML escapes."""
    return json.dumps(value, ensure_ascii=False)


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 from the start (it never exists readable by others)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


@app.command()
def init(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The config file to write.")
    ] = Path("birdbridge.toml"),
    link: Annotated[str | None, typer.Option(help="The link's name.")] = None,
    direction: Annotated[
        str | None, typer.Option(help="both, twitter-to-mastodon or mastodon-to-twitter.")
    ] = None,
    instance: Annotated[str | None, typer.Option(help="The Mastodon server's address.")] = None,
    x_client_id: Annotated[
        str | None, typer.Option(help="The X app's OAuth 2.0 Client ID (or X_CLIENT_ID).")
    ] = None,
    x_api_base_url: Annotated[
        str, typer.Option(help="The X API's address (another one for a sandbox or a proxy).")
    ] = "https://api.x.com",
    x_redirect_uri: Annotated[
        str,
        typer.Option(help="Where X sends the browser back: one of the app's callback URLs."),
    ] = DEFAULT_X_REDIRECT_URI,
    database_url: Annotated[
        str, typer.Option(help="Where the bridge keeps its state and the sign-ins.")
    ] = "sqlite:///birdbridge.db",
    no_browser: NoBrowser = False,
    paste: Paste = False,
    timeout: Timeout = 300,
) -> None:
    """Start here: ask for a link's name, direction and Mastodon server, write the config
    (mode 0600, no secrets in it), sign both accounts in, then run `check`."""
    from birdbridge.config import parse_config

    if config.exists():
        _error(
            f"{config} exists: edit it, or sign in with `birdbridge login` (init never overwrites)"
        )
        raise typer.Exit(2)
    name = link or typer.prompt("Link name (letters, digits, '_', '.', '-')", default="me")
    chosen = direction or typer.prompt(f"Direction ({', '.join(DIRECTIONS)})", default="both")
    server = instance or typer.prompt("Your Mastodon server, e.g. https://mastodon.social")
    server = server.strip()
    if "://" not in server:
        server = "https://" + server
    try:
        parts = urlsplit(server)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        usable = usable and (parts.port is None or parts.port > 0)
    except ValueError:
        usable = False
    if not usable:
        _error(f"{server!r} is not the address of a Mastodon server (e.g. https://mastodon.social)")
        raise typer.Exit(2)
    client_id = (
        x_client_id
        or os.environ.get("X_CLIENT_ID")
        or typer.prompt(
            "Your X app's OAuth 2.0 Client ID (developer portal: the app's 'Keys and tokens')"
        )
    )
    twitter = f"client_id = {_toml_string(client_id.strip())}\n"
    if x_redirect_uri != DEFAULT_X_REDIRECT_URI:
        twitter += f"redirect_uri = {_toml_string(x_redirect_uri)}\n"
    if x_api_base_url.rstrip("/") != "https://api.x.com":
        twitter = f"api_base_url = {_toml_string(x_api_base_url)}\n" + twitter
    text = INIT_TEMPLATE.format(
        database_url=_toml_string(database_url),
        name=_toml_string(name.strip()),
        direction=_toml_string(chosen.strip()),
        twitter=twitter,
        instance=_toml_string(server.strip().rstrip("/")),
    )
    try:
        parse_config(text, str(config), {})
    except ConfigError as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    _write_private(config, text)
    console.print(f"wrote {config} (mode 0600)")
    from rich.text import Text

    console.print(Text("1/2: Mastodon", style="bold"))
    _run_step(
        login_mastodon,
        link=name,
        no_browser=no_browser,
        paste=paste,
        timeout=timeout,
        config=config,
    )
    console.print(Text("2/2: X", style="bold"))
    _run_step(
        login_x, link=name, no_browser=no_browser, paste=paste, timeout=timeout, config=config
    )
    console.print(Text("checking both accounts", style="bold"))
    from birdbridge.cli import check

    check(config=config)


def _run_step(command: Callable[..., None], **options: object) -> None:
    """One sign-in of ``init``; on failure, say how to finish by hand and stop."""
    try:
        command(**options)
    except typer.Exit as exc:
        if exc.exit_code:
            link = options["link"]
            network = "mastodon" if command is login_mastodon else "x"
            _error(
                f"init stopped: the config is written; finish with `birdbridge login {network} "
                f"--link {link}`, then `birdbridge check`"
            )
            raise
