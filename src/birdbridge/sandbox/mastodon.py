"""A local fake Mastodon server that keeps the real API's contract (tests, demo, benchmarks).

Every shape, status code and error body below follows mastodon/mastodon as of 4.3 (file named
next to each rule) and docs.joinmastodon.org. It is a :class:`SandboxServer`: real HTTP on
127.0.0.1, fault injection, a request log and a ``/_sandbox/`` JSON control API.

The version it reports (``version=``, :meth:`MastodonSandbox.set_version`) switches what a
newer server adds: ``quote`` on statuses from 4.4, quote posts (``quoted_status_id``,
``quote_approval_policy``, ``quote_approval``, ``quotes_count``) from 4.5.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import math
import re
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import regex

from birdbridge.sandbox.common import Request, Response, SandboxServer, json_response
from birdbridge.sandbox.common.images import ftyp_brand, image_size, image_type
from birdbridge.sandbox.common.media import MediaFolder, write_media
from birdbridge.sandbox.common.times import iso_millis
from birdbridge.sandbox.mastodon_oauth import (
    DEFAULT_SCOPES,
    Application,
    Grant,
    application_json,
    checked_scopes,
    forbidden,
    unauthorized,
)
from birdbridge.sandbox.mastodon_throttles import (
    FAMILY_THROTTLES,
    STATUSES,
    Caller,
    RackAttack,
    StatusesLimiter,
    headers_for,
    iso8601_6,
    keep_lower,
    lowest,
)

# -- text: entities, length, HTML ------------------------------------------------------------

# Account::USERNAME_RE / MENTION_RE (app/models/account.rb), used by Mastodon's Extractor.
_MENTION_RE = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*(?:@[\w]+(?:[.-]+[\w]+)*)?)", regex.IGNORECASE
)
# Tag::HASHTAG_RE, simplified: word characters with at least one letter, not after = / ) or alnum.
_HASHTAG_RE = regex.compile(r"(?<![=/)\p{Alnum}])#([\w·]*\p{L}[\w·]*)")
# Only URLs with a scheme count (extract_url_without_protocol: false in StatusLengthValidator).
_URL_RE = regex.compile(r"(?<![\p{Alnum}@$#])https?://[^\s<>\"]+", regex.IGNORECASE)
_URL_HOST_RE = regex.compile(r"https?://[\p{Alnum}-]+(\.[\p{Alnum}-]+)*", regex.IGNORECASE)
_URL_TRAILING = ".,:;!?'\"*"
URL_PLACEHOLDER_CHARS = 23  # StatusLengthValidator::URL_PLACEHOLDER_CHARS
_URL_PREFIX_RE = regex.compile(r"^(https?://(www\.)?|xmpp:)")  # TextFormatter::URL_PREFIX_REGEX
_VISIBILITIES = ("public", "unlisted", "private", "direct")


def _trim_url(url: str) -> str:
    while url:
        unbalanced = url[-1] == ")" and url.count("(") < url.count(")")
        if url[-1] in _URL_TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def extract_entities(text: str) -> list[dict[str, Any]]:
    """URLs, mentions and hashtags with [start, end) indices, overlaps removed (twitter-text)."""
    found: list[dict[str, Any]] = []
    for m in _URL_RE.finditer(text):
        url = _trim_url(m.group(0))
        if _URL_HOST_RE.match(url):
            found.append({"url": url, "indices": (m.start(), m.start() + len(url))})
    for m in _MENTION_RE.finditer(text):
        found.append({"screen_name": m.group(1), "indices": (m.start(), m.end())})
    for m in _HASHTAG_RE.finditer(text):
        found.append({"hashtag": m.group(1), "indices": (m.start(), m.end())})
    found.sort(key=lambda e: e["indices"][0])
    kept: list[dict[str, Any]] = []
    for entity in found:
        if kept and entity["indices"][0] < kept[-1]["indices"][1]:
            continue
        kept.append(entity)
    return kept


def countable_length(text: str, spoiler_text: str = "") -> int:
    """Length as StatusLengthValidator counts it: graphemes of CW + text, each URL as 23
    characters, ``@user@domain`` as ``@user`` (app/validators/status_length_validator.rb)."""
    out, last = [], 0
    for entity in extract_entities(text):
        start, end = entity["indices"]
        out.append(text[last:start])
        if "url" in entity:
            out.append("x" * URL_PLACEHOLDER_CHARS)
        elif "screen_name" in entity:
            out.append("@" + entity["screen_name"].split("@")[0])
        else:
            out.append(text[start:end])
        last = end
    out.append(text[last:])
    return len(regex.findall(r"\X", spoiler_text + "".join(out)))


def _h(text: str) -> str:
    """ERB::Util#h."""
    return html.escape(text, quote=True).replace("&#x27;", "&#39;")


def _shortened_link(url: str) -> str:
    """TextFormatter.shortened_link (app/lib/text_formatter.rb)."""
    prefix = _URL_PREFIX_RE.match(url)
    prefix_s = prefix.group(0) if prefix else ""
    rest = url[len(prefix_s) :]
    display, suffix = rest[:30], rest[30:]
    cutoff = len(rest) > 30
    if len(suffix) == 1:  # revert truncation to account for the ellipsis
        display, suffix, cutoff = display + suffix, "", False
    return (
        f'<a href="{_h(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{_h(prefix_s)}</span>'
        f'<span class="{"ellipsis" if cutoff else ""}">{_h(display)}</span>'
        f'<span class="invisible">{_h(suffix)}</span></a>'
    )


def _simple_format(text: str) -> str:
    """Rails' simple_format (paragraphs on blank lines, <br /> on single newlines), then
    ``.delete("\\n")`` as TextFormatter#to_s does."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = regex.split(r"\n\n+", text)
    while paragraphs and paragraphs[-1] == "":
        paragraphs.pop()
    if not paragraphs:
        return "<p></p>"
    paragraphs = [regex.sub(r"([^\n]\n)(?=[^\n])", r"\1<br />", p) for p in paragraphs]
    return "".join(f"<p>{p}</p>" for p in paragraphs).replace("\n", "")


# -- media: types, sizes, meta ------------------------------------------------------------------

# MediaAttachment::IMAGE_MIME_TYPES, VIDEO_MIME_TYPES and AUDIO_MIME_TYPES (app/models/
# media_attachment.rb, 4.3): what /api/v2/instance reports as supported_mime_types.
IMAGE_MIME_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
)
VIDEO_MIME_TYPES = ("video/webm", "video/mp4", "video/quicktime", "video/ogg")
AUDIO_MIME_TYPES = (
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wave",
    "audio/vnd.wave",
    "audio/ogg",
    "audio/vorbis",
    "audio/mpeg",
    "audio/mp3",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "audio/m4a",
    "audio/x-m4a",
    "audio/mp4",
    "audio/3gpp",
    "video/x-ms-asf",
)
DEFAULT_SUPPORTED_MIME_TYPES = IMAGE_MIME_TYPES + VIDEO_MIME_TYPES + AUDIO_MIME_TYPES
DEFAULT_MEDIA_LIMITS: dict[str, Any] = {
    "max_media_attachments": 4,  # Status::MEDIA_ATTACHMENTS_LIMIT
    "image_size_limit": 16 * 1024 * 1024,  # MediaAttachment::IMAGE_LIMIT
    "video_size_limit": 99 * 1024 * 1024,  # MediaAttachment::VIDEO_LIMIT (video, gifv, audio)
    "image_matrix_limit": 33_177_600,  # Attachmentable::MAX_MATRIX_LIMIT, 7680x4320
    "description_limit": 1500,  # MediaAttachment::MAX_DESCRIPTION_LENGTH
    "supported_mime_types": list(DEFAULT_SUPPORTED_MIME_TYPES),
}
GIF_MATRIX_LIMIT = 921_600  # Attachmentable::GIF_MATRIX_LIMIT, 1280x720
_SMALL_PIXELS = 230_400  # MediaAttachment::IMAGE_STYLES[:small], 640x360
_EXTENSIONS = {
    "image/jpeg": "jpeg",  # MIME::Types["image/jpeg"].first.extensions.first
    "image/png": "png",
    "image/gif": "gif",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/webp": "webp",
    "image/avif": "avif",
    "video/webm": "webm",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/ogg": "ogv",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "oga",
    "audio/vorbis": "oga",
    "audio/flac": "flac",
    "audio/aac": "aac",
    "audio/x-wav": "wav",
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/3gpp": "3gp",
    "video/x-ms-asf": "wma",
}
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
# A 1x1 PNG: the `small` preview of a video or gifv (Mastodon extracts a frame with ffmpeg).
_PREVIEW_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
_HEAD_BYTES = 1 << 20  # what sniffing and meta read of a file


def sniff_content_type(head: bytes) -> str:
    """The type from the bytes, never from the name or the declared type, like the
    ``file -b --mime`` check Paperclip runs (Attachmentable, MediaTypeSpoofDetection)."""
    picture = image_type(head)
    if picture is not None:
        return picture
    if head[:4] == b"RIFF" and len(head) >= 12:
        riff = {b"WAVE": "audio/x-wav", b"AVI ": "video/x-msvideo"}
        return riff.get(head[8:12], "application/octet-stream")
    brand = ftyp_brand(head)
    if brand is not None:
        return _brand_type(brand)
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska by DocType
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"theora" in head[:256] else "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "video/x-ms-asf"
    if head[:2] == b"BM" and len(head) >= 18 and struct.unpack("<I", head[14:18])[0] in (40, 124):
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if head and b"\x00" not in head:
        return "text/plain"
    return "application/octet-stream"


def _brand_type(brand: bytes) -> str:
    """The type of an ISO base media file by its major brand (``file`` reads the same)."""
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"heic", b"heix", b"heim", b"heis"):
        return "image/heic"
    if brand in (b"mif1", b"msf1", b"heif"):
        return "image/heif"
    if brand in (b"avif", b"avis"):
        return "image/avif"
    if brand in (b"M4A ", b"M4B "):
        return "audio/x-m4a"
    if brand.startswith(b"3g"):
        return "video/3gpp"
    return "video/mp4"


def _kind_of(content_type: str, animated: bool) -> str:
    """MediaAttachment#set_type_and_extension, then GifTranscoder (an animated GIF is gifv)."""
    if content_type in AUDIO_MIME_TYPES:
        return "audio"
    if content_type in VIDEO_MIME_TYPES or content_type.startswith("video/"):
        return "video"
    if content_type.startswith("audio/"):
        return "audio"
    if content_type == "image/gif" and animated:
        return "gifv"
    if content_type.startswith("image/"):
        return "image"
    return "unknown"


def gif_is_animated(data: bytes) -> bool:
    """More than one image descriptor: GifTranscoder turns such a GIF into a gifv."""
    try:
        i = 13
        if data[10] & 0x80:
            i += 3 * (2 ** ((data[10] & 0x07) + 1))
        frames = 0
        while i < len(data):
            block = data[i]
            if block == 0x2C:
                frames += 1
                if frames > 1:
                    return True
                flags = data[i + 9]
                i += 10
                if flags & 0x80:
                    i += 3 * (2 ** ((flags & 0x07) + 1))
                i += 1  # LZW minimum code size
            elif block == 0x21:
                i += 2
            else:
                return False
            while data[i] != 0:  # data sub-blocks
                i += data[i] + 1
            i += 1
    except IndexError:
        return False
    return False


def mp4_meta(head: bytes) -> dict[str, Any]:
    """Duration (mvhd) and the first visual track's size (tkhd) of an ISO-BMFF file."""
    out: dict[str, Any] = {}
    try:
        i = head.find(b"mvhd")
        if i >= 4:
            if head[i + 4] == 1:
                timescale, duration = struct.unpack(">IQ", head[i + 24 : i + 36])
            else:
                timescale, duration = struct.unpack(">II", head[i + 16 : i + 24])
            if timescale:
                out["duration"] = round(duration / timescale, 3)
        j = head.find(b"tkhd")
        while j >= 4:
            size = struct.unpack(">I", head[j - 4 : j])[0]
            end = j - 4 + size
            if size >= 92 and end <= len(head):
                width, height = struct.unpack(">II", head[end - 8 : end])
                if width and height:
                    out["width"], out["height"] = width >> 16, height >> 16
                    break
            j = head.find(b"tkhd", j + 4)
    except struct.error:
        pass
    return out


