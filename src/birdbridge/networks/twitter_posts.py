"""X API v2 tweet objects (with their ``includes``) -> neutral :class:`Post`. No I/O.

The text is rebuilt from ``entities`` offsets (docs.x.com data-dictionary: start/end count
code points, as Python's ``str`` does): t.co links become the URLs they stand for, the link
to the post's own media is dropped, and mentions and hashtags are carried as spans so that
``render`` can write them for the target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from birdbridge.errors import Transient
from birdbridge.models import (
    Account,
    Hashtag,
    Media,
    MediaKind,
    MediaSource,
    Mention,
    NetworkName,
    Poll,
    Post,
    Visibility,
)

_MEDIA_KINDS = {"photo": MediaKind.IMAGE, "animated_gif": MediaKind.GIF, "video": MediaKind.VIDEO}
_MEDIA_LINK = re.compile(r"/status/\d+/(?:photo|video)/\d+$")


@dataclass(frozen=True)
class Includes:
    """A reply's ``includes``, indexed."""

    media: dict[str, dict[str, Any]] = field(default_factory=dict)  # by media_key
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    polls: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id

    @classmethod
    def of(cls, body: Any) -> Includes:
        includes = body.get("includes") if isinstance(body, dict) else None
        if not isinstance(includes, dict):
            return cls()

        def index(name: str, key: str) -> dict[str, dict[str, Any]]:
            items = includes.get(name)
            if not isinstance(items, list):
                return {}
            return {str(i[key]): i for i in items if isinstance(i, dict) and i.get(key)}

        return cls(
            index("media", "media_key"),
            index("tweets", "id"),
            index("users", "id"),
            index("polls", "id"),
        )

    def merged(self, other: Includes) -> Includes:
        return Includes(
            {**self.media, **other.media},
            {**self.tweets, **other.tweets},
            {**self.users, **other.users},
            {**self.polls, **other.polls},
        )


def tweet_to_post(tweet: dict[str, Any], includes: Includes, account: Account) -> Post:
    """One tweet of ``account``'s timeline (or looked up) as a Post; a malformed tweet raises
    :class:`Transient` for :func:`well_formed` to log and skip."""
    try:
        return _convert(tweet, includes, account, depth=0)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Transient(f"X: malformed post in reply: {exc!r}", network="twitter") from None


def is_post_id(value: object) -> bool:
    """X ids are snowflakes: numeric strings of at most 19 digits (a 64-bit integer), which
    is also what ``since_id`` takes; anything else in a reply is the server's mistake."""
    return (
        isinstance(value, str | int)
        and str(value).isascii()
        and str(value).isdigit()
        and (0 < len(str(value)) <= 19)
    )


def _convert(tweet: dict[str, Any], includes: Includes, account: Account, depth: int) -> Post:
    tweet_id = str(tweet["id"])
    if not is_post_id(tweet_id):
        raise ValueError(f"post id {tweet_id!r} is not an X post id")
    note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else None
    source = note if note and note.get("text") else tweet
    text, mentions, hashtags = x_text(str(source["text"]), source.get("entities"))
    refs = {
        r.get("type"): str(r.get("id"))
        for r in tweet.get("referenced_tweets") or []
        if isinstance(r, dict)
    }
    author_id = str(tweet.get("author_id") or account.id)
    own = author_id == account.id
    username = account.handle.lstrip("@") if own else _username(includes, author_id)
    raw_attachments = tweet.get("attachments")
    attachments: dict[str, Any] = raw_attachments if isinstance(raw_attachments, dict) else {}
    history = [str(i) for i in tweet.get("edit_history_tweet_ids") or []]
    reply_user = tweet.get("in_reply_to_user_id")
    return Post(
        network=NetworkName.TWITTER,
        id=tweet_id,
        author_id=author_id,
        text=text,
        created_at=_created_at(tweet.get("created_at")),
        # X has no per-post audience: every post of a protected account is followers-only.
        visibility=Visibility.PRIVATE if own and account.protected else Visibility.PUBLIC,
        url=f"https://x.com/{username or 'i'}/status/{tweet_id}",
        in_reply_to_id=refs.get("replied_to"),
        in_reply_to_author_id=str(reply_user) if reply_user else None,
        # x.com/i/web/status/<id> opens any post without knowing its author's name.
        in_reply_to_url=(
            f"https://x.com/i/web/status/{refs['replied_to']}" if "replied_to" in refs else None
        ),
        is_repost="retweeted" in refs,
        quoted_id=refs.get("quoted"),
        sensitive=bool(tweet.get("possibly_sensitive")),
        language=tweet.get("lang"),
        media=_media(attachments, includes),
        mentions=mentions,
        hashtags=hashtags,
        poll=_poll(attachments, includes),
        author_handle=f"@{username}" if username else None,
        reposted=_referenced(refs.get("retweeted"), includes, account, depth),
        quoted=_referenced(refs.get("quoted"), includes, account, depth),
        edit_of=history[0] if len(history) > 1 and history[0] != tweet_id else None,
    )


def _referenced(
    tweet_id: str | None, includes: Includes, account: Account, depth: int
) -> Post | None:
    """The retweeted or quoted tweet from ``includes.tweets`` (one level deep)."""
    if tweet_id is None or depth > 0 or tweet_id not in includes.tweets:
        return None
    return _convert(includes.tweets[tweet_id], includes, account, depth + 1)


def _username(includes: Includes, user_id: str) -> str | None:
    user = includes.users.get(user_id)
    return str(user["username"]) if user and user.get("username") else None


