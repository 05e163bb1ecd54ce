"""Delivering edits and deletions of a mirrored post: its parts edited where the target
allows (else the ``edits`` policy), or deleted last part first, each recorded at once."""

from __future__ import annotations

from birdbridge.engine.costs import delete_cost, post_cost
from birdbridge.engine.outcomes import DeliverReport, Wait
from birdbridge.engine.posts import Posts
from birdbridge.errors import Unsupported
from birdbridge.models import OutgoingPart, Post
from birdbridge.networks.base import Network
from birdbridge.render.compose import Rendered
from birdbridge.store import Delivery, DeliveryPhase, DeliveryStatus, Mirror


class Changes(Posts):
    """Edits and deletions (an edit carried as delete-and-post-again uses the posting)."""

    def _after_post(self, delivery: Delivery) -> Delivery | None:
        """The post delivery an edit or deletion follows; waits while it is under way."""
        original = self.store.delivery_for(
            self.link, delivery.source_network, delivery.source_id, delivery.target_network
        )
        if original is not None and original.status is DeliveryStatus.PUBLISHING:
            raise Wait(max(original.next_attempt_at, self.clock()))
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
        parts = self._mirror_parts(delivery)
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
            self._renew_claim(delivery)
            if mirror.repost_of is not None:
                target.unrepost(mirror.repost_of)  # never delete an id that may be the original
            else:
                target.delete(mirror.target_id)
            self.store.mark_part_deleted(mirror.id, now=self.clock())

    def _edit(self, delivery: Delivery, post: Post, target: Network, report: DeliverReport) -> None:
        """A new version of the source: edit the mirror's parts where the target allows, and
        otherwise follow the ``edits`` policy."""
        self._after_post(delivery)
        parts = self._mirror_parts(delivery)
        if delivery.phase in (DeliveryPhase.REPOSTING, DeliveryPhase.REPOSTING_NEW):
            # Interrupted while replacing the mirror: what is left of the old version goes
            # (unless that was done), and the new version, owed, goes out from where it was.
            self._repost(delivery, delivery.phase, post, target, parts, report)
            return
        if not parts or post.is_repost:
            self._skip(delivery, "nothing to edit: no live mirror of this post", report)
            return
        rendered = self._rendered(post, target)
        # Every edit, every part the new version adds, every part it no longer has: all of it
        # fits the X budget or none of it is tried (an edit left half made stays so: X's edit
        # window is short).
        texts = rendered.parts or [""]
        surplus = max(0, len(parts) - len(texts))
        changes = post_cost(texts, ())
        changes.lines += delete_cost(surplus).lines if surplus else []
        self._afford(target, changes, f"the edit of post {post.id}")
        try:
            if post.media and not target.limits().edits_with_media:
                raise Unsupported(
                    f"{target.name.label} edits of posts with media are not carried",
                    network=target.name.value,
                )
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
            self._renew_claim(delivery)
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
        self.store.set_phase(delivery.id, DeliveryPhase.REPOSTING)  # owed before any deletion
        self._repost(delivery, DeliveryPhase.REPOSTING, post, target, parts, report)

    def _repost(
        self,
        delivery: Delivery,
        phase: DeliveryPhase,
        post: Post,
        target: Network,
        parts: list[Mirror],
        report: DeliverReport,
    ) -> None:
        """Delete the old version's parts, then post the new version. Once the deletions are
        done, the live parts of the mirror are the new version's: never deleted again."""
        if phase is DeliveryPhase.REPOSTING:
            self._delete_parts(delivery, target, parts)
            self.store.set_phase(delivery.id, DeliveryPhase.REPOSTING_NEW)
        self._post(delivery, post, target, report)
