"""Mirror or skip, with a reason, for every kind of post."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from birdbridge.config import PolicyConfig
from birdbridge.models import Hashtag, Mention, NetworkName, Post, Visibility
from birdbridge.policy import Context, decide
from birdbridge.render.capabilities import MASTODON_CAPABILITIES, X_CAPABILITIES


def post(**kwargs: object) -> Post:
    values: dict = {
        "network": NetworkName.MASTODON,
        "id": "1",
        "author_id": "me",
        "text": "hi",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(kwargs)
    return Post(**values)


def test_public_posts_are_mirrored() -> None:
    decision = decide(post(), PolicyConfig())
    assert decision.mirror and "public" in decision.reason


def test_unlisted_is_opt_in() -> None:
    unlisted = post(visibility=Visibility.UNLISTED)
    assert not decide(unlisted, PolicyConfig()).mirror
    assert decide(unlisted, PolicyConfig(visibility="unlisted")).mirror


@given(
    st.builds(
        PolicyConfig,
        visibility=st.sampled_from(["public", "unlisted"]),
        self_threads=st.booleans(),
        replies=st.booleans(),
    ),
    st.sampled_from([Visibility.PRIVATE, Visibility.DIRECT]),
    st.booleans(),
)
def test_private_and_direct_are_never_mirrored(
    policy: PolicyConfig, visibility: Visibility, reply: bool
) -> None:
    candidate = post(
        visibility=visibility,
        in_reply_to_id="0" if reply else None,
        in_reply_to_author_id="me" if reply else None,
    )
    decision = decide(candidate, policy)
    assert not decision.mirror and "never" in decision.reason


def test_reposts_are_skipped() -> None:
    assert not decide(post(is_repost=True), PolicyConfig()).mirror


def test_replies_to_others_are_opt_in() -> None:
    reply = post(in_reply_to_id="9", in_reply_to_author_id="someone else")
    assert not decide(reply, PolicyConfig()).mirror
    assert decide(reply, PolicyConfig(replies=True)).mirror


def test_self_threads_are_mirrored_unless_turned_off() -> None:
    own = post(in_reply_to_id="9", in_reply_to_author_id="me")
    assert decide(own, PolicyConfig()).mirror
    assert not decide(own, PolicyConfig(self_threads=False)).mirror


@pytest.mark.parametrize("visibility", list(Visibility))
@pytest.mark.parametrize("repost", [False, True])
def test_every_decision_has_a_reason(visibility: Visibility, repost: bool) -> None:
    assert decide(post(visibility=visibility, is_repost=repost), PolicyConfig()).reason


def tagged(*names: str, **kwargs: object) -> Post:
    text = " ".join(f"#{name}" for name in names) + " hello"
    tags, position = [], 0
    for name in names:
        tags.append(Hashtag(position, position + len(name) + 1, name))
        position += len(name) + 2
    return post(text=text, hashtags=tuple(tags), **kwargs)


def test_include_tags_mirror_only_tagged_posts_and_their_threads() -> None:
    policy = PolicyConfig(include_tags=["#XP"])
    assert decide(tagged("xp"), policy).mirror
    untagged = decide(tagged("other"), policy)
    assert not untagged.mirror and "#XP" in untagged.reason
    reply = tagged(in_reply_to_id="0", in_reply_to_author_id="me")
    assert not decide(reply, policy).mirror
    assert decide(reply, policy, Context(parent_mirrored=True)).mirror  # the thread goes on


def test_exclude_tags_and_regex() -> None:
    assert not decide(tagged("NoXP"), PolicyConfig(exclude_tags=["noxp"])).mirror
    policy = PolicyConfig(exclude_regex=["(?i)giveaway"])
    decision = decide(post(text="Huge GIVEAWAY now"), policy)
    assert not decision.mirror and "giveaway" in decision.reason
    assert decide(post(text="nothing to see"), policy).mirror


def test_max_age_and_hourly_cap() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    old = post(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert decide(old, PolicyConfig(max_age=3600), Context(now=now)).mirror is False
    assert decide(old, PolicyConfig(max_age=2 * 86400), Context(now=now)).mirror
    capped = PolicyConfig(max_per_hour=3)
    assert decide(post(), capped, Context(mirrored_last_hour=2)).mirror
    decision = decide(post(), capped, Context(mirrored_last_hour=3))
    assert not decision.mirror and "max_per_hour" in decision.reason


def test_mentions_skip_and_cw_skip() -> None:
    mention = Mention(0, 4, "bob", None, "https://x.com/bob")
    policy = PolicyConfig(mentions="skip")
    assert not decide(post(text="@bob hi", mentions=(mention,)), policy).mirror
    own = post(text="@bob hi", mentions=(mention,), author_handle="@bob")
    assert decide(own, policy).mirror  # mentioning oneself mentions no one else
    warned = post(spoiler_text="politics")
    skip_cw = PolicyConfig(content_warnings="skip")
    assert not decide(warned, skip_cw, Context(target=NetworkName.TWITTER)).mirror
    assert decide(warned, skip_cw, Context(target=NetworkName.MASTODON)).mirror


def test_the_cw_rule_reads_the_targets_capabilities() -> None:
    """A target without content warnings (X's capabilities) skips a warned post under
    content_warnings = "skip", whatever its name; one with them mirrors it."""
    warned = post(spoiler_text="politics")
    skip_cw = PolicyConfig(content_warnings="skip")
    assert not decide(warned, skip_cw, Context(target_capabilities=X_CAPABILITIES)).mirror
    assert decide(warned, skip_cw, Context(target_capabilities=MASTODON_CAPABILITIES)).mirror
    with_cw = replace(X_CAPABILITIES, content_warnings=True)
    context = Context(target=NetworkName.TWITTER, target_capabilities=with_cw)
    assert decide(warned, skip_cw, context).mirror
    assert decide(warned, skip_cw).mirror  # deciding for every target: no such rule


def test_reposts_and_quotes_follow_their_keys() -> None:
    original = post(id="9", author_id="amy")
    repost = post(is_repost=True, reposted=original)
    assert not decide(repost, PolicyConfig()).mirror
    assert decide(repost, PolicyConfig(reposts="link")).mirror
    private = post(is_repost=True, reposted=post(visibility=Visibility.PRIVATE))
    assert not decide(private, PolicyConfig(reposts="text")).mirror
    quote = post(quoted_id="9")
    assert decide(quote, PolicyConfig()).mirror
    assert not decide(quote, PolicyConfig(quotes="skip")).mirror
