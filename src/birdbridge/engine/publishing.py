"""What posting, editing and deleting share: the deliverer's settings for one link, the claim
renewed before each network call, one part published (recovery first), the honest fallback
and the finished delivery."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from birdbridge.config import PolicyConfig
from birdbridge.engine.adopt import Recovery
from birdbridge.engine.budget import XBudget
from birdbridge.engine.costs import Estimate
from birdbridge.engine.media import MediaCarrier
from birdbridge.engine.outcomes import ClaimLost, DeliverReport, ReplyPolicy
from birdbridge.engine.rendering import render_for
from birdbridge.errors import Duplicate, MediaRejected, ReplyRefused, Transient
from birdbridge.media.workdir import process_workdir
from birdbridge.metrics import FALLBACKS
from birdbridge.models import NetworkName, OutgoingPart, Post, Published, dollars
from birdbridge.networks.base import Network
from birdbridge.render.compose import Rendered
from birdbridge.store import Delivery, Mirror, Store

log = logging.getLogger(__name__)


class Publisher:
    """The settings and the shared steps of delivering for one link."""

    budget: XBudget | None = None  # the link's X budget (engine/budget.py), set by the engine

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
        self.recovery = Recovery(store, link, clock, timedelta(seconds=claim_timeout))

    def _budgeted(self, target: Network) -> bool:
        """Is ``target`` X with a monthly budget (what it spends is counted either way)?"""
        return (
            self.budget is not None
            and self.budget.limit is not None
            and target.name is NetworkName.TWITTER
        )

    def _afford(self, target: Network, estimate: Estimate, what: str) -> None:
        """Before a delivery to X starts: the whole of it must fit the month's budget, so that
        a post is not left half made (media uploaded, text refused). BudgetExceeded pauses X.
        Each write is checked again as it is sent (networks/x_billing.py)."""
        if self.budget is None or not self._budgeted(target):
            return
        # Who the account is (for the mirror's URL) is read once a process: a billed user read
        # that should be in the month's spend before the decision, not after it.
        target.account()
        micros = estimate.micros(self.budget.billing.prices)
        self.budget.require(micros, f"{what} ({dollars(micros)})")

    def _claim(self, delivery: Delivery) -> bool:
        return self.store.lease(
            delivery.id, self.worker_id, seconds=self.claim_timeout, now=self.clock()
        )

    def _renew_claim(self, delivery: Delivery) -> None:
        """Before each network call: the delivery is still ours, or another worker has it."""
        if not self._claim(delivery):
            raise ClaimLost

    def _mirror_parts(self, delivery: Delivery) -> list[Mirror]:
        """The live parts the delivery's source post became on its target, in order."""
        return self.store.mirror_parts(
            self.link, delivery.source_network, delivery.source_id, delivery.target_network
        )

    def _rendered(self, post: Post, target: Network, text: str | None = None) -> Rendered:
        return render_for(self.store, self.link, self.policy, post, target, text)

    def _skip(self, delivery: Delivery, reason: str, report: DeliverReport) -> None:
        self.store.mark_skipped(delivery.id, reason, now=self.clock())
        report.skipped += 1

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
            found = self.recovery.recover(delivery, part, media, target)
            if found is not None:
                self._adopted(report, delivery, index, found, "recovered after an interruption")
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
            found = self.recovery.adopt_duplicate(delivery, part, media, target, exc)
            why = f"{target.name.label} called it a duplicate; adopted"
            self._adopted(report, delivery, index, found, why)
            return found
        except ReplyRefused as exc:
            return self._reply_refused(delivery, index, part, target, key, exc, report)
        except MediaRejected as exc:
            # The uploads were refused (expired, or cleaned up by the server): upload again.
            self.store.save_media_state(delivery.id, "{}")
            raise Transient(
                f"{exc}; the media will be uploaded again", network=exc.network
            ) from None

    def _adopted(
        self, report: DeliverReport, delivery: Delivery, index: int, found: Published, why: str
    ) -> None:
        report.adopted += 1
        log.warning(
            "link %s: delivery %s part %s was already published as %s (%s)",
            self.link,
            delivery.id,
            index,
            found.id,
            why,
        )

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
        raise ReplyPolicy(message, skip=policy == "skip")

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
