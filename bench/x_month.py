"""Replay a month of a two-way user against the sandboxes and print birdbridge's X bill, by
price class, next to the bill of the naive way.

The user (direction "both", so deletions are mirrored): every day 20 posts on X and 20 on
Mastodon, between 06:00 and 22:30 UTC, of which 3 carry a picture (with alt text) and 1 a link
the user wrote; every third day one edit (5 minutes after posting, inside X's edit window) and
one deletion (40 minutes after posting) on each side. A day of history (20 posts a side) comes
before the month, so the first polls find something.

How: one ``LinkEngine`` between an ``XSandbox`` and a ``MastodonSandbox`` (real HTTP on
127.0.0.1, in this process), driven by a fake clock: ``cycle()`` every ``poll_interval`` (60 s)
of fake time, as the daemon would (no jitter, no separate retry job), with X polled less often
when quiet (up to ``max_poll_interval``, 600 s). The user's posts are made at their times with
that ``created_at``, and both sandboxes run on the same clock (their ``clock`` attribute).
In a real month ``store.values.utcnow()`` and the engine's clock agree; the store stamps new
deliveries with ``utcnow()`` where the engine does not hand its ``now`` down (engine/poll.py,
engine/recheck.py), so the bench points ``utcnow`` at the fake clock too.

Counted three ways:

- **birdbridge's meter** (under test): ``store.x_spend`` -- the till's charges with X's
  per-UTC-day deduplication of reads applied by the store;
- **an independent count** of the X sandbox's request log (every exchange kept, classified here
  from X's rate card as networks/x_prices.py's docstring states it, URLs found by the sandbox's
  own twitter-text finder, reads deduplicated per UTC day of the fake clock): its deduplicated
  figures must equal the meter's; its raw figures are birdbridge's reads "without dedup";
- **the naive way**, computed from the same month's X timeline (each post's ``created_at`` and
  when it was deleted or replaced by an edit, read from the sandbox and its request log): a
  poll every minute WITHOUT ``since_id`` that returns the newest page of the user's timeline
  (``--naive-page``, 10 posts: the endpoint's default ``max_results``; posts only, no
  expansions), and every mirrored X post re-read by id every 15 minutes for 24 hours
  (``GET /2/tweets``, one call per 15-minute tick), with and without the per-day dedup. Its
  writes are the same as birdbridge's.

    python bench/x_month.py                 # 30 days (about 15 minutes)
    python bench/x_month.py --days 2
    python bench/x_month.py --json bench/results/x_month.json
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import random
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from birdbridge.config import Config, parse_config
from birdbridge.engine import LinkEngine
from birdbridge.models import MICRO
from birdbridge.networks.factory import build_adapters
from birdbridge.networks.x_prices import DEFAULT_PRICES, PRICES_AS_OF, PriceClass
from birdbridge.sandbox.common.server import LoggedRequest
from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox
from birdbridge.sandbox.x.text import url_spans
from birdbridge.store import Store

LINK = "bench"
USER = "alice"
POSTS_PER_DAY = 20
PICTURES_PER_DAY = 3
LINKS_PER_DAY = 1
CHANGES_EVERY = 3  # days: one edit and one deletion on each side
EDIT_AFTER = timedelta(minutes=5)
DELETE_AFTER = timedelta(minutes=40)
FIRST_POST, LAST_POST = timedelta(hours=6), timedelta(hours=22, minutes=30)
NAIVE_RECHECK_EVERY = timedelta(minutes=15)
NAIVE_RECHECK_FOR = timedelta(hours=24)
ISSUE_RECHECKS_PER_DAY = 1920  # the issue: 20 posts x 96 re-reads a day, "≈ $58/month"

READS = (PriceClass.OWNED_READ, PriceClass.POST_READ, PriceClass.USER_READ)
WRITES = tuple(c for c in PriceClass if c not in READS)  # per request (media_status too)
PRICE = {c: round(DEFAULT_PRICES[c] * MICRO) for c in PriceClass}  # millionths of a dollar


# -- the fake clock ----------------------------------------------------------------------
class FakeClock:
    """The engine's and both sandboxes' clock: moved by the bench, never by itself."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


def follow_clock(clock: Callable[[], datetime]) -> None:
    """Make every ``utcnow`` the store and the engine imported the fake clock."""
    from birdbridge.store import values

    original = values.utcnow
    for name, module in list(sys.modules.items()):
        if name.startswith("birdbridge") and getattr(module, "utcnow", None) is original:
            setattr(module, "utcnow", clock)  # noqa: B010 (a module, not an object of ours)


