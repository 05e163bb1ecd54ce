"""Mentions and hashtags rewritten for the target, from the entity offsets the source API gave
(never by searching the text), then a last guard in the target's own mention grammar.

Why both: the entities say what the author meant (``@carol`` on X is the X account carol), and
the guard makes sure that nothing left in the text reads as a mention to the target (an
``@carol`` that X did not resolve would otherwise ping an unrelated ``carol`` on the Mastodon
server, and a bare ``@bob`` from Mastodon an unrelated X account).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import regex

from birdbridge.models import Hashtag, Mention

# U+2060 WORD JOINER between "@" and a name: the name still reads "@carol" but no server
# links or notifies it (neither grammar below accepts it after "@").
WORD_JOINER = "\u2060"

# Mastodon's Account::MENTION_RE (app/models/account.rb): what a Mastodon server links.
_MASTODON_MENTION = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*(?:@[\w]+(?:[.-]+[\w]+)*)?)", regex.IGNORECASE
)
# twitter-text's valid mention (validMentionOrList), including its end rule: not followed by
# another "@", an accented Latin letter or "://" (so "@bob@other.example" is no X mention).
# The name is matched atomically: "@bob@" must not match as "@bo" + "b".
_X_MENTION = regex.compile(
    r"(?<![A-Za-z0-9_!#$%&*@\uff20])[@\uff20]((?>[A-Za-z0-9_]{1,20}))"
    r"(?![@\uff20\u00c0-\u024f]|://)"
)


@dataclass(frozen=True)
class MentionGrammar:
    """What a network links (and notifies) as a mention: an adapter names its network's in
    its capabilities (render/capabilities.py), and rendering defuses what would match it."""

    pattern: regex.Pattern[str]
    full_handles: bool  # "@user@domain" is one mention there (Mastodon); on X it is not


MASTODON_MENTIONS = MentionGrammar(_MASTODON_MENTION, full_handles=True)
X_MENTIONS = MentionGrammar(_X_MENTION, full_handles=False)

# twitter-text's validCashtag: "$" and 1-6 letters (optionally "." or "_" and 1-2 more) after
# a space or the start, before a space, punctuation or the end.
_X_CASHTAG = regex.compile(
    r"(?:^|(?<=\s))\$[a-z]{1,6}(?:[._][a-z]{1,2})?(?=$|\s|[!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$\"])",
    regex.IGNORECASE,
)

_LINK = regex.compile(r"(https?://[^\s<>\"]+)", regex.IGNORECASE)

MentionStyle = Literal["plain", "link", "skip"]


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    expected: str
    replacement: str


def rewrite_entities(
    text: str,
    mentions: Iterable[Mention],
    hashtags: Iterable[Hashtag],
    grammar: MentionGrammar,
    style: MentionStyle,
    drop_tags: frozenset[str] = frozenset(),
) -> str:
    """``text`` with each mention written for a target of ``grammar`` and the hashtags in
    ``drop_tags`` (lower-case, no "#") removed, then no accidental mentions left there."""
    edits = [_Edit(m.start, m.end, m.handle, _mention_text(m, grammar, style)) for m in mentions]
    edits += [
        _Edit(h.start, h.end, "#" + h.name, "") for h in hashtags if h.name.lower() in drop_tags
    ]
    out = _apply(text, edits)
    if drop_tags:
        out = regex.sub(r"[ \t]{2,}", " ", out)
        out = regex.sub(r"[ \t]+\n", "\n", out).strip()
    return defuse_mentions(out, grammar)


def _mention_text(mention: Mention, grammar: MentionGrammar, style: MentionStyle) -> str:
    return mention.url if style == "link" else quiet_handle(mention.handle, grammar)


def quiet_handle(handle: str, grammar: MentionGrammar) -> str:
    """A handle ("@carol", "@bob@other.example") as text that names it but pings no one.
    With a joiner after "@" no handle pings anybody, and it stays readable."""
    if not handle.startswith("@"):
        return handle
    if not grammar.full_handles and "@" in handle[1:]:
        # On X a full "@user@instance" reads as what it is and X links nothing in it (the
        # end rule above); a handle without a domain would be an X account: keep it unlinked.
        return handle
    return f"@{WORD_JOINER}{handle[1:]}"


def _apply(text: str, edits: list[_Edit]) -> str:
    """Apply edits whose span holds what the entity says (the text is the API's, so a
    mismatch means a malformed entity: that one is ignored, never guessed)."""
    pieces: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: e.start):
        span = text[edit.start : edit.end]
        if edit.start < position or span.lower() != edit.expected.lower():
            continue
        pieces.append(text[position : edit.start])
        pieces.append(edit.replacement)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def defuse_mentions(text: str, grammar: MentionGrammar) -> str:
    """Insert a word joiner into anything ``grammar`` would link as a mention. URLs are left
    alone: both networks find links before mentions, so ".../@alice/1" mentions no one (and
    a joiner there would break the link)."""
    pieces = _LINK.split(text)  # odd indexes are the links themselves
    return "".join(
        piece if index % 2 else grammar.pattern.sub(_joined, piece)
        for index, piece in enumerate(pieces)
    )


def _joined(match: regex.Match[str]) -> str:
    found = str(match.group(0))
    return found[0] + WORD_JOINER + found[1:]


def limit_cashtags(text: str, keep: int) -> tuple[str, list[str]]:
    """``text`` with every cashtag after the first ``keep`` written so that the target does not
    read it as one (a word joiner after "$": "$⁠AAPL" reads the same); and the defused ones.
    Cashtags are read with X's grammar: X is the network that limits them."""
    defused: list[str] = []
    pieces = _LINK.split(text)  # a "$" inside a link is no cashtag, and must stay intact
    seen = 0

    def defuse(match: regex.Match[str]) -> str:
        nonlocal seen
        seen += 1
        cashtag = str(match.group(0))
        if seen <= keep:
            return cashtag
        defused.append(cashtag)
        return "$" + WORD_JOINER + cashtag[1:]

    out = "".join(
        piece if index % 2 else _X_CASHTAG.sub(defuse, piece) for index, piece in enumerate(pieces)
    )
    return out, defused
