"""Delivering a new post: held and reposted posts settled first, then the thread anchor, the
media and the rendering planned, and each part published and recorded at once."""

from __future__ import annotations

from birdbridge.engine.costs import Estimate, post_cost
from birdbridge.engine.counterparts import counterpart
from birdbridge.engine.media import PreparedMedia
from birdbridge.engine.outcomes import DeliverReport, Stopping, Wait
from birdbridge.engine.publishing import Publisher
from birdbridge.engine.recovery import STILL, media_kinds
from birdbridge.media.plan import distribute, group_media
from birdbridge.models import OutgoingPart, Post
from birdbridge.networks.base import Network
from birdbridge.render.compose import Rendered
from birdbridge.store import Delivery, DeliveryStatus

# The parts to publish (text and media ids each), the rest of the rendering, and the kind of
# each media id (for recovery).
Plan = tuple[list[tuple[str, list[str]]], Rendered, dict[str, str]]


class Posts(Publisher):
    """New posts (and, for an edit carried as a new post, its new version)."""

    def _post(self, delivery: Delivery, post: Post, target: Network, report: DeliverReport) -> None:
        if self.recovery.ours_after_all(delivery, post, report):
            return
        if self._too_old(delivery, post, report):
            return
        if self._native_repost(delivery, post, target, report):
            return
        reply_to = self._thread_anchor(delivery, report)
        if self._budgeted(target) and not self._mirror_parts(delivery):
            self._afford(target, self._estimate(post, target), f"post {post.id}")
        planned = self._plan(delivery, post, target, report)
        if planned is None:
            return
        parts, rendered, kinds = planned
        done = {m.part_index: m.target_id for m in self._mirror_parts(delivery)}
        urls: list[str] = []
        for index, (text, media_ids) in enumerate(parts):
            if index in done:
                reply_to = done[index]
                continue
            if self.stop.is_set():
                raise Stopping
            self._renew_claim(delivery)
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

    def _estimate(self, post: Post, target: Network) -> Estimate:
        """What the post will cost on ``target`` before its media are fetched: each part, the
        posts its media need beyond them (at most 4 pictures a post), and -- when media that
        cannot be carried would add the original's URL (media_fallback = "link") -- that URL."""
        parts = list(self._rendered(post, target, None).parts) or [""]
        limits = target.limits()
        if post.media and limits.media is not None:
            groups = group_media(list(post.media), limits.media.max_per_post)
            parts += [""] * max(0, len(groups) - len(parts))
            if post.url and self.policy.media_fallback_on(target.name.value) == "link":
                parts[0] = f"{parts[0]}\n\n{post.url}".strip()
        return post_cost(parts, post.media)

    def _too_old(self, delivery: Delivery, post: Post, report: DeliverReport) -> bool:
        """``max_age`` holds when a post is delivered too, not only when it is read: a post
        that waited (X's budget until the next month, a long pause) past it is skipped, unless
        part of it is out already (the rest of a thread follows its start)."""
        max_age = self.policy.max_age
        if max_age is None or self._mirror_parts(delivery):
            return False
        age = (self.clock() - post.created_at).total_seconds()
        if age <= max_age:
            return False
        self._skip(
            delivery, f"{age:.0f} s old when it could be delivered (max_age = {max_age:g})", report
        )
        return True

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
                reason = 'repost of a post not on the target (policy reposts = "skip")'
                self._skip(delivery, reason, report)
                return True
            return False
        if not self._mirror_parts(delivery):
            self._afford(target, post_cost([], (), repost=True), f"repost of {found.id}")
            self._renew_claim(delivery)
            self.store.mark_publishing(delivery.id, 0, "", now=self.clock())
            published = target.repost(found.id)
            self.store.record_part(
                delivery, 0, published.id, published.url, now=self.clock(), repost_of=found.id
            )
            report.parts += 1
        self._finish(delivery, post, target, [found.url or found.id], report, "reposted")
        return True

    def _plan(
        self, delivery: Delivery, post: Post, target: Network, report: DeliverReport
    ) -> Plan | None:
        """The parts to publish, the rest of the rendering and the kind of each media id;
        None when the delivery was skipped instead."""
        limits = target.limits()
        text = None
        carried: dict[int, str] = {}
        if post.media and limits.media is not None:
            prepared = self.media.prepare(delivery, post, target, limits.media, self.clock())
            carried = prepared.ids
            if prepared.fallbacks and not self._media_fallback(
                delivery, post, target, prepared, report
            ):
                return None
            fallback = self.policy.media_fallback_on(target.name.value)
            if prepared.fallbacks and fallback == "link" and post.url:
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
            self._skip(delivery, "nothing to post: no text and no media", report)
            return None
        moving = media_kinds(post.media[i] for i in order)
        kinds = {carried[i]: kind for i, kind in zip(order, moving, strict=True)}
        return parts, rendered, kinds

    def _media_fallback(
        self,
        delivery: Delivery,
        post: Post,
        target: Network,
        prepared: PreparedMedia,
        report: DeliverReport,
    ) -> bool:
        """Log and count each media fallback; False when the policy skips the whole post."""
        policy = self.policy.media_fallback_on(target.name.value)
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
        self._skip(delivery, f"media not carried: {reasons}", report)
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
            raise Wait(max(parent.next_attempt_at, self.clock()))
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
