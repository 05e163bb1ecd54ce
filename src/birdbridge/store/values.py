"""What goes into the store and what comes out of it: frozen values, never its rows (the
tables are in store/tables.py and stay inside the store). No SQL here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class DeliveryKind(StrEnum):
    """What a delivery carries to the target (stored as these strings)."""

    POST = "post"  # a new post: published part by part
    EDIT = "edit"  # a new version: the mirror's parts are edited (or replaced, per policy)
    DELETE = "delete"  # the source post is gone: so go the mirror's parts


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    PUBLISHING = "publishing"  # a network call for `publishing_part` may have happened
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.PUBLISHING)


class DeliveryPhase(StrEnum):
    """Where a delivery stands beyond its status (stored as these strings)."""

    # An edit the target could not make is being carried by deleting the mirror and posting
    # the new version; set before the first deletion, so that after any interruption the new
    # version is still owed (and posted), never skipped.
    REPOSTING = "reposting"
    # ... and the old version is gone: a restart posts what is missing of the new version and
    # never deletes its parts already posted (they are the live mirror now).
    REPOSTING_NEW = "reposting-new"
    # A post the poll read while a post of ours with the same text was in flight; delivered
    # only once that publish is settled and did not turn out to be this post.
    HELD = "held"


HELD = DeliveryPhase.HELD
CLOCK_SLACK = timedelta(minutes=1)  # clocks of several workers may differ a little


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class NewDelivery:
    source_network: str
    source_id: str
    target_network: str
    payload: str
    parent_source_id: str | None = None
    kind: DeliveryKind = DeliveryKind.POST
    # Read while a post of ours with the same text was in flight: delivered only once that
    # publish is settled and did not turn out to be this very post (Delivery.phase "held").
    held: bool = False


@dataclass(frozen=True)
class InFlight:
    """A part being published whose outcome is not recorded yet (for the loop guard)."""

    text: str
    started_at: datetime  # the first attempt's start
    attempt_at: datetime  # the latest attempt's start


@dataclass(frozen=True)
class LinkSummary:
    """One side of a link as `birdbridge status` shows it: its state, and the deliveries
    of its posts (pending counts those being published too) by status."""

    link: str
    network: str
    cursor: str | None
    last_poll_at: datetime | None
    last_error: str | None
    pending: int
    failed: int
    done: int
    next_retry: datetime | None = None  # the soonest an open delivery from this side is due
    paused_until: datetime | None = None
    paused_kind: str | None = None
    paused_reason: str | None = None
    last_error_at: datetime | None = None  # when the last poll failed (None: it did not)
    skipped: int = 0  # deliveries from this side given up on (policy or `birdbridge skip`)


@dataclass(frozen=True)
class LinkState:
    """One side of a link (a link and a source network): the poll cursor (the newest post id
    seen on this side), the last poll's outcome, the pause and the last re-check."""

    link: str
    network: str
    account_id: str | None = None
    cursor: str | None = None
    last_poll_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    # A paused side is neither polled nor published to until paused_until (or `resume`).
    # kind: "rate_limit" | "usage_cap" | "auth" | "permission" | "credits" (errors.py).
    paused_until: datetime | None = None
    paused_kind: str | None = None
    paused_reason: str | None = None
    rechecked_at: datetime | None = None  # the last re-read of recently mirrored posts


@dataclass(frozen=True)
class Delivery:
    """One source post (or its edit or deletion) to carry onto one target network.

    status: pending -> publishing -> done, or failed / skipped. ``publishing`` with a
    ``publishing_part`` means a network call for that part may have happened: recovery must
    find out before calling again. Times are UTC.
    """

    id: int
    link: str
    source_network: str
    source_id: str
    target_network: str
    kind: DeliveryKind
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    parent_source_id: str | None
    payload: str  # the source Post as JSON
    idempotency_token: str
    publishing_part: int | None
    publishing_text: str | None
    publishing_started_at: datetime | None  # the first attempt's start
    publishing_attempt_at: datetime | None  # the latest attempt's start
    # JSON: per source media index, the uploaded target media id and when it expires, or the
    # fallback decided for it.
    media_state: str | None
    notes: str | None  # fallbacks taken, one per line (`birdbridge status`)
    phase: DeliveryPhase | None
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Mirror:
    """One part of a source post and the target post it became (times are UTC)."""

    id: int
    link: str
    source_network: str
    source_id: str
    part_index: int
    target_network: str
    target_id: str
    target_url: str | None
    created_at: datetime
    repost_of: str | None  # a native repost: the target post it reposts (undone, not deleted)
    deleted_at: datetime | None  # the target post is gone: never replied to or pointed at


CREDENTIAL_KINDS = ("oauth2", "oauth1", "mastodon")


@dataclass(frozen=True)
class CredentialSummary:
    """A stored sign-in without its secrets: what `status` and `check` show without the key.

    ``kind``: "oauth2" (X with a refresh token), "oauth1" (X's access token and secret) or
    "mastodon". ``expires_at`` is the access token's expiry (UTC; None: it does not expire);
    ``generation`` counts new sign-ins and refreshes; ``key_id`` names the key that encrypted
    the secrets (secretbox.py)."""

    link: str
    network: str
    kind: str
    account_id: str | None
    handle: str | None
    scopes: str | None
    expires_at: datetime | None
    created_at: datetime  # when this sign-in was made (a new sign-in resets it)
    refreshed_at: datetime | None  # the latest refresh of this sign-in
    generation: int
    key_id: str


@dataclass(frozen=True)
class StoredCredential(CredentialSummary):
    """A stored sign-in with its decrypted secrets (access_token, refresh_token,
    access_token_secret, client_id, client_secret, consumer_key, consumer_secret: whichever
    its kind has). The secrets never appear in its repr."""

    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
