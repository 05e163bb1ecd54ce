"""Finding edits and deletions: recently mirrored source posts are read again, in a bounded
window (``recheck_window``).

Mastodon is re-read every ``recheck_interval`` (its reads are free, and an edit keeps the id).
X bills each post read (networks/x_prices.py), and an X edit is a new post with a new id that
the poll reads anyway: X is re-read only to find deletions (when the link mirrors them), and
each post only as it passes the ages in ``X_RECHECK_AGES`` -- four reads in its first day
instead of one every 15 minutes."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from birdbridge.config import PolicyConfig
from birdbridge.engine.poll import UNREAD, change
from birdbridge.models import Direction, NetworkName, Post
from birdbridge.networks.base import Network
from birdbridge.store import Delivery, DeliveryKind, LinkState, Store

log = logging.getLogger(__name__)

# A mirrored X post is read again once it is 15 minutes, 1 hour, 6 hours and 1 day old (within
# recheck_window): most deletions come soon after posting, and X bills every read again after
# midnight UTC.
X_RECHECK_AGES = (
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)


@dataclass
class RecheckReport:
    checked: int = 0
    deleted: list[str] = field(default_factory=list)  # source ids whose deletion was queued
    edited: list[str] = field(default_factory=list)
    ran: bool = False
    # Mirrored posts of this side still in the window (None: not looked): with none, nothing
    # can come due before the poll queues a new one (LinkEngine skips the look meanwhile).
    in_window: int | None = None


def recheck_side(
    store: Store,
    link: str,
    source: Network,
    targets: list[NetworkName],
    policy: PolicyConfig,
    direction: Direction,
    now: datetime,
    state: LinkState | object | None = UNREAD,
) -> RecheckReport:
    """Queue the deletions and edits of ``source``'s recently mirrored posts, when due.
    ``state``: the side's stored state, when the caller read it already."""
    report = RecheckReport()
    deletes = policy.deletes_on(direction)
    decaying = source.name is NetworkName.TWITTER
    # X edits arrive as new posts in the poll: re-reading X finds only deletions.
    edits = policy.edits != "ignore" and not decaying
    if state is UNREAD:
        state = store.link_state(link, source.name.value)
    assert state is None or isinstance(state, LinkState)
    last = state.rechecked_at if state else None
    if not (deletes or edits) or (
        not decaying
        and last is not None
        and now - last < timedelta(seconds=policy.recheck_interval)
    ):
        return report
    window = timedelta(seconds=policy.recheck_window)
    # The rows are found by when they were queued, which is after the post was made (by up to
    # a quiet X side's poll interval, or an outage): look further back, and let each post's
    # own age decide (_due), so that its last age in the window is not missed.
    since = now - window - (timedelta(days=1) if decaying else timedelta(0))
    rows = store.recent_sources(link, source.name.value, since)
    report.in_window = len(rows)
    known = {row.source_id: _latest(store, link, row) for row in rows}
    if decaying:
        known = {
            key: post for key, post in known.items() if _due(post.created_at, last, now, window)
        }
        if not known:
            return report  # nothing has reached its next age: no read, no write
    report.ran = True
    if known:
        result = source.recheck({key: post.created_at for key, post in known.items()})
        report.checked = len(known)
        for source_id in sorted(result.gone) if deletes else ():
            for target in targets:
                if store.enqueue_change(
                    link, change(known[source_id], target, DeliveryKind.DELETE)
                ):
                    report.deleted.append(source_id)
        for source_id, current in sorted(result.current.items()) if edits else ():
            if _newer(current, known.get(source_id)):
                for target in targets:
                    if store.enqueue_change(link, change(current, target, DeliveryKind.EDIT)):
                        report.edited.append(source_id)
    store.mark_rechecked(link, source.name.value, now)
    if report.deleted or report.edited:
        log.info(
            "link %s: %s re-check: %s deleted, %s edited",
            link,
            source.name.label,
            len(report.deleted),
            len(report.edited),
        )
    return report


def _due(created: datetime, last: datetime | None, now: datetime, window: timedelta) -> bool:
    """Has the post passed one of X_RECHECK_AGES since the last re-check of its side?"""
    passed = [created + age for age in X_RECHECK_AGES if age <= window and created + age <= now]
    return bool(passed) and (last is None or last < passed[-1])


def _latest(store: Store, link: str, row: Delivery) -> Post:
    """The newest version of a source post we know: its last queued edit, else the post."""
    edit = store.delivery_for(
        link, row.source_network, row.source_id, row.target_network, DeliveryKind.EDIT
    )
    return Post.from_json(json.loads((edit or row).payload))


def _newer(current: Post, known: Post | None) -> bool:
    """Mastodon keeps the id and sets ``edited_at``; X edits arrive as new ids in the poll."""
    if known is None or current.edited_at is None:
        return False
    return known.edited_at is None or current.edited_at > known.edited_at
