"""The Mastodon sandbox's options and what it holds, shared by every part of the server (the
parts are mixins of :class:`MastodonState`; server.py puts them together)."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from birdbridge.sandbox.common import Request, Response, SandboxServer
from birdbridge.sandbox.common.media import MediaFolder
from birdbridge.sandbox.mastodon.errors import error_json
from birdbridge.sandbox.mastodon.media.kinds import DEFAULT_MEDIA_LIMITS
from birdbridge.sandbox.mastodon.oauth import Grant
from birdbridge.sandbox.mastodon.oauth_records import AccessGrant, ClientApp, IssuedToken
from birdbridge.sandbox.mastodon.records import MastodonUser, MediaAttachment, Status
from birdbridge.sandbox.mastodon.throttles import RackAttack, StatusesLimiter
from birdbridge.sandbox.mastodon.versions import api_version_for

KEEP: Any = object()  # "leave it as it is" for an optional argument


class MastodonState(SandboxServer):
    """A Mastodon instance on 127.0.0.1: its options, its stores (guarded by the server's
    lock) and Mastodon's ``{"error": ...}`` body for what the router answers."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        domain: str = "sandbox.example",
        max_characters: int = 500,
        version: str = "4.3.0",
        media_processing_seconds: float = 0.3,
        **media_limits: Any,
    ) -> None:
        super().__init__(host, port)
        self.domain = domain
        self.max_characters = max_characters
        self.version = version
        self.api_version: int | None = api_version_for(version)
        self._poll_ids = itertools.count(1)
        self.media_processing_seconds = media_processing_seconds
        self._media_limits: dict[str, Any] = {
            k: list(v) if isinstance(v, list) else v for k, v in DEFAULT_MEDIA_LIMITS.items()
        }
        self.set_media_limits(**media_limits)
        self._media: dict[int, MediaAttachment] = {}
        self._last_media_id = 0
        self._files = MediaFolder("birdbridge-mastodon-media-")
        self.media_dir = self._files.path
        self._users: dict[str, MastodonUser] = {}  # id -> user
        self._created: dict[str, datetime] = {}
        self._grants: dict[str, Grant] = {}  # access token -> what it may do, for whom
        self._grant_ids = itertools.count(1)
        self._apps: dict[str, ClientApp] = {}  # client_id -> app registered with /api/v1/apps
        self._codes: dict[str, AccessGrant] = {}  # authorization code -> what it grants
        self._issued: dict[str, IssuedToken] = {}  # token -> how /oauth/token issued it
        self._statuses: dict[int, Status] = {}
        self._by_account: dict[str, dict[int, Status]] = {}  # indexes, so pages stay cheap
        self._replies: dict[int, list[Status]] = {}
        self._reblogs: dict[int, list[Status]] = {}
        self._quotes: dict[int, list[Status]] = {}
        self._idempotency: dict[tuple[str, str], tuple[int, float]] = {}
        self._account_ids = itertools.count(1)
        self._last_status_id = 0
        # Rate-limit windows, Date, and new statuses' ids, created_at and edited_at
        self.clock: Callable[[], float] = time.time
        self._rack_attack = RackAttack()
        self._statuses_limit = StatusesLimiter()
        self._register_routes()

    def stop(self) -> None:
        super().stop()
        self._files.remove()

    def now(self) -> float:
        return self.clock()

    # -- options (Python API) ----------------------------------------------------------
    def set_version(self, version: str, api_version: int | None = KEEP) -> None:
        """Report another Mastodon ``version`` (and the ``api_versions.mastodon`` such a
        release has, unless ``api_version`` is given; None drops ``api_versions``)."""
        if not re.search(r"\d", str(version)):
            raise ValueError(f"not a version: {version!r}")
        with self._lock:
            self.version = version
            self.api_version = api_version_for(version) if api_version is KEEP else api_version

    def set_media_limits(self, **limits: Any) -> None:
        """Change the instance's media limits (keys of ``DEFAULT_MEDIA_LIMITS``)."""
        unknown = set(limits) - set(DEFAULT_MEDIA_LIMITS)
        if unknown:
            raise TypeError(f"unknown media limits {sorted(unknown)}")
        with self._lock:
            for key, value in limits.items():
                if key == "supported_mime_types":
                    self._media_limits[key] = [str(v) for v in value]
                else:
                    self._media_limits[key] = int(value)

    def media_limits(self) -> dict[str, Any]:
        with self._lock:
            return {**self._media_limits, "supported_mime_types": self.supported_mime_types}

    @property
    def supported_mime_types(self) -> list[str]:
        return list(self._media_limits["supported_mime_types"])

    # -- lookups (call with the lock held) ---------------------------------------------
    def _find_user(self, username: str) -> MastodonUser | None:
        for user in self._users.values():
            if user.username.lower() == username.lower():
                return user
        return None

    def _require_user(self, username: str) -> MastodonUser:
        user = self._find_user(username)
        if user is None:
            raise KeyError(f"no user {username!r}")
        return user

    def _get_status(self, id: str | int | None) -> Status | None:
        try:
            status = self._statuses.get(int(id))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return None if status is None or status.deleted else status

    def _base_url(self, request: Request) -> str:
        """The server's address as the client reached it (its Host header)."""
        host = request.headers.get("host")
        return f"http://{host}" if host else self.url

    def error_response(self, status: int, message: str) -> Response:
        return error_json(status, message)

    def _register_routes(self) -> None:
        """The API's routes and the control API's (the server that puts the parts together)."""
        raise NotImplementedError
