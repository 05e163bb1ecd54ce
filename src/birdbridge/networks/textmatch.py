"""Comparing a text we published with a text read back, for crash recovery and the loop guard."""

from __future__ import annotations

import unicodedata

import regex

_SPACE = regex.compile(r"\s+")


def normalise(text: str) -> str:
    """NFC, whitespace collapsed, trimmed: networks re-flow whitespace and normalise Unicode."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def same_text(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)
