"""X's error bodies: the problem shape of API v2 (RFC 7807 style), the invalid-request body
with networknt's schema wording, the partial "resource not found" entries, and the detail
strings X sends, each with its source (see also docs/api-notes.md, X1-X6)."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from birdbridge.sandbox.common import Response, json_response

PROBLEMS = "https://api.twitter.com/2/problems/"
# 403 detail strings, as X sends them (sources in the final report / module docs):
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
# Self-serve apps: "Posts created via the API are limited to a maximum of 1 cashtag ...
# Requests that include more than 1 cashtag will be rejected" (XD:x-api/posts/manage-tweets/
# integrate.mdx, 2026-04-13). The 403 detail is the one several public clients quote; the
# rest of the body is like X's other 403s (title Forbidden, type about:blank).
MAX_CASHTAGS = 1
CASHTAGS_DETAIL = "Posts are limited to a maximum of one cashtag"
TOO_LONG_DETAIL = (
    "Your Tweet text is too long. For more information on how Twitter determines text "
    "length see https://github.com/twitter/twitter-text."
)
REPLY_RESTRICTED_DETAIL = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)
REPLY_DELETED_DETAIL = "You attempted to reply to a Tweet that is deleted or not visible to you."
QUOTE_DELETED_DETAIL = "You attempted to quote a Tweet that is deleted or not visible to you."
DELETE_FORBIDDEN_DETAIL = "You are not authorized to delete this Tweet."
APP_ONLY_FORBIDDEN_DETAIL = (
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
)
INVALID_REQUEST_DETAIL = "One or more parameters to your request was invalid."
# Pay-per-use, out of credits: 402 {"title": "Payment Required", "detail": "credits depleted",
# "type": ".../credits-depleted"} (koala73/worldmonitor#7156, 2026-08; the docs give no body).
CREDITS_DEPLETED_TYPE = "https://api.x.com/2/problems/credits-depleted"
CREDITS_DEPLETED_DETAIL = "credits depleted"
OAUTH1_PERMISSIONS_DETAIL = (
    "Your client app is not configured with the appropriate oauth1 app permissions for this "
    "endpoint."
)
# Quote posts: "Quote-posting (using the `quote_tweet_id` parameter) requires an Enterprise
# plan. It is not available on self-serve (pay-per-use) tiers." (XD:x-api/posts/create-post.mdx,
# removed from self-serve on 2026-04-20, api-notes X2). The body X sends was not found: this
# is the documented `client-forbidden` problem type (XD:…/response-codes-and-errors.mdx) in
# the shape of X's "client-not-enrolled" bodies, with plausible wording.
QUOTE_NOT_ENROLLED_DETAIL = (
    "Quote-posting (quote_tweet_id) requires an Enterprise plan. It is not available on "
    "self-serve (pay-per-use) tiers."
)
# Edits (XD:x-api/fundamentals/edit-posts.mdx: 30 minutes, 5 edits, no polls, no reposts, no
# replies to others; XD:changelog.mdx 2025-10-03: X Premium, own posts). X's wording for the
# refusals was not found in any stored source: these are plausible, modelled on the reply,
# quote and delete details above.
EDIT_PREMIUM_DETAIL = (
    "Editing a Tweet through the API requires the user to be subscribed to X Premium."
)
EDIT_DELETED_DETAIL = "You attempted to edit a Tweet that is deleted or not visible to you."
EDIT_FORBIDDEN_DETAIL = "You are not authorized to edit this Tweet."
EDIT_NOT_LATEST_DETAIL = "Only the most recent version of a Tweet can be edited."
EDIT_POLL_DETAIL = "Tweets with polls cannot be edited."
EDIT_NOT_ELIGIBLE_DETAIL = "This Tweet is not eligible for editing."
EDIT_WINDOW_DETAIL = "This Tweet can no longer be edited: its edit window has closed."
EDIT_LIMIT_DETAIL = "This Tweet has reached the maximum number of edits."
MAX_EDITS = 5
# Retweets. "You have already retweeted this Tweet." is X's wording (v1.1 error 327,
# marco97pa/Blackpink-Data#24 via tweepy; v2 clients match it in the problem `detail`). The
# other two are plausible wordings (X's were not found), modelled on the ones above.
ALREADY_RETWEETED_DETAIL = "You have already retweeted this Tweet."
RETWEET_DELETED_DETAIL = "You attempted to retweet a Tweet that is deleted or not visible to you."
RETWEET_OTHER_USER_DETAIL = (
    "You are not permitted to perform this action on behalf of another user: the `id` in the "
    "path must be the authenticating user's id."
)


def problem(
    status: int,
    detail: str | None = None,
    title: str | None = None,
    type_: str = "about:blank",
    **extra: Any,
) -> dict[str, Any]:
    """X v2's problem body: {"title", "detail", "type", "status"} (RFC 7807 style)."""
    phrase = HTTPStatus(status).phrase
    return {
        "title": title or phrase,
        "detail": detail or phrase,
        "type": type_,
        "status": status,
        **extra,
    }


def invalid_request(parameter: str, value: Any, message: str) -> Response:
    values = value if isinstance(value, list) else [value]
    body = {
        "errors": [{"parameters": {parameter: [str(v) for v in values]}, "message": message}],
        "title": "Invalid Request",
        "detail": INVALID_REQUEST_DETAIL,
        "type": PROBLEMS + "invalid-request",
    }
    return json_response(body, 400)


def not_found_error(resource_type: str, value: str, parameter: str) -> dict[str, Any]:
    """One entry of an ``errors`` array for a missing resource (partial-error shape)."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + "resource-not-found",
    }


def json_type(value: Any) -> str:
    """The JSON type name networknt's messages use ("string found, integer expected")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str | bytes):
        return "string"
    return "array" if isinstance(value, list) else "object"


def error_body(status: int, message: str) -> Response:
    """X's body for an error the server meets outside an endpoint's own checks: a 400 is an
    invalid request with ``message``; other statuses are problems (a fault's "Injected", and
    the router's "Not Found" and "Method Not Allowed", with X's own phrase as detail)."""
    if status == 400:
        body = {
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": INVALID_REQUEST_DETAIL,
            "type": PROBLEMS + "invalid-request",
        }
        return json_response(body, 400)
    detail = None if message in ("Injected", "Not Found", "Method Not Allowed") else message
    return json_response(problem(status, detail), status)


class EditRefused(ValueError):
    """An edit X would refuse; ``detail`` is the problem detail the API would send."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def id_property_error(body: dict[str, Any], name: str, pattern: str) -> Response | None:
    """A required string property holding an id (openapi: ^[0-9]{1,19}$), checked with
    networknt's wording; ``pattern`` is the check the endpoint makes."""
    value = body.get(name)
    if value is None:
        return invalid_request(name, [], f"$.{name}: is missing but it is required")
    if not isinstance(value, str):
        return invalid_request(
            name, str(value), f"$.{name}: {json_type(value)} found, string expected"
        )
    if not re.fullmatch(pattern, value):
        return invalid_request(
            name, value, f"$.{name}: does not match the regex pattern ^[0-9]{{1,19}}$"
        )
    return None
