"""Status text as Mastodon reads and writes it: the entities its Extractor finds (URLs,
mentions, hashtags), the length StatusLengthValidator counts, and the HTML TextFormatter makes."""

from __future__ import annotations

import html
from typing import Any

import regex

# Account::USERNAME_RE / MENTION_RE (app/models/account.rb), used by Mastodon's Extractor.
_MENTION_RE = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*(?:@[\w]+(?:[.-]+[\w]+)*)?)", regex.IGNORECASE
)
# Tag::HASHTAG_RE, simplified: word characters with at least one letter, not after = / ) or alnum.
_HASHTAG_RE = regex.compile(r"(?<![=/)\p{Alnum}])#([\w·]*\p{L}[\w·]*)")
# Only URLs with a scheme count (extract_url_without_protocol: false in StatusLengthValidator).
_URL_RE = regex.compile(r"(?<![\p{Alnum}@$#])https?://[^\s<>\"]+", regex.IGNORECASE)
_URL_HOST_RE = regex.compile(r"https?://[\p{Alnum}-]+(\.[\p{Alnum}-]+)*", regex.IGNORECASE)
_URL_TRAILING = ".,:;!?'\"*"
URL_PLACEHOLDER_CHARS = 23  # StatusLengthValidator::URL_PLACEHOLDER_CHARS
_URL_PREFIX_RE = regex.compile(r"^(https?://(www\.)?|xmpp:)")  # TextFormatter::URL_PREFIX_REGEX


def _trim_url(url: str) -> str:
    while url:
        unbalanced = url[-1] == ")" and url.count("(") < url.count(")")
        if url[-1] in _URL_TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def extract_entities(text: str) -> list[dict[str, Any]]:
    """URLs, mentions and hashtags with [start, end) indices, overlaps removed (twitter-text)."""
    found: list[dict[str, Any]] = []
    for m in _URL_RE.finditer(text):
        url = _trim_url(m.group(0))
        if _URL_HOST_RE.match(url):
            found.append({"url": url, "indices": (m.start(), m.start() + len(url))})
    for m in _MENTION_RE.finditer(text):
        found.append({"screen_name": m.group(1), "indices": (m.start(), m.end())})
    for m in _HASHTAG_RE.finditer(text):
        found.append({"hashtag": m.group(1), "indices": (m.start(), m.end())})
    found.sort(key=lambda e: e["indices"][0])
    kept: list[dict[str, Any]] = []
    for entity in found:
        if kept and entity["indices"][0] < kept[-1]["indices"][1]:
            continue
        kept.append(entity)
    return kept


def countable_length(text: str, spoiler_text: str = "") -> int:
    """Length as StatusLengthValidator counts it: graphemes of CW + text, each URL as 23
    characters, ``@user@domain`` as ``@user`` (app/validators/status_length_validator.rb)."""
    out, last = [], 0
    for entity in extract_entities(text):
        start, end = entity["indices"]
        out.append(text[last:start])
        if "url" in entity:
            out.append("x" * URL_PLACEHOLDER_CHARS)
        elif "screen_name" in entity:
            out.append("@" + entity["screen_name"].split("@")[0])
        else:
            out.append(text[start:end])
        last = end
    out.append(text[last:])
    return len(regex.findall(r"\X", spoiler_text + "".join(out)))


def h(text: str) -> str:
    """ERB::Util#h."""
    return html.escape(text, quote=True).replace("&#x27;", "&#39;")


def shortened_link(url: str) -> str:
    """TextFormatter.shortened_link (app/lib/text_formatter.rb)."""
    prefix = _URL_PREFIX_RE.match(url)
    prefix_s = prefix.group(0) if prefix else ""
    rest = url[len(prefix_s) :]
    display, suffix = rest[:30], rest[30:]
    cutoff = len(rest) > 30
    if len(suffix) == 1:  # revert truncation to account for the ellipsis
        display, suffix, cutoff = display + suffix, "", False
    return (
        f'<a href="{h(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{h(prefix_s)}</span>'
        f'<span class="{"ellipsis" if cutoff else ""}">{h(display)}</span>'
        f'<span class="invisible">{h(suffix)}</span></a>'
    )


def simple_format(text: str) -> str:
    """Rails' simple_format (paragraphs on blank lines, <br /> on single newlines), then
    ``.delete("\\n")`` as TextFormatter#to_s does."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = regex.split(r"\n\n+", text)
    while paragraphs and paragraphs[-1] == "":
        paragraphs.pop()
    if not paragraphs:
        return "<p></p>"
    paragraphs = [regex.sub(r"([^\n]\n)(?=[^\n])", r"\1<br />", p) for p in paragraphs]
    return "".join(f"<p>{p}</p>" for p in paragraphs).replace("\n", "")
