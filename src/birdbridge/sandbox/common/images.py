"""What both sandboxes read of a picture's first bytes: its type by magic numbers, and its
width and height from its header (PNG, GIF, WebP, JPEG).

Written apart from the bridge's own readers (birdbridge.media) on purpose: the sandboxes stand
in for the networks, and a reader shared with the bridge would hide its mistakes from the tests.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# SOFn markers: every C0-CF but DHT (C4), JPG (C8) and DAC (CC) starts a frame header
_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_type(head: bytes) -> str | None:
    """JPEG, PNG, GIF or WebP by the magic numbers ``head`` starts with, else None."""
    for magic, content_type in _IMAGE_MAGIC:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def ftyp_brand(head: bytes) -> bytes | None:
    """The major brand of an ISO base media file (mp4, mov, HEIF, AVIF, ...), else None."""
    return head[8:12] if head[4:8] == b"ftyp" else None


def image_size(source: bytes | Path) -> tuple[int, int] | None:
    """Width and height of a picture, from its first bytes or its file, or None where its
    header does not tell them (not a picture, or cut short)."""
    if isinstance(source, Path):
        with source.open("rb") as file:
            return _size(file)
    return _size(io.BytesIO(source))


def _size(file: BinaryIO) -> tuple[int, int] | None:
    head = file.read(64)
    content_type = image_type(head)
    if content_type == "image/png" and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if content_type == "image/gif" and len(head) >= 10:
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    if content_type == "image/webp" and len(head) >= 30:
        return _webp_size(head)
    if content_type == "image/jpeg":
        return _jpeg_size(file)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        return w, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8 ":
        w = int.from_bytes(head[26:28], "little") & 0x3FFF
        return w, int.from_bytes(head[28:30], "little") & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(file: BinaryIO) -> tuple[int, int] | None:
    """The size in the first frame header, walking the segments after SOI (stray bytes and
    fill bytes between segments passed over, as FastImage does)."""
    file.seek(2)
    while byte := file.read(1):
        if byte != b"\xff":
            continue
        marker = file.read(1)
        while marker == b"\xff":
            marker = file.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            continue  # markers without a segment
        segment = file.read(7)  # length (2 bytes), then a frame's precision, height, width
        if len(segment) < 7:
            return None
        if code in _FRAME_MARKERS:
            return int.from_bytes(segment[5:7], "big"), int.from_bytes(segment[3:5], "big")
        file.seek(int.from_bytes(segment[:2], "big") - len(segment), 1)
    return None
