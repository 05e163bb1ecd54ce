"""The instance endpoints (Api::V1::InstancesController, Api::V2::InstancesController): what
the server says of itself, its version and ``api_versions``, and its limits as clients read
them (statuses, media attachments, polls)."""

from __future__ import annotations

from typing import Any

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.polls import POLLS_CONFIG
from birdbridge.sandbox.mastodon.state import MastodonState
from birdbridge.sandbox.mastodon.text import URL_PLACEHOLDER_CHARS


class InstanceRoutes(MastodonState):
    def _register_instance_routes(self) -> None:
        self.route("GET", r"/api/v1/instance", self._instance_v1)
        self.route("GET", r"/api/v2/instance", self._instance_v2)

    def _statuses_config(self) -> dict[str, int]:
        return {
            "max_characters": self.max_characters,
            "max_media_attachments": self._media_limits["max_media_attachments"],
            "characters_reserved_per_url": URL_PLACEHOLDER_CHARS,
        }

    def _media_config(self) -> dict[str, Any]:
        """Instance#configuration.media_attachments, from the sandbox's current limits."""
        limits = self._media_limits
        return {
            "supported_mime_types": list(limits["supported_mime_types"]),
            "description_limit": limits["description_limit"],
            "image_size_limit": limits["image_size_limit"],
            "image_matrix_limit": limits["image_matrix_limit"],
            "video_size_limit": limits["video_size_limit"],
            "video_frame_rate_limit": 120,  # MediaAttachment::MAX_VIDEO_FRAME_RATE
            "video_matrix_limit": 8_294_400,  # MediaAttachment::MAX_VIDEO_MATRIX_LIMIT
        }

    def _instance_v1(self, request: Request) -> Response:
        # No token check: Api::V2::InstancesController skips require_authenticated_user! and
        # authorizes nothing (api-notes M3), so even an unknown token is served.
        ws = self._base_url(request).replace("http://", "ws://", 1)
        with self._lock:
            users, statuses = (
                len(self._users),
                sum(1 for s in self._statuses.values() if not s.deleted),
            )
        return json_response(
            {
                "uri": self.domain,
                "title": "Mastodon sandbox",
                "short_description": "A local fake Mastodon server.",
                "description": "A local fake Mastodon server.",
                "email": f"admin@{self.domain}",
                "version": self.version,
                "urls": {"streaming_api": ws},
                "stats": {"user_count": users, "status_count": statuses, "domain_count": 0},
                "thumbnail": None,
                "languages": ["en"],
                "registrations": False,
                "approval_required": False,
                "invites_enabled": False,
                "configuration": {
                    "accounts": {"max_featured_tags": 10},
                    "statuses": self._statuses_config(),
                    "media_attachments": self._media_config(),
                    "polls": POLLS_CONFIG,
                },
                "contact_account": None,
                "rules": [],
            }
        )

    def _instance_v2(self, request: Request) -> Response:
        # No token check: Api::V2::InstancesController skips require_authenticated_user! and
        # authorizes nothing (api-notes M3), so even an unknown token is served.
        ws = self._base_url(request).replace("http://", "ws://", 1)
        api = self.api_version
        return json_response(
            {
                "domain": self.domain,
                "title": "Mastodon sandbox",
                "version": self.version,
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A local fake Mastodon server.",
                "usage": {"users": {"active_month": len(self._users)}},
                "thumbnail": {"url": f"https://{self.domain}/packs/media/images/preview.png"},
                "icon": [],
                "languages": ["en"],
                "configuration": {
                    "urls": {"streaming": ws, "status": None},
                    "vapid": {"public_key": ""},
                    "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                    "statuses": self._statuses_config(),
                    "media_attachments": self._media_config(),
                    "polls": POLLS_CONFIG,
                    "translation": {"enabled": False},
                },
                "registrations": {
                    "enabled": False,
                    "approval_required": False,
                    "message": None,
                    "url": None,
                },
                "contact": {"email": f"admin@{self.domain}", "account": None},
                "rules": [],
                **({"api_versions": {"mastodon": api}} if api is not None else {}),
            }
        )
