"""What the commands print: `status` (as text and as JSON) and `explain`'s answer, built from
the store's and the engine's values. Everything that comes from the config, the database or an
API is shown literally (rich Text, never markup: a "[redacted]" or "[links.twitter]" would
vanish) and redacted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.text import Text

from birdbridge.credentials import (
    KIND_TITLES,
    CredentialOrigin,
    NotSignedIn,
    login_command,
    origin_of,
)
from birdbridge.models import MICRO, PRICE_LABELS, Direction, NetworkName, dollars
from birdbridge.redaction import redact
from birdbridge.store import (
    Delivery,
    DeliveryKind,
    DeliveryPhase,
    DeliveryStatus,
    LinkSummary,
    SpendLine,
    Store,
    month_end,
    month_start,
)
from birdbridge.store.leases import WorkerInfo

if TYPE_CHECKING:
    from birdbridge.config import LinkConfig
    from birdbridge.engine.costs import Estimate
    from birdbridge.engine.explain import Explanation
    from birdbridge.networks.x_prices import PriceTable

NOTES_SHOWN_FOR = timedelta(days=7)
OPEN_OR_FAILED = [DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.PUBLISHING]
# Without --verbose, each list of deliveries shows this many (a community bridge's queue can
# hold thousands); the rest are counted, and listed by --verbose or --json.
SHOWN_BY_DEFAULT = 20
FIRST_POLL_HINT = "no poll yet: start `birdbridge run`, or `birdbridge once` (one pass, for cron)"
# Pause kinds (engine/pauses.py, errors.py) in a user's words.
PAUSE_WORDS = {
    "rate_limit": "rate limited",
    "usage_cap": "usage cap reached",
    "auth": "credentials refused",
    "permission": "permission missing",
    "credits": "out of credits",
    "refused": "account refused",
    "budget": "X budget reached",
}


def pause_words(kind: str | None) -> str:
    """A pause's kind as a user reads it ("credits" -> "out of credits")."""
    return PAUSE_WORDS.get(kind or "", kind or "paused")


# A delivery's state (see delivery_state), and the word for it in the fallbacks list.
SHORT_WORDS = {
    "pending": "waiting",
    "held": "held",
    "publishing": "publishing now",
    "waiting_to_retry": "waiting to retry",
    "failed": "failed",
    "skipped": "skipped",
    "done": "mirrored",
}


# -- what `status` reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class XSpendView:
    """What a link spent on X this UTC month (store/spend.py), its budget and where the month
    is heading at this pace. Money in millionths of a dollar."""

    month: int
    budget: int | None
    projected: int
    by_class: dict[str, SpendLine]

    @classmethod
    def of(cls, lines: dict[str, SpendLine], budget_usd: float | None, now: datetime) -> XSpendView:
        month = sum(line.micros for line in lines.values())
        start = datetime.combine(month_start(now), datetime.min.time(), tzinfo=UTC)
        end = (start + timedelta(days=32)).replace(day=1)
        # The pace so far, over at least a day (a first hour's spend is no month's pace).
        elapsed = max((now - start).total_seconds(), 86400.0)
        projected = round(month * (end - start).total_seconds() / elapsed)
        budget = None if budget_usd is None else round(budget_usd * MICRO)
        return cls(month, budget, max(projected, month), lines)

    def line(self) -> str:
        """ "X spend this month: $1.20 of $5.00 (24%); about $3.10 by the month's end"."""
        of = "" if self.budget is None else f" of {dollars(self.budget)} budget"
        share = f" ({round(100 * self.month / self.budget)}%)" if self.budget else ""
        return (
            f"X spend this month: {dollars(self.month)}{of}{share}; about "
            f"{dollars(self.projected)} by the month's end at this pace"
        )

    def warning(self) -> str | None:
        if self.budget is None:
            return None
        if self.month >= 0.8 * self.budget:
            return (
                f"{round(100 * self.month / self.budget) if self.budget else 100}% of the "
                "budget used: X pauses before a write that would go over it"
            )
        if self.projected > self.budget:
            return "at this pace the budget runs out before the month ends"
        return None


