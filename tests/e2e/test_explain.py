"""`birdbridge explain`: the decision, its reason and the exact parts, without posting."""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import Rig
from .conftest import cli, write_config


def test_explain_shows_the_parts_that_would_be_posted_and_posts_nothing(
    rig: Rig, tmp_path: Path
) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", policy={"numbering": True})
    toot = rig.toot(" ".join(f"word{i}" for i in range(60)), spoiler_text="long")
    result = cli("explain", toot["url"], "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    [target] = json.loads(result.stdout)["targets"]
    assert target["target"] == "twitter" and target["mirror"] is True
    assert target["parts"][0].startswith("CW: long\n\nword0 ")
    assert [p.rsplit(" ", 1)[1] for p in target["parts"]] == ["1/2", "2/2"]
    assert all(length <= 280 for length in target["lengths"])
    assert target["delivery"] is None and target["published"] == []
    assert rig.tweets() == []  # nothing was posted

    text = cli("explain", toot["url"], "--config", str(config))
    assert "-> X: mirror" in text.stdout and "part 2/2" in text.stdout


def test_explain_gives_the_reason_for_a_skip_and_what_was_posted(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml", policy={"exclude_tags": ["noxp"]})
    assert cli("once", "--config", str(config)).returncode == 0  # first poll: cursors
    skipped = rig.tweet("not this one #noxp")
    mirrored = rig.tweet("this one")
    assert cli("once", "--config", str(config)).returncode == 0
    url = f"https://x.com/alice/status/{skipped['id']}"
    result = cli("explain", url, "--config", str(config), "--json")
    [target] = json.loads(result.stdout)["targets"]
    assert target["mirror"] is False and "exclude_tags" in target["reason"]
    result = cli("explain", mirrored["id"], "--network", "twitter", "--config", str(config))
    assert "outbox: done" in result.stdout and "published: " in result.stdout


def test_explain_refuses_what_it_cannot_read(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    result = cli("explain", "https://x.com/alice", "--config", str(config))
    assert result.returncode == 2 and "not the URL of a post on X" in result.stderr
    result = cli("explain", "12345", "--config", str(config))
    assert result.returncode == 2 and "--network" in result.stderr
