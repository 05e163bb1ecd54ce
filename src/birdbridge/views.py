"""What the commands print: `status` tables and `explain`'s answer, built from the store's and
the engine's values. Everything that comes from the config, the database or an API is shown
literally: never read as Rich markup (a "[redacted]" or "[links.twitter]" would vanish)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from birdbridge.redaction import redact
from birdbridge.store import DeliveryStatus, Store

if TYPE_CHECKING:
    from birdbridge.engine.explain import Explanation

NOTES_SHOWN_FOR = timedelta(days=7)
OPEN_OR_FAILED = [DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.PUBLISHING]


def status_tables(store: Store, now: datetime) -> list[Table]:
    """`birdbridge status`: the links, then open and failed deliveries, then the fallbacks
    taken lately (the last two only when there are any)."""
    tables = [_links_table(store, now)]
    queue = store.deliveries(statuses=OPEN_OR_FAILED)
    if queue:
        tables.append(_queue_table(queue))
    noted = store.noted(since=now - NOTES_SHOWN_FOR)
    if noted:
        tables.append(_notes_table(noted))
    return tables


def _links_table(store: Store, now: datetime) -> Table:
    table = _table(
        "links",
        "link",
        "side",
        "state",
        "cursor",
        "last poll (UTC)",
        "pending",
        "failed",
        "done",
        "next retry (UTC)",
        "API calls 24 h",
        "last error / why paused",
        show_lines=True,
    )
    calls = store.api_calls_since(now - timedelta(hours=24))
    for row in store.summaries():
        paused = row.paused_until is not None and row.paused_until > now
        state = (
            f"paused ({row.paused_kind}) until {when(row.paused_until)}" if paused else "running"
        )
        made, limited = calls.get((row.link, row.network), (0, 0))
        literal_row(
            table,
            row.link,
            row.network,
            state,
            row.cursor or "-",
            when(row.last_poll_at),
            str(row.pending),
            str(row.failed),
            str(row.done),
            when(row.next_retry),
            f"{made}" + (f", {limited} got 429" if limited else ""),
            redact((row.paused_reason if paused else row.last_error) or ""),
        )
    return table


def _queue_table(deliveries: Iterable[Any]) -> Table:
    table = _table(
        "open and failed deliveries",
        *WHICH_DELIVERY,
        "kind",
        "to",
        "status",
        "attempts",
        "next try",
        "last error",
    )
    for d in deliveries:
        literal_row(
            table,
            *_which(d),
            str(d.kind),
            d.target_network,
            str(d.status),
            str(d.attempts),
            when(d.next_attempt_at),
            redact(d.last_error or ""),
        )
    return table


def _notes_table(deliveries: Iterable[Any]) -> Table:
    table = _table(
        "fallbacks taken (last 7 days)",
        *WHICH_DELIVERY,
        "to",
        "status",
        "what happened",
    )
    for d in deliveries:
        literal_row(
            table,
            *_which(d),
            d.target_network,
            str(d.status),
            redact(d.notes or ""),
        )
    return table


WHICH_DELIVERY = ("id", "link", "from", "post")


def _which(delivery: Any) -> tuple[str, str, str, str]:
    """The cells under WHICH_DELIVERY: the delivery, its link and its source post."""
    return str(delivery.id), delivery.link, delivery.source_network, delivery.source_id


def _table(title: str, *columns: str, show_lines: bool = False) -> Table:
    table = Table(title=title, show_lines=show_lines)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def literal_row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(cell) for cell in cells))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


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
            }
            for t in result.targets
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
    for line in say:
        console.print(line, highlight=False, markup=False)
