"""Post length as X (twitter-text v3 weights) and Mastodon count it.

The X cases are twitter/twitter-text conformance/validate.yml's "tweets" and "lengths" cases,
with the expected lengths re-weighted by config v3 (code points outside the light ranges and
emoji weigh 2; any URL 23). Kept here as data.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from birdbridge.render.length import mastodon_length, truncate_to, x_weighted_length

CHURCHILL = (
    "A lie gets halfway around the world before the truth has a chance to get its "
    "pants on. Winston Churchill (1874-1965) http://bit.ly/dJpywL"
)
CHURCHILL_ACCENTS = (
    "A lié géts halfway arøünd thé wørld béføré thé truth has a chance tø get "
    "its pants øn. Winston Churchill (1874-1965) http://bit.ly/dJpywL"
)

VALIDATE_TWEETS = [  # (description, text, fits in 280)
    ("< 20 characters", "I am a Tweet", True),
    ("280 characters", CHURCHILL, True),
    ("280 characters (with accents)", CHURCHILL_ACCENTS, True),
    ("280 characters (double byte characters)", "の" * 140, True),
    ("280 characters (double word characters)", "\U0001f431" * 140, True),
    ("281 characters", f"{CHURCHILL} {CHURCHILL}", False),
    (
        "281 characters (due to newline)",
        CHURCHILL.replace("on. W", "on.\nW") + " " + CHURCHILL,
        False,
    ),
]

VALIDATE_LENGTHS = [  # (description, text, weighted length under config v3)
    ("the number of characters", "This is a test.", 15),
    ("a URL starting with http:// as 23", "http://test.com", 23),
    ("a URL starting with https:// as 23", "https://test.com", 23),
    ("a URL without protocol as 23", "test.com", 23),
    ("multiple URLs", "Test https://test.com test https://test.com test.com test", 86),
    ("chars outside the BMP (weight 2 each)", "\U00010000\U0010ffff", 4),
    ("Hangul inside the BMP (weight 2 each)", "저찀쯿쿿", 8),
    ("a mix: ASCII 1, emoji 2, ☺ 2", "H\U0001f431☺", 5),
]


@pytest.mark.parametrize(("description", "text", "fits"), VALIDATE_TWEETS)
def test_validate_yml_tweets(description: str, text: str, fits: bool) -> None:
    assert (x_weighted_length(text) <= 280) is fits, description


@pytest.mark.parametrize(("description", "text", "expected"), VALIDATE_LENGTHS)
def test_validate_yml_lengths(description: str, text: str, expected: int) -> None:
    assert x_weighted_length(text) == expected, description


def test_emoji_sequences_count_two_whatever_their_code_points() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence, 5 code points
    flag = "\U0001f1eb\U0001f1f7"
    skin = "\U0001f44d\U0001f3fd"
    assert x_weighted_length(family) == 2
    assert x_weighted_length(flag) == 2
    assert x_weighted_length(skin) == 2
    assert x_weighted_length("\u2764\ufe0f\u200d\U0001f525") == 2  # ❤️‍🔥, newer than Emoji 12


def test_text_is_nfc_normalised_before_counting() -> None:
    decomposed = "e\u0301" * 10  # é as e + combining accent
    assert x_weighted_length(decomposed) == x_weighted_length("\u00e9" * 10) == 10


def test_mastodon_counts_urls_as_23_and_remote_mentions_by_their_local_part() -> None:
    url = "https://example.com/" + "a" * 100
    assert mastodon_length(url) == 23
    assert mastodon_length("hi @bob@mastodon.social") == len("hi @bob")
    assert mastodon_length("\U0001f468\u200d\U0001f469\u200d\U0001f467") == 1  # one grapheme
    assert mastodon_length("x" * 10, url_length=23) == 10


@given(st.text(max_size=300), st.integers(0, 300))
def test_truncate_gives_the_longest_fitting_prefix(text: str, limit: int) -> None:
    cut = truncate_to(text, limit, x_weighted_length)
    assert text.startswith(cut)
    assert x_weighted_length(cut) <= limit
