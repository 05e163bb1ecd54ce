"""What a cron `birdbridge once` asks the networks at each start: who the account is only
when the database does not know it for the tokens at hand."""

from __future__ import annotations

from pathlib import Path

from ..conftest import Rig
from .conftest import cli, write_config

X_WHOAMI = r"^/2/users/me$"


def whoami(rig: Rig) -> int:
    return len(rig.x.api_requests("GET", X_WHOAMI))


def test_once_asks_x_who_the_account_is_only_on_its_first_run(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", direction="twitter-to-mastodon")
    first = cli("once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert whoami(rig) == 1  # nothing known yet: X is asked
    second = cli("once", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert whoami(rig) == 1  # the account's id is the one the first run recorded
    # A post read: the reply's author expansion says all that the post's privacy needs.
    rig.tweet("from cron")
    third = cli("once", "--config", str(config))
    assert third.returncode == 0 and "mirrored 1" in third.stdout, third.stderr
    assert [t["content"] for t in rig.toots()] == ["<p>from cron</p>"]
    assert whoami(rig) == 1
    # Protected since: its posts are followers-only, known from the reply, not from memory.
    rig.x.set_protected(rig.x_user.username)
    rig.tweet("for followers only")
    fourth = cli("once", "--config", str(config))
    assert fourth.returncode == 0 and "mirrored 0" in fourth.stdout, fourth.stderr
    assert len(rig.toots()) == 1
    assert whoami(rig) == 1


def test_a_token_of_another_account_is_asked_who_it_is(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", direction="twitter-to-mastodon")
    assert cli("once", "--config", str(config)).returncode == 0
    assert cli("once", "--config", str(config)).returncode == 0
    assert whoami(rig) == 1
    # The config now holds the tokens of another X account.
    bob = rig.x.create_user("bob")
    text = config.read_text()
    for old, new in (
        (rig.x_user.access_token, bob.access_token),
        (rig.x_user.access_token_secret, bob.access_token_secret),
        (rig.x_user.consumer_key, bob.consumer_key),
        (rig.x_user.consumer_secret, bob.consumer_secret),
    ):
        text = text.replace(old, new)
    config.write_text(text)
    rig.tweet("alice's, read with bob's token")
    bobs = rig.x.create_post("bob", "from bob")
    switched = cli("once", "--config", str(config))
    assert switched.returncode == 0, switched.stderr
    assert whoami(rig) == 2  # asked again: the token is not the known account's
    assert [r.path for r in rig.x.api_requests("GET", r"/tweets$")][-1] == (
        f"/2/users/{bob.id}/tweets"
    )
    assert [t["content"] for t in rig.toots()] == ["<p>from bob</p>"], bobs
    again = cli("once", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert whoami(rig) == 2  # bob's id recorded: known from now on
