"""The recovery matcher on its own: each detail birdbridge sent must match (issue 10, #7)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from birdbridge.engine.recovery import Sent, find_sent, matches
from birdbridge.models import Media, MediaKind, MediaSource, NetworkName, Post

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SENT = Sent(
    text="Lunch at example.com",
    in_reply_to_id="41",
    media=("still",),
    since=START,
    until=START + timedelta(minutes=1),
)


def picture() -> Media:
    return Media(kind=MediaKind.IMAGE, sources=(MediaSource(url="https://x/p.jpg"),))


def post(**changes: object) -> Post:
    base = Post(
        network=NetworkName.TWITTER,
        id="99",
        author_id="1",
        text="Lunch at http://example.com",  # X rewrote the bare domain
        created_at=START + timedelta(seconds=5),
        in_reply_to_id="41",
        media=(picture(),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_what_was_sent_matches() -> None:
    assert matches(post(), SENT, our_app=None)


@pytest.mark.parametrize(
    ("why", "changes"),
    [
        ("other words", {"text": "Dinner at example.com"}),
        ("a reply to another post", {"in_reply_to_id": "42"}),
        ("not a reply", {"in_reply_to_id": None}),
        ("no picture", {"media": ()}),
        ("two pictures", {"media": (picture(), picture())}),
        (
            "a video, not a picture",
            {"media": (Media(kind=MediaKind.VIDEO, sources=()),)},
        ),
        ("written before the attempt", {"created_at": START - timedelta(minutes=3)}),
        ("written long after the attempt", {"created_at": START + timedelta(minutes=10)}),
        ("a repost", {"is_repost": True}),
    ],
)
def test_any_difference_is_not_ours(why: str, changes: dict[str, object]) -> None:
    assert not matches(post(**changes), SENT, our_app=None), why


def test_a_post_another_app_wrote_is_not_ours() -> None:
    assert matches(post(app="birdbridge"), SENT, our_app="birdbridge")
    assert not matches(post(app="Web"), SENT, our_app="birdbridge")
    assert matches(post(app=None), SENT, our_app="birdbridge")  # not told: other details


def test_a_gif_and_a_video_compare_as_one_kind() -> None:
    moving = replace(SENT, media=("moving",))
    assert matches(post(media=(Media(kind=MediaKind.GIF, sources=()),)), moving, our_app=None)
    assert matches(post(media=(Media(kind=MediaKind.VIDEO, sources=()),)), moving, our_app=None)


def test_known_posts_are_never_adopted_and_the_earliest_match_wins() -> None:
    first, second = post(id="7"), post(id="8", created_at=START + timedelta(seconds=20))
    assert find_sent([second, first], SENT, not_ours=set(), our_app=None) == first
    assert find_sent([second, first], SENT, not_ours={"7"}, our_app=None) == second
    assert find_sent([first, second], SENT, not_ours={"7", "8"}, our_app=None) is None
