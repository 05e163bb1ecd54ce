"""Post length as each network counts it.

X: twitter-text 3's ``parseTweet`` with config v3 (docs.x.com "Counting characters";
twitter/twitter-text ``config/v3.json``, ``js/src/parseTweet.js``). The text is NFC-normalised
first. Each URL that twitter-text's ``extractUrlsWithIndices`` finds counts 23
(``transformedURLLength``), each emoji counts 2 (``emojiParsingEnabled``), and every other code
point weighs 1 in the light ranges 0-4351, 8192-8205, 8208-8223 and 8242-8247 and 2 elsewhere.
A post is valid when its weighted length is 1 to 280 and it holds no U+FFFE, U+FEFF or U+FFFF.
Checked against twitter-text's own conformance cases (tests/data/twitter-text/validate.yml).

Where this module knows less than X, it counts more, never less: a count too high only splits a
thread a little early, one too low gets a post refused.

- twitter-text links a domain only if its top-level domain is on its list. We carry every
  country-code TLD and the common generic ones. A span that is a URL in every other respect but
  ends in another TLD (``file.txt``, ``https://example.museum/x``) counts the most X could count
  for it: its own weight (X knows no such TLD), or 23 for the shortest URL X could link at its
  start plus the weight of the rest (X knows one) - whichever is more.
- URLs are found by ``render/urls.py``, in one linear pass that reproduces twitter-text's
  extractUrl regex (a regex engine would backtrack quadratically on ``a.a.a.a...``).
- Emoji: twitter-text 3.1 finds emoji with twemoji-parser (Emoji 11); X counts newer emoji as
  one too. We take each grapheme cluster (``regex``'s ``\\X``) that holds an Extended_Pictographic
  code point, a regional indicator or a keycap as one emoji (❤️‍🔥, 🫠, ZWJ families, flags, skin
  tones, keycaps: 2), plus the weight of any code point in it that is no part of an emoji
  (a combining accent). Like twemoji, © and ® are emoji only with U+FE0F.

Mastodon: ``StatusLengthValidator`` (app/validators/status_length_validator.rb): the spoiler text
plus the text, in grapheme clusters, where each URL with a scheme (twitter-text's extractor,
``extract_url_without_protocol: false``) counts ``characters_reserved_per_url`` and a mention
``@user@domain`` counts as ``@user`` unless its domain is over 253 characters
(app/lib/extractor.rb, ``Account::MENTION_RE``). A text of only white space counts nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import regex

from birdbridge.render.urls import COUNTRY_TLDS, LATIN_ACCENTS, X_INVALID_CHARACTERS, find_urls

X_MAX_WEIGHTED_LENGTH = 280
X_URL_LENGTH = 23
MASTODON_URL_LENGTH = 23

Counter = Callable[[str], int]

# twitter-text v3.json "ranges": these weigh 100 (1 character); everything else 200.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\u20e3]|(?P<flag>\p{Regional_Indicator}{2})")
_EMOJI_PART = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Component}]")
_PICTOGRAPH = regex.compile(r"\p{Extended_Pictographic}")
# Flags: the regional indicator pairs of ISO 3166 regions (and the few more Unicode names).
_FLAGS = frozenset(
    chr(0x1F1E6 + ord(code[0]) - ord("a")) + chr(0x1F1E6 + ord(code[1]) - ord("a"))
    for code in {
        *(tld for tld in COUNTRY_TLDS if tld.isascii()),
        "cp",
        "dg",
        "ea",
        "ic",
        "ta",
        "un",
    }
    - {"an", "su", "tp", "uk"}
)
# A variation selector is part of an emoji only right after a text-style pictograph (❤️, ©️)
# or a keycap base (#️⃣); after 😀 or a skin tone it weighs on its own, as in twemoji.
_TAKES_SELECTOR = regex.compile(r"[#*0-9]|(?=\p{Extended_Pictographic})\P{Emoji_Presentation}")
_SELECTORS = "\ufe0e\ufe0f"
_TEXT_STYLE_SYMBOLS = "\u00a9\u00ae"  # © ®: twemoji takes them for emoji only with U+FE0F


def _code_point_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT_RANGES) else 2


def _grapheme_weight(cluster: str) -> int:
    emoji = _EMOJI.search(cluster)
    if (
        not emoji
        or (emoji["flag"] and emoji["flag"] not in _FLAGS)
        or (cluster[0] in _TEXT_STYLE_SYMBOLS and cluster[1:2] != "\ufe0f")
    ):
        return sum(_code_point_weight(char) for char in cluster)
    # one emoji, whatever its code points, plus anything in the cluster that is no emoji part
    extra = 0
    for index, char in enumerate(cluster):
        if char in _SELECTORS:
            part = index > 0 and bool(_TAKES_SELECTOR.match(cluster[index - 1]))
        elif char == "\u200d":  # a ZWJ joins only if a pictograph follows
            part = bool(_PICTOGRAPH.match(cluster, index + 1))
        else:
            part = bool(_EMOJI_PART.match(char))
        extra += 0 if part else _code_point_weight(char)
    return 2 + extra


def _plain_weight(text: str, *, emoji_parsing: bool = True) -> int:
    if not emoji_parsing:
        return sum(_code_point_weight(char) for char in text)
    return sum(_grapheme_weight(cluster) for cluster in _GRAPHEME.findall(text))


def x_weighted_length(text: str, *, emoji_parsing: bool = True) -> int:
    """Weighted length of ``text`` as X counts it (limit 280).

    ``emoji_parsing=False`` gives twitter-text config v2 (every code point of an emoji weighed
    alone); X counts with v3.
    """
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for url in find_urls(text, without_scheme=True):
        total += _plain_weight(text[position : url.start], emoji_parsing=emoji_parsing)
        if url.shortest_end is None:
            total += X_URL_LENGTH
        else:  # the most X can count here: all of it as text, or a URL and the rest as text
            own = _plain_weight(text[url.start : url.end], emoji_parsing=emoji_parsing)
            rest = _plain_weight(text[url.shortest_end : url.end], emoji_parsing=emoji_parsing)
            total += max(own, X_URL_LENGTH + rest)
        position = url.end
    return total + _plain_weight(text[position:], emoji_parsing=emoji_parsing)


def x_is_valid(text: str) -> bool:
    """Whether X takes ``text`` as a post: twitter-text parseTweet's ``valid``."""
    if any(char in X_INVALID_CHARACTERS for char in text):
        return False
    return 0 < x_weighted_length(text) <= X_MAX_WEIGHTED_LENGTH


