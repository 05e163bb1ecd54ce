"""The deliverer's side of recovery (promise 1). Before a part is sent again, the post an
interrupted publish made is looked for among the account's recent posts and adopted
(engine/recovery.py decides what matches). A post the poll held back, because a post of ours
with the same text was in flight, is settled before it is delivered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from birdbridge.engine.outcomes import DeliverReport, Wait
from birdbridge.engine.recovery import Sent, find_sent, in_flight_match
from birdbridge.errors import Duplicate, Transient
from birdbridge.models import OutgoingPart, Post, Published
from birdbridge.networks.base import Network
from birdbridge.store import Delivery, DeliveryPhase, Store

# Posts the poll read as the user's own are looked up this far back (never adopted).
RECOVERY_LOOKBACK = timedelta(hours=1)
HOLD_RETRY = timedelta(seconds=30)  # a held post looks again this soon


class Recovery:
    """Recovery for one link. ``call_time``: the longest a network call may take (the claim
    a call holds), added to an attempt's start to end the window a post may be created in."""

    def __init__(
        self, store: Store, link: str, clock: Callable[[], datetime], call_time: timedelta
    ) -> None:
        self.store = store
        self.link = link
        self.clock = clock
        self.call_time = call_time

    def recover(
        self, delivery: Delivery, part: OutgoingPart, media: tuple[str, ...], target: Network
    ) -> Published | None:
        """Did the interrupted call publish the part? Find out before publishing again.
        Mastodon too looks first (its reads are free): from 4.6 a repeated Idempotency-Key
        may answer 500 instead of the first post (api-notes M5); the key then only guards
        the resend, within the hour Mastodon keeps it."""
        return self._search(delivery, part, media, target, delivery.publishing_attempt_at)

    def adopt_duplicate(
        self,
        delivery: Delivery,
        part: OutgoingPart,
        media: tuple[str, ...],
        target: Network,
        duplicate: Duplicate,
    ) -> Published:
        """ "Duplicate content" when sending again after an interrupted publish (a lost reply,
        a crash): the post is there, written by us. It is adopted (the call just made
        included), never failed while it is live."""
        found = self._search(delivery, part, media, target, self.clock())
        if found is None:
            # Not in the timeline (yet: X's timelines lag): look again on the next try, with
            # recovery first; after max_attempts the reason is shown as failed.
            raise Transient(
                f"{duplicate}; not found among the account's recent posts yet, looked for "
                "again before any new attempt",
                network=duplicate.network,
                status=duplicate.status,
            )
        return found

    def _search(
        self,
        delivery: Delivery,
        part: OutgoingPart,
        media: tuple[str, ...],
        target: Network,
        last_attempt: datetime | None,
    ) -> Published | None:
        """Adopt only what birdbridge sent (engine/recovery.py): created between the first
        attempt's start and the end of the latest, never a post already known as another
        post's mirror or as the user's own."""
        started = delivery.publishing_started_at or self.clock()
        sent = Sent(
            text=part.text,
            in_reply_to_id=part.in_reply_to_id,
            media=media,
            since=started,
            until=(last_attempt or started) + self.call_time,
        )
        network = target.name.value
        since = started - RECOVERY_LOOKBACK
        not_ours = self.store.mirror_target_ids(self.link, network, since)
        not_ours |= self.store.native_ids(self.link, network, since)
        found = find_sent(
            target.recent_own(started), sent, not_ours=not_ours, our_app=target.app_name()
        )
        return Published(id=found.id, url=found.url) if found is not None else None

    def ours_after_all(self, delivery: Delivery, post: Post, report: DeliverReport) -> bool:
        """A post the poll held back (read while a same-text post of ours was in flight) is
        settled here: recovery recorded it as our mirror (skipped: no loop), or the publish
        is still unsettled (wait), or it is the user's own (delivered). Any post delivery
        checks the mirror map once more: a post birdbridge wrote never goes back."""
        if self.store.is_mirror_target(self.link, delivery.source_network, post.id):
            self.store.mark_skipped(
                delivery.id,
                "published by birdbridge (a mirror, recorded after an interrupted publish)",
                now=self.clock(),
            )
            report.skipped += 1
            return True
        if delivery.phase is not DeliveryPhase.HELD:
            return False
        for flight in self.store.in_flight(self.link, delivery.source_network):
            window_end = flight.attempt_at + self.call_time
            if in_flight_match(post, flight.text, flight.started_at, window_end):
                raise Wait(
                    self.clock() + HOLD_RETRY,
                    "held: a post of birdbridge's with the same text is being published on "
                    f"{post.network.label}; this one goes once that is settled",
                )
        self.store.set_phase(delivery.id, None)  # settled, and not ours: the user's own post
        return False
