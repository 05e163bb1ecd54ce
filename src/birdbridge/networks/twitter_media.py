"""X media upload through API v2 (tweepy 4.17 has none: api-notes X1, tweepy#2217).

Pictures: the one-shot upload (``POST /2/media/upload``). GIFs and videos: chunked upload
(``initialize`` / ``append`` / ``finalize``) read from disk one chunk at a time, then the
``STATUS`` command until processing succeeds, honouring ``check_after_secs``
(docs.x.com x-api/media/quickstart/media-upload-chunked). Alt text: ``POST /2/media/metadata``.
Every call is signed with OAuth 1.0a on the same session as tweepy's calls.

Each request carries only the properties the newest API reference declares (xdevplatform/docs
openapi.json 2.167: every media request schema says ``additionalProperties: false``), and each
reply is read only for what is used: the media id, ``processing_info`` and
``expires_after_secs``; nothing from APPEND or the alt-text call.

Why the one-shot upload for pictures rather than the chunked flow for every file: a picture
then costs one request instead of three (initialize, append, finalize). X bills and rate-limits
per request (pay-per-use, api-notes X2; promise 7: cheap on X), and the one-shot
operation is declared for ``tweet_image`` in the same reference, so nothing is gained by the
longer flow for a file of at most 5 MB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import requests.auth

from birdbridge.errors import Permanent, Transient
from birdbridge.media.progress import NO_PROGRESS, Progress, tracked
from birdbridge.models import MediaKind
from birdbridge.networks.base import UploadedMedia
from birdbridge.networks.meter import per_endpoint
from birdbridge.networks.replies import check_reply, json_or_none

CHUNK_BYTES = 4 * 1024 * 1024  # each APPEND carries at most this much (X allows 5 MB)
MAX_PROCESSING_SECONDS = 900.0
DEFAULT_TTL = 86400  # expires_after_secs when X does not say


class XMediaUploader:
    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        auth: requests.auth.AuthBase,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.sleep = sleep

    def upload(
        self,
        path: Path,
        mime: str,
        kind: MediaKind,
        alt_text: str,
        progress: Progress = NO_PROGRESS,
    ) -> UploadedMedia:
        label = f"{kind.value} to X"
        if kind is MediaKind.IMAGE and mime != "image/gif":
            data = self._simple(path, mime, progress, label)
        else:
            category = "tweet_gif" if mime == "image/gif" else "tweet_video"
            data = self._chunked(path, mime, category, progress, label)
        media_id = str(data.get("id") or "")
        if not media_id:
            raise Transient("X media upload: reply has no media id", network="twitter")
        if alt_text:
            self._request(
                "POST /2/media/metadata",
                "POST",
                "/2/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
                need_data=False,
            )
        ttl = data.get("expires_after_secs") or DEFAULT_TTL
        return UploadedMedia(
            id=media_id, expires_at=datetime.now(UTC) + timedelta(seconds=int(ttl))
        )

    def _simple(self, path: Path, mime: str, progress: Progress, label: str) -> dict[str, Any]:
        size = path.stat().st_size
        with tracked(progress, "upload", label, size) as moved, path.open("rb") as file:
            data = self._request(
                "POST /2/media/upload",
                "POST",
                "/2/media/upload",
                # MediaUploadRequest: `media` and `media_category` (X sniffs the type from
                # the bytes; `media_type` is not a property of this operation)
                files={"media": (path.name, file, mime)},
                data={"media_category": "tweet_image"},
            )
            # requests builds the whole multipart body in memory before it sends it: the
            # only honest count is "all of it", once X has answered
            moved(size)
            return data

    def _chunked(
        self, path: Path, mime: str, category: str, progress: Progress, label: str
    ) -> dict[str, Any]:
        size = path.stat().st_size
        init = self._request(
            "POST /2/media/upload/initialize",
            "POST",
            "/2/media/upload/initialize",
            json={"media_type": mime, "total_bytes": size, "media_category": category},
        )
        media_id = str(init.get("id") or "")
        if not media_id:
            raise Transient("X media initialize: reply has no media id", network="twitter")
        with tracked(progress, "upload", label, size) as moved, path.open("rb") as file:
            index = 0
            while chunk := file.read(CHUNK_BYTES):
                self._request(
                    "POST /2/media/upload/:id/append",
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    files={"media": ("chunk", chunk, "application/octet-stream")},
                    data={"segment_index": str(index)},
                    need_data=False,  # v2 documents {"data":{"expires_at"}}; v1.1 sent nothing
                )
                index += 1
                moved(file.tell())  # this chunk was accepted
        final = self._request(
            "POST /2/media/upload/:id/finalize", "POST", f"/2/media/upload/{media_id}/finalize"
        )
        return self._wait_for_processing(media_id, final)

    def _wait_for_processing(self, media_id: str, data: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + MAX_PROCESSING_SECONDS
        while True:
            info = data.get("processing_info") or {}
            state = info.get("state")
            if state in (None, "succeeded"):
                return data
            if state == "failed":
                error = info.get("error") or {}
                raise Permanent(
                    f"X refused the media while processing it: "
                    f"{error.get('message') or error or 'failed'}",
                    network="twitter",
                )
            if time.monotonic() > deadline:
                raise Transient("X media processing did not finish in time", network="twitter")
            self.sleep(max(1.0, float(info.get("check_after_secs") or 1)))
            data = self._request(
                "GET /2/media/upload (STATUS)",
                "GET",
                "/2/media/upload",
                params={"command": "STATUS", "media_id": media_id},
            )

    def _request(
        self, what: str, method: str, route: str, *, need_data: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        """The reply's ``data`` object; with ``need_data=False`` any 2xx will do (its body,
        empty or not JSON at all, is not read)."""
        try:
            response = self.session.request(method, self.base_url + route, auth=self.auth, **kwargs)
        except requests.RequestException as exc:
            raise Transient(f"X {what}: {type(exc).__name__}: {exc}", network="twitter") from None
        body = json_or_none(response.text)
        check_reply("twitter", what, response.status_code, response.headers, body, per_endpoint)
        if not need_data:
            return {}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise Transient(f"X {what}: reply has no data object", network="twitter")
        return data