@dataclass(frozen=True)
class SideView:
    """One network of a link: whether the link reads it (a source) and what the store holds
    about it (None: never polled nor paused)."""

    network: NetworkName
    read: bool
    summary: LinkSummary | None
    calls: int  # API calls in the last 24 h
    limited: int  # of which 429s
    # Where the side's credentials come from (None: a link no longer in the config).
    origin: CredentialOrigin | None = None
    unsigned: str | None = None  # why the side cannot run: no sign-in (a command to run)
    spend: XSpendView | None = None  # the X side of a link in the config

    def pause(self, now: datetime) -> LinkSummary | None:
        """The summary when this side is paused at ``now``."""
        s = self.summary
        return s if s and s.paused_until is not None and s.paused_until > now else None

    def state(self, now: datetime) -> str:
        if self.pause(now):
            return "paused"
        if self.read and (self.summary is None or self.summary.last_poll_at is None):
            return "waiting_for_first_poll"
        return "running"


@dataclass(frozen=True)
class LinkView:
    name: str
    direction: Direction | None  # None: the database has it, the config no longer does
    sides: list[SideView]


@dataclass(frozen=True)
class StatusView:
    """Everything `birdbridge status` shows, read once, at ``now``."""

    now: datetime
    max_attempts: int
    links: list[LinkView]
    queue: list[Delivery]  # open and failed deliveries, oldest first
    fallbacks: list[Delivery]  # deliveries that took a fallback in the last 7 days
    workers: list[WorkerInfo] = field(default_factory=list)  # `run` workers alive now

    def paused(self, link: str, network: str) -> bool:
        return any(
            view.name == link and side.network.value == network and side.pause(self.now)
            for view in self.links
            for side in view.sides
        )


def read_status(
    store: Store,
    links: Sequence[LinkConfig],
    now: datetime,
    *,
    max_attempts: int,
    only: str | None = None,
    lease_seconds: float = 60,
) -> StatusView:
    """The status of the config's ``links`` (and of links the database still has), or of the
    link named ``only``."""
    summaries = {(s.link, s.network): s for s in store.summaries()}
    calls = store.api_calls_since(now - timedelta(hours=24))
    spent = store.x_spend(month_start(now), month_end(now))
    directions: dict[str, Direction | None] = {link.name: link.direction for link in links}
    configs = {link.name: link for link in links}
    signed = {(c.link, c.network): c for c in store.credential_summaries()}
    for name, _ in summaries:
        directions.setdefault(name, None)

    def side(name: str, network: NetworkName, direction: Direction | None) -> SideView:
        summary = summaries.get((name, network.value))
        # A link gone from the config: a side is read if it was ever polled.
        read = (
            any(source is network for source, _ in direction.pairs())
            if direction is not None
            else summary is not None and summary.last_poll_at is not None
        )
        made, limited = calls.get((name, network.value), (0, 0))
        origin, unsigned = None, None
        if name in configs:
            try:
                origin = origin_of(configs[name], network.value, signed.get((name, network.value)))
            except NotSignedIn:
                unsigned = f"not signed in: run `{login_command(name, network.value)}`"
        spend = None
        if network is NetworkName.TWITTER and name in configs:
            budget = configs[name].twitter.monthly_budget_usd
            spend = XSpendView.of(spent.get(name, {}), budget, now)
        return SideView(network, read, summary, made, limited, origin, unsigned, spend)

    views = [
        LinkView(name, direction, [side(name, n, direction) for n in NetworkName])
        for name, direction in directions.items()
        if only is None or name == only
    ]
    queue = store.deliveries(link=only, statuses=OPEN_OR_FAILED)
    fallbacks = store.noted(since=now - NOTES_SHOWN_FOR, link=only)
    # A worker writes its row every third of lease_seconds: one not seen for a whole lease
    # has stopped (or cannot reach the database).
    alive = store.database_now() - timedelta(seconds=lease_seconds)  # the workers' clock
    workers = sorted((w for w in store.workers() if w.seen_at >= alive), key=lambda w: w.id)
    return StatusView(now, max_attempts, views, queue, fallbacks, workers)


