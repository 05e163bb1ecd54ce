"""Mirror or skip: one decision per source post, with a reason ``explain`` can show. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from birdbridge.config import PolicyConfig
from birdbridge.models import Post, Visibility


@dataclass(frozen=True)
class Decision:
    mirror: bool
    reason: str


def decide(post: Post, policy: PolicyConfig) -> Decision:
    """Whether ``post`` is mirrored under ``policy``, and why."""
    if post.visibility in (Visibility.PRIVATE, Visibility.DIRECT):
        # Promise 3: followers-only and direct posts never leave their network.
        return Decision(False, f"{post.visibility.value} post: never mirrored")
    if post.visibility is Visibility.UNLISTED and policy.visibility == "public":
        return Decision(False, 'unlisted post (policy visibility = "public")')
    if post.is_repost:
        return Decision(False, 'repost/boost (policy reposts = "skip")')
    if post.is_reply and not post.is_self_reply:
        if policy.replies:
            return Decision(True, "reply to another account (policy replies = true)")
        return Decision(False, "reply to another account (policy replies = false)")
    if post.is_self_reply:
        if policy.self_threads:
            return Decision(True, "part of a self-thread")
        return Decision(False, "self-reply (policy self_threads = false)")
    return Decision(True, f"{post.visibility.value} post")
