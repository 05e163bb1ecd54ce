"""From a source post to what is published on the target: text parts, content warning, poll
and quote, each within the target's limits as the target counts them. Pure: the engine passes
in what it looked up (the target's limits, the mirror map's answers)."""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

from birdbridge.config import PolicyConfig
from birdbridge.models import NetworkName, Poll, Post
from birdbridge.render.capabilities import Capabilities, usual_capabilities
from birdbridge.render.cw import cw_line, split_cw_line
from birdbridge.render.entities import (
    MentionStyle,
    defuse_mentions,
    limit_cashtags,
    quiet_handle,
    rewrite_entities,
)
from birdbridge.render.length import Counter, truncate_to
from birdbridge.render.polls import PollLimits, fit_poll, poll_as_text
from birdbridge.render.sanitize import sanitize
from birdbridge.render.split import split_text

# A 100,000-character post would be ~400 tweets: beyond this many parts the thread ends with
# a cut and a link to the original instead (and X bills every post).
MAX_PARTS = 20
ELLIPSIS = "…"
NUMBER_ROOM = f" {MAX_PARTS}/{MAX_PARTS}"  # the widest " i/n" a part can end with


@dataclass(frozen=True)
class Target:
    """What rendering needs to know of the target network. Its name picks only the user's
    own settings for it (policy prefix and suffix); what it can carry is in its limits and
    ``capabilities``."""

    network: NetworkName
    max_characters: int
    counter: Counter
    polls: PollLimits | None = None  # None: no native polls
    quotes: bool = False  # native quote posts (Mastodon 4.5+)
    capabilities: Capabilities | None = None  # None: the usual ones of ``network``

    @property
    def can(self) -> Capabilities:
        """The target's capabilities: its adapter's when given, else its network's usual."""
        return self.capabilities or usual_capabilities(self.network)


@dataclass(frozen=True)
class Lookups:
    """Answers from the mirror map for this post."""

    quote_id: str | None = None  # the quoted post's counterpart on the target, if any
    quote_url: str | None = None  # the URL to show for the quoted post on the target


@dataclass(frozen=True)
class Rendered:
    parts: list[str]
    spoiler_text: str  # carried natively (Mastodon); "" when folded into the text
    poll: Poll | None = None  # native, on the first part
    quote_id: str | None = None  # native quote, on the first part
    fallbacks: list[tuple[str, str]] = field(default_factory=list)  # (kind, what happened)


