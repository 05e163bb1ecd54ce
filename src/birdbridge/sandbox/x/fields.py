"""The ``*.fields`` and ``expansions`` X v2 accepts (a value outside them is a 400, as on X),
and the other query parameters of the read endpoints, checked with X's messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from birdbridge.sandbox.common import Request, Response
from birdbridge.sandbox.x.errors import invalid_request

TWEET_FIELDS = [
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "text",
    "withheld",
]
USER_FIELDS = [
    "affiliation",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
]
MEDIA_FIELDS = [
    "alt_text",
    "duration_ms",
    "height",
    "media_key",
    "non_public_metrics",
    "organic_metrics",
    "preview_image_url",
    "promoted_metrics",
    "public_metrics",
    "type",
    "url",
    "variants",
    "width",
]
# Poll object (XD openapi.json `Poll`): id and options by default, the rest per poll.fields.
POLL_FIELDS = ["duration_minutes", "end_datetime", "id", "options", "voting_status"]
EXPANSIONS = [
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "entities.note.mentions.username",
    "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys",
    "referenced_tweets.id.author_id",
]


def fields(request: Request, param: str) -> set[str]:
    return {v.strip() for v in (request.arg(param) or "").split(",") if v.strip()}


def validate_fields(request: Request, *specs: tuple[str, list[str]]) -> Response | None:
    for param, allowed in specs:
        for value in fields(request, param):
            if value not in allowed:
                return invalid_request(
                    param,
                    value,
                    f"The `{param}` query parameter value [{value}] is not "
                    f"one of [{','.join(allowed)}]",
                )
    return None


def validate_common(request: Request) -> Response | None:
    return validate_fields(
        request,
        ("tweet.fields", TWEET_FIELDS),
        ("user.fields", USER_FIELDS),
        ("media.fields", MEDIA_FIELDS),
        ("poll.fields", POLL_FIELDS),
        ("expansions", EXPANSIONS),
    )


def validate_timeline(request: Request) -> Response | None:
    raw = request.arg("max_results")
    if raw is not None and (not raw.isdigit() or not 5 <= int(raw) <= 100):
        return invalid_request(
            "max_results",
            raw,
            f"The `max_results` query parameter value [{raw}] is not between 5 and 100",
        )
    for param in ("since_id", "until_id"):
        value = request.arg(param)
        if value is not None and not re.fullmatch(r"\d{1,19}", value):
            return invalid_request(
                param, value, f"The `{param}` query parameter value [{value}] is not valid"
            )
    for param in ("start_time", "end_time"):
        value = request.arg(param)
        if value is not None:
            try:
                parse_iso(value)
            except ValueError:
                return invalid_request(
                    param,
                    value,
                    f"The `{param}` query parameter value "
                    f"[{value}] is not a valid ISO 8601 date-time",
                )
    for value in filter(None, (request.arg("exclude") or "").split(",")):
        if value not in ("replies", "retweets"):
            return invalid_request(
                "exclude",
                value,
                f"The `exclude` query parameter value [{value}] is not one of [replies,retweets]",
            )
    token = request.arg("pagination_token")
    if token is not None and not re.fullmatch(r"7[0-9a-z]{1,14}", token):
        return invalid_request(
            "pagination_token",
            token,
            f"The `pagination_token` query parameter value [{token}] is not valid",
        )
    return None


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