# ---------------------------------------------------------------------------------------------
# Mastodon
# ---------------------------------------------------------------------------------------------

# Account::USERNAME_RE and MENTION_RE; a mention followed by twitter-text's end_mention_match is
# none; Extractor::MAX_DOMAIN_LENGTH.
_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<username>[a-zA-Z0-9_]+(?:[.\-]+[a-zA-Z0-9_]+)*)"
    r"(?:@(?P<domain>\w+(?:[.\-]+\w+)*))?"
)
_END_MENTION = regex.compile(rf"[@\uff20{LATIN_ACCENTS}]|://")
_MAX_MENTION_DOMAIN_LENGTH = 253
_BLANK = regex.compile(r"[[:space:]]*")


def _mastodon_countable_text(text: str, url_length: int) -> str:
    """StatusLengthValidator#countable_text: URLs become 23 x, mentions ``@user``."""
    if _BLANK.fullmatch(text):
        return ""
    entities: list[tuple[int, int, str]] = []
    for url in find_urls(text, without_scheme=False):
        placeholder = "x" * url_length
        if url.shortest_end is not None:  # the longer of: all as text, a URL and the rest
            own, rest = text[url.start : url.end], text[url.shortest_end : url.end]
            if len(_GRAPHEME.findall(own)) > url_length + len(_GRAPHEME.findall(rest)):
                placeholder = own
            else:
                placeholder += rest
        entities.append((url.start, url.end, placeholder))
    for mention in _MENTION.finditer(text):
        if _END_MENTION.match(text, mention.end()):
            continue
        if mention["domain"] and len(mention["domain"]) > _MAX_MENTION_DOMAIN_LENGTH:
            continue
        entities.append((*mention.span(), "@" + mention["username"]))
    out, position = [], 0
    for start, end, replacement in sorted(entities):  # remove_overlapping_entities: first wins
        if start < position:
            continue
        out += [text[position:start], replacement]
        position = end
    return "".join([*out, text[position:]])


def mastodon_length(
    text: str, url_length: int = MASTODON_URL_LENGTH, *, spoiler_text: str = ""
) -> int:
    """Length of a status (and its content warning) as Mastodon counts it against
    ``max_characters``; ``url_length`` is the instance's ``characters_reserved_per_url``."""
    countable = spoiler_text + _mastodon_countable_text(text, url_length)
    return len(_GRAPHEME.findall(countable))


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