# -- the user's month --------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    at: datetime
    side: str  # "x" | "mastodon"
    kind: str  # "post" | "edit" | "delete"
    key: str  # the post's name
    text: str = ""
    picture: bool = False
    link: bool = False
    history: bool = False  # before the month: not mirrored, only there to be read


def month_of_actions(start: datetime, days: int, seed: int) -> list[Action]:
    rng = random.Random(seed)
    actions: list[Action] = []
    for side in ("x", "mastodon"):
        for i in range(POSTS_PER_DAY):  # yesterday's posts: the user's history
            at = start - timedelta(days=1) + FIRST_POST + timedelta(minutes=45 * i)
            text = f"Yesterday on {side}, post {i + 1}: an older thought."
            actions.append(Action(at, side, "post", f"{side}-h{i}", text, history=True))
    for day in range(days):
        midnight = start + timedelta(days=day)
        for side in ("x", "mastodon"):
            span = int((LAST_POST - FIRST_POST).total_seconds())
            offsets = sorted(rng.sample(range(span), POSTS_PER_DAY))
            special = rng.sample(range(POSTS_PER_DAY), PICTURES_PER_DAY + LINKS_PER_DAY)
            pictures, links = set(special[:PICTURES_PER_DAY]), set(special[PICTURES_PER_DAY:])
            plain = [i for i in range(POSTS_PER_DAY) if i not in pictures | links]
            for i, offset in enumerate(offsets):
                at = midnight + FIRST_POST + timedelta(seconds=offset)
                key = f"{side}-d{day + 1:02d}-{i + 1:02d}"
                text = f"Day {day + 1}, post {i + 1} on {side}: what the user had to say."
                if i in links:
                    text += f" Worth reading: https://example.com/{side}/{day + 1}/{i + 1}"
                if i in pictures:
                    text += " A picture of it."
                actions.append(Action(at, side, "post", key, text, i in pictures, i in links))
            if day % CHANGES_EVERY == CHANGES_EVERY - 2 or (days < CHANGES_EVERY and day == 0):
                edited, deleted = rng.sample(plain, 2)
                edit_key = f"{side}-d{day + 1:02d}-{edited + 1:02d}"
                edit_at = midnight + FIRST_POST + timedelta(seconds=offsets[edited]) + EDIT_AFTER
                text = f"Day {day + 1}, post {edited + 1} on {side}: what the user meant (edited)."
                actions.append(Action(edit_at, side, "edit", edit_key, text))
                delete_key = f"{side}-d{day + 1:02d}-{deleted + 1:02d}"
                delete_at = midnight + FIRST_POST + timedelta(seconds=offsets[deleted])
                actions.append(Action(delete_at + DELETE_AFTER, side, "delete", delete_key))
    actions.sort(key=lambda a: (a.at, a.side, a.key))
    return actions


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small PNG of one colour."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = (b"\x00" + bytes(rgb) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class User:
    """The user, posting, editing and deleting in each network's own app (the control API)."""

    def __init__(self, x: XSandbox, masto: MastodonSandbox) -> None:
        self.x, self.masto = x, masto
        self.ids: dict[str, str] = {}  # post key -> its id now (an X edit makes a new id)
        self.originals: dict[str, str] = {}  # post key -> its first id
        self.pictures = 0

    def act(self, action: Action) -> None:
        if action.kind == "post":
            post_id = self._post(action)
            self.ids[action.key] = self.originals[action.key] = post_id
        elif action.kind == "edit" and action.side == "x":
            self.ids[action.key] = str(self.x.edit_post(self.ids[action.key], action.text)["id"])
        elif action.kind == "edit":
            self.masto.edit_post(self.ids[action.key], action.text)
        elif action.side == "x":
            self.x.delete_post(self.ids[action.key])
        else:
            self.masto.delete_post(self.ids[action.key])

    def _post(self, action: Action) -> str:
        media: list[dict[str, Any]] = []
        if action.picture:
            self.pictures += 1
            shade = (40 * self.pictures % 256, 90, 160)
            data, alt = png(64, 48, shade), f"A picture, number {self.pictures}"
            if action.side == "x":
                media = [{"type": "photo", "data": data, "alt_text": alt}]
            else:
                media = [{"type": "image", "data": data, "description": alt}]
        if action.side == "x":
            made = self.x.create_post(USER, action.text, created_at=action.at, media=media)
        else:
            made = self.masto.create_post(USER, action.text, created_at=action.at, media=media)
        return str(made["id"])


