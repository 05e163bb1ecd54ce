"""Rendering a post for one target with the mirror map's answers: shared by delivery and
``birdbridge explain`` so that what explain shows is what would be posted."""

from __future__ import annotations

from dataclasses import replace

from birdbridge.config import PolicyConfig
from birdbridge.engine.counterparts import counterpart
from birdbridge.models import Post
from birdbridge.networks.base import Network
from birdbridge.render.compose import Lookups, Rendered, Target, compose
from birdbridge.store import Store


def render_for(
    store: Store,
    link: str,
    policy: PolicyConfig,
    post: Post,
    target: Network,
    text: str | None = None,
) -> Rendered:
    """``post`` rendered for ``target`` (``text`` replaces the post's text when given)."""
    limits = target.limits()
    lookups = Lookups()
    if post.quoted_id:
        found = counterpart(store, link, post.network, post.quoted_id, target.name)
        if found is not None:
            lookups = Lookups(quote_id=found.id, quote_url=found.url)
    spec = Target(
        network=target.name,
        max_characters=limits.max_characters,
        counter=limits.counter,
        polls=limits.polls,
        quotes=limits.quotes,
        capabilities=limits.capabilities,
    )
    source = post if text is None else replace(post, text=text)
    return compose(source, spec, policy, lookups)
