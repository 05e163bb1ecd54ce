"""What each X API call birdbridge makes costs, and how X counts it.

X's self-serve access is pay-per-use since 2026-02-06 (XD:changelog.mdx). The table below is
X's rate card as published on 2026-04-20 (XD:x-api/getting-started/pricing.mdx and the
changelog entry "X API pricing update: Owned Reads now $0.001"); which card an endpoint uses
comes from the docs site's own endpoint-to-price mapping (XD:sliders.js,
``buildSlugToPricingTypeMapping``). Prices change: ``[bridge.x_prices]`` overrides any class.

How X bills, from those pages (the answers the bridge relies on):

- **Reads are billed per resource returned**, not per request: "Charged per resource returned
  in the response". An empty poll returns no post and costs nothing; a page of 7 posts costs 7.
  Expanded objects are resources too: the users of ``expansions=author_id`` are User reads and
  the referenced posts are Post reads (X's own agent guide bills "expanded authors" per user).
- **Reads are deduplicated per UTC day**: a post read twice between two midnights (UTC) is
  billed once ("a soft guarantee"). A re-check of a post read earlier that day is free; the
  same re-check after midnight is billed again.
- **Owned reads** ($0.001) apply to ``GET /2/users/{id}/tweets`` only "when {id} matches the
  authenticated user and that user is the owner of the developer app". A lookup by ids
  (``GET /2/tweets``, what a re-check uses) is not on the owned list: regular Post reads.
  Whether the signed-in account owns the app is not something the API says: tokens from the
  config (generated in the developer portal) belong to the app's owner; a sign-in with
  ``birdbridge login x`` may be anyone's, so it is billed at the regular rate unless
  ``[links.twitter] app_owner = true``.
- **Writes are billed per request**: a post $0.015, a post whose text contains a URL $0.20
  (summoned replies $0.01: whether a reply to one's own post counts as summoned is not
  documented, so a thread's parts are counted at the post rate). An edit is a post
  (``create-or-edit-post``). Deleting a post is Content: Manage ($0.005); a repost is a User
  Interaction ($0.015), undoing it an Interaction: Delete ($0.010); alt text is Media Metadata
  ($0.005). Media uploads (one-shot, initialize, append, finalize) map to Content: Create, the
  post rate, per request; the STATUS check is mapped to Counts: Recent ($0.005) with the note
  "may need to verify" -- both counted, so that a budget errs on the side of stopping early.
- A URL is what X links: twitter-text's finder (render/urls.py), so ``example.com`` written
  without a scheme counts as a URL, as it does on X.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from birdbridge.models import MICRO, PRICE_LABELS, Charge
from birdbridge.render.urls import find_urls

PRICES_AS_OF = date(2026, 4, 20)
PRICES_SOURCE = "https://docs.x.com/x-api/getting-started/pricing"


class PriceClass(StrEnum):
    """One line of X's rate card, as birdbridge's calls meet it."""

    OWNED_READ = "owned_read"  # Owned Reads: own timeline, per post returned
    POST_READ = "post_read"  # Posts: Read, per post returned
    USER_READ = "user_read"  # User: Read, per user returned
    POST = "post"  # Post: Create, per request
    POST_WITH_URL = "post_with_url"  # Post: Create (with URL), per request
    MEDIA_UPLOAD = "media_upload"  # upload / initialize / append / finalize: Content: Create
    MEDIA_STATUS = "media_status"  # upload STATUS: Counts: Recent (placeholder on X's side)
    MEDIA_METADATA = "media_metadata"  # alt text
    DELETE = "delete"  # Content: Manage
    REPOST = "repost"  # User Interaction: Create
    UNDO_REPOST = "undo_repost"  # Interaction: Delete

    @property
    def per_resource(self) -> bool:
        return self in PER_RESOURCE

    @property
    def label(self) -> str:
        return PRICE_LABELS[self.value]


PER_RESOURCE = frozenset({PriceClass.OWNED_READ, PriceClass.POST_READ, PriceClass.USER_READ})


# US dollars per unit (a resource returned, or a request), X's rate card of 2026-04-20.
DEFAULT_PRICES: Mapping[PriceClass, float] = {
    PriceClass.OWNED_READ: 0.001,
    PriceClass.POST_READ: 0.005,
    PriceClass.USER_READ: 0.010,
    PriceClass.POST: 0.015,
    PriceClass.POST_WITH_URL: 0.200,
    PriceClass.MEDIA_UPLOAD: 0.015,
    PriceClass.MEDIA_STATUS: 0.005,
    PriceClass.MEDIA_METADATA: 0.005,
    PriceClass.DELETE: 0.005,
    PriceClass.REPOST: 0.015,
    PriceClass.UNDO_REPOST: 0.010,
}


@dataclass(frozen=True)
class PriceTable:
    """Millionths of a dollar per unit, per class: X's card with the config's overrides."""

    micros: Mapping[PriceClass, int]

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, float] | None = None) -> PriceTable:
        prices = {k: round(v * MICRO) for k, v in DEFAULT_PRICES.items()}
        for key, value in (overrides or {}).items():
            prices[PriceClass(key)] = round(value * MICRO)
        return cls(prices)

    def of(self, price_class: PriceClass, units: int = 1) -> int:
        return self.micros[price_class] * units


DEFAULT_TABLE = PriceTable.with_overrides()


@dataclass(frozen=True)
class Billed:
    """One billable thing a reply did: ``units`` of a class; for reads, the resources' ids."""

    price_class: PriceClass
    units: int
    resources: tuple[str, ...] = ()

    def charge(self, prices: PriceTable) -> Charge:
        kind = "user" if self.price_class is PriceClass.USER_READ else "post"
        return Charge(
            self.price_class.value,
            self.units,
            prices.of(self.price_class),
            self.resources,
            resource_kind=kind if self.resources else "",
        )


