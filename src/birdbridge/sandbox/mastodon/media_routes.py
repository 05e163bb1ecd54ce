"""The media endpoints: upload (v2 answers 202 while a video or audio file is processed; the
deprecated v1 waits), show and update an attachment before it is attached, and the files
behind ``url`` and ``preview_url``."""

from __future__ import annotations

import time

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.common.images import image_size
from birdbridge.sandbox.mastodon.auth import WRITE_MEDIA, Auth
from birdbridge.sandbox.mastodon.errors import Invalid, validation_failed
from birdbridge.sandbox.mastodon.media.kinds import (
    GIF_MATRIX_LIMIT,
    HEAD_BYTES,
    PREVIEW_PNG,
    human_size,
    kind_of,
    sniff_content_type,
)
from birdbridge.sandbox.mastodon.media.meta import gif_is_animated
from birdbridge.sandbox.mastodon.media_store import MediaStore
from birdbridge.sandbox.mastodon.oauth import unauthorized
from birdbridge.sandbox.mastodon.params import parse_focus, ruby_to_i, upload_fields
from birdbridge.sandbox.mastodon.records import MediaAttachment


class MediaRoutes(MediaStore, Auth):
    def _register_media_routes(self) -> None:
        s = r"(?P<id>[^/]+)"
        self.route("POST", r"/api/v2/media", lambda r: self._upload_media(r, v2=True))
        self.route("POST", r"/api/v1/media", lambda r: self._upload_media(r, v2=False))
        self.route("GET", rf"/api/v1/media/{s}", self._show_media)
        self.route("PUT", rf"/api/v1/media/{s}", self._update_media)
        files = (
            r"/system/media_attachments/files/(?P<id>\d+)/(?P<style>original|small)/(?P<name>[^/]+)"
        )
        self.route("GET", files, self._download_media)
        self.route("HEAD", files, self._download_media)

    def _upload_media(self, request: Request, v2: bool) -> Response:
        """Api::V2::MediaController#create (200, or 202 while a video or audio file is
        processed) and the deprecated Api::V1::MediaController#create (200, synchronous)."""
        user, error = self._viewer(request, True, WRITE_MEDIA)
        if error or user is None:
            return error or unauthorized()
        fields = upload_fields(request)
        file = fields.get("file")
        description = fields.get("description")
        with self._lock:
            if not isinstance(file, bytes) or not file:
                raise Invalid("Validation failed: File can't be blank")
            limits = self._media_limits
            head = file[:HEAD_BYTES]
            content_type = sniff_content_type(head)
            animated = content_type == "image/gif" and gif_is_animated(file)
            kind = kind_of(content_type, animated)
            dims = image_size(head) if content_type.startswith("image/") else None
            if dims:  # Attachmentable#check_image_dimension raises before the validations
                width, height = dims
                if content_type == "image/gif" and width * height > GIF_MATRIX_LIMIT:
                    raise Invalid(f"{width}x{height} GIF files are not supported")
                if width * height > limits["image_matrix_limit"]:
                    raise Invalid(f"{width}x{height} images are not supported")
            errors: list[str] = []
            if content_type not in limits["supported_mime_types"]:
                # validates_attachment_content_type (docs: methods/media, 422)
                errors += ["File content type is invalid", "File is invalid"]
            # validates_attachment_size less_than: IMAGE_LIMIT, or VIDEO_LIMIT if
            # larger_media_format? (a GIF is still an image when it is validated)
            larger = kind in ("video", "audio")
            limit = limits["video_size_limit" if larger else "image_size_limit"]
            if len(file) >= limit:
                errors += [
                    f"File file size must be less than {human_size(limit)}",
                    f"File must be less than {human_size(limit)}",
                ]
            errors += self._description_errors(description)
            if errors:
                raise validation_failed(errors)
            delayed = v2 and larger  # MediaAttachment#delay_processing?
            ready_at = time.time() + (self.media_processing_seconds if delayed else 0.0)
            item = self._create_media(
                user,
                file,
                head,
                file[-HEAD_BYTES:],
                len(file),
                content_type,
                kind,
                description,
                "api",
                ready_at,
            )
            if fields.get("focus"):
                item.focus = parse_focus(fields["focus"])
            return json_response(self._media_json(item, pending=delayed), 202 if delayed else 200)

    def _own_media(self, request: Request) -> tuple[MediaAttachment | None, Response | None]:
        """``current_account.media_attachments.where(status_id: nil).find(params[:id])``."""
        user, error = self._viewer(request, True, WRITE_MEDIA)
        if error or user is None:
            return None, error or unauthorized()
        item = self._media.get(ruby_to_i(request.path_params["id"]))
        if item is None or item.account_id != user.id or item.status_id is not None:
            return None, self.error_response(404, "Record not found")
        return item, None

    def _show_media(self, request: Request) -> Response:
        """Api::V1::MediaController#show: 206 while processing, then 200."""
        with self._lock:
            item, error = self._own_media(request)
            if error or item is None:
                return error  # type: ignore[return-value]
            return json_response(self._media_json(item), 200 if item.processed() else 206)

    def _update_media(self, request: Request) -> Response:
        """Api::V1::MediaController#update: description and focus, before it is attached."""
        fields = upload_fields(request)
        with self._lock:
            item, error = self._own_media(request)
            if error or item is None:
                return error  # type: ignore[return-value]
            if "description" in fields:
                description = fields["description"]
                errors = self._description_errors(description)
                if errors:
                    raise validation_failed(errors)
                item.description = description
            if fields.get("focus"):
                item.focus = parse_focus(fields["focus"]) or item.focus
            return json_response(self._media_json(item), 200 if item.processed() else 206)

    def _download_media(self, request: Request) -> Response:
        """The files behind ``url`` and ``preview_url``, streamed from disk, no token needed."""
        with self._lock:
            item = self._media.get(ruby_to_i(request.path_params["id"]))
        name, style = request.path_params["name"], request.path_params["style"]
        if item is not None and item.processed():
            if name == item.name and (style == "original" or item.type in ("image", "unknown")):
                return Response(200, item.path, {"Content-Type": item.content_type})
            stem = item.name.rsplit(".", 1)[0]
            if style == "small" and item.type in ("video", "gifv") and name == f"{stem}.png":
                return Response(200, PREVIEW_PNG, {"Content-Type": "image/png"})
        return self.error_response(404, "Not Found")
