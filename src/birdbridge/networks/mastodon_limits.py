"""What a Mastodon instance accepts, read from its ``/api/v2/instance`` (or v1) reply
(docs: entities/Instance ``configuration``), with Mastodon's defaults for what it does not say.
No I/O: the adapter (networks/mastodon.py) reads the instance and caches the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from birdbridge.media.rules import ImageLimits, VideoRules
from birdbridge.models import MediaKind
from birdbridge.networks.base import MediaLimits, NetworkLimits
from birdbridge.render.capabilities import MASTODON_CAPABILITIES
from birdbridge.render.length import mastodon_length
from birdbridge.render.polls import PollLimits

DEFAULT_MAX_CHARACTERS = 500
DEFAULT_MIME_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "audio/mpeg",
    "audio/ogg",
)  # Mastodon's default when the instance does not say
# Mastodon 4.5 added quote posts (docs: client/quotes.md, methods/statuses quoted_status_id);
# older servers silently ignore the parameter, so ask the instance before relying on it.
QUOTES_SINCE = (4, 5)
QUOTES_API_VERSION = 7
# Mastodon keeps Idempotency-Keys for 1 hour (docs: methods/statuses); stay inside it.
IDEMPOTENCY_WINDOW = timedelta(minutes=55)


def instance_limits(instance: Any) -> NetworkLimits:
    """What one status may hold on this instance."""
    statuses = _dig(instance, "configuration", "statuses") or {}
    max_characters = statuses.get("max_characters") or DEFAULT_MAX_CHARACTERS
    url_length = statuses.get("characters_reserved_per_url") or 23
    return NetworkLimits(
        max_characters=int(max_characters),
        counter=lambda text: mastodon_length(text, int(url_length)),
        media=media_limits(instance),
        polls=_poll_limits(instance),
        quotes=_can_quote(instance),
        capabilities=MASTODON_CAPABILITIES,
        edits_with_media=True,  # an edit sends the status's media ids again (mastodon.py)
        idempotency_window=IDEMPOTENCY_WINDOW,
    )


def media_limits(instance: Any) -> MediaLimits:
    """The instance's own limits (docs: entities/Instance, configuration.media_attachments)."""

    def positive(key: str) -> int | None:
        value = media.get(key)
        return int(value) if isinstance(value, int | float) and value > 0 else None

    media = _dig(instance, "configuration", "media_attachments") or {}
    statuses = _dig(instance, "configuration", "statuses") or {}
    types = frozenset(str(t) for t in media.get("supported_mime_types") or DEFAULT_MIME_TYPES)
    video_types = frozenset(t for t in types if t.startswith("video/"))
    kinds = {MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO}
    if any(t.startswith("audio/") for t in types):
        kinds.add(MediaKind.AUDIO)
    video_bytes = int(media.get("video_size_limit") or 99 * 1024 * 1024)
    return MediaLimits(
        max_per_post=int(statuses.get("max_media_attachments") or 4),
        kinds=frozenset(kinds),
        image=ImageLimits(
            types=frozenset(t for t in types if t.startswith("image/")),
            max_bytes=int(media.get("image_size_limit") or 16 * 1024 * 1024),
            max_pixels=int(media.get("image_matrix_limit") or 33_177_600),
        ),
        gif_bytes=video_bytes,  # a GIF arrives as a silent mp4 (gifv): a video for the limits
        video_bytes=video_bytes,
        video_types=video_types,
        alt_text_chars=int(media.get("description_limit") or 1500),
        # video_frame_rate_limit and video_matrix_limit (width * height) are the server's
        # MediaAttachment::MAX_VIDEO_FRAME_RATE and MAX_VIDEO_MATRIX_LIMIT (docs: entities/
        # Instance); an instance that does not publish them gets no rule. Its
        # MAX_VIDEO_FRAMES (36000) is not published, so it is not checked.
        video_rules=VideoRules(
            max_frame_rate=positive("video_frame_rate_limit"),
            max_pixels=positive("video_matrix_limit"),
        ),
    )


def _poll_limits(instance: Any) -> PollLimits:
    """configuration.polls (docs: entities/Instance); Mastodon's defaults when absent."""
    polls = _dig(instance, "configuration", "polls") or {}
    return PollLimits(
        min_options=2,
        max_options=int(polls.get("max_options") or 4),
        max_option_chars=int(polls.get("max_characters_per_option") or 50),
        min_duration=int(polls.get("min_expiration") or 300),
        max_duration=int(polls.get("max_expiration") or 2629746),
        multiple=True,
    )


def _can_quote(instance: Any) -> bool:
    """Quote posts: Mastodon API version 7 (4.5.0, docs methods/statuses) or a version string
    of 4.5 or later (servers before 4.3 report no api_versions)."""
    api = _dig(instance, "api_versions", "mastodon")
    return (isinstance(api, int) and api >= QUOTES_API_VERSION) or _version(
        instance
    ) >= QUOTES_SINCE


def _version(instance: Any) -> tuple[int, int]:
    """The Mastodon version an instance reports ("4.5.0", "4.5.0+glitch", ...)."""
    text = str(_dig(instance, "version") or "0.0")
    numbers = [int(n) for n in text.split("+")[0].split("-")[0].split(".")[:2] if n.isdigit()]
    major, minor = [*numbers, 0, 0][:2]
    return major, minor


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
