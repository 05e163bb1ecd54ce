"""Mirror or skip: one decision per source post, with a reason ``explain`` can show. Pure: the
engine passes in the clock and what it counted."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from birdbridge.config import PolicyConfig
from birdbridge.models import NetworkName, Post, Visibility
from birdbridge.render.capabilities import Capabilities, usual_capabilities


@dataclass(frozen=True)
class Decision:
    mirror: bool
    reason: str


@dataclass(frozen=True)
class Context:
    """What the engine knows around the post."""

    now: datetime | None = None  # None: no age check
    mirrored_last_hour: int = 0  # new posts of this link side enqueued in the last hour
    parent_mirrored: bool = False  # a self-reply whose parent was mirrored (thread goes on)
    target: NetworkName | None = None  # when deciding for one target only
    # That target's capabilities; None: the usual ones of ``target``.
    target_capabilities: Capabilities | None = None

    @property
    def target_can(self) -> Capabilities | None:
        """What the one target can carry (None: deciding for every target)."""
        if self.target_capabilities is not None or self.target is None:
            return self.target_capabilities
        return usual_capabilities(self.target)


Rule = Callable[[Post, PolicyConfig, Context], Decision | None]


def decide(post: Post, policy: PolicyConfig, context: Context | None = None) -> Decision:
    """Whether ``post`` is mirrored under ``policy``, and why. The first rule that objects
    decides; the order puts the rules that protect people (privacy) first."""
    context = context or Context()
    for rule in _RULES:
        decision = rule(post, policy, context)
        if decision is not None:
            return decision
    return Decision(True, _kind(post))


def _audience(post: Post, policy: PolicyConfig, context: Context) -> Decision | None:
    if post.visibility in (Visibility.PRIVATE, Visibility.DIRECT):
        # Promise 3: followers-only and direct posts never leave their network.
        return Decision(False, f"{post.visibility.value} post: never mirrored")
    if post.visibility is Visibility.UNLISTED and policy.visibility == "public":
        return Decision(False, 'unlisted post (policy visibility = "public")')
    original = post.reposted
    if original is not None and original.visibility in (Visibility.PRIVATE, Visibility.DIRECT):
        return Decision(False, "repost of a non-public post: never mirrored")
    return None


def _kind_rules(post: Post, policy: PolicyConfig, context: Context) -> Decision | None:
    if post.is_repost and policy.reposts == "skip":
        return Decision(False, 'repost/boost (policy reposts = "skip")')
    if post.quoted_id and not post.is_repost and policy.quotes == "skip":
        return Decision(False, 'quote post (policy quotes = "skip")')
    if post.is_reply and not post.is_self_reply:
        if not policy.replies:
            return Decision(False, "reply to another account (policy replies = false)")
    elif post.is_self_reply and not policy.self_threads:
        return Decision(False, "self-reply (policy self_threads = false)")
    return None


def _content_rules(post: Post, policy: PolicyConfig, context: Context) -> Decision | None:
    others = [m for m in post.mentions if m.handle.lower() != (post.author_handle or "").lower()]
    if others and policy.mentions == "skip":
        return Decision(False, f'mentions {others[0].handle} (policy mentions = "skip")')
    can = context.target_can
    if (
        post.spoiler_text
        and policy.content_warnings == "skip"
        and can is not None
        and not can.content_warnings
    ):
        return Decision(False, 'has a content warning (policy content_warnings = "skip")')
    return None


def _filters(post: Post, policy: PolicyConfig, context: Context) -> Decision | None:
    tags = {tag.name.lower() for tag in post.hashtags}
    excluded = sorted(tags & {tag.lower() for tag in policy.exclude_tags})
    if excluded:
        return Decision(False, f"tagged #{excluded[0]} (policy exclude_tags)")
    wanted = {tag.lower() for tag in policy.include_tags}
    if wanted and not tags & wanted and not context.parent_mirrored:
        listed = ", ".join("#" + tag for tag in policy.include_tags)
        return Decision(False, f"not tagged {listed} (policy include_tags)")
    for pattern in policy.exclude_regex:
        if re.search(pattern, f"{post.spoiler_text}\n{post.text}"):
            return Decision(False, f"matches {pattern!r} (policy exclude_regex)")
    if policy.max_age is not None and context.now is not None:
        age = (context.now - post.created_at).total_seconds()
        if age > policy.max_age:
            return Decision(False, f"{age:.0f} s old (policy max_age = {policy.max_age:g})")
    cap = policy.max_per_hour
    if cap is not None and not context.parent_mirrored and context.mirrored_last_hour >= cap:
        return Decision(False, f"{cap} posts mirrored in the last hour (policy max_per_hour)")
    return None


def _kind(post: Post) -> str:
    if post.is_repost:
        return "repost"
    if post.is_reply and not post.is_self_reply:
        return "reply to another account (policy replies = true)"
    if post.is_self_reply:
        return "part of a self-thread"
    if post.quoted_id:
        return "quote post"
    return f"{post.visibility.value} post"


_RULES: tuple[Rule, ...] = (_audience, _kind_rules, _content_rules, _filters)