def delivery_state(d: Delivery, now: datetime, max_attempts: int) -> tuple[str, str]:
    """A delivery's state for a person: a key (the JSON's "state") and words.

    A delivery is PENDING until a worker marks a part PUBLISHING, just before the network
    call; a retry after a timeout or a 5xx keeps PUBLISHING (the part may exist: the next try
    checks first), with next_attempt_at in the future. So the status alone does not say
    whether anything is under way: a live claim (lease) does.
    """
    if d.status in (DeliveryStatus.DONE, DeliveryStatus.SKIPPED):
        return str(d.status), SHORT_WORDS[str(d.status)]
    if d.status is DeliveryStatus.FAILED:
        tries = f" after {_plural(d.attempts, 'attempt')}" if d.attempts else ""
        return "failed", f"failed{tries}: `birdbridge retry {d.id}` or `birdbridge skip {d.id}`"
    due = d.next_attempt_at <= now
    attempt = f"attempt {d.attempts + 1} of {max_attempts}"
    if due and d.lease_until is not None and d.lease_until > now:
        return "publishing", "publishing now"
    if not due:
        # attempts == 0: a wait that is not a try (a rate limit's reset, media processing)
        if d.attempts == 0:
            return "waiting_to_retry", f"waiting until {at(d.next_attempt_at, now)}"
        return "waiting_to_retry", f"waiting to retry at {at(d.next_attempt_at, now)} ({attempt})"
    if d.status is DeliveryStatus.PUBLISHING:
        # due and unclaimed: its worker was stopped, or its claim ran out mid-publish
        return "waiting_to_retry", f"interrupted; retried at the next pass ({attempt})"
    if d.attempts:
        return "waiting_to_retry", f"retried at the next pass ({attempt})"
    if d.phase is DeliveryPhase.HELD:
        return "held", "held until a post of ours with the same text is settled"
    return "pending", "waiting for the next pass"


# -- as text ----------------------------------------------------------------------------------


def status_renderables(view: StatusView, *, verbose: bool = False) -> list[RenderableType]:
    """`birdbridge status`: a block per link (a line or three per side), the failed and the
    waiting deliveries, the fallbacks taken lately; each fits the console's width. Printed
    one after the other."""
    out: list[RenderableType] = [_workers_block(view)]
    out += [_link_block(link, view.now, verbose) for link in view.links]
    if any(s.state(view.now) == "waiting_for_first_poll" for v in view.links for s in v.sides):
        out.append(Text(FIRST_POLL_HINT))
    failed = [d for d in view.queue if d.status is DeliveryStatus.FAILED]
    waiting = [d for d in view.queue if d.status is not DeliveryStatus.FAILED]
    sections = [
        (f"failed deliveries ({len(failed)})", failed, _queue_entry),
        (f"not mirrored yet ({len(waiting)})", waiting, _queue_entry),
        (f"fallbacks taken in the last {NOTES_SHOWN_FOR.days} days", view.fallbacks, _note_entry),
    ]
    for title, deliveries, entry in sections:
        if deliveries:
            out.append(_deliveries_block(title, deliveries, view, entry, verbose))
    spaced: list[RenderableType] = []
    for block in out:  # a blank line between blocks
        spaced += [Text(""), block] if spaced else [block]
    return spaced


def _workers_block(view: StatusView) -> RenderableType:
    """Who polls the links (`birdbridge run` workers sharing the database) and whether their
    polls keep up."""
    if not view.workers:
        return Text(
            "workers: no `birdbridge run` is running on this database (the links are polled "
            "only by `birdbridge once`, if something runs it)"
        )
    held = sum(w.links for w in view.workers)
    title = Text(
        f"workers: {_plural(len(view.workers), 'worker')} running, holding {_plural(held, 'link')}"
    )
    rows = [(worker.id, [_worker_line(worker, view.now)]) for worker in view.workers]
    return Group(title, Rows(rows))


def _worker_line(worker: WorkerInfo, now: datetime) -> str:
    links = f"{_plural(worker.links, 'link')}, polled every {worker.interval:g} s"
    started = f"started {ago(worker.started_at, now)}"
    if not worker.late:
        return f"{links}: on time; {started}"
    return (
        f"{links}: BEHIND: {_plural(worker.late, 'poll')} in the last minute started more "
        f"than half an interval late (up to {worker.worst_lag:.0f} s): raise [bridge] "
        f"poll_threads, add workers or raise poll_interval; {started}"
    )