def has_url(text: str | None) -> bool:
    """Would X count ``text`` as "a Post containing a URL"? What twitter-text links."""
    return bool(text) and bool(find_urls(text or "", without_scheme=True))


def write_class(method: str, path: str, body: Any) -> PriceClass | None:
    """The class of a write before it is sent (None: not billed), from its method, path and
    JSON body: what a budget must know before spending."""
    method = method.upper()
    parts = [p for p in path.split("/") if p]
    if parts[:2] != ["2", "media"] and parts[:2] != ["2", "tweets"] and parts[:2] != ["2", "users"]:
        return None
    if method == "POST" and parts == ["2", "tweets"]:
        text = body.get("text") if isinstance(body, dict) else None
        return PriceClass.POST_WITH_URL if has_url(text) else PriceClass.POST
    if method == "DELETE" and len(parts) == 3 and parts[1] == "tweets":
        return PriceClass.DELETE
    if method == "POST" and len(parts) == 4 and parts[1] == "users" and parts[3] == "retweets":
        return PriceClass.REPOST
    if method == "DELETE" and len(parts) == 5 and parts[1] == "users" and parts[3] == "retweets":
        return PriceClass.UNDO_REPOST
    if method == "POST" and parts[:3] == ["2", "media", "metadata"]:
        return PriceClass.MEDIA_METADATA
    if method == "POST" and parts[:3] == ["2", "media", "upload"]:
        return PriceClass.MEDIA_UPLOAD
    return None


def read_charges(method: str, path: str, body: Any, *, owned: bool) -> list[Billed]:
    """What a successful read reply is billed: each post and user it returned (``data`` and
    the expansions in ``includes``), by id."""
    parts = [p for p in path.split("/") if p]
    if method.upper() != "GET" or parts[:1] != ["2"] or not isinstance(body, dict):
        return []
    if parts[:3] == ["2", "media", "upload"]:
        return [Billed(PriceClass.MEDIA_STATUS, 1)]
    own_timeline = len(parts) == 4 and parts[1] == "users" and parts[3] == "tweets"
    if parts[1] == "users" and not own_timeline:
        main = PriceClass.USER_READ  # GET /2/users/me and lookups of users
    elif parts[1] == "tweets" or own_timeline:
        main = PriceClass.OWNED_READ if own_timeline and owned else PriceClass.POST_READ
    else:
        return []
    charges = [_resources(main, body.get("data"))]
    includes = body.get("includes")
    if isinstance(includes, dict):
        charges.append(_resources(PriceClass.POST_READ, includes.get("tweets")))
        charges.append(_resources(PriceClass.USER_READ, includes.get("users")))
    return [charge for charge in charges if charge.units]


def _resources(price_class: PriceClass, data: Any) -> Billed:
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    ids = tuple(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)
    return Billed(price_class, len(ids), ids)


def request_json(body: bytes | str | None) -> Any:
    """A prepared request's JSON body (tweepy and the uploader send JSON), or None."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # multipart (a media upload) or form data: its class needs no body


def path_of(url: str) -> str:
    return urlsplit(url).path