def human_size(n: int) -> str:
    """ActiveSupport's number_to_human_size (3 significant digits), as Paperclip's size
    validator words its limit: 16777216 -> "16 MB"."""
    if n < 1024:
        return f"{n} Byte" if n == 1 else f"{n} Bytes"
    units, exp = ("KB", "MB", "GB", "TB", "PB"), 1
    while exp < len(units) and n >= 1024 ** (exp + 1):
        exp += 1
    value = n / 1024**exp
    decimals = max(0, 3 - len(str(int(value))))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {units[exp - 1]}"


def _geometry(width: int, height: int) -> dict[str, Any]:
    return {
        "width": width,
        "height": height,
        "size": f"{width}x{height}",
        "aspect": width / height,
    }


def _small_geometry(width: int, height: int) -> dict[str, Any]:
    if width * height > _SMALL_PIXELS:
        scale = (_SMALL_PIXELS / (width * height)) ** 0.5
        width, height = max(1, int(width * scale)), max(1, int(height * scale))
    return _geometry(width, height)


def _blurhash(seed: bytes) -> str:
    """A plausible 4x4-component BlurHash (36 characters, first one "U"); not a real one."""
    digest = hashlib.sha256(seed).digest() + hashlib.sha256(seed + b"1").digest()
    return "U" + "".join(_BASE83[b % 83] for b in digest[:35])


def _ruby_to_i(value: Any) -> int:
    """String#to_i: leading digits, else 0."""
    match = re.match(r"\s*([+-]?\d+)", str(value))
    return int(match.group(1)) if match else 0


@dataclass
class _Media:
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


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MastodonUser:
    id: str
    username: str
    acct: str
    display_name: str
    locked: bool
    access_token: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES  # of access_token (mastodon_oauth.DEFAULT_SCOPES)


@dataclass
class _Status:
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
    poll: _Poll | None = None
    quote_of: int | None = None  # Quote#quoted_status_id; quotes here are always accepted
    quote_policy: str = "public"  # quote_approval_policy as given (public|followers|nobody)
    edits: list[_Edit] = field(default_factory=list)  # StatusEdit rows, oldest first


@dataclass
class _Poll:
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
class _Edit:
    """StatusEdit (Status::SnapshotConcern#build_snapshot): one version of a status."""

    text: str
    spoiler_text: str
    sensitive: bool
    media: list[tuple[int, str | None]]  # ordered_media_attachment_ids + media_descriptions
    poll_options: list[str] | None
    created_at: datetime
    account_id: str


class _Invalid(Exception):
    """A 422 ``{"error": "Validation failed: ..."}`` (ActiveRecord::RecordInvalid)."""


class _StatusesLimited(Exception):
    """Mastodon::RateLimitExceededError from RateLimiter#record! (the ``statuses`` family)."""


# Instance#api_versions[mastodon] per release (docs: entities/Instance#api-versions; the
# methods pages name the number each feature came with): 4.3.0 is 2, 4.4.0 reaches 5
# (filters' `blur`), 4.5.0 is 7 (quotes). Before 4.3 there is no `api_versions`.
_API_VERSIONS = ((4, 5, 7), (4, 4, 5), (4, 3, 2))
_QUOTE_POLICIES = ("public", "followers", "nobody")
_KEEP: Any = object()  # "leave it as it is" for edit_post's optional fields
# The scopes each endpoint accepts, any one of them (research/mastodon.md section 4).
READ_ACCOUNTS = ("read", "read:accounts")  # accounts_controller.rb:6, lookup_controller.rb:4
# accounts/credentials_controller.rb:4: `profile` passes here, and only here
VERIFY_CREDENTIALS = ("profile", "read", "read:accounts")
READ_STATUSES = ("read", "read:statuses")  # statuses_controller.rb:7, accounts/statuses:4, ...
WRITE_STATUSES = ("write", "write:statuses")  # statuses_controller.rb:8, reblogs_controller.rb:7
WRITE_MEDIA = ("write", "write:media")  # media_controller.rb:4-5, GET /api/v1/media/:id too


