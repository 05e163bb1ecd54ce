"""A video's real properties: from ffprobe when it is installed (any container), else from the
mp4/mov boxes (birdbridge.media.mp4box). None when neither can read the file."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from birdbridge.media.mp4box import read_mp4
from birdbridge.media.rules import VideoProps

ENTRIES = (
    "stream=width,height,avg_frame_rate,r_frame_rate,pix_fmt,sample_aspect_ratio,duration"
    ":format=duration"
)


def probe_video(path: Path, *, use_ffprobe: bool = True, timeout: float = 60) -> VideoProps | None:
    """The first video stream's properties. ``use_ffprobe=False`` reads the boxes only."""
    ffprobe = shutil.which("ffprobe") if use_ffprobe else None
    if ffprobe is not None:
        found = _ffprobe(ffprobe, path, timeout)
        if found is not None:
            return found
    return read_mp4(path)


def _ffprobe(ffprobe: str, path: Path, timeout: float) -> VideoProps | None:
    command = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        ENTRIES,
        "-of",
        "json",
        str(path),
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=True)
        report = json.loads(done.stdout)
    except (subprocess.SubprocessError, OSError, ValueError):
        return None
    streams = report.get("streams") or []
    if not streams or not isinstance(streams[0], dict):
        return None
    stream: dict[str, Any] = streams[0]
    width, height = _int(stream.get("width")), _int(stream.get("height"))
    if not width or not height:
        return None
    duration = _float((report.get("format") or {}).get("duration")) or _float(
        stream.get("duration")
    )
    rate = _fraction(stream.get("avg_frame_rate")) or _fraction(stream.get("r_frame_rate"))
    return VideoProps(
        duration=duration,
        width=width,
        height=height,
        frame_rate=rate,
        pixel_format=stream.get("pix_fmt") or None,
        pixel_aspect=_fraction(str(stream.get("sample_aspect_ratio") or "").replace(":", "/")),
        via="ffprobe",
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _fraction(value: Any) -> float | None:
    """ "30000/1001" -> 29.97; "0/0" and "0:1" (unknown) -> None."""
    try:
        number = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return float(number) if number > 0 else None