def _link_block(link: LinkView, now: datetime, verbose: bool) -> RenderableType:
    x, m = NetworkName.TWITTER.label, NetworkName.MASTODON.label
    ways = {
        Direction.BOTH: f"{x} <-> {m}",
        Direction.TWITTER_TO_MASTODON: f"{x} -> {m}",
        Direction.MASTODON_TO_TWITTER: f"{m} -> {x}",
        None: "not in the config any more (its state is kept)",
    }[link.direction]
    title = Text.assemble((link.name, "bold"), f": {ways}")
    rows = [(side.network.label, _side_lines(side, now, verbose)) for side in link.sides]
    return Group(title, Rows(rows))


def _side_lines(side: SideView, now: datetime, verbose: bool) -> list[str]:
    s, state = side.summary, side.state(now)
    paused = side.pause(now)
    if paused and paused.paused_until is not None:
        kind = pause_words(paused.paused_kind)
        until = at(paused.paused_until, now)
        lines = [f"paused until {until} ({kind}): {redact(paused.paused_reason or '')}"]
    else:
        lines = [{"waiting_for_first_poll": "waiting for the first poll"}.get(state, state)]
    if not side.read:
        other = _other(side.network).label
        lines.append(
            f"posts from {other} are mirrored here; this link does not read {side.network.label}"
        )
    elif s is not None and s.last_poll_at is not None:
        counts = _counts(s, _other(side.network), now)
        lines.append(f"last poll {ago(s.last_poll_at, now)}; {counts}")
    if s is not None and s.last_error and not paused:
        failed_at = f" {ago(s.last_error_at, now)}" if s.last_error_at else ""
        lines.append(f"the last poll failed{failed_at}: {redact(s.last_error)}")
    if side.unsigned:
        lines.insert(0, side.unsigned)
    elif side.origin is not None:
        lines.append(
            _signed_in_line(side.origin, now) if side.origin.signed_in else "tokens from the config"
        )
    if side.calls:
        limited = f" ({side.limited} answered 429)" if side.limited else ""
        lines.append(f"{_plural(side.calls, 'API call')} in the last 24 h{limited}")
    if side.spend is not None:
        lines.append(side.spend.line())
        if warning := side.spend.warning():
            lines.append(warning)
        if verbose:
            lines += [
                f"  {PRICE_LABELS.get(name, name)}: {line.units} billed, {dollars(line.micros)}"
                for name, line in sorted(side.spend.by_class.items())
            ]
    if verbose and s is not None and s.cursor:
        lines.append(f"last post seen: {side.network.label} post {s.cursor}")
    return lines


def _signed_in_line(origin: CredentialOrigin, now: datetime) -> str:
    """ "signed in as @alice (OAuth 2.0), token valid until 18:42 UTC"."""
    who = f" as {origin.handle}" if origin.handle else ""
    line = f"signed in{who} ({KIND_TITLES.get(origin.kind, origin.kind)})"
    if origin.expires_at is not None:
        # "18:42 UTC" today, with the date when it is another day (a token refreshed at 23:30)
        line += f", token valid until {at(origin.expires_at, now)}"
    return line


def _counts(s: LinkSummary, target: NetworkName, now: datetime) -> str:
    """What became of the side's posts: "to Mastodon: 4 mirrored, 1 waiting, 0 failed"."""
    counts = f"to {target.label}: {s.done} mirrored, {s.pending} waiting"
    counts += f", {s.failed} failed" + (f", {s.skipped} skipped" if s.skipped else "")
    if s.pending and s.next_retry is not None and s.next_retry > now:
        counts += f" (next try {at(s.next_retry, now)})"
    return counts


