"""X's media endpoints: the one-shot upload, the chunked upload (initialize, append,
finalize), the processing status, alt text (metadata), and the files behind the media URLs.
The request bodies are checked as the newest openapi.json declares them (media/schema.py)."""

from __future__ import annotations

import re
import time
from typing import Any

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.auth import Auth, Gate
from birdbridge.sandbox.x.errors import id_property_error, invalid_request
from birdbridge.sandbox.x.media import schema as media_schema
from birdbridge.sandbox.x.media.kinds import (
    ALT_TEXT_MAX,
    MEDIA_CATEGORIES,
    MEDIA_NOT_FOUND,
    MEDIA_UNRECOGNIZED,
    THUMBNAIL,
    UNSUPPORTED_CATEGORY,
    VIDEO_BIT_RATE,
    post_category,
)
from birdbridge.sandbox.x.media_store import MediaStore
from birdbridge.sandbox.x.records import XMedia


class MediaRoutes(MediaStore, Gate):
    def _register_media_routes(self) -> None:
        upload_id = r"/2/media/upload/(?P<id>[^/]+)"
        self._api_routes(
            ("POST", r"/2/media/upload", "POST /2/media/upload", self._media_upload, True),
            ("GET", r"/2/media/upload", "GET /2/media/upload", self._media_status, True),
            (
                "POST",
                r"/2/media/upload/initialize",
                "POST /2/media/upload/initialize",
                self._media_init,
                True,
            ),
            (
                "POST",
                upload_id + "/append",
                "POST /2/media/upload/:id/append",
                self._media_append,
                True,
            ),
            (
                "POST",
                upload_id + "/finalize",
                "POST /2/media/upload/:id/finalize",
                self._media_finalize,
                True,
            ),
            ("POST", r"/2/media/metadata", "POST /2/media/metadata", self._media_metadata, True),
        )
        self.route("GET", r"/media/(?P<name>[^/]+)", self._media_download)
        self.route("HEAD", r"/media/(?P<name>[^/]+)", self._media_download)

    def _media_upload(self, request: Request, auth: Auth) -> Response:
        """POST /2/media/upload, the one-shot upload (openapi 2.167 `MediaUploadRequest`:
        `media` and `media_category` required, nothing else but `additional_owners`)."""
        fields = media_schema.read_body(request, media_schema.ONE_SHOT)
        if isinstance(fields, tuple):
            return invalid_request(*fields)
        category = fields["media_category"]
        if category not in MEDIA_CATEGORIES:
            return self.error_response(400, UNSUPPORTED_CATEGORY.format(category))
        media = fields["media"]
        assert auth.user is not None
        rec = self._new_media(auth.user.id, category, uploaded=True, total_bytes=len(media))
        self._write_segment(rec, 0, media)
        error = self._finalize(rec)
        if error is not None:
            self._drop_media(rec)  # no media id was handed out
            return error
        return json_response({"data": self._upload_data(rec, time.time())})

    def _media_init(self, request: Request, auth: Auth) -> Response:
        """POST /2/media/upload/initialize (openapi 2.167 `InitializeMediaUploadRequest`: no
        property is required). Without `media_category` the media is "assumed to be media for
        a Post (tweet_image, tweet_video, or tweet_gif), depending on the content type"
        (XD:x-api/media/quickstart/best-practices.mdx, "Media categories")."""
        fields = media_schema.read_body(request, media_schema.INITIALIZE)
        if isinstance(fields, tuple):
            return invalid_request(*fields)
        media_type = fields.get("media_type")
        category = fields.get("media_category") or post_category(media_type)
        if category not in MEDIA_CATEGORIES:
            return self.error_response(400, UNSUPPORTED_CATEGORY.format(category))
        total = fields.get("total_bytes")
        limit = self.media_limits[MEDIA_CATEGORIES[category]]
        if total is not None and total > limit:
            return self.error_response(400, f"File size exceeds {limit} bytes.")
        assert auth.user is not None
        rec = self._new_media(
            auth.user.id, category, uploaded=True, total_bytes=total, media_type=media_type
        )
        data = {
            "id": rec.id,
            "media_key": rec.key,
            "expires_after_secs": int(self.media_ttl),
        }
        return json_response({"data": data})

    def _media_append(self, request: Request, auth: Auth) -> Response:
        """POST /2/media/upload/{id}/append (openapi 2.167 `AppendMediaUploadRequest`)."""
        media_id = request.path_params["id"]
        bad = path_id_error(media_id)
        if bad is not None:
            return bad
        fields = media_schema.read_body(request, media_schema.APPEND)
        if isinstance(fields, tuple):
            return invalid_request(*fields)
        rec = self._owned_media(auth.user, media_id)
        if rec is None or rec.state != "uploading":
            return self.error_response(400, MEDIA_NOT_FOUND)
        self._write_segment(rec, fields["segment_index"], fields["media"])
        return self._append_reply(rec)

    def _append_reply(self, rec: XMedia) -> Response:
        """The v2 reference documents ``{"data": {"expires_at": <epoch s>}}`` (openapi 2.167
        appendMediaUpload 200); the v1.1 APPEND answered an empty 2xx. `media_append_reply`
        "204" or "200" answers with no body, as a client must survive."""
        if self.media_append_reply == "204":
            return Response(204, None)
        if self.media_append_reply == "200":
            return Response(200, b"", {"Content-Type": "application/json; charset=utf-8"})
        return json_response({"data": {"expires_at": int(rec.expires_at)}})

    def _media_finalize(self, request: Request, auth: Auth) -> Response:
        """POST /2/media/upload/{id}/finalize: the operation declares no request body."""
        media_id = request.path_params["id"]
        bad = path_id_error(media_id)
        if bad is not None:
            return bad
        rec = self._owned_media(auth.user, media_id)
        if rec is None:
            return self.error_response(400, MEDIA_NOT_FOUND)
        error = self._finalize(rec)
        if error is not None:
            return error
        if rec.state == "failed":
            return self.error_response(400, MEDIA_UNRECOGNIZED)
        return json_response({"data": self._upload_data(rec, time.time())})

    def _media_status(self, request: Request, auth: Auth) -> Response:
        """GET /2/media/upload: `media_id` required (MediaId), `command` optional, enum
        ["STATUS"] (openapi 2.167 getMediaUploadStatus)."""
        media_id = request.arg("media_id")
        if not media_id:
            return invalid_request(
                "media_id", [], "The `media_id` query parameter can not be empty"
            )
        if not re.fullmatch(r"[0-9]{1,19}", media_id):
            return invalid_request(
                "media_id",
                media_id,
                f"The `media_id` query parameter value [{media_id}] is not valid",
            )
        command = request.arg("command")
        if command is not None and command != "STATUS":
            return invalid_request(
                "command",
                command,
                f"The `command` query parameter value [{command}] is not one of [STATUS]",
            )
        rec = self._owned_media(auth.user, media_id)
        # An image has no processing_info and STATUS answers Not found (xdevplatform/xurl#18)
        if rec is None or rec.state != "processing":
            return self.error_response(400, MEDIA_NOT_FOUND)
        return json_response({"data": self._upload_data(rec, time.time())})

    def _media_metadata(self, request: Request, auth: Auth) -> Response:
        """POST /2/media/metadata (openapi 2.167 `CreateMediaMetadataRequest`: `id` required,
        a string matching ^[0-9]{1,19}$; no additionalProperties rule, so other properties
        pass) answers ``{"data": {"id", "associated_metadata": {"alt_text": {"text"}}}}``."""
        body = request.json()
        if not isinstance(body, dict):
            return self.error_response(400, "Request body is not valid JSON.")
        bad = id_property_error(body, "id", r"[0-9]{1,19}")
        if bad:
            return bad
        media_id = body["id"]
        metadata = body.get("metadata") or {}
        alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
        text = alt.get("text") if isinstance(alt, dict) else None
        if alt is not None and not isinstance(text, str):
            return invalid_request(
                "metadata.alt_text.text",
                [],
                "$.metadata.alt_text.text: is missing but it is required",
            )
        if text is not None and len(text) > ALT_TEXT_MAX:
            return invalid_request(
                "metadata.alt_text.text",
                text,
                f"$.metadata.alt_text.text: may only be {ALT_TEXT_MAX} characters long",
            )
        rec = self._owned_media(auth.user, media_id)
        if rec is None:
            return self.error_response(400, MEDIA_NOT_FOUND)
        associated: dict[str, Any] = {}
        if text is not None:
            rec.alt_text = text
            associated["alt_text"] = {"text": text}
        return json_response({"data": {"id": rec.id, "associated_metadata": associated}})

    def _media_download(self, request: Request) -> Response:
        """The files behind `url` and `variants` (pbs.twimg.com / video.twimg.com: no auth)."""
        name = request.path_params["name"]
        thumb = name.endswith("_thumb.jpg")
        key, _, ext = name.removesuffix("_thumb.jpg").partition(".")
        with self._lock:
            rec = self._media.get(self._media_by_key.get(key, ""))
            ready = rec is not None and self._media_state(rec, time.time()) == "succeeded"
        if rec is None or not ready:
            return Response(404, b"Not Found", {"Content-Type": "text/plain"})
        if thumb:
            return Response(200, THUMBNAIL, {"Content-Type": "image/jpeg"})
        if ext == "m3u8" and rec.type == "video":
            playlist = (
                "#EXTM3U\n"
                f"#EXT-X-STREAM-INF:BANDWIDTH={VIDEO_BIT_RATE},"
                f"RESOLUTION={rec.width}x{rec.height}\n"
                f"{self.url}/media/{key}.mp4\n"
            )
            return Response(200, playlist, {"Content-Type": "application/x-mpegURL"})
        return Response(
            200, rec.path, {"Content-Type": rec.content_type or "application/octet-stream"}
        )


def path_id_error(media_id: str) -> Response | None:
    """The {id} path parameter of append and finalize: ^[0-9]{1,19}$ (openapi 2.167)."""
    if re.fullmatch(r"[0-9]{1,19}", media_id):
        return None
    return invalid_request(
        "id", media_id, f"The `id` query parameter value [{media_id}] is not valid"
    )
