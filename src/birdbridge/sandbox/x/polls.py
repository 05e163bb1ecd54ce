"""Polls: the ``poll`` of POST /2/tweets checked as X's schema checks it, a poll made in the
app, and the v2 poll object."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from birdbridge.sandbox.common import Response
from birdbridge.sandbox.common.times import iso_millis
from birdbridge.sandbox.x.errors import invalid_request, json_type
from birdbridge.sandbox.x.records import XPoll

# POST /2/tweets `poll` (XD openapi.json 2.168 `CreatePostsPoll`): 2-4 options of 1-25
# characters, duration 5-10080 minutes; mutually exclusive with media, quote and card.
POLL_MIN_OPTIONS, POLL_MAX_OPTIONS, POLL_OPTION_MAX = 2, 4, 25
POLL_MIN_MINUTES, POLL_MAX_MINUTES = 5, 10080

SchemaError = tuple[str, Any, str]  # (parameter, value, message) of an invalid request


def check_poll_body(body: dict[str, Any]) -> Response | None:
    """The ``poll`` of a POST /2/tweets body: its schema, then its exclusions ("This is
    mutually exclusive from Media, Quote Tweet Id, and Card URI", XD openapi.json; X's message
    for a violation was not found, this one is plausible)."""
    if "poll" not in body:
        return None
    error = poll_error(body["poll"])
    if error:
        return invalid_request(*error)
    for other in ("media", "quote_tweet_id", "card_uri"):
        if body.get(other) is not None:
            return invalid_request("poll", other, f"$.poll: is mutually exclusive with $.{other}")
    return None


def poll_error(poll: Any) -> SchemaError | None:
    """The first schema error of a POST /2/tweets ``poll`` (XD openapi.json 2.168
    `CreatePostsPoll`; networknt wording as for ``media.media_ids``)."""
    if not isinstance(poll, dict):
        return "poll", str(poll), f"$.poll: {json_type(poll)} found, object expected"
    for key in poll:
        if key not in ("options", "duration_minutes", "reply_settings"):
            return (
                f"poll.{key}",
                str(poll[key]),
                f"$.poll.{key}: is not defined in the schema and the schema does not allow "
                "additional properties",
            )
    return _options_error(poll.get("options")) or _duration_error(poll.get("duration_minutes"))


def _options_error(options: Any) -> SchemaError | None:
    if options is None:
        return "poll.options", [], "$.poll.options: is missing but it is required"
    if not isinstance(options, list):
        return (
            "poll.options",
            options,
            f"$.poll.options: {json_type(options)} found, array expected",
        )
    if not POLL_MIN_OPTIONS <= len(options) <= POLL_MAX_OPTIONS:
        bound = (
            f"minimum of {POLL_MIN_OPTIONS}"
            if len(options) < POLL_MIN_OPTIONS
            else f"maximum of {POLL_MAX_OPTIONS}"
        )
        return (
            "poll.options",
            options,
            f"$.poll.options: there must be a {bound} items in the array",
        )
    for n, option in enumerate(options):
        where = f"$.poll.options[{n}]"
        if not isinstance(option, str):
            return "poll.options", options, f"{where}: {json_type(option)} found, string expected"
        if len(option) < 1:
            return "poll.options", options, f"{where}: must be at least 1 characters long"
        if len(option) > POLL_OPTION_MAX:
            return (
                "poll.options",
                options,
                f"{where}: may only be {POLL_OPTION_MAX} characters long",
            )
    return None


def _duration_error(minutes: Any) -> SchemaError | None:
    param = "poll.duration_minutes"
    if minutes is None:
        return param, [], "$.poll.duration_minutes: is missing but it is required"
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        return (
            param,
            minutes,
            f"$.poll.duration_minutes: {json_type(minutes)} found, integer expected",
        )
    if minutes < POLL_MIN_MINUTES:
        return (
            param,
            minutes,
            f"$.poll.duration_minutes: must have a minimum value of {POLL_MIN_MINUTES}",
        )
    if minutes > POLL_MAX_MINUTES:
        return (
            param,
            minutes,
            f"$.poll.duration_minutes: must have a maximum value of {POLL_MAX_MINUTES}",
        )
    return None


def control_poll_check(poll: Any) -> None:
    """A poll made in the app follows the same limits; ValueError otherwise."""
    error = poll_error(
        {k: v for k, v in poll.items() if k != "votes"} if isinstance(poll, dict) else poll
    )
    if error:
        raise ValueError(error[2])
    votes = poll.get("votes")
    if votes is not None and (
        not isinstance(votes, list)
        or len(votes) != len(poll["options"])
        or not all(isinstance(v, int) and v >= 0 for v in votes)
    ):
        raise ValueError("poll votes must be one count (>= 0) per option")


def new_poll(poll: dict[str, Any], created: datetime, new_id: Callable[[], str]) -> XPoll:
    """The poll of a post created at ``created`` (``votes``: a poll made in the app)."""
    options = [str(o) for o in poll["options"]]
    minutes = int(poll["duration_minutes"])
    return XPoll(
        id=new_id(),
        options=options,
        votes=[int(v) for v in poll.get("votes") or [0] * len(options)],
        duration_minutes=minutes,
        end_datetime=created + timedelta(minutes=minutes),
    )


def render_poll(poll: XPoll, fields: set[str]) -> dict[str, Any]:
    """The v2 poll object: id and options always, the rest per ``poll.fields``."""
    out: dict[str, Any] = {
        "id": poll.id,
        "options": [
            {"position": n, "label": label, "votes": votes}
            for n, (label, votes) in enumerate(zip(poll.options, poll.votes, strict=True), 1)
        ],
    }
    if "duration_minutes" in fields:
        out["duration_minutes"] = poll.duration_minutes
    if "end_datetime" in fields:
        out["end_datetime"] = iso_millis(poll.end_datetime)
    if "voting_status" in fields:
        out["voting_status"] = "open" if datetime.now(UTC) < poll.end_datetime else "closed"
    return out
