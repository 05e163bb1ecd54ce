"""The state database's tables. Changes to them go with a new Alembic migration.

The rows stay inside the store: what it hands out are the frozen values of store/values.py."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _utc_column(nullable: bool = True) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class LinkStateRow(SQLModel, table=True):
    """Per link and source network: the poll cursor and the last poll's outcome."""

    __tablename__ = "link_state"

    link: str = Field(primary_key=True, max_length=64)
    network: str = Field(primary_key=True, max_length=16)
    account_id: str | None = Field(default=None, max_length=64)
    cursor: str | None = Field(default=None, max_length=64)  # newest post id seen on this side
    last_poll_at: datetime | None = Field(default=None, sa_column=_utc_column())
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: datetime | None = Field(default=None, sa_column=_utc_column())
    # A paused side is neither polled nor published to until paused_until (or `resume`).
    # kind: "rate_limit" | "usage_cap" | "auth" | "permission" | "credits" (errors.py).
    paused_until: datetime | None = Field(default=None, sa_column=_utc_column())
    paused_kind: str | None = Field(default=None, max_length=16)
    paused_reason: str | None = Field(default=None, sa_column=Column(Text))
    # Last re-read of recently mirrored posts (to find edits and deletions).
    rechecked_at: datetime | None = Field(default=None, sa_column=_utc_column())


class ApiCallsRow(SQLModel, table=True):
    """API calls per link, network and hour, for `birdbridge status` (X bills per call)."""

    __tablename__ = "api_calls"

    link: str = Field(primary_key=True, max_length=64)
    network: str = Field(primary_key=True, max_length=16)
    hour: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    calls: int = 0
    limited: int = 0  # of which 429s


class XSpendRow(SQLModel, table=True):
    """What a link's X calls cost, per UTC day and price class (networks/x_prices.py), at the
    prices of the day they were made: ``calls`` billable replies, ``units`` what X bills (posts
    or users returned and not billed earlier that day, or requests), ``micros`` the cost in
    millionths of a dollar."""

    __tablename__ = "x_spend"
    link: str = Field(primary_key=True, max_length=64)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    price_class: str = Field(primary_key=True, max_length=32)
    calls: int = 0
    units: int = 0
    micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class XBilledRow(SQLModel, table=True):
    """A post or user X has billed a link for on a UTC day: read again that day, it is free
    (X deduplicates reads per UTC day). Rows older than yesterday are pruned."""

    __tablename__ = "x_billed"
    link: str = Field(primary_key=True, max_length=64)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    resource: str = Field(primary_key=True, max_length=80)  # "<class>:<id>"


