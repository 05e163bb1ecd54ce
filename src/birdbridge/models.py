"""Neutral, frozen types shared by the engine, policy and render.

Network-specific shapes (tweepy responses, Mastodon.py dicts, HTML) are converted to these in
``networks/`` and never leave it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class NetworkName(StrEnum):
    TWITTER = "twitter"
    MASTODON = "mastodon"

    @property
    def label(self) -> str:
        return "X" if self is NetworkName.TWITTER else "Mastodon"


class Visibility(StrEnum):
    """Audience of a post, from the widest to the narrowest."""

    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"  # followers only (Mastodon), or any post of a protected X account
    DIRECT = "direct"


class Direction(StrEnum):
    TWITTER_TO_MASTODON = "twitter-to-mastodon"
    MASTODON_TO_TWITTER = "mastodon-to-twitter"
    BOTH = "both"

    def pairs(self) -> list[tuple[NetworkName, NetworkName]]:
        """(source, target) pairs this direction mirrors."""
        t2m = (NetworkName.TWITTER, NetworkName.MASTODON)
        m2t = (NetworkName.MASTODON, NetworkName.TWITTER)
        return {
            Direction.TWITTER_TO_MASTODON: [t2m],
            Direction.MASTODON_TO_TWITTER: [m2t],
            Direction.BOTH: [t2m, m2t],
        }[self]


@dataclass(frozen=True)
class Account:
    """The account a link's credentials act as."""

    network: NetworkName
    id: str
    handle: str  # "@user" on X, "@user@instance" on Mastodon
    url: str
    protected: bool = False  # X protected account / Mastodon locked account


class MediaKind(StrEnum):
    IMAGE = "image"
    GIF = "gif"  # X animated_gif, Mastodon gifv: a short silent looping video (mp4)
    VIDEO = "video"
    AUDIO = "audio"  # Mastodon only; X has no audio posts


@dataclass(frozen=True)
class MediaSource:
    """One downloadable rendition of a media item."""

    url: str
    content_type: str | None = None
    bit_rate: int | None = None


@dataclass(frozen=True)
class Media:
    """A picture, GIF, video or audio attached to a post.

    ``sources`` are the downloadable renditions, best first (X lists several mp4 bit rates).
    """

    kind: MediaKind
    sources: tuple[MediaSource, ...]
    alt_text: str = ""
    width: int | None = None
    height: int | None = None
    # What the source API says of a video before it is downloaded (X duration_ms, Mastodon
    # meta.original duration and frame_rate): enough to refuse it without fetching it.
    duration: float | None = None  # seconds
    frame_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "sources": [asdict(s) for s in self.sources],
            "alt_text": self.alt_text,
            "width": self.width,
            "height": self.height,
            "duration": self.duration,
            "frame_rate": self.frame_rate,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Media:
        return cls(
            kind=MediaKind(data["kind"]),
            sources=tuple(MediaSource(**s) for s in data["sources"]),
            alt_text=data.get("alt_text") or "",
            width=data.get("width"),
            height=data.get("height"),
            duration=data.get("duration"),  # absent from posts stored before it existed
            frame_rate=data.get("frame_rate"),
        )


@dataclass(frozen=True)
class Mention:
    """An @mention in ``Post.text`` at code point offsets [start, end), from the API's
    entity data (X ``entities.mentions``, Mastodon ``mentions`` + the content's links)."""

    start: int
    end: int
    username: str  # without "@"
    domain: str | None  # the account's instance on Mastodon; None on X
    url: str  # the profile

    @property
    def handle(self) -> str:
        return f"@{self.username}@{self.domain}" if self.domain else f"@{self.username}"


@dataclass(frozen=True)
class Hashtag:
    """A #hashtag in ``Post.text`` at code point offsets [start, end)."""

    start: int
    end: int
    name: str  # without "#", as written


@dataclass(frozen=True)
class Poll:
    options: tuple[str, ...]
    duration: int  # seconds from the post's creation to the poll's end
    multiple: bool = False  # several choices allowed (Mastodon only)


