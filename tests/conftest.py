"""Shared fixtures: sandbox servers, databases (SQLite always, PostgreSQL when configured),
configs pointing the real clients at the sandboxes, and a controllable clock."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy

from birdbridge.config import Config, parse_config
from birdbridge.engine import LinkEngine
from birdbridge.networks.factory import build_adapters
from birdbridge.sandbox.mastodon import MastodonSandbox, MastodonUser
from birdbridge.sandbox.x import XSandbox, XUser
from birdbridge.store import Store

PG_ENV = "BIRDBRIDGE_TEST_DATABASE_URL"
PG_HINT = (
    f"PostgreSQL tests need {PG_ENV}, e.g. "
    f"{PG_ENV}=postgresql://postgres@127.0.0.1:5432/test (.ci/run sets it)"
)


@pytest.fixture
def x_sandbox() -> Iterator[XSandbox]:
    with XSandbox() as server:
        yield server


@pytest.fixture
def mastodon_sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


def _postgres_schema_url(base: str) -> tuple[str, str]:
    """A fresh schema per test, so tests never see each other's rows."""
    schema = f"bb_test_{uuid.uuid4().hex[:12]}"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    )
    admin = sqlalchemy.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    joiner = "&" if "?" in url else "?"
    return url + joiner + "options=" + quote(f"-csearch_path={schema}"), schema


def _drop_schema(base: str, schema: str) -> None:
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sqlalchemy.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store/engine test runs on SQLite, and on PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_HINT)
    url, schema = _postgres_schema_url(base)
    try:
        yield url
    finally:
        _drop_schema(base, schema)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


class Clock:
    """A clock the test moves forward, so retries come due without sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


def config_text(
    x: XSandbox,
    x_user: XUser,
    masto: MastodonSandbox,
    m_user: MastodonUser,
    database_url: str,
    *,
    direction: str = "both",
    name: str = "alice",
    policy: dict[str, Any] | None = None,
    bridge: dict[str, Any] | None = None,
) -> str:
    def toml_value(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            return "[" + ", ".join(toml_value(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
        return json.dumps(value)

    lines = ["[bridge]", f'database_url = "{database_url}"']
    lines += [f"{k} = {toml_value(v)}" for k, v in (bridge or {}).items()]
    lines += [
        "",
        "[[links]]",
        f'name = "{name}"',
        f'direction = "{direction}"',
        "",
        "[links.twitter]",
        f'api_base_url = "{x.url}"',
        f'consumer_key = "{x_user.consumer_key}"',
        f'consumer_secret = "{x_user.consumer_secret}"',
        f'access_token = "{x_user.access_token}"',
        f'access_token_secret = "{x_user.access_token_secret}"',
        "",
        "[links.mastodon]",
        f'api_base_url = "{masto.url}"',
        f'access_token = "{m_user.access_token}"',
    ]
    if policy:
        lines += ["", "[links.policy]"] + [f"{k} = {toml_value(v)}" for k, v in policy.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Rig:
    """Two sandboxes, one user on each, a store and one link's engine between them."""

    x: XSandbox
    masto: MastodonSandbox
    x_user: XUser
    m_user: MastodonUser
    store: Store
    database_url: str
    clock: Clock = field(default_factory=Clock)
    engines: list[LinkEngine] = field(default_factory=list)

    def config(self, **kwargs: Any) -> Config:
        text = config_text(
            self.x, self.x_user, self.masto, self.m_user, self.database_url, **kwargs
        )
        return parse_config(text, "<test>", environ={})

    def engine(self, direction: str = "both", **kwargs: Any) -> LinkEngine:
        config = self.config(direction=direction, **kwargs)
        link = config.links[0]
        engine = LinkEngine(
            link,
            self.store,
            build_adapters(link, timeout=5),
            max_attempts=config.bridge.max_attempts,
            clock=self.clock,
        )
        self.engines.append(engine)
        return engine

    def tweets(self) -> list[dict[str, Any]]:
        return self.x.posts(self.x_user.username)

    def toots(self) -> list[dict[str, Any]]:
        return self.masto.posts(self.m_user.username)

    def tweet(self, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.x.create_post(self.x_user.username, text, **kwargs)

    def toot(self, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.masto.create_post(self.m_user.username, text, **kwargs)


@pytest.fixture
def rig(
    x_sandbox: XSandbox, mastodon_sandbox: MastodonSandbox, store: Store, database_url: str
) -> Rig:
    return Rig(
        x=x_sandbox,
        masto=mastodon_sandbox,
        x_user=x_sandbox.create_user("alice", "Alice"),
        m_user=mastodon_sandbox.create_user("alice", "Alice"),
        store=store,
        database_url=database_url,
    )