def _version_tuple(version: str) -> tuple[int, int, int]:
    """Major, minor, patch of "4.5.0", "4.5.0-beta.1" or "4.4.0+glitch"."""
    parts = [int(p) for p in re.findall(r"\d+", version.split("+")[0].split("-")[0])[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def api_version_for(version: str) -> int | None:
    """The ``api_versions.mastodon`` a real server of ``version`` reports (None before 4.3)."""
    major, minor, _ = _version_tuple(version)
    for want_major, want_minor, number in _API_VERSIONS:
        if (major, minor) >= (want_major, want_minor):
            return number
    return None


def _ruby_strip(text: str) -> str:
    """String#strip: ASCII whitespace and NUL only (a U+3000 stays)."""
    return text.strip(" \t\n\v\f\r\x00")


def _truthy(value: Any) -> bool:
    """ActiveModel::Type::Boolean cast, as Mastodon reads boolean params."""
    if value is None or isinstance(value, bool):
        return bool(value)
    return str(value).strip().lower() not in ("", "0", "f", "false", "off", "no", "n")


class MastodonSandbox(SandboxServer):
    """A fake Mastodon 4.3 instance: accounts, statuses, paging, limits, idempotency, media,
    polls, boosts, edits and their history, batch lookup; quote posts when it is a 4.5.

    Media limits (``max_media_attachments``, ``image_size_limit``, ``video_size_limit``,
    ``image_matrix_limit``, ``description_limit``, ``supported_mime_types``) default to
    Mastodon's and can be changed with :meth:`set_media_limits`; the instance endpoints
    report them. Video and audio uploads stay "processing" for ``media_processing_seconds``.
    Files live in a temporary directory removed by :meth:`stop`.

    ``version`` (default "4.3.0", also :meth:`set_version`) is what ``/api/v1/instance`` and
    ``/api/v2/instance`` report, with the matching ``api_versions.mastodon`` (none before
    4.3); from "4.4.0" statuses carry ``quote``, from "4.5.0" quote posts can be made.

    Rate limits (on by default, :meth:`set_rate_limit` changes them): rack-attack's throttles
    in fixed epoch-aligned windows (300 calls per token per 5 minutes, 30 media uploads and
    30 deletions per user per 30 minutes, paging) and the ``statuses`` family, 300 statuses
    and edits per account per 3 hours; the headers report the one with the fewest calls left.
    They run on :attr:`clock` (epoch seconds), which the ``Date`` header tells too.

    Scopes (on by default): each token has some (``create_user(..., scopes=...)``,
    :meth:`create_token`; "read write" unless asked) and each endpoint accepts the ones its
    Mastodon controller lists; ``/api/v1/apps/verify_credentials`` tells a token's scopes.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        domain: str = "sandbox.example",
        max_characters: int = 500,
        version: str = "4.3.0",
        media_processing_seconds: float = 0.3,
        **media_limits: Any,
    ) -> None:
        super().__init__(host, port)
        self.domain = domain
        self.max_characters = max_characters
        self.version = version
        self.api_version: int | None = api_version_for(version)
        self._poll_ids = itertools.count(1)
        self.media_processing_seconds = media_processing_seconds
        self._media_limits: dict[str, Any] = {
            k: list(v) if isinstance(v, list) else v for k, v in DEFAULT_MEDIA_LIMITS.items()
        }
        self.set_media_limits(**media_limits)
        self._media: dict[int, _Media] = {}
        self._last_media_id = 0
        self._files = MediaFolder("birdbridge-mastodon-media-")
        self.media_dir = self._files.path
        self._users: dict[str, MastodonUser] = {}  # id -> user
        self._created: dict[str, datetime] = {}
        self._grants: dict[str, Grant] = {}  # access token -> what it may do, for whom
        self._grant_ids = itertools.count(1)
        self._statuses: dict[int, _Status] = {}
        self._by_account: dict[str, dict[int, _Status]] = {}  # indexes, so pages stay cheap
        self._replies: dict[int, list[_Status]] = {}
        self._reblogs: dict[int, list[_Status]] = {}
        self._quotes: dict[int, list[_Status]] = {}
        self._idempotency: dict[tuple[str, str], tuple[int, float]] = {}
        self._account_ids = itertools.count(1)
        self._last_status_id = 0
        self.clock: Callable[[], float] = time.time  # rate-limit windows and Date
        self._rack_attack = RackAttack()
        self._statuses_limit = StatusesLimiter()
        self._register_routes()

    def stop(self) -> None:
        super().stop()
        self._files.remove()

    # -- Python API ------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def create_user(
        self,
        username: str,
        display_name: str | None = None,
        locked: bool = False,
        scopes: str | list[str] | tuple[str, ...] = DEFAULT_SCOPES,
    ) -> MastodonUser:
        """A local account and an access token with ``scopes`` (its application's)."""
        granted = checked_scopes(scopes)
        with self._lock:
            if self._find_user(username) is not None:
                raise ValueError(f"username {username!r} is taken")
            user = MastodonUser(
                id=str(next(self._account_ids)),
                username=username,
                acct=username,
                display_name=display_name if display_name is not None else username,
                locked=locked,
                access_token=secrets.token_urlsafe(32),
                scopes=granted,
            )
            self._users[user.id] = user
            self._created[user.id] = datetime.now(UTC)
            self._grant(user.id, user.access_token, granted, "birdbridge")
            return user

    def create_token(
        self,
        username: str,
        scopes: str | list[str] | tuple[str, ...],
        app_name: str = "birdbridge",
    ) -> str:
        """Another access token of ``username``: a new application's, with ``scopes``."""
        granted = checked_scopes(scopes)
        with self._lock:
            user = self._require_user(username)
            token = secrets.token_urlsafe(32)
            self._grant(user.id, token, granted, app_name)
            return token

    def _grant(self, account_id: str, token: str, scopes: tuple[str, ...], app: str) -> None:
        number = str(next(self._grant_ids))
        application = Application(id=number, name=app, website=None, scopes=scopes)
        self._grants[token] = Grant(number, account_id, scopes, application)

    def create_post(
        self,
        username: str,
        text: str,
        *,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        spoiler_text: str = "",
        reblog_of: str | None = None,
        created_at: datetime | None = None,
        media: list[dict] | None = None,
        sensitive: bool = False,
        poll: dict | None = None,
        quote_of: str | None = None,
    ) -> dict:
        """Post as if from the web UI: no length, media or rate limit, no idempotency.

        ``media`` items are ``{"type": "image"|"gifv"|"video"|"audio", "data": bytes or
        Path (copied in chunks), "content_type": str (sniffed when missing), "description":
        str | None}``; they are stored already processed.

        ``poll`` is ``{"options": [str, ...], "expires_in": seconds (default 86400),
        "multiple": bool, "hide_totals": bool}``, not checked against the instance's limits.
        ``reblog_of`` boosts that status (a boost of a boost boosts the original, a second
        boost returns the first, as ReblogService does). ``quote_of`` quotes that status
        (accepted at once; quoting a boost quotes the original); it needs a 4.5 sandbox.
        """
        with self._lock:
            user = self._require_user(username)
            if visibility not in _VISIBILITIES:
                raise ValueError(f"visibility must be one of {_VISIBILITIES}")
            if reblog_of is not None:
                original = self._get_status(reblog_of)
                if original is None:
                    raise KeyError(f"no status {reblog_of}")
                original = self._proper(original)
                existing = self._own_reblog(user.id, original.id)
                if existing is not None:
                    return self._status_json(existing, user.id)
                status = self._new_status(user, "", "", False, visibility, None, created_at, "Web")
                status.reblog_of_id = original.id
            else:
                thread = self._get_status(in_reply_to_id) if in_reply_to_id else None
                if in_reply_to_id and thread is None:
                    raise KeyError(f"no status {in_reply_to_id}")
                quoted = None
                if quote_of is not None:
                    if not self._quotes_enabled():
                        raise ValueError(
                            f"quote posts need Mastodon 4.5 (this sandbox is {self.version}); "
                            "call set_version('4.5.0')"
                        )
                    found = self._get_status(quote_of)
                    if found is None:
                        raise KeyError(f"no status {quote_of}")
                    quoted = self._proper(found)
                    if quoted.visibility == "direct":
                        raise ValueError("a private mention cannot be quoted")
                    if quoted.visibility == "private" and visibility in ("public", "unlisted"):
                        visibility = "private"  # PostStatusService#preprocess_attributes!
                status = self._build(
                    user,
                    text,
                    spoiler_text,
                    sensitive,
                    visibility,
                    "en",
                    thread,
                    created_at,
                    "Web",
                    quoted=quoted,
                )
                if not status.text and not media and quoted is None:
                    raise ValueError("a post needs text, media or a quote")
                if poll is not None:
                    data = {"expires_in": 86400, **poll}
                    status.poll = self._new_poll(data, status.created_at)
                    if len(status.poll.options) < 2:
                        raise ValueError("a poll needs at least two options")
                for item in media or []:
                    stored = self._store_control_media(user, item)
                    stored.status_id = status.id
                    status.media_ids.append(stored.id)
            self._store(status)
            return self._status_json(status, user.id)

    def edit_post(
        self,
        id: str,
        text: str,
        spoiler_text: str | None = None,
        sensitive: bool | None = None,
        *,
        poll: dict | None = _KEEP,
    ) -> dict:
        """Edit a status as its author would in a client: like ``PUT /api/v1/statuses/:id``
        (new content, mentions and tags, ``edited_at``, a new version in its history) but
        with no length limit. ``spoiler_text``/``sensitive`` None keep the current ones;
        attachments stay; ``poll`` replaces the poll (its votes reset), None removes it, and
        leaving it out keeps it. An edit that changes nothing changes nothing (no
        ``edited_at``), as UpdateStatusService does. ValueError for a post left empty.
        """
        with self._lock:
            status = self._get_status(id)
            if status is None or status.reblog_of_id is not None:
                raise KeyError(f"no status {id}")
            spoiler = status.spoiler_text if spoiler_text is None else spoiler_text
            if isinstance(poll, dict):
                poll = {"expires_in": 86400, **poll}
            if sensitive is None:
                sensitive = status.sensitive or bool(_ruby_strip(spoiler))
            try:
                self._update_status(
                    status,
                    status.account_id,
                    text=text,
                    spoiler_text=spoiler,
                    sensitive=sensitive,
                    language=None,
                    media=_KEEP,
                    media_attributes=[],
                    poll=poll,
                    enforce_length=False,
                )
            except _Invalid as exc:
                raise ValueError(str(exc)) from exc
            return self._status_json(status, status.account_id)

    def set_version(self, version: str, api_version: int | None = _KEEP) -> None:
        """Report another Mastodon ``version`` (and the ``api_versions.mastodon`` such a
        release has, unless ``api_version`` is given; None drops ``api_versions``)."""
        if not re.search(r"\d", str(version)):
            raise ValueError(f"not a version: {version!r}")
        with self._lock:
            self.version = version
            self.api_version = api_version_for(version) if api_version is _KEEP else api_version

    def posts(self, username: str, include_deleted: bool = False) -> list[dict]:
        with self._lock:
            user = self._require_user(username)
            rows = sorted(self._by_account.get(user.id, {}).values(), key=lambda s: s.id)
            out = []
            for status in rows:
                if status.deleted and not include_deleted:
                    continue
                body = self._status_json(status, user.id)
                if include_deleted:
                    body["deleted"] = status.deleted
                out.append(body)
            return out

    def get_post(self, id: str) -> dict | None:
        with self._lock:
            status = self._get_status(id)
            return None if status is None else self._status_json(status, status.account_id)

    def delete_post(self, id: str) -> None:
        with self._lock:
            status = self._get_status(id)
            if status is not None:
                self._discard(status)

    def set_media_limits(self, **limits: Any) -> None:
        """Change the instance's media limits (keys of ``DEFAULT_MEDIA_LIMITS``)."""
        unknown = set(limits) - set(DEFAULT_MEDIA_LIMITS)
        if unknown:
            raise TypeError(f"unknown media limits {sorted(unknown)}")
        with self._lock:
            for key, value in limits.items():
                if key == "supported_mime_types":
                    self._media_limits[key] = [str(v) for v in value]
                else:
                    self._media_limits[key] = int(value)

    def media_limits(self) -> dict[str, Any]:
        with self._lock:
            return {**self._media_limits, "supported_mime_types": self.supported_mime_types}

    @property
    def supported_mime_types(self) -> list[str]:
        return list(self._media_limits["supported_mime_types"])

    def media(self, id: str | int) -> dict | None:
        """A stored attachment: type, size, description, owner, state, path, ..."""
        with self._lock:
            item = self._media.get(_ruby_to_i(id))
            return None if item is None else self._media_info(item)

    def uploads(self) -> list[dict]:
        """Attachments uploaded through the API (``/api/v1/media``, ``/api/v2/media``), oldest
        first: a test can assert that nothing was uploaded twice."""
        with self._lock:
            return [self._media_info(m) for m in self._media.values() if m.source == "api"]

    def set_rate_limit(self, limit: int, window_s: float = 300, family: str | None = None) -> None:
        """Set one throttle's limit and period (whole seconds), its counts started afresh.
        ``family``: None, the API as a whole (per token; per IP without one); "media" (POST
        /api/v1|v2/media), "deletes" (DELETE /api/v1/statuses/:id, unreblogs), "paging"
        (requests with page, min_id, max_id or since_id) or "statuses" (statuses and edits
        per account: Mastodon's RateLimiter)."""
        period = max(int(window_s), 1)
        if family != STATUSES and family not in FAMILY_THROTTLES:
            raise ValueError(f"unknown rate-limit family {family!r}")
        with self._lock:
            if family == STATUSES:
                self._statuses_limit.set_limit(int(limit), period)
            else:
                self._rack_attack.set_limit(FAMILY_THROTTLES[family], int(limit), period)

    def user(self, username: str) -> MastodonUser:
        with self._lock:
            return self._require_user(username)

    # -- internals: model ------------------------------------------------------------------
    def _find_user(self, username: str) -> MastodonUser | None:
        for user in self._users.values():
            if user.username.lower() == username.lower():
                return user
        return None

    def _require_user(self, username: str) -> MastodonUser:
        user = self._find_user(username)
        if user is None:
            raise KeyError(f"no user {username!r}")
        return user

    def _get_status(self, id: str | int | None) -> _Status | None:
        try:
            status = self._statuses.get(int(id))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return None if status is None or status.deleted else status

    def _next_id(self, created_at: datetime | None) -> int:
        """Mastodon::Snowflake: milliseconds << 16 plus a sequence, so ids sort by time."""
        if created_at is None:
            candidate = max(int(time.time() * 1000) << 16, self._last_status_id + 1)
            self._last_status_id = candidate
            return candidate
        candidate = int(created_at.timestamp() * 1000) << 16
        while candidate in self._statuses:
            candidate += 1
        self._last_status_id = max(self._last_status_id, candidate)
        return candidate

    def _new_status(
        self,
        user: MastodonUser,
        text: str,
        spoiler_text: str,
        sensitive: bool,
        visibility: str,
        language: str | None,
        created_at: datetime | None,
        application: str | None,
    ) -> _Status:
        when = created_at.astimezone(UTC) if created_at else datetime.now(UTC)
        return _Status(
            id=self._next_id(created_at),
            account_id=user.id,
            text=text,
            spoiler_text=spoiler_text,
            sensitive=sensitive,
            visibility=visibility,
            language=language,
            created_at=when,
            application=application,
        )

    def _build(
        self,
        user: MastodonUser,
        text: str,
        spoiler_text: str,
        sensitive: bool | None,
        visibility: str,
        language: str | None,
        thread: _Status | None,
        created_at: datetime | None,
        application: str | None,
        quoted: _Status | None = None,
    ) -> _Status:
        text, spoiler_text = (text or "").strip(), (spoiler_text or "").strip()
        # PostStatusService#preprocess_attributes!: a CW without text becomes the text,
        # unless the post quotes another (4.5).
        is_sensitive = bool(sensitive) or bool(spoiler_text)
        if not text and spoiler_text and quoted is None:
            text, spoiler_text = spoiler_text, ""
        status = self._new_status(
            user, text, spoiler_text, is_sensitive, visibility, language, created_at, application
        )
        if quoted is not None:
            status.quote_of = quoted.id
        if thread is not None:
            status.in_reply_to_id = thread.id
            # Status#carried_over_reply_to_account_id (app/models/status.rb)
            if thread.account_id == user.id and thread.in_reply_to_id is not None:
                status.in_reply_to_account_id = thread.in_reply_to_account_id
            else:
                status.in_reply_to_account_id = thread.account_id
        self._render(status)
        return status

    def _text_errors(self, status: _Status, media: bool, length: bool = True) -> list[str]:
        """Status: ``validates :text, presence: true, unless: with_media? || reblog? ||
        with_quote?`` and StatusLengthValidator."""
        if not status.text and not media and status.quote_of is None:
            return ["Text can't be blank"]
        if length and countable_length(status.text, status.spoiler_text) > self.max_characters:
            return [f"Text character limit of {self.max_characters} exceeded"]
        return []

    def _validate(self, status: _Status, media: bool = False) -> None:
        errors = self._text_errors(status, media)
        if errors:
            raise _Invalid("Validation failed: " + ", ".join(errors))

    # -- internals: polls, boosts, quotes, edits -------------------------------------------
    @staticmethod
    def _poll_present(data: dict | None) -> bool:
        """``@options[:poll].present?``: a poll hash with any of its permitted keys."""
        if not data:
            return False
        return any(k in data for k in ("options", "expires_in", "multiple", "hide_totals"))

    def _new_poll(self, data: dict, now: datetime | None = None) -> _Poll:
        """Poll#prepare_options (strip, drop blank ones) and Expireable#expires_in=."""
        raw = data.get("options")
        if raw is None:
            raw = []
        elif not isinstance(raw, list):
            raw = [raw]
        options = [_ruby_strip(str(o)) for o in raw]
        options = [o for o in options if o.strip()]
        expires_in = data.get("expires_in")
        expires_at = None
        if expires_in is not None and str(expires_in).strip() != "":
            start = now or datetime.now(UTC)
            expires_at = start + timedelta(seconds=_ruby_to_i(expires_in))
        return _Poll(
            id=next(self._poll_ids),
            options=options,
            expires_at=expires_at,
            multiple=_truthy(data.get("multiple")),
            hide_totals=_truthy(data.get("hide_totals")),
            tallies=[0] * len(options),
        )

    def _poll_errors(self, poll: _Poll, check_options: bool = True) -> list[str]:
        """Poll's validations, named as config/locales/activerecord.en.yml names its
        attributes (options: "Choices", expires_at: "Deadline"): presence, then
        PollOptionsValidator, then PollExpirationValidator (polls.errors.* in en.yml);
        the limits are the instance's ``configuration.polls``."""
        limits = self._POLLS_CONFIG
        errors = []
        if not poll.options:
            errors.append("Choices can't be blank")
        if poll.expires_at is None:
            errors.append("Deadline can't be blank")
        if check_options:
            if len(poll.options) <= 1:
                errors.append("Choices must have more than one item")
            if len(poll.options) > limits["max_options"]:
                errors.append(f"Choices can't contain more than {limits['max_options']} items")
            most = limits["max_characters_per_option"]
            if any(len(regex.findall(r"\X", o)) > most for o in poll.options):
                errors.append(f"Choices cannot be longer than {most} characters each")
            if len(set(poll.options)) != len(poll.options):
                errors.append("Choices contain duplicate items")
        now = datetime.now(UTC)
        left = None if poll.expires_at is None else (poll.expires_at - now).total_seconds()
        if left is None or left > limits["max_expiration"]:
            errors.append("Deadline is too far into the future")
        if left is not None and math.ceil(left) < limits["min_expiration"]:
            errors.append("Deadline is too soon")
        return errors

    def _proper(self, status: _Status) -> _Status:
        """Status#proper: a boost stands for the post it boosts."""
        if status.reblog_of_id is not None:
            return self._statuses.get(status.reblog_of_id, status)
        return status

    def _own_reblog(self, account_id: str, status_id: int) -> _Status | None:
        for other in self._reblogs.get(status_id, ()):
            if other.account_id == account_id and not other.deleted:
                return other
        return None

    def _quote_shown(self) -> bool:
        """Status#quote is serialized from 4.4 (docs: entities/Status#quote)."""
        return _version_tuple(self.version) >= (4, 4, 0)

    def _quotes_enabled(self) -> bool:
        """``quoted_status_id`` and ``quote_approval_policy`` exist from 4.5 (API version 7)."""
        return _version_tuple(self.version) >= (4, 5, 0)

    def _quote_policy_of(self, status: _Status) -> str:
        """Private and direct posts are always ``nobody`` (docs: methods/statuses#create)."""
        if status.visibility in ("private", "direct"):
            return "nobody"
        return status.quote_policy

    def _may_quote(self, viewer_id: str, status: _Status) -> bool:
        """StatusPolicy#quote?: the author may quote anything but a private mention; others
        need to see it and an automatic policy for them (no follows here: ``public`` only)."""
        if status.visibility == "direct" or status.reblog_of_id is not None:
            return False
        if status.account_id == viewer_id:
            return True
        return self._can_see(status, viewer_id) and self._quote_policy_of(status) == "public"

    @staticmethod
    def _parse_quote_policy(value: Any) -> str | None:
        """Api::InteractionPoliciesConcern#quote_approval_policy: anything else is a bare
        ActiveRecord::RecordInvalid (422 "Record invalid")."""
        if value is None or value == "":
            return None
        if value not in _QUOTE_POLICIES:
            raise _Invalid("Record invalid")
        return str(value)

    def _snapshot(self, status: _Status, at: datetime, account_id: str) -> _Edit:
        """Status::SnapshotConcern#build_snapshot."""
        return _Edit(
            text=status.text,
            spoiler_text=status.spoiler_text,
            sensitive=status.sensitive,
            media=[(i, self._media[i].description) for i in status.media_ids if i in self._media],
            poll_options=list(status.poll.options) if status.poll else None,
            created_at=at,
            account_id=account_id,
        )

    def _update_status(
        self,
        status: _Status,
        account_id: str,
        *,
        text: Any,
        spoiler_text: Any,
        sensitive: Any,
        language: str | None,
        media: Any,
        media_attributes: list[dict],
        poll: Any,
        enforce_length: bool = True,
        before_apply: Callable[[], None] | None = None,
    ) -> None:
        """UpdateStatusService: validate the whole new version, then apply it, keeping the
        history (create_previous_edit!, create_edit!). ``media``/``poll`` ``_KEEP`` leave
        them alone; otherwise they say what the post now has (None: no poll). Raises
        _Invalid with Mastodon's messages; nothing changes then. ``before_apply`` runs once
        the edit is valid and changes something, before anything changes (it may raise)."""
        errors: list[str] = []
        # update_media_attachments!: descriptions and focus of the next attachments
        next_media = list(status.media_ids) if media is _KEEP else [m.id for m in media]
        media_changed = next_media != status.media_ids
        described: dict[int, dict[str, Any]] = {}
        for attributes in media_attributes:
            media_id = _ruby_to_i(attributes.get("id"))
            if media_id not in next_media or media_id not in self._media:
                continue
            item, change = self._media[media_id], {}
            if "description" in attributes:
                errors += self._description_errors(attributes["description"])
                change["description"] = attributes["description"]
            if attributes.get("focus"):
                change["focus"] = self._parse_focus(attributes["focus"]) or item.focus
            described[media_id] = change
            media_changed = media_changed or any(
                getattr(item, key) != value for key, value in change.items()
            )
        if errors:
            raise _Invalid("Validation failed: " + ", ".join(errors))
        # update_poll!: new options or multiple reset the votes; a new deadline is a change
        next_poll, poll_changed = status.poll, False
        if poll is not _KEEP:
            if poll is not None and self._poll_present(poll):
                next_poll = self._new_poll(poll)
                previous = status.poll
                options_changed = previous is None or next_poll.options != previous.options
                poll_errors = self._poll_errors(next_poll, check_options=options_changed)
                if poll_errors:
                    raise _Invalid("Validation failed: " + ", ".join(poll_errors))
                if previous is None:
                    poll_changed = True
                else:
                    next_poll.id = previous.id
                    poll_changed = options_changed or next_poll.multiple != previous.multiple
                    if not poll_changed:  # Poll#reset_votes! only when the choices changed
                        next_poll.tallies = list(previous.tallies)
                        next_poll.voters_count = previous.voters_count
                    poll_changed = poll_changed or previous.expires_at != next_poll.expires_at
            elif status.poll is not None:
                next_poll, poll_changed = None, True
        # update_immediate_attributes!: a blank text takes the CW given as the text; the CW
        # then stays as it was and the post is sensitive only if `sensitive` says so
        given_text = "" if text is None else str(text)
        given_spoiler = None if spoiler_text is None else str(spoiler_text)
        new_spoiler, new_sensitive = status.spoiler_text, status.sensitive
        if given_text.strip():
            new_text = given_text
            new_spoiler = given_spoiler or ""
            new_sensitive = (
                _truthy(sensitive) if sensitive is not None else bool(new_spoiler.strip())
            )
        else:
            new_text = given_spoiler or ""
            new_sensitive = _truthy(sensitive) if sensitive is not None else False
        draft = _Status(**{**status.__dict__})
        draft.text, draft.spoiler_text = new_text.strip(), new_spoiler.strip()
        draft.sensitive = new_sensitive
        draft.language = language or status.language
        changed = (
            (draft.text, draft.spoiler_text, draft.sensitive, draft.language)
            != (status.text, status.spoiler_text, status.sensitive, status.language)
            or poll_changed
            or media_changed
        )
        if not changed:  # NoChangesSubmittedError: the status is returned as it was
            return
        errors = self._text_errors(draft, media=bool(next_media), length=enforce_length)
        if errors:
            raise _Invalid("Validation failed: " + ", ".join(errors))
        if before_apply is not None:
            before_apply()
        if not status.edits:  # create_previous_edit!
            status.edits.append(self._snapshot(status, status.created_at, status.account_id))
        for media_id in next_media:
            item = self._media[media_id]
            item.status_id = status.id
            for key, value in described.get(media_id, {}).items():
                setattr(item, key, value)
        status.media_ids = next_media
        status.poll = next_poll
        status.text, status.spoiler_text = draft.text, draft.spoiler_text
        status.sensitive, status.language = draft.sensitive, draft.language
        status.edited_at = datetime.now(UTC)
        self._render(status)
        status.edits.append(self._snapshot(status, status.edited_at, account_id))

    def _render(self, status: _Status) -> None:
        """Content HTML, mentions and tags, as TextFormatter and ProcessMentionsService do."""
        text = status.text
        parts, last, mentions, tags = [], 0, [], []
        for entity in extract_entities(text):
            start, end = entity["indices"]
            parts.append(_h(text[last:start]))
            if "url" in entity:
                parts.append(_shortened_link(entity["url"]))
            elif "hashtag" in entity:
                tag = entity["hashtag"]
                tags.append(tag.lower())
                url = f"https://{self.domain}/tags/{tag}"
                parts.append(
                    f'<a href="{_h(url)}" class="mention hashtag" rel="tag">'
                    f"#<span>{_h(tag)}</span></a>"
                )
            else:
                username, _, domain = entity["screen_name"].partition("@")
                account = None
                if not domain or domain.lower() == self.domain.lower():
                    account = self._find_user(username)
                if account is None:
                    parts.append("@" + _h(entity["screen_name"]))
                else:
                    if account.id not in mentions:
                        mentions.append(account.id)
                    parts.append(
                        '<span class="h-card" translate="no">'
                        f'<a href="{_h(self._account_url(account))}"'
                        f' class="u-url mention">@<span>{_h(account.username)}</span></a></span>'
                    )
            last = end
        parts.append(_h(text[last:]))
        status.content = _simple_format("".join(parts)) if text else ""
        status.mention_ids = mentions
        status.tags = list(dict.fromkeys(tags))

    def _store(self, status: _Status) -> None:
        self._statuses[status.id] = status
        self._by_account.setdefault(status.account_id, {})[status.id] = status
        if status.in_reply_to_id is not None:
            self._replies.setdefault(status.in_reply_to_id, []).append(status)
        if status.reblog_of_id is not None:
            self._reblogs.setdefault(status.reblog_of_id, []).append(status)
        if status.quote_of is not None:
            self._quotes.setdefault(status.quote_of, []).append(status)

    @staticmethod
    def _live_count(index: dict[int, list[_Status]], status_id: int) -> int:
        return sum(1 for s in index.get(status_id, ()) if not s.deleted)

    def _discard(self, status: _Status) -> None:
        """Status#discard_with_reblogs."""
        status.deleted = True
        for other in self._reblogs.get(status.id, ()):
            other.deleted = True

    def _can_see(self, status: _Status, viewer_id: str | None) -> bool:
        """StatusPolicy#show? without follows: the author, or public/unlisted, or mentioned."""
        if viewer_id == status.account_id:
            return True
        if status.visibility in ("public", "unlisted"):
            return True
        return viewer_id is not None and viewer_id in status.mention_ids

    # -- internals: media ------------------------------------------------------------------
    def _new_media_id(self) -> int:
        """MediaAttachment ids are timestamp ids too (Mastodon::Snowflake)."""
        candidate = max(int(time.time() * 1000) << 16, self._last_media_id + 1)
        self._last_media_id = candidate
        return candidate

    def _write_file(self, media_id: int, ext: str, data: bytes | Path) -> tuple[Path, str]:
        # Paperclip stores under an obfuscated name (Attachmentable#obfuscate_file_name).
        name = f"{secrets.token_hex(8)}.{ext}"
        folder = self.media_dir / str(media_id)
        folder.mkdir(parents=True)
        path = folder / name
        write_media(path, data)  # a large video is copied in chunks, never held in memory
        return path, name

    @staticmethod
    def _build_meta(kind: str, content_type: str, head: bytes, tail: bytes) -> dict[str, Any]:
        """MediaAttachment#populate_meta: image geometry, or video/audio metadata."""
        dims = image_size(head) if content_type.startswith("image/") else None
        meta: dict[str, Any] = {}
        if kind in ("video", "gifv", "audio"):
            info = mp4_meta(head + tail) if head[4:8] == b"ftyp" else {}
            if dims is None and "width" in info:
                dims = (info["width"], info["height"])
            original: dict[str, Any] = {}
            if dims and kind != "audio":
                original.update(width=dims[0], height=dims[1])
                meta.update(_geometry(*dims))
                meta["small"] = _small_geometry(*dims)
            if "duration" in info:
                original["duration"] = meta["duration"] = info["duration"]
            meta["original"] = original
            return meta
        if dims:
            meta["original"] = _geometry(*dims)
            meta["small"] = _small_geometry(*dims)
        else:
            meta["original"] = {}
        return meta

    def _create_media(
        self,
        user: MastodonUser,
        data: bytes | Path,
        head: bytes,
        tail: bytes,
        size: int,
        content_type: str,
        kind: str,
        description: str | None,
        source: str,
        ready_at: float,
    ) -> _Media:
        media_id = self._new_media_id()
        ext = _EXTENSIONS.get(content_type) or re.sub(
            r"[^a-z0-9]", "", content_type.rsplit("/", 1)[-1].lower()
        )
        path, name = self._write_file(media_id, ext or "bin", data)
        item = _Media(
            id=media_id,
            account_id=user.id,
            type=kind,
            content_type=content_type,
            path=path,
            size=size,
            name=name,
            description=description,
            meta=self._build_meta(kind, content_type, head, tail),
            blurhash=None if kind == "audio" else _blurhash(head[:65536] + name.encode()),
            ready_at=ready_at,
            source=source,
        )
        self._media[media_id] = item
        return item

    def _store_control_media(self, user: MastodonUser, item: dict) -> _Media:
        """A web-UI or remote attachment: no limits, already processed."""
        data = item.get("data")
        if isinstance(data, bytes | bytearray):
            data = bytes(data)
            size, head, tail = len(data), data[:_HEAD_BYTES], data[-_HEAD_BYTES:]
            gif_bytes = data
        elif isinstance(data, Path):
            size = data.stat().st_size
            with data.open("rb") as file:
                head = file.read(_HEAD_BYTES)
                file.seek(max(0, size - _HEAD_BYTES))
                tail = file.read()
            gif_bytes = head
        else:
            raise TypeError("media data must be bytes or a pathlib.Path")
        content_type = item.get("content_type") or sniff_content_type(head)
        animated = content_type == "image/gif" and gif_is_animated(gif_bytes)
        kind = item.get("type") or _kind_of(content_type, animated)
        if kind not in ("image", "gifv", "video", "audio", "unknown"):
            raise ValueError(f"unknown media type {kind!r}")
        return self._create_media(
            user,
            data,
            head,
            tail,
            size,
            content_type,
            kind,
            item.get("description"),
            "control",
            time.time(),
        )

    def _media_info(self, item: _Media) -> dict[str, Any]:
        owner = self._users.get(item.account_id)
        return {
            "id": str(item.id),
            "type": item.type,
            "content_type": item.content_type,
            "size": item.size,
            "description": item.description,
            "owner": owner.username if owner else None,
            "account_id": item.account_id,
            "state": "complete" if item.processed() else "processing",
            "path": item.path,
            "status_id": str(item.status_id) if item.status_id is not None else None,
            "source": item.source,
            "url": self._media_json(item)["url"],
        }

    def _media_json(self, item: _Media, pending: bool = False) -> dict[str, Any]:
        """REST::MediaAttachmentSerializer: ``url`` is null until processing is over."""
        base = f"{self.url}/system/media_attachments/files/{item.id}"
        stem = item.name.rsplit(".", 1)[0]
        preview: str | None = None
        if item.type in ("image", "unknown"):
            preview = f"{base}/small/{item.name}"
        elif item.type in ("video", "gifv"):
            preview = f"{base}/small/{stem}.png"
        meta = dict(item.meta)
        if item.focus is not None:
            meta["focus"] = {"x": item.focus[0], "y": item.focus[1]}
        return {
            "id": str(item.id),
            "type": item.type,
            "url": None if pending or not item.processed() else f"{base}/original/{item.name}",
            "preview_url": preview,
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": meta,
            "description": item.description,
            "blurhash": item.blurhash,
        }

    def _validate_media(
        self, user: MastodonUser, media_ids: list[Any], has_poll: bool
    ) -> list[_Media]:
        """PostStatusService#validate_media! and config/locales/en.yml
        media_attachments.validations (Mastodon::ValidationError -> 422)."""
        if not media_ids:
            return []
        limit = self._media_limits["max_media_attachments"]
        if len(media_ids) > limit or has_poll:
            raise _Invalid(f"Cannot attach more than {limit} files")
        wanted = [_ruby_to_i(i) for i in media_ids]
        found: dict[int, _Media] = {}
        for media_id in wanted[:limit]:
            item = self._media.get(media_id)
            # @account.media_attachments.where(status_id: nil)
            if item is not None and item.account_id == user.id and item.status_id is None:
                found[media_id] = item
        not_found = [i for i in wanted if i not in found]
        if not_found:
            ids = ", ".join(str(i) for i in not_found)
            raise _Invalid(f"Media {ids} not found or already attached to another post")
        media = list(found.values())  # ordered_media_attachment_ids: the order given
        if len(media) > 1 and any(m.type in ("video", "audio") for m in media):
            raise _Invalid("Cannot attach a video to a post that already contains images")
        if any(not m.processed() for m in media):
            raise _Invalid(
                "Cannot attach files that have not finished processing. Try again in a moment!"
            )
        return media

    # -- internals: entities ---------------------------------------------------------------
    def _account_url(self, user: MastodonUser) -> str:
        return f"https://{self.domain}/@{user.username}"

    def _account_json(self, user: MastodonUser) -> dict[str, Any]:
        created = self._created[user.id]
        own = self._by_account.get(user.id, {})
        last = max((s.created_at for s in own.values() if not s.deleted), default=None)
        missing = f"https://{self.domain}/avatars/original/missing.png"
        header = f"https://{self.domain}/headers/original/missing.png"
        return {
            "id": user.id,
            "username": user.username,
            "acct": user.acct,
            "display_name": user.display_name,
            "locked": user.locked,
            "bot": False,
            "discoverable": True,
            "indexable": False,
            "group": False,
            "created_at": iso_millis(created.replace(hour=0, minute=0, second=0, microsecond=0)),
            "note": "",
            "url": self._account_url(user),
            "uri": f"https://{self.domain}/users/{user.username}",
            "avatar": missing,
            "avatar_static": missing,
            "header": header,
            "header_static": header,
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": sum(1 for s in own.values() if not s.deleted),
            "last_status_at": last.strftime("%Y-%m-%d") if last else None,
            "hide_collections": None,
            "noindex": False,
            "emojis": [],
            "roles": [],
            "fields": [],
        }

    def _credential_json(self, user: MastodonUser) -> dict[str, Any]:
        body = self._account_json(user)
        body["source"] = {
            "privacy": "private" if user.locked else "public",
            "sensitive": False,
            "language": None,
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": None,
            "discoverable": True,
            "indexable": False,
            "attribution_domains": [],
        }
        body["role"] = {
            "id": "-99",
            "name": "",
            "permissions": "0",
            "color": "",
            "highlighted": False,
        }
        return body

    def _poll_json(self, poll: _Poll, owner_id: str, viewer_id: str | None) -> dict[str, Any]:
        """REST::PollSerializer: option counts are null while ``hide_totals`` hides them."""
        show_totals = poll.expired() or not poll.hide_totals
        body: dict[str, Any] = {
            "id": str(poll.id),
            "expires_at": iso_millis(poll.expires_at) if poll.expires_at else None,
            "expired": poll.expired(),
            "multiple": poll.multiple,
            "votes_count": sum(poll.tallies),
            "voters_count": poll.voters_count,
            "options": [
                {"title": title, "votes_count": poll.tallies[i] if show_totals else None}
                for i, title in enumerate(poll.options)
            ],
            "emojis": [],
        }
        if viewer_id is not None:
            body["voted"] = viewer_id == owner_id  # Poll#voted?: the author counts as voted
            body["own_votes"] = []
        return body

    def _quote_json(self, status: _Status, viewer_id: str | None, shallow: bool) -> Any:
        """REST::QuoteSerializer (a nested quote is a REST::ShallowQuoteSerializer): every
        quote here is accepted; a deleted quoted post is ``deleted``, one the viewer may not
        see ``unauthorized`` (docs: entities/Quote#state)."""
        if status.quote_of is None:
            return None
        quoted = self._statuses.get(status.quote_of)
        if quoted is None or quoted.deleted:
            state = "deleted"
        elif not self._can_see(quoted, viewer_id):
            state = "unauthorized"
        else:
            state = "accepted"
        if shallow:
            return {
                "state": state,
                "quoted_status_id": str(quoted.id) if quoted and state == "accepted" else None,
            }
        return {
            "state": state,
            "quoted_status": (
                self._status_json(quoted, viewer_id, shallow_quote=True)
                if quoted is not None and state == "accepted"
                else None
            ),
        }

    def _quote_approval_json(self, status: _Status, viewer_id: str | None) -> dict[str, Any]:
        """REST::StatusSerializer#quote_approval (docs: entities/QuoteApproval)."""
        policy = self._quote_policy_of(status)
        automatic = [] if policy == "nobody" else [policy]
        if viewer_id is not None and self._may_quote(viewer_id, status):
            current = "automatic"
        else:
            current = "denied"
        return {"automatic": automatic, "manual": [], "current_user": current}

    def _quote_fallback(self, status: _Status) -> str:
        """The ``<p class="quote-inline">RE: <a …>…</a></p>`` put before a quote's content
        unless it links the quoted post already (docs: client/quotes, methods/statuses)."""
        if status.quote_of is None or not self._quote_shown():
            return ""
        quoted = self._get_status(status.quote_of)
        if quoted is None:
            return ""
        url = self._status_url(quoted)
        if url in status.content:
            return ""
        return f'<p class="quote-inline">RE: {_shortened_link(url)}</p>'

    def _status_url(self, status: _Status) -> str:
        user = self._users[status.account_id]
        return f"https://{self.domain}/@{user.username}/{status.id}"

    def _edit_json(self, status: _Status, edit: _Edit) -> dict[str, Any]:
        """REST::StatusEditSerializer: ``poll`` only when that version had one."""
        shadow = _Status(**{**status.__dict__})
        shadow.text, shadow.spoiler_text = edit.text, edit.spoiler_text
        self._render(shadow)
        media = []
        for media_id, description in edit.media:
            if media_id in self._media:
                media.append(
                    {**self._media_json(self._media[media_id]), "description": description}
                )
        body: dict[str, Any] = {
            "content": self._quote_fallback(shadow) + shadow.content,
            "spoiler_text": edit.spoiler_text,
            "sensitive": edit.sensitive,
            "created_at": iso_millis(edit.created_at),
            "account": self._account_json(self._users[edit.account_id]),
            "media_attachments": media,
            "emojis": [],
        }
        if edit.poll_options:
            body["poll"] = {"options": [{"title": t} for t in edit.poll_options]}
        return body

    def _status_json(
        self, status: _Status, viewer_id: str | None, shallow_quote: bool = False
    ) -> dict[str, Any]:
        """REST::StatusSerializer."""
        user = self._users[status.account_id]
        reblog = self._statuses.get(status.reblog_of_id) if status.reblog_of_id else None
        uri = f"https://{self.domain}/users/{user.username}/statuses/{status.id}"
        url: str | None = f"https://{self.domain}/@{user.username}/{status.id}"
        if reblog is not None:
            uri = url = uri + "/activity"
        body: dict[str, Any] = {
            "id": str(status.id),
            "created_at": iso_millis(status.created_at),
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": uri,
            "url": url,
            "replies_count": self._live_count(self._replies, status.id),
            "reblogs_count": self._live_count(self._reblogs, status.id),
            "favourites_count": 0,
            "edited_at": iso_millis(status.edited_at) if status.edited_at else None,
            "content": self._quote_fallback(status) + status.content,
            "reblog": None,
            "account": self._account_json(user),
            "media_attachments": [
                self._media_json(self._media[i]) for i in status.media_ids if i in self._media
            ],
            "mentions": [
                {
                    "id": m.id,
                    "username": m.username,
                    "url": self._account_url(m),
                    "acct": m.acct,
                }
                for m in (self._users[i] for i in status.mention_ids)
            ],
            "tags": [{"name": t, "url": f"https://{self.domain}/tags/{t}"} for t in status.tags],
            "emojis": [],
            "card": None,
            "poll": (
                self._poll_json(status.poll, status.account_id, viewer_id) if status.poll else None
            ),
        }
        if self._quote_shown():
            body["quote"] = self._quote_json(status, viewer_id, shallow_quote)
        if self._quotes_enabled():
            body["quotes_count"] = self._live_count(self._quotes, status.id)
            body["quote_approval"] = self._quote_approval_json(status, viewer_id)
        if reblog is not None:
            body["reblog"] = self._status_json(reblog, viewer_id)
        if viewer_id is not None:
            proper_id = reblog.id if reblog is not None else status.id
            body.update(
                favourited=False,
                reblogged=self._own_reblog(viewer_id, proper_id) is not None,
                muted=False,
                bookmarked=False,
                filtered=[],
            )
            if viewer_id == status.account_id:
                body["pinned"] = False
        if viewer_id == status.account_id and status.application:
            body["application"] = {"name": status.application, "website": None}
        return body

    # -- HTTP: plumbing --------------------------------------------------------------------
    def _register_routes(self) -> None:
        s = r"(?P<id>[^/]+)"
        self.route("GET", r"/api/v1/instance", self._instance_v1)
        self.route("GET", r"/api/v2/instance", self._instance_v2)
        self.route("GET", r"/api/v1/accounts/verify_credentials", self._verify_credentials)
        self.route("GET", r"/api/v1/apps/verify_credentials", self._app_credentials)
        self.route("GET", r"/api/v1/accounts/lookup", self._lookup)
        self.route("GET", rf"/api/v1/accounts/{s}", self._account)
        self.route("GET", rf"/api/v1/accounts/{s}/statuses", self._account_statuses)
        self.route("POST", r"/api/v1/statuses", self._post_status)
        self.route("GET", r"/api/v1/statuses", self._list_statuses)
        self.route("GET", rf"/api/v1/statuses/{s}", self._show_status)
        self.route("POST", rf"/api/v1/statuses/{s}/reblog", self._reblog)
        self.route("POST", rf"/api/v1/statuses/{s}/unreblog", self._unreblog)
        self.route("GET", rf"/api/v1/statuses/{s}/history", self._status_history)
        self.route("PUT", rf"/api/v1/statuses/{s}", self._edit_status)
        self.route("DELETE", rf"/api/v1/statuses/{s}", self._delete_status)
        self.route("GET", rf"/api/v1/statuses/{s}/source", self._status_source)
        self.route("GET", rf"/api/v1/statuses/{s}/context", self._status_context)
        self.route("POST", r"/api/v2/media", lambda r: self._upload_media(r, v2=True))
        self.route("POST", r"/api/v1/media", lambda r: self._upload_media(r, v2=False))
        self.route("GET", rf"/api/v1/media/{s}", self._show_media)
        self.route("PUT", rf"/api/v1/media/{s}", self._update_media)
        files = (
            r"/system/media_attachments/files/(?P<id>\d+)/(?P<style>original|small)/(?P<name>[^/]+)"
        )
        self.route("GET", files, self._download_media)
        self.route("HEAD", files, self._download_media)
        self.route("POST", r"/_sandbox/users", self._control_users)
        self.route("POST", r"/_sandbox/tokens", self._control_tokens)
        self.route("POST", r"/_sandbox/posts", self._control_create_post)
        self.route("GET", r"/_sandbox/posts", self._control_posts)
        self.route("DELETE", r"/_sandbox/posts/(?P<id>[^/]+)", self._control_delete_post)
        self.route("POST", r"/_sandbox/posts/(?P<id>[^/]+)/edit", self._control_edit_post)
        self.route("POST", r"/_sandbox/version", self._control_version)
        self.route("GET", r"/_sandbox/version", self._control_version)
        self.route("POST", r"/_sandbox/rate_limit", self._control_rate_limit)
        self.route("GET", r"/_sandbox/media/(?P<id>[^/]+)", self._control_media)
        self.route("GET", r"/_sandbox/uploads", self._control_uploads)
        self.route("POST", r"/_sandbox/media_limits", self._control_media_limits)

    def error_response(self, status: int, message: str) -> Response:
        return json_response({"error": message}, status)

    def rate_limit_response(self, reset_at: float) -> Response:
        """The ``rate_limit`` fault: a 429 of the per-token API throttle resetting at
        ``reset_at``, written as the throttled responder writes it."""
        per_token = self._rack_attack.limit_of("throttle_per_token_api")
        reset = iso8601_6(datetime.fromtimestamp(reset_at, UTC))
        return self._throttled({"X-RateLimit-Limit": str(per_token), "X-RateLimit-Reset": reset})

    @staticmethod
    def _throttled(headers: dict[str, str]) -> Response:
        # rack_attack.rb:156-168 throttled_responder: the tripped throttle's limit, 0 left;
        # the body is errors.429 (config/locales/en.yml:1594); no Retry-After
        return Response(
            429, {"error": "Too many requests"}, {**headers, "X-RateLimit-Remaining": "0"}
        )

    def dispatch(self, request: Request) -> Response:
        if not request.path.startswith("/api/"):
            return super().dispatch(request)
        now = self.now()
        with self._lock:
            seen, tripped = self._rack_attack.track(self._caller(request), now)
        if tripped is not None:
            return self._throttled(headers_for(seen[tripped.name], now))
        try:
            response = super().dispatch(request)
        except _Invalid as exc:
            response = self.error_response(422, str(exc))
        # Api::RateLimitHeaders' before_action runs first in every API controller, so 401s,
        # 403s and 404s carry the headers too (rate_limit_headers.rb:18-19).
        keep_lower(response.headers, lowest(seen), now)
        return response

    def _caller(self, request: Request) -> Caller:
        grant = self._grants.get(self._token_of(request) or "")
        paging = any(request.arg(k) for k in ("page", "min_id", "max_id", "since_id"))
        return Caller(
            method=request.method,
            path=request.path,
            token_id=grant.id if grant else None,
            user_id=grant.account_id if grant else None,
            ip="127.0.0.1",
            paging=paging,
        )

    @staticmethod
    def _token_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.arg("access_token")

    def _viewer(
        self, request: Request, required: bool, scopes: tuple[str, ...]
    ) -> tuple[MastodonUser | None, Response | None]:
        """Who asks, as Doorkeeper says (sandbox/mastodon_oauth.py). ``required``:
        doorkeeper_authorize! (no known token: 401); otherwise authorize_if_got_token! (no
        known token: anonymous). A known token needs one of ``scopes`` (else 403)."""
        with self._lock:
            grant = self._grants.get(self._token_of(request) or "")
            user = self._users.get(grant.account_id) if grant else None
        if grant is None or user is None:
            return None, unauthorized() if required else None
        if not grant.accepts(scopes):
            return None, forbidden(scopes)
        return user, None

    def _base_url(self, request: Request) -> str:
        host = request.headers.get("host")
        return f"http://{host}" if host else self.url

    @staticmethod
    def _params(request: Request) -> dict[str, list[Any]]:
        params: dict[str, list[Any]] = {k: list(v) for k, v in request.query.items()}
        if request.body:
            for key, values in request.form().items():
                params[key] = values
        return params

    # -- HTTP: instance and accounts ---------------------------------------------------------
    def _statuses_config(self) -> dict[str, int]:
        return {
            "max_characters": self.max_characters,
            "max_media_attachments": self._media_limits["max_media_attachments"],
            "characters_reserved_per_url": URL_PLACEHOLDER_CHARS,
        }

    def _media_config(self) -> dict[str, Any]:
        """Instance#configuration.media_attachments, from the sandbox's current limits."""
        limits = self._media_limits
        return {
            "supported_mime_types": list(limits["supported_mime_types"]),
            "description_limit": limits["description_limit"],
            "image_size_limit": limits["image_size_limit"],
            "image_matrix_limit": limits["image_matrix_limit"],
            "video_size_limit": limits["video_size_limit"],
            "video_frame_rate_limit": 120,  # MediaAttachment::MAX_VIDEO_FRAME_RATE
            "video_matrix_limit": 8_294_400,  # MediaAttachment::MAX_VIDEO_MATRIX_LIMIT
        }

    _POLLS_CONFIG = {
        "max_options": 4,
        "max_characters_per_option": 50,
        "min_expiration": 300,
        "max_expiration": 2629746,
    }

    def _instance_v1(self, request: Request) -> Response:
        # No token check: Api::V2::InstancesController skips require_authenticated_user! and
        # authorizes nothing (research section 4), so even an unknown token is served.
        ws = self._base_url(request).replace("http://", "ws://", 1)
        with self._lock:
            users, statuses = (
                len(self._users),
                sum(1 for s in self._statuses.values() if not s.deleted),
            )
        return json_response(
            {
                "uri": self.domain,
                "title": "Mastodon sandbox",
                "short_description": "A local fake Mastodon server.",
                "description": "A local fake Mastodon server.",
                "email": f"admin@{self.domain}",
                "version": self.version,
                "urls": {"streaming_api": ws},
                "stats": {"user_count": users, "status_count": statuses, "domain_count": 0},
                "thumbnail": None,
                "languages": ["en"],
                "registrations": False,
                "approval_required": False,
                "invites_enabled": False,
                "configuration": {
                    "accounts": {"max_featured_tags": 10},
                    "statuses": self._statuses_config(),
                    "media_attachments": self._media_config(),
                    "polls": self._POLLS_CONFIG,
                },
                "contact_account": None,
                "rules": [],
            }
        )

    def _instance_v2(self, request: Request) -> Response:
        # No token check: Api::V2::InstancesController skips require_authenticated_user! and
        # authorizes nothing (research section 4), so even an unknown token is served.
        ws = self._base_url(request).replace("http://", "ws://", 1)
        api = self.api_version
        return json_response(
            {
                "domain": self.domain,
                "title": "Mastodon sandbox",
                "version": self.version,
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A local fake Mastodon server.",
                "usage": {"users": {"active_month": len(self._users)}},
                "thumbnail": {"url": f"https://{self.domain}/packs/media/images/preview.png"},
                "icon": [],
                "languages": ["en"],
                "configuration": {
                    "urls": {"streaming": ws, "status": None},
                    "vapid": {"public_key": ""},
                    "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                    "statuses": self._statuses_config(),
                    "media_attachments": self._media_config(),
                    "polls": self._POLLS_CONFIG,
                    "translation": {"enabled": False},
                },
                "registrations": {
                    "enabled": False,
                    "approval_required": False,
                    "message": None,
                    "url": None,
                },
                "contact": {"email": f"admin@{self.domain}", "account": None},
                "rules": [],
                **({"api_versions": {"mastodon": api}} if api is not None else {}),
            }
        )

    def _verify_credentials(self, request: Request) -> Response:
        user, error = self._viewer(request, True, VERIFY_CREDENTIALS)
        if error or user is None:
            return error or unauthorized()
        with self._lock:
            return json_response(self._credential_json(user))

    def _app_credentials(self, request: Request) -> Response:
        """Api::V1::Apps::CredentialsController: since 4.3 any valid token, whatever its
        scopes (valid_doorkeeper_token?, line 5); before, doorkeeper_authorize! :read."""
        old = _version_tuple(self.version) < (4, 3, 0)
        with self._lock:
            grant = self._grants.get(self._token_of(request) or "")
        if grant is None:
            return unauthorized()
        if old and not grant.accepts(("read",)):
            return forbidden(("read",))
        return json_response(application_json(grant.application, _version_tuple(self.version)))

    def _lookup(self, request: Request) -> Response:
        _, error = self._viewer(request, False, READ_ACCOUNTS)
        if error:
            return error
        acct = (request.arg("acct") or "").lstrip("@")
        username, _, domain = acct.partition("@")
        with self._lock:
            user = self._find_user(username)
            if user is None or (domain and domain.lower() != self.domain.lower()):
                return self.error_response(404, "Record not found")
            return json_response(self._account_json(user))

    def _account(self, request: Request) -> Response:
        _, error = self._viewer(request, False, READ_ACCOUNTS)
        if error:
            return error
        with self._lock:
            user = self._users.get(request.path_params["id"])
            if user is None:
                return self.error_response(404, "Record not found")
            return json_response(self._account_json(user))

    def _account_statuses(self, request: Request) -> Response:
        """Api::V1::Accounts::StatusesController + AccountStatusesFilter + Paginable."""
        viewer, error = self._viewer(request, False, READ_STATUSES)
        if error:
            return error
        viewer_id = viewer.id if viewer else None
        q = request.arg
        limit_arg = q("limit")
        limit = 20 if not limit_arg else min(abs(int(limit_arg)), 40)  # limit_param(20): max 2x
        with self._lock:
            account = self._users.get(request.path_params["id"])
            if account is None:
                return self.error_response(404, "Record not found")
            rows = [
                s
                for s in self._by_account.get(account.id, {}).values()
                if not s.deleted and self._can_see(s, viewer_id)
            ]
            if _truthy(q("pinned")):
                rows = []  # nothing is pinned in this sandbox
            if _truthy(q("only_media")):
                rows = [s for s in rows if s.media_ids]
            if _truthy(q("exclude_replies")):  # Status.without_replies
                rows = [
                    s
                    for s in rows
                    if s.in_reply_to_id is None or s.in_reply_to_account_id == s.account_id
                ]
            if _truthy(q("exclude_reblogs")):
                rows = [s for s in rows if s.reblog_of_id is None]
            if q("tagged"):
                tag = (q("tagged") or "").lstrip("#").lower()
                rows = [s for s in rows if tag in s.tags]
            max_id, since_id, min_id = (
                self._int_arg(q(k)) for k in ("max_id", "since_id", "min_id")
            )
            if max_id is not None:
                rows = [s for s in rows if s.id < max_id]
            if min_id is not None:  # Paginable#paginate_by_min_id, then reversed
                rows = sorted((s for s in rows if s.id > min_id), key=lambda s: s.id)[:limit]
                rows.reverse()
            else:
                if since_id is not None:
                    rows = [s for s in rows if s.id > since_id]
                rows = sorted(rows, key=lambda s: s.id, reverse=True)[:limit]
            body = [self._status_json(s, viewer_id) for s in rows]
        headers = {}
        links = self._link_header(request, rows, limit)
        if links:
            headers["Link"] = links
        return Response(200, body, headers)

    @staticmethod
    def _int_arg(value: str | None) -> int | None:
        if value in (None, ""):
            return None
        try:
            return int(value)  # type: ignore[arg-type]
        except ValueError:
            return None

    def _link_header(self, request: Request, rows: list[_Status], limit: int) -> str:
        keys = ("limit", "pinned", "tagged", "only_media", "exclude_replies", "exclude_reblogs")
        kept = {k: request.arg(k) for k in keys if request.arg(k) is not None}
        base = self._base_url(request) + request.path
        links = []
        if rows and len(rows) == limit:  # records_continue?
            links.append(f'<{base}?{urlencode({**kept, "max_id": rows[-1].id})}>; rel="next"')
        if rows:
            links.append(f'<{base}?{urlencode({**kept, "min_id": rows[0].id})}>; rel="prev"')
        return ", ".join(links)

    # -- HTTP: statuses -----------------------------------------------------------------------
    @staticmethod
    def _poll_params(params: dict[str, list[Any]]) -> dict | None:
        """``poll`` as a JSON object (what Mastodon.py sends with ``make_poll``) or as the
        form fields ``poll[options][]``, ``poll[expires_in]``, ``poll[multiple]`` and
        ``poll[hide_totals]``."""
        given = params.get("poll")
        if given and isinstance(given[0], dict):
            return dict(given[0])
        data: dict[str, Any] = {}
        options = params.get("poll[options][]") or params.get("poll[options]")
        if options is not None:
            data["options"] = list(options)
        for name in ("expires_in", "multiple", "hide_totals"):
            values = params.get(f"poll[{name}]")
            if values:
                data[name] = values[0]
        return data or None

    def _post_status(self, request: Request) -> Response:
        """Api::V1::StatusesController#create and PostStatusService."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        # set_thread's 404 is a before_action: it halts before the family's headers are set
        return self._counted(user, lambda: self._create_status(request, user), halting=(404,))

    def _app_of(self, request: Request) -> str:
        """The application of the request's token: PostStatusService stores it on the status
        (``application: doorkeeper_token.application``), shown to the owner."""
        grant = self._grants.get(self._token_of(request) or "")
        return grant.application.name if grant is not None else "Sandbox"

    def _count_status(self, user: MastodonUser) -> None:
        """A status or an edit is created: RateLimitable's after_create records it in the
        ``statuses`` family (rate_limitable.rb:17-29, status.rb:64, status_edit.rb:34); over
        the limit, nothing is created (the error rolls the transaction back)."""
        if not self._statuses_limit.record(user.id, self.now()):
            raise _StatusesLimited

    def _counted(
        self, user: MastodonUser, action: Callable[[], Response], halting: tuple[int, ...] = ()
    ) -> Response:
        """An action under ``override_rate_limit_headers ..., family: :statuses``
        (statuses_controller.rb:16-17, reblogs_controller.rb:12): after it, even when it
        failed, the family's headers are put on the reply (rate_limit_headers.rb:7-14; the
        dispatcher keeps them unless rack-attack's have fewer calls left). Over the family's
        limit the reply is 429 {"error": "Too many requests"} (error_handling.rb:44-46)."""
        try:
            response = action()
        except _Invalid as exc:
            response = self.error_response(422, str(exc))
        except _StatusesLimited:
            response = self.error_response(429, "Too many requests")
        if response.status not in halting:
            now = self.now()
            with self._lock:
                state = self._statuses_limit.state(user.id, now)
            response.headers.update(headers_for(state, now))
        return response

    def _create_status(self, request: Request, user: MastodonUser) -> Response:
        params = self._params(request)

        def one(name: str) -> Any:
            values = params.get(name)
            return values[0] if values else None

        media_ids = params.get("media_ids[]") or params.get("media_ids") or []
        poll_data = self._poll_params(params)
        key = request.headers.get("idempotency-key")
        with self._lock:
            thread = None
            if one("in_reply_to_id"):
                thread = self._get_status(one("in_reply_to_id"))
                if thread is None or not self._can_see(thread, user.id):
                    # Api::V1::StatusesController#set_thread
                    return self.error_response(
                        404, "The post you are trying to reply to does not appear to exist."
                    )
            quoted, quote_policy = None, "public"
            if self._quotes_enabled():  # before 4.5 these are unknown parameters, ignored
                if one("quoted_status_id") not in (None, ""):
                    # #set_quoted_status: Status.find(...)&.proper, authorize :quote?
                    found = self._get_status(one("quoted_status_id"))
                    quoted = self._proper(found) if found is not None else None
                    if quoted is None or not self._may_quote(user.id, quoted):
                        return self.error_response(
                            404, "The post you are trying to quote does not appear to exist."
                        )
                quote_policy = self._parse_quote_policy(one("quote_approval_policy")) or "public"
            if key:  # PostStatusService#with_idempotency: same status for an hour
                entry = self._idempotency.get((user.id, key))
                if entry and entry[1] > time.time():
                    earlier = self._get_status(entry[0])
                    if earlier is None:
                        return self.error_response(404, "Record not found")
                    return json_response(self._status_json(earlier, user.id))
            has_poll = self._poll_present(poll_data)
            media = self._validate_media(user, media_ids, has_poll)
            visibility = one("visibility") or ("private" if user.locked else "public")
            if visibility not in _VISIBILITIES:
                raise _Invalid("Validation failed: Visibility is not included in the list")
            quoting_private = quoted is not None and quoted.visibility == "private"
            if quoting_private and visibility in ("public", "unlisted"):
                visibility = "private"  # #preprocess_attributes!
            status = self._build(
                user,
                str(one("status") or ""),
                str(one("spoiler_text") or ""),
                _truthy(one("sensitive")),
                visibility,
                one("language") or "en",
                thread,
                None,
                self._app_of(request),
                quoted=quoted,
            )
            status.quote_policy = quote_policy
            if (
                quoted is not None
                and visibility == "direct"
                and quoted.account_id != user.id
                and quoted.account_id not in status.mention_ids
            ):  # #safeguard_private_mention_quote! (statuses.errors.quoted_user_not_mentioned)
                raise _Invalid(
                    "Validation failed: "
                    "Cannot quote a non-mentioned user in a Private Mention post."
                )
            errors = self._text_errors(status, media=bool(media))
            if has_poll and poll_data is not None:
                # has_one :poll + accepts_nested_attributes_for: the poll's errors follow
                status.poll = self._new_poll(poll_data)
                errors += self._poll_errors(status.poll)
            if errors:
                raise _Invalid("Validation failed: " + ", ".join(errors))
            self._count_status(user)
            for item in media:
                item.status_id = status.id
            status.media_ids = [m.id for m in media]
            self._store(status)
            if key:
                self._idempotency[(user.id, key)] = (status.id, time.time() + 3600)
            return json_response(self._status_json(status, user.id))

    def _list_statuses(self, request: Request) -> Response:
        """Api::V1::StatusesController#index (4.3+): ``id[]`` (duplicates count once), more
        than DEFAULT_STATUSES_LIMIT (20) is a bare Mastodon::ValidationError; what is gone or
        hidden is left out, and the rest come as Status.permitted_statuses_from_ids gives
        them: the default scope's order, newest (highest id) first, not the request's."""
        viewer, error = self._viewer(request, False, READ_STATUSES)
        if error:
            return error
        viewer_id = viewer.id if viewer else None
        raw = request.query.get("id[]") or []
        if request.body:
            form = request.form()
            raw = form.get("id[]") or (form["id"] if isinstance(form.get("id"), list) else raw)
        ids = list(dict.fromkeys(str(i) for i in raw))
        if len(ids) > 20:
            raise _Invalid("Mastodon::ValidationError")
        with self._lock:
            found = {}
            for value in ids:
                status = self._get_status(_ruby_to_i(value))
                if status is not None and self._can_see(status, viewer_id):
                    found[status.id] = status
            rows = sorted(found.values(), key=lambda s: s.id, reverse=True)
            return json_response([self._status_json(s, viewer_id) for s in rows])

    def _reblog(self, request: Request) -> Response:
        """Api::V1::Statuses::ReblogsController#create and ReblogService: a boost of a boost
        boosts the original; a second boost is the first one again; StatusPolicy#reblog?
        refuses private mentions and others' followers-only posts (403)."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        # The reply carries the statuses family's headers, but a boost is not counted: the
        # controller passes no with_rate_limit (reblogs_controller.rb:52-54, research §3).
        # set_reblog's 404 is a before_action: it halts before the headers are set.
        return self._counted(user, lambda: self._boost(request, user), halting=(404,))

    def _boost(self, request: Request, user: MastodonUser) -> Response:
        visibility = self._params(request).get("visibility", [None])[0]
        with self._lock:
            found = self._get_status(request.path_params["id"])
            if found is None or not self._can_see(found, user.id):
                return self.error_response(404, "Record not found")
            original = self._proper(found)
            if original.visibility == "direct" or (
                original.visibility == "private" and original.account_id != user.id
            ):
                return self.error_response(403, "This action is not allowed")
            existing = self._own_reblog(user.id, original.id)
            if existing is not None:
                return json_response(self._status_json(existing, user.id))
            if original.visibility in ("private", "direct"):
                visibility = original.visibility  # a hidden post's boost keeps its visibility
            else:
                visibility = visibility or ("private" if user.locked else "public")
            if visibility not in _VISIBILITIES:
                raise _Invalid("Validation failed: Visibility is not included in the list")
            if visibility == "direct":  # validates :visibility, exclusion:, if: :reblog?
                raise _Invalid("Validation failed: Visibility is reserved")
            reblog = self._new_status(user, "", "", False, visibility, None, None, "Sandbox")
            reblog.reblog_of_id = original.id
            self._store(reblog)
            return json_response(self._status_json(reblog, user.id))

    def _unreblog(self, request: Request) -> Response:
        """ReblogsController#destroy: the viewer's boost of that post is discarded and the
        post returned; with no boost, the post as it is (404 if the viewer may not see it)."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        with self._lock:
            try:
                status_id = int(request.path_params["id"])
            except ValueError:
                return self.error_response(404, "Record not found")
            reblog = self._own_reblog(user.id, status_id)
            if reblog is not None:
                reblog.deleted = True
                original = self._statuses[status_id]
            else:
                found = self._get_status(status_id)
                if found is None or not self._can_see(found, user.id):
                    return self.error_response(404, "Record not found")
                original = found
            return json_response(self._status_json(original, user.id))

    def _status_history(self, request: Request) -> Response:
        """Api::V1::Statuses::HistoriesController: every version, oldest first; a status
        never edited has one (built on the fly)."""
        with self._lock:
            status, _, error = self._visible_status(request)
            if error or status is None:
                return error  # type: ignore[return-value]
            edits = status.edits or [
                self._snapshot(status, status.edited_at or status.created_at, status.account_id)
            ]
            return json_response([self._edit_json(status, edit) for edit in edits])

    def _visible_status(
        self, request: Request
    ) -> tuple[_Status | None, str | None, Response | None]:
        viewer, error = self._viewer(request, False, READ_STATUSES)
        if error:
            return None, None, error
        viewer_id = viewer.id if viewer else None
        status = self._get_status(request.path_params["id"])
        if status is None or not self._can_see(status, viewer_id):
            return None, viewer_id, self.error_response(404, "Record not found")
        return status, viewer_id, None

    def _own_status(
        self, request: Request, scopes: tuple[str, ...] = WRITE_STATUSES
    ) -> tuple[_Status | None, MastodonUser | None, Response | None]:
        """``Status.where(account: current_account).find(id)``: someone else's is a 404."""
        user, error = self._viewer(request, True, scopes)
        if error or user is None:
            return None, None, error
        status = self._get_status(request.path_params["id"])
        if status is None or status.account_id != user.id:
            return None, user, self.error_response(404, "Record not found")
        return status, user, None

    def _show_status(self, request: Request) -> Response:
        with self._lock:
            status, viewer_id, error = self._visible_status(request)
            if error or status is None:
                return error  # type: ignore[return-value]
            return json_response(self._status_json(status, viewer_id))

    def _status_source(self, request: Request) -> Response:
        with self._lock:
            status, _, error = self._own_status(request, READ_STATUSES)
            if error or status is None:
                return error  # type: ignore[return-value]
            return json_response(
                {"id": str(status.id), "text": status.text, "spoiler_text": status.spoiler_text}
            )

    def _status_context(self, request: Request) -> Response:
        with self._lock:
            status, viewer_id, error = self._visible_status(request)
            if error or status is None:
                return error  # type: ignore[return-value]
            ancestors, parent_id = [], status.in_reply_to_id
            while parent_id is not None and parent_id in self._statuses:
                parent = self._statuses[parent_id]
                if not parent.deleted and self._can_see(parent, viewer_id):
                    ancestors.append(parent)
                parent_id = parent.in_reply_to_id
            ancestors.reverse()
            descendants: list[_Status] = []
            stack = [status]  # depth first, oldest reply first; no recursion limit
            while stack:
                node = stack.pop()
                if node is not status:
                    descendants.append(node)
                children = sorted(self._replies.get(node.id, ()), key=lambda s: s.id)
                stack.extend(reversed(children))
            descendants = [s for s in descendants if not s.deleted and self._can_see(s, viewer_id)]
            return json_response(
                {
                    "ancestors": [self._status_json(s, viewer_id) for s in ancestors],
                    "descendants": [self._status_json(s, viewer_id) for s in descendants],
                }
            )

    def _edit_status(self, request: Request) -> Response:
        """Api::V1::StatusesController#update and UpdateStatusService: the request says what
        the post now is, whole. The controller hands every field on, nil for those left out,
        so an edit without ``media_ids`` drops the attachments and one without ``poll`` the
        poll (clients send them again); ``media_attributes`` change descriptions and focus.
        A quote stays a quote (an edit cannot change it). Each edit counts in the statuses
        family (UpdateStatusService#create_edit!, research §3)."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        return self._counted(user, lambda: self._update_from(request))

    def _update_from(self, request: Request) -> Response:
        params = self._params(request)

        def one(name: str) -> Any:
            values = params.get(name)
            return values[0] if values else None

        media_ids = params.get("media_ids[]") or params.get("media_ids") or []
        attributes = [a for a in params.get("media_attributes") or [] if isinstance(a, dict)]
        poll_data = self._poll_params(params)
        with self._lock:
            status, user, error = self._own_status(request)
            if error or status is None or user is None:
                return error  # type: ignore[return-value]
            policy = None
            if self._quotes_enabled():
                policy = self._parse_quote_policy(one("quote_approval_policy"))
            has_poll = self._poll_present(poll_data)
            media = self._edit_media(user, status, media_ids, has_poll)
            self._update_status(
                status,
                user.id,
                text=one("status"),
                spoiler_text=one("spoiler_text"),
                sensitive=one("sensitive"),
                language=one("language"),
                media=media,
                media_attributes=attributes,
                poll=poll_data if has_poll else None,
                before_apply=lambda: self._count_status(user),
            )
            if policy is not None:
                status.quote_policy = policy
            return json_response(self._status_json(status, user.id))

    def _edit_media(
        self, user: MastodonUser, status: _Status, media_ids: list[Any], has_poll: bool
    ) -> list[_Media]:
        """UpdateStatusService#validate_media!: the account's unattached media or this
        status' own, in the order given; unknown ids are left out without an error."""
        if not media_ids:
            return []
        limit = self._media_limits["max_media_attachments"]
        if len(media_ids) > limit or has_poll:
            raise _Invalid(f"Cannot attach more than {limit} files")
        media = []
        for media_id in [_ruby_to_i(i) for i in media_ids[:limit]]:
            item = self._media.get(media_id)
            if (
                item is not None
                and item.account_id == user.id
                and item.status_id in (None, status.id)
                and item not in media
            ):
                media.append(item)
        if len(media) > 1 and any(m.type in ("video", "audio") for m in media):
            raise _Invalid("Cannot attach a video to a post that already contains images")
        if any(not m.processed() for m in media):
            raise _Invalid(
                "Cannot attach files that have not finished processing. Try again in a moment!"
            )
        return media

    def _delete_status(self, request: Request) -> Response:
        with self._lock:
            status, user, error = self._own_status(request)
            if error or status is None or user is None:
                return error  # type: ignore[return-value]
            body = self._status_json(status, user.id)
            body["text"] = status.text  # source_requested: true
            self._discard(status)
            return json_response(body)

    # -- HTTP: media --------------------------------------------------------------------------
    @staticmethod
    def _media_fields(request: Request) -> dict[str, Any]:
        """The upload's fields: the file as bytes, the text fields decoded as UTF-8."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            fields: dict[str, Any] = {}
            for name, values in request.multipart().items():
                value = values[0] if values else b""
                fields[name] = (
                    value
                    if name in ("file", "thumbnail")
                    else value.decode("utf-8", errors="replace")
                )
            return fields
        params = MastodonSandbox._params(request)
        return {k: (v[0] if v else None) for k, v in params.items()}

    @staticmethod
    def _parse_focus(value: Any) -> tuple[float, float] | None:
        try:
            x, y = (float(v) for v in str(value).split(",")[:2])
        except ValueError:
            return None
        return x, y

    def _description_errors(self, description: str | None) -> list[str]:
        limit = self._media_limits["description_limit"]
        if description is not None and len(description) > limit:
            return [f"Description is too long (maximum is {limit} characters)"]
        return []

    def _upload_media(self, request: Request, v2: bool) -> Response:
        """Api::V2::MediaController#create (200, or 202 while a video or audio file is
        processed) and the deprecated Api::V1::MediaController#create (200, synchronous)."""
        user, error = self._viewer(request, True, WRITE_MEDIA)
        if error or user is None:
            return error or unauthorized()
        fields = self._media_fields(request)
        file = fields.get("file")
        description = fields.get("description")
        with self._lock:
            if not isinstance(file, bytes) or not file:
                raise _Invalid("Validation failed: File can't be blank")
            limits = self._media_limits
            head = file[:_HEAD_BYTES]
            content_type = sniff_content_type(head)
            animated = content_type == "image/gif" and gif_is_animated(file)
            kind = _kind_of(content_type, animated)
            dims = image_size(head) if content_type.startswith("image/") else None
            if dims:  # Attachmentable#check_image_dimension raises before the validations
                width, height = dims
                if content_type == "image/gif" and width * height > GIF_MATRIX_LIMIT:
                    raise _Invalid(f"{width}x{height} GIF files are not supported")
                if width * height > limits["image_matrix_limit"]:
                    raise _Invalid(f"{width}x{height} images are not supported")
            errors: list[str] = []
            if content_type not in limits["supported_mime_types"]:
                # validates_attachment_content_type (docs: methods/media, 422)
                errors += ["File content type is invalid", "File is invalid"]
            # validates_attachment_size less_than: IMAGE_LIMIT, or VIDEO_LIMIT if
            # larger_media_format? (a GIF is still an image when it is validated)
            larger = kind in ("video", "audio")
            limit = limits["video_size_limit" if larger else "image_size_limit"]
            if len(file) >= limit:
                errors += [
                    f"File file size must be less than {human_size(limit)}",
                    f"File must be less than {human_size(limit)}",
                ]
            errors += self._description_errors(description)
            if errors:
                raise _Invalid("Validation failed: " + ", ".join(errors))
            delayed = v2 and larger  # MediaAttachment#delay_processing?
            ready_at = time.time() + (self.media_processing_seconds if delayed else 0.0)
            item = self._create_media(
                user,
                file,
                head,
                file[-_HEAD_BYTES:],
                len(file),
                content_type,
                kind,
                description,
                "api",
                ready_at,
            )
            if fields.get("focus"):
                item.focus = self._parse_focus(fields["focus"])
            return json_response(self._media_json(item, pending=delayed), 202 if delayed else 200)

    def _own_media(self, request: Request) -> tuple[_Media | None, Response | None]:
        """``current_account.media_attachments.where(status_id: nil).find(params[:id])``."""
        user, error = self._viewer(request, True, WRITE_MEDIA)
        if error or user is None:
            return None, error or unauthorized()
        item = self._media.get(_ruby_to_i(request.path_params["id"]))
        if item is None or item.account_id != user.id or item.status_id is not None:
            return None, self.error_response(404, "Record not found")
        return item, None

    def _show_media(self, request: Request) -> Response:
        """Api::V1::MediaController#show: 206 while processing, then 200."""
        with self._lock:
            item, error = self._own_media(request)
            if error or item is None:
                return error  # type: ignore[return-value]
            return json_response(self._media_json(item), 200 if item.processed() else 206)

    def _update_media(self, request: Request) -> Response:
        """Api::V1::MediaController#update: description and focus, before it is attached."""
        fields = self._media_fields(request)
        with self._lock:
            item, error = self._own_media(request)
            if error or item is None:
                return error  # type: ignore[return-value]
            if "description" in fields:
                description = fields["description"]
                errors = self._description_errors(description)
                if errors:
                    raise _Invalid("Validation failed: " + ", ".join(errors))
                item.description = description
            if fields.get("focus"):
                item.focus = self._parse_focus(fields["focus"]) or item.focus
            return json_response(self._media_json(item), 200 if item.processed() else 206)

    def _download_media(self, request: Request) -> Response:
        """The files behind ``url`` and ``preview_url``, streamed from disk, no token needed."""
        with self._lock:
            item = self._media.get(_ruby_to_i(request.path_params["id"]))
        name, style = request.path_params["name"], request.path_params["style"]
        if item is not None and item.processed():
            if name == item.name and (style == "original" or item.type in ("image", "unknown")):
                return Response(200, item.path, {"Content-Type": item.content_type})
            stem = item.name.rsplit(".", 1)[0]
            if style == "small" and item.type in ("video", "gifv") and name == f"{stem}.png":
                return Response(200, _PREVIEW_PNG, {"Content-Type": "image/png"})
        return self.error_response(404, "Not Found")

    # -- control API ------------------------------------------------------------------------
    def _control_users(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            user = self.create_user(
                data["username"],
                data.get("display_name"),
                bool(data.get("locked", False)),
                data.get("scopes") or DEFAULT_SCOPES,
            )
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(user.__dict__, 201)

    def _control_tokens(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            token = self.create_token(data["username"], data["scopes"])
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response({"access_token": token, "scopes": data["scopes"]}, 201)

    def _control_create_post(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            status = self.create_post(
                data["username"],
                data.get("text", ""),
                visibility=data.get("visibility", "public"),
                in_reply_to_id=data.get("in_reply_to_id"),
                spoiler_text=data.get("spoiler_text", ""),
                reblog_of=data.get("reblog_of"),
                media=[
                    {**item, "data": base64.b64decode(item.get("data") or "")}
                    for item in data.get("media") or []
                ]
                or None,
                sensitive=bool(data.get("sensitive", False)),
                poll=data.get("poll"),
                quote_of=data.get("quote_of"),
            )
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(status, 201)

    def _control_edit_post(self, request: Request) -> Response:
        data = request.json() or {}
        if "text" not in data:
            return json_response({"error": "text is required"}, 422)
        try:
            status = self.edit_post(
                request.path_params["id"],
                str(data["text"]),
                spoiler_text=data.get("spoiler_text"),
                sensitive=data.get("sensitive"),
                poll=data.get("poll", _KEEP),
            )
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(status, 200)

    def _control_version(self, request: Request) -> Response:
        if request.method == "POST":
            data = request.json() or {}
            try:
                if "api_version" in data:
                    self.set_version(str(data["version"]), data["api_version"])
                else:
                    self.set_version(str(data["version"]))
            except (KeyError, ValueError) as exc:
                return json_response({"error": f"bad version: {exc}"}, 422)
        api = {"mastodon": self.api_version} if self.api_version is not None else None
        return json_response({"version": self.version, "api_versions": api})

    def _control_posts(self, request: Request) -> Response:
        try:
            rows = self.posts(
                request.arg("username") or "", _truthy(request.arg("include_deleted"))
            )
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)
        return json_response(rows)

    def _control_delete_post(self, request: Request) -> Response:
        self.delete_post(request.path_params["id"])
        return json_response({}, 200)

    def _control_rate_limit(self, request: Request) -> Response:
        data = request.json() or {}
        family = data.get("family")
        try:
            self.set_rate_limit(int(data["limit"]), float(data.get("window_s", 300)), family)
        except (KeyError, ValueError) as exc:
            return json_response({"error": f"bad rate limit: {exc}"}, 422)
        return json_response({"limit": int(data["limit"]), "family": family})

    def _control_media(self, request: Request) -> Response:
        info = self.media(request.path_params["id"])
        if info is None:
            return json_response({"error": "not found"}, 404)
        return json_response({**info, "path": str(info["path"])})

    def _control_uploads(self, request: Request) -> Response:
        return json_response([{**m, "path": str(m["path"])} for m in self.uploads()])

    def _control_media_limits(self, request: Request) -> Response:
        try:
            self.set_media_limits(**(request.json() or {}))
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(self.media_limits())
