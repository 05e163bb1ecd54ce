"""What a test (or someone trying the demo) does as Mastodon's users would in the web UI, and
as an admin would: accounts and tokens, posts without the API's limits, edits, deletions, the
version, rate limits, media limits; from Python and over HTTP under ``/_sandbox/``."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.auth import Auth
from birdbridge.sandbox.mastodon.edits import Edits
from birdbridge.sandbox.mastodon.errors import Invalid
from birdbridge.sandbox.mastodon.limits import RateLimits
from birdbridge.sandbox.mastodon.oauth import DEFAULT_SCOPES, checked_scopes
from birdbridge.sandbox.mastodon.params import ruby_strip, truthy
from birdbridge.sandbox.mastodon.polls import new_poll
from birdbridge.sandbox.mastodon.records import VISIBILITIES, MastodonUser, Status
from birdbridge.sandbox.mastodon.serializers import Serializers
from birdbridge.sandbox.mastodon.state import KEEP


class ControlRoutes(Serializers, Edits, RateLimits, Auth):
    def _register_control_routes(self) -> None:
        self.route("POST", r"/_sandbox/users", self._control_users)
        self.route("POST", r"/_sandbox/tokens", self._control_tokens)
        self.route("POST", r"/_sandbox/posts", self._control_create_post)
        self.route("GET", r"/_sandbox/posts", self._control_posts)
        self.route("DELETE", r"/_sandbox/posts/(?P<id>[^/]+)", self._control_delete_post)
        self.route("POST", r"/_sandbox/posts/(?P<id>[^/]+)/edit", self._control_edit_post)
        self.route("POST", r"/_sandbox/version", self._control_version)
        self.route("GET", r"/_sandbox/version", self._control_version)
        self.route("POST", r"/_sandbox/rate_limit", self._control_rate_limit)
        self.route("GET", r"/_sandbox/media/(?P<id>[^/]+)", self._control_media)
        self.route("GET", r"/_sandbox/uploads", self._control_uploads)
        self.route("POST", r"/_sandbox/media_limits", self._control_media_limits)

    def create_user(
        self,
        username: str,
        display_name: str | None = None,
        locked: bool = False,
        scopes: str | list[str] | tuple[str, ...] = DEFAULT_SCOPES,
    ) -> MastodonUser:
        """A local account and an access token with ``scopes`` (its application's)."""
        granted = checked_scopes(scopes)
        with self._lock:
            if self._find_user(username) is not None:
                raise ValueError(f"username {username!r} is taken")
            user = MastodonUser(
                id=str(next(self._account_ids)),
                username=username,
                acct=username,
                display_name=display_name if display_name is not None else username,
                locked=locked,
                access_token=secrets.token_urlsafe(32),
                scopes=granted,
            )
            self._users[user.id] = user
            self._created[user.id] = datetime.now(UTC)
            self._grant(user.id, user.access_token, granted, "birdbridge")
            return user

    def create_post(
        self,
        username: str,
        text: str,
        *,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        spoiler_text: str = "",
        reblog_of: str | None = None,
        created_at: datetime | None = None,
        media: list[dict] | None = None,
        sensitive: bool = False,
        poll: dict | None = None,
        quote_of: str | None = None,
    ) -> dict:
        """Post as if from the web UI: no length, media or rate limit, no idempotency.

        ``media`` items are ``{"type": "image"|"gifv"|"video"|"audio", "data": bytes or
        Path (copied in chunks), "content_type": str (sniffed when missing), "description":
        str | None}``; they are stored already processed.

        ``poll`` is ``{"options": [str, ...], "expires_in": seconds (default 86400),
        "multiple": bool, "hide_totals": bool}``, not checked against the instance's limits.
        ``reblog_of`` boosts that status (a boost of a boost boosts the original, a second
        boost returns the first, as ReblogService does). ``quote_of`` quotes that status
        (accepted at once; quoting a boost quotes the original); it needs a 4.5 sandbox.
        """
        with self._lock:
            user = self._require_user(username)
            if visibility not in VISIBILITIES:
                raise ValueError(f"visibility must be one of {VISIBILITIES}")
            if reblog_of is not None:
                original = self._proper(self._known_status(reblog_of))
                existing = self._own_reblog(user.id, original.id)
                if existing is not None:
                    return self._status_json(existing, user.id)
                status = self._new_status(user, "", "", False, visibility, None, created_at, "Web")
                status.reblog_of_id = original.id
            else:
                thread = self._known_status(in_reply_to_id) if in_reply_to_id else None
                quoted, visibility = self._control_quote(quote_of, visibility)
                status = self._build(
                    user,
                    text,
                    spoiler_text,
                    sensitive,
                    visibility,
                    "en",
                    thread,
                    created_at,
                    "Web",
                    quoted=quoted,
                )
                if not status.text and not media and quoted is None:
                    raise ValueError("a post needs text, media or a quote")
                self._control_attach(status, user, poll, media)
            self._store(status)
            return self._status_json(status, user.id)

    def _known_status(self, id: str | int) -> Status:
        status = self._get_status(id)
        if status is None:
            raise KeyError(f"no status {id}")
        return status

    def _control_quote(self, quote_of: str | None, visibility: str) -> tuple[Status | None, str]:
        """The status a post made in the web UI quotes, and the visibility the post gets."""
        if quote_of is None:
            return None, visibility
        if not self._quotes_enabled():
            raise ValueError(
                f"quote posts need Mastodon 4.5 (this sandbox is {self.version}); "
                "call set_version('4.5.0')"
            )
        quoted = self._proper(self._known_status(quote_of))
        if quoted.visibility == "direct":
            raise ValueError("a private mention cannot be quoted")
        if quoted.visibility == "private" and visibility in ("public", "unlisted"):
            visibility = "private"  # PostStatusService#preprocess_attributes!
        return quoted, visibility

    def _control_attach(
        self, status: Status, user: MastodonUser, poll: dict | None, media: list[dict] | None
    ) -> None:
        """A web-UI post's poll and attachments (stored already processed)."""
        if poll is not None:
            data = {"expires_in": 86400, **poll}
            status.poll = new_poll(data, next(self._poll_ids), status.created_at)
            if len(status.poll.options) < 2:
                raise ValueError("a poll needs at least two options")
        for item in media or []:
            stored = self._store_control_media(user, item)
            stored.status_id = status.id
            status.media_ids.append(stored.id)

    def edit_post(
        self,
        id: str,
        text: str,
        spoiler_text: str | None = None,
        sensitive: bool | None = None,
        *,
        poll: dict | None = KEEP,
    ) -> dict:
        """Edit a status as its author would in a client: like ``PUT /api/v1/statuses/:id``
        (new content, mentions and tags, ``edited_at``, a new version in its history) but
        with no length limit. ``spoiler_text``/``sensitive`` None keep the current ones;
        attachments stay; ``poll`` replaces the poll (its votes reset), None removes it, and
        leaving it out keeps it. An edit that changes nothing changes nothing (no
        ``edited_at``), as UpdateStatusService does. ValueError for a post left empty.
        """
        with self._lock:
            status = self._get_status(id)
            if status is None or status.reblog_of_id is not None:
                raise KeyError(f"no status {id}")
            spoiler = status.spoiler_text if spoiler_text is None else spoiler_text
            if isinstance(poll, dict):
                poll = {"expires_in": 86400, **poll}
            if sensitive is None:
                sensitive = status.sensitive or bool(ruby_strip(spoiler))
            try:
                self._update_status(
                    status,
                    status.account_id,
                    text=text,
                    spoiler_text=spoiler,
                    sensitive=sensitive,
                    language=None,
                    media=KEEP,
                    media_attributes=[],
                    poll=poll,
                    enforce_length=False,
                )
            except Invalid as exc:
                raise ValueError(str(exc)) from exc
            return self._status_json(status, status.account_id)

    def posts(self, username: str, include_deleted: bool = False) -> list[dict]:
        with self._lock:
            user = self._require_user(username)
            rows = sorted(self._by_account.get(user.id, {}).values(), key=lambda s: s.id)
            out = []
            for status in rows:
                if status.deleted and not include_deleted:
                    continue
                body = self._status_json(status, user.id)
                if include_deleted:
                    body["deleted"] = status.deleted
                out.append(body)
            return out

    def get_post(self, id: str) -> dict | None:
        with self._lock:
            status = self._get_status(id)
            return None if status is None else self._status_json(status, status.account_id)

    def delete_post(self, id: str) -> None:
        with self._lock:
            status = self._get_status(id)
            if status is not None:
                self._discard(status)

    def user(self, username: str) -> MastodonUser:
        with self._lock:
            return self._require_user(username)

    # -- the same over HTTP: /_sandbox/... ---------------------------------------------
    def _control_users(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            user = self.create_user(
                data["username"],
                data.get("display_name"),
                bool(data.get("locked", False)),
                data.get("scopes") or DEFAULT_SCOPES,
            )
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(user.__dict__, 201)

    def _control_tokens(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            token = self.create_token(data["username"], data["scopes"])
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response({"access_token": token, "scopes": data["scopes"]}, 201)

    def _control_create_post(self, request: Request) -> Response:
        data = request.json() or {}
        return _control_reply(
            lambda: self.create_post(
                data["username"],
                data.get("text", ""),
                visibility=data.get("visibility", "public"),
                in_reply_to_id=data.get("in_reply_to_id"),
                spoiler_text=data.get("spoiler_text", ""),
                reblog_of=data.get("reblog_of"),
                media=[
                    {**item, "data": base64.b64decode(item.get("data") or "")}
                    for item in data.get("media") or []
                ]
                or None,
                sensitive=bool(data.get("sensitive", False)),
                poll=data.get("poll"),
                quote_of=data.get("quote_of"),
            ),
            201,
        )

    def _control_edit_post(self, request: Request) -> Response:
        data = request.json() or {}
        if "text" not in data:
            return json_response({"error": "text is required"}, 422)
        return _control_reply(
            lambda: self.edit_post(
                request.path_params["id"],
                str(data["text"]),
                spoiler_text=data.get("spoiler_text"),
                sensitive=data.get("sensitive"),
                poll=data.get("poll", KEEP),
            ),
            200,
        )

    def _control_version(self, request: Request) -> Response:
        if request.method == "POST":
            data = request.json() or {}
            try:
                if "api_version" in data:
                    self.set_version(str(data["version"]), data["api_version"])
                else:
                    self.set_version(str(data["version"]))
            except (KeyError, ValueError) as exc:
                return json_response({"error": f"bad version: {exc}"}, 422)
        api = {"mastodon": self.api_version} if self.api_version is not None else None
        return json_response({"version": self.version, "api_versions": api})

    def _control_posts(self, request: Request) -> Response:
        try:
            rows = self.posts(request.arg("username") or "", truthy(request.arg("include_deleted")))
        except KeyError as exc:
            return json_response({"error": f"not found: {exc}"}, 404)
        return json_response(rows)

    def _control_delete_post(self, request: Request) -> Response:
        self.delete_post(request.path_params["id"])
        return json_response({}, 200)

    def _control_rate_limit(self, request: Request) -> Response:
        data = request.json() or {}
        family = data.get("family")
        try:
            self.set_rate_limit(int(data["limit"]), float(data.get("window_s", 300)), family)
        except (KeyError, ValueError) as exc:
            return json_response({"error": f"bad rate limit: {exc}"}, 422)
        return json_response({"limit": int(data["limit"]), "family": family})

    def _control_media(self, request: Request) -> Response:
        info = self.media(request.path_params["id"])
        if info is None:
            return json_response({"error": "not found"}, 404)
        return json_response({**info, "path": str(info["path"])})

    def _control_uploads(self, request: Request) -> Response:
        return json_response([{**m, "path": str(m["path"])} for m in self.uploads()])

    def _control_media_limits(self, request: Request) -> Response:
        try:
            self.set_media_limits(**(request.json() or {}))
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(self.media_limits())


def _control_reply(action: Callable[[], dict], status: int) -> Response:
    """A control call's reply: the status it made or changed (``status``), 404 ``{"error":
    "not found: ..."}`` for an unknown user or status, 422 for what it refuses."""
    try:
        return json_response(action(), status)
    except KeyError as exc:
        return json_response({"error": f"not found: {exc}"}, 404)
    except (TypeError, ValueError) as exc:
        return json_response({"error": str(exc)}, 422)