def compose(
    post: Post,
    target: Target,
    policy: PolicyConfig | None = None,
    lookups: Lookups | None = None,
    max_parts: int = MAX_PARTS,
) -> Rendered:
    """What to publish on ``target`` for ``post`` under ``policy``."""
    policy = policy or PolicyConfig()
    lookups = lookups or Lookups()
    fallbacks: list[tuple[str, str]] = []
    text, spoiler = _body(post, target, policy)
    quote_id = None
    if post.quoted_id and post.reposted is None:
        mode = policy.quotes_on(target.network.value)
        text, quote_id = _quote(post, text, target, lookups, fallbacks, mode)
    text = sanitize(text).strip()
    spoiler = " ".join(sanitize(spoiler).split())
    can = target.can
    if can.max_cashtags is not None:
        text, defused = limit_cashtags(text, can.max_cashtags)
        if defused:
            fallbacks.append(("cashtags", _cashtags_left(target, can.max_cashtags, defused)))
    if can.content_warnings and not spoiler:
        spoiler, text = split_cw_line(text)  # an X "CW: ..." first line becomes a real CW
    poll = None
    if post.poll is not None:
        poll = None if post.media else fit_poll(post.poll, target.polls)
        if poll is None:
            listed = defuse_mentions(poll_as_text(post.poll), can.mentions)
            text = f"{text}\n\n{listed}".strip()
            fallbacks.append(("poll_text", "the poll is listed as text"))
    prefix = policy.prefix.on(target.network.value)
    suffix = policy.suffix.on(target.network.value)
    budget = target.max_characters
    if not can.content_warnings and spoiler:
        # The warning must come first, with the start of the text: it leads the first part.
        line = defuse_mentions(cw_line(policy.cw_format, spoiler), can.mentions)
        warning = truncate_to(line, budget // 2, target.counter)
        prefix = f"{warning}\n\n{prefix}" if text else warning
        spoiler = ""
    if spoiler:
        # Mastodon counts the content warning together with the text (StatusLengthValidator).
        spoiler = truncate_to(spoiler, budget // 2, target.counter)
        budget -= target.counter(spoiler)
    parts = _fit(text, prefix, suffix, budget, target.counter, policy, post.url, max_parts)
    return Rendered(parts, spoiler, poll, quote_id, fallbacks)


def _body(post: Post, target: Target, policy: PolicyConfig) -> tuple[str, str]:
    """The post's text for the target (a repost written out per policy) and its CW."""
    drop = frozenset(tag.lower() for tag in policy.include_tags)
    original = post.reposted
    if original is None:
        text = rewrite_entities(
            post.text, post.mentions, post.hashtags, target.can.mentions, _style(policy), drop
        )
        if post.is_reply and not post.is_self_reply and post.in_reply_to_url:
            # A reply to someone else stands alone on the target: say what it answers.
            text = f"In reply to {post.in_reply_to_url}\n\n{text}"
        return text, post.spoiler_text
    if policy.reposts == "link":
        return original.url or post.url or "", ""
    inner = rewrite_entities(
        original.text, original.mentions, original.hashtags, target.can.mentions, _style(policy)
    )
    handle = quiet_handle(original.author_handle or "", target.can.mentions)
    return f"RT {handle}: {inner}", original.spoiler_text


def _cashtags_left(target: Target, keep: int, defused: list[str]) -> str:
    count = "one cashtag" if keep == 1 else f"{keep} cashtags"
    return f"{target.network.label} takes {count} per post: {', '.join(defused)} left as text"


def _style(policy: PolicyConfig) -> MentionStyle:
    return "link" if policy.mentions == "link" else "plain"


def _quote(
    post: Post,
    text: str,
    target: Target,
    lookups: Lookups,
    fallbacks: list[tuple[str, str]],
    mode: str = "link",
) -> tuple[str, str | None]:
    """The text without the link to the quoted post when the quote is native, else with the
    best link to it (its mirror on the target when there is one); with ``mode`` "text" (the
    default towards X, where a URL costs more), the post's own words without that link."""
    assert post.quoted_id is not None
    quoted_id = regex.escape(post.quoted_id)
    trailing = regex.compile(rf"\s*https?://\S+/{quoted_id}/?\s*\Z")
    bare = trailing.sub("", text)
    if lookups.quote_id and target.quotes:
        return bare, lookups.quote_id
    url = lookups.quote_url or (post.quoted.url if post.quoted else None)
    if mode == "text":
        fallbacks.append(
            (
                "quote_text",
                "quote posted as its own words, without the link to "
                'the quoted post (quotes = "text")',
            )
        )
        return bare, None
    if url is None:
        return text, None
    fallbacks.append(("quote_link", f"quote posted as text with a link to {url}"))
    return f"{bare}\n\n{url}".strip(), None


def _fit(
    text: str,
    prefix: str,
    suffix: str,
    limit: int,
    counter: Counter,
    policy: PolicyConfig,
    url: str | None,
    max_parts: int,
) -> list[str]:
    """One part when it fits, else a thread or a truncated post, per ``long_posts``."""
    if not text and not prefix and not suffix:
        return []
    whole = f"{prefix}{text}{suffix}"
    if counter(whole) <= limit:
        return [whole]
    frame = counter(prefix) + counter(suffix)
    if policy.long_posts == "truncate":
        tail = ELLIPSIS + (f" {url}" if policy.link_back and url else "")
        cut = _cut_at_word(text, limit - frame - counter(tail), counter)
        return [f"{prefix}{cut}{tail}{suffix}"]
    room = limit - frame - (counter(NUMBER_ROOM) if policy.numbering else 0)
    parts = _capped(split_text(text, room, counter), max_parts, url, room, counter)
    if policy.numbering and len(parts) > 1:
        parts = [f"{part} {i}/{len(parts)}" for i, part in enumerate(parts, 1)]
    parts[0] = prefix + parts[0]
    parts[-1] = parts[-1] + suffix
    return parts


def _cut_at_word(text: str, room: int, counter: Counter) -> str:
    """The longest prefix within ``room`` that does not end inside a word (so never inside a
    URL, mention or hashtag), unless the first word alone is too long."""
    head = truncate_to(text, max(room, 0), counter)
    if len(head) < len(text) and not text[len(head)].isspace():
        boundary = max(head.rfind(" "), head.rfind("\n"))
        if boundary > 0:
            head = head[:boundary]
    return head.rstrip()


def _capped(
    parts: list[str], max_parts: int, url: str | None, limit: int, counter: Counter
) -> list[str]:
    """At most ``max_parts`` parts; the last one then ends with "…" and the original's URL."""
    if len(parts) <= max_parts:
        return parts
    tail = f"{ELLIPSIS} {url}" if url else ELLIPSIS
    room = limit - counter(" " + tail)
    last = _cut_at_word(parts[max_parts - 1], room, counter)
    return [*parts[: max_parts - 1], f"{last} {tail}".strip()]
