"""Adapters built for an X sign-in know its account from the database: polls and mirrors
need no GET /2/users/me (a billed user read) at each start."""

from __future__ import annotations

from birdbridge.config import parse_config
from birdbridge.engine import LinkEngine
from birdbridge.networks.factory import build_adapters
from birdbridge.networks.signins import SignIns
from birdbridge.secretbox import ENV_KEY, new_key, secret_box

from ..conftest import Rig, config_text

WHOAMI = r"^/2/users/me$"
X_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def test_an_x_sign_in_polls_and_mirrors_without_asking_who_it_is(rig: Rig) -> None:
    environ = {ENV_KEY: new_key()}
    box = secret_box(rig.database_url, environ, create=False)
    rig.store.save_credential(
        box,
        link="alice",
        network="twitter",
        kind="oauth1",
        secrets={key: getattr(rig.x_user, key) for key in X_KEYS},
        account_id=rig.x_user.id,
        handle=f"@{rig.x_user.username}",
        scopes=None,
        expires_at=None,
    )
    # The config has no X tokens (the app's keys stay): the link uses the sign-in.
    text = config_text(rig.x, rig.x_user, rig.masto, rig.m_user, rig.database_url)
    for key in ("access_token", "access_token_secret"):
        text = text.replace(f'{key} = "{getattr(rig.x_user, key)}"\n', "")
    config = parse_config(text, "<test>", environ={})
    link = config.links[0]
    assert not link.twitter.has_tokens

    def cycle() -> None:
        adapters = build_adapters(link, 5, SignIns(rig.store, rig.database_url, environ))
        LinkEngine(link, rig.store, adapters, clock=rig.clock).cycle()  # a new process each

    cycle()  # the first poll of both sides
    rig.toot("to x")
    rig.tweet("from x")
    cycle()
    assert [t["text"] for t in rig.tweets()] == ["from x", "to x"]
    assert [t["content"] for t in rig.toots()] == ["<p>to x</p>", "<p>from x</p>"]
    assert rig.x.api_requests("GET", WHOAMI) == []
    # The mirror's address names the account, from the sign-in's handle.
    [mirror] = rig.store.mirror_parts("alice", "mastodon", rig.toots()[0]["id"], "twitter")
    assert mirror.target_url == f"https://x.com/{rig.x_user.username}/status/{mirror.target_id}"
