"""Splitting a text that is too long for the target into a thread of parts that each fit.

Breaks at paragraphs first, then lines, then sentences, then words; never inside a URL
(a URL is a word). A single word longer than the limit is cut at grapheme boundaries.
"""

from __future__ import annotations

import regex

from birdbridge.render.length import Counter, truncate_to

# (where to break, what joins two units again at that level), widest first
_LEVELS = (
    (regex.compile(r"\n[ \t]*\n\s*"), "\n\n"),
    (regex.compile(r"\n"), "\n"),
    # sentence ends, including the CJK full stop and full-width ! and ?
    (regex.compile(r"(?<=[.!?…\u3002\uff01\uff1f])\s+"), " "),
    (regex.compile(r"\s+"), " "),
)


def split_text(text: str, limit: int, counter: Counter) -> list[str]:
    """Parts of ``text``, in order, each with ``counter(part) <= limit``.

    The parts hold the words of ``text`` in order; only whitespace between parts is lost.
    """
    text = text.strip()
    if not text:
        return []
    return [part for part in _split(text, 0, limit, counter) if part]


def _split(text: str, level: int, limit: int, counter: Counter) -> list[str]:
    if counter(text) <= limit:
        return [text]
    if level == len(_LEVELS):
        return _cut_word(text, limit, counter)
    pattern, joiner = _LEVELS[level]
    units = [unit.strip() for unit in pattern.split(text) if unit.strip()]
    parts: list[str] = []
    for unit in units:
        if parts and counter(parts[-1] + joiner + unit) <= limit:
            parts[-1] = parts[-1] + joiner + unit
        elif counter(unit) <= limit:
            parts.append(unit)
        else:
            parts.extend(_split(unit, level + 1, limit, counter))
    return parts


def _cut_word(word: str, limit: int, counter: Counter) -> list[str]:
    pieces = []
    rest = word
    while rest:
        head = truncate_to(rest, limit, counter) or rest[0]  # never loop on an oversized grapheme
        pieces.append(head)
        rest = rest[len(head) :]
    return pieces
