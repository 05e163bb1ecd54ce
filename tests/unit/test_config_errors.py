"""Config loading: ${VAR} references, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from birdbridge.config import load_config, normalise_database_url, parse_config
from birdbridge.errors import ConfigError

VALID = """
[bridge]
database_url = "sqlite:///state.db"
poll_interval = 60

[[links]]
name = "alice"
direction = "both"

[links.twitter]
consumer_key = "${X_KEY}"
consumer_secret = "cs"
access_token = "at"
access_token_secret = "ats"

[links.mastodon]
api_base_url = "https://mastodon.example/"
access_token = "secret-mastodon-token"
"""
ENV = {"X_KEY": "secret-x-key"}


def error(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml", ENV if environ is None else environ)
    message = str(caught.value)
    assert message.startswith("my.toml")  # every error names its source
    return message


def test_a_valid_config_parses_and_keeps_secrets_secret() -> None:
    config = parse_config(VALID, "my.toml", ENV)
    link = config.links[0]
    assert link.twitter.consumer_key.get_secret_value() == "secret-x-key"
    assert link.mastodon.api_base_url == "https://mastodon.example"
    assert link.twitter.api_base_url == "https://api.x.com"
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert "secret-x-key" not in shown and "secret-mastodon-token" not in shown


def test_a_missing_variable_names_the_key_and_the_variable() -> None:
    message = error(VALID, environ={})
    assert "links[0].twitter.consumer_key" in message and "X_KEY" in message


def test_invalid_toml() -> None:
    assert "not valid TOML" in error("[[links]\nname=")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("poll_interval = 60", 'poll_interval = "soon"'), "bridge.poll_interval"),
        (("poll_interval = 60", "poll_interval = 0"), "bridge.poll_interval"),
        (('direction = "both"', 'direction = "sideways"'), "links[0] (alice).direction"),
        (('name = "alice"', 'name = "has space"'), "links[0] (has space).name"),
        (('"https://mastodon.example/"', '"mastodon.example"'), "mastodon.api_base_url"),
        (('access_token = "at"', 'acess_token = "at"'), "twitter.acess_token: unknown key"),
        (('access_token = "at"\n', ""), "access_token and access_token_secret go together"),
    ],
)
def test_errors_name_the_key_path(change: tuple[str, str], expected: str) -> None:
    assert expected in error(VALID.replace(*change, 1))


def test_duplicate_link_names_are_refused() -> None:
    two = VALID + VALID[VALID.index("[[links]]") :]
    assert "unique" in error(two)


def test_no_links_is_an_error() -> None:
    assert "links" in error("[bridge]\npoll_interval = 60\n")


def test_database_url_from_the_environment(tmp_path: Path) -> None:
    config = parse_config(VALID, "my.toml", {**ENV, "DATABASE_URL": "postgres://u@db/x"})
    assert config.bridge.database_url == "postgresql+psycopg://u@db/x"
    both = {**ENV, "DATABASE_URL": "postgres://a/1", "BIRDBRIDGE_DATABASE_URL": "sqlite:///b.db"}
    assert parse_config(VALID, "my.toml", both).bridge.database_url == "sqlite:///b.db"


def test_database_url_normalisation() -> None:
    assert normalise_database_url("postgres://u:p@h:5/d") == "postgresql+psycopg://u:p@h:5/d"
    assert normalise_database_url("postgresql://h/d") == "postgresql+psycopg://h/d"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_load_config_sources(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(VALID)
    assert load_config(environ={**ENV, "BIRDBRIDGE_CONFIG": str(path)}).source == str(path)
    inline = load_config(environ={**ENV, "BIRDBRIDGE_CONFIG_TOML": VALID})
    assert inline.source == "$BIRDBRIDGE_CONFIG_TOML" and inline.links[0].name == "alice"
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml", environ={})


def test_load_config_precedence(tmp_path: Path) -> None:
    """--config, then BIRDBRIDGE_CONFIG_TOML, then BIRDBRIDGE_CONFIG, then ./birdbridge.toml."""
    path = tmp_path / "custom.toml"
    path.write_text(VALID)
    both = {**ENV, "BIRDBRIDGE_CONFIG": "/data/missing.toml", "BIRDBRIDGE_CONFIG_TOML": VALID}
    assert load_config(environ=both).source == "$BIRDBRIDGE_CONFIG_TOML"
    assert load_config(path, environ=both).source == str(path)
    with pytest.raises(ConfigError, match=r"/data/missing\.toml: config file not found"):
        load_config(environ={**ENV, "BIRDBRIDGE_CONFIG": "/data/missing.toml"})


def test_an_empty_variable_names_the_key_and_the_variable() -> None:
    message = error(VALID, environ={"X_KEY": ""})
    assert "links[0].twitter.consumer_key: environment variable X_KEY is empty" in message


def test_without_secrets_unresolved_credentials_are_placeholders_per_variable() -> None:
    text = VALID.replace('access_token = "at"', 'access_token = "${X_TOKEN}"')
    config = parse_config(text, "my.toml", {}, secrets=False)
    twitter = config.links[0].twitter
    assert twitter.consumer_key.get_secret_value() == "<unresolved ${X_KEY}>"
    assert twitter.access_token.get_secret_value() == "<unresolved ${X_TOKEN}>"
    assert twitter.consumer_secret.get_secret_value() == "cs"  # literal values stay
    # Set variables still resolve.
    resolved = parse_config(text, "my.toml", {"X_TOKEN": "t"}, secrets=False)
    assert resolved.links[0].twitter.access_token.get_secret_value() == "t"


def test_without_secrets_the_loop_check_tells_variables_apart() -> None:
    def link(name: str, token: str) -> str:
        body = VALID[VALID.index("[[links]]") :]
        return (
            body.replace('name = "alice"', f'name = "{name}"')
            .replace('access_token = "at"', f'access_token = "${{X_{token}}}"')
            .replace('access_token = "secret-mastodon-token"', f'access_token = "${{{token}}}"')
        )

    different = "[bridge]\n" + link("a", "A_TOKEN") + link("b", "B_TOKEN")
    names = [link.name for link in parse_config(different, "my.toml", {}, secrets=False).links]
    assert names == ["a", "b"]
    same = "[bridge]\n" + link("a", "A_TOKEN") + link("b", "A_TOKEN")
    with pytest.raises(ConfigError, match="same tokens"):
        parse_config(same, "my.toml", {"X_KEY": "k"}, secrets=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Not a credential: must resolve even without secrets.
        (VALID.replace("sqlite:///state.db", "${STATE_URL}"), "bridge.database_url"),
        (VALID.replace("https://mastodon.example/", "${M_URL}"), "mastodon.api_base_url"),
        (VALID + '\n[links.policy]\ncw_format = "${CW} {cw}"\n', "policy.cw_format"),
    ],
)
def test_without_secrets_everything_else_must_resolve(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml", {}, secrets=False)
    assert expected in str(caught.value) and "is not set" in str(caught.value)


@pytest.mark.parametrize("key", ["self_threads", "replies", "numbering", "link_back", "deletes"])
@pytest.mark.parametrize("value", ['"yes"', '"false"', "1"])
def test_policy_booleans_are_strict(key: str, value: str) -> None:
    message = error(VALID + f"\n[links.policy]\n{key} = {value}\n")
    assert f"links[0] (alice).policy.{key}: must be true or false (without quotes)" in message


def test_the_database_url_origin_is_the_key_or_the_variable() -> None:
    assert parse_config(VALID, "my.toml", ENV).database_url_origin == "my.toml: bridge.database_url"
    env = {**ENV, "DATABASE_URL": "postgres://a/1"}
    assert parse_config(VALID, "my.toml", env).database_url_origin.startswith("DATABASE_URL ")
    env["BIRDBRIDGE_DATABASE_URL"] = "sqlite:///b.db"
    origin = parse_config(VALID, "my.toml", env).database_url_origin
    assert origin == "BIRDBRIDGE_DATABASE_URL (environment variable)"
    unset = parse_config(VALID.replace('database_url = "sqlite:///state.db"', ""), "my.toml", ENV)
    assert "not set: the default sqlite:///birdbridge.db" in unset.database_url_origin


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ('exclude_regex = ["(unclosed"]', "exclude_regex"),
        ('exclude_regex = ["(unclosed"]', "not a valid regular expression"),
        ('include_tags = ["two words"]', "is not a hashtag"),
        ('cw_format = "Warning!"', 'must hold "{cw}"'),
        ('mentions = "ping"', "mentions"),
        ('long_posts = "chop"', "long_posts"),
        ("max_per_hour = 0", "max_per_hour"),
        ('prefix = { bluesky = "x" }', "prefix.bluesky"),
        ('edits = "overwrite"', "edits"),
    ],
)
def test_policy_mistakes_name_the_key(policy: str, expected: str) -> None:
    assert expected in error(VALID + f"\n[links.policy]\n{policy}\n")


def test_tags_are_accepted_with_or_without_the_hash() -> None:
    text = VALID + '\n[links.policy]\ninclude_tags = ["#XP", "xp2"]\n'
    assert parse_config(text, "my.toml", ENV).links[0].policy.include_tags == ["XP", "xp2"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "poll_interval = true",
            "bridge.poll_interval: must be a number (without quotes), not true",
        ),
        (
            'poll_interval = "60"',
            'bridge.poll_interval: must be a number (without quotes), not "60"',
        ),
        ("max_attempts = true", "bridge.max_attempts: must be a whole number (without quotes)"),
        ("max_attempts = 2.5", "bridge.max_attempts: must be a whole number (without quotes)"),
        ("http_port = true", "bridge.http_port: must be a whole number (without quotes), not true"),
        ('summary_interval = "3600"', "bridge.summary_interval: must be a number"),
    ],
)
def test_bridge_numbers_are_strict(line: str, expected: str) -> None:
    """Lax conversion would read `true` as 1: a poll every second, one attempt, port 1."""
    message = error(VALID.replace("poll_interval = 60", line))
    assert expected in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("max_per_hour = true", "policy.max_per_hour: must be a whole number (without quotes)"),
        ('max_age = "60"', "policy.max_age: must be a number (without quotes)"),
    ],
)
def test_policy_numbers_are_strict(line: str, expected: str) -> None:
    assert expected in error(VALID + f"\n[links.policy]\n{line}\n")


def test_whole_numbers_still_do_for_seconds() -> None:
    config = parse_config(VALID + "\n[links.policy]\nmax_age = 3600\n", "my.toml", ENV)
    assert config.bridge.poll_interval == 60.0 and config.links[0].policy.max_age == 3600.0


@pytest.mark.parametrize(("port", "expected"), [("abc", "valid integer"), ("99999", "65535")])
def test_a_bad_port_variable_is_blamed_on_port(port: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(VALID, "my.toml", {**ENV, "PORT": port})
    message = str(caught.value)
    assert message.startswith("PORT (environment variable): ") and expected in message
    assert "http_port" not in message


def test_a_bad_link_name_says_what_a_name_may_hold() -> None:
    message = error(VALID.replace('name = "alice"', 'name = "alice smith"'))
    assert '"alice smith" is not a link name: 1 to 64 letters, digits' in message
    assert "[A-Za-z0-9]" not in message  # not the pattern itself