def _deliveries_block(
    title: str,
    deliveries: list[Delivery],
    view: StatusView,
    entry: Callable[[Delivery, StatusView], list[str]],
    verbose: bool,
) -> RenderableType:
    shown = deliveries if verbose else deliveries[:SHOWN_BY_DEFAULT]
    rows = [(f"#{d.id}", entry(d, view)) for d in shown]
    parts: list[RenderableType] = [Text(title, style="bold"), Rows(rows)]
    if len(shown) < len(deliveries):
        more = len(deliveries) - len(shown)
        parts.append(Text(f"  and {more} more: `birdbridge status --verbose` lists them all"))
    return Group(*parts)


def _queue_entry(d: Delivery, view: StatusView) -> list[str]:
    lines = [_which(d), delivery_state(d, view.now, view.max_attempts)[1]]
    if d.status is not DeliveryStatus.FAILED and view.paused(d.link, d.target_network):
        lines[-1] += f"; {_label(d.target_network)} is paused (see the link above)"
    if d.last_error:
        label = "" if d.status is DeliveryStatus.FAILED else "last error: "
        lines.append(label + redact(d.last_error))
    return lines


def _note_entry(d: Delivery, view: StatusView) -> list[str]:
    state = SHORT_WORDS[delivery_state(d, view.now, view.max_attempts)[0]]
    return [f"{_which(d)}, {state}", *redact(d.notes or "").splitlines()]


def _which(d: Delivery) -> str:
    """The delivery in words: "alice: edit of X post 123 -> Mastodon"."""
    what = {
        DeliveryKind.POST: "",
        DeliveryKind.EDIT: "edit of ",
        DeliveryKind.DELETE: "deletion of ",
    }
    post = f"{what[d.kind]}{_label(d.source_network)} post {d.source_id}"
    return f"{d.link}: {post} -> {_label(d.target_network)}"


@dataclass(frozen=True)
class Rows:
    """Rows of a short label and lines of text, indented; each line wraps under itself
    (a word longer than the line, such as a URL, is folded, never cut) and no line is padded
    with spaces to the width (a table would: piped output and copies would carry them)."""

    rows: list[tuple[str, list[str]]]
    indent: int = 2

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        column = max((cell_len(label) for label, _ in self.rows), default=0) + 2
        # On a very narrow console the lines still get a few words each (Rich then wraps).
        width = max(options.max_width - self.indent - column, 20)
        for label, lines in self.rows:
            head = label
            for line in lines:
                for piece in Text(line).wrap(console, width, overflow="fold"):
                    margin = " " * self.indent + head + " " * (column - cell_len(head))
                    piece.rstrip()  # the space a line was broken at
                    yield Text.assemble(margin, piece)
                    head = ""


# -- as JSON ----------------------------------------------------------------------------------


def status_json(view: StatusView) -> dict[str, Any]:
    """`birdbridge status --json`: the shape documented in the command's help (cli.py)."""
    return {
        "generated_at": iso(view.now),
        "links": [
            {
                "name": link.name,
                "direction": link.direction.value if link.direction else None,
                "in_config": link.direction is not None,
                "sides": [_side_json(side, view.now) for side in link.sides],
            }
            for link in view.links
        ],
        "workers": [
            {
                "id": w.id,
                "host": w.host,
                "pid": w.pid,
                "started_at": iso(w.started_at),
                "seen_at": iso(w.seen_at),
                "links": w.links,
                "polls_late_last_minute": w.late,
                "worst_delay_seconds": w.worst_lag,
                "poll_interval": w.interval,
            }
            for w in view.workers
        ],
        "queue": [_delivery_json(d, view) for d in view.queue],
        "fallbacks": [
            {**_delivery_json(d, view), "notes": redact(d.notes or "").splitlines()}
            for d in view.fallbacks
        ],
    }


def _side_json(side: SideView, now: datetime) -> dict[str, Any]:
    s = side.summary
    paused = side.pause(now)
    return {
        "network": side.network.value,
        "read": side.read,
        "state": side.state(now),
        "last_poll_at": iso(s.last_poll_at if s else None),
        "last_post_seen": s.cursor if s else None,
        "last_error": redact(s.last_error) if s and s.last_error else None,
        "last_error_at": iso(s.last_error_at if s else None),
        "pause": None
        if paused is None
        else {
            "kind": paused.paused_kind,
            "until": iso(paused.paused_until),
            "reason": redact(paused.paused_reason or ""),
        },
        "counts": {
            "mirrored": s.done if s else 0,
            "waiting": s.pending if s else 0,
            "failed": s.failed if s else 0,
            "skipped": s.skipped if s else 0,
        },
        "next_try_at": iso(s.next_retry if s else None),
        "api_calls_24h": {"calls": side.calls, "rate_limited": side.limited},
        "credentials": _credentials_json(side),
        "x_spend": None if side.spend is None else _spend_json(side.spend),
    }


