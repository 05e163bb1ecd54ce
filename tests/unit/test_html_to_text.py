"""Mastodon status HTML to plain text."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from birdbridge.render.html import html_to_text

LONG_LINK = (
    '<a href="https://example.com/a/very/long/path/that/goes/on" rel="nofollow noopener" '
    'target="_blank"><span class="invisible">https://</span><span class="ellipsis">'
    'example.com/a/very/long/path/t</span><span class="invisible">hat/goes/on</span></a>'
)
MENTION = (
    '<span class="h-card" translate="no"><a href="https://social.example/@bob" '
    'class="u-url mention">@<span>bob</span></a></span>'
)
HASHTAG = (
    '<a href="https://social.example/tags/birds" class="mention hashtag" rel="tag">'
    "#<span>birds</span></a>"
)


def test_paragraphs_and_line_breaks() -> None:
    assert html_to_text("<p>one<br />two</p><p>three</p>") == "one\ntwo\n\nthree"


def test_long_links_come_back_whole() -> None:
    assert html_to_text(f"<p>see {LONG_LINK}</p>") == (
        "see https://example.com/a/very/long/path/that/goes/on"
    )


def test_a_link_with_its_own_label_keeps_the_label() -> None:
    assert html_to_text('<p><a href="https://example.com/x">my site</a></p>') == "my site"


def test_mentions_get_their_domain_and_hashtags_stay() -> None:
    text = html_to_text(
        f"<p>{MENTION} {HASHTAG}</p>", {"https://social.example/@bob": "bob@social.example"}
    )
    assert text == "@bob@social.example #birds"


def test_entities_are_decoded_and_no_markup_leaks() -> None:
    text = html_to_text("<p>a &amp; b &lt;script&gt; &#39;q&#39; <b>bold</b> <x-y>z</x-y></p>")
    assert text == "a & b <script> 'q' bold z"
    assert "<b>" not in text


def test_the_inline_quote_line_is_dropped() -> None:
    quoted = (
        '<p class="quote-inline">RE: <a href="https://social.example/@a/1">'
        "social.example/@a/1</a></p><p>my comment</p>"
    )
    assert html_to_text(quoted) == "my comment"


def test_empty_content() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<p></p>") == ""


SAFE_WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
)


@given(
    st.lists(
        st.lists(st.lists(SAFE_WORDS, min_size=1, max_size=6), min_size=1, max_size=3),
        min_size=1,
        max_size=4,
    )
)
def test_round_trip_of_text_rendered_as_mastodon_does(paragraphs: list) -> None:
    """Paragraphs of lines of words -> <p> and <br /> with escaping -> back to the text."""
    text = "\n\n".join("\n".join(" ".join(line) for line in p) for p in paragraphs)
    rendered = "".join(
        "<p>" + "<br />".join(html.escape(" ".join(line)) for line in p) + "</p>"
        for p in paragraphs
    )
    assert html_to_text(rendered) == text
