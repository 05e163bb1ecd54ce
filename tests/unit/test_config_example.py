"""config.example.toml parses, and documents every key the config models accept."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

from birdbridge.config import (
    BridgeConfig,
    LinkConfig,
    MastodonConfig,
    PolicyConfig,
    TwitterConfig,
    parse_config,
)

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"
SECRETS = {
    name: "value"
    for name in (
        "X_CLIENT_ID",
        "X_CONSUMER_KEY",
        "X_CONSUMER_SECRET",
        "X_ACCESS_TOKEN",
        "X_ACCESS_TOKEN_SECRET",
        "MASTODON_ACCESS_TOKEN",
    )
}


def keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def commented(text: str, section: str) -> set[str]:
    """Optional keys without a default value, shown commented out ("# http_port = 8080") in
    ``[section]``."""
    body = re.split(r"^\[+[\w.]+\]+$", text.split(f"[{section}]", 1)[1], flags=re.MULTILINE)[0]
    return set(re.findall(r"^# (\w+) = ", body, flags=re.MULTILINE))


def test_the_example_parses_with_its_variables_set() -> None:
    config = parse_config(EXAMPLE.read_text(), str(EXAMPLE), environ=SECRETS)
    assert config.links[0].name == "alice"
    assert config.bridge == BridgeConfig()  # the example shows the defaults


def test_the_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    document = tomllib.loads(text)
    link = document["links"][0]
    assert set(document["bridge"]) | commented(text, "bridge") == keys(BridgeConfig)
    sections = {"twitter": TwitterConfig, "mastodon": MastodonConfig, "policy": PolicyConfig}
    assert set(link) == keys(LinkConfig)
    for section, model in sections.items():
        shown = set(link[section]) | commented(text, f"links.{section}")
        assert shown == keys(model), section


def test_the_example_policy_shows_the_defaults() -> None:
    config = parse_config(EXAMPLE.read_text(), str(EXAMPLE), environ=SECRETS)
    assert config.links[0].policy == PolicyConfig()
