"""The protocol every network adapter implements, and what the engine knows of a target."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from prometheus_client import Counter as PromCounter

from birdbridge.errors import NetworkError
from birdbridge.media.progress import NO_PROGRESS, Progress
from birdbridge.media.rules import GifRules, ImageLimits, VideoRules
from birdbridge.models import (
    Account,
    FetchResult,
    MediaKind,
    NetworkName,
    OutgoingPart,
    Post,
    Published,
)
from birdbridge.networks.meter import CallMeter
from birdbridge.render.capabilities import Capabilities
from birdbridge.render.length import Counter
from birdbridge.render.polls import PollLimits

log = logging.getLogger(__name__)
T = TypeVar("T")
MALFORMED = PromCounter(
    "birdbridge_malformed_posts_total",
    "Posts skipped because the API returned them malformed",
    ["network"],
)


@dataclass(frozen=True)
class MediaLimits:
    """What a target accepts as media, per post and per file."""

    max_per_post: int  # pictures in one post (a video or GIF always travels alone)
    kinds: frozenset[MediaKind]  # what the target can show at all
    image: ImageLimits
    gif_bytes: int
    video_bytes: int
    video_types: frozenset[str]  # MIME types accepted for video and GIF-as-video
    alt_text_chars: int
    # Rules on a video's real properties (length, frame size, frame rate, pixel format) and
    # an animated GIF file's; the defaults are "no rule" (birdbridge.media.rules).
    video_rules: VideoRules = field(default_factory=VideoRules)
    gif_rules: GifRules = field(default_factory=GifRules)


@dataclass(frozen=True)
class NetworkLimits:
    """What a target accepts in one post, and what it can do: rendering and the policy read
    these instead of the network's name."""

    max_characters: int
    counter: Counter  # how the target counts a text's length
    media: MediaLimits | None = None
    polls: PollLimits | None = None  # None: the target cannot hold polls
    quotes: bool = False  # the target can create native quote posts
    # Content warnings, mentions, cashtags: what render/ and policy.py read.
    capabilities: Capabilities = field(kw_only=True)
    # For the engine: an edit of a post with media is a plain edit (else an edit would have
    # to upload the media again: Unsupported, and the policy decides).
    edits_with_media: bool = field(kw_only=True)
    # How long a retried publish with the same idempotency key returns the first post
    # instead of a second one; None: the target has no such key.
    idempotency_window: timedelta | None = field(kw_only=True)


@dataclass(frozen=True)
class Recheck:
    """Recently mirrored source posts, read again: which are gone, and how the rest read now."""

    gone: set[str]
    current: dict[str, Post]


@dataclass(frozen=True)
class Verified:
    """What `birdbridge check` verified of one side beyond the account: each fact a line
    ("access level read-write"), each problem a line that says the fix."""

    facts: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class UploadedMedia:
    id: str
    expires_at: datetime  # after this the id can no longer be attached to a post


class Network(Protocol):
    name: NetworkName
    meter: CallMeter  # every API reply of this adapter, counted

    def account(self) -> Account:
        """The account the credentials act as (cached after the first call)."""
        ...

    def account_id(self) -> str:
        """Its id: as the database knows it for these credentials (``know_account``, set by
        networks/signins.py), else :meth:`account`'s."""
        ...

    def limits(self) -> NetworkLimits: ...

    def verify(self) -> Verified:
        """What the credentials may do (X: the token's access level; Mastodon: its scopes),
        checked before the first post fails; call after :meth:`account`."""
        ...

    def fetch_since(self, cursor: str | None, *, include_reposts: bool = False) -> FetchResult:
        """New posts of the account since ``cursor``, oldest first, and the next cursor.

        ``cursor=None`` is the first poll: return no posts and a cursor that marks "now".
        """
        ...

    def publish(self, part: OutgoingPart, *, idempotency_key: str) -> Published: ...

    def recent_own(self, since: datetime) -> list[Post]:
        """The account's own posts (not reposts) created since about ``since``, with their
        reply target, media and app where the network tells: what recovery chooses from."""
        ...

    def app_name(self) -> str | None:
        """The name of the app the credentials belong to, where the network shows each post's
        app (Mastodon); None where it does not (X)."""
        ...

    def delete(self, post_id: str) -> None:
        """Delete one of the account's posts; one that is already gone is not an error."""
        ...

    def edit(self, post_id: str, part: OutgoingPart) -> Published:
        """Change a published post's text; raises Unsupported where the target refuses."""
        ...

    def repost(self, post_id: str) -> Published:
        """A native repost/boost of ``post_id`` by the account (the existing one when the
        account has reposted it already)."""
        ...

    def unrepost(self, post_id: str) -> None:
        """Undo the account's repost/boost of ``post_id`` (the reposted post's id, never the
        repost's own); nothing to undo is not an error."""
        ...

    def get_post(self, post_id: str) -> Post: ...

    def recheck(self, posts: dict[str, datetime]) -> Recheck:
        """Read ``posts`` (id -> when created) again, cheaply, to find deletions and edits."""
        ...

    def upload_media(
        self,
        path: Path,
        mime: str,
        kind: MediaKind,
        alt_text: str,
        *,
        progress: Progress = NO_PROGRESS,
    ) -> UploadedMedia:
        """Upload one file (and its alt text); returns once the target has processed it. The
        bytes sent are reported to ``progress``."""
        ...


def well_formed(
    network: NetworkName, items: Iterable[T], convert: Callable[[T], Post]
) -> list[Post]:
    """Convert each item; one malformed item is logged and skipped, never blocks the poll
    (promise 4: one bad post never blocks the rest). Text that cannot be stored (a lone
    surrogate: valid JSON, not valid UTF-8) is cleaned on the way in."""
    posts = []
    for item in items:
        try:
            posts.append(storable(convert(item)))
        except (NetworkError, ValueError, KeyError, TypeError) as exc:
            MALFORMED.labels(network.value).inc()
            log.error("skipping a malformed post from %s: %s", network.label, exc)
    return posts


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(post: Post) -> Post:
    """``post`` with every lone surrogate (a half of a UTF-16 pair that JSON can carry but
    UTF-8 cannot: SQLite and PostgreSQL refuse it) replaced by U+FFFD. One code point for one,
    so entity offsets stay right."""
    data = post.to_json()
    cleaned = _clean(data)
    return post if cleaned == data else Post.from_json(cleaned)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value
