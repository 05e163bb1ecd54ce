"""A video's properties read from its mp4/mov boxes, for machines without ffprobe.

ISO/IEC 14496-12 (and QuickTime, which shares the layout): the movie header ``mvhd`` gives the
duration; the first track whose ``hdlr`` is ``vide`` gives its frame size (``tkhd``, 16.16
fixed point), its frame rate (samples in ``stts`` over their total duration in the ``mdhd``
timescale), its pixel aspect (``pasp``) and, for H.264, its pixel format from the sequence
parameter set in ``avcC`` (ITU-T H.264 7.3.2.1.1: chroma_format_idc and bit_depth_luma).
Only the ``moov`` box is read into memory; ``mdat`` (the media data, possibly gigabytes) is
skipped by seeking, wherever it sits. Anything unreadable gives None, never an exception.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from birdbridge.media.rules import VideoProps

MAX_MOOV = 64 << 20  # a movie box is kilobytes to a few megabytes; more is not a video we read
NESTED = (b"moov", b"trak", b"mdia", b"minf", b"stbl")
# H.264 profiles whose SPS carries chroma_format_idc (7.3.2.1.1); others are 8-bit 4:2:0
CHROMA_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
CHROMA_NAMES = {0: "gray", 1: "yuv420p", 2: "yuv422p", 3: "yuv444p"}


@dataclass
class _Track:
    kind: bytes = b""
    size: tuple[int, int] = (0, 0)
    timescale: int = 0
    length: int = 0  # in timescale units
    deltas: list[tuple[int, int]] = field(default_factory=list)  # (sample count, delta)
    pixel_format: str | None = None
    pixel_aspect: float | None = None


def read_mp4(path: Path) -> VideoProps | None:
    """Duration, frame size, frame rate, pixel format and aspect of an mp4/mov, or None."""
    try:
        with path.open("rb") as file:
            moov = _top_level(file, path.stat().st_size, b"moov")
            if moov is None:
                return None
            duration, tracks = _movie(moov)
    except (OSError, struct.error, IndexError, ValueError):
        return None
    video = next((t for t in tracks if t.kind == b"vide"), None)
    if video is None:
        return None
    if not duration and video.timescale:
        duration = video.length / video.timescale
    samples = sum(count for count, _ in video.deltas)
    ticks = sum(count * delta for count, delta in video.deltas)
    rate = samples * video.timescale / ticks if samples and ticks and video.timescale else None
    width, height = video.size
    return VideoProps(
        duration=duration or None,
        width=width or None,
        height=height or None,
        frame_rate=rate,
        pixel_format=video.pixel_format,
        pixel_aspect=video.pixel_aspect,
        via="mp4 boxes",
    )


def _top_level(file: BinaryIO, size: int, wanted: bytes) -> bytes | None:
    position = 0
    while position + 8 <= size:
        file.seek(position)
        header = file.read(16)
        length, kind = struct.unpack(">I4s", header[:8])
        skip = 8
        if length == 1:  # 64-bit size follows the type
            length, skip = struct.unpack(">Q", header[8:16])[0], 16
        elif length == 0:  # to the end of the file
            length = size - position
        if length < skip:
            return None
        if kind == wanted:
            if length > MAX_MOOV:
                return None
            file.seek(position + skip)
            return file.read(length - skip)
        position += length
    return None


def _children(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        skip = 8
        if length == 1:
            length, skip = struct.unpack_from(">Q", data, position + 8)[0], 16
        elif length == 0:
            length = len(data) - position
        if length < skip or position + length > len(data):
            return
        yield kind, data[position + skip : position + length]
        position += length


def _movie(moov: bytes) -> tuple[float | None, list[_Track]]:
    duration: float | None = None
    tracks: list[_Track] = []

    def visit(data: bytes) -> None:
        nonlocal duration
        for kind, body in _children(data):
            if kind == b"trak":
                tracks.append(_Track())
            if kind in NESTED:
                visit(body)
            elif kind == b"mvhd":
                timescale, length = _times(body)
                duration = length / timescale if timescale else None
            elif tracks:
                _track_detail(tracks[-1], kind, body)

    visit(moov)
    return duration, tracks


def _times(body: bytes) -> tuple[int, int]:
    """(timescale, duration) of a version 0 or 1 mvhd/mdhd."""
    if body[0] == 1:
        timescale, duration = struct.unpack_from(">IQ", body, 20)
    else:
        timescale, duration = struct.unpack_from(">II", body, 12)
    return int(timescale), int(duration)


def _track_detail(track: _Track, kind: bytes, body: bytes) -> None:
    if kind == b"tkhd":
        width, height = struct.unpack(">II", body[-8:])
        track.size = (width >> 16, height >> 16)
    elif kind == b"mdhd":
        track.timescale, track.length = _times(body)
    elif kind == b"hdlr":
        track.kind = body[8:12]
    elif kind == b"stts":
        (entries,) = struct.unpack_from(">I", body, 4)
        track.deltas = [struct.unpack_from(">II", body, 8 + 8 * i) for i in range(entries)]
    elif kind == b"stsd" and track.kind == b"vide":
        entry = next(_children(body[8:]), None)
        if entry is not None:
            _sample_entry(track, entry[1][78:])  # past VisualSampleEntry's fixed fields


def _sample_entry(track: _Track, extensions: bytes) -> None:
    for kind, body in _children(extensions):
        if kind == b"pasp":
            h_spacing, v_spacing = struct.unpack(">II", body[:8])
            track.pixel_aspect = h_spacing / v_spacing if h_spacing and v_spacing else None
        elif kind == b"avcC":
            track.pixel_format = _avc_pixel_format(body)


def _avc_pixel_format(avcc: bytes) -> str | None:
    if len(avcc) < 8 or not avcc[5] & 0x1F:  # no sequence parameter set
        return None
    (length,) = struct.unpack_from(">H", avcc, 6)
    payload = _unescape(avcc[9 : 8 + length])  # past the NAL header byte
    if len(payload) < 4:
        return None
    if payload[0] not in CHROMA_PROFILES:
        return "yuv420p"
    reader = _ExpGolomb(payload[3:])
    try:
        reader.read()  # seq_parameter_set_id
        chroma = reader.read()
        if chroma == 3:
            reader.bits(1)  # separate_colour_plane_flag
        depth = 8 + reader.read()  # bit_depth_luma_minus8
    except ValueError:
        return None
    name = CHROMA_NAMES.get(chroma)
    if name is None:
        return None
    return name if depth == 8 else f"{name}{depth}le"


def _unescape(data: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00), H.264 7.4.1."""
    out = bytearray()
    zeros = 0
    for byte in data:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _ExpGolomb:
    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def bits(self, count: int) -> int:
        if count > self.left:
            raise ValueError("SPS ends early")
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1)

    def read(self) -> int:
        zeros = 0
        while self.bits(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.bits(zeros)
