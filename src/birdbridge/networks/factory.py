"""Building a link's adapters from its config and, for a side without tokens in the config,
its stored sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from birdbridge.config import LinkConfig
from birdbridge.credentials import not_signed_in
from birdbridge.models import NetworkName
from birdbridge.networks.base import Network
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.networks.twitter import TwitterNetwork

if TYPE_CHECKING:
    from birdbridge.networks.signins import SignIns


def build_adapters(
    link: LinkConfig, timeout: float, signins: SignIns | None = None
) -> dict[NetworkName, Network]:
    """Both adapters of ``link``. Without ``signins`` every token must be in the config
    (NotSignedIn otherwise)."""
    targets = {target for _, target in link.direction.pairs()}
    mastodon_target = NetworkName.MASTODON in targets
    if signins is None:
        for network, section in (("twitter", link.twitter), ("mastodon", link.mastodon)):
            if not section.has_tokens:
                raise not_signed_in(link.name, network)
        return {
            NetworkName.TWITTER: TwitterNetwork(link.twitter, timeout=timeout),
            NetworkName.MASTODON: MastodonNetwork(
                link.mastodon, timeout=timeout, target=mastodon_target
            ),
        }
    return {
        NetworkName.TWITTER: signins.twitter(link, timeout),
        NetworkName.MASTODON: signins.mastodon(link, timeout, target=mastodon_target),
    }
