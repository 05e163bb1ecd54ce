"""Content warnings between a network that has them (Mastodon ``spoiler_text``) and one that
does not (X, where people write a first line "CW: ...", "TW: ..." or "CN: ...")."""

from __future__ import annotations

import regex

# "CW: spiders", "TW - food", "cn: politics" (also with a full-width colon or an en dash) as
# a post's first line, on its own.
_CW_LINE = regex.compile(
    r"\A[ \t]*(?:CW|TW|CN)[ \t]*[:\uff1a\-\u2013][ \t]*(?P<cw>[^\n]*?)[ \t]*\n+",
    regex.IGNORECASE,
)


def split_cw_line(text: str) -> tuple[str, str]:
    """(warning, rest) when ``text`` starts with a CW/TW/CN line followed by more text,
    else ("", text)."""
    match = _CW_LINE.match(text)
    if match is None or not match.group("cw") or not text[match.end() :].strip():
        return "", text
    return match.group("cw"), text[match.end() :].strip()


def cw_line(cw_format: str, warning: str) -> str:
    """The first line that carries ``warning`` on a network without content warnings."""
    return cw_format.replace("{cw}", " ".join(warning.split()))
