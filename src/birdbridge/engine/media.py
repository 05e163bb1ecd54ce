"""Carrying a post's media to the target: download, fit, upload, with uploads remembered.

Each item either becomes a target media id (kept in the delivery's ``media_state`` at once,
so a retry after a crash or a failed post call reuses it while it is valid) or a fallback
with its reason. Rate limits, revoked tokens and transient failures propagate: the delivery
is retried later and the uploads done so far are kept.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from birdbridge.errors import NetworkError, Permanent
from birdbridge.media.progress import NO_PROGRESS, Progress
from birdbridge.media.rules import VideoProps
from birdbridge.models import Media, MediaKind, Post
from birdbridge.networks.base import MediaLimits, Network
from birdbridge.render.alt import fit_alt_text
from birdbridge.store import Delivery, Store

# Downloading (httpx), pictures (Pillow) and videos are imported by the methods that do them:
# an idle daemon, polling and finding nothing, never loads them (megabytes of its memory).
if TYPE_CHECKING:
    from birdbridge.media.download import Downloaded

log = logging.getLogger(__name__)

MAX_IMAGE_DOWNLOAD = 64 * 1024 * 1024  # pictures can be shrunk: accept big originals
MAX_VIDEO_DOWNLOAD = 1024 * 1024 * 1024
# The whole transfer, not each read (issue 10): a stuck download holds its link (no polls, no
# deliveries) and the daemon's shutdown until then. A picture has no reason to take a minute;
# a video may be a gigabyte.
IMAGE_DOWNLOAD_SECONDS = 60.0
VIDEO_DOWNLOAD_SECONDS = 600.0


class MediaUnfit(Exception):
    """This item cannot be carried; the message says why (it becomes a fallback)."""


@dataclass
class PreparedMedia:
    ids: dict[int, str] = field(default_factory=dict)  # source index -> target media id
    fallbacks: list[tuple[int, str]] = field(default_factory=list)  # source index, reason


class MediaCarrier:
    """Carries media for one link. ``allowed_hosts`` are the hosts downloads may reach even on
    a private address: the link's own API hosts (see :mod:`birdbridge.media.addresses`).
    Downloads and uploads report their bytes to ``progress`` (bars in `birdbridge once`)."""

    def __init__(
        self,
        store: Store,
        workdir: Path,
        *,
        download_timeout: float = 30,
        allowed_hosts: frozenset[str] = frozenset(),
        image_seconds: float = IMAGE_DOWNLOAD_SECONDS,
        video_seconds: float = VIDEO_DOWNLOAD_SECONDS,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.store = store
        self.workdir = workdir
        self.download_timeout = download_timeout
        self.allowed_hosts = allowed_hosts
        self.image_seconds = image_seconds
        self.video_seconds = video_seconds
        self.progress = progress

    def prepare(
        self, delivery: Delivery, post: Post, target: Network, limits: MediaLimits, now: datetime
    ) -> PreparedMedia:
        state: dict[str, Any] = json.loads(delivery.media_state or "{}")
        prepared = PreparedMedia()
        with tempfile.TemporaryDirectory(dir=self.workdir) as folder:
            for index, item in enumerate(post.media):
                saved = state.get(str(index)) or {}
                if "fallback" in saved:
                    prepared.fallbacks.append((index, saved["fallback"]))
                    continue
                if "id" in saved and datetime.fromisoformat(saved["expires_at"]) > now:
                    prepared.ids[index] = saved["id"]  # uploaded by an earlier attempt
                    continue
                state[str(index)] = self._carry_one(
                    item, target, limits, Path(folder), prepared, index
                )
                self.store.save_media_state(delivery.id, json.dumps(state))
        return prepared

    def _carry_one(
        self,
        item: Media,
        target: Network,
        limits: MediaLimits,
        folder: Path,
        prepared: PreparedMedia,
        index: int,
    ) -> dict[str, str]:
        from birdbridge.media.videofit import Unfit

        try:
            uploaded = self._carry(item, target, limits, folder, index)
        except (MediaUnfit, Unfit, Permanent) as exc:
            problem = str(exc)
        except NetworkError:
            raise  # a rate limit, a refused account, a 5xx: the delivery is retried later
        except Exception as exc:
            # Issue 10: Pillow's DecompressionBombError on a crafted picture, or any bug
            # meeting odd bytes, fails again on every retry; the post's text must not wait
            # for the picture. (The adapters raise only NetworkError types by contract.)
            log.exception("%s %d could not be carried", item.kind.value, index + 1)
            problem = f"unexpected {type(exc).__name__}: {exc}"
        else:
            prepared.ids[index] = uploaded.id
            return {"id": uploaded.id, "expires_at": uploaded.expires_at.isoformat()}
        reason = f"{item.kind.value} {index + 1}: {problem}"
        prepared.fallbacks.append((index, reason))
        return {"fallback": reason}

    def _carry(
        self, item: Media, target: Network, limits: MediaLimits, folder: Path, index: int
    ) -> Any:
        from birdbridge.media.videofit import check_announced

        label = target.name.label
        if item.kind not in limits.kinds:
            raise MediaUnfit(f"{label} cannot show {item.kind.value} posts")
        if item.kind in (MediaKind.VIDEO, MediaKind.GIF):
            # What the source says of it (size, length): refused here, nothing is fetched
            announced = VideoProps(
                duration=item.duration,
                width=item.width,
                height=item.height,
                frame_rate=item.frame_rate,
                via="the source post",
            )
            check_announced(announced, limits.video_rules, label)
        file = self._download(item, limits, folder, index)
        path, mime, kind = self._fit(item, file, limits, folder, label)
        alt = fit_alt_text(item.alt_text, limits.alt_text_chars)
        return target.upload_media(path, mime, kind, alt, progress=self.progress)

    def _download(self, item: Media, limits: MediaLimits, folder: Path, index: int) -> Downloaded:
        from birdbridge.media.download import DownloadError, download

        if not item.sources:
            raise MediaUnfit("the source gave no URL to download it from")
        image = item.kind is MediaKind.IMAGE
        cap = MAX_IMAGE_DOWNLOAD if image else self._video_cap(limits)
        problems = []
        for number, source in enumerate(item.sources):
            try:
                return download(
                    source.url,
                    folder / f"{index}-{number}.bin",
                    max_bytes=cap,
                    timeout=self.download_timeout,
                    max_seconds=self.image_seconds if image else self.video_seconds,
                    allowed_hosts=self.allowed_hosts,
                    progress=self.progress,
                    name=f"{item.kind.value} {index + 1}",
                )
            except DownloadError as exc:
                problems.append(str(exc))
        raise MediaUnfit("download failed: " + "; ".join(problems))

    def _video_cap(self, limits: MediaLimits) -> int:
        from birdbridge.media.video import ffmpeg_available

        # With ffmpeg a bigger original can be transcoded down; without it, it cannot.
        limit = max(limits.video_bytes, limits.gif_bytes)
        return min(limit * 4, MAX_VIDEO_DOWNLOAD) if ffmpeg_available() else limit

    def _fit(
        self, item: Media, file: Downloaded, limits: MediaLimits, folder: Path, label: str
    ) -> tuple[Path, str, MediaKind]:
        from birdbridge.media.images import ImageError, fit_image, is_animated

        mime = file.mime
        if mime is None:
            raise MediaUnfit("not a picture, GIF or video format birdbridge knows")
        if mime == "image/gif" and is_animated(file.path):
            return self._fit_gif(file, limits, folder, label)
        if mime.startswith("image/"):
            try:
                path, fitted = fit_image(file.path, mime, limits.image, folder)
            except ImageError as exc:
                raise MediaUnfit(str(exc)) from None
            return path, fitted, MediaKind.IMAGE
        if mime.startswith("video/"):
            kind = MediaKind.GIF if item.kind is MediaKind.GIF else MediaKind.VIDEO
            path, fitted = self._fit_video(file.path, mime, limits, folder, label)
            return path, fitted, kind
        raise MediaUnfit(f"{mime} is not something the target can show")

    def _fit_gif(
        self, file: Downloaded, limits: MediaLimits, folder: Path, label: str
    ) -> tuple[Path, str, MediaKind]:
        """An animated GIF file travels as a GIF when it keeps the target's GIF rules, else
        (with ffmpeg) as an mp4 video, which both networks play as a loop-like clip."""
        from birdbridge.media.video import ffmpeg_available
        from birdbridge.media.videofit import NO_FFMPEG, gif_problems

        problems = gif_problems(file.path, limits.gif_rules, limits.gif_bytes, label)
        if "image/gif" in limits.image.types and not problems:
            return file.path, "image/gif", MediaKind.GIF
        if not ffmpeg_available() or not limits.video_types:
            raise MediaUnfit(f"{'; '.join(problems) or 'GIF not taken'} and {NO_FFMPEG}")
        path, mime = self._fit_video(file.path, "image/gif", limits, folder, label)
        return path, mime, MediaKind.GIF

    @staticmethod
    def _fit_video(
        path: Path, mime: str, limits: MediaLimits, folder: Path, label: str
    ) -> tuple[Path, str]:
        from birdbridge.media.videofit import fit_video_file

        # a GIF that is an mp4 travels as a video on both networks: the video size limit
        return fit_video_file(
            path,
            mime,
            rules=limits.video_rules,
            video_types=limits.video_types,
            max_bytes=limits.video_bytes,
            target=label,
            folder=folder,
        )
