"""A post's counterpart on the other network, from the mirror map: what a native repost,
quote or reply on the target must point at."""

from __future__ import annotations

import json
from dataclasses import dataclass

from birdbridge.models import NetworkName
from birdbridge.store import Store


@dataclass(frozen=True)
class Counterpart:
    id: str
    url: str | None


def counterpart(
    store: Store, link: str, network: NetworkName, post_id: str, target: NetworkName
) -> Counterpart | None:
    """The post on ``target`` that is the same as ``post_id`` on ``network``: its mirror (first
    part), or, when ``post_id`` is itself our mirror of a post on ``target``, that original.
    Deleted posts are never counterparts."""
    parts = store.mirror_parts(link, network.value, post_id, target.value)
    if parts:
        return Counterpart(parts[0].target_id, parts[0].target_url)
    mirrored = store.mirror_source(link, network.value, post_id)
    if mirrored is None or mirrored.deleted_at is not None:
        return None
    if mirrored.source_network != target.value:
        return None
    original = store.delivery_for(link, mirrored.source_network, mirrored.source_id, network.value)
    url = json.loads(original.payload).get("url") if original is not None else None
    return Counterpart(mirrored.source_id, url)
