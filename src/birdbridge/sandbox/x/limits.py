"""X's rate limits and prices: the per-user per-15-minutes limit of each endpoint, the
``x-rate-limit-*`` headers, and what a call costs on pay-per-use."""

from __future__ import annotations

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.x.errors import problem
from birdbridge.sandbox.x.records import XUser
from birdbridge.sandbox.x.text import URL_RE

ENDPOINT_DEFAULTS: dict[str, int] = {  # per user per 15 min (api-notes X2, rate-limits.mdx)
    "POST /2/tweets": 100,
    "DELETE /2/tweets/:id": 50,
    "GET /2/users/:id/tweets": 900,
    "GET /2/users/me": 75,
    "GET /2/tweets/:id": 900,
    "GET /2/tweets": 5000,  # rate-limits.mdx: 5,000 per user (3,500 per app) per 15 min
    "POST /2/users/:id/retweets": 50,
    "DELETE /2/users/:id/retweets/:source_tweet_id": 50,
    "POST /2/media/upload": 500,
    "POST /2/media/upload/initialize": 1875,
    "POST /2/media/upload/:id/append": 1875,
    "POST /2/media/upload/:id/finalize": 1875,
    "GET /2/media/upload": 1000,
    "POST /2/media/metadata": 500,
}
DEFAULT_WINDOW_S = 900.0
# Pay-per-use (XD:x-api/getting-started/pricing.mdx, rates from 2026-04-20; see price()).
PRICE_POST, PRICE_POST_WITH_URL = 0.015, 0.20
DEFAULT_CREDITS_USD = 25.0  # a first top-up
PRICE_POST_READ, PRICE_OWNED_READ = 0.005, 0.001


def rate_limit_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(reset_at)),
    }


def too_many(limit: int, reset_at: float) -> Response:
    body = problem(429, "Too Many Requests")
    return json_response(body, 429, **rate_limit_headers(limit, 0, reset_at))


def price(endpoint_key: str, request: Request, user: XUser | None, response: Response) -> float:
    """XD:x-api/getting-started/pricing.mdx (rates from 2026-04-20): a post $0.015, a post
    with a URL $0.20, a post read $0.005 per post returned, owned reads (one's own
    timeline; an ids lookup is not on that list) $0.001 per post returned; "only
    successful responses that return data are billed" (post-cap.mdx). X's per-UTC-day
    deduplication of reads is not modelled: the sandbox bills every read."""
    body = response.body if isinstance(response.body, dict) else {}
    if endpoint_key == "POST /2/tweets":
        data = body.get("data") or {}
        text = str(data.get("text") or "")
        return PRICE_POST_WITH_URL if URL_RE.search(text) else PRICE_POST
    data = body.get("data")
    returned = len(data) if isinstance(data, list) else (1 if isinstance(data, dict) else 0)
    if endpoint_key == "GET /2/users/:id/tweets":
        owned = user is not None and request.path_params.get("id") == user.id
        return returned * (PRICE_OWNED_READ if owned else PRICE_POST_READ)
    if endpoint_key in ("GET /2/tweets", "GET /2/tweets/:id"):
        return returned * PRICE_POST_READ
    return 0.0
