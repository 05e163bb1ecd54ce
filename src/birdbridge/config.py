"""The configuration: a TOML file (or environment variable), ``${VAR}`` references, validation.

Every problem becomes a :class:`ConfigError` whose message names the source, the key path and
what is wrong, so ``birdbridge`` can print it and exit 2 without a traceback.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StrictFloat,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from birdbridge.config_checks import SECRET_KEYS, loop_problems
from birdbridge.errors import ConfigError
from birdbridge.models import Direction

DEFAULT_CONFIG_FILE = "birdbridge.toml"
_VAR_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LINK_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _StrictTypes(_Strict):
    """No quiet conversions: `poll_interval = true` or `"60"` is an error naming the key, not
    a poll every second or a number read from a string (pydantic's lax mode would take them)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL, e.g. https://mastodon.social")
    return value.rstrip("/")


DEFAULT_X_REDIRECT_URI = "http://127.0.0.1:8765/callback"


class TwitterConfig(_Strict):
    """The X side: where the API is, the app's keys, and (optionally) the account's tokens.

    Tokens written here (OAuth 1.0a user context, portal: 'Keys and tokens') win over a
    sign-in stored by ``birdbridge login x``; without them the link uses that sign-in. The
    app's keys are what ``login`` signs in with: ``client_id`` (and ``client_secret`` for a
    confidential client) for OAuth 2.0, ``consumer_key``/``consumer_secret`` for OAuth 1.0a.

    ``monthly_budget_usd`` caps what this link spends on X per UTC month (networks/x_prices.py,
    engine/budget.py); ``app_owner`` says whether the account owns the developer app (its own
    posts are then read at X's Owned Reads rate)."""

    api_base_url: str = "https://api.x.com"
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    client_id: str | None = Field(default=None, min_length=1, max_length=200)
    client_secret: SecretStr | None = None
    # Where X sends the browser back after `birdbridge login x` (OAuth 2.0, or OAuth 1.0a with
    # --callback): it must be listed, exactly, among the app's callback URLs in the portal.
    redirect_uri: str = DEFAULT_X_REDIRECT_URI
    # A write to X that would take this link's X spend this month (UTC) over this many US
    # dollars is not made: the X side waits for the next month or a higher budget. Unset: no
    # budget (the spend is still counted and shown).
    monthly_budget_usd: StrictFloat | None = Field(default=None, ge=0, le=1_000_000)
    # Does this X account own the developer app? Its own posts are then read at X's Owned
    # Reads rate ($0.001 instead of $0.005 a post). Unset: yes for tokens written here (the
    # portal's tokens are the owner's), no for a `birdbridge login x` sign-in.
    app_owner: StrictBool | None = None

    _check_url = field_validator("api_base_url")(_http_url)

    @field_validator("redirect_uri")
    @classmethod
    def _loopback(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(
                "must be an http:// address on this machine (e.g. http://127.0.0.1:8765/callback): "
                "birdbridge listens there for X's answer"
            )
        if parts.port is None:
            raise ValueError("must name a port, e.g. http://127.0.0.1:8765/callback")
        return value

    @model_validator(mode="after")
    def _whole_pairs(self) -> TwitterConfig:
        if (self.access_token is None) != (self.access_token_secret is None):
            raise ValueError(
                "access_token and access_token_secret go together: set both (OAuth 1.0a "
                "tokens from the portal) or neither (use `birdbridge login x`)"
            )
        if (self.consumer_key is None) != (self.consumer_secret is None):
            raise ValueError("consumer_key and consumer_secret go together: set both or neither")
        if self.access_token is not None and self.consumer_key is None:
            raise ValueError(
                "access_token needs the app's consumer_key and consumer_secret (OAuth 1.0a)"
            )
        return self

    @property
    def has_tokens(self) -> bool:
        """The account's tokens are in the config (they win over a stored sign-in)."""
        return self.access_token is not None


class MastodonConfig(_Strict):
    """The Mastodon side. ``access_token`` written here wins over a sign-in stored by
    ``birdbridge login mastodon``; without it the link uses that sign-in."""

    api_base_url: str
    access_token: SecretStr | None = None

    _check_url = field_validator("api_base_url")(_http_url)

    @property
    def has_tokens(self) -> bool:
        return self.access_token is not None


class PerTarget(_StrictTypes):
    """A text added to posts mirrored TO each network (so per link and direction)."""

    twitter: str = Field(default="", max_length=100)
    mastodon: str = Field(default="", max_length=100)

    def on(self, network: str) -> str:
        return str(getattr(self, network))


class PolicyConfig(_StrictTypes):
    """What a link mirrors and how it renders. Defaults are the safe ones; every key is
    documented in config.example.toml."""

    # Widest audience mirrored: "public" mirrors public posts only; "unlisted" adds unlisted ones.
    # Followers-only and direct posts are never mirrored, whatever this says (promise 3).
    visibility: Literal["public", "unlisted"] = "public"
    self_threads: StrictBool = True  # replies to one's own posts, mirrored as the same thread
    replies: StrictBool = False  # replies to other people, mirrored as standalone posts
    # Reposts/boosts of other people's posts: "skip", "link" (the original's URL) or "text"
    # ("RT @user: ..."). A repost of one's own mirrored post is always a native repost.
    reposts: Literal["skip", "link", "text"] = "skip"
    # Quote posts: "link" (a native quote where the target can, else the text plus a link to
    # the quoted post) or "skip".
    quotes: Literal["link", "text", "skip"] | None = None
    # Mentions of other accounts: "plain" (readable, pings nobody), "link" (the profile's URL)
    # or "skip" (such posts are not mirrored).
    mentions: Literal["plain", "link", "skip"] = "plain"
    # Too long for the target: "thread" (split into replies) or "truncate" (cut with "…").
    long_posts: Literal["thread", "truncate"] = "thread"
    numbering: StrictBool = False  # threads: end each part with " 1/3"
    link_back: StrictBool = False  # truncate: end with the original's URL (X bills URLs more)
    # A content warning on X (which has none): "line" (a first line, cw_format) or "skip".
    content_warnings: Literal["line", "skip"] = "line"
    cw_format: str = Field(default="CW: {cw}", max_length=60)
    prefix: PerTarget = PerTarget()
    suffix: PerTarget = PerTarget()
    # Filters. Tags without "#", case-insensitive. include_tags: mirror only posts with one of
    # them (the tag itself is removed from the mirror); exclude_tags: never mirror those.
    include_tags: list[str] = []
    exclude_tags: list[str] = []
    exclude_regex: list[str] = []  # Python regular expressions searched in the text
    max_age: float | None = Field(default=None, gt=0)  # seconds; older posts are skipped
    max_per_hour: int | None = Field(default=None, ge=1)  # new posts mirrored per hour and side
    # Edited source posts: "update" (edit the mirror where the target allows, else leave it),
    # "repost" (edit where allowed, else delete the mirror and post it again) or "ignore".
    edits: Literal["update", "repost", "ignore"] = "update"
    # A deleted source post deletes its mirror. Unset: on for direction = "both", off otherwise.
    deletes: StrictBool | None = None
    # Edits and deletions are found by re-reading recently mirrored posts: how far back
    # (seconds) and how often (seconds). X bills each post read (deduplicated per UTC day).
    recheck_window: float = Field(default=86400, ge=0, le=30 * 86400)
    recheck_interval: float = Field(default=900, ge=60, le=86400)
    # Media that cannot be carried (download failed, over every limit, a kind the target
    # cannot show): "link" adds the original post's URL, "drop" posts without it, "skip"
    # does not mirror the post. Always logged and counted.
    media_fallback: Literal["link", "drop", "skip"] | None = None
    # When the target refuses a thread part as a reply (X's self-serve apps may reply only
    # where the author was mentioned or quoted, since 2026-02-23; whether one's own threads
    # are exempt is not documented): "standalone" posts it as a post of its own (the thread's
    # order stays, its links do not), "skip" posts nothing more of that thread on the target,
    # "fail" marks the delivery failed for the operator (`birdbridge retry` / `skip`). Always
    # logged, counted and shown by `birdbridge status`.
    reply_refused: Literal["standalone", "skip", "fail"] = "standalone"

    @field_validator("include_tags", "exclude_tags")
    @classmethod
    def _bare_tags(cls, tags: list[str]) -> list[str]:
        cleaned = [tag.strip().lstrip("#").strip() for tag in tags]
        for tag in cleaned:
            if not re.fullmatch(r"\w+", tag):
                raise ValueError(f"{tag!r} is not a hashtag (letters, digits and _ only)")
        return cleaned

    @field_validator("exclude_regex")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return patterns

    @field_validator("cw_format")
    @classmethod
    def _has_cw(cls, value: str) -> str:
        if "{cw}" not in value or "\n" in value:
            raise ValueError('must hold "{cw}" (the warning) on one line, e.g. "CW: {cw}"')
        return value

    def deletes_on(self, direction: Direction) -> bool:
        return self.deletes if self.deletes is not None else direction is Direction.BOTH

    # Unset, the choices that add a URL to a post are made only towards Mastodon: on X a post
    # containing a URL costs more than ten times one without (networks/x_prices.py), and
    # birdbridge never adds one there unless the user chose it (docs/architecture.md).
    def quotes_on(self, target: str) -> str:
        return self.quotes or ("text" if target == "twitter" else "link")

    def media_fallback_on(self, target: str) -> str:
        return self.media_fallback or ("drop" if target == "twitter" else "link")


class LinkConfig(_Strict):
    name: str = Field(pattern=_LINK_NAME)
    direction: Direction
    twitter: TwitterConfig
    mastodon: MastodonConfig
    policy: PolicyConfig = PolicyConfig()


# The classes of X's rate card, as networks/x_prices.py.PriceClass names them (a test keeps the
# two the same; the config cannot import the networks layer).
X_PRICE_CLASSES = (
    "owned_read",
    "post_read",
    "user_read",
    "post",
    "post_with_url",
    "media_upload",
    "media_status",
    "media_metadata",
    "delete",
    "repost",
    "undo_repost",
)

SUMMARY_INTERVAL = 3600  # seconds: an idle daemon says it is alive once an hour


class BridgeConfig(_StrictTypes):
    database_url: str = "sqlite:///birdbridge.db"
    poll_interval: float = Field(default=120, ge=1, le=86400)  # seconds between polls of a link
    deliver_interval: float = Field(default=15, ge=1, le=3600)  # seconds between delivery passes
    max_attempts: int = Field(default=8, ge=1, le=100)  # tries before a delivery is marked failed
    request_timeout: float = Field(default=20, gt=0, le=300)  # seconds, every network call
    # Seconds a worker holds a delivery it works on; after a crash, the restarted (or another)
    # worker takes it over once this has passed. Keep it above request_timeout.
    claim_timeout: float = Field(default=60, ge=5, le=3600)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # "auto": readable lines on a terminal, JSON lines otherwise (containers, log drains).
    log_format: Literal["auto", "json", "console"] = "auto"
    # Seconds between `run`'s "alive" lines (links, mirrored, waiting, failed) at info level.
    summary_interval: float = Field(default=SUMMARY_INTERVAL, ge=1, le=86400)
    # Serve /healthz and /metrics on this port (the PORT variable of PaaS platforms counts
    # too); unset: no HTTP server.
    http_port: int | None = Field(default=None, ge=1, le=65535)
    # The address to serve them on. Unset: 127.0.0.1 (this machine only), or 0.0.0.0 where the
    # platform routes traffic in (PORT set by a PaaS, or BIRDBRIDGE_HTTP_HOST as in the image).
    http_host: str | None = Field(default=None, min_length=1, max_length=255)
    # After a quiet stretch the X side is polled less often, up to this many seconds, and at
    # poll_interval again after activity on either side. Unset: 600 (or poll_interval if more).
    max_poll_interval: float | None = Field(default=None, ge=1, le=86400)
    # Links one worker polls at the same time (threads): each poll mostly waits for the
    # networks, so a worker with thousands of links needs a few dozen.
    poll_threads: int = Field(default=16, ge=1, le=256)
    # Seconds a worker holds a link without renewing the hold (it renews every third of it):
    # the links of a worker that died are taken over by the others after about this long.
    lease_seconds: float = Field(default=60, ge=3, le=3600)
    # X's prices when they change, in US dollars per unit, by class (networks/x_prices.py:
    # owned_read, post_read, user_read, post, post_with_url, media_upload, media_status,
    # media_metadata, delete, repost, undo_repost). Unset: X's rate card of 2026-04-20.
    x_prices: dict[str, float] = {}

    @field_validator("x_prices")
    @classmethod
    def _known_prices(cls, prices: dict[str, float]) -> dict[str, float]:
        known = X_PRICE_CLASSES
        for key, value in prices.items():
            if key not in known:
                raise ValueError(f"{key!r} is not a price class; known: {', '.join(known)}")
            if not 0 <= value <= 100:
                raise ValueError(f"{key} = {value}: a price is between 0 and 100 dollars")
        return prices

    @model_validator(mode="after")
    def _slowest_poll(self) -> BridgeConfig:
        if self.max_poll_interval is not None and self.max_poll_interval < self.poll_interval:
            raise ValueError(
                f"max_poll_interval ({self.max_poll_interval:g}) is below poll_interval "
                f"({self.poll_interval:g})"
            )
        return self

    @property
    def slowest_poll(self) -> float:
        """The longest a quiet X side waits between polls (seconds)."""
        if self.max_poll_interval is not None:
            return self.max_poll_interval
        return max(self.poll_interval, 600.0)


class Config(_Strict):
    bridge: BridgeConfig = BridgeConfig()
    links: list[LinkConfig] = Field(min_length=1)
    source: str = Field(default="<config>", exclude=True)
    # Where bridge.database_url came from, for errors about it: the key in the file, or the
    # environment variable that overrode it (set by parse_config).
    _database_url_origin: str = PrivateAttr(default="bridge.database_url")

    @property
    def database_url_origin(self) -> str:
        return self._database_url_origin

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for link in self.links:
            if link.name in seen:
                raise ValueError(f"two links are named {link.name!r}; link names must be unique")
            seen.add(link.name)
        problems = loop_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def secrets(self) -> list[str]:
        """Every token value and the database password, so that they are redacted wherever
        they would appear."""
        values = [password] if (password := _database_password(self.bridge.database_url)) else []
        for link in self.links:
            for section in (link.twitter, link.mastodon):
                values += [
                    value.get_secret_value()
                    for name in type(section).model_fields
                    if isinstance(value := getattr(section, name), SecretStr)
                ]
        return values

    def link(self, name: str) -> LinkConfig:
        for link in self.links:
            if link.name == name:
                return link
        raise ConfigError(f"{self.source}: no link named {name!r}")


def _database_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


class EnvironmentOverrides(BaseSettings):
    """Settings that the environment may give instead of the file (PaaS style)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=False)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("BIRDBRIDGE_DATABASE_URL", "DATABASE_URL")
    )
    config_path: str | None = Field(default=None, validation_alias="BIRDBRIDGE_CONFIG")
    config_toml: str | None = Field(default=None, validation_alias="BIRDBRIDGE_CONFIG_TOML")
    port: int | None = Field(default=None, ge=1, le=65535, validation_alias="PORT")
    http_host: str | None = Field(default=None, validation_alias="BIRDBRIDGE_HTTP_HOST")


def _environment_overrides(environ: Mapping[str, str]) -> EnvironmentOverrides:
    """The variables that override the file, or a ConfigError naming the variable (a PaaS
    sets PORT; "abc" or 99999 there is the environment's mistake, not bridge.http_port's)."""
    try:
        return EnvironmentOverrides.model_validate(_settings_environ(environ))
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(part) for part in problem['loc'])} (environment variable): "
            f"{problem['msg']}, not {problem['input']!r}"
            for problem in exc.errors()
        ]
        raise ConfigError("; ".join(lines)) from None


def normalise_database_url(url: str) -> str:
    """Accept the URLs PaaS platforms hand out and pick our drivers.

    Heroku-style ``postgres://`` is not a scheme SQLAlchemy knows; psycopg 3 is our driver.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# A link's credentials: with secrets=False (commands that only read the database) a
# reference in one of these that cannot be resolved becomes a placeholder.
_CREDENTIAL_PATH = re.compile(
    r"^links\[\d+\]\.(?:twitter|mastodon)\.(?:" + "|".join(sorted(SECRET_KEYS)) + r")$"
)


def resolve_references(
    value: Any, environ: Mapping[str, str], path: str = "", *, secrets: bool = True
) -> Any:
    """Replace ``${VAR}`` in every string of a parsed TOML document, naming the key on failure.

    A variable that is not set, or set to an empty string (docker compose gives a variable
    missing from ``.env`` an empty value), is an error. With ``secrets=False`` such a reference
    in a link's credentials becomes a placeholder naming the variable instead."""
    if isinstance(value, dict):
        return {
            k: resolve_references(v, environ, _join(path, k), secrets=secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            resolve_references(v, environ, f"{path}[{i}]", secrets=secrets)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if environ.get(name):
            return environ[name]
        if not secrets and _CREDENTIAL_PATH.match(path):
            # Unique per variable: two links whose tokens come from different variables must
            # not look like the same account to the loop check.
            return unresolved_placeholder(name)
        if name not in environ:
            problem, hint = "is not set", ""
        else:
            problem, hint = "is empty", "; docker compose passes one missing from .env as empty"
        raise ConfigError(
            f"{path}: environment variable {name} {problem} (the value is ${{{name}}}{hint})"
        )

    return _VAR_REFERENCE.sub(substitute, value)


def unresolved_placeholder(name: str) -> str:
    """What stands for ``${name}`` when secrets are not needed (never sent anywhere)."""
    return f"<unresolved ${{{name}}}>"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe_location(loc: tuple[Any, ...], document: Mapping[str, Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = _join(text, str(part))
    if len(loc) >= 2 and loc[0] == "links" and isinstance(loc[1], int):
        links = document.get("links")
        if isinstance(links, list) and loc[1] < len(links) and isinstance(links[loc[1]], dict):
            name = links[loc[1]].get("name")
            if isinstance(name, str):
                text = text.replace(f"links[{loc[1]}]", f"links[{loc[1]}] ({name})", 1)
    return text or "(top level)"


def _format_validation_error(
    source: str, error: ValidationError, document: Mapping[str, Any]
) -> str:
    lines = [f"{source}: invalid configuration"]
    for problem in error.errors():
        where = _describe_location(tuple(problem["loc"]), document)
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key" + _suggestion(tuple(problem["loc"]))
        elif problem["type"] == "missing":
            message = "required key is missing"
        elif problem["type"] == "bool_type":
            # Strict: "yes" or "false" in quotes must not quietly become a boolean.
            message = f"must be true or false (without quotes), not {_as_toml(problem['input'])}"
        elif problem["type"] == "string_pattern_mismatch" and problem["loc"][-1] == "name":
            message = (
                f"{_as_toml(problem['input'])} is not a link name: 1 to 64 letters, digits, "
                "'_', '.' or '-', starting with a letter or digit"
            )
        elif problem["type"] in ("int_type", "float_type"):
            kind = "a whole number" if problem["type"] == "int_type" else "a number"
            message = f"must be {kind} (without quotes), not {_as_toml(problem['input'])}"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def _as_toml(value: Any) -> str:
    """A value as the config file wrote it: true, "60", 2.5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _suggestion(loc: tuple[Any, ...]) -> str:
    """'; did you mean "poll_interval"?' for a misspelt key, from the model at that path."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        inner = getattr(annotation, "__args__", (annotation,))[0]
        model = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
        if model is None:
            return ""
    names = [n for n in model.model_fields if n != "source"]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    if close:
        return f'; did you mean "{close[0]}"?'
    return f" (known keys here: {', '.join(names)})"


def parse_config(
    text: str, source: str, environ: Mapping[str, str] | None = None, *, secrets: bool = True
) -> Config:
    """Parse and validate one TOML document; ``source`` names it in error messages.
    ``secrets=False``: see :func:`load_config`."""
    environ = os.environ if environ is None else environ
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        resolved = resolve_references(document, environ, secrets=secrets)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    overrides = _environment_overrides(environ)
    bridge = dict(resolved.get("bridge") or {})
    if overrides.database_url:
        bridge["database_url"] = overrides.database_url
    if overrides.port and "http_port" not in bridge:
        bridge["http_port"] = overrides.port  # PaaS platforms say where to listen in PORT
        bridge.setdefault("http_host", "0.0.0.0")  # and route to the container from outside
    if overrides.http_host:
        bridge["http_host"] = overrides.http_host
    if bridge:
        resolved["bridge"] = bridge
    try:
        config = Config(**resolved, source=source)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc, document)) from None
    database_url = normalise_database_url(config.bridge.database_url)
    normalised = config.bridge.model_copy(update={"database_url": database_url})
    config = config.model_copy(update={"bridge": normalised})
    config._database_url_origin = _database_url_origin(source, document, environ)
    return config


def _database_url_origin(
    source: str, document: Mapping[str, Any], environ: Mapping[str, str]
) -> str:
    """Where the database URL came from, as errors about it name it."""
    for name in ("BIRDBRIDGE_DATABASE_URL", "DATABASE_URL"):  # the order EnvironmentOverrides reads
        if environ.get(name):
            return f"{name} (environment variable)"
    bridge = document.get("bridge")
    written = bridge.get("database_url") if isinstance(bridge, dict) else None
    if not isinstance(written, str):
        return f"{source}: bridge.database_url (not set: the default {BridgeConfig().database_url})"
    names = _VAR_REFERENCE.findall(written)
    via = f" (from {', '.join(f'${{{n}}}' for n in names)})" if names else ""
    return f"{source}: bridge.database_url{via}"


def _settings_environ(environ: Mapping[str, str]) -> dict[str, str]:
    names = (
        "BIRDBRIDGE_DATABASE_URL",
        "DATABASE_URL",
        "BIRDBRIDGE_CONFIG",
        "BIRDBRIDGE_CONFIG_TOML",
        "PORT",
        "BIRDBRIDGE_HTTP_HOST",
    )
    return {name: environ[name] for name in names if environ.get(name)}


def load_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    secrets: bool = True,
) -> Config:
    """Load the configuration from, in this order:

    1. ``path`` (``--config``);
    2. ``BIRDBRIDGE_CONFIG_TOML``: the whole file in one variable, for platforms without a
       disk; it wins over ``BIRDBRIDGE_CONFIG`` because an image may set that one by default
       (ours does) and the operator who sets the whole config means it;
    3. ``BIRDBRIDGE_CONFIG``: a path;
    4. ``./birdbridge.toml``.

    ``secrets=False`` is for commands that only read the database (status, retry, skip,
    resume): a ``${VAR}`` in a link's credentials that cannot be resolved becomes a
    placeholder instead of an error, so an operator without the secrets can run them.
    Everything else, the database URL included, must resolve as always."""
    environ = os.environ if environ is None else environ
    overrides = _environment_overrides(environ)
    if path is None and overrides.config_toml:
        return parse_config(
            overrides.config_toml, "$BIRDBRIDGE_CONFIG_TOML", environ, secrets=secrets
        )
    if path is None and overrides.config_path:
        path = overrides.config_path
    file = Path(path) if path is not None else Path(DEFAULT_CONFIG_FILE)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = (
            ""
            if path is not None
            else " (pass --config PATH, set BIRDBRIDGE_CONFIG to its path, or put the whole "
            "config in BIRDBRIDGE_CONFIG_TOML)"
        )
        raise ConfigError(f"{file}: config file not found{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc}") from None
    return parse_config(text, str(file), environ, secrets=secrets)
