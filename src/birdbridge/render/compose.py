"""From a source post to the texts of the target post(s): sanitising, content warning,
splitting, and a cap on the number of parts."""

from __future__ import annotations

from dataclasses import dataclass

from birdbridge.models import NetworkName, Post
from birdbridge.render.length import Counter, truncate_to
from birdbridge.render.sanitize import sanitize
from birdbridge.render.split import split_text

# A 100,000-character post would be ~400 tweets: beyond this many parts the thread ends with
# a cut and a link to the original instead (and X bills every post).
MAX_PARTS = 20
ELLIPSIS = "…"


@dataclass(frozen=True)
class Rendered:
    parts: list[str]
    spoiler_text: str  # carried natively (Mastodon); "" when folded into the text


def compose(
    post: Post,
    target: NetworkName,
    max_characters: int,
    counter: Counter,
    max_parts: int = MAX_PARTS,
) -> Rendered:
    """The parts to publish on ``target``, each within ``max_characters`` as ``counter`` counts."""
    text = sanitize(post.text).strip()
    spoiler = sanitize(post.spoiler_text).strip()
    if target is NetworkName.MASTODON:
        # Mastodon counts the content warning together with the text (StatusLengthValidator).
        spoiler = truncate_to(spoiler, max_characters // 2, counter)
        budget = max_characters - counter(spoiler)
        return Rendered(
            _capped(split_text(text, budget, counter), max_parts, post.url, budget, counter),
            spoiler,
        )
    if spoiler:
        # X has no content warnings: a "CW:" first line keeps the warning visible.
        text = f"CW: {spoiler}\n\n{text}"
    parts = split_text(text, max_characters, counter)
    return Rendered(_capped(parts, max_parts, post.url, max_characters, counter), "")


def _capped(
    parts: list[str], max_parts: int, url: str | None, limit: int, counter: Counter
) -> list[str]:
    """At most ``max_parts`` parts; the last one then ends with "…" and the original's URL."""
    if len(parts) <= max_parts:
        return parts
    tail = f"{ELLIPSIS} {url}" if url else ELLIPSIS
    room = limit - counter(" " + tail)
    last = truncate_to(parts[max_parts - 1], max(room, 0), counter).rstrip()
    return [*parts[: max_parts - 1], f"{last} {tail}".strip()]
