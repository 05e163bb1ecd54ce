"""Properties of rendering that must hold for any text and any policy (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from birdbridge.config import PerTarget, PolicyConfig
from birdbridge.models import Hashtag, Mention, NetworkName, Post
from birdbridge.render.capabilities import MASTODON_CAPABILITIES, X_CAPABILITIES
from birdbridge.render.compose import MAX_PARTS, Target, compose
from birdbridge.render.entities import WORD_JOINER
from birdbridge.render.length import mastodon_length, x_weighted_length

TARGETS = [
    Target(NetworkName.TWITTER, 280, x_weighted_length, capabilities=X_CAPABILITIES),
    Target(NetworkName.MASTODON, 500, mastodon_length, capabilities=MASTODON_CAPABILITIES),
    # a small instance limit
    Target(NetworkName.MASTODON, 120, mastodon_length, capabilities=MASTODON_CAPABILITIES),
]
WORDS = st.sampled_from(
    [
        "hello",
        "world.",
        "日本語のテキスト",
        "مرحبا",
        "שלום",
        "👩‍👩‍👧‍👦",
        "❤️‍🔥",
        "🏳️‍🌈",
        "https://example.com/a/very/long/path/that/goes/on/and/on?query=1&b=2",
        "#tag",
        "(#paren)",
        "example.com",
        "Done!",
        "x" * 300,  # one word longer than any limit
        "\n\n",
        "\n",
    ]
)


@st.composite
def posts(draw: st.DrawFn) -> Post:
    words = draw(st.lists(WORDS, min_size=1, max_size=120))
    text = " ".join(words)
    mentions: list[Mention] = []
    if draw(st.booleans()):
        text = "@carol " + text
        mentions.append(Mention(0, 6, "carol", None, "https://x.com/carol"))
    tags = []
    start = text.find("#tag")
    if start >= 0:
        tags.append(Hashtag(start, start + 4, "tag"))
    return Post(
        network=draw(st.sampled_from(list(NetworkName))),
        id="1",
        author_id="me",
        text=text,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        url="https://example.social/@me/1",
        spoiler_text=draw(st.sampled_from(["", "spoilers", "長い警告" * 10])),
        mentions=tuple(mentions),
        hashtags=tuple(tags),
    )


policies = st.builds(
    PolicyConfig,
    long_posts=st.sampled_from(["thread", "truncate"]),
    numbering=st.booleans(),
    link_back=st.booleans(),
    mentions=st.sampled_from(["plain", "link"]),
    prefix=st.builds(PerTarget, twitter=st.sampled_from(["", "🐘 "]), mastodon=st.just("")),
    suffix=st.builds(PerTarget, twitter=st.just(""), mastodon=st.sampled_from(["", " (via X)"])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(posts(), st.sampled_from(TARGETS), policies)
def test_no_part_is_ever_over_the_target_limit(
    post: Post, target: Target, policy: PolicyConfig
) -> None:
    rendered = compose(post, target, policy)
    room = target.max_characters - (
        target.counter(rendered.spoiler_text) if rendered.spoiler_text else 0
    )
    assert len(rendered.parts) <= MAX_PARTS
    assert rendered.parts or not post.text.strip()
    for part in rendered.parts:
        assert target.counter(part) <= room, part


@settings(max_examples=200, deadline=None)
@given(posts(), st.sampled_from(TARGETS))
def test_splitting_loses_no_word_url_mention_or_hashtag(post: Post, target: Target) -> None:
    rendered = compose(post, target, PolicyConfig(), max_parts=10_000)
    expected = post.text.replace("@carol", f"@{WORD_JOINER}carol").split()
    if target.network is NetworkName.TWITTER and post.spoiler_text:
        expected = ["CW:", *post.spoiler_text.split(), *expected]
    joined = "".join(rendered.parts)
    # Every whole word, URL, mention and hashtag is in one part, in order (a single word
    # longer than the limit is the only thing that may be cut, and it is cut, not lost).
    assert "".join(expected) == "".join(joined.split())
    for word in expected:
        if target.counter(word) <= target.max_characters // 2:
            assert any(word in part.split() for part in rendered.parts), word


@settings(max_examples=100, deadline=None)
@given(posts(), st.sampled_from(TARGETS), policies)
def test_rendering_is_deterministic(post: Post, target: Target, policy: PolicyConfig) -> None:
    assert compose(post, target, policy) == compose(post, target, policy)