# -- counting ----------------------------------------------------------------------------
@dataclass
class Line:
    """One price class: billable replies, units billed, millionths of a dollar."""

    calls: int = 0
    units: int = 0
    micros: int = 0

    def add(self, price_class: PriceClass, units: int, calls: int = 1) -> None:
        self.calls += calls
        self.units += units
        self.micros += units * PRICE[price_class]


Bill = dict[PriceClass, Line]


def new_bill() -> Bill:
    return defaultdict(Line)


def total(bill: Bill, classes: Iterable[PriceClass] = tuple(PriceClass)) -> int:
    return sum(bill[c].micros for c in classes if c in bill)


class SandboxCount:
    """X's bill counted from the X sandbox's request log, apart from birdbridge's meter: every
    2xx reply under /2/ classified by method and path from X's rate card; reads per resource
    returned (``data`` and ``includes`` posts and users), once per UTC day (``billed``) and
    without that (``raw``); writes per request."""

    def __init__(self, owner_id: str) -> None:
        self.owner_id = owner_id
        self.billed = new_bill()
        self.raw = new_bill()
        self.requests: Counter[str] = Counter()  # every X API request, by method and path
        self.unbilled: Counter[str] = Counter()
        self.deleted_at: dict[str, datetime] = {}  # X posts deleted by birdbridge, and when
        self.lookups: list[tuple[datetime, list[str]]] = []  # re-checks: when, ids returned
        self._seen: set[tuple[date, str, str]] = set()

    def take(self, log: list[LoggedRequest], now: datetime) -> None:
        for entry in log:
            if entry.path.startswith("/2/"):
                self.requests[f"{entry.method} {_shape(entry.path)}"] += 1
                self._one(entry, now)

    def _one(self, entry: LoggedRequest, now: datetime) -> None:
        response, request = entry.response, entry.request
        if response is None or request is None or not 200 <= response.status < 300:
            return
        method, parts = entry.method, entry.path.strip("/").split("/")
        if method == "GET":
            self._read(parts, response.body if isinstance(response.body, dict) else {}, now)
            return
        is_json = request.headers.get("content-type", "").startswith("application/json")
        price_class = _write_class(method, parts, request.json() if is_json else None)
        if price_class is None:
            self.unbilled[f"{method} {_shape(entry.path)}"] += 1
            return
        if price_class is PriceClass.DELETE:
            self.deleted_at[parts[2]] = now
        self.billed[price_class].add(price_class, 1)
        self.raw[price_class].add(price_class, 1)

    def _read(self, parts: list[str], body: dict[str, Any], now: datetime) -> None:
        if parts[:3] == ["2", "media", "upload"]:  # STATUS: per request, as a write
            self.billed[PriceClass.MEDIA_STATUS].add(PriceClass.MEDIA_STATUS, 1)
            self.raw[PriceClass.MEDIA_STATUS].add(PriceClass.MEDIA_STATUS, 1)
            return
        if parts == ["2", "users", "me"]:
            main = PriceClass.USER_READ
        elif len(parts) == 4 and parts[1] == "users" and parts[3] == "tweets":
            owned = parts[2] == self.owner_id
            main = PriceClass.OWNED_READ if owned else PriceClass.POST_READ
        elif parts[1] == "tweets":
            main = PriceClass.POST_READ
        else:
            self.unbilled[f"GET {'/'.join(parts)}"] += 1
            return
        data = body.get("data")
        items = data if isinstance(data, list) else [data] if data else []
        if parts == ["2", "tweets"]:
            self.lookups.append((now, [str(item["id"]) for item in items]))
        self._resources(main, items, now)
        includes = body.get("includes") or {}
        self._resources(PriceClass.POST_READ, includes.get("tweets") or [], now)
        self._resources(PriceClass.USER_READ, includes.get("users") or [], now)

    def _resources(self, price_class: PriceClass, items: list[Any], now: datetime) -> None:
        ids = list(dict.fromkeys(str(item["id"]) for item in items if "id" in item))
        if not ids:
            return
        # X bills a resource (a post, a user) once per UTC day, whichever endpoint and rate
        # read it first: a post polled (owned read) and re-checked (post read) is billed once.
        kind = "user" if price_class is PriceClass.USER_READ else "post"
        fresh = [i for i in ids if (now.date(), kind, i) not in self._seen]
        self._seen.update((now.date(), kind, i) for i in fresh)
        self.raw[price_class].add(price_class, len(ids))
        self.billed[price_class].add(price_class, len(fresh))  # no fresh id: still a call


def _shape(path: str) -> str:
    return "/".join(":id" if len(part) > 4 and part.isdigit() else part for part in path.split("/"))


