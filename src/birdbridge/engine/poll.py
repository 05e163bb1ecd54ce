"""poll -> guard -> policy -> outbox, for one source side of one link."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from birdbridge.config import PolicyConfig
from birdbridge.models import NetworkName, Post
from birdbridge.networks.base import Network
from birdbridge.networks.textmatch import same_text
from birdbridge.policy import decide
from birdbridge.store import NewDelivery, Store

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    seen: int = 0
    enqueued: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (post id, reason)
    first_poll: bool = False


def poll_side(
    store: Store,
    link: str,
    source: Network,
    targets: list[NetworkName],
    policy: PolicyConfig,
) -> PollReport:
    """Read ``source`` since its cursor and enqueue what the policy mirrors, atomically."""
    state = store.link_state(link, source.name.value)
    cursor = state.cursor if state else None
    result = source.fetch_since(cursor, include_reposts=False)
    report = PollReport(seen=len(result.posts), first_poll=cursor is None)
    deliveries: list[NewDelivery] = []
    for post in result.posts:
        reason = _ours(store, link, post)
        decision = decide(post, policy)
        if reason is None and not decision.mirror:
            reason = decision.reason
        if reason is not None:
            report.skipped.append((post.id, reason))
            log.info("link %s: skip %s post %s: %s", link, post.network.label, post.id, reason)
            continue
        deliveries.extend(_deliveries_for(post, targets))
    account = source.account()
    report.enqueued = store.record_poll(
        link, source.name.value, account_id=account.id, cursor=result.cursor, deliveries=deliveries
    )
    if report.first_poll:
        log.info(
            "link %s: first poll of %s: mirroring starts now (cursor %s); older posts "
            "stay where they are",
            link,
            source.name.label,
            result.cursor,
        )
    return report


def _ours(store: Store, link: str, post: Post) -> str | None:
    """The guard (promise 2): a post birdbridge published is never mirrored back."""
    network = post.network.value
    if store.is_mirror_target(link, network, post.id):
        return "published by birdbridge (a mirror)"
    if any(same_text(text, post.text) for text in store.in_flight_texts(link, network)):
        # Published but not yet recorded (a crash or a timeout mid-publish): recovery adopts it.
        return "published by birdbridge (in flight)"
    return None


def _deliveries_for(post: Post, targets: list[NetworkName]) -> list[NewDelivery]:
    payload = _payload(post)
    parent = post.in_reply_to_id if post.is_self_reply else None
    return [
        NewDelivery(
            source_network=post.network.value,
            source_id=post.id,
            target_network=target.value,
            payload=payload,
            parent_source_id=parent,
        )
        for target in targets
    ]


def _payload(post: Post) -> str:
    return json.dumps(post.to_json(), ensure_ascii=False)
