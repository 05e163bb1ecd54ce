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
        "X_CONSUMER_KEY",
        "X_CONSUMER_SECRET",
        "X_ACCESS_TOKEN",
        "X_ACCESS_TOKEN_SECRET",
        "MASTODON_ACCESS_TOKEN",
    )
}


def keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_the_example_parses_with_its_variables_set() -> None:
    config = parse_config(EXAMPLE.read_text(), str(EXAMPLE), environ=SECRETS)
    assert config.links[0].name == "alice"
    assert config.bridge == BridgeConfig()  # the example shows the defaults


def test_the_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    document = tomllib.loads(text)
    link = document["links"][0]
    # Optional keys without a default value are shown commented out: "# http_port = 8080".
    commented = set(re.findall(r"^# (\w+) = ", text, flags=re.MULTILINE))
    assert set(document["bridge"]) | commented == keys(BridgeConfig)
    sections = {"twitter": TwitterConfig, "mastodon": MastodonConfig, "policy": PolicyConfig}
    assert set(link) == keys(LinkConfig)
    for section, model in sections.items():
        assert set(link[section]) == keys(model), section
