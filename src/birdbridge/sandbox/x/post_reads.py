"""X's read endpoints: the authenticated user, a user's timeline (paged, filtered, eventually
consistent), and post lookup by id, one or many (partial errors for the missing ones)."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.auth import Auth, Gate
from birdbridge.sandbox.x.errors import invalid_request, not_found_error
from birdbridge.sandbox.x.fields import (
    USER_FIELDS,
    parse_iso,
    validate_common,
    validate_fields,
    validate_timeline,
)
from birdbridge.sandbox.x.fields import fields as query_fields
from birdbridge.sandbox.x.records import XPost
from birdbridge.sandbox.x.render import Rendering


class PostReads(Rendering, Gate):
    def _register_read_routes(self) -> None:
        self._api_routes(
            ("GET", r"/2/users/me", "GET /2/users/me", self._me, True),
            (
                "GET",
                r"/2/users/(?P<id>[^/]+)/tweets",
                "GET /2/users/:id/tweets",
                self._timeline,
                False,
            ),
            ("GET", r"/2/tweets/(?P<id>[^/]+)", "GET /2/tweets/:id", self._lookup, False),
            ("GET", r"/2/tweets", "GET /2/tweets", self._lookup_many, False),
        )

    def _me(self, request: Request, auth: Auth) -> Response:
        assert auth.user is not None
        bad = validate_fields(request, ("user.fields", USER_FIELDS))
        if bad:
            return bad
        return json_response(
            {"data": self._render_user(auth.user, query_fields(request, "user.fields"))}
        )

    def _timeline(self, request: Request, auth: Auth) -> Response:
        user_id = request.path_params["id"]
        bad = validate_common(request) or validate_timeline(request)
        if bad:
            return bad
        if user_id not in self._users:
            return json_response({"errors": [not_found_error("user", user_id, "id")]})
        max_results = int(request.arg("max_results") or 10)
        since_id, until_id = request.arg("since_id"), request.arg("until_id")
        start, end = request.arg("start_time"), request.arg("end_time")
        exclude = set(filter(None, (request.arg("exclude") or "").split(",")))
        token = request.arg("pagination_token")
        below = int(token[1:], 36) if token else None

        shown_before = datetime.fromtimestamp(self.now(), UTC) - timedelta(
            seconds=self.timeline_lag_s
        )
        rows = [
            r
            for r in self._tweets.values()
            if r.author_id == user_id
            and not r.deleted
            and self._is_latest(r)
            and r.created_at <= shown_before
        ]  # an edited post shows once, at the id of its newest version (XD:…/edit-posts.mdx)
        rows.sort(key=lambda r: int(r.id), reverse=True)
        rows = rows[:3200]  # the timeline depth (tweepy get_users_tweets docstring)
        if "replies" in exclude:
            rows = [r for r in rows if not r.in_reply_to_tweet_id][:800]
        if "retweets" in exclude:
            rows = [r for r in rows if not r.retweet_of]
        if since_id:
            rows = [r for r in rows if int(r.id) > int(since_id)]
        if until_id:
            rows = [r for r in rows if int(r.id) < int(until_id)]
        if start:
            rows = [r for r in rows if r.created_at >= parse_iso(start)]
        if end:
            rows = [r for r in rows if r.created_at < parse_iso(end)]
        if below is not None:
            rows = [r for r in rows if int(r.id) < below]
        page, rest = rows[:max_results], rows[max_results:]
        if not page:
            return json_response({"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if rest:
            meta["next_token"] = "7" + _base36(int(page[-1].id))
        return json_response(self._tweets_payload(request, page, meta))

    def _lookup(self, request: Request, auth: Auth) -> Response:
        tweet_id = request.path_params["id"]
        bad = validate_common(request)
        if bad:
            return bad
        if not re.fullmatch(r"\d{1,19}", tweet_id):
            return invalid_request(
                "id", tweet_id, f"The `id` query parameter value [{tweet_id}] is not valid"
            )
        record = self._tweets.get(tweet_id)
        if record is None or record.deleted:
            # Real X answers 200 with only an errors array for a missing or deleted tweet.
            return json_response({"errors": [not_found_error("tweet", tweet_id, "id")]})
        payload = self._tweets_payload(request, [record], None)
        payload["data"] = payload["data"][0]
        return json_response(payload)

    def _lookup_many(self, request: Request, auth: Auth) -> Response:
        raw = request.arg("ids")
        if not raw:
            return invalid_request("ids", [], "The `ids` query parameter can not be empty")
        ids = raw.split(",")
        if len(ids) > 100:
            return invalid_request(
                "ids",
                raw,
                f"The number of values in the `ids` query "
                f"parameter list [{len(ids)}] is not between 1 and 100",
            )
        for tweet_id in ids:
            if not re.fullmatch(r"\d{1,19}", tweet_id):
                return invalid_request(
                    "ids", tweet_id, f"The `ids` query parameter value [{tweet_id}] is not valid"
                )
        bad = validate_common(request)
        if bad:
            return bad
        # Partial errors (XD:…/response-codes-and-errors.mdx): found posts in `data`, each
        # missing or deleted id as a resource-not-found entry of the top-level `errors`. An
        # older version of an edited post is found at its own id (XD:…/edit-posts.mdx).
        found: list[XPost] = []
        errors: list[dict[str, Any]] = []
        for tweet_id in ids:
            record = self._tweets.get(tweet_id)
            if record is None or record.deleted:
                errors.append(not_found_error("tweet", tweet_id, "ids"))
            else:
                found.append(record)
        payload = self._tweets_payload(request, found, None) if found else {}
        if errors:
            payload["errors"] = errors + payload.get("errors", [])
        return json_response(payload)


def _base36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"
