"""Small media files for the tests: real videos made by ffmpeg (when installed), and mp4, GIF
and PNG structures built here byte by byte, so the box and block readers are tested without
ffmpeg, and decompression bombs cost the test neither memory nor time to make.

The mp4 layout follows ISO/IEC 14496-12 (ftyp, moov/mvhd, trak/tkhd, mdia/mdhd/hdlr,
minf/stbl/stsd(avc1 + avcC [+ pasp])/stts, mdat); the SPS inside avcC carries the profile and,
for the High profiles, chroma_format_idc (ITU-T H.264 7.3.2.1.1).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg on the PATH")


def make_video(
    path: Path,
    *,
    seconds: float = 1.0,
    size: tuple[int, int] = (96, 64),
    fps: float = 10,
    pix_fmt: str = "yuv420p",
    audio: bool = False,
) -> Path:
    """A real H.264 mp4 (lavfi testsrc); call only under ``needs_ffmpeg``."""
    assert FFMPEG is not None
    command = [FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"]
    command.append(f"testsrc=duration={seconds}:size={size[0]}x{size[1]}:rate={fps}")
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        command += ["-c:a", "aac", "-b:a", "32k", "-shortest"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt, str(path)]
    subprocess.run(command, check=True, timeout=120)
    return path


def box(kind: bytes, body: bytes, *, large: bool = False) -> bytes:
    if large:  # a 64-bit size: size field 1, then the size after the type
        return struct.pack(">I4sQ", 1, kind, len(body) + 16) + body
    return struct.pack(">I4s", len(body) + 8, kind) + body


def full_box(kind: bytes, version: int, body: bytes) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + body)


SPS_BASELINE = bytes([0x67, 66, 0xC0, 30, 0xF0])  # profile 66: 4:2:0 implied
# High profiles: ue(0) sps id, ue(chroma_format_idc), [separate_colour_plane_flag if 3],
# ue(bit_depth_luma_minus8)
SPS_HIGH_420 = bytes([0x67, 100, 0x00, 30, 0b1010_1000])  # 4:2:0, 8 bits
SPS_HIGH_444 = bytes([0x67, 244, 0x00, 30, 0b1001_0001])  # 4:4:4, 8 bits
SPS_HIGH10_420 = bytes([0x67, 110, 0x00, 30, 0b1010_0110])  # 4:2:0, ue(2): 10 bits


def mp4_bytes(
    *,
    seconds: float = 1.0,
    size: tuple[int, int] = (96, 64),
    fps: float = 10,
    timescale: int = 90000,
    sps: bytes = SPS_HIGH_420,
    pixel_aspect: tuple[int, int] | None = None,
    version: int = 0,
    moov_last: bool = False,
    large_mdat: bool = False,
    brand: bytes = b"isom",
    mdat_size: int = 256,
) -> bytes:
    """An mp4 (or mov with ``brand=b"qt  "``) whose boxes say these properties; its media
    data is filler, so only a box reader (not a decoder) can make sense of it."""
    width, height = size
    frames = max(1, round(seconds * fps))
    delta = round(timescale / fps)
    duration = round(seconds * timescale)
    ftyp = box(b"ftyp", brand + struct.pack(">I", 512) + brand + b"iso2avc1mp41")
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
        track_times = struct.pack(">QQIIQ", 0, 0, 1, 0, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
        track_times = struct.pack(">IIIII", 0, 0, 1, 0, duration)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = full_box(
        b"mvhd",
        version,
        times + struct.pack(">IH10x", 0x10000, 0x100) + matrix + bytes(24) + struct.pack(">I", 2),
    )
    tkhd = full_box(
        b"tkhd",
        version,
        track_times
        + bytes(8)
        + struct.pack(">HHHH", 0, 0, 0, 0)
        + matrix
        + struct.pack(">II", width << 16, height << 16),
    )
    mdhd = full_box(b"mdhd", version, times + struct.pack(">HH", 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, bytes(4) + b"vide" + bytes(12) + b"VideoHandler\x00")
    avcc = box(
        b"avcC", bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + struct.pack(">H", len(sps)) + sps
    )
    children = avcc + (box(b"pasp", struct.pack(">II", *pixel_aspect)) if pixel_aspect else b"")
    visual = (
        bytes(6)
        + struct.pack(">H", 1)
        + bytes(16)
        + struct.pack(">HH", width, height)
        + struct.pack(">II", 0x480000, 0x480000)
        + bytes(4)
        + struct.pack(">H", 1)
        + bytes(32)
        + struct.pack(">Hh", 0x18, -1)
    )
    stsd = full_box(b"stsd", 0, struct.pack(">I", 1) + box(b"avc1", visual + children))
    stts = full_box(b"stts", 0, struct.pack(">III", 1, frames, delta))
    stbl = box(b"stbl", stsd + stts)
    minf = box(b"minf", full_box(b"vmhd", 0, bytes(8)) + stbl)
    trak = box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + minf))
    moov = box(b"moov", mvhd + trak)
    mdat = box(b"mdat", bytes(range(256)) * (mdat_size // 256 + 1), large=large_mdat)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


def gif_bytes(size: tuple[int, int] = (40, 30), frames: int = 3) -> bytes:
    """A GIF89a whose logical screen is ``size``, with ``frames`` 1x1 images (tiny files
    for any screen size and frame count)."""
    head = b"GIF89a" + struct.pack("<HHBBB", size[0], size[1], 0x80, 0, 0) + b"\xff\xff\xff\0\0\0"
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = b"!\xf9\x04\x00\x0a\x00\x00\x00" + b",\0\0\0\0\x01\0\x01\0\0" + b"\x02\x02\x44\x01\x00"
    return head + loop + frame * frames + b";"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_bomb(size: tuple[int, int], rows_per_block: int = 64) -> bytes:
    """A valid black RGB PNG of ``size`` in a few MB at most: a 20000x20000 one is 1.2 MB
    and decodes to 1.6 GB in Pillow. Made in milliseconds without holding the pixels.

    The IDAT is one zlib stream (RFC 1950/1951) of identical deflate blocks: each block
    compresses ``rows_per_block`` zero rows (filter byte 0, then black pixels) from a fresh
    dictionary, ended by a full flush, so the same bytes can simply be repeated. The Adler-32
    of n zero bytes is (n mod 65521) << 16 | 1: a stays 1, b adds 1 per byte."""
    width, height = size
    row = bytes(1 + 3 * width)

    def deflated(rows: int) -> bytes:
        raw = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the zlib frame is ours
        return raw.compress(row * rows) + raw.flush(zlib.Z_FULL_FLUSH)

    blocks, rest = divmod(height, rows_per_block)
    adler = ((len(row) * height) % 65521) << 16 | 1
    last_block = b"\x03\x00"  # an empty final block with fixed codes
    stream = b"\x78\xda" + deflated(rows_per_block) * blocks + deflated(rest) + last_block
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", stream + struct.pack(">I", adler))
        + _png_chunk(b"IEND", b"")
    )
