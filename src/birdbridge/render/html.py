"""Mastodon status HTML -> plain text.

Mastodon sends sanitised HTML with only <p>, <br>, <span> and <a> (docs.joinmastodon.org
api/guidelines#formatting): paragraphs become blank lines, <br> a newline, long links are
split into invisible/ellipsis spans that together spell the full URL, mentions show only
``@user`` (the domain comes from the status's ``mentions[].acct``).
"""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser


class _StatusText(HTMLParser):
    def __init__(self, mention_accts: Mapping[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self._mention_accts = mention_accts
        self.paragraphs: list[list[str]] = []
        self._current: list[str] = []
        self._anchor: dict[str, str] | None = None
        self._anchor_text: list[str] = []
        self._skip_depth = 0  # inside <p class="quote-inline">: the "RE: url" of a quote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if self._skip_depth:
            self._skip_depth += tag == "p"
            return
        if tag == "p":
            if "quote-inline" in attributes.get("class", "").split():
                self._skip_depth = 1
                return
            self._end_paragraph()
        elif tag == "br":
            self._emit("\n")
        elif tag == "a":
            self._anchor = attributes
            self._anchor_text = []

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth:
            self._skip_depth -= tag == "p"
            return
        if tag == "p":
            self._end_paragraph()
        elif tag == "a" and self._anchor is not None:
            anchor, self._anchor = self._anchor, None
            self._emit(self._anchor_as_text(anchor, "".join(self._anchor_text)))

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._anchor is not None:
            self._anchor_text.append(data)
        else:
            self._emit(data)

    def _anchor_as_text(self, anchor: Mapping[str, str], text: str) -> str:
        classes = anchor.get("class", "").split()
        href = anchor.get("href", "")
        if "mention" in classes and "hashtag" not in classes and text.startswith("@"):
            return "@" + self._mention_accts.get(href, text[1:])
        if "hashtag" in classes or "mention" in classes:
            return text
        # A plain link: its text (invisible spans included) is the full URL. When another
        # server shortened the display ("example.com/long…"), the href is the real URL.
        shown = text.rstrip("…").strip()
        bare_href = href.split("://", 1)[-1]
        if (
            href.startswith(("http://", "https://"))
            and shown
            and (href.startswith(shown) or bare_href.startswith(shown))
        ):
            return href
        return text

    def _emit(self, text: str) -> None:
        self._current.append(text)

    def _end_paragraph(self) -> None:
        if self._current:
            self.paragraphs.append(self._current)
        self._current = []

    def text(self) -> str:
        self._end_paragraph()
        blocks = ["".join(p).strip() for p in self.paragraphs]
        return "\n\n".join(b for b in blocks if b)


def html_to_text(html: str, mention_accts: Mapping[str, str] | None = None) -> str:
    """Plain text of a status's ``content``. ``mention_accts`` maps a mention's URL to its acct."""
    parser = _StatusText(mention_accts or {})
    parser.feed(html or "")
    parser.close()
    return parser.text()
