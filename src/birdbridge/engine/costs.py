"""What mirroring one post costs on X, line by line with the reason for each (networks/
x_prices.py has the card and how X bills): what `birdbridge explain` shows, and what the
deliverer asks the budget for before it starts a delivery (engine/budget.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from birdbridge.models import Media, MediaKind
from birdbridge.networks.twitter_media import CHUNK_BYTES
from birdbridge.networks.x_prices import PriceClass, PriceTable, has_url
from birdbridge.render.urls import find_urls

STATUS_CHECKS = 2  # STATUS calls counted per GIF or video: an estimate, erring high


@dataclass(frozen=True)
class CostLine:
    price_class: PriceClass
    units: int
    why: str


@dataclass
class Estimate:
    lines: list[CostLine] = field(default_factory=list)

    def add(self, price_class: PriceClass, units: int, why: str) -> None:
        if units:
            self.lines.append(CostLine(price_class, units, why))

    def micros(self, prices: PriceTable) -> int:
        return sum(prices.of(line.price_class, line.units) for line in self.lines)


def post_cost(parts: list[str], media: tuple[Media, ...], *, repost: bool = False) -> Estimate:
    """A new post on X: each part written (a URL in it: the URL rate), each picture, GIF or
    video uploaded (the calls X bills as content), each alt text."""
    estimate = Estimate()
    if repost:
        estimate.add(PriceClass.REPOST, 1, "a native repost")
        return estimate
    for index, text in enumerate(parts, start=1):
        which = f"part {index} of {len(parts)}" if len(parts) > 1 else "the post"
        if has_url(text):
            found = find_urls(text, without_scheme=True)[0]
            link = text[found.start : found.end]
            estimate.add(PriceClass.POST_WITH_URL, 1, f"{which} contains a URL ({link})")
        else:
            estimate.add(PriceClass.POST, 1, which)
    carried = [m for m in media if m.kind is not MediaKind.AUDIO]  # X takes no audio
    for item in carried:
        calls = upload_calls(item)
        estimate.add(
            PriceClass.MEDIA_UPLOAD,
            calls,
            f"{item.kind.value} upload ({calls} call{'s' if calls > 1 else ''})",
        )
        if item.kind is not MediaKind.IMAGE:
            # X usually answers "in progress" once or more before "succeeded"
            checks = STATUS_CHECKS
            estimate.add(PriceClass.MEDIA_STATUS, checks, f"{item.kind.value} processing checks")
    with_alt = sum(1 for m in carried if m.alt_text)
    estimate.add(PriceClass.MEDIA_METADATA, with_alt, "alt text")
    return estimate


def upload_calls(media: Media) -> int:
    """Calls an upload takes: one for a picture; initialize, the appends and finalize for a GIF
    or video (networks/twitter_media.py), the appends from its bit rate and length if known."""
    if media.kind is MediaKind.IMAGE:
        return 1
    size = 0.0
    best = media.sources[0] if media.sources else None
    if best is not None and best.bit_rate and media.duration:
        size = best.bit_rate * media.duration / 8
    return 2 + max(1, math.ceil(size / CHUNK_BYTES))


def delete_cost(parts: int, *, repost: bool = False) -> Estimate:
    estimate = Estimate()
    if repost:
        estimate.add(PriceClass.UNDO_REPOST, 1, "undo the repost")
    else:
        estimate.add(PriceClass.DELETE, parts, "delete each part")
    return estimate