class DeliveryRow(SQLModel, table=True):
    """The outbox: one source post to mirror onto one target network.

    status: pending -> publishing -> done, or failed / skipped. ``publishing`` with a
    ``publishing_part`` means a network call for that part may have happened: recovery must
    find out (Idempotency-Key on Mastodon, a search of own posts on X) before calling again.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint(
            "link",
            "source_network",
            "source_id",
            "target_network",
            "kind",
            name="uq_delivery_source",
        ),
        Index("ix_delivery_due", "link", "status", "next_attempt_at"),
        # The daemon's one query for every link with due deliveries (store/leases.py).
        Index("ix_delivery_open", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    link: str = Field(max_length=64)
    source_network: str = Field(max_length=16)
    source_id: str = Field(max_length=64)
    target_network: str = Field(max_length=16)
    kind: str = Field(default="post", max_length=16)  # a DeliveryKind (store/values.py)
    status: str = Field(default="pending", max_length=16)  # a DeliveryStatus
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    next_attempt_at: datetime = Field(sa_column=_utc_column(nullable=False))
    parent_source_id: str | None = Field(default=None, max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the source Post as JSON
    idempotency_token: str = Field(max_length=64)
    publishing_part: int | None = None
    publishing_text: str | None = Field(default=None, sa_column=Column(Text))
    publishing_started_at: datetime | None = Field(default=None, sa_column=_utc_column())
    # The latest attempt's start: a post that recovery adopts was created between the first
    # attempt's start and the latest one's end (promise 1: never adopt a post we did not write).
    publishing_attempt_at: datetime | None = Field(default=None, sa_column=_utc_column())
    # JSON: per source media index, the uploaded target media id and when it expires, or the
    # fallback decided for it. Kept so a retry after a crash or a 5xx reuses the uploads.
    media_state: str | None = Field(default=None, sa_column=Column(Text))
    # Fallbacks taken while delivering (a reply X refused, media not carried, ...), one per
    # line: `birdbridge status` shows them, so no fallback is silent.
    notes: str | None = Field(default=None, sa_column=Column(Text))
    # A DeliveryPhase (store/values.py: "reposting" or "held"), or None.
    phase: str | None = Field(default=None, max_length=16)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_utc_column())
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    updated_at: datetime = Field(sa_column=_utc_column(nullable=False))


class MirrorRow(SQLModel, table=True):
    """The mirror map: each part of a source post and the target post it became."""

    __tablename__ = "mirror"
    __table_args__ = (
        UniqueConstraint(
            "link",
            "source_network",
            "source_id",
            "target_network",
            "part_index",
            name="uq_mirror_source",
        ),
        UniqueConstraint("link", "target_network", "target_id", name="uq_mirror_target"),
    )

    id: int | None = Field(default=None, primary_key=True)
    link: str = Field(max_length=64)
    source_network: str = Field(max_length=16)
    source_id: str = Field(max_length=64)
    part_index: int = 0
    target_network: str = Field(max_length=16)
    target_id: str = Field(max_length=64)
    target_url: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    # A native repost: the target post it reposts. Undone with the network's "undo repost"
    # call on that post (X: DELETE /2/users/:id/retweets/:source_tweet_id), never by deleting
    # an id, which could be the reposted post itself.
    repost_of: str | None = Field(default=None, max_length=64)
    # Set when the target post was deleted (its source was deleted, or it was replaced):
    # nothing may reply to, quote or boost it any more.
    deleted_at: datetime | None = Field(default=None, sa_column=_utc_column())


class CredentialRow(SQLModel, table=True):
    """A sign-in made by `birdbridge login`, per link and network: its secrets encrypted
    (secretbox.py), and beside them what `status` shows without the key.

    ``refresh_holder`` and ``refresh_until`` are the refresh lease: one process at a time
    refreshes (X's refresh tokens are single-use: two refreshing at once would sign the link
    out), taken by a compare-and-set on ``generation``, which grows by one with every new
    sign-in and refresh."""

    __tablename__ = "credential"

    link: str = Field(primary_key=True, max_length=64)
    network: str = Field(primary_key=True, max_length=16)
    kind: str = Field(max_length=16)  # "oauth2" | "oauth1" | "mastodon"
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))  # a Fernet token
    key_id: str = Field(max_length=16)  # which key encrypted it: not secret
    account_id: str | None = Field(default=None, max_length=64)
    handle: str | None = Field(default=None, sa_column=Column(Text))
    scopes: str | None = Field(default=None, sa_column=Column(Text))
    expires_at: datetime | None = Field(default=None, sa_column=_utc_column())
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    refreshed_at: datetime | None = Field(default=None, sa_column=_utc_column())
    generation: int = 1
    refresh_holder: str | None = Field(default=None, sa_column=Column(Text))
    refresh_until: datetime | None = Field(default=None, sa_column=_utc_column())


class LinkLeaseRow(SQLModel, table=True):
    """Which worker (a `birdbridge run` or `once` process) holds a link, until when. Only the
    holder polls the link and delivers its posts; a lease not renewed by ``expires_at`` (its
    worker died) is taken over by another worker (store/leases.py)."""

    __tablename__ = "link_lease"

    link: str = Field(primary_key=True, max_length=64)
    worker: str | None = Field(default=None, max_length=64, index=True)
    expires_at: datetime | None = Field(default=None, sa_column=_utc_column())


class WorkerRow(SQLModel, table=True):
    """A live worker and how it keeps up (written at each of its lease renewals): what
    `birdbridge status` shows about the workers sharing the database, and how many there are
    (each holds its share of the links)."""

    __tablename__ = "bridge_worker"

    id: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=64)
    pid: int
    started_at: datetime = Field(sa_column=_utc_column(nullable=False))
    seen_at: datetime = Field(sa_column=_utc_column(nullable=False))
    links: int = 0  # links held
    late: int = 0  # polls that started more than half an interval late, in the last minute
    worst_lag: float = 0  # seconds: the latest start of a poll after its due time, last minute
    interval: float = 0  # the worker's poll_interval
    # Which links it can run (a hash of their names): workers that differ cannot share by
    # count alone (worker/holdings.py).
    links_hash: str = Field(default="", max_length=16)
