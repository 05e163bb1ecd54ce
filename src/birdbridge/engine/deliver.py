"""deliver -> render -> publish -> record, and recover what a crash left ``publishing``."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from birdbridge.config import PolicyConfig
from birdbridge.engine.counterparts import counterpart
from birdbridge.engine.media import MediaCarrier, PreparedMedia
from birdbridge.engine.pauses import pause_for, pauses_side
from birdbridge.engine.recovery import STILL, Sent, find_sent, in_flight_match, media_kinds
from birdbridge.engine.rendering import render_for
from birdbridge.errors import (
    AccountRefused,
    Duplicate,
    NetworkError,
    Permanent,
    RateLimited,
    ReplyRefused,
    Transient,
    Unsupported,
)
from birdbridge.media.plan import distribute, group_media
from birdbridge.media.workdir import process_workdir
from birdbridge.metrics import FALLBACKS
from birdbridge.models import NetworkName, OutgoingPart, Post, Published
from birdbridge.networks.base import Network
from birdbridge.render.compose import Rendered
from birdbridge.store import (
    DatabaseError,
    Delivery,
    DeliveryKind,
    DeliveryPhase,
    DeliveryStatus,
    Mirror,
    Store,
)

log = logging.getLogger(__name__)

# Mastodon keeps Idempotency-Keys for 1 hour (docs: methods/statuses); stay inside it.
IDEMPOTENCY_WINDOW = {NetworkName.MASTODON: timedelta(minutes=55)}
# Posts the poll read as the user's own are looked up this far back (never adopted).
RECOVERY_LOOKBACK = timedelta(hours=1)
HOLD_RETRY = timedelta(seconds=30)  # a held post looks again this soon


@dataclass
class DeliverReport:
    done: int = 0
    parts: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    waiting: int = 0
    adopted: int = 0  # parts found already published after a crash
    fallbacks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _Wait(Exception):
    """The delivery must wait (its thread parent is still on its way, or a same-text post of
    ours is in flight); ``why`` is shown as its last error meanwhile."""

    def __init__(
        self, until: datetime, why: str = "waiting for its thread parent to be mirrored"
    ) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


class _ClaimLost(Exception):
    """Another worker took the delivery over (our claim ran out): leave it to them."""


class _Stopping(Exception):
    """Shutdown was asked for between two parts."""


class _ReplyPolicy(Exception):
    """The ``reply_refused`` policy ends this delivery: skipped or failed with ``message``."""

    def __init__(self, message: str, *, skip: bool) -> None:
        super().__init__(message)
        self.skip = skip


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min, ... capped at 1 h."""
    base = min(30.0 * 2 ** max(attempt - 1, 0), 3600.0)
    return timedelta(seconds=base * random.uniform(0.5, 1.0))


