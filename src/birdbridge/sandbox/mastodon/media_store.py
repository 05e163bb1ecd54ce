"""Media attachments as the server keeps them: stored under an obfuscated name, with the meta
Mastodon records, REST::MediaAttachmentSerializer's JSON, and which of them a status may
attach (PostStatusService and UpdateStatusService)."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from birdbridge.sandbox.common.media import write_media
from birdbridge.sandbox.mastodon.errors import Invalid
from birdbridge.sandbox.mastodon.media.kinds import (
    EXTENSIONS,
    HEAD_BYTES,
    kind_of,
    sniff_content_type,
)
from birdbridge.sandbox.mastodon.media.meta import blurhash, build_meta, gif_is_animated
from birdbridge.sandbox.mastodon.params import ruby_to_i
from birdbridge.sandbox.mastodon.records import MastodonUser, MediaAttachment, Status
from birdbridge.sandbox.mastodon.state import MastodonState


class MediaStore(MastodonState):
    """The media part of the server's state, and the Python API to it."""

    # -- Python API ------------------------------------------------------------------
    def media(self, id: str | int) -> dict | None:
        """A stored attachment: type, size, description, owner, state, path, ..."""
        with self._lock:
            item = self._media.get(ruby_to_i(id))
            return None if item is None else self._media_info(item)

    def uploads(self) -> list[dict]:
        """Attachments uploaded through the API (``/api/v1/media``, ``/api/v2/media``), oldest
        first: a test can assert that nothing was uploaded twice."""
        with self._lock:
            return [self._media_info(m) for m in self._media.values() if m.source == "api"]

    # -- storage (call with the lock held) ---------------------------------------------
    def _new_media_id(self) -> int:
        """MediaAttachment ids are timestamp ids too (Mastodon::Snowflake)."""
        candidate = max(int(time.time() * 1000) << 16, self._last_media_id + 1)
        self._last_media_id = candidate
        return candidate

    def _write_file(self, media_id: int, ext: str, data: bytes | Path) -> tuple[Path, str]:
        # Paperclip stores under an obfuscated name (Attachmentable#obfuscate_file_name).
        name = f"{secrets.token_hex(8)}.{ext}"
        folder = self.media_dir / str(media_id)
        folder.mkdir(parents=True)
        path = folder / name
        write_media(path, data)  # a large video is copied in chunks, never held in memory
        return path, name

    def _create_media(
        self,
        user: MastodonUser,
        data: bytes | Path,
        head: bytes,
        tail: bytes,
        size: int,
        content_type: str,
        kind: str,
        description: str | None,
        source: str,
        ready_at: float,
    ) -> MediaAttachment:
        media_id = self._new_media_id()
        ext = EXTENSIONS.get(content_type) or re.sub(
            r"[^a-z0-9]", "", content_type.rsplit("/", 1)[-1].lower()
        )
        path, name = self._write_file(media_id, ext or "bin", data)
        item = MediaAttachment(
            id=media_id,
            account_id=user.id,
            type=kind,
            content_type=content_type,
            path=path,
            size=size,
            name=name,
            description=description,
            meta=build_meta(kind, content_type, head, tail),
            blurhash=None if kind == "audio" else blurhash(head[:65536] + name.encode()),
            ready_at=ready_at,
            source=source,
        )
        self._media[media_id] = item
        return item

    def _store_control_media(self, user: MastodonUser, item: dict) -> MediaAttachment:
        """A web-UI or remote attachment: no limits, already processed."""
        data = item.get("data")
        if isinstance(data, bytes | bytearray):
            data = bytes(data)
            size, head, tail = len(data), data[:HEAD_BYTES], data[-HEAD_BYTES:]
            gif_bytes = data
        elif isinstance(data, Path):
            size = data.stat().st_size
            with data.open("rb") as file:
                head = file.read(HEAD_BYTES)
                file.seek(max(0, size - HEAD_BYTES))
                tail = file.read()
            gif_bytes = head
        else:
            raise TypeError("media data must be bytes or a pathlib.Path")
        content_type = item.get("content_type") or sniff_content_type(head)
        animated = content_type == "image/gif" and gif_is_animated(gif_bytes)
        kind = item.get("type") or kind_of(content_type, animated)
        if kind not in ("image", "gifv", "video", "audio", "unknown"):
            raise ValueError(f"unknown media type {kind!r}")
        return self._create_media(
            user,
            data,
            head,
            tail,
            size,
            content_type,
            kind,
            item.get("description"),
            "control",
            time.time(),
        )

    # -- views -------------------------------------------------------------------------
    def _media_info(self, item: MediaAttachment) -> dict[str, Any]:
        owner = self._users.get(item.account_id)
        return {
            "id": str(item.id),
            "type": item.type,
            "content_type": item.content_type,
            "size": item.size,
            "description": item.description,
            "owner": owner.username if owner else None,
            "account_id": item.account_id,
            "state": "complete" if item.processed() else "processing",
            "path": item.path,
            "status_id": str(item.status_id) if item.status_id is not None else None,
            "source": item.source,
            "url": self._media_json(item)["url"],
        }

    def _media_json(self, item: MediaAttachment, pending: bool = False) -> dict[str, Any]:
        """REST::MediaAttachmentSerializer: ``url`` is null until processing is over."""
        base = f"{self.url}/system/media_attachments/files/{item.id}"
        stem = item.name.rsplit(".", 1)[0]
        preview: str | None = None
        if item.type in ("image", "unknown"):
            preview = f"{base}/small/{item.name}"
        elif item.type in ("video", "gifv"):
            preview = f"{base}/small/{stem}.png"
        meta = dict(item.meta)
        if item.focus is not None:
            meta["focus"] = {"x": item.focus[0], "y": item.focus[1]}
        return {
            "id": str(item.id),
            "type": item.type,
            "url": None if pending or not item.processed() else f"{base}/original/{item.name}",
            "preview_url": preview,
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": meta,
            "description": item.description,
            "blurhash": item.blurhash,
        }

    # -- what a status may attach ------------------------------------------------------
    def _description_errors(self, description: str | None) -> list[str]:
        limit = self._media_limits["description_limit"]
        if description is not None and len(description) > limit:
            return [f"Description is too long (maximum is {limit} characters)"]
        return []

    def _attachment_limit(self, media_ids: list[Any], has_poll: bool) -> int:
        """Status::MEDIA_ATTACHMENTS_LIMIT as the instance has it; more ids, or a poll too,
        are refused."""
        limit = self._media_limits["max_media_attachments"]
        if len(media_ids) > limit or has_poll:
            raise Invalid(f"Cannot attach more than {limit} files")
        return int(limit)

    def _validate_media(
        self, user: MastodonUser, media_ids: list[Any], has_poll: bool
    ) -> list[MediaAttachment]:
        """PostStatusService#validate_media! and config/locales/en.yml
        media_attachments.validations (Mastodon::ValidationError -> 422)."""
        if not media_ids:
            return []
        limit = self._attachment_limit(media_ids, has_poll)
        wanted = [ruby_to_i(i) for i in media_ids]
        found: dict[int, MediaAttachment] = {}
        for media_id in wanted[:limit]:
            item = self._media.get(media_id)
            # @account.media_attachments.where(status_id: nil)
            if item is not None and item.account_id == user.id and item.status_id is None:
                found[media_id] = item
        not_found = [i for i in wanted if i not in found]
        if not_found:
            ids = ", ".join(str(i) for i in not_found)
            raise Invalid(f"Media {ids} not found or already attached to another post")
        return _attachable(list(found.values()))  # ordered_media_attachment_ids: as given

    def _edit_media(
        self, user: MastodonUser, status: Status, media_ids: list[Any], has_poll: bool
    ) -> list[MediaAttachment]:
        """UpdateStatusService#validate_media!: the account's unattached media or this
        status' own, in the order given; unknown ids are left out without an error."""
        if not media_ids:
            return []
        limit = self._attachment_limit(media_ids, has_poll)
        media = []
        for media_id in [ruby_to_i(i) for i in media_ids[:limit]]:
            item = self._media.get(media_id)
            if (
                item is not None
                and item.account_id == user.id
                and item.status_id in (None, status.id)
                and item not in media
            ):
                media.append(item)
        return _attachable(media)


def _attachable(media: list[MediaAttachment]) -> list[MediaAttachment]:
    """The attachments of one status: images, or one video or audio; all processed."""
    if len(media) > 1 and any(m.type in ("video", "audio") for m in media):
        raise Invalid("Cannot attach a video to a post that already contains images")
    if any(not m.processed() for m in media):
        raise Invalid(
            "Cannot attach files that have not finished processing. Try again in a moment!"
        )
    return media