def _write_class(method: str, parts: list[str], body: Any) -> PriceClass | None:
    if method == "POST" and parts == ["2", "tweets"]:
        text = str(body.get("text") or "") if isinstance(body, dict) else ""
        return PriceClass.POST_WITH_URL if url_spans(text) else PriceClass.POST
    if method == "DELETE" and parts[:2] == ["2", "tweets"] and len(parts) == 3:
        return PriceClass.DELETE
    if parts[:3] == ["2", "media", "upload"] and method == "POST":
        return PriceClass.MEDIA_UPLOAD  # one-shot, initialize, append, finalize
    if parts[:3] == ["2", "media", "metadata"] and method == "POST":
        return PriceClass.MEDIA_METADATA
    if parts[:2] == ["2", "users"] and len(parts) == 4 and parts[3] == "retweets":
        return PriceClass.REPOST
    if parts[:2] == ["2", "users"] and len(parts) == 5 and parts[3] == "retweets":
        return PriceClass.UNDO_REPOST
    return None


def meter_bill(config: Config, start: datetime, end: datetime) -> Bill:
    """birdbridge's own figures: what the store recorded for the link over the month."""
    store = Store.open(config.bridge.database_url)
    try:
        lines = store.x_spend(start.date(), (end - timedelta(microseconds=1)).date())
    finally:
        store.close()
    bill = new_bill()
    for name, line in lines.get(LINK, {}).items():
        bill[PriceClass(name)] = Line(line.calls, line.units, line.micros)
    return bill


# -- the naive way -----------------------------------------------------------------------
@dataclass
class TimelinePost:
    id: int
    created_at: datetime
    gone_at: datetime | None  # deleted, or replaced by its next version


def month_timeline(
    x: XSandbox, user: User, actions: list[Action], deleted_by_bridge: dict[str, datetime]
) -> list[TimelinePost]:
    """Every post that was on the user's X timeline during the month, with when it left it."""
    tweets = x.posts(USER, include_deleted=True, include_superseded=True)
    created = {str(t["id"]): _parse(t["created_at"]) for t in tweets}
    chains = {str(t["id"]): [str(i) for i in t["edit_history_tweet_ids"]] for t in tweets}
    gone: dict[str, datetime] = {}
    deletions = {user.ids[a.key]: a.at for a in actions if a.kind == "delete" and a.side == "x"}
    for post_id, at in [*deletions.items(), *deleted_by_bridge.items()]:
        for version in chains.get(post_id, [post_id]):  # a deletion takes the whole chain
            gone[version] = min(at, gone.get(version, at))
    for chain in chains.values():
        for older, newer in pairwise(chain):
            gone[older] = min(created[newer], gone.get(older, created[newer]))
    return sorted(
        (TimelinePost(int(i), created[i], gone.get(i)) for i in created), key=lambda p: p.id
    )


def naive_polls(
    timeline: list[TimelinePost],
    start: datetime,
    end: datetime,
    every: timedelta,
    page: int,
    seen: set[tuple[date, int]],
) -> tuple[Line, Line]:
    """A poll every ``every`` without since_id: the newest ``page`` posts each time. Returns
    (per-day dedup, no dedup), owned reads."""
    events: list[tuple[datetime, int, int]] = []  # (when, +1 in / -1 out, id)
    for post in timeline:
        events.append((post.created_at, 1, post.id))
        if post.gone_at is not None:
            events.append((post.gone_at, -1, post.id))
    events.sort()
    shown: list[int] = []  # ids on the timeline, ascending
    billed, raw = Line(), Line()
    cls, i, t = PriceClass.OWNED_READ, 0, start
    while t < end:
        while i < len(events) and events[i][0] <= t:
            _, sign, post_id = events[i]
            if sign > 0:
                bisect.insort(shown, post_id)
            else:
                del shown[bisect.bisect_left(shown, post_id)]
            i += 1
        newest = shown[-page:]
        if newest:
            raw.add(cls, len(newest))
            fresh = [p for p in newest if (t.date(), p) not in seen]
            seen.update((t.date(), p) for p in fresh)
            billed.add(cls, len(fresh))
        t += every
    return billed, raw


