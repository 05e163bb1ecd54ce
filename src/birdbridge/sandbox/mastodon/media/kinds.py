"""What Mastodon's media are: the types it takes (MediaAttachment, Paperclip's content-type
check by the bytes), its default limits, the kind a file becomes (image, gifv, video, audio),
and the extension it is stored under."""

from __future__ import annotations

import base64
import struct
from typing import Any

from birdbridge.sandbox.common.images import ftyp_brand, image_type

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
EXTENSIONS = {
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
# A 1x1 PNG: the `small` preview of a video or gifv (Mastodon extracts a frame with ffmpeg).
PREVIEW_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
HEAD_BYTES = 1 << 20  # what sniffing and meta read of a file


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


def kind_of(content_type: str, animated: bool) -> str:
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
