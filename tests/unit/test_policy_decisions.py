"""Mirror or skip, with a reason, for every kind of post."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from birdbridge.config import PolicyConfig
from birdbridge.models import NetworkName, Post, Visibility
from birdbridge.policy import decide


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