def naive_rechecks(
    sources: list[tuple[int, datetime, datetime | None]],
    start: datetime,
    end: datetime,
    per_day: Counter[date],
    seen: set[tuple[date, int]],
) -> tuple[Line, Line]:
    """Every mirrored X post (created, deleted) re-read by id every 15 minutes for 24 hours,
    all due ids in one GET /2/tweets per tick; a deleted post is not returned (not billed).
    Returns (per-day dedup, no dedup), post reads; ``per_day`` gets the reads of each day."""
    billed, raw = Line(), Line()
    cls, t = PriceClass.POST_READ, start + NAIVE_RECHECK_EVERY
    while t < end:
        due = [
            n
            for n, created, deleted in sources
            if t - NAIVE_RECHECK_FOR <= created < t and (deleted is None or deleted > t)
        ]
        if due:
            per_day[t.date()] += len(due)
            raw.add(cls, len(due))
            fresh = [n for n in due if (t.date(), n) not in seen]
            seen.update((t.date(), n) for n in fresh)
            billed.add(cls, len(fresh))
        t += NAIVE_RECHECK_EVERY
    return billed, raw


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- the expected writes -----------------------------------------------------------------
def expected_writes(actions: list[Action]) -> Bill:
    """What the user's Mastodon posts cost to mirror to X: a post each ($0.20 with a link),
    one upload and one alt text per picture, an edit is a post, a deletion is Content: Manage.
    The user's X posts cost nothing to write (Mastodon is free)."""
    bill = new_bill()
    for a in actions:
        if a.side != "mastodon" or a.history:
            continue
        if a.kind == "post":
            cls = PriceClass.POST_WITH_URL if a.link else PriceClass.POST
            bill[cls].add(cls, 1)
            if a.picture:
                bill[PriceClass.MEDIA_UPLOAD].add(PriceClass.MEDIA_UPLOAD, 1)
                bill[PriceClass.MEDIA_METADATA].add(PriceClass.MEDIA_METADATA, 1)
        elif a.kind == "edit":
            bill[PriceClass.POST].add(PriceClass.POST, 1)
        else:
            bill[PriceClass.DELETE].add(PriceClass.DELETE, 1)
    return bill


# -- the run -----------------------------------------------------------------------------
@dataclass
class Run:
    meter: Bill
    count: SandboxCount
    naive_billed: dict[str, Line]
    naive_raw: dict[str, Line]
    expected: Bill
    cycles: int
    skipped: int
    seconds: float
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    recheck_sources: int = 0
    recheck_ages: dict[str, int] = field(default_factory=dict)
    naive_rechecks_per_day: list[int] = field(default_factory=list)  # no dedup, day by day


def config_for(x: XSandbox, masto: MastodonSandbox, token: str, db: str, poll: float) -> Config:
    u = x.user(USER)
    text = f"""
[bridge]
database_url = "{db}"
poll_interval = {poll}
[[links]]
name = "{LINK}"
direction = "both"
[links.twitter]
api_base_url = "{x.url}"
consumer_key = "{u.consumer_key}"
consumer_secret = "{u.consumer_secret}"
access_token = "{u.access_token}"
access_token_secret = "{u.access_token_secret}"
[links.mastodon]
api_base_url = "{masto.url}"
access_token = "{token}"
"""
    return parse_config(text, "<bench>", environ={})


