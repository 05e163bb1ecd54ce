"""Mastodon media upload: ``POST /api/v2/media``, then ``GET /api/v1/media/:id`` until done.

Done over httpx rather than Mastodon.py: httpx streams the file from disk (Mastodon.py builds
the whole multipart body in memory) and we poll with a growing, bounded interval instead of
Mastodon.py's fixed 5-second sleeps. Docs: docs.joinmastodon.org methods/media: 200 when the
file is ready, 202 with ``url: null`` while video/GIF/audio is processed; then 206 while still
processing and 200 when done.

Replies are read as for Mastodon.py's calls (networks/mastodon_replies.py): the reset on our
clock, a 429 scoped to the media throttle (30 uploads per 30 minutes, rack_attack.rb:81-83),
a 403 for a missing ``write:media`` named as such: an account-level refusal, never a reason to
fall back to a link.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from birdbridge.errors import Transient
from birdbridge.media.progress import NO_PROGRESS, CountingFile, Progress, tracked
from birdbridge.networks.base import UploadedMedia
from birdbridge.networks.http import USER_AGENT
from birdbridge.networks.mastodon_replies import error_of, on_our_clock, reply_of
from birdbridge.networks.meter import CallMeter
from birdbridge.networks.replies import json_or_none

if TYPE_CHECKING:
    import httpx

MAX_PROCESSING_SECONDS = 900.0
# Mastodon deletes media never attached to a status after a day (MediaCleanupScheduler);
# reuse an upload for a retry only well inside that.
REUSE_WINDOW = timedelta(hours=6)


class MastodonMediaUploader:
    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float,
        meter: CallMeter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.meter = meter
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        self.timeout = timeout
        self.sleep = sleep

    def upload(
        self, path: Path, mime: str, alt_text: str, progress: Progress = NO_PROGRESS
    ) -> UploadedMedia:
        hooks = {"response": [self._observe]}
        import httpx  # here: an idle daemon never uploads, and httpx is megabytes

        with httpx.Client(timeout=self.timeout, headers=self.headers, event_hooks=hooks) as client:
            body = self._send_file(client, path, mime, alt_text, progress)
            media_id = str(body.get("id") or "")
            if not media_id:
                raise Transient("Mastodon media upload: reply has no id", network="mastodon")
            if not body.get("url"):
                self._wait_for_processing(client, media_id)
        return UploadedMedia(id=media_id, expires_at=datetime.now(UTC) + REUSE_WINDOW)

    def _send_file(
        self, client: httpx.Client, path: Path, mime: str, alt_text: str, progress: Progress
    ) -> dict[str, Any]:
        data = {"description": alt_text} if alt_text else {}
        size = path.stat().st_size
        with (
            tracked(progress, "upload", f"{_kind(mime)} to Mastodon", size) as moved,
            # httpx streams the file as it reads it (64 KiB at a time): its reads are the
            # upload's progress
            CountingFile(str(path), moved) as file,
        ):
            return self._request(
                client,
                "POST /api/v2/media",
                "POST",
                "/api/v2/media",
                files={"file": (path.name, file, mime)},
                data=data,
            )

    def _observe(self, response: httpx.Response) -> None:
        self.meter.observe(
            response.request.method,
            str(response.request.url),
            response.status_code,
            on_our_clock(response.headers, self.meter.clock()),
        )

    def _wait_for_processing(self, client: httpx.Client, media_id: str) -> None:
        deadline = time.monotonic() + MAX_PROCESSING_SECONDS
        delay = 0.25
        while True:
            response = self._send(
                client, "GET /api/v1/media/:id", "GET", f"/api/v1/media/{media_id}"
            )
            if response.status_code == 200:
                return
            if response.status_code != 206:  # 206 Partial Content: still processing
                self._check(response, "GET /api/v1/media/:id")
                return
            if time.monotonic() > deadline:
                raise Transient(
                    "Mastodon media processing did not finish in time", network="mastodon"
                )
            self.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _request(
        self, client: httpx.Client, what: str, method: str, route: str, **kwargs: Any
    ) -> dict[str, Any]:
        response = self._send(client, what, method, route, **kwargs)
        body = self._check(response, what)
        if not isinstance(body, dict):
            raise Transient(f"Mastodon {what}: reply is not a JSON object", network="mastodon")
        return body

    def _send(
        self, client: httpx.Client, what: str, method: str, route: str, **kwargs: Any
    ) -> httpx.Response:
        import httpx

        self.meter.check(what)
        try:
            return client.request(method, self.base_url + route, **kwargs)
        except httpx.HTTPError as exc:
            raise Transient(
                f"Mastodon {what}: {type(exc).__name__}: {exc}", network="mastodon"
            ) from None

    def _check(self, response: httpx.Response, what: str) -> Any:
        reply = reply_of(
            response.status_code, response.headers, lambda: response.text, self.meter.clock()
        )
        error = error_of(what, reply)
        if error is not None:
            raise error
        return json_or_none(response.text)


def _kind(mime: str) -> str:
    """ "image", "video", ... for a progress label (the adapter is not told the kind)."""
    return mime.partition("/")[0] or "file"
