"""A Mastodon status as the API returns it (docs: entities/Status) -> Post, by the pure
converter alone: no server, no client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from birdbridge.errors import Transient
from birdbridge.models import (
    Hashtag,
    MediaKind,
    MediaSource,
    Mention,
    NetworkName,
    Poll,
    Visibility,
)
from birdbridge.networks.mastodon_posts import status_to_post

DOMAIN = "social.example"


def account(acct: str, account_id: str, url: str) -> dict[str, Any]:
    return {"id": account_id, "username": acct.split("@")[0], "acct": acct, "url": url}


ALICE = account("alice", "1", "https://social.example/@alice")
CAROL = account("carol@fosstodon.org", "3", "https://fosstodon.org/@carol")


def status(status_id: str, content: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": status_id,
        "created_at": "2025-11-03T09:14:27.512Z",
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://social.example/users/alice/statuses/{status_id}",
        "url": f"https://social.example/@alice/{status_id}",
        "edited_at": None,
        "content": content,
        "reblog": None,
        "application": None,
        "account": ALICE,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "poll": None,
        "quote": None,
        **fields,
    }


QUOTED = status(
    "90",
    "<p>Write the test first.</p>",
    account=CAROL,
    url="https://fosstodon.org/@carol/90",
)
MENTIONS_HTML = (
    '<p><span class="h-card"><a href="https://social.example/@bob" class="u-url mention">'
    '@<span>bob</span></a></span> and <span class="h-card"><a href="https://fosstodon.org/@carol"'
    ' class="u-url mention">@<span>carol</span></a></span>: <a href="https://social.example/tags/'
    'birds" class="mention hashtag" rel="tag">#<span>birds</span></a></p>'
)
QUOTE_POST = status(
    "100",
    '<p class="quote-inline">RE: <a href="https://fosstodon.org/@carol/90">'
    "fosstodon.org/@carol/90</a></p>" + MENTIONS_HTML,
    in_reply_to_id="99",
    in_reply_to_account_id="2",
    visibility="unlisted",
    spoiler_text="birds",
    sensitive=True,
    edited_at="2025-11-03T10:00:00Z",
    application={"name": "birdbridge", "website": None},
    mentions=[
        {"id": "2", "username": "bob", "acct": "bob", "url": "https://social.example/@bob"},
        {
            "id": "3",
            "username": "carol",
            "acct": "carol@fosstodon.org",
            "url": "https://fosstodon.org/@carol",
        },
    ],
    media_attachments=[
        {
            "id": "7",
            "type": "image",
            "url": "https://files.social.example/original/7.png",
            "remote_url": None,
            "description": "a robin",
            "meta": {"original": {"width": 640, "height": 480}},
        },
        {"id": "8", "type": "unknown", "url": "https://files.social.example/8.bin"},
    ],
    quote={"state": "accepted", "quoted_status": QUOTED},
)


def test_a_quote_post_with_mentions_media_and_its_app() -> None:
    post = status_to_post(QUOTE_POST, DOMAIN)
    assert post.network is NetworkName.MASTODON
    assert (post.id, post.author_id, post.author_handle) == ("100", "1", "@alice@social.example")
    assert post.text == "@bob@social.example and @carol@fosstodon.org: #birds"
    assert post.mentions == (
        Mention(0, 19, "bob", "social.example", "https://social.example/@bob"),
        Mention(24, 44, "carol", "fosstodon.org", "https://fosstodon.org/@carol"),
    )
    assert post.hashtags == (Hashtag(46, 52, "birds"),)
    assert post.created_at == datetime(2025, 11, 3, 9, 14, 27, 512000, tzinfo=UTC)
    assert post.edited_at == datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
    assert post.visibility is Visibility.UNLISTED
    assert (post.in_reply_to_id, post.in_reply_to_author_id) == ("99", "2")
    assert (post.spoiler_text, post.sensitive, post.language) == ("birds", True, "en")
    assert post.app == "birdbridge"
    [picture] = post.media  # the "unknown" attachment is not carried
    assert picture.kind is MediaKind.IMAGE
    assert picture.sources == (MediaSource(url="https://files.social.example/original/7.png"),)
    assert (picture.alt_text, picture.width, picture.height) == ("a robin", 640, 480)
    assert post.quoted_id == "90"
    assert post.quoted is not None
    assert (post.quoted.text, post.quoted.author_handle) == (
        "Write the test first.",
        "@carol@fosstodon.org",
    )
    assert post.quoted.url == "https://fosstodon.org/@carol/90"
    assert not post.is_repost and post.reposted is None and post.poll is None


def test_a_boost_of_a_poll() -> None:
    original = status(
        "200",
        "<p>Tea or coffee?</p>",
        account=CAROL,
        poll={
            "id": "5",
            "expires_at": "2025-11-04T09:14:27.512Z",
            "multiple": True,
            "options": [{"title": "tea"}, {"title": "coffee"}],
        },
    )
    boost = status("201", "", reblog=original)
    post = status_to_post(boost, DOMAIN)
    assert post.is_repost and post.text == "" and post.app is None
    assert post.reposted is not None
    assert post.reposted.id == "200"
    assert post.reposted.author_handle == "@carol@fosstodon.org"
    assert post.reposted.poll == Poll(options=("tea", "coffee"), duration=86400, multiple=True)


def test_a_quote_not_accepted_is_no_quote_and_a_private_audience_is_kept() -> None:
    pending = status(
        "300",
        "<p>hm</p>",
        visibility="private",
        quote={"state": "pending", "quoted_status": None},
    )
    post = status_to_post(pending, DOMAIN)
    assert post.quoted_id is None and post.quoted is None
    assert post.visibility is Visibility.PRIVATE
    assert status_to_post({**pending, "visibility": "new"}, DOMAIN).visibility is Visibility.DIRECT


def test_a_malformed_status_is_transient() -> None:
    with pytest.raises(Transient, match="malformed status"):
        status_to_post({"id": "1", "content": "<p>no account</p>"}, DOMAIN)
    with pytest.raises(Transient, match="malformed status"):
        status_to_post(status("2", "<p>x</p>", created_at=None), DOMAIN)