@dataclass(frozen=True)
class Post:
    """A post as read from its network, in neutral form."""

    network: NetworkName
    id: str
    author_id: str
    text: str  # plain text, links as full URLs
    created_at: datetime
    visibility: Visibility = Visibility.PUBLIC
    url: str | None = None
    in_reply_to_id: str | None = None
    in_reply_to_author_id: str | None = None
    in_reply_to_url: str | None = None  # where the parent can be read (context for replies)
    is_repost: bool = False
    quoted_id: str | None = None
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    media: tuple[Media, ...] = ()
    mentions: tuple[Mention, ...] = ()
    hashtags: tuple[Hashtag, ...] = ()
    poll: Poll | None = None
    author_handle: str | None = None  # "@user" on X, "@user@instance" on Mastodon
    reposted: Post | None = None  # the original of a repost/boost, as read
    quoted: Post | None = None  # the post a quote post quotes, when the API included it
    # X: the first id of the post's edit chain when this is an edited version (X gives each
    # version a new id); None for an original.
    edit_of: str | None = None
    edited_at: datetime | None = None  # Mastodon: the last edit
    # The app that wrote it, where the network tells its owner (Mastodon's `application`);
    # recovery never adopts a post another app wrote.
    app: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.in_reply_to_id is not None

    @property
    def is_self_reply(self) -> bool:
        return self.is_reply and self.in_reply_to_author_id == self.author_id

    @property
    def source_key(self) -> str:
        """The id that names this post in the mirror map: an edited X version is filed under
        the first id of its chain."""
        return self.edit_of or self.id

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["media"] = [m.to_json() for m in self.media]
        data["mentions"] = [asdict(m) for m in self.mentions]
        data["hashtags"] = [asdict(h) for h in self.hashtags]
        data["poll"] = asdict(self.poll) if self.poll else None
        data["network"] = self.network.value
        data["visibility"] = self.visibility.value
        data["created_at"] = self.created_at.isoformat()
        data["edited_at"] = self.edited_at.isoformat() if self.edited_at else None
        data["reposted"] = self.reposted.to_json() if self.reposted else None
        data["quoted"] = self.quoted.to_json() if self.quoted else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Post:
        values = dict(data)
        values["network"] = NetworkName(values["network"])
        values["visibility"] = Visibility(values["visibility"])
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        edited = values.get("edited_at")
        values["edited_at"] = datetime.fromisoformat(edited) if edited else None
        values["media"] = tuple(Media.from_json(m) for m in values.get("media") or ())
        values["mentions"] = tuple(Mention(**m) for m in values.get("mentions") or ())
        values["hashtags"] = tuple(Hashtag(**h) for h in values.get("hashtags") or ())
        poll = values.get("poll")
        values["poll"] = (
            Poll(tuple(poll["options"]), int(poll["duration"]), bool(poll.get("multiple")))
            if poll
            else None
        )
        for key in ("reposted", "quoted"):
            values[key] = cls.from_json(values[key]) if values.get(key) else None
        return cls(**values)


@dataclass(frozen=True)
class FetchResult:
    """New posts since a cursor, oldest first, and the cursor to store next."""

    posts: list[Post]
    cursor: str | None


@dataclass(frozen=True)
class OutgoingPart:
    """One post to publish on a target network."""

    text: str
    in_reply_to_id: str | None = None
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    visibility: Visibility = Visibility.PUBLIC
    media_ids: tuple[str, ...] = ()  # already uploaded to the target
    poll: Poll | None = None  # already fitted to the target's limits
    quote_id: str | None = None  # a target post to quote natively


@dataclass(frozen=True)
class Published:
    """A post that exists on the target network."""

    id: str
    url: str | None = None
    reply_fallback: bool = field(default=False)  # posted standalone: the target refused the reply


# X's price classes (networks/x_prices.py) in a user's words: status, explain, the demo.
PRICE_LABELS = {
    "owned_read": "own posts read",
    "post_read": "posts read",
    "user_read": "users read",
    "post": "posts written",
    "post_with_url": "posts with a URL",
    "media_upload": "media upload calls",
    "media_status": "media status checks",
    "media_metadata": "alt texts",
    "delete": "deletions",
    "repost": "reposts",
    "undo_repost": "reposts undone",
}
MICRO = 1_000_000  # money is kept in millionths of a US dollar: exact sums, no float drift


def dollars(micros: int) -> str:
    """$4.20, $0.015, $1,234.50: cents, and a tenth of a cent where it is not round."""
    value = micros / MICRO
    return f"${value:,.3f}" if round(value, 2) != round(value, 3) else f"${value:,.2f}"


@dataclass(frozen=True)
class Charge:
    """Something an X call is billed for (networks/x_prices.py): ``units`` of a price class at
    ``unit_micros`` millionths of a dollar each. A read's ``resources`` are the ids of the posts
    or users it returned: X bills each once per UTC day, so the store counts only the ids not
    billed earlier that day."""

    price_class: str
    units: int
    unit_micros: int
    resources: tuple[str, ...] = ()
    # What the resources are ("post", "user"): X bills a post once per UTC day whichever
    # rate read it first (a poll's owned read, then a re-check's post read: billed once).
    resource_kind: str = ""
    at: datetime | None = None  # when the reply came: it is billed on that UTC day

    @property
    def micros(self) -> int:
        return self.units * self.unit_micros
