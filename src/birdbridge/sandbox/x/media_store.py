"""X's media as the server keeps them: an upload from INIT to its processing result (segments
on disk, joined at FINALIZE, checked against X's rules), media attached in the app, and the v2
media object."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from birdbridge.sandbox.common import Response
from birdbridge.sandbox.common.images import image_size
from birdbridge.sandbox.common.media import write_media
from birdbridge.sandbox.x.errors import invalid_request
from birdbridge.sandbox.x.media import rules as media_rules
from birdbridge.sandbox.x.media.kinds import (
    EXTENSIONS,
    IMAGE_TYPES,
    KEY_PREFIX,
    MEDIA_CATEGORIES,
    MEDIA_IDS_INVALID,
    MEDIA_UNRECOGNIZED,
    PROCESSING_ERROR,
    SEGMENTS_MISMATCH,
    VIDEO_BIT_RATE,
    VIDEO_TYPES,
    sniff_media_type,
)
from birdbridge.sandbox.x.media.probe import read_movie
from birdbridge.sandbox.x.records import XMedia, XUser
from birdbridge.sandbox.x.state import XState


class MediaStore(XState):
    """The media part of the server's state, and the Python API to it."""

    # -- Python API ------------------------------------------------------------------
    def media(self, media_id_or_key: str) -> dict[str, Any] | None:
        """What the server holds for a media id or media_key (None if unknown)."""
        with self._lock:
            key = str(media_id_or_key)
            rec = self._media.get(key) or self._media.get(self._media_by_key.get(key, ""))
            return self._media_info(rec) if rec else None

    def uploads(self) -> list[dict[str, Any]]:
        """Media created through the upload endpoints (not the control API), oldest first."""
        with self._lock:
            rows = sorted(self._media.values(), key=lambda r: int(r.id))
            return [self._media_info(r) for r in rows if r.uploaded]

    def _media_info(self, rec: XMedia) -> dict[str, Any]:
        return {
            "id": rec.id,
            "media_key": rec.key,
            "type": rec.type,
            "category": rec.category,
            "content_type": rec.content_type,
            "size": rec.size,
            "alt_text": rec.alt_text,
            "state": self._media_state(rec, time.time()),
            "owner": rec.owner,
            "path": rec.path,
            "uploaded": rec.uploaded,
            "width": rec.width,
            "height": rec.height,
            "expires_at": rec.expires_at,
        }

    # -- storage (call with the lock held) ---------------------------------------------
    def _new_media(
        self,
        owner_id: str,
        category: str,
        *,
        uploaded: bool,
        total_bytes: int | None = None,
        media_type: str | None = None,
    ) -> XMedia:
        self._last_media_id = max(self._last_media_id + 1, int(self._new_tweet_id()))
        media_id = str(self._last_media_id)
        family = MEDIA_CATEGORIES[category]
        kind = {"tweet_image": "photo", "tweet_gif": "animated_gif", "tweet_video": "video"}[family]
        prefix = "13" if category == "amplify_video" else KEY_PREFIX[kind]
        rec = XMedia(
            id=media_id,
            key=f"{prefix}_{media_id}",
            owner=owner_id,
            category=category,
            family=family,
            type=kind,
            declared_type=media_type,
            path=self._media_dir.path / media_id,
            expires_at=time.time() + self.media_ttl,
            uploaded=uploaded,
            total_bytes=total_bytes,
        )
        self._media[media_id] = rec
        self._media_by_key[rec.key] = media_id
        return rec

    def _drop_media(self, rec: XMedia) -> None:
        for index in rec.segments:
            self._part_path(rec, index).unlink(missing_ok=True)
        rec.path.unlink(missing_ok=True)
        self._media.pop(rec.id, None)
        self._media_by_key.pop(rec.key, None)

    def _part_path(self, rec: XMedia, index: int) -> Path:
        return self._media_dir.path / f"{rec.id}.part{index}"

    def _write_segment(self, rec: XMedia, index: int, data: bytes) -> None:
        # One file per segment: a retried APPEND of the same segment replaces it, as X allows
        # ("Failed chunks can be retried individually", XD:…/media-upload-chunked.mdx).
        self._part_path(rec, index).write_bytes(data)
        rec.segments[index] = len(data)

    def _finalize(self, rec: XMedia) -> Response | None:
        """Join the segments on disk, check size and type; an error Response or None."""
        if rec.state != "uploading":
            return None  # finalized before: answer with the current state
        size = sum(rec.segments.values())
        if rec.total_bytes is not None and size != rec.total_bytes:
            return self.error_response(400, SEGMENTS_MISMATCH)
        limit = self.media_limits[rec.family]
        if size > limit:
            return self.error_response(400, f"File size exceeds {limit} bytes.")
        with rec.path.open("wb") as out:
            for index in sorted(rec.segments):
                part = self._part_path(rec, index)
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                part.unlink()
        rec.segments = {}
        with rec.path.open("rb") as file:
            sniffed = sniff_media_type(file.read(32))
        rec.size = size
        rec.content_type = sniffed or rec.declared_type or "application/octet-stream"
        rec.finalized_at = time.time()
        if rec.family == "tweet_image":
            if sniffed not in IMAGE_TYPES:
                rec.state, rec.valid = "failed", False
                return self.error_response(400, MEDIA_UNRECOGNIZED)
            rec.state = "succeeded"
            rec.width, rec.height = image_size(rec.path) or (None, None)
            return None
        # GIFs and videos are transcoded asynchronously: pending -> in_progress -> result.
        # The category must match the file (tweet_gif: a GIF; tweet_video: an mp4/mov), and
        # the file's real properties must keep X's rules (media/rules.py, best-practices.mdx).
        rec.state = "processing"
        rec.processing_seconds = float(self.media_processing_seconds)
        expected = ("image/gif",) if rec.family == "tweet_gif" else VIDEO_TYPES
        if sniffed not in expected:
            rec.valid, rec.error = False, dict(PROCESSING_ERROR)
            return None
        check = media_rules.gif_error if sniffed == "image/gif" else media_rules.video_error
        error, learnt = check(rec.path)
        for name, value in learnt.items():  # width, height, duration_ms
            setattr(rec, name, value)
        rec.valid, rec.error = error is None, error
        return None

    def _media_state(self, rec: XMedia, now: float) -> str:
        if rec.state != "processing":
            return rec.state
        elapsed, total = now - rec.finalized_at, rec.processing_seconds
        if elapsed >= total:
            return "succeeded" if rec.valid else "failed"
        return "pending" if elapsed < total / 2 else "in_progress"

    def _processing_info(self, rec: XMedia, now: float) -> dict[str, Any]:
        state = self._media_state(rec, now)
        info: dict[str, Any] = {"state": state}
        elapsed, total = now - rec.finalized_at, rec.processing_seconds
        if state in ("pending", "in_progress"):
            # X reports whole seconds, at least 1 (XD:…/media-upload-chunked.mdx example)
            info["check_after_secs"] = max(1, math.ceil(total - elapsed))
            if state == "in_progress":
                info["progress_percent"] = min(99, int(100 * elapsed / total))
        elif state == "succeeded":
            info["progress_percent"] = 100
        else:  # the v1.1 STATUS reference's failed example, or a rule the file breaks
            info["progress_percent"] = 100 if (rec.error or {}).get("code") == 3 else 99
            info["error"] = dict(rec.error or PROCESSING_ERROR)
        return info

    def _upload_data(self, rec: XMedia, now: float) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": rec.id,
            "media_key": rec.key,
            "size": rec.size,
            "expires_after_secs": max(0, round(rec.expires_at - now)),
        }
        if rec.state == "processing":
            data["processing_info"] = self._processing_info(rec, now)
            if data["processing_info"]["state"] == "succeeded" and rec.type == "video":
                data["video"] = {"video_type": rec.content_type}
        elif rec.type == "photo":
            data["image"] = {
                "image_type": rec.content_type,
                "w": rec.width,
                "h": rec.height,
            }
        return data

    def _owned_media(self, user: XUser | None, media_id: Any) -> XMedia | None:
        """The caller's own media, unexpired."""
        rec = self._media.get(str(media_id or ""))
        if rec is None or user is None or rec.owner != user.id:
            return None
        return rec if time.time() < rec.expires_at else None

    def _store_control_media(self, author: XUser, item: dict[str, Any]) -> XMedia:
        """Media attached in the app: copied into the store, no limits, ready at once."""
        kind = item.get("type", "photo")
        categories = {"photo": "tweet_image", "animated_gif": "tweet_gif", "video": "tweet_video"}
        if kind not in categories:
            raise ValueError(f"media type must be one of {sorted(categories)}, not {kind!r}")
        rec = self._new_media(author.id, categories[kind], uploaded=False)
        write_media(rec.path, item["data"])
        with rec.path.open("rb") as file:
            sniffed = sniff_media_type(file.read(32))
        default_type = {"photo": "image/jpeg", "animated_gif": "image/gif", "video": "video/mp4"}
        content_type = item.get("content_type") or sniffed or default_type[kind]
        width, height, duration_ms = None, None, None
        if content_type in IMAGE_TYPES:
            width, height = image_size(rec.path) or (None, None)
        elif kind != "photo":  # the file's own size and length; made-up ones if unreadable
            movie = read_movie(rec.path)
            width = movie.width if movie and movie.width else 1280
            height = movie.height if movie and movie.height else 720
            if kind == "video":
                duration_ms = round(movie.duration * 1000) if movie and movie.duration else 10000
        rec.content_type = content_type
        rec.size = rec.total_bytes = rec.path.stat().st_size
        rec.state, rec.finalized_at = "succeeded", time.time()
        rec.alt_text = item.get("alt_text")
        rec.width = item.get("width") or width
        rec.height = item.get("height") or height
        rec.duration_ms = item.get("duration_ms") or duration_ms
        return rec

    # -- the API's view ---------------------------------------------------------------
    def _render_media(self, rec: XMedia, fields: set[str]) -> dict[str, Any]:
        """The v2 media object: media_key and type always, the rest per ``media.fields``."""
        out: dict[str, Any] = {"media_key": rec.key, "type": rec.type}
        base = f"{self.url}/media/{rec.key}"
        moving = rec.type != "photo"
        if "url" in fields and not moving:  # pbs.twimg.com/media/<id>.jpg on real X
            out["url"] = f"{base}.{EXTENSIONS.get(rec.content_type or '', 'jpg')}"
        if "preview_image_url" in fields and moving:
            out["preview_image_url"] = f"{base}_thumb.jpg"
        if "variants" in fields and moving:
            if rec.type == "video":  # several mp4 bit rates plus HLS, as video.twimg.com
                out["variants"] = [
                    {"bit_rate": VIDEO_BIT_RATE, "content_type": "video/mp4", "url": f"{base}.mp4"},
                    {"content_type": "application/x-mpegURL", "url": f"{base}.m3u8"},
                    {"bit_rate": 256000, "content_type": "video/mp4", "url": f"{base}.mp4?low"},
                ]
            else:  # an animated GIF is served as one silent mp4 with bit_rate 0
                out["variants"] = [
                    {"bit_rate": 0, "content_type": "video/mp4", "url": f"{base}.mp4"}
                ]
        if "width" in fields and rec.width:
            out["width"] = rec.width
        if "height" in fields and rec.height:
            out["height"] = rec.height
        if "duration_ms" in fields and rec.type == "video" and rec.duration_ms:
            out["duration_ms"] = rec.duration_ms
        if "alt_text" in fields and rec.alt_text:
            out["alt_text"] = rec.alt_text
        return out

    def _check_media_ids(self, author: XUser, media: Any) -> Response | None:
        """POST /2/tweets `media`: schema errors in the networknt style X uses
        (plhery/node-twitter-api-v2#539), anything else "Your media IDs are invalid."."""
        ids = media.get("media_ids") if isinstance(media, dict) else None
        param = "media.media_ids"
        if ids is None:
            return invalid_request(param, [], "$.media.media_ids: is missing but it is required")
        if not isinstance(ids, list):
            return invalid_request(param, ids, "$.media.media_ids: string found, array expected")
        if not ids:
            return invalid_request(
                param, [], "$.media.media_ids: there must be a minimum of 1 items in the array"
            )
        if len(ids) > 4:
            return invalid_request(
                param, ids, "$.media.media_ids: there must be a maximum of 4 items in the array"
            )
        now = time.time()
        kinds = []
        for media_id in ids:
            rec = self._media.get(str(media_id))
            if (
                rec is None
                or rec.owner != author.id
                or now >= rec.expires_at
                or self._media_state(rec, now) != "succeeded"
                or rec.category.startswith("dm_")
            ):
                return invalid_request(param, ids, MEDIA_IDS_INVALID)
            kinds.append(rec.type)
        # up to 4 photos, or exactly 1 animated GIF or 1 video (XD:…/best-practices.mdx)
        if len(kinds) > 1 and any(k != "photo" for k in kinds):
            return invalid_request(param, ids, MEDIA_IDS_INVALID)
        return None
