"""Hostile or broken content renders safely and never crashes a poll or blocks the queue."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from birdbridge.render.compose import MAX_PARTS
from birdbridge.render.html import html_to_text
from birdbridge.render.length import x_weighted_length

from ..conftest import Rig


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_html_and_script_injection_arrive_as_plain_text_both_ways(rig: Rig) -> None:
    engine = rig.engine("both")
    engine.cycle()
    rig.toot('<script>alert("x")</script> &lt;b&gt;not bold&lt;/b&gt;')
    rig.tweet('<img src=x onerror=alert(1)> & "quotes"')
    engine.cycle()
    tweets = [unescape(t["text"]) for t in rig.tweets()]
    toots = [html_to_text(t["content"]) for t in rig.toots()]
    assert '<script>alert("x")</script> &lt;b&gt;not bold&lt;/b&gt;' in tweets
    assert '<img src=x onerror=alert(1)> & "quotes"' in toots
    assert all("<img" not in t["content"] for t in rig.toots())  # escaped, not markup


def test_direction_overrides_and_invisible_controls_are_removed(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # needs its zero-width joiners
    rig.toot(f"\ufeffinvoice \u202egpj.exe\u202c for {family}\u2066!\u2069")
    engine.cycle()
    [tweet] = rig.tweets()
    assert unescape(tweet["text"]) == f"invoice gpj.exe for {family}!"


@pytest.mark.timeout(120)
def test_a_100000_character_post_becomes_a_capped_thread(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    text = " ".join(f"Sentence number {n} of a post that goes on and on." for n in range(3000))
    toot = rig.toot(text[:100_000])
    report = engine.cycle()  # seconds; a quadratic split would take minutes (timeout marker)
    tweets = rig.tweets()
    assert report.delivered.done == 1
    assert len(tweets) == MAX_PARTS
    assert all(x_weighted_length(unescape(t["text"])) <= 280 for t in tweets)
    last = tweets[-1]
    assert toot["url"] in [u["expanded_url"] for u in last["entities"]["urls"]]
    assert "…" in last["text"]


def test_a_malformed_post_in_a_page_is_skipped_and_the_rest_arrive(rig: Rig) -> None:
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    good = rig.tweet("the good one")
    page = {
        "data": [
            {"text": "a post with no id"},
            {"id": "not-a-number", "text": 5},
            {
                "id": good["id"],
                "text": "the good one",
                "edit_history_tweet_ids": [good["id"]],
                "author_id": rig.x_user.id,
            },
        ],
        "meta": {"result_count": 3, "newest_id": good["id"], "oldest_id": good["id"]},
    }
    rig.x.add_fault(
        kind="status", status=200, method="GET", path=r"^/2/users/\d+/tweets$", body=page
    )
    report = engine.cycle()
    assert not report.errors
    assert [html_to_text(t["content"]) for t in rig.toots()] == ["the good one"]
    engine.cycle()  # and the poll after it is normal
    assert len(rig.toots()) == 1


def test_a_media_url_with_invalid_utf8_falls_back_without_a_crash(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    status = rig.toot("media with a broken name")
    status["media_attachments"] = [
        {
            "id": "1",
            "type": "image",
            "url": f"{rig.masto.url}/system/%FF%FE%00broken.png",
            "preview_url": None,
            "remote_url": None,
            "description": "\udcff is not UTF-8"[1:],
            "meta": {},
            "blurhash": None,
        }
    ]
    rig.masto.add_fault(
        kind="status",
        status=200,
        method="GET",
        path=r"^/api/v1/accounts/\d+/statuses$",
        body=[status],
    )
    report = engine.cycle()
    [tweet] = rig.tweets()
    assert tweet["text"].startswith("media with a broken name")
    assert any("download failed" in f for f in report.delivered.fallbacks)


def test_a_mastodon_remote_url_on_a_private_address_is_refused(rig: Rig) -> None:
    """Issue 10: ``remote_url`` is the original of a federated file, on whatever server the
    post says. The bridge must not fetch from its own network and post the bytes publicly.

    The sandboxes are configured (and allowed) as 127.0.0.1; ``localhost`` is the same machine
    by a name the operator did not choose, and the picture there is really served: only the
    address check keeps it from being carried.
    """
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(buffer, "PNG")
    rig.x.create_user("carol")
    elsewhere = rig.x.create_post(
        "carol", "p", media=[{"type": "photo", "data": buffer.getvalue()}]
    )
    port = rig.x.url.rsplit(":", 1)[1]
    secret = f"http://localhost:{port}/media/{elsewhere['attachments']['media_keys'][0]}.png"
    status = rig.toot("a picture from afar")
    status["media_attachments"] = [
        {
            "id": "1",
            "type": "image",
            "url": None,  # not cached by the instance: only the remote original
            "preview_url": None,
            "remote_url": secret,
            "description": "afar",
            "meta": {},
            "blurhash": None,
        }
    ]
    rig.masto.add_fault(
        kind="status",
        status=200,
        method="GET",
        path=r"^/api/v1/accounts/\d+/statuses$",
        body=[status],
    )
    report = engine.cycle()
    [tweet] = rig.tweets()
    assert tweet["text"].startswith("a picture from afar")
    assert not tweet.get("attachments", {}).get("media_keys")
    [fallback] = [f for f in report.delivered.fallbacks if "refused" in f]
    assert f"refused to fetch {secret}: localhost resolves to" in fallback
    assert "which is a loopback address" in fallback
    assert not rig.x.api_requests("GET", "^/media/")  # nothing was fetched from there
