"""What MediaAttachment#populate_meta records of a file (image geometry, a video's or
audio's duration and size), whether a GIF is animated (GifTranscoder makes it a gifv), and a
plausible BlurHash."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from birdbridge.sandbox.common.images import image_size

_SMALL_PIXELS = 230_400  # MediaAttachment::IMAGE_STYLES[:small], 640x360
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def build_meta(kind: str, content_type: str, head: bytes, tail: bytes) -> dict[str, Any]:
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


def blurhash(seed: bytes) -> str:
    """A plausible 4x4-component BlurHash (36 characters, first one "U"); not a real one."""
    digest = hashlib.sha256(seed).digest() + hashlib.sha256(seed + b"1").digest()
    return "U" + "".join(_BASE83[b % 83] for b in digest[:35])
