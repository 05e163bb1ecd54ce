"""Mastodon statuses (docs: entities/Status) -> neutral :class:`Post`. No I/O.

Where a status becomes a Post: the fields, visibility, mentions with their full acct, media,
poll, reblog and quote (one level deep) and the app that wrote it are read here. The status's
HTML ``content`` is read by :func:`birdbridge.render.html.status_text`, the pure text layer's
reader of Mastodon's markup, which returns the text with its mention and hashtag spans.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from birdbridge.errors import Transient
from birdbridge.models import (
    Media,
    MediaKind,
    MediaSource,
    NetworkName,
    Poll,
    Post,
    Visibility,
)
from birdbridge.render.html import status_text

_VISIBILITY = {v.value: v for v in Visibility}
_MEDIA_KINDS = {
    "image": MediaKind.IMAGE,
    "gifv": MediaKind.GIF,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
}


def status_to_post(status: Any, domain: str) -> Post:
    """One status as a Post; ``domain`` is the instance's, for the acct of local accounts.
    A malformed status raises :class:`Transient` for :func:`well_formed` to log and skip."""
    try:
        return _convert(status, domain, depth=0)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Transient(f"Mastodon: malformed status: {exc!r}", network="mastodon") from None


def _convert(status: Any, domain: str, depth: int) -> Post:
    # A bare acct ("bob") is local: its domain is the one in its profile URL.
    mentions = {
        str(m["url"]): _full_acct(str(m["acct"]), str(m["url"]), domain)
        for m in status.get("mentions") or []
    }
    text, spans, hashtags = status_text(str(status.get("content") or ""), mentions)
    account = status["account"]
    reply_to = status.get("in_reply_to_id")
    reply_account = status.get("in_reply_to_account_id")
    reblog = status.get("reblog")
    quoted = _quoted_status(status)
    acct = _full_acct(str(account.get("acct") or ""), str(account.get("url") or ""), domain)
    return Post(
        network=NetworkName.MASTODON,
        id=str(status["id"]),
        author_id=str(account["id"]),
        text=text,
        created_at=created_at(status),
        visibility=_VISIBILITY.get(str(status.get("visibility")), Visibility.DIRECT),
        url=status.get("url") or status.get("uri"),
        in_reply_to_id=str(reply_to) if reply_to else None,
        in_reply_to_author_id=str(reply_account) if reply_account else None,
        is_repost=reblog is not None,
        quoted_id=str(quoted["id"]) if quoted else None,
        spoiler_text=str(status.get("spoiler_text") or ""),
        sensitive=bool(status.get("sensitive")),
        language=status.get("language"),
        media=tuple(
            item
            for attachment in status.get("media_attachments") or []
            if (item := _to_media(attachment)) is not None
        ),
        mentions=spans,
        hashtags=hashtags,
        poll=_poll(status),
        author_handle=f"@{acct}" if acct else None,
        reposted=_convert(reblog, domain, depth + 1) if reblog and depth == 0 else None,
        quoted=_convert(quoted, domain, depth + 1) if quoted and depth == 0 else None,
        edited_at=parse_time(status.get("edited_at")),
        app=_app(status),
    )


def _app(status: Any) -> str | None:
    """The app that wrote the status (docs: entities/Status ``application``, shown to its
    owner only)."""
    application = status.get("application")
    name = application.get("name") if isinstance(application, dict) else None
    return str(name) if name else None


def _to_media(attachment: Any) -> Media | None:
    """A MediaAttachment -> Media (docs: entities/MediaAttachment). ``unknown`` is skipped."""
    if not isinstance(attachment, dict) or attachment.get("type") not in _MEDIA_KINDS:
        return None
    # remote_url is the original on another server; url is this instance's copy
    urls = [u for u in (attachment.get("url"), attachment.get("remote_url")) if u]
    meta = attachment.get("meta")
    original = (meta.get("original") if isinstance(meta, dict) else None) or {}
    return Media(
        kind=_MEDIA_KINDS[attachment["type"]],
        sources=tuple(MediaSource(url=str(u)) for u in urls),
        alt_text=str(attachment.get("description") or ""),
        width=original.get("width"),
        height=original.get("height"),
    )


def _full_acct(acct: str, url: str, domain: str) -> str:
    """``user@domain`` for any account; a local one's acct has no domain."""
    if not acct or "@" in acct:
        return acct
    return f"{acct}@{urlsplit(url).hostname or domain}"


def _quoted_status(status: Any) -> Any:
    """The quoted status of a 4.5 quote post (entities/Quote: state + quoted_status), when
    the quote was accepted and the status is visible."""
    quote = status.get("quote")
    if not isinstance(quote, dict) or quote.get("state") != "accepted":
        return None
    quoted = quote.get("quoted_status")
    return quoted if isinstance(quoted, dict) and quoted.get("id") else None


def _poll(status: Any) -> Poll | None:
    """entities/Poll -> Poll; the duration is from the status's creation to expires_at."""
    poll = status.get("poll")
    if not isinstance(poll, dict):
        return None
    options = tuple(str(o.get("title") or "") for o in poll.get("options") or [])
    expires = parse_time(poll.get("expires_at"))
    duration = int((expires - created_at(status)).total_seconds()) if expires else 86400
    return Poll(options=options, duration=max(duration, 0), multiple=bool(poll.get("multiple")))


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time of the API (``edited_at``, ``expires_at``), always aware; None if absent."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def created_at(status: Any) -> datetime:
    """When the status was created (aware); a status without it is malformed."""
    value = status.get("created_at")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise ValueError("status has no created_at")