def _created_at(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.now(UTC)


def _media(attachments: dict[str, Any], includes: Includes) -> tuple[Media, ...]:
    keys = attachments.get("media_keys") or []
    return tuple(item for key in keys if (item := to_media(includes.media.get(str(key)))))


def _poll(attachments: dict[str, Any], includes: Includes) -> Poll | None:
    """docs.x.com data-dictionary Poll: options (position, label), duration_minutes."""
    for poll_id in attachments.get("poll_ids") or []:
        poll = includes.polls.get(str(poll_id))
        if poll is None:
            continue
        options = sorted(poll.get("options") or [], key=lambda o: int(o.get("position") or 0))
        labels = tuple(str(o["label"]) for o in options if o.get("label"))
        minutes = int(poll.get("duration_minutes") or 1440)
        return Poll(options=labels, duration=minutes * 60)
    return None


def to_media(item: dict[str, Any] | None) -> Media | None:
    """X's media object -> Media; videos and GIFs list their mp4 renditions, best first."""
    if item is None or item.get("type") not in _MEDIA_KINDS:
        return None
    kind = _MEDIA_KINDS[item["type"]]
    sources: tuple[MediaSource, ...]
    if kind is MediaKind.IMAGE:
        sources = (MediaSource(url=str(item["url"])),) if item.get("url") else ()
    else:
        mp4 = [
            v
            for v in item.get("variants") or []
            if isinstance(v, dict) and v.get("content_type") == "video/mp4" and v.get("url")
        ]
        mp4.sort(key=lambda v: int(v.get("bit_rate") or 0), reverse=True)
        sources = tuple(
            MediaSource(url=str(v["url"]), content_type="video/mp4", bit_rate=v.get("bit_rate"))
            for v in mp4
        )
    duration_ms = item.get("duration_ms")  # media.fields duration_ms (data-dictionary Media)
    return Media(
        kind=kind,
        sources=sources,
        alt_text=str(item.get("alt_text") or ""),
        width=item.get("width"),
        height=item.get("height"),
        duration=duration_ms / 1000 if isinstance(duration_ms, int | float) else None,
    )


# -- text -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entity:
    start: int
    end: int
    replacement: str
    mention: str | None = None  # the username, for a mention
    hashtag: str | None = None  # the tag, for a hashtag


def x_text(text: str, entities: Any) -> tuple[str, tuple[Mention, ...], tuple[Hashtag, ...]]:
    """X's text -> neutral text, with the mentions and hashtags it holds as spans."""
    text = _unescape(text)
    found = _entities(text, entities if isinstance(entities, dict) else {})
    pieces: list[str] = []
    mentions: list[Mention] = []
    hashtags: list[Hashtag] = []
    position = length = 0
    for entity in sorted(found, key=lambda e: e.start):
        if entity.start < position:
            continue  # overlaps an entity already placed: the API sent nonsense, keep text
        before = text[position : entity.start]
        pieces += [before, entity.replacement]
        start = length + len(before)
        length = start + len(entity.replacement)
        position = entity.end
        if entity.mention is not None:
            url = f"https://x.com/{entity.mention}"
            mentions.append(Mention(start, length, entity.mention, None, url))
        elif entity.hashtag is not None:
            hashtags.append(Hashtag(start, length, entity.hashtag))
    pieces.append(text[position:])
    joined = "".join(pieces)
    lead = len(joined) - len(joined.lstrip())
    return (
        joined.strip(),
        tuple(Mention(m.start - lead, m.end - lead, m.username, None, m.url) for m in mentions),
        tuple(Hashtag(h.start - lead, h.end - lead, h.name) for h in hashtags),
    )


def _entities(text: str, entities: dict[str, Any]) -> list[_Entity]:
    found: list[_Entity] = []
    for url in entities.get("urls") or []:
        if isinstance(url, dict) and url.get("url") and url.get("expanded_url"):
            # X appends a t.co link to the post's own media ("…/status/1/photo/1", with a
            # media_key): the media travel as media, so that link is dropped, not expanded.
            replacement = "" if _is_media_link(url) else str(url["expanded_url"])
            span = _locate(text, str(url["url"]), url.get("start"))
            if span:
                found.append(_Entity(*span, replacement))
    for mention in entities.get("mentions") or []:
        if isinstance(mention, dict) and mention.get("username"):
            name = str(mention["username"])
            span = _locate(text, "@" + name, mention.get("start"))
            if span:
                found.append(_Entity(*span, text[span[0] : span[1]], mention=name))
    for tag in entities.get("hashtags") or []:
        if isinstance(tag, dict) and tag.get("tag"):
            span = _locate(text, "#" + str(tag["tag"]), tag.get("start"))
            if span:
                written = text[span[0] : span[1]]
                found.append(_Entity(*span, written, hashtag=written[1:]))
    return found


def _locate(text: str, expected: str, start: Any) -> tuple[int, int] | None:
    """Where the entity is: at its offset when the text there is what it says (the normal
    case), else its occurrence nearest that offset (X has sent offsets counted over the
    escaped text), else nowhere."""
    size = len(expected)
    if isinstance(start, int) and text[start : start + size].lower() == expected.lower():
        return start, start + size
    lowered, needle = text.lower(), expected.lower()
    hits = [m.start() for m in re.finditer(re.escape(needle), lowered)]
    if not hits:
        return None
    anchor = start if isinstance(start, int) else 0
    best = min(hits, key=lambda hit: abs(hit - anchor))
    return best, best + size


def _is_media_link(url: dict[str, Any]) -> bool:
    return bool(url.get("media_key")) or bool(_MEDIA_LINK.search(str(url.get("expanded_url"))))


def _unescape(text: str) -> str:
    # X escapes &, < and > in post text (data dictionary: "text").
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
