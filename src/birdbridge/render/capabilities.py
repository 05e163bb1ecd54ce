"""What a target network can carry beyond lengths, media and polls: the facts `render/` and
`policy.py` read instead of the network's name. Each adapter gives its own in
``NetworkLimits.capabilities`` (networks/base.py); a new network describes itself here.
"""

from __future__ import annotations

from dataclasses import dataclass

from birdbridge.models import NetworkName
from birdbridge.render.entities import MASTODON_MENTIONS, X_MENTIONS, MentionGrammar


@dataclass(frozen=True)
class Capabilities:
    # A native content warning (Mastodon's spoiler_text). Without one a warning leads the
    # text as a first line (policy cw_format) or the post is skipped (content_warnings =
    # "skip"); with one, a source's "CW: ..." first line becomes the warning (render/cw.py).
    content_warnings: bool
    mentions: MentionGrammar  # what the target links as a mention, so rendering defuses it
    max_cashtags: int | None = None  # cashtags a post may hold; None: no limit


X_CAPABILITIES = Capabilities(
    content_warnings=False,
    mentions=X_MENTIONS,
    # X's self-serve rule (2026): at most one cashtag per post (docs.x.com posts/manage-tweets).
    max_cashtags=1,
)
MASTODON_CAPABILITIES = Capabilities(content_warnings=True, mentions=MASTODON_MENTIONS)

_USUAL = {NetworkName.TWITTER: X_CAPABILITIES, NetworkName.MASTODON: MASTODON_CAPABILITIES}


def usual_capabilities(network: NetworkName) -> Capabilities:
    """The capabilities the adapter of ``network`` gives, for a caller that names the target
    without passing them (engine/rendering.py and engine/poll.py, until they pass the
    adapter's ``limits().capabilities``)."""
    return _USUAL[network]
