"""Optional video transcoding with ffmpeg (only when ``ffmpeg`` is on the PATH)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from birdbridge.media.rules import VideoFit


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def transcode_to_mp4(
    source: Path, out_dir: Path, fit: VideoFit | None = None, timeout: float = 900
) -> Path | None:
    """An H.264/AAC mp4 both networks accept, scaled and frame-rate-capped as ``fit`` says;
    None without ffmpeg or on failure.

    Always: 8-bit 4:2:0 (X: "Only YUV 4:2:0 is supported"), square pixels (X: pixel aspect
    ratio 1:1), even frame sizes, AAC-LC audio in at most two channels (X: "AAC with Low
    Complexity profile", "mono or stereo"), x264's closed GOPs with keyframes at most 250
    frames apart (X refuses a GOP over 512 frames: nununoisy/spc-presenter-rs#3) and the index
    first (+faststart) (docs.x.com x-api/media/quickstart/best-practices, "Advanced")."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    fit = fit or VideoFit()
    out = out_dir / f"{source.stem}-transcoded.mp4"
    if fit.width and fit.height:
        filters = [f"scale={fit.width}:{fit.height}"]
    else:
        filters = ["scale=trunc(iw/2)*2:trunc(ih/2)*2"]
    filters.append("setsar=1")
    if fit.frame_rate:
        filters.append(f"fps={fit.frame_rate:g}")
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
        "-vf",
        ",".join(filters),
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ac",
        "2",
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
