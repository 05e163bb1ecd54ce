"""Which media go on which part of a mirrored post. Pure: no I/O.

Neither X nor Mastodon takes a video (or GIF) together with pictures in one post, and each
takes at most a few pictures. So: every video or GIF gets a post of its own, pictures are
grouped up to the target's maximum, in the original order; the first group goes on the first
part and further groups on replies in the same thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from birdbridge.models import Media, MediaKind

MOVING = (MediaKind.GIF, MediaKind.VIDEO, MediaKind.AUDIO)


def group_media(media: Sequence[Media], max_per_post: int) -> list[list[int]]:
    """Indices into ``media``, grouped per post, in order."""
    groups: list[list[int]] = []
    for index, item in enumerate(media):
        if item.kind in MOVING:
            groups.append([index])
        elif groups and _is_picture_group(groups[-1], media) and len(groups[-1]) < max_per_post:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _is_picture_group(group: list[int], media: Sequence[Media]) -> bool:
    return all(media[i].kind is MediaKind.IMAGE for i in group)


def distribute(text_parts: list[str], groups: list[list[str]]) -> list[tuple[str, list[str]]]:
    """Pair text parts with media groups; extra groups become media-only parts at the end."""
    count = max(len(text_parts), len(groups))
    return [
        (text_parts[i] if i < len(text_parts) else "", groups[i] if i < len(groups) else [])
        for i in range(count)
    ]
