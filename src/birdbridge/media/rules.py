"""A target's rules for a video's (or an animated GIF's) real properties, and how a video that
breaks them could be made to fit. Pure: no I/O.

Every rule is optional (None: no rule), so a target says only what it knows: X's come from its
media best practices (networks/twitter.py ``X_MEDIA_LIMITS``), Mastodon's from the instance's
``configuration.media_attachments`` (networks/mastodon_limits.py ``media_limits``).

What ffmpeg may fix without changing what the video shows: a frame size over the maximum
(scaled down, aspect kept), a frame rate over the maximum (capped), a pixel format or pixel
aspect the target refuses. What it may not: a length out of bounds (trimming would cut the
author's video, padding would add to it), a frame too small or an aspect ratio out of bounds
(upscaling or letterboxing would change the picture). Those become the honest fallback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FRAME_RATE_SLACK = 0.01  # 60 fps read from stts deltas may come out as 60.0001


# Here, not in media/images.py: the adapters describe their limits at start-up, and an idle
# daemon need not load Pillow (images.py) until a picture arrives.
@dataclass(frozen=True)
class ImageLimits:
    types: frozenset[str]  # MIME types the target accepts for pictures
    max_bytes: int
    max_pixels: int | None = None  # width * height


@dataclass(frozen=True)
class VideoProps:
    """What is known of a video (None: unknown)."""

    duration: float | None = None  # seconds
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    pixel_format: str | None = None  # ffmpeg's name: "yuv420p", "yuv444p", "yuv420p10le"
    pixel_aspect: float | None = None  # sample aspect ratio; 1.0 is square pixels
    via: str = ""  # "ffprobe", "mp4 boxes", "the source"


@dataclass(frozen=True)
class VideoRules:
    min_seconds: float | None = None
    max_seconds: float | None = None
    min_width: int | None = None
    min_height: int | None = None
    max_width: int | None = None
    max_height: int | None = None
    max_pixels: int | None = None  # width * height (Mastodon's video_matrix_limit)
    max_frame_rate: float | None = None
    min_aspect: float | None = None  # width / height
    max_aspect: float | None = None
    pixel_formats: frozenset[str] = frozenset()  # empty: any
    square_pixels: bool = False


@dataclass(frozen=True)
class GifRules:
    """Rules for an animated GIF file (as a GIF, not as a video)."""

    max_width: int | None = None
    max_height: int | None = None
    max_frames: int | None = None
    max_total_pixels: int | None = None  # width * height * frames


@dataclass(frozen=True)
class Breach:
    reason: str  # "video of 150.2 s is over X's 140 s"
    fixable: bool  # ffmpeg can make it fit without changing what it shows


@dataclass(frozen=True)
class VideoFit:
    """What a transcode must do: scale to ``width`` x ``height`` (even numbers), cap the
    frame rate at ``frame_rate``; None: keep."""

    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None


def video_breaches(props: VideoProps, rules: VideoRules, target: str) -> list[Breach]:
    """The rules ``props`` breaks, each with its reason; an unknown property breaks none."""
    out = _duration_breaches(props, rules, target) + _frame_breaches(props, rules, target)
    rate, limit = props.frame_rate, rules.max_frame_rate
    if rate is not None and limit is not None and rate > limit + FRAME_RATE_SLACK:
        out.append(Breach(f"video at {rate:.3g} fps is over {target}'s {limit:g} fps", True))
    if rules.pixel_formats and props.pixel_format and props.pixel_format not in rules.pixel_formats:
        wanted = " or ".join(sorted(rules.pixel_formats))
        out.append(Breach(f"video in {props.pixel_format} is not {target}'s {wanted}", True))
    if rules.square_pixels and props.pixel_aspect and abs(props.pixel_aspect - 1) > 0.001:
        out.append(
            Breach(
                f"video with non-square pixels ({props.pixel_aspect:.3g}:1) is not what "
                f"{target} takes (1:1)",
                True,
            )
        )
    return out


def _duration_breaches(props: VideoProps, rules: VideoRules, target: str) -> list[Breach]:
    seconds = props.duration
    if seconds is None:
        return []
    if rules.max_seconds is not None and seconds > rules.max_seconds:
        return [
            Breach(f"video of {seconds:.1f} s is over {target}'s {rules.max_seconds:g} s", False)
        ]
    if rules.min_seconds is not None and seconds < rules.min_seconds:
        return [
            Breach(f"video of {seconds:.2f} s is under {target}'s {rules.min_seconds:g} s", False)
        ]
    return []


def _frame_breaches(props: VideoProps, rules: VideoRules, target: str) -> list[Breach]:
    width, height = props.width, props.height
    if not width or not height:
        return []
    size = f"{width}x{height}"
    out = []
    if (rules.min_width and width < rules.min_width) or (
        rules.min_height and height < rules.min_height
    ):
        least = f"{rules.min_width or 1}x{rules.min_height or 1}"
        out.append(Breach(f"video of {size} is under {target}'s {least}", False))
    aspect = width / height
    if (rules.min_aspect and aspect < rules.min_aspect - 1e-9) or (
        rules.max_aspect and aspect > rules.max_aspect + 1e-9
    ):
        bounds = f"{_ratio(rules.min_aspect)} to {_ratio(rules.max_aspect)}"
        out.append(Breach(f"video of {size} is outside {target}'s aspect ratios {bounds}", False))
    if (rules.max_width and width > rules.max_width) or (
        rules.max_height and height > rules.max_height
    ):
        most = f"{rules.max_width or width}x{rules.max_height or height}"
        out.append(Breach(f"video of {size} is over {target}'s {most}", True))
    if rules.max_pixels and width * height > rules.max_pixels:
        out.append(
            Breach(
                f"video of {size} ({width * height} pixels) is over {target}'s "
                f"{rules.max_pixels} pixels",
                True,
            )
        )
    return out


def _ratio(value: float | None) -> str:
    if value is None:
        return "any"
    if value >= 1:
        return f"{value:g}:1"
    return f"1:{1 / value:g}"


def fit_video(props: VideoProps, rules: VideoRules) -> VideoFit:
    """The smallest change that brings the fixable properties within ``rules``: the frame
    scaled down (never up) to the largest even size that fits, the frame rate capped."""
    rate = None
    limit = rules.max_frame_rate
    if props.frame_rate and limit and props.frame_rate > limit + FRAME_RATE_SLACK:
        rate = limit
    if not props.width or not props.height:
        return VideoFit(frame_rate=rate)
    width = props.width * (props.pixel_aspect or 1.0)  # square pixels: the shown width
    height = float(props.height)
    scale = 1.0
    if rules.max_width:
        scale = min(scale, rules.max_width / width)
    if rules.max_height:
        scale = min(scale, rules.max_height / height)
    if rules.max_pixels:
        scale = min(scale, math.sqrt(rules.max_pixels / (width * height)))
    return VideoFit(width=_even(width * scale), height=_even(height * scale), frame_rate=rate)


def _even(value: float) -> int:
    """Rounded down to an even number (H.264 4:2:0 needs even sizes), at least 2."""
    return max(2, int(value + 1e-6) // 2 * 2)


def gif_breaches(width: int, height: int, frames: int, rules: GifRules, target: str) -> list[str]:
    out = []
    if (rules.max_width and width > rules.max_width) or (
        rules.max_height and height > rules.max_height
    ):
        out.append(
            f"animated GIF of {width}x{height} is over {target}'s "
            f"{rules.max_width or width}x{rules.max_height or height}"
        )
    if rules.max_frames and frames > rules.max_frames:
        out.append(f"animated GIF of {frames} frames is over {target}'s {rules.max_frames}")
    total = width * height * frames
    if rules.max_total_pixels and total > rules.max_total_pixels:
        out.append(
            f"animated GIF of {total} pixels (width x height x frames) is over {target}'s "
            f"{rules.max_total_pixels}"
        )
    return out
