"""Alt text within a target's limit: cut at a word boundary with an ellipsis."""

from __future__ import annotations

from birdbridge.render.length import truncate_to

ELLIPSIS = "…"


def fit_alt_text(text: str, limit: int) -> str:
    """``text`` if it fits ``limit`` characters, else its longest word-boundary prefix + "…"."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = truncate_to(text, limit - len(ELLIPSIS), len)
    cut = head.rstrip()
    at_boundary = head != cut or text[len(head) : len(head) + 1].isspace()
    if not at_boundary and " " in cut:
        cut = cut[: cut.rfind(" ")].rstrip()  # do not end inside a word
    return (cut or head) + ELLIPSIS