def run(
    days: int,
    start: datetime,
    seed: int,
    page: int,
    poll: float,
    tmp: Path,
    every_minute: bool = False,
) -> Run:
    clock = FakeClock(start - timedelta(days=1))
    follow_clock(clock)
    actions = month_of_actions(start, days, seed)
    end = start + timedelta(days=days)
    # credits_usd=None: not metered by the sandbox (the month would spend its first $25)
    with XSandbox(credits_usd=None) as x, MastodonSandbox() as masto:
        x.clock = masto.clock = clock.epoch
        x.keep_exchanges = True  # the replies' bodies: the independent count reads them
        x_user = x.create_user(USER, "Alice", premium=True)  # premium: X edits
        m_user = masto.create_user(USER, "Alice")
        user = User(x, masto)
        config = config_for(x, masto, m_user.access_token, f"sqlite:///{tmp / 'bench.db'}", poll)
        link = config.links[0]
        store = Store.open(config.bridge.database_url)
        engine = LinkEngine(
            link,
            store,
            build_adapters(link, timeout=30),
            max_attempts=config.bridge.max_attempts,
            clock=clock,
            claim_timeout=config.bridge.claim_timeout,
            x_prices=config.bridge.x_prices,
            poll_interval=config.bridge.poll_interval,
            slowest_poll=config.bridge.slowest_poll,
        )
        count = SandboxCount(x_user.id)
        outcomes: Counter[str] = Counter()
        errors: list[str] = []
        pending, cycles, skipped, tick = iter(actions), 0, 0, timedelta(seconds=poll)
        upcoming = next(pending, None)
        started = time.perf_counter()
        t, busy = start, True
        while t < end:
            while upcoming is not None and upcoming.at <= t:
                clock.now = upcoming.at
                user.act(upcoming)
                upcoming = next(pending, None)
                busy = True
            clock.now = t
            if not (busy or every_minute or cycle_due(engine, store, t)):
                skipped += 1
                t += tick
                continue
            report = engine.cycle()
            cycles += 1
            busy = (
                report.active
                or any(r.deleted or r.edited for r in report.rechecks.values())
                or bool(report.errors or report.waits or report.paused)
            )
            for name in ("done", "retried", "failed", "skipped", "waiting"):
                outcomes[name] += getattr(report.delivered, name)
            outcomes["fallbacks"] += len(report.delivered.fallbacks)
            errors += [f"{t:%d %H:%M} {e}" for e in report.errors]
            log, x.requests[:] = list(x.requests), []
            count.take(log, t)
            del masto.requests[:]
            t += tick
        seconds = time.perf_counter() - started
        store.close()
        sources = [
            (int(user.originals[a.key]), a.at, _deleted_at(actions, a.key))
            for a in actions
            if a.side == "x" and a.kind == "post" and not a.history
        ]
        timeline = month_timeline(x, user, actions, count.deleted_at)
        created = {
            user.originals[a.key]: a.at for a in actions if a.side == "x" and a.kind == "post"
        }
    # One day's set of billed posts for both: X bills a post once a day, polled or re-read.
    naive_seen: set[tuple[date, int]] = set()
    polls = naive_polls(timeline, start, end, tick, page, naive_seen)
    naive_per_day: Counter[date] = Counter()
    rechecks = naive_rechecks(sources, start, end, naive_per_day, naive_seen)
    return Run(
        meter=meter_bill(config, start, end),
        count=count,
        naive_billed={"polls": polls[0], "rechecks": rechecks[0]},
        naive_raw={"polls": polls[1], "rechecks": rechecks[1]},
        expected=expected_writes(actions),
        cycles=cycles,
        skipped=skipped,
        seconds=seconds,
        outcomes=outcomes,
        errors=errors,
        recheck_sources=len(sources),
        recheck_ages=recheck_ages(count.lookups, created),
        naive_rechecks_per_day=[naive_per_day[d] for d in sorted(naive_per_day)],
    )


AGE_BUCKETS = (
    ("15 min-1 h", timedelta(0)),
    ("1-6 h", timedelta(hours=1)),
    ("6-24 h", timedelta(hours=6)),
    ("24 h+", timedelta(hours=24)),
)


def recheck_ages(
    lookups: list[tuple[datetime, list[str]]], created: dict[str, datetime]
) -> dict[str, int]:
    """birdbridge's re-check reads (GET /2/tweets, posts returned) by the post's age then."""
    ages: Counter[str] = Counter()
    for at, ids in lookups:
        for post_id in ids:
            if post_id not in created:
                ages["other"] += 1
                continue
            age = at - created[post_id]
            ages[next(name for name, low in reversed(AGE_BUCKETS) if age >= low)] += 1
    return {name: ages[name] for name, _ in AGE_BUCKETS} | (
        {"other": ages["other"]} if ages["other"] else {}
    )


def cycle_due(engine: LinkEngine, store: Store, now: datetime) -> bool:
    """Would a cycle at ``now`` do anything but read an unchanged Mastodon timeline? It does
    when X is due (its quiet poll schedule, the engine's own), the Mastodon re-check is due
    (every recheck_interval), or a delivery is due (a retry). The caller also runs every cycle
    after a user's action and after a cycle that did something. A cycle skipped here would
    make no X call and change nothing but the Mastodon cursor: the bill is the same as with a
    cycle every minute (``--every-minute`` checks it), in a fraction of the time."""
    x_due = engine._x_due  # when the quiet X side is polled next (None: every cycle)
    if x_due is None or now >= x_due - timedelta(seconds=engine.poll_interval / 4):
        return True
    state = store.link_state(LINK, "mastodon")
    rechecked = state.rechecked_at if state else None
    interval = timedelta(seconds=engine.config.policy.recheck_interval)
    if rechecked is None or now - rechecked >= interval:
        return True
    return bool(store.due_deliveries(LINK, now, limit=1))


def _deleted_at(actions: list[Action], key: str) -> datetime | None:
    return next((a.at for a in actions if a.kind == "delete" and a.key == key), None)


