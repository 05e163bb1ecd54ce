"""``birdbridge explain``: for one source post, the policy's decision with its reason and
exactly what would be (or was) posted on each target. Reads, never posts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from birdbridge.config import Config, LinkConfig
from birdbridge.engine.costs import Estimate, post_cost
from birdbridge.engine.poll import judge
from birdbridge.engine.recheck import X_RECHECK_AGES
from birdbridge.engine.rendering import render_for
from birdbridge.errors import ConfigError
from birdbridge.models import NetworkName, Post
from birdbridge.networks.base import Network
from birdbridge.networks.x_prices import DEFAULT_TABLE, PriceClass, PriceTable
from birdbridge.store import Store

_X_HOSTS = {"x.com", "twitter.com", "mobile.twitter.com", "www.x.com", "www.twitter.com"}


@dataclass(frozen=True)
class PostRef:
    network: NetworkName | None  # None: a bare id, the link decides
    id: str
    host: str | None = None


@dataclass
class TargetReport:
    target: NetworkName
    mirror: bool
    reason: str
    parts: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    limit: int = 0
    spoiler_text: str = ""
    poll: list[str] | None = None
    quote_id: str | None = None
    fallbacks: list[str] = field(default_factory=list)
    delivery: str | None = None  # what the outbox says: status and last error
    published: list[str] = field(default_factory=list)  # URLs of the mirror's parts
    # What mirroring it costs on X (a target X; engine/costs.py), line by line with the reason.
    cost: Estimate | None = None


@dataclass
class Explanation:
    link: str
    post: Post
    targets: list[TargetReport]
    # What reading it costs on X (a source X): the poll's read and the re-checks.
    reading: Estimate | None = None
    prices: PriceTable = DEFAULT_TABLE


def parse_ref(text: str) -> PostRef:
    """A post URL (X or any Mastodon server) or a bare id."""
    text = text.strip()
    if text.isdigit():
        return PostRef(None, text)
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigError(f"{text!r} is neither a post URL nor a post id")
    segments = [s for s in parts.path.split("/") if s]
    if host in _X_HOSTS:
        match = re.search(r"/status(?:es)?/(\d+)", parts.path)
        if match is None:
            raise ConfigError(f"{text!r} is not the URL of a post on X (…/status/<id>)")
        return PostRef(NetworkName.TWITTER, match.group(1), host)
    ids = [s for s in segments if s.isdigit()]
    if not ids:
        raise ConfigError(f"{text!r} is not the URL of a Mastodon post (…/@user/<id>)")
    return PostRef(NetworkName.MASTODON, ids[-1], host)


def pick_link(config: Config, ref: PostRef, name: str | None) -> LinkConfig:
    if name is not None:
        return config.link(name)
    if len(config.links) == 1:
        return config.links[0]
    if ref.network is NetworkName.MASTODON and ref.host:
        matches = [
            link
            for link in config.links
            if urlsplit(link.mastodon.api_base_url).hostname == ref.host
        ]
        if len(matches) == 1:
            return matches[0]
    raise ConfigError("several links are configured: say which one with --link NAME")


def explain(
    store: Store,
    link: LinkConfig,
    adapters: dict[NetworkName, Network],
    ref: PostRef,
    now: datetime,
    prices: PriceTable = DEFAULT_TABLE,
) -> Explanation:
    sources = {source for source, _ in link.direction.pairs()}
    network = ref.network
    if network is None:
        if len(sources) != 1:
            raise ConfigError(
                f"link {link.name} mirrors both ways: give the post's URL, or --network"
            )
        network = next(iter(sources))
    if network not in sources:
        raise ConfigError(
            f"link {link.name} (direction {link.direction.value}) does not mirror posts from "
            f"{network.label}"
        )
    post = adapters[network].get_post(ref.id)
    targets = [target for source, target in link.direction.pairs() if source is network]
    reports = [_for_target(store, link, adapters[t], post, now) for t in targets]
    reading = None
    if network is NetworkName.TWITTER:
        owned = bool(getattr(getattr(adapters[network], "billing", None), "owned", False))
        reading = _reading_cost(link, owned)
    return Explanation(link.name, post, reports, reading, prices)


def _reading_cost(link: LinkConfig, owned: bool) -> Estimate:
    """An X post mirrored elsewhere: the poll reads it once; with deletions mirrored, it is
    read again at each re-check age, billed at most once per UTC day (networks/x_prices.py)."""
    estimate = Estimate()
    rate = PriceClass.OWNED_READ if owned else PriceClass.POST_READ
    estimate.add(rate, 1, "read once by the poll (since the last post seen)")
    sources = [source for source, _ in link.direction.pairs()]
    if link.policy.deletes_on(link.direction) and NetworkName.TWITTER in sources:
        ages = ", ".join(_age(age.total_seconds()) for age in X_RECHECK_AGES)
        estimate.add(
            PriceClass.POST_READ,
            2,
            f"re-read for deletion at {ages} of age: X bills a post once per UTC day, so at "
            "most twice",
        )
    return estimate


def _age(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def _for_target(
    store: Store, link: LinkConfig, target: Network, post: Post, now: datetime
) -> TargetReport:
    capabilities = target.limits().capabilities
    decision = judge(store, link.name, post, link.policy, [target.name], now, None, capabilities)
    report = TargetReport(target.name, decision.mirror, decision.reason)
    delivery = store.delivery_for(link.name, post.network.value, post.source_key, target.name.value)
    if delivery is not None:
        report.delivery = delivery.status + (
            f" ({delivery.last_error})" if delivery.last_error else ""
        )
    report.published = [
        m.target_url or m.target_id
        for m in store.mirror_parts(
            link.name, post.network.value, post.source_key, target.name.value
        )
    ]
    if post.is_repost:
        if target.name is NetworkName.TWITTER and decision.mirror:
            report.cost = post_cost([], (), repost=True)
        return report  # a repost is posted as a native repost or per policy, never rendered
    limits = target.limits()
    rendered = render_for(store, link.name, link.policy, post, target)
    report.parts = rendered.parts
    report.lengths = [limits.counter(part) for part in rendered.parts]
    report.limit = limits.max_characters - (
        limits.counter(rendered.spoiler_text) if rendered.spoiler_text else 0
    )
    report.spoiler_text = rendered.spoiler_text
    report.poll = list(rendered.poll.options) if rendered.poll else None
    report.quote_id = rendered.quote_id
    report.fallbacks = [message for _, message in rendered.fallbacks]
    if target.name is NetworkName.TWITTER and (len(rendered.parts) > 1 or post.is_self_reply):
        report.fallbacks.append(_reply_rule(store, link))
    if target.name is NetworkName.TWITTER and decision.mirror:
        report.cost = post_cost(rendered.parts, post.media)
    return report


REPLY_OUTCOMES = {
    "standalone": "each refused part is posted as a post of its own",
    "skip": "the rest of the thread is not posted on X",
    "fail": "the delivery is marked failed for you to retry or skip",
}


def _reply_rule(store: Store, link: LinkConfig) -> str:
    """What happens if X refuses a part as a reply, and whether it has done so on this link."""
    policy = link.policy.reply_refused
    line = (
        "X lets self-serve apps reply only where the author was mentioned or quoted "
        f"(2026-02-23); if it refuses a part as a reply, {REPLY_OUTCOMES[policy]} "
        f'(reply_refused = "{policy}")'
    )
    refused = [
        d
        for d in store.noted(datetime.min.replace(tzinfo=UTC), link.name)
        if d.notes and "as a reply" in d.notes and d.target_network == "twitter"
    ]
    if refused:
        line += f"; X has refused replies on this link before (delivery {refused[-1].id})"
    return line
