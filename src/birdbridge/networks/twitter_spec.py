"""What birdbridge asks X for and what X allows: the field lists of every read, page sizes,
the limits of posts, polls and media, and the checks of a reply's body (api-notes X1, X2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from birdbridge.errors import Transient
from birdbridge.media.rules import GifRules, ImageLimits, VideoRules
from birdbridge.models import MediaKind
from birdbridge.networks.base import MediaLimits
from birdbridge.render.polls import PollLimits

# tweepy's PUBLIC_TWEET_FIELDS omits note_tweet (api-notes X1): ask for what we use.
TWEET_FIELDS = [
    "id",
    "text",
    "author_id",
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "entities",
    "note_tweet",
    "lang",
    "possibly_sensitive",
    "attachments",
    "edit_history_tweet_ids",
]
MEDIA_FIELDS = ["media_key", "type", "url", "variants", "alt_text", "width", "height"]
# The retweeted / quoted originals and their authors come along in `includes` (one read).
EXPANSIONS = [
    "attachments.media_keys",
    "attachments.poll_ids",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
    # The author comes along at no extra call: the account's `protected` flag is learnt with
    # every poll that returns posts, not once per process.
    "author_id",
]
POLL_FIELDS = ["id", "options", "duration_minutes", "end_datetime", "voting_status"]
USER_FIELDS = ["id", "username", "protected"]
READ_PARAMS: dict[str, Any] = {
    "tweet_fields": TWEET_FIELDS,
    "expansions": EXPANSIONS,
    "media_fields": MEDIA_FIELDS,
    "poll_fields": POLL_FIELDS,
    "user_fields": USER_FIELDS,
    "user_auth": True,
}
LOOKUP_BATCH = 100  # GET /2/tweets?ids= takes at most 100 ids (docs.x.com posts/lookup)
# docs.x.com posts/manage-tweets (create): 2-4 options of at most 25 characters, 5 minutes to
# 7 days, one choice.
X_POLL_LIMITS = PollLimits(
    min_options=2,
    max_options=4,
    max_option_chars=25,
    min_duration=5 * 60,
    max_duration=10080 * 60,
    multiple=False,
)
# docs.x.com x-api/media/introduction: images 5 MB, GIF 15 MB, video 512 MB; 4 photos or 1
# GIF/video per post; alt text up to 1000 characters. Video and GIF rules: x-api/media/
# quickstart/best-practices.mdx (xdevplatform/docs 5c7cc744, 2026-06-01), "Advanced": 60 FPS or
# less; between 32x32 and 1280x1024 (read literally, width <= 1280 and height <= 1024, although
# the same page recommends a 720x1280 portrait); 0.5 to 140 seconds; aspect ratio 1:3 to 3:1;
# pixel aspect 1:1; only YUV 4:2:0 (8-bit: the 10-bit formats are transcoded to be safe).
# "Animated GIF recommendations": <= 1280x1080, <= 350 frames, width * height * frames <= 300
# million.
X_MEDIA_LIMITS = MediaLimits(
    max_per_post=4,
    kinds=frozenset({MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO}),
    image=ImageLimits(
        types=frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
        max_bytes=5 * 1024 * 1024,
        max_pixels=8192 * 8192,
    ),
    gif_bytes=15 * 1024 * 1024,
    video_bytes=512 * 1024 * 1024,
    video_types=frozenset({"video/mp4", "video/quicktime"}),
    alt_text_chars=1000,
    video_rules=VideoRules(
        min_seconds=0.5,
        max_seconds=140,
        min_width=32,
        min_height=32,
        max_width=1280,
        max_height=1024,
        max_frame_rate=60,
        min_aspect=1 / 3,
        max_aspect=3,
        pixel_formats=frozenset({"yuv420p", "yuvj420p"}),
        square_pixels=True,
    ),
    gif_rules=GifRules(
        max_width=1280, max_height=1080, max_frames=350, max_total_pixels=300_000_000
    ),
)
PAGE_SIZE = 100  # the endpoint's maximum (5..100)
FIRST_POLL_PAGE = 5  # the minimum max_results: the first poll only needs the newest id
# A cursor of this form means "nothing seen yet; take posts created after this instant".
# Clock skew allowance when searching our own recent posts after a crash.
RECOVERY_MARGIN = timedelta(minutes=5)
TIME_CURSOR = "t:"


def not_found_ids(body: Any) -> set[str]:
    """Ids X reports as gone: ``errors`` of type resource-not-found (deleted, or never
    existed). Other errors (a protected author, suspension) say nothing about deletion."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return {
        str(error.get("resource_id") or error.get("value"))
        for error in errors or []
        if isinstance(error, dict) and "not-found" in str(error.get("type", ""))
    }


def json_body(response: Any) -> Any:
    """tweepy's ``Client.request`` returns the raw requests.Response."""
    try:
        return response.json()
    except (ValueError, AttributeError):
        raise Transient("X: reply is not JSON", network="twitter") from None


def expect_dict(body: Any, key: str, what: str) -> dict[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict) or "id" not in value:
        raise Transient(f"X {what}: reply has no {key!r} object", network="twitter")
    return value


def expect_list(body: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise Transient("X: reply is not a JSON object", network="twitter")
    value = body.get(key, [])
    if not isinstance(value, list):
        raise Transient(f"X: reply's {key!r} is not a list", network="twitter")
    return [item for item in value if isinstance(item, dict)]
