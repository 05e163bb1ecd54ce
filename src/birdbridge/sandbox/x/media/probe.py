"""What X's media processing learns from an uploaded file: an mp4/mov's duration, frame size,
frame rate, pixel aspect and chroma format, and a GIF's screen size and frame count.

Written apart from the bridge's own reader (birdbridge.media.mp4box) on purpose: the sandbox
stands in for X, and a reader shared by both sides would hide its own mistakes from the tests.
It reads ISO-BMFF boxes (ISO/IEC 14496-12: mvhd, tkhd, mdhd, hdlr, stts, stsd with avcC and
pasp) and the H.264 SPS up to chroma_format_idc (ITU-T H.264 7.3.2.1.1), and walks a GIF's
blocks (GIF89a specification), seeking past media data so a 512 MB file is never read whole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
CHROMA = {0: "4:0:0", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}
MAX_BOX_READ = 64 << 20  # metadata boxes are small; a bigger one is not read into memory


@dataclass
class Movie:
    duration: float | None = None  # seconds (mvhd, else the video track's mdhd)
    width: int | None = None  # the video track's tkhd size
    height: int | None = None
    frame_rate: float | None = None  # samples / (sum of stts deltas / mdhd timescale)
    chroma: str | None = None  # "4:2:0", ... (H.264 only)
    pixel_aspect: tuple[int, int] | None = None  # pasp hSpacing:vSpacing


@dataclass
class _Track:
    handler: bytes = b""
    width: int = 0
    height: int = 0
    timescale: int = 0
    duration: int = 0
    samples: int = 0
    sample_time: int = 0
    chroma: str | None = None
    pixel_aspect: tuple[int, int] | None = None


def read_movie(path: Path) -> Movie | None:
    """The movie's properties, or None when the file is not an mp4/mov with a movie box."""
    try:
        with path.open("rb") as file:
            size = path.stat().st_size
            moov = _find_top(file, size, b"moov")
            if moov is None:
                return None
            tracks: list[_Track] = []
            movie = Movie()
            _walk(moov, movie, tracks)
    except (OSError, struct.error, IndexError, ValueError):
        return None
    video = next((t for t in tracks if t.handler == b"vide"), None)
    if video is None:
        return movie if movie.duration is not None else None
    movie.width, movie.height = video.width or None, video.height or None
    if not movie.duration and video.timescale:
        movie.duration = video.duration / video.timescale
    if video.samples and video.sample_time and video.timescale:
        movie.frame_rate = video.samples / (video.sample_time / video.timescale)
    movie.chroma, movie.pixel_aspect = video.chroma, video.pixel_aspect
    return movie


def _find_top(file: BinaryIO, size: int, wanted: bytes) -> bytes | None:
    offset = 0
    while offset + 8 <= size:
        file.seek(offset)
        length, kind = struct.unpack(">I4s", file.read(8))
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", file.read(8))
            header = 16
        elif length == 0:
            length = size - offset
        if length < header:
            return None
        if kind == wanted:
            if length > MAX_BOX_READ:
                return None
            return file.read(length - header)
        offset += length
    return None


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out, offset = [], 0
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif length == 0:
            length = len(data) - offset
        if length < header or offset + length > len(data):
            break
        out.append((kind, data[offset + header : offset + length]))
        offset += length
    return out


def _walk(data: bytes, movie: Movie, tracks: list[_Track]) -> None:
    for kind, body in _boxes(data):
        if kind == b"trak":
            tracks.append(_Track())
        if kind in CONTAINERS:
            _walk(body, movie, tracks)
        elif kind == b"mvhd":
            version = body[0]
            if version == 1:
                timescale, duration = struct.unpack(">IQ", body[20:32])
            else:
                timescale, duration = struct.unpack(">II", body[12:20])
            movie.duration = duration / timescale if timescale else None
        elif tracks:
            _track_box(kind, body, tracks[-1])


def _track_box(kind: bytes, body: bytes, track: _Track) -> None:
    if kind == b"tkhd":  # width and height are the last 8 bytes, 16.16 fixed point
        width, height = struct.unpack(">II", body[-8:])
        track.width, track.height = width >> 16, height >> 16
    elif kind == b"mdhd":
        if body[0] == 1:
            track.timescale, track.duration = struct.unpack(">IQ", body[20:32])
        else:
            track.timescale, track.duration = struct.unpack(">II", body[12:20])
    elif kind == b"hdlr":
        track.handler = body[8:12]
    elif kind == b"stts":
        (count,) = struct.unpack(">I", body[4:8])
        for n in range(count):
            samples, delta = struct.unpack(">II", body[8 + 8 * n : 16 + 8 * n])
            track.samples += samples
            track.sample_time += samples * delta
    elif kind == b"stsd" and track.handler == b"vide":
        for _, entry in _boxes(body[8:]):
            for child, payload in _boxes(entry[78:]):  # VisualSampleEntry fields: 78 bytes
                if child == b"avcC":
                    track.chroma = _avc_chroma(payload)
                elif child == b"pasp":
                    track.pixel_aspect = struct.unpack(">II", payload[:8])
            break


def _avc_chroma(avcc: bytes) -> str | None:
    if len(avcc) < 8 or avcc[5] & 0x1F == 0:
        return None
    (length,) = struct.unpack(">H", avcc[6:8])
    nal = avcc[8 : 8 + length]
    rbsp = nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention
    if len(rbsp) < 4:
        return None
    profile = rbsp[0]
    if profile not in HIGH_PROFILES:
        return CHROMA[1]  # profiles without chroma_format_idc are 4:2:0
    bits = _Bits(rbsp[3:])
    bits.ue()  # seq_parameter_set_id
    return CHROMA.get(bits.ue())


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def bit(self) -> int:
        byte = self.data[self.pos // 8]
        value = (byte >> (7 - self.pos % 8)) & 1
        self.pos += 1
        return value

    def ue(self) -> int:  # Exp-Golomb, H.264 9.1
        zeros = 0
        while self.bit() == 0:
            zeros += 1
        value = 0
        for _ in range(zeros):
            value = value << 1 | self.bit()
        return (1 << zeros) - 1 + value


def read_gif(path: Path) -> tuple[int, int, int] | None:
    """(width, height, frames): the logical screen and the number of image descriptors."""
    try:
        with path.open("rb") as file:
            head = file.read(13)
            if head[:6] not in (b"GIF87a", b"GIF89a"):
                return None
            width, height, flags = struct.unpack("<HHB", head[6:11])
            if flags & 0x80:
                file.seek(3 << ((flags & 7) + 1), 1)  # global colour table
            frames = 0
            while (marker := file.read(1)) not in (b"", b";"):
                if marker == b"!":
                    file.read(1)  # extension label
                elif marker == b",":
                    frames += 1
                    descriptor = file.read(9)
                    if descriptor[8] & 0x80:
                        file.seek(3 << ((descriptor[8] & 7) + 1), 1)
                    file.read(1)  # LZW minimum code size
                else:
                    return None
                _skip_sub_blocks(file)
            return width, height, frames
    except (OSError, struct.error, IndexError):
        return None


def _skip_sub_blocks(file: BinaryIO) -> None:
    while (size := file.read(1)) and size[0]:
        file.seek(size[0], 1)
