"""What a test (or someone trying the demo) does as X's users would in the app, and as X would
decide: users, posts without the API's limits, edits, deletions, rate limits, credits; from
Python and over HTTP under ``/_sandbox/``."""

from __future__ import annotations

import base64
import re
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.errors import EditRefused
from birdbridge.sandbox.x.fields import parse_iso
from birdbridge.sandbox.x.limits import DEFAULT_WINDOW_S
from birdbridge.sandbox.x.polls import control_poll_check
from birdbridge.sandbox.x.records import ACCESS_LEVELS, XUser
from birdbridge.sandbox.x.render import Rendering
from birdbridge.sandbox.x.state import random_text


class ControlRoutes(Rendering):
    def _register_control_routes(self) -> None:
        self.route("GET", r"/_sandbox/uploads", self._control_uploads)
        self.route("POST", r"/_sandbox/users", self._control_create_user)
        self.route("POST", r"/_sandbox/posts", self._control_create_post)
        self.route("GET", r"/_sandbox/posts", self._control_posts)
        self.route("DELETE", r"/_sandbox/posts/(?P<id>\d+)", self._control_delete_post)
        self.route("POST", r"/_sandbox/posts/(?P<id>\d+)/edit", self._control_edit_post)
        self.route("POST", r"/_sandbox/rate_limits", self._control_rate_limit)
        self.route("POST", r"/_sandbox/credits", self._control_credits)

    def create_user(
        self,
        username: str,
        name: str | None = None,
        protected: bool = False,
        premium: bool = False,
        access_level: str = "read-write",
    ) -> XUser:
        if access_level not in ACCESS_LEVELS:
            raise ValueError(f"access_level must be one of {ACCESS_LEVELS}")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", username):
            raise ValueError(f"invalid X username {username!r}")
        with self._lock:
            if username.lower() in self._by_username:
                raise ValueError(f"username {username!r} is taken")
            user_id = str(self._next_user_id)
            self._next_user_id += 1
            user = XUser(
                id=user_id,
                username=username,
                name=name or username,
                protected=protected,
                consumer_key=self.consumer_key,
                consumer_secret=self.consumer_secret,
                access_token=f"{user_id}-{random_text(40)}",
                access_token_secret=random_text(45),
                premium=premium,
                access_level=access_level,
            )
            self._users[user_id] = user
            self._by_username[username.lower()] = user_id
            self._by_token[user.access_token] = user
        return user

    def create_post(
        self,
        username: str,
        text: str,
        *,
        in_reply_to_id: str | None = None,
        quote_id: str | None = None,
        retweet_of: str | None = None,
        created_at: datetime | None = None,
        media: list[dict[str, Any]] | None = None,
        poll: dict[str, Any] | None = None,
        sensitive: bool = False,
    ) -> dict[str, Any]:
        """Post as the user would in the app: no length, duplicate, rate or media limits.

        ``media``: dicts of ``type`` (photo | animated_gif | video), ``data`` (bytes or a
        path, copied into the store), and optional ``content_type`` (sniffed if missing),
        ``alt_text``, ``width``, ``height``, ``duration_ms``.
        ``poll``: ``{"options": [2-4 labels], "duration_minutes": N}`` and optional ``votes``
        (one count per option). ``sensitive``: the post's ``possibly_sensitive``.
        """
        with self._lock:
            author = self._user_by_name(username)
            if poll is not None:
                control_poll_check(poll)
            media_ids = [self._store_control_media(author, item).id for item in media or []]
            record = self._store(
                author,
                text,
                in_reply_to_id=in_reply_to_id,
                quote_id=quote_id,
                retweet_of=retweet_of,
                created_at=created_at,
                media_ids=media_ids,
                poll=poll,
                sensitive=sensitive,
            )
            return self._render(record)

    def edit_post(self, id: str, text: str) -> dict[str, Any]:
        """Edit as the user would in the app: no Premium check, but X's edit rules (own
        latest version, window from the original post, at most 5 edits, no polls, reposts or
        replies to others). The new version gets a new id and keeps media, reply, quote and
        ``possibly_sensitive``. Raises KeyError for an unknown or deleted post and
        :class:`EditRefused` (a ValueError) with X's detail for a refused edit."""
        with self._lock:
            previous = self._tweets.get(str(id))
            if previous is None or previous.deleted:
                raise KeyError(id)
            author = self._users[previous.author_id]
            refusal = self._edit_refusal(previous, author)
            if refusal:
                raise EditRefused(refusal)
            media_ids = [key.split("_", 1)[1] for key in previous.media_keys]
            record = self._store_edit(previous, author, text, media_ids)
            return self._render(record)

    def posts(
        self, username: str, include_deleted: bool = False, include_superseded: bool = False
    ) -> list[dict[str, Any]]:
        """The user's posts, oldest first: the newest version of each edit chain, or every
        version with ``include_superseded``; deleted ones (flagged ``"deleted": true``) with
        ``include_deleted``."""
        with self._lock:
            author = self._user_by_name(username)
            out = []
            for record in sorted(self._tweets.values(), key=lambda r: int(r.id)):
                if record.author_id != author.id or (record.deleted and not include_deleted):
                    continue
                if not include_superseded and not self._is_latest(record):
                    continue
                tweet = self._render(record)
                if include_deleted and record.deleted:
                    tweet["deleted"] = True
                out.append(tweet)
            return out

    def get_post(self, id: str) -> dict[str, Any] | None:
        """The post with this id (an older version of an edited post stays readable)."""
        with self._lock:
            record = self._tweets.get(str(id))
            return self._render(record) if record and not record.deleted else None

    def delete_post(self, id: str) -> None:
        """Delete a post as the user would: its whole edit chain and its retweets go."""
        with self._lock:
            record = self._tweets.get(str(id))
            if record is None:
                raise KeyError(id)
            self._delete_chain(record)

    def set_rate_limit(self, endpoint_key: str, limit: int, window_s: float = 900) -> None:
        with self._lock:
            self._limits[endpoint_key] = (int(limit), float(window_s))
            for key in [k for k in self._windows if k[0] == endpoint_key]:
                del self._windows[key]

    def user(self, username: str) -> XUser:
        with self._lock:
            return self._user_by_name(username)

    def set_protected(self, username: str, protected: bool = True) -> XUser:
        """Lock (or unlock) an account, as its owner would in the app."""
        with self._lock:
            user = replace(self._user_by_name(username), protected=protected)
            self._users[user.id] = user
            if user.access_token in self._by_token:  # not after revoke_grants
                self._by_token[user.access_token] = user
            return user

    def set_credits(self, usd: float | None) -> None:
        """The pay-per-use balance (None: not metered)."""
        with self._lock:
            self.credits_usd = usd

    # -- the same over HTTP: /_sandbox/... ---------------------------------------------
    def _control_create_user(self, request: Request) -> Response:
        body = request.json() or {}
        try:
            user = self.create_user(
                body["username"],
                body.get("name"),
                bool(body.get("protected", False)),
                premium=bool(body.get("premium", False)),
                access_level=str(body.get("access_level", "read-write")),
            )
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(asdict(user), 201)

    def _control_credits(self, request: Request) -> Response:
        """POST /_sandbox/credits ``{"usd": N | null}``: the pay-per-use balance."""
        body = request.json() or {}
        usd = body.get("usd")
        self.set_credits(None if usd is None else float(usd))
        return json_response({"usd": self.credits_usd, "spent_usd": self.spent_usd})

    def _control_create_post(self, request: Request) -> Response:
        body = request.json() or {}
        created_at = body.get("created_at")
        try:
            tweet = self.create_post(
                body["username"],
                body["text"],
                in_reply_to_id=body.get("in_reply_to_id"),
                quote_id=body.get("quote_id"),
                retweet_of=body.get("retweet_of"),
                created_at=parse_iso(created_at) if created_at else None,
                media=[
                    {**item, "data": base64.b64decode(item["data"])}
                    for item in body.get("media") or []
                ],
                poll=body.get("poll"),
                sensitive=bool(body.get("sensitive", False)),
            )
        except (KeyError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(tweet, 201)

    def _control_edit_post(self, request: Request) -> Response:
        """POST /_sandbox/posts/<id>/edit ``{"text"}``: :meth:`edit_post`; 201 with the new
        version, 404 for an unknown or deleted post, 422 ``{"error": <X's detail>}`` when X
        would refuse the edit."""
        body = request.json() or {}
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return json_response({"error": "text (a string) is required"}, 422)
        try:
            tweet = self.edit_post(request.path_params["id"], text)
        except KeyError:
            return json_response({"error": "no such post"}, 404)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(tweet, 201)

    def _control_uploads(self, request: Request) -> Response:
        rows = [{**row, "path": str(row["path"])} for row in self.uploads()]
        return json_response(rows)

    def _control_posts(self, request: Request) -> Response:
        def flag(name: str) -> bool:
            return (request.arg(name) or "").lower() in ("1", "true", "yes")

        try:
            posts = self.posts(
                request.arg("username") or "",
                flag("include_deleted"),
                include_superseded=flag("include_superseded"),
            )
        except ValueError as exc:
            return json_response({"error": str(exc)}, 404)
        return json_response(posts)

    def _control_delete_post(self, request: Request) -> Response:
        try:
            self.delete_post(request.path_params["id"])
        except KeyError:
            return json_response({"error": "no such post"}, 404)
        return json_response({"deleted": True})

    def _control_rate_limit(self, request: Request) -> Response:
        body = request.json() or {}
        self.set_rate_limit(
            body["endpoint_key"], int(body["limit"]), float(body.get("window_s", DEFAULT_WINDOW_S))
        )
        return json_response({"endpoint_key": body["endpoint_key"], "limit": body["limit"]})