# -- the report --------------------------------------------------------------------------
def usd(micros: int) -> str:
    return f"${micros / MICRO:,.3f}"


def ratio(part: int, whole: int) -> str:
    return f"1/{whole / part:,.1f}" if part and whole else "n/a"


def report(result: Run, days: int, start: datetime, page: int) -> tuple[str, dict[str, Any]]:
    meter, billed, raw = result.meter, result.count.billed, result.count.raw
    end = start + timedelta(days=days)
    out = [
        f"X bill over {days} day(s), {start:%Y-%m-%d} to {end - timedelta(seconds=1):%Y-%m-%d} "
        f"(UTC), X's prices of {PRICES_AS_OF}",
        f"{result.cycles} cycles run, {result.skipped} skipped (nothing to do), "
        f"{result.seconds:.0f} s",
        "",
        "birdbridge: its meter (store.x_spend)  | independent count (X sandbox's request log)",
        f"{'price class':<16}{'calls':>7}{'units':>7}{'USD':>10} |{'calls':>7}{'units':>7}"
        f"{'USD':>10} |{'no dedup: units':>16}{'USD':>10}",
    ]
    disagree: list[str] = []
    for cls in PriceClass:
        m, c, r = meter.get(cls, Line()), billed.get(cls, Line()), raw.get(cls, Line())
        if not (m.calls or c.calls or r.calls):
            continue
        if asdict(m) != asdict(c):
            disagree.append(f"{cls.value}: meter {asdict(m)}, count {asdict(c)}")
        out.append(
            f"{cls.value:<16}{m.calls:>7}{m.units:>7}{usd(m.micros):>10} |{c.calls:>7}"
            f"{c.units:>7}{usd(c.micros):>10} |{r.units:>16}{usd(r.micros):>10}"
            + ("  <- differs" if asdict(m) != asdict(c) else "")
        )
    for name, classes in (("reads", READS), ("writes", WRITES), ("total", tuple(PriceClass))):
        out.append(
            f"{name:<30}{usd(total(meter, classes)):>10} |{usd(total(billed, classes)):>24} |"
            f"{usd(total(raw, classes)):>26}"
        )
    ages = ", ".join(f"{k} {v}" for k, v in result.recheck_ages.items())
    out.append(f"  re-check reads by the post's age: {ages} ({result.recheck_sources} X posts)")

    nb, nr = result.naive_billed, result.naive_raw
    writes = total(meter, WRITES)
    naive_b = nb["polls"].micros + nb["rechecks"].micros
    naive_r = nr["polls"].micros + nr["rechecks"].micros
    out += [
        "",
        f"naive way, computed from the month's X timeline: a poll every minute without "
        f"since_id (newest {page} posts),",
        "every mirrored X post re-read by id every 15 min for 24 h; posts only (no expansions)",
        f"{'':<24}{'with per-day dedup':>25} |{'without dedup':>26}",
        f"{'price class':<24}{'calls':>7}{'units':>8}{'USD':>10} |{'calls':>7}{'units':>9}"
        f"{'USD':>10}",
    ]
    for name, label in (("polls", "owned_read (polls)"), ("rechecks", "post_read (re-checks)")):
        b, r = nb[name], nr[name]
        out.append(
            f"{label:<24}{b.calls:>7}{b.units:>8}{usd(b.micros):>10} |"
            f"{r.calls:>7}{r.units:>9}{usd(r.micros):>10}"
        )
    out += [
        f"{'reads':<24}{usd(naive_b):>25} |{usd(naive_r):>26}",
        f"{'writes (as birdbridge)':<24}{usd(writes):>25} |{usd(writes):>26}",
        f"{'total':<24}{usd(naive_b + writes):>25} |{usd(naive_r + writes):>26}",
    ]
    full_days = result.naive_rechecks_per_day[1:]  # the first day has no older posts
    steady = sum(full_days) / len(full_days) if full_days else 0
    month_usd = ISSUE_RECHECKS_PER_DAY * 30 * PRICE[PriceClass.POST_READ]
    out.append(
        f"  re-checks without dedup: {nr['rechecks'].units} reads, {steady:,.0f} a day after "
        f"the first (the issue: {ISSUE_RECHECKS_PER_DAY:,}); 1,920 x 30 days = "
        f"{usd(month_usd)} at $0.005, $57.60 at $0.001 (the issue's ≈ $58)"
    )

    out += ["", f"{'writes':<16}{'expected':>9}{'meter':>7}{'count':>7}{'expected USD':>14}"]
    writes_ok = True
    for cls in WRITES:
        ue, um, uc = (bill.get(cls, Line()).units for bill in (result.expected, meter, billed))
        if ue or um or uc:
            writes_ok = writes_ok and ue == um == uc
            micros = result.expected.get(cls, Line()).micros
            out.append(f"{cls.value:<16}{ue:>9}{um:>7}{uc:>7}{usd(micros):>14}")
    expected = total(result.expected, WRITES)
    out.append(f"{'USD':<16}{usd(expected):>9}{usd(writes):>14}")

    bb, bb_raw = total(meter, READS), total(raw, READS)
    goals = [
        (
            bb * 10 < naive_b,
            f"reads, X's per-day dedup: birdbridge {usd(bb)} < 1/10 of naive {usd(naive_b)}"
            f" (birdbridge = {ratio(bb, naive_b)} of naive)",
        ),
        (
            bb_raw * 10 < naive_r,
            f"reads, no dedup: birdbridge {usd(bb_raw)} < 1/10 of naive {usd(naive_r)}"
            f" (birdbridge = {ratio(bb_raw, naive_r)} of naive)",
        ),
        (
            writes_ok and writes == expected,
            f"writes: measured {usd(writes)} == expected {usd(expected)}, class by class",
        ),
        (not disagree, "birdbridge's meter == the independent count (calls, units, USD)"),
    ]
    o = result.outcomes
    out += ["", *(f"{'PASS' if ok else 'FAIL'}: {text}" for ok, text in goals)]
    out += [f"  differs: {d}" for d in disagree]
    out.append(
        f"deliveries: {o['done']} done, {o['failed']} failed, {o['skipped']} skipped, "
        f"{o['retried']} retried, {o['fallbacks']} fallbacks; {len(result.errors)} cycle errors"
    )
    out += [f"  error: {e}" for e in result.errors[:10]]
    requests, unbilled = result.count.requests, result.count.unbilled
    out.append("X API requests: " + ", ".join(f"{k} {v}" for k, v in sorted(requests.items())))
    if unbilled:
        out.append("  not billed: " + ", ".join(f"{k} {v}" for k, v in sorted(unbilled.items())))
    figures: dict[str, Any] = {
        "days": days,
        "start": start.isoformat(),
        "prices_as_of": PRICES_AS_OF.isoformat(),
        "naive_page": page,
        "cycles": result.cycles,
        "cycles_skipped": result.skipped,
        "seconds": round(result.seconds, 1),
        "birdbridge_meter": _lines(meter),
        "independent_count": _lines(billed),
        "independent_count_no_dedup": _lines(raw),
        "recheck_reads_by_age": result.recheck_ages,
        "naive_dedup": {k: asdict(v) for k, v in nb.items()},
        "naive_no_dedup": {k: asdict(v) for k, v in nr.items()},
        "naive_rechecks_per_day_no_dedup": result.naive_rechecks_per_day,
        "expected_writes": _lines(result.expected),
        "usd": {
            "birdbridge_reads": bb / MICRO,
            "birdbridge_reads_no_dedup": bb_raw / MICRO,
            "birdbridge_writes": writes / MICRO,
            "birdbridge_total": total(meter) / MICRO,
            "expected_writes": expected / MICRO,
            "naive_reads": naive_b / MICRO,
            "naive_reads_no_dedup": naive_r / MICRO,
        },
        "goals": {text: ok for ok, text in goals},
        "disagreements": disagree,
        "deliveries": dict(o),
        "errors": result.errors,
        "x_requests": dict(requests),
        "x_requests_not_billed": dict(unbilled),
    }
    return "\n".join(out), figures


def _lines(bill: Bill) -> dict[str, dict[str, int]]:
    return {cls.value: asdict(line) for cls, line in bill.items() if line.calls or line.units}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days to replay (default 30)")
    parser.add_argument("--start", default="2026-06-01", help="first day (UTC), YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=1, help="the user's random times")
    parser.add_argument(
        "--naive-page", type=int, default=10, help="posts per naive poll (default 10)"
    )
    parser.add_argument("--poll-interval", type=float, default=60.0, help="seconds")
    parser.add_argument(
        "--every-minute",
        action="store_true",
        help="run every cycle, also those that would do nothing (slow: a check of the skip)",
    )
    parser.add_argument(
        "--json", "--out", dest="json", type=Path, help="also write the figures to this file"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="birdbridge-bench-") as tmp:
        result = run(
            args.days,
            start,
            args.seed,
            args.naive_page,
            args.poll_interval,
            Path(tmp),
            args.every_minute,
        )
    text, figures = report(result, args.days, start, args.naive_page)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
