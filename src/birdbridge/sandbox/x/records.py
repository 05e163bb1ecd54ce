"""What the X sandbox keeps: users, posts (tweets) with their polls, and media. The JSON the API
returns is rendered from these (render.py, media_store.py); none of them is sent as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ACCESS_LEVELS = ("read", "read-write", "read-write-directmessages")


@dataclass(frozen=True)
class XUser:
    """What a test needs to configure a client for this user."""

    id: str
    username: str
    name: str
    protected: bool
    consumer_key: str
    consumer_secret: str
    access_token: str  # "<user id>-<random>", as X issues them (tweepy reads the id from it)
    access_token_secret: str
    premium: bool = False  # X Premium: needed to edit posts through the API
    # The app's permission when the token was made: "read", "read-write" or
    # "read-write-directmessages"; X reports it in the x-access-level header.
    access_level: str = "read-write"


@dataclass
class XPoll:
    id: str
    options: list[str]
    votes: list[int]  # one count per option
    duration_minutes: int
    end_datetime: datetime


@dataclass
class XPost:
    """A post, retweet or one version of an edited post."""

    id: str
    author_id: str
    source_text: str  # the text as posted (NFC): what the duplicate check compares
    full_text: str  # with t.co links (and the media link)
    text: str  # what `text` shows: full_text, or a long post's start (note_tweet holds the rest)
    entities: dict[str, Any]  # of `text`
    note_entities: dict[str, Any] | None  # of a long post's full_text
    long: bool
    created_at: datetime
    conversation_id: str
    in_reply_to_tweet_id: str | None
    in_reply_to_user_id: str | None
    quote_of: str | None
    retweet_of: str | None
    referenced: list[dict[str, str]]  # referenced_tweets: {"type", "id"}
    media_keys: list[str]
    reply_settings: str
    lang: str
    poll: XPoll | None
    possibly_sensitive: bool
    # Not editable (XD:…/edit-posts.mdx): polls, reposts, replies to others.
    edit_eligible: bool
    chain: str  # the id of the edit chain's original post
    deleted: bool = False


@dataclass
class XMedia:
    """An upload (or media attached in the app), from INIT to its processing result."""

    id: str
    key: str  # media_key: "<kind prefix>_<id>"
    owner: str  # the uploader's user id
    category: str  # media_category, e.g. tweet_image, amplify_video, dm_gif
    family: str  # tweet_image | tweet_gif | tweet_video: the limits and the processing
    type: str  # photo | animated_gif | video
    declared_type: str | None  # INIT's media_type
    path: Path  # the file, once finalized
    expires_at: float
    uploaded: bool  # through the upload endpoints, not the control API
    total_bytes: int | None = None  # INIT's total_bytes
    content_type: str | None = None
    size: int = 0
    segments: dict[int, int] = field(default_factory=dict)  # segment_index -> bytes written
    state: str = "uploading"  # -> succeeded | failed | processing (see MediaStore._media_state)
    processing_seconds: float = 0.0
    finalized_at: float = 0.0
    valid: bool = True
    alt_text: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    error: dict[str, Any] | None = None  # the processing error when it fails
