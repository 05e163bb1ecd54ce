"""Which post on the target is the one an interrupted publish made? (promise 1)

After a crash or a lost reply between publishing a part and recording it, the deliverer reads
the account's recent posts and adopts the one birdbridge sent, instead of posting it twice.
A post is adopted only when everything birdbridge sent matches: the text as the network
stores it, the reply target, the number and kind of media, a creation time inside one of the
attempts, and the app that wrote it where the network tells (Mastodon shows the owner each
status's ``application``; X's API tells no app). A post the poll already read as the user's
own is never adopted. The same test, minus the details a poll cannot know, holds posts back
in the poll's loop guard (engine/poll.py) while a publish is in flight.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from birdbridge.media.plan import MOVING
from birdbridge.models import Media, Post
from birdbridge.networks.textmatch import same_text

# Clocks differ between this machine and the network's servers, and a network stamps a post
# when it commits it, which may be late in the call: the window is widened by this much.
CLOCK_SKEW = timedelta(minutes=2)
STILL, MOVING_KIND = "still", "moving"


@dataclass(frozen=True)
class Sent:
    """What birdbridge sent for one part, as far as the network shows it back."""

    text: str
    in_reply_to_id: str | None
    media: tuple[str, ...]  # STILL or MOVING_KIND per item, in order
    since: datetime  # the first attempt's start
    until: datetime  # the latest attempt's start plus the longest a call may take


def media_kinds(items: Iterable[Media]) -> tuple[str, ...]:
    """Pictures stay pictures; GIFs and videos may change form on the way (a GIF becomes an
    mp4 "gifv" on Mastodon), so they compare as one kind."""
    return tuple(MOVING_KIND if item.kind in MOVING else STILL for item in items)


def matches(post: Post, sent: Sent, our_app: str | None) -> bool:
    if post.is_repost or not same_text(post.text, sent.text):
        return False
    if post.in_reply_to_id != sent.in_reply_to_id or media_kinds(post.media) != sent.media:
        return False
    if not sent.since - CLOCK_SKEW <= post.created_at <= sent.until + CLOCK_SKEW:
        return False
    # Another app wrote it (the web, a phone): the user's own words, never ours.
    return our_app is None or post.app is None or post.app == our_app


def find_sent(
    posts: Iterable[Post], sent: Sent, *, not_ours: Collection[str], our_app: str | None
) -> Post | None:
    """The earliest post that is what birdbridge sent; ``not_ours``: ids known to be
    someone else's (mirrors of other posts, posts the poll read as the user's)."""
    found = [p for p in posts if p.id not in not_ours and matches(p, sent, our_app)]
    return min(found, key=lambda p: p.created_at) if found else None


def in_flight_match(post: Post, text: str, since: datetime, until: datetime) -> bool:
    """The poll's guard: could ``post`` be a part still in flight with ``text``? The reply
    target and media of a part are not stored, so this looks at text and time only: a post
    that matches is held back, not dropped (see Delivery.phase "held")."""
    if post.is_repost or not same_text(post.text, text):
        return False
    return since - CLOCK_SKEW <= post.created_at <= until + CLOCK_SKEW
