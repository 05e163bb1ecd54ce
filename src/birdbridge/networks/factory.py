"""Building a link's adapters from its config."""

from __future__ import annotations

from birdbridge.config import LinkConfig
from birdbridge.models import NetworkName
from birdbridge.networks.base import Network
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.networks.twitter import TwitterNetwork


def build_adapters(link: LinkConfig, timeout: float) -> dict[NetworkName, Network]:
    targets = {target for _, target in link.direction.pairs()}
    return {
        NetworkName.TWITTER: TwitterNetwork(link.twitter, timeout=timeout),
        NetworkName.MASTODON: MastodonNetwork(
            link.mastodon, timeout=timeout, target=NetworkName.MASTODON in targets
        ),
    }