def _spend_json(spend: XSpendView) -> dict[str, Any]:
    return {
        "month_usd": spend.month / MICRO,
        "budget_usd": None if spend.budget is None else spend.budget / MICRO,
        "projected_usd": spend.projected / MICRO,
        "by_class": {
            name: {"calls": line.calls, "billed": line.units, "usd": line.micros / MICRO}
            for name, line in sorted(spend.by_class.items())
        },
    }


def _credentials_json(side: SideView) -> dict[str, Any] | None:
    origin = side.origin
    if origin is None:
        return None if side.unsigned is None else {"source": None, "problem": side.unsigned}
    return {
        "source": "sign-in" if origin.signed_in else "config",
        "kind": origin.kind,
        "handle": origin.handle,
        "expires_at": iso(origin.expires_at),
    }


def _delivery_json(d: Delivery, view: StatusView) -> dict[str, Any]:
    state, words = delivery_state(d, view.now, view.max_attempts)
    return {
        "id": d.id,
        "link": d.link,
        "kind": str(d.kind),
        "from": d.source_network,
        "source_id": d.source_id,
        "to": d.target_network,
        "state": state,
        "state_text": words,
        "attempts": d.attempts,
        "max_attempts": view.max_attempts,
        "next_attempt_at": iso(d.next_attempt_at),
        "last_error": redact(d.last_error) if d.last_error else None,
        "updated_at": iso(d.updated_at),
    }


