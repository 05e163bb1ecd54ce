"""X's write endpoints for posts: create (with replies, quotes, polls and media), edit (a post
with ``edit_options``), delete, retweet and undo a retweet, each refused as X refuses it."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.auth import Auth, Gate
from birdbridge.sandbox.x.errors import (
    ALREADY_RETWEETED_DETAIL,
    CASHTAGS_DETAIL,
    DELETE_FORBIDDEN_DETAIL,
    DUPLICATE_DETAIL,
    EDIT_DELETED_DETAIL,
    EDIT_POLL_DETAIL,
    EDIT_PREMIUM_DETAIL,
    MAX_CASHTAGS,
    PROBLEMS,
    QUOTE_DELETED_DETAIL,
    QUOTE_NOT_ENROLLED_DETAIL,
    REPLY_DELETED_DETAIL,
    REPLY_RESTRICTED_DETAIL,
    RETWEET_DELETED_DETAIL,
    RETWEET_OTHER_USER_DETAIL,
    TOO_LONG_DETAIL,
    id_property_error,
    invalid_request,
    json_type,
    not_found_error,
    problem,
)
from birdbridge.sandbox.x.polls import check_poll_body
from birdbridge.sandbox.x.records import XPost, XUser
from birdbridge.sandbox.x.render import Rendering
from birdbridge.sandbox.x.text import (
    CASHTAG_RE,
    MAX_WEIGHTED_LENGTH,
    escape,
    text_is_valid,
    weighted_length,
)


class PostWrites(Rendering, Gate):
    def _register_write_routes(self) -> None:
        retweets = r"/2/users/(?P<id>[^/]+)/retweets"
        self._api_routes(
            ("POST", r"/2/tweets", "POST /2/tweets", self._create, True),
            ("DELETE", r"/2/tweets/(?P<id>[^/]+)", "DELETE /2/tweets/:id", self._delete, True),
            ("POST", retweets, "POST /2/users/:id/retweets", self._retweet, True),
            (
                "DELETE",
                retweets + r"/(?P<tweet_id>[^/]+)",
                "DELETE /2/users/:id/retweets/:source_tweet_id",
                self._unretweet,
                True,
            ),
        )

    def _create(self, request: Request, auth: Auth) -> Response:
        author = auth.user
        assert author is not None
        body = _json_object(request)
        if body is None:
            return self.error_response(400, "Request body must be a JSON object")
        media = body.get("media")
        media_ids = (media.get("media_ids") if isinstance(media, dict) else None) or []
        text = _post_text(body, media_ids)
        if isinstance(text, Response):
            return text
        reply = body.get("reply") or {}
        parent_id = reply.get("in_reply_to_tweet_id")
        if "reply" in body and not parent_id:
            return invalid_request(
                "$.reply", ["{}"], "$.reply.in_reply_to_tweet_id: is missing but it is required"
            )
        bad = check_poll_body(body) or _check_edit_options(body)
        if bad:
            return bad
        if "edit_options" in body:
            return self._create_edit(body, author, text, media_ids)
        quote_id = body.get("quote_tweet_id")
        refused = self._create_refusal(body, author, text, parent_id, quote_id)
        if refused is not None:
            return refused
        record = self._store(
            author,
            text,
            in_reply_to_id=parent_id,
            quote_id=quote_id,
            media_ids=[str(m) for m in media_ids],
            reply_settings=body.get("reply_settings"),
            poll=body.get("poll"),
        )
        return self._created(record)

    def _create_refusal(
        self, body: dict[str, Any], author: XUser, text: str, parent_id: Any, quote_id: Any
    ) -> Response | None:
        """Why X refuses a valid new post: a quote on a self-serve app, a reply to or a quote
        of a post that is gone, the reply rule, its media, cashtags, a duplicate."""
        if quote_id and not self.quotes_allowed:
            return json_response(
                problem(
                    403,
                    QUOTE_NOT_ENROLLED_DETAIL,
                    "Client Forbidden",
                    PROBLEMS + "client-forbidden",
                    reason="client-not-enrolled",
                    required_enrollment="Enterprise",
                ),
                403,
            )
        parent = self._tweets.get(str(parent_id)) if parent_id else None
        if parent_id and (parent is None or parent.deleted):
            return json_response(problem(403, REPLY_DELETED_DETAIL), 403)
        if quote_id:
            quoted = self._tweets.get(str(quote_id))
            if quoted is None or quoted.deleted:
                return json_response(problem(403, QUOTE_DELETED_DETAIL), 403)
        if parent is not None and self.reply_restriction and not self._may_reply(author, parent):
            return json_response(problem(403, REPLY_RESTRICTED_DETAIL), 403)
        if "media" in body:
            bad = self._check_media_ids(author, body["media"])
            if bad:
                return bad
        if len(CASHTAG_RE.findall(text)) > MAX_CASHTAGS:
            return json_response(problem(403, CASHTAGS_DETAIL), 403)
        if text and self._is_duplicate(author.id, text):
            return json_response(problem(403, DUPLICATE_DETAIL), 403)
        return None

    def _create_edit(
        self, body: dict[str, Any], author: XUser, text: str, media_ids: list[Any]
    ) -> Response:
        """POST /2/tweets with ``edit_options.previous_post_id`` (XD openapi.json 2.168
        `CreatePostsEditOptions`; the key is ``previous_post_id``, not the GraphQL API's
        ``previous_tweet_id``): a new version with a new id, built from this request's text
        and media (X builds the new post from the request: send the media again to keep it);
        the reply and quote of the previous version are kept and cannot be changed."""
        previous_id = body["edit_options"]["previous_post_id"]
        if not author.premium:
            return json_response(problem(403, EDIT_PREMIUM_DETAIL), 403)
        previous = self._tweets.get(previous_id)
        if previous is None or previous.deleted:
            return json_response(problem(403, EDIT_DELETED_DETAIL), 403)
        if "poll" in body:
            return json_response(problem(403, EDIT_POLL_DETAIL), 403)
        refusal = self._edit_refusal(previous, author)
        if refusal:
            return json_response(problem(403, refusal), 403)
        reply = body.get("reply") or {}
        parent_id = reply.get("in_reply_to_tweet_id")
        if parent_id and str(parent_id) != (previous.in_reply_to_tweet_id or ""):
            return invalid_request(
                "reply.in_reply_to_tweet_id",
                parent_id,
                "$.reply.in_reply_to_tweet_id: an edit cannot change the post replied to",
            )
        quote_id = body.get("quote_tweet_id")
        if quote_id and str(quote_id) != (previous.quote_of or ""):
            return invalid_request(
                "quote_tweet_id", quote_id, "$.quote_tweet_id: an edit cannot change the quote"
            )
        if "media" in body:
            bad = self._check_media_ids(author, body["media"])
            if bad:
                return bad
        record = self._store_edit(previous, author, text, [str(m) for m in media_ids])
        return self._created(record)

    def _created(self, record: XPost) -> Response:
        data = {
            "id": record.id,
            "text": escape(record.text),
            "edit_history_tweet_ids": self._history(record),
        }
        return json_response({"data": data}, 201)

    def _delete(self, request: Request, auth: Auth) -> Response:
        tweet_id = request.path_params["id"]
        record = self._tweets.get(tweet_id)
        if record is None or record.deleted:
            body = not_found_error("tweet", tweet_id, "id")
            body["status"] = 404
            return json_response(body, 404)
        assert auth.user is not None
        if record.author_id != auth.user.id:
            return json_response(problem(403, DELETE_FORBIDDEN_DETAIL), 403)
        self._delete_chain(record)  # "Deleting any version deletes the entire chain"
        return json_response({"data": {"deleted": True}})

    def _retweet(self, request: Request, auth: Auth) -> Response:
        """POST /2/users/:id/retweets ``{"tweet_id"}`` -> ``{"data": {"retweeted": true}}`` as
        the manage-retweets quickstart shows; with ``retweet_reply_id`` also ``"rest_id": <id
        of the new retweet>`` (XD openapi.json 2.168 `RepostPostResponseData`). A client must
        work with both."""
        user = auth.user
        assert user is not None
        if request.path_params["id"] != user.id:
            return json_response(problem(403, RETWEET_OTHER_USER_DETAIL), 403)
        body = _json_object(request)
        if body is None:
            return self.error_response(400, "Request body must be a JSON object")
        bad = id_property_error(body, "tweet_id", r"\d{1,19}")
        if bad:
            return bad
        target = self._tweets.get(body["tweet_id"])
        if target is not None and target.retweet_of:
            target = self._tweets.get(target.retweet_of)  # a retweet of a retweet: original
        if target is None or target.deleted:
            return json_response(problem(403, RETWEET_DELETED_DETAIL), 403)
        if self._retweet_by(user.id, target.id) is not None:
            return json_response(problem(403, ALREADY_RETWEETED_DETAIL), 403)
        record = self._store(user, "", retweet_of=target.id)
        data: dict[str, Any] = {"retweeted": True}
        if self.retweet_reply_id:
            data["rest_id"] = record.id
        return json_response({"data": data})

    def _unretweet(self, request: Request, auth: Auth) -> Response:
        """DELETE /2/users/:id/retweets/:source_tweet_id -> ``{"data": {"retweeted": false}}``,
        also when there was no retweet ("The request succeeds with no action", tweepy
        ``Client.unretweet`` docstring)."""
        user = auth.user
        assert user is not None
        if request.path_params["id"] != user.id:
            return json_response(problem(403, RETWEET_OTHER_USER_DETAIL), 403)
        source_id = request.path_params["tweet_id"]
        if not re.fullmatch(r"\d{1,19}", source_id):
            return invalid_request(
                "source_tweet_id",
                source_id,
                f"The `source_tweet_id` query parameter value [{source_id}] is not valid",
            )
        retweet = self._retweet_by(user.id, source_id)
        if retweet is not None:
            retweet.deleted = True
        return json_response({"data": {"retweeted": False}})


def _json_object(request: Request) -> dict[str, Any] | None:
    """The request's JSON body if it is an object."""
    try:
        body = request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _post_text(body: dict[str, Any], media_ids: list[Any]) -> str | Response:
    """The ``text`` of a new post (NFC), or X's refusal of it."""
    text = body.get("text")
    if text is None and not media_ids:
        return invalid_request("text", [], "$.text: is missing but it is required")
    if not isinstance(text, str | None):
        return invalid_request("text", text, "$.text: string expected")
    text = unicodedata.normalize("NFC", text or "")
    if weighted_length(text) > MAX_WEIGHTED_LENGTH:
        # tweepy shows "400 Bad Request\nYour Tweet text is too long. ..." (see report)
        return json_response(problem(400, TOO_LONG_DETAIL), 400)
    if text and not text_is_valid(text):
        # twitter-text refuses U+FFFE, U+FEFF and U+FFFF; X's wording for it is not
        # documented, this one is ours.
        return json_response(problem(400, "Your Tweet text contains invalid characters."), 400)
    return text


def _check_edit_options(body: dict[str, Any]) -> Response | None:
    """``edit_options`` (XD openapi.json 2.168 `CreatePostsEditOptions`: required
    ``previous_post_id`` matching ^[0-9]{1,19}$, no other property)."""
    if "edit_options" not in body:
        return None
    options = body["edit_options"]
    param = "edit_options.previous_post_id"
    if not isinstance(options, dict):
        return invalid_request(
            "edit_options",
            str(options),
            f"$.edit_options: {json_type(options)} found, object expected",
        )
    for key in options:
        if key != "previous_post_id":
            return invalid_request(
                f"edit_options.{key}",
                str(options[key]),
                f"$.edit_options.{key}: is not defined in the schema and the schema does not "
                "allow additional properties",
            )
    previous = options.get("previous_post_id")
    if previous is None:
        return invalid_request(param, [], f"$.{param}: is missing but it is required")
    if not isinstance(previous, str):
        return invalid_request(
            param, str(previous), f"$.{param}: {json_type(previous)} found, string expected"
        )
    if not re.fullmatch(r"\d{1,19}", previous):
        return invalid_request(
            param, str(previous), f"$.{param}: does not match the regex pattern ^[0-9]{{1,19}}$"
        )
    return None
