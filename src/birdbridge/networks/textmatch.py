"""Comparing a text we published with a text read back, for crash recovery and the loop guard."""

from __future__ import annotations

import unicodedata

import regex

_SPACE = regex.compile(r"\s+")
# X stores a bare "example.com" as a link to "http://example.com" (and reads back as such):
# links compare without their scheme.
_SCHEME = regex.compile(r"(?i)\bhttps?://")


def normalise(text: str) -> str:
    """NFC, link schemes dropped, whitespace collapsed, trimmed: networks re-flow whitespace,
    normalise Unicode and write links their own way."""
    text = _SCHEME.sub("", unicodedata.normalize("NFC", text))
    return str(_SPACE.sub(" ", text)).strip()


def same_text(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)
