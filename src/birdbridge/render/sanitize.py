"""Making source text safe to publish: no invisible controls that could spoof or garble it.

Removed: C0/C1 control characters other than newline and tab, the byte-order mark, and the
bidirectional embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069), which can
reverse how the rest of a post reads ("Trojan Source", CVE-2021-42574) and are never needed to
show a post correctly: the networks lay out bidirectional text themselves. Also the
noncharacters U+FFFE and U+FFFF, which make X refuse a post (twitter-text's invalid
characters, with U+FEFF). Kept: zero-width
joiners and non-joiners (emoji sequences and several scripts need them) and the implicit
direction marks (U+200E, U+200F), which are harmless.
"""

from __future__ import annotations

import regex

_UNSAFE = regex.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u202a-\u202e\u2066-\u2069\ufff9-\ufffb\ufffe\uffff]"
)


def sanitize(text: str) -> str:
    return str(_UNSAFE.sub("", text)).replace("\r\n", "\n")
