"""What the Mastodon sandbox keeps: accounts, statuses with their polls and edit history, and
media attachments, as Mastodon's models have them. The API's JSON is rendered from these
(serializers.py, media_store.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from birdbridge.sandbox.mastodon.oauth import DEFAULT_SCOPES

VISIBILITIES = ("public", "unlisted", "private", "direct")


@dataclass(frozen=True)
class MastodonUser:
    id: str
    username: str
    acct: str
    display_name: str
    locked: bool
    access_token: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES  # of access_token (oauth.DEFAULT_SCOPES)


@dataclass
class Status:
    id: int
    account_id: str
    text: str
    spoiler_text: str
    sensitive: bool
    visibility: str
    language: str | None
    created_at: datetime
    application: str | None
    in_reply_to_id: int | None = None
    in_reply_to_account_id: str | None = None
    reblog_of_id: int | None = None
    content: str = ""
    mention_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    edited_at: datetime | None = None
    deleted: bool = False
    media_ids: list[int] = field(default_factory=list)  # in the order they were given
    poll: Poll | None = None
    quote_of: int | None = None  # Quote#quoted_status_id; quotes here are always accepted
    quote_policy: str = "public"  # quote_approval_policy as given (public|followers|nobody)
    edits: list[StatusEdit] = field(default_factory=list)  # StatusEdit rows, oldest first


@dataclass
class Poll:
    """Poll (app/models/poll.rb), local: ``voters_count`` starts at 0 (PostStatusService)."""

    id: int
    options: list[str]
    expires_at: datetime | None
    multiple: bool
    hide_totals: bool
    tallies: list[int] = field(default_factory=list)  # cached_tallies, one per option
    voters_count: int = 0

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)


@dataclass
class StatusEdit:
    """StatusEdit (Status::SnapshotConcern#build_snapshot): one version of a status."""

    text: str
    spoiler_text: str
    sensitive: bool
    media: list[tuple[int, str | None]]  # ordered_media_attachment_ids + media_descriptions
    poll_options: list[str] | None
    created_at: datetime
    account_id: str


@dataclass
class MediaAttachment:
    id: int
    account_id: str
    type: str  # image | gifv | video | audio | unknown
    content_type: str
    path: Path
    size: int
    name: str  # the stored file's name, e.g. "9f86d081884c7d65.jpeg"
    description: str | None
    meta: dict[str, Any]
    blurhash: str | None
    ready_at: float  # processing is over at this time.time()
    source: str  # "api" (uploaded through /api/v*/media) or "control"
    focus: tuple[float, float] | None = None
    status_id: int | None = None

    def processed(self) -> bool:
        return time.time() >= self.ready_at
