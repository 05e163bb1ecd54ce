"""Fitting a video, or an animated GIF, to a target's rules before it is uploaded.

The file's real properties are read first (ffprobe, else the mp4 boxes: media/probe.py) and
checked against the target's rules (media/rules.py). A length out of bounds, a frame too small
or an aspect ratio out of bounds is refused at once: ffmpeg could only trim, pad or stretch,
which changes the author's video, so the honest fallback (the post's media_fallback policy)
is better. A frame too large, a frame rate too high, a pixel format or pixel aspect the target
refuses, a container it does not take or a file over its size limit is transcoded when ffmpeg
is installed (and checked again), and refused with the reason when it is not.

``check_announced`` does the same with what the source API says of a video (X's width,
height and duration_ms; Mastodon's meta.original), so a video that cannot be carried is never
downloaded, let alone uploaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

from birdbridge.media.images import ImageError, ImageTooLarge, check_decodable, read_header
from birdbridge.media.probe import probe_video
from birdbridge.media.rules import (
    Breach,
    GifRules,
    VideoFit,
    VideoProps,
    VideoRules,
    fit_video,
    gif_breaches,
    video_breaches,
)
from birdbridge.media.video import ffmpeg_available, transcode_to_mp4

log = logging.getLogger(__name__)
NO_FFMPEG = "ffmpeg is not installed"


class Unfit(Exception):
    """This video or GIF cannot be carried to the target; the message says why."""


def check_announced(props: VideoProps, rules: VideoRules, target: str) -> None:
    """Refuse, before downloading it, a video whose announced properties break the rules
    in a way nothing here can fix (or that only ffmpeg could fix, where it is missing)."""
    breaches = video_breaches(props, rules, target)
    fatal = [b for b in breaches if not b.fixable]
    if fatal:
        raise Unfit(f"{_reasons(fatal)} (as {props.via} says; not downloaded)")
    if breaches and not ffmpeg_available():
        raise Unfit(f"{_reasons(breaches)} and {NO_FFMPEG} (as {props.via} says; not downloaded)")


def fit_video_file(
    path: Path,
    mime: str,
    *,
    rules: VideoRules,
    video_types: frozenset[str],
    max_bytes: int,
    target: str,
    folder: Path,
) -> tuple[Path, str]:
    """The file to upload and its type: ``path`` itself when it keeps every rule, else an
    mp4 transcoded to fit. Raises :class:`Unfit` with the reason."""
    size = path.stat().st_size
    props = probe_video(path)
    breaches = video_breaches(props, rules, target) if props else []
    fatal = [b for b in breaches if not b.fixable]
    if fatal:
        raise Unfit(_reasons(fatal))
    problems = [b.reason for b in breaches]
    if mime not in video_types or size > max_bytes:
        problems.append(
            f"{mime} of {size} bytes does not fit ({sorted(video_types)}, at most "
            f"{max_bytes} bytes)"
        )
    if not problems:
        if props is None:  # neither ffprobe nor the box reader could read it
            log.info("%s: properties unknown; %s will judge the file", path.name, target)
        return path, mime
    if not ffmpeg_available():
        raise Unfit(f"{'; '.join(problems)} and {NO_FFMPEG}")
    converted = transcode_to_mp4(path, folder, fit_video(props, rules) if props else VideoFit())
    if converted is None:
        raise Unfit(f"{'; '.join(problems)} and transcoding failed")
    after = probe_video(converted)
    left = [b.reason for b in video_breaches(after, rules, target)] if after else []
    converted_size = converted.stat().st_size
    if converted_size > max_bytes:
        left.append(f"transcoded video of {converted_size} bytes is over {max_bytes} bytes")
    if left:
        raise Unfit(f"{'; '.join(left)} even after transcoding")
    return converted, "video/mp4"


def gif_problems(path: Path, rules: GifRules, max_bytes: int, target: str) -> list[str]:
    """Why an animated GIF file cannot travel as a GIF (empty: it can). Raises Unfit when it
    is too large to be read or transcoded at all."""
    try:
        # the frames are counted from their headers: none is decoded
        width, height, frames = read_header(
            path, lambda image: (*image.size, int(getattr(image, "n_frames", 1)))
        )
        # ffmpeg decodes every frame whole (4 bytes a pixel): the pictures' budget holds
        check_decodable(width, height)
    except ImageTooLarge as exc:
        raise Unfit(f"animated GIF: {exc}") from None
    except ImageError as exc:
        return [f"unreadable GIF ({exc})"]
    problems = gif_breaches(width, height, frames, rules, target)
    size = path.stat().st_size
    if size > max_bytes:
        problems.append(f"animated GIF of {size} bytes is over the limit ({max_bytes} bytes)")
    return problems


def _reasons(breaches: list[Breach]) -> str:
    return "; ".join(b.reason for b in breaches)
