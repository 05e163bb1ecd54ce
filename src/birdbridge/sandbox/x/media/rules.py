"""X's rules for a video or an animated GIF, applied to the real file when processing it.

Source of the limits: XD:x-api/media/quickstart/best-practices.mdx (xdevplatform/docs, last
change 5c7cc744, 2026-06-01), "Video specifications and recommendations", Advanced: frame rate
60 FPS or less; dimensions between 32x32 and 1280x1024; duration between 0.5 and 140 seconds;
aspect ratio between 1:3 and 3:1; pixel aspect ratio 1:1; only YUV 4:2:0. "Animated GIF
recommendations": resolution <= 1280x1080, frames <= 350, width * height * frames <= 300
million (the page says such a GIF "may fail"; the sandbox fails it at processing, as it does a
video). The same page's "Recommended" portrait 720x1280 breaks the Advanced 1280x1024 read
literally (width <= 1280, height <= 1024); the sandbox reads it literally, the stricter way.

The failure is X's processing error: ``processing_info`` ``{"state": "failed", "error":
{"code": 3, "name": "UnsupportedMedia", "message": ...}}``. Only the duration wording was
found as X sends it (plhery/node-twitter-api-v2#243: "Duration 2.minutes+29.seconds+350.
milliseconds exceeds max duration of 2.minutes+20.seconds", com.twitter.util.Duration's
format); "file is currently unsupported" is X's for a file it will not take
(mironal/TwitterAPIKit#96). The other messages are PLAUSIBLE, modelled on those two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from birdbridge.sandbox.x.media.probe import read_gif, read_movie

MIN_SECONDS, MAX_SECONDS = 0.5, 140.0
MIN_SIZE = (32, 32)
MAX_SIZE = (1280, 1024)
MAX_FRAME_RATE = 60.0
MIN_ASPECT, MAX_ASPECT = 1 / 3, 3.0
GIF_MAX_SIZE = (1280, 1080)
GIF_MAX_FRAMES = 350
GIF_MAX_PIXELS = 300_000_000

UNSUPPORTED = "file is currently unsupported"  # mironal/TwitterAPIKit#96


def unsupported(message: str) -> dict[str, Any]:
    return {"code": 3, "name": "UnsupportedMedia", "message": message}


def scala_duration(seconds: float) -> str:
    """com.twitter.util.Duration#toString: "2.minutes+29.seconds+350.milliseconds"."""
    millis = round(seconds * 1000)
    parts = []
    for unit, size in (("minutes", 60_000), ("seconds", 1000), ("milliseconds", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}.{unit}")
    return "+".join(parts) or "0.seconds"


def video_error(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(processing error or None, what was learnt: width, height, duration_ms)."""
    movie = read_movie(path)
    if movie is None or movie.width is None or movie.height is None or not movie.duration:
        return unsupported(UNSUPPORTED), {}
    width, height, seconds = movie.width, movie.height, movie.duration
    learnt = {"width": width, "height": height, "duration_ms": round(seconds * 1000)}
    problem: str | None = None
    if seconds > MAX_SECONDS:
        problem = (
            f"Duration {scala_duration(seconds)} exceeds max duration of "
            f"{scala_duration(MAX_SECONDS)}"
        )
    elif seconds < MIN_SECONDS:
        problem = (
            f"Duration {scala_duration(seconds)} is less than min duration of "
            f"{scala_duration(MIN_SECONDS)}"
        )
    elif not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        problem = (
            f"Unsupported video dimensions {width}x{height}: must be between "
            f"{MIN_SIZE[0]}x{MIN_SIZE[1]} and {MAX_SIZE[0]}x{MAX_SIZE[1]}"
        )
    elif not MIN_ASPECT <= width / height <= MAX_ASPECT:
        problem = f"Unsupported aspect ratio {width}:{height}: must be between 1:3 and 3:1"
    elif movie.frame_rate is not None and movie.frame_rate > MAX_FRAME_RATE + 0.01:
        problem = f"Frame rate {movie.frame_rate:.2f} exceeds max frame rate of {MAX_FRAME_RATE:g}"
    elif movie.pixel_aspect is not None and movie.pixel_aspect[0] != movie.pixel_aspect[1]:
        h, v = movie.pixel_aspect
        problem = f"Unsupported pixel aspect ratio {h}:{v}: must be 1:1"
    elif movie.chroma is not None and movie.chroma != "4:2:0":
        problem = f"Unsupported pixel format yuv{movie.chroma.replace(':', '')}p: only YUV 4:2:0"
    return (unsupported(problem) if problem else None), learnt


def gif_error(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    gif = read_gif(path)
    if gif is None:
        return unsupported(UNSUPPORTED), {}
    width, height, frames = gif
    learnt = {"width": width, "height": height}
    problem: str | None = None
    if width > GIF_MAX_SIZE[0] or height > GIF_MAX_SIZE[1]:
        problem = (
            f"GIF dimensions {width}x{height} exceed max dimensions of "
            f"{GIF_MAX_SIZE[0]}x{GIF_MAX_SIZE[1]}"
        )
    elif frames > GIF_MAX_FRAMES:
        problem = f"GIF has {frames} frames, more than the max of {GIF_MAX_FRAMES}"
    elif width * height * frames > GIF_MAX_PIXELS:
        problem = (
            f"GIF has {width * height * frames} pixels (width * height * frames), more than "
            f"the max of {GIF_MAX_PIXELS}"
        )
    return (unsupported(problem) if problem else None), learnt
