"""Neutral, frozen types shared by the engine, policy and render.

Network-specific shapes (tweepy responses, Mastodon.py dicts, HTML) are converted to these in
``networks/`` and never leave it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "sources": [asdict(s) for s in self.sources],
            "alt_text": self.alt_text,
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Media:
        return cls(
            kind=MediaKind(data["kind"]),
            sources=tuple(MediaSource(**s) for s in data["sources"]),
            alt_text=data.get("alt_text") or "",
            width=data.get("width"),
            height=data.get("height"),
        )


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
    is_repost: bool = False
    quoted_id: str | None = None
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    media: tuple[Media, ...] = ()

    @property
    def is_reply(self) -> bool:
        return self.in_reply_to_id is not None

    @property
    def is_self_reply(self) -> bool:
        return self.is_reply and self.in_reply_to_author_id == self.author_id

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["media"] = [m.to_json() for m in self.media]
        data["network"] = self.network.value
        data["visibility"] = self.visibility.value
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Post:
        values = dict(data)
        values["network"] = NetworkName(values["network"])
        values["visibility"] = Visibility(values["visibility"])
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        values["media"] = tuple(Media.from_json(m) for m in values.get("media") or ())
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


@dataclass(frozen=True)
class Published:
    """A post that exists on the target network."""

    id: str
    url: str | None = None
    reply_fallback: bool = field(default=False)  # posted standalone: the target refused the reply
