"""Mastodon status HTML -> plain text.

Mastodon sends sanitised HTML with only <p>, <br>, <span> and <a> (docs.joinmastodon.org
api/guidelines#formatting): paragraphs become blank lines, <br> a newline, long links are
split into invisible/ellipsis spans that together spell the full URL, mentions show only
``@user`` (the domain comes from the status's ``mentions[].acct``).
"""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser

from birdbridge.models import Hashtag, Mention

# Control characters that bracket mentions and hashtags while the text is assembled, so
# their final offsets can be read off once paragraphs are joined and trimmed. Any of them in
# the source text is dropped (render/sanitize.py removes C0 controls anyway); private-use
# characters, used before, are text some fonts draw as icons and must survive.
_MENTION_OPEN, _MENTION_CLOSE, _TAG_OPEN, _TAG_CLOSE = "\x01", "\x02", "\x03", "\x04"
_MARKERS = str.maketrans("", "", _MENTION_OPEN + _MENTION_CLOSE + _TAG_OPEN + _TAG_CLOSE)


class _StatusText(HTMLParser):
    def __init__(self, mention_accts: Mapping[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self._mention_accts = mention_accts
        self.paragraphs: list[list[str]] = []
        self._current: list[str] = []
        self._anchor: dict[str, str] | None = None
        self._anchor_text: list[str] = []
        self._skip_depth = 0  # inside <p class="quote-inline">: the "RE: url" of a quote
        self.mention_urls: list[str] = []  # in order of appearance

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
        data = data.translate(_MARKERS)
        if self._anchor is not None:
            self._anchor_text.append(data)
        else:
            self._emit(data)

    def _anchor_as_text(self, anchor: Mapping[str, str], text: str) -> str:
        classes = anchor.get("class", "").split()
        href = anchor.get("href", "")
        if "mention" in classes and "hashtag" not in classes and text.startswith("@"):
            self.mention_urls.append(href)
            acct = self._mention_accts.get(href, text[1:])
            return f"{_MENTION_OPEN}@{acct}{_MENTION_CLOSE}"
        if "hashtag" in classes and text.startswith("#") and len(text) > 1:
            return f"{_TAG_OPEN}{text}{_TAG_CLOSE}"
        if "mention" in classes:
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
    return status_text(html, mention_accts)[0]


def status_text(
    html: str, mention_accts: Mapping[str, str] | None = None
) -> tuple[str, tuple[Mention, ...], tuple[Hashtag, ...]]:
    """Plain text of a status's ``content``, with the spans of its mentions (from the
    ``mention`` links: the API's own markup) and hashtags."""
    parser = _StatusText(mention_accts or {})
    parser.feed(html or "")
    parser.close()
    return _spans(parser.text(), parser.mention_urls)


def _spans(marked: str, urls: list[str]) -> tuple[str, tuple[Mention, ...], tuple[Hashtag, ...]]:
    out: list[str] = []
    mentions: list[Mention] = []
    hashtags: list[Hashtag] = []
    opened = 0
    for char in marked:
        if char in (_MENTION_OPEN, _TAG_OPEN):
            opened = len(out)
        elif char == _MENTION_CLOSE:
            acct = "".join(out[opened + 1 :])
            username, _, domain = acct.partition("@")
            url = urls[len(mentions)] if len(mentions) < len(urls) else ""
            mentions.append(Mention(opened, len(out), username, domain or None, url))
        elif char == _TAG_CLOSE:
            hashtags.append(Hashtag(opened, len(out), "".join(out[opened + 1 :])))
        else:
            out.append(char)
    return "".join(out), tuple(mentions), tuple(hashtags)