class Deliverer:
    """Delivers the due deliveries of one link."""

    def __init__(
        self,
        store: Store,
        link: str,
        adapters: Mapping[NetworkName, Network],
        *,
        worker_id: str,
        max_attempts: int,
        stop: threading.Event,
        clock: Callable[[], datetime],
        claim_timeout: float = 60,
        policy: PolicyConfig | None = None,
        media: MediaCarrier | None = None,
    ) -> None:
        self.store = store
        self.link = link
        self.adapters = adapters
        self.worker_id = worker_id
        self.max_attempts = max_attempts
        self.stop = stop
        self.clock = clock
        self.claim_timeout = claim_timeout
        self.policy = policy or PolicyConfig()
        self.media = media or MediaCarrier(store, process_workdir())

    def run(self) -> DeliverReport:
        report = DeliverReport()
        # Target networks that said "not now" (paused before, or during this pass).
        blocked: set[str] = set(self.store.pauses(self.link, self.clock()))
        for delivery in self.store.due_deliveries(self.link, self.clock()):
            if self.stop.is_set():
                break
            if delivery.target_network in blocked:
                continue
            if not self._claim(delivery):
                continue  # another worker has it (or had it, and crashed: wait for the claim)
            self._attempt(delivery, report, blocked)
        return report

    def _claim(self, delivery: Delivery) -> bool:
        return self.store.lease(
            delivery.id, self.worker_id, seconds=self.claim_timeout, now=self.clock()
        )

    def _attempt(self, delivery: Delivery, report: DeliverReport, blocked: set[str]) -> None:
        now = self.clock()
        try:
            self._deliver(delivery, report)
        except _Wait as wait:
            report.waiting += 1
            self.store.mark_retry(
                delivery.id,
                wait.why,
                wait.until,
                count_attempt=False,
                now=now,
            )
        except _ClaimLost:
            log.warning(
                "link %s: delivery %s was taken over by another worker", self.link, delivery.id
            )
        except _Stopping:
            self.store.mark_retry(
                delivery.id, "interrupted by shutdown", now, count_attempt=False, now=now
            )
        except _ReplyPolicy as outcome:
            if outcome.skip:
                self.store.mark_skipped(delivery.id, str(outcome), now=now)
                report.skipped += 1
            else:
                self._fail(delivery, str(outcome), report, refused=True)
        except RateLimited as exc:
            if pauses_side(exc):
                blocked.add(delivery.target_network)
                pause_for(self.store, self.link, NetworkName(delivery.target_network), exc, now)
            # A limit of one family of endpoints (media uploads, posting): this delivery waits
            # for its reset, the deliveries behind it that need other endpoints go on.
            self.store.mark_retry(
                delivery.id, str(exc), exc.retry_at, count_attempt=False, refused=True, now=now
            )
            report.retried += 1
        except AccountRefused as exc:
            blocked.add(delivery.target_network)
            reason = pause_for(
                self.store, self.link, NetworkName(delivery.target_network), exc, now
            )
            report.errors.append(reason)
            # Due again at once: the pause (not the delivery) decides when to try again, so
            # `birdbridge resume` takes effect immediately. Nothing is marked failed.
            self.store.mark_retry(
                delivery.id, str(exc), now, count_attempt=False, refused=True, now=now
            )
        except Transient as exc:
            attempts = self.store.mark_retry(
                delivery.id, str(exc), now + retry_delay(delivery.attempts + 1), now=now
            )
            if attempts >= self.max_attempts:
                self._fail(delivery, f"gave up after {attempts} attempts: {exc}", report)
            else:
                report.retried += 1
                log.warning(
                    "link %s: delivery %s will be retried (attempt %s/%s): %s",
                    self.link,
                    delivery.id,
                    attempts,
                    self.max_attempts,
                    exc,
                )
        except (Permanent, NetworkError) as exc:
            self._fail(delivery, str(exc), report, refused=True)
        except DatabaseError:
            raise  # the database, not this post: the pass cannot go on, the cycle reports it
        except Exception as exc:  # one post's surprise stays in that post
            self._unexpected(delivery, exc, report, now)

    def _unexpected(
        self, delivery: Delivery, exc: Exception, report: DeliverReport, now: datetime
    ) -> None:
        """An error no network raised (a bug, a crafted post, a corrupt row): that delivery
        is retried later and failed with the reason after ``max_attempts``; the pass goes on
        with the others (promise 4: one bad post never blocks the rest)."""
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
        log.exception("link %s: delivery %s: %s", self.link, delivery.id, reason)
        attempts = self.store.mark_retry(
            delivery.id, reason, now + retry_delay(delivery.attempts + 1), now=now
        )
        if attempts >= self.max_attempts:
            self._fail(delivery, f"gave up after {attempts} attempts: {reason}", report)
        else:
            report.retried += 1

    def _fail(
        self, delivery: Delivery, reason: str, report: DeliverReport, refused: bool = False
    ) -> None:
        self.store.mark_failed(delivery.id, reason, refused=refused, now=self.clock())
        report.failed += 1
        log.error(
            "link %s: delivery %s of %s post %s failed: %s (see `birdbridge status`; "
            "`birdbridge retry %s` tries again)",
            self.link,
            delivery.id,
            delivery.source_network,
            delivery.source_id,
            reason,
            delivery.id,
        )

    def _deliver(self, delivery: Delivery, report: DeliverReport) -> None:
        post = Post.from_json(json.loads(delivery.payload))
        target = self.adapters[NetworkName(delivery.target_network)]
        if delivery.kind is DeliveryKind.DELETE:
            self._delete(delivery, post, target, report)
        elif delivery.kind is DeliveryKind.EDIT:
            self._edit(delivery, post, target, report)
        else:
            self._post(delivery, post, target, report)

    def _post(self, delivery: Delivery, post: Post, target: Network, report: DeliverReport) -> None:
        if self._ours_after_all(delivery, post, report):
            return
        if self._native_repost(delivery, post, target, report):
            return
        reply_to = self._thread_anchor(delivery, report)
        planned = self._plan(delivery, post, target, report)
        if planned is None:
            return
        parts, rendered, kinds = planned
        done = {
            m.part_index: m.target_id
            for m in self.store.mirror_parts(
                self.link, delivery.source_network, delivery.source_id, delivery.target_network
            )
        }
        urls: list[str] = []
        for index, (text, media_ids) in enumerate(parts):
            if index in done:
                reply_to = done[index]
                continue
            if self.stop.is_set():
                raise _Stopping
            if not self._claim(delivery):  # renew the claim before each network call
                raise _ClaimLost
            part = OutgoingPart(
                text=text,
                in_reply_to_id=reply_to,
                spoiler_text=rendered.spoiler_text,
                sensitive=post.sensitive,
                language=post.language,
                visibility=post.visibility,  # an unlisted source (opt-in) stays unlisted
                media_ids=tuple(media_ids),
                poll=rendered.poll if index == 0 else None,
                quote_id=rendered.quote_id if index == 0 else None,
            )
            sent_media = tuple(kinds.get(media_id, STILL) for media_id in media_ids)
            published = self._publish_part(delivery, index, part, target, report, sent_media)
            self.store.record_part(delivery, index, published.id, published.url, now=self.clock())
            report.parts += 1
            if published.reply_fallback:
                self._fallback(
                    report,
                    "reply_refused",
                    f"{target.name.label} refused a reply; part {index + 1} "
                    f"of {delivery.source_network} post {post.id} posted standalone",
                    delivery.id,
                )
            reply_to = published.id
            urls.append(published.url or published.id)
        self._finish(delivery, post, target, urls, report)

    def _finish(
        self,
        delivery: Delivery,
        post: Post,
        target: Network,
        urls: list[str],
        report: DeliverReport,
        what: str = "mirrored",
    ) -> None:
        self.store.mark_done(delivery.id, now=self.clock())
        report.done += 1
        log.info(
            "link %s: %s %s post %s (%s) -> %s %s",
            self.link,
            what,
            post.network.label,
            post.id,
            post.url,
            target.name.label,
            " ".join(urls) or "(already there)",
            extra={"link": self.link, "source_url": post.url, "target_urls": urls},
        )

    def _ours_after_all(self, delivery: Delivery, post: Post, report: DeliverReport) -> bool:
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
            window_end = flight.attempt_at + timedelta(seconds=self.claim_timeout)
            if in_flight_match(post, flight.text, flight.started_at, window_end):
                raise _Wait(
                    self.clock() + HOLD_RETRY,
                    "held: a post of birdbridge's with the same text is being published on "
                    f"{post.network.label}; this one goes once that is settled",
                )
        self.store.set_phase(delivery.id, None)  # settled, and not ours: the user's own post
        return False

    def _native_repost(
        self, delivery: Delivery, post: Post, target: Network, report: DeliverReport
    ) -> bool:
        """A repost of a post that exists on the target too (our mirror, or the original of
        our mirror) is reposted there natively. False when it is not such a repost."""
        original = post.reposted
        if original is None:
            return False
        found = counterpart(self.store, self.link, original.network, original.id, target.name)
        if found is None:
            if self.policy.reposts == "skip":
                self.store.mark_skipped(
                    delivery.id,
                    'repost of a post not on the target (policy reposts = "skip")',
                    now=self.clock(),
                )
                report.skipped += 1
                return True
            return False
        if not self.store.mirror_parts(
            self.link, delivery.source_network, delivery.source_id, delivery.target_network
        ):
            if not self._claim(delivery):
                raise _ClaimLost
            self.store.mark_publishing(delivery.id, 0, "", now=self.clock())
            published = target.repost(found.id)
            self.store.record_part(
                delivery, 0, published.id, published.url, now=self.clock(), repost_of=found.id
            )
            report.parts += 1
        self._finish(delivery, post, target, [found.url or found.id], report, "reposted")
        return True

    def _rendered(self, post: Post, target: Network, text: str | None = None) -> Rendered:
        return render_for(self.store, self.link, self.policy, post, target, text)

    def _plan(
        self, delivery: Delivery, post: Post, target: Network, report: DeliverReport
    ) -> tuple[list[tuple[str, list[str]]], Rendered, dict[str, str]] | None:
        """The parts to publish (text and media ids each), the rest of the rendering and the
        kind of each media id (for recovery); None when the delivery was skipped instead."""
        limits = target.limits()
        text = None
        carried: dict[int, str] = {}
        if post.media and limits.media is not None:
            prepared = self.media.prepare(delivery, post, target, limits.media, self.clock())
            carried = prepared.ids
            if prepared.fallbacks and not self._media_fallback(delivery, post, prepared, report):
                return None
            if prepared.fallbacks and self.policy.media_fallback == "link" and post.url:
                text = f"{post.text}\n\n{post.url}".strip()
        rendered = self._rendered(post, target, text)
        for kind, message in rendered.fallbacks:
            self._fallback(
                report, kind, f"{post.network.label} post {post.id}: {message}", delivery.id
            )
        order = sorted(carried)
        max_per_post = limits.media.max_per_post if limits.media else 4
        groups = [
            [carried[order[i]] for i in group]
            for group in group_media([post.media[i] for i in order], max_per_post)
        ]
        parts = distribute(rendered.parts, groups)
        if not parts:
            self.store.mark_skipped(
                delivery.id, "nothing to post: no text and no media", now=self.clock()
            )
            report.skipped += 1
            return None
        moving = media_kinds(post.media[i] for i in order)
        kinds = {carried[i]: kind for i, kind in zip(order, moving, strict=True)}
        return parts, rendered, kinds

    # -- edits and deletions -----------------------------------------------------------
    def _after_post(self, delivery: Delivery) -> Delivery | None:
        """The post delivery an edit or deletion follows; waits while it is under way."""
        original = self.store.delivery_for(
            self.link, delivery.source_network, delivery.source_id, delivery.target_network
        )
        if original is not None and original.status == DeliveryStatus.PUBLISHING:
            raise _Wait(max(original.next_attempt_at, self.clock()))
        return original

    def _delete(
        self, delivery: Delivery, post: Post, target: Network, report: DeliverReport
    ) -> None:
        """The source post is gone: so go all parts of its mirror, last part first."""
        original = self._after_post(delivery)
        if original is not None and original.status is DeliveryStatus.PENDING:
            self.store.mark_skipped(
                original.id, "the source post was deleted before it was mirrored", now=self.clock()
            )
        parts = self.store.mirror_parts(
            self.link, delivery.source_network, delivery.source_id, delivery.target_network
        )
        self._delete_parts(delivery, target, parts)
        self._finish(
            delivery,
            post,
            target,
            [m.target_url or m.target_id for m in parts],
            report,
            "deleted the mirror of",
        )

    def _delete_parts(self, delivery: Delivery, target: Network, parts: list[Mirror]) -> None:
        """Delete target posts, last part first, each recorded as deleted at once."""
        for mirror in reversed(parts):
            if not self._claim(delivery):
                raise _ClaimLost
            if mirror.repost_of is not None:
                target.unrepost(mirror.repost_of)  # never delete an id that may be the original
            else:
                target.delete(mirror.target_id)
            self.store.mark_part_deleted(mirror.id, now=self.clock())

    def _edit(self, delivery: Delivery, post: Post, target: Network, report: DeliverReport) -> None:
        """A new version of the source: edit the mirror's parts where the target allows, and
        otherwise follow the ``edits`` policy."""
        self._after_post(delivery)
        parts = self.store.mirror_parts(
            self.link, delivery.source_network, delivery.source_id, delivery.target_network
        )
        if delivery.phase is DeliveryPhase.REPOSTING:
            # Interrupted while replacing the mirror: what is left of it goes, the new
            # version is owed and goes out.
            self._delete_parts(delivery, target, parts)
            self._post(delivery, post, target, report)
            return
        if not parts or post.is_repost:
            self.store.mark_skipped(
                delivery.id, "nothing to edit: no live mirror of this post", now=self.clock()
            )
            report.skipped += 1
            return
        rendered = self._rendered(post, target)
        try:
            if target.name is NetworkName.TWITTER and post.media:
                # An X edit is a whole new version: its media would have to be uploaded
                # again, which an edit cannot wait for; the policy decides instead.
                raise Unsupported("X edits of posts with media are not carried", network="twitter")
            urls = self._edit_parts(delivery, post, parts, rendered, target, report)
        except Unsupported as exc:
            self._edit_refused(delivery, post, target, parts, str(exc), report)
            return
        self._finish(delivery, post, target, urls, report, "edited the mirror of")

    def _edit_parts(
        self,
        delivery: Delivery,
        post: Post,
        parts: list[Mirror],
        rendered: Rendered,
        target: Network,
        report: DeliverReport,
    ) -> list[str]:
        texts = rendered.parts or [""]
        urls: list[str] = []
        reply_to = parts[0].target_id
        for index, (mirror, text) in enumerate(zip(parts, texts, strict=False)):
            if not self._claim(delivery):
                raise _ClaimLost
            self.store.mark_publishing(delivery.id, index, text, now=self.clock())
            part = OutgoingPart(
                text=text, spoiler_text=rendered.spoiler_text, sensitive=post.sensitive
            )
            published = target.edit(mirror.target_id, part)
            if published.id != mirror.target_id or published.url != mirror.target_url:
                self.store.replace_part(mirror.id, published.id, published.url)
            reply_to = published.id  # the part's id now (X gives an edit a new one)
            urls.append(published.url or published.id)
            report.parts += 1
        for index in range(len(parts), len(texts)):  # the new version is longer
            part = OutgoingPart(
                text=texts[index],
                in_reply_to_id=reply_to,
                spoiler_text=rendered.spoiler_text,
                sensitive=post.sensitive,
                language=post.language,
                visibility=post.visibility,
            )
            published = self._publish_part(delivery, index, part, target, report)
            self.store.record_part(delivery, index, published.id, published.url, now=self.clock())
            reply_to = published.id
            urls.append(published.url or published.id)
            report.parts += 1
        self._delete_parts(delivery, target, parts[len(texts) :])  # the new version is shorter
        return urls

    def _edit_refused(
        self,
        delivery: Delivery,
        post: Post,
        target: Network,
        parts: list[Mirror],
        why: str,
        report: DeliverReport,
    ) -> None:
        if self.policy.edits != "repost":
            self._fallback(
                report,
                "edit_not_carried",
                f"{post.network.label} post {post.id} was edited; the mirror stays as it was "
                f'({why}; policy edits = "update")',
                delivery.id,
            )
            self.store.mark_done(delivery.id, now=self.clock())
            report.done += 1
            return
        self._fallback(
            report,
            "edit_reposted",
            f"{post.network.label} post {post.id} was edited; its mirror is deleted and "
            f'posted again ({why}; policy edits = "repost")',
            delivery.id,
        )
        # Owed before anything is deleted.
        self.store.set_phase(delivery.id, DeliveryPhase.REPOSTING)
        self._delete_parts(delivery, target, parts)
        self._post(delivery, post, target, report)

    def _media_fallback(
        self, delivery: Delivery, post: Post, prepared: PreparedMedia, report: DeliverReport
    ) -> bool:
        """Log and count each media fallback; False when the policy skips the whole post."""
        policy = self.policy.media_fallback
        outcome = {
            "link": "posted with a link to the original",
            "drop": "posted without it",
            "skip": "post not mirrored",
        }[policy]
        for _, reason in prepared.fallbacks:
            self._fallback(
                report,
                f"media_{policy}",
                f"{post.network.label} post {post.id}: media not carried "
                f'({reason}); {outcome} (media_fallback = "{policy}")',
                delivery.id,
            )
        if policy != "skip":
            return True
        reasons = "; ".join(reason for _, reason in prepared.fallbacks)
        self.store.mark_skipped(delivery.id, f"media not carried: {reasons}", now=self.clock())
        report.skipped += 1
        return False

    def _thread_anchor(self, delivery: Delivery, report: DeliverReport) -> str | None:
        """The target post a self-reply must answer: the LAST part of its parent's mirror."""
        parent_id = delivery.parent_source_id
        if parent_id is None:
            return None
        parts = self.store.mirror_parts(
            self.link, delivery.source_network, parent_id, delivery.target_network
        )
        parent = self.store.delivery_for(
            self.link, delivery.source_network, parent_id, delivery.target_network
        )
        if parent is not None and parent.status in (
            DeliveryStatus.PENDING,
            DeliveryStatus.PUBLISHING,
        ):
            # Causal order: wait until the whole parent is there, then reply to its last part.
            raise _Wait(max(parent.next_attempt_at, self.clock()))
        if parts:
            return parts[-1].target_id
        mirrored_from = self.store.mirror_source(self.link, delivery.source_network, parent_id)
        if mirrored_from is not None and mirrored_from.source_network == delivery.target_network:
            # Two-way link: the parent is itself our mirror of a post on the target network
            # (a reply written under the mirror): answer the original.
            return mirrored_from.source_id
        why = (
            f"its parent {parent_id} was {parent.status}"
            if parent is not None
            else f"its parent {parent_id} was never mirrored (older than the link, or skipped)"
        )
        self._fallback(
            report,
            "thread_broken",
            f"{delivery.source_network} post {delivery.source_id} posted as a new thread: {why}",
            delivery.id,
        )
        return None

    def _publish_part(
        self,
        delivery: Delivery,
        index: int,
        part: OutgoingPart,
        target: Network,
        report: DeliverReport,
        media: tuple[str, ...] = (),
    ) -> Published:
        key = f"birdbridge-{delivery.idempotency_token}-{index}"
        resent = delivery.publishing_part == index  # an earlier call may have published it
        if resent:
            found = self._recover(delivery, part, media, target)
            if found is not None:
                report.adopted += 1
                log.warning(
                    "link %s: delivery %s part %s was already published as %s "
                    "(recovered after an interruption)",
                    self.link,
                    delivery.id,
                    index,
                    found.id,
                )
                return found
        self.store.mark_publishing(delivery.id, index, part.text, now=self.clock())
        try:
            return target.publish(part, idempotency_key=key)
        except Duplicate as exc:
            if not resent:
                # Never sent before: the duplicate is a post birdbridge did not write (the
                # user posted the same words themselves). Nothing to adopt: refused for good.
                raise Duplicate(
                    f"{exc}: a post with the same text is already on {target.name.label} and "
                    "birdbridge did not write it",
                    network=exc.network,
                    status=exc.status,
                ) from None
            # "Duplicate content" when sending again after an interrupted publish (a lost
            # reply, a crash): the post is there, written by us: adopt it, never fail a
            # live post.
            found = self._find_published(delivery, part, media, target)
            if found is None:
                # Not in the timeline (yet: X's timelines lag): look again on the next try,
                # with recovery first; after max_attempts the reason is shown as failed.
                raise Transient(
                    f"{exc}; not found among the account's recent posts yet, looked for "
                    "again before any new attempt",
                    network=exc.network,
                    status=exc.status,
                ) from None
            report.adopted += 1
            log.warning(
                "link %s: delivery %s part %s: %s called it a duplicate; it was already "
                "published as %s (adopted)",
                self.link,
                delivery.id,
                index,
                target.name.label,
                found.id,
            )
            return found
        except ReplyRefused as exc:
            return self._reply_refused(delivery, index, part, target, key, exc, report)
        except Permanent as exc:
            if not part.media_ids or "media" not in str(exc).lower():
                raise
            # The uploads were refused (expired, or cleaned up by the server): upload again.
            self.store.save_media_state(delivery.id, "{}")
            raise Transient(
                f"{exc}; the media will be uploaded again", network=exc.network
            ) from None

    def _reply_refused(
        self,
        delivery: Delivery,
        index: int,
        part: OutgoingPart,
        target: Network,
        key: str,
        refusal: ReplyRefused,
        report: DeliverReport,
    ) -> Published:
        """The target refused the part as a reply: the link's ``reply_refused`` policy."""
        where = (
            f"part {index + 1} of {delivery.source_network} post {delivery.source_id} "
            f"(a reply to {part.in_reply_to_id})"
        )
        policy = self.policy.reply_refused
        if policy == "standalone":
            self._fallback(
                report,
                "reply_refused",
                f"{target.name.label} refused {where} as a reply; posted as a post of its own "
                '(reply_refused = "standalone")',
                delivery.id,
            )
            return target.publish(replace(part, in_reply_to_id=None), idempotency_key=key + "-s")
        outcome = "nothing more of this thread is posted" if policy == "skip" else "failed"
        message = (
            f"{target.name.label} refused {where} as a reply ({refusal}); {outcome} "
            f'(reply_refused = "{policy}")'
        )
        self._fallback(report, "reply_refused", message, delivery.id)
        raise _ReplyPolicy(message, skip=policy == "skip")

    def _find_published(
        self, delivery: Delivery, part: OutgoingPart, media: tuple[str, ...], target: Network
    ) -> Published | None:
        """The part as an earlier attempt published it, the call just made included (the
        network called it a duplicate of a post that must be ours)."""
        return self._search(delivery, part, media, target, self.clock())

    def _recover(
        self, delivery: Delivery, part: OutgoingPart, media: tuple[str, ...], target: Network
    ) -> Published | None:
        """Did the interrupted call publish the part? Find out before publishing again.
        Mastodon too looks first (its reads are free): from 4.6 a repeated Idempotency-Key
        may answer 500 instead of the first post (api-notes M5); the key
        then only guards the resend, inside IDEMPOTENCY_WINDOW."""
        return self._search(delivery, part, media, target, delivery.publishing_attempt_at)

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
            until=(last_attempt or started) + timedelta(seconds=self.claim_timeout),
        )
        network = target.name.value
        since = started - RECOVERY_LOOKBACK
        not_ours = self.store.mirror_target_ids(self.link, network, since)
        not_ours |= self.store.native_ids(self.link, network, since)
        found = find_sent(
            target.recent_own(started), sent, not_ours=not_ours, our_app=target.app_name()
        )
        return Published(id=found.id, url=found.url) if found is not None else None

    def _fallback(
        self, report: DeliverReport, kind: str, message: str, delivery_id: int | None = None
    ) -> None:
        """Honest fallbacks (promise 6): logged, returned in the report, counted, and kept
        with the delivery for `birdbridge status`."""
        report.fallbacks.append(message)
        if delivery_id is not None:
            self.store.add_note(delivery_id, message)
        FALLBACKS.labels(self.link, kind).inc()
        log.warning(
            "link %s: fallback: %s", self.link, message, extra={"link": self.link, "fallback": kind}
        )
