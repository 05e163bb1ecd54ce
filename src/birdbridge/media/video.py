"""Optional video transcoding with ffmpeg (only when ``ffmpeg`` is on the PATH)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def transcode_to_mp4(source: Path, out_dir: Path, timeout: float = 900) -> Path | None:
    """H.264/AAC mp4 that both networks accept, or None without ffmpeg or on failure."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    out = out_dir / f"{source.stem}-transcoded.mp4"
    command = [
        ffmpeg,
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(source),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        # even dimensions, at most 1280 px wide: X's and Mastodon's players accept it
        "-vf",
        "scale='min(1280,iw)':-2",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        str(out),
    ]
    try:
        subprocess.run(command, check=True, timeout=timeout, capture_output=True)
    except (subprocess.SubprocessError, OSError):
        out.unlink(missing_ok=True)
        return None
    return out
