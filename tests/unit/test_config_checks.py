"""Config checks across links, suggestions for misspelt keys, and the permission warning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from birdbridge.config import parse_config
from birdbridge.config_checks import permission_warning
from birdbridge.errors import ConfigError


def link(name: str, direction: str, x_token: str, m_token: str) -> str:
    return f"""
[[links]]
name = "{name}"
direction = "{direction}"
[links.twitter]
consumer_key = "ck"
consumer_secret = "cs"
access_token = "{x_token}"
access_token_secret = "xs"
[links.mastodon]
api_base_url = "https://mastodon.example"
access_token = "{m_token}"
"""


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "bb.toml", {})
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[bridge]\npoll_intervall = 5\n",
            'bridge.poll_intervall: unknown key; did you mean "poll_interval"?',
        ),
        ("[bridge]\ndatabase = 'x'\n", 'did you mean "database_url"?'),
        ("[bridge]\nzzz = 1\n", "bridge.zzz: unknown key (known keys here: database_url"),
    ],
)
def test_misspelt_keys_get_a_suggestion(text: str, expected: str) -> None:
    assert expected in error(text + link("a", "both", "x1", "m1"))


def test_misspelt_keys_inside_links_get_a_suggestion_too() -> None:
    text = link("a", "both", "x1", "m1").replace('consumer_key = "ck"', 'consumer_kee = "ck"')
    message = error(text)
    assert 'links[0] (a).twitter.consumer_kee: unknown key; did you mean "consumer_key"?' in message
    policy = link("b", "both", "x1", "m1") + "[links.policy]\nreplys = true\n"
    assert 'did you mean "replies"?' in error(policy)


def test_two_links_mirroring_the_same_pair_are_refused() -> None:
    text = link("a", "twitter-to-mastodon", "x1", "m1") + link("b", "both", "x1", "m1")
    message = error(text)
    assert "'a' and 'b' both mirror the X account" in message and "posted twice" in message
    assert "x1" not in message and "m1" not in message  # tokens are never printed


def test_a_circle_through_two_links_is_refused() -> None:
    # a: X1 -> M1; b: M1 -> X2; c: X2 -> ... no, simpler: b: M1 -> X1 closes the circle.
    text = link("a", "twitter-to-mastodon", "x1", "m1") + link(
        "b", "mastodon-to-twitter", "x1", "m1"
    )
    assert "mirror in a circle" in error(text)
    longer = (
        link("a", "twitter-to-mastodon", "x1", "m1")
        + link("b", "mastodon-to-twitter", "x2", "m1")
        + link("c", "twitter-to-mastodon", "x2", "m2")
        + link("d", "mastodon-to-twitter", "x1", "m2")
    )
    assert "mirror in a circle" in error(longer)


def test_independent_links_and_a_single_two_way_link_are_fine() -> None:
    text = link("a", "both", "x1", "m1") + link("b", "both", "x2", "m2")
    assert [lk.name for lk in parse_config(text, "bb.toml", {}).links] == ["a", "b"]
    shared_source = link("a", "twitter-to-mastodon", "x1", "m1") + link(
        "b", "twitter-to-mastodon", "x1", "m2"
    )  # one X account to two Mastodon accounts
    assert len(parse_config(shared_source, "bb.toml", {}).links) == 2


def test_permission_warning_for_readable_files_with_literal_tokens(tmp_path: Path) -> None:
    path = tmp_path / "birdbridge.toml"
    path.write_text(link("a", "both", "literal-token", "m1"))
    os.chmod(path, 0o644)
    warning = permission_warning(path)
    assert warning is not None and "chmod 600" in warning and "0644" in warning
    os.chmod(path, 0o600)
    assert permission_warning(path) is None
    path.write_text(
        link("a", "both", "${X}", "${M}")
        .replace('"ck"', '"${CK}"')
        .replace('"cs"', '"${CS}"')
        .replace('"xs"', '"${XS}"')
    )
    os.chmod(path, 0o644)
    assert permission_warning(path) is None  # every secret comes from the environment
