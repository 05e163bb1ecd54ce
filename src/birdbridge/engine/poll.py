"""poll -> guard -> policy -> outbox, for one source side of one link."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from birdbridge.config import PolicyConfig
from birdbridge.engine.counterparts import counterpart
from birdbridge.engine.recovery import in_flight_match
from birdbridge.models import NetworkName, Post
from birdbridge.networks.base import Network
from birdbridge.policy import Context, Decision, decide
from birdbridge.render.capabilities import Capabilities
from birdbridge.store import DeliveryKind, DeliveryStatus, LinkState, NewDelivery, Store, utcnow

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
# How long after its latest attempt began a publish may still create the post: a call holds
# its claim (bridge.claim_timeout, at most 1 h) while under way. Generous: a held post waits,
# it is not lost.
CALL_WINDOW = timedelta(hours=1)


@dataclass
class PollReport:
    seen: int = 0
    enqueued: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (post id, reason)
    edits: int = 0  # edited versions queued (or folded into a post not yet mirrored)
    first_poll: bool = False
    # Nothing new and nothing to store: the poll wrote nothing; its time is the caller's to
    # write, in a batch with other links' (store.write_batch).
    idle: bool = False


UNREAD = object()  # poll_side's ``state`` when the caller has not read it


def poll_side(
    store: Store,
    link: str,
    source: Network,
    targets: list[NetworkName],
    policy: PolicyConfig,
    now: datetime | None = None,
    *,
    capabilities: Capabilities | None = None,
    state: LinkState | object | None = UNREAD,
) -> PollReport:
    """Read ``source`` since its cursor and enqueue what the policy mirrors, atomically.
    ``capabilities``: the single target's (its adapter's limits), for the policy's rules.
    ``state``: the side's stored state, when the caller read it already (one read per cycle).
    An idle poll (no post, the cursor where it was) writes nothing (``PollReport.idle``)."""
    now = now or utcnow()
    if state is UNREAD:
        state = store.link_state(link, source.name.value)
    assert state is None or isinstance(state, LinkState)
    cursor = state.cursor if state else None
    # Reposts are read too: a repost of one's own mirrored post is always mirrored natively.
    result = source.fetch_since(cursor, include_reposts=True)
    report = PollReport(seen=len(result.posts), first_poll=cursor is None)
    deliveries: list[NewDelivery] = []
    # New posts of this side in the last hour (the hourly cap): read only when there are any.
    recent = store.enqueued_since(link, source.name.value, now - HOUR) if result.posts else 0
    for post in result.posts:
        if post.edit_of is not None and _ours(store, link, post) is None:
            report.edits += _edited(store, link, post, targets, policy, report)
            continue
        decision = judge(store, link, post, policy, targets, now, recent, capabilities)
        if not decision.mirror:
            report.skipped.append((post.id, decision.reason))
            log.info(
                "link %s: skip %s post %s: %s", link, post.network.label, post.id, decision.reason
            )
            continue
        held = _in_flight(store, link, post)
        if held:
            log.info(
                "link %s: %s post %s is held: a post of birdbridge's with the same text is "
                "being published there; it is mirrored once that is settled, unless it is ours",
                link,
                post.network.label,
                post.id,
            )
        deliveries.extend(_deliveries_for(post, targets, held=held))
        recent += 1
    account_id = source.account_id()
    if _unchanged(state, account_id, result.cursor) and not deliveries:
        report.idle = True
        return report
    report.enqueued = store.record_poll(
        link,
        source.name.value,
        account_id=account_id,
        cursor=result.cursor,
        deliveries=deliveries,
        now=now,
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


def _unchanged(state: LinkState | None, account_id: str, cursor: str | None) -> bool:
    """Would recording this poll change nothing but its time? (A poll after a failed one
    clears the stored error: that is a change.)"""
    return (
        state is not None
        and state.cursor is not None
        and cursor in (None, state.cursor)
        and state.account_id == account_id
        and state.last_error is None
    )


def judge(
    store: Store,
    link: str,
    post: Post,
    policy: PolicyConfig,
    targets: list[NetworkName],
    now: datetime,
    recent: int | None = None,
    capabilities: Capabilities | None = None,
) -> Decision:
    """The guard and the policy for one post, as the poll applies them (``explain`` too).
    ``recent``: new posts of this side in the last hour (counted here when not given)."""
    if recent is None:
        recent = store.enqueued_since(link, post.network.value, now - HOUR)
    ours = _ours(store, link, post)
    if ours is not None:
        return Decision(False, ours)
    if post.is_repost and post.reposted is not None and post.visibility.value == "public":
        original = post.reposted
        if all(counterpart(store, link, original.network, original.id, t) for t in targets):
            # What the user did: repost their own post. The mirror does the same natively.
            return Decision(True, "repost of your own mirrored post: a native repost")
    parent_mirrored = post.is_self_reply and _mirrored(store, link, post, targets)
    context = Context(
        now=now,
        mirrored_last_hour=recent,
        parent_mirrored=parent_mirrored,
        target=targets[0] if len(targets) == 1 else None,
        target_capabilities=capabilities,
    )
    return decide(post, policy, context)


def _ours(store: Store, link: str, post: Post) -> str | None:
    """The guard (promise 2): a post birdbridge published is never mirrored back."""
    network = post.network.value
    if store.is_mirror_target(link, network, post.id):
        return "published by birdbridge (a mirror)"
    if post.edit_of is not None and store.is_mirror_target(link, network, post.edit_of):
        return "published by birdbridge (a new version of a mirror we edited)"
    if post.reposted is not None and store.is_our_repost(link, network, post.reposted.id):
        return "published by birdbridge (a native repost of a mirrored post)"
    return None


def _in_flight(store: Store, link: str, post: Post) -> bool:
    """Could this be a post of ours whose publish is not recorded yet (a crash or a lost reply
    mid-publish)? Then it is held, not dropped: the deliverer skips it once recovery records it
    as our mirror, and mirrors it when it turns out to be the user's own post with the same
    words (engine/adopt.py ``Recovery.ours_after_all``)."""
    return any(
        in_flight_match(post, flight.text, flight.started_at, flight.attempt_at + CALL_WINDOW)
        for flight in store.in_flight(link, post.network.value)
    )


def _mirrored(store: Store, link: str, post: Post, targets: list[NetworkName]) -> bool:
    """Is the parent of this self-reply on its way to (or on) every target?"""
    assert post.in_reply_to_id is not None
    for target in targets:
        parent = store.delivery_for(link, post.network.value, post.in_reply_to_id, target.value)
        if parent is None or parent.status in (DeliveryStatus.SKIPPED, DeliveryStatus.FAILED):
            return False
    return True


def _edited(
    store: Store,
    link: str,
    post: Post,
    targets: list[NetworkName],
    policy: PolicyConfig,
    report: PollReport,
) -> int:
    """A new version of an X post (a new id in the same edit chain): it replaces the version
    still waiting in the outbox, or becomes an edit of the mirror."""
    assert post.edit_of is not None
    queued = 0
    for target in targets:
        original = store.delivery_for(link, post.network.value, post.edit_of, target.value)
        if original is None or original.status == DeliveryStatus.SKIPPED:
            report.skipped.append((post.id, "new version of a post that was not mirrored"))
            continue
        if original.status == DeliveryStatus.PENDING:
            store.replace_payload(original.id, _payload(post))
            queued += 1
        elif policy.edits == "ignore":
            report.skipped.append((post.id, 'edited post (policy edits = "ignore")'))
        else:
            queued += store.enqueue_change(link, change(post, target, DeliveryKind.EDIT))
    return queued


def change(
    post: Post, target: NetworkName, kind: DeliveryKind, *, held: bool = False
) -> NewDelivery:
    """An edit or a deletion of ``post``'s mirror on ``target``."""
    return NewDelivery(
        source_network=post.network.value,
        source_id=post.source_key,
        target_network=target.value,
        payload=_payload(post),
        parent_source_id=post.in_reply_to_id if post.is_self_reply else None,
        kind=kind,
        held=held,
    )


def _deliveries_for(
    post: Post, targets: list[NetworkName], *, held: bool = False
) -> list[NewDelivery]:
    return [change(post, target, DeliveryKind.POST, held=held) for target in targets]


def _payload(post: Post) -> str:
    return json.dumps(post.to_json(), ensure_ascii=False)
