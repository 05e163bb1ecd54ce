"""Finding edits and deletions: recently mirrored source posts are read again, in a bounded
window and not more often than the link's ``recheck_interval`` (X bills each post read)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from birdbridge.config import PolicyConfig
from birdbridge.engine.poll import change
from birdbridge.models import Direction, NetworkName, Post
from birdbridge.networks.base import Network
from birdbridge.store import Delivery, DeliveryKind, Store

log = logging.getLogger(__name__)


@dataclass
class RecheckReport:
    checked: int = 0
    deleted: list[str] = field(default_factory=list)  # source ids whose deletion was queued
    edited: list[str] = field(default_factory=list)
    ran: bool = False


def recheck_side(
    store: Store,
    link: str,
    source: Network,
    targets: list[NetworkName],
    policy: PolicyConfig,
    direction: Direction,
    now: datetime,
) -> RecheckReport:
    """Queue the deletions and edits of ``source``'s recently mirrored posts, when due."""
    report = RecheckReport()
    deletes = policy.deletes_on(direction)
    edits = policy.edits != "ignore"
    state = store.link_state(link, source.name.value)
    last = state.rechecked_at if state else None
    if not (deletes or edits) or (
        last is not None and now - last < timedelta(seconds=policy.recheck_interval)
    ):
        return report
    rows = store.recent_sources(
        link, source.name.value, now - timedelta(seconds=policy.recheck_window)
    )
    known = {row.source_id: _latest(store, link, row) for row in rows}
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
