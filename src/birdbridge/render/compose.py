"""From a source post to the texts of the target post(s): content warning, then splitting."""

from __future__ import annotations

from dataclasses import dataclass

from birdbridge.models import NetworkName, Post
from birdbridge.render.length import Counter, truncate_to
from birdbridge.render.split import split_text


@dataclass(frozen=True)
class Rendered:
    parts: list[str]
    spoiler_text: str  # carried natively (Mastodon); "" when folded into the text


def compose(post: Post, target: NetworkName, max_characters: int, counter: Counter) -> Rendered:
    """The parts to publish on ``target``, each within ``max_characters`` as ``counter`` counts."""
    text = post.text.strip()
    if target is NetworkName.MASTODON:
        # Mastodon counts the content warning together with the text (StatusLengthValidator).
        spoiler = truncate_to(post.spoiler_text.strip(), max_characters // 2, counter)
        budget = max_characters - counter(spoiler)
        return Rendered(split_text(text, budget, counter), spoiler)
    if post.spoiler_text:
        # X has no content warnings: a "CW:" first line keeps the warning visible.
        text = f"CW: {post.spoiler_text.strip()}\n\n{text}"
    return Rendered(split_text(text, max_characters, counter), "")
