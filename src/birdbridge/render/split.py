"""Splitting a text that is too long for the target into a thread of parts that each fit.

Breaks at paragraphs first, then lines, then sentences, then words; never inside a URL
(a URL is a word). A single word longer than the limit is cut at grapheme boundaries.
"""

from __future__ import annotations

import regex

from birdbridge.render.length import Counter, truncate_to

# Where to break, widest first. Two units kept in one part are joined again by the very
# text that separated them, so nothing is reflowed.
_LEVELS = (
    regex.compile(r"\n[ \t]*\n\s*"),
    regex.compile(r"\n"),
    # Sentence ends. After a CJK full stop (and full-width ! and ?) the next sentence follows
    # without a space, so that break needs none.
    regex.compile(r"(?<=[.!?…])\s+|(?<=[\u3002\uff01\uff1f])\s*"),
    regex.compile(r"\s+"),
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
    parts: list[str] = []
    for separator, unit in _units(text, _LEVELS[level]):
        if parts and counter(parts[-1] + separator + unit) <= limit:
            parts[-1] = parts[-1] + separator + unit
        elif counter(unit) <= limit:
            parts.append(unit)
        else:
            parts.extend(_split(unit, level + 1, limit, counter))
    return parts


def _units(text: str, pattern: regex.Pattern[str]) -> list[tuple[str, str]]:
    """(the separator before it, the unit) for each non-blank unit of ``text``."""
    units: list[tuple[str, str]] = []
    position, separator = 0, ""
    for match in pattern.finditer(text):
        unit = text[position : match.start()]
        if unit.strip():
            units.append((separator, unit.strip()))
            separator = ""
        separator += match.group(0)
        position = match.end()
    if text[position:].strip():
        units.append((separator, text[position:].strip()))
    return units


def _cut_word(word: str, limit: int, counter: Counter) -> list[str]:
    pieces = []
    rest = word
    while rest:
        head = truncate_to(rest, limit, counter) or rest[0]  # never loop on an oversized grapheme
        pieces.append(head)
        rest = rest[len(head) :]
    return pieces