# -- words for times and numbers ------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC, to the second: "2025-03-04T14:05:00Z"."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(value: datetime, now: datetime) -> str:
    """ "3 min ago", "2 h ago"; "just now" for the last minute (and a clock that is ahead)."""
    seconds = (now - value).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def at(value: datetime, now: datetime) -> str:
    """ "14:05 UTC" today, "2025-03-05 14:05 UTC" another day."""
    value = value.astimezone(UTC)
    if value.date() == now.astimezone(UTC).date():
        return value.strftime("%H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _plural(number: int, word: str) -> str:
    if number == 1:
        return f"1 {word}"
    return f"{number} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def _label(network: str) -> str:
    try:
        return NetworkName(network).label
    except ValueError:  # not a network this version knows: shown as stored
        return network


def _other(network: NetworkName) -> NetworkName:
    return NetworkName.MASTODON if network is NetworkName.TWITTER else NetworkName.TWITTER


def explanation_json(result: Explanation) -> dict[str, Any]:
    return {
        "link": result.link,
        "post": {
            "network": result.post.network.value,
            "id": result.post.id,
            "url": result.post.url,
            "text": result.post.text,
        },
        "targets": [
            {
                "target": t.target.value,
                "mirror": t.mirror,
                "reason": t.reason,
                "parts": t.parts,
                "lengths": t.lengths,
                "limit": t.limit,
                "spoiler_text": t.spoiler_text,
                "poll": t.poll,
                "quote_id": t.quote_id,
                "fallbacks": t.fallbacks,
                "delivery": t.delivery,
                "published": t.published,
                "x_cost": None if t.cost is None else _cost_json(t.cost, result),
            }
            for t in result.targets
        ],
        "x_reading_cost": None if result.reading is None else _cost_json(result.reading, result),
    }


def _cost_lines(title: str, estimate: Estimate, result: Explanation) -> list[str]:
    """ "   cost on X: $0.035" and a line per billed thing with its reason."""
    prices = result.prices
    lines = [f"   {title}: {dollars(estimate.micros(prices))}"]
    for item in estimate.lines:
        price = prices.of(item.price_class, item.units)
        times = f"{item.units} x " if item.units > 1 else ""
        lines.append(f"     {dollars(price):>7}  {times}{item.price_class.label}: {item.why}")
    return lines


def _cost_json(estimate: Estimate, result: Explanation) -> dict[str, Any]:
    prices = result.prices
    return {
        "usd": estimate.micros(prices) / MICRO,
        "lines": [
            {
                "class": item.price_class.value,
                "units": item.units,
                "usd": prices.of(item.price_class, item.units) / MICRO,
                "why": item.why,
            }
            for item in estimate.lines
        ],
    }


def print_explanation(console: Console, result: Explanation) -> None:
    post = result.post
    say = [f"link {result.link}: {post.network.label} post {post.id} ({post.url})"]
    for t in result.targets:
        say.append(f"-> {t.target.label}: {'mirror' if t.mirror else 'skip'}: {t.reason}")
        say += [f"   outbox: {t.delivery}"] if t.delivery else []
        say += [f"   published: {url}" for url in t.published]
        say += [f"   content warning: {t.spoiler_text}"] if t.spoiler_text else []
        for index, (part, length) in enumerate(zip(t.parts, t.lengths, strict=True), 1):
            say.append(f"   part {index}/{len(t.parts)} ({length}/{t.limit}):")
            say += [f"   | {line}" for line in part.splitlines() or [""]]
        say += [f"   poll: {' / '.join(t.poll)}"] if t.poll else []
        say += [f"   native quote of {t.quote_id}"] if t.quote_id else []
        say += [f"   fallback: {message}" for message in t.fallbacks]
        if t.cost is not None:
            say += _cost_lines("cost on X", t.cost, result)
    if result.reading is not None:
        say += _cost_lines("reading it on X costs", result.reading, result)
    for line in say:
        console.print(line, highlight=False, markup=False)


def check_cost_lines(
    link: LinkConfig,
    prices: PriceTable,
    *,
    owned: bool,
    spent: int,
    poll_interval: float,
    slowest_poll: float,
) -> list[str]:
    """What `check` says a link costs on X before any post: polling (X bills the posts a poll
    returns, not the poll), each start's identity check, and the price of each post."""
    from birdbridge.engine.recheck import X_RECHECK_AGES
    from birdbridge.networks.x_prices import PriceClass

    month = 30 * 86400
    least, most = int(month // slowest_poll), int(month // poll_interval)
    me = prices.of(PriceClass.USER_READ)
    lines = [
        f"X cost with no posts: $0.00 a month for polling ({least:,} to {most:,} polls a "
        "month; X bills the posts a poll returns, not the poll)",
        f"a start of `run` or `once` that does not know the account yet asks X who it is: "
        f"{dollars(me)}, billed once per UTC day (at most about {dollars(me * 30)} a month)",
    ]
    sources = [source for source, _ in link.direction.pairs()]
    targets = [target for _, target in link.direction.pairs()]
    if NetworkName.TWITTER in sources:
        read = prices.of(PriceClass.OWNED_READ if owned else PriceClass.POST_READ)
        line = f"each post from X: {dollars(read)} to read"
        if link.policy.deletes_on(link.direction):
            checks = prices.of(PriceClass.POST_READ, 2)
            line += (
                f", up to {dollars(checks)} more to re-check it for deletion "
                f"({len(X_RECHECK_AGES)} reads in its first day, billed once per UTC day)"
            )
        lines.append(line)
    if NetworkName.TWITTER in targets:
        lines.append(
            f"each post to X: {dollars(prices.of(PriceClass.POST))} "
            f"({dollars(prices.of(PriceClass.POST_WITH_URL))} if it contains a URL), "
            f"+{dollars(prices.of(PriceClass.MEDIA_UPLOAD))} a picture, "
            f"+{dollars(prices.of(PriceClass.MEDIA_METADATA))} its alt text; each thread "
            "part is a post"
        )
    budget = link.twitter.monthly_budget_usd
    if budget is None:
        lines.append(f"no monthly budget set; {dollars(spent)} spent on X this month")
    else:
        budget_micros = round(budget * MICRO)
        lines.append(f"monthly budget {dollars(budget_micros)}; {dollars(spent)} spent this month")
    return lines
