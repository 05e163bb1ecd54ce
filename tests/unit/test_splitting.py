"""Splitting long texts into parts that fit, at the widest boundary that works."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from birdbridge.render.length import mastodon_length, x_weighted_length
from birdbridge.render.split import split_text

WORDS = st.sampled_from(
    [
        "bird",
        "bridge",
        "mastodon",
        "thread",
        "日本語",
        "🐦",
        "naïve",
        "https://example.com/a/long/path",
        "#tag",
        "@user",
        "x" * 40,
        "end.",
        "why?",
        "wow!",
    ]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\n\n"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=1, max_size=160))
    seps = draw(st.lists(SEPARATORS, min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip()


@settings(max_examples=150, deadline=None)
@given(
    texts(),
    st.sampled_from([(x_weighted_length, 280), (mastodon_length, 500), (x_weighted_length, 60)]),
)
def test_every_part_fits_and_no_word_is_lost(text: str, target: tuple) -> None:
    counter, limit = target
    parts = split_text(text, limit, counter)
    assert parts and all(parts)
    assert all(counter(p) <= limit for p in parts)
    assert " ".join(parts).split() == text.split()  # same words, same order


@settings(max_examples=100, deadline=None)
@given(texts())
def test_urls_are_never_cut(text: str) -> None:
    parts = split_text(text, 60, x_weighted_length)
    for part in parts:
        for match in re.finditer(r"https://\S+", part):
            assert match.group(0) == "https://example.com/a/long/path"


def test_short_text_is_one_part_unchanged() -> None:
    assert split_text("  hello world  ", 280, x_weighted_length) == ["hello world"]
    assert split_text("", 280, x_weighted_length) == []


def test_paragraphs_are_the_first_choice() -> None:
    first, second = "a" * 200 + ".", "b" * 200 + "."
    assert split_text(f"{first}\n\n{second}", 280, x_weighted_length) == [first, second]


def test_sentences_come_before_words() -> None:
    one = "This is the first sentence of a long paragraph. " * 4
    two = "And this is the second one that follows it!"
    parts = split_text((one + two).strip(), 200, x_weighted_length)
    assert all(p.endswith((".", "!")) for p in parts)


def test_a_word_longer_than_the_limit_is_cut_at_graphemes() -> None:
    parts = split_text("🐦" * 200, 280, x_weighted_length)
    assert [x_weighted_length(p) for p in parts] == [280, 120]
    assert "".join(parts) == "🐦" * 200
