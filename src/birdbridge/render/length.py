"""Post length as each network counts it.

X: twitter-text v3 weighted length (docs.x.com fundamentals/counting-characters; config
v3.json): code points in a few ranges weigh 1, all others 2; any URL counts 23; an emoji
sequence counts 2 whatever its code points; text is NFC-normalised first.
Mastodon: grapheme clusters, any URL counts ``characters_reserved_per_url`` and a remote
mention ``@user@domain`` counts only ``@user`` (mastodon StatusLengthValidator).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import regex

X_MAX_WEIGHTED_LENGTH = 280
X_URL_LENGTH = 23
MASTODON_URL_LENGTH = 23

# twitter-text v3.json "ranges": these weigh 100 (1 character); everything else 200.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

# A deliberately generous URL matcher: over-counting is safe, under-counting gets a post refused.
# Bare domains count too on X (twitter-text autolinks "example.com").
URL_PATTERN = regex.compile(
    r"(?:https?://[^\s<>\"]+)"
    r"|(?:(?<![\w@.])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|net|org|io|co|dev|app|social|xyz|info|me|uk|de|fr|jp|ly|gl|edu|gov|tv|us|ca|eu)"
    r"(?:/[^\s<>\"]*)?)",
    regex.IGNORECASE,
)
_MASTODON_URL = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)
_REMOTE_MENTION = regex.compile(r"(?<![\w/])(@\w+)@[\w.-]+\w", regex.UNICODE)
_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")

Counter = Callable[[str], int]


def _code_point_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT_RANGES) else 2


def _grapheme_weight(cluster: str) -> int:
    if _EMOJI.search(cluster):
        return 2  # emoji sequences (ZWJ, skin tones, flags) count 2 as a whole
    return sum(_code_point_weight(c) for c in cluster)


def x_weighted_length(text: str) -> int:
    """Weighted length of ``text`` as X counts it (limit 280)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for match in URL_PATTERN.finditer(text):
        total += _plain_weight(text[position : match.start()]) + X_URL_LENGTH
        position = match.end()
    return total + _plain_weight(text[position:])


def _plain_weight(text: str) -> int:
    return sum(_grapheme_weight(g) for g in _GRAPHEME.findall(text))


def mastodon_length(text: str, url_length: int = MASTODON_URL_LENGTH) -> int:
    """Length of a status text as Mastodon counts it against ``max_characters``."""
    text = _MASTODON_URL.sub("x" * url_length, text)
    text = _REMOTE_MENTION.sub(r"\1", text)
    return len(_GRAPHEME.findall(text))


def truncate_to(text: str, limit: int, counter: Counter) -> str:
    """The longest prefix of ``text`` (whole graphemes) that fits in ``limit``."""
    graphemes = _GRAPHEME.findall(text)
    low, high = 0, len(graphemes)
    while low < high:  # binary search: counter(prefix) grows with the prefix
        middle = (low + high + 1) // 2
        if counter("".join(graphemes[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return "".join(graphemes[:low])
