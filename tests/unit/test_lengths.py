"""Post length as X (twitter-text v3 weights) and Mastodon count it.

X: twitter-text's weighted-length conformance sections run verbatim from data in
test_twitter_text_conformance.py. The X cases here are two other sections of the same
conformance/validate.yml (the version at twitter/twitter-text 0f6da90, which speaks of 280):
"tweets", whose expectations (fits or not) stand as they are, and "lengths", whose expectations
are config v1's (one per code point, so 2 for a pair of supplementary characters): we re-weighed
those for config v3 (code points outside the light ranges and emoji weigh 2; any URL 23).

Mastodon: the cases of mastodon/mastodon spec/validators/status_length_validator_spec.rb, as data,
with the spec's limit of 500; the spec asserts only over or not, the lengths beside them are what
StatusLengthValidator counts (app/validators/status_length_validator.rb, app/lib/extractor.rb).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from birdbridge.render.length import mastodon_length, truncate_to, x_is_valid, x_weighted_length
from birdbridge.sandbox.x import weighted_length as sandbox_weighted_length

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


def test_x_validity_follows_twitter_text() -> None:
    assert not x_is_valid("")
    assert x_is_valid("a" * 280) and not x_is_valid("a" * 281)
    assert not x_is_valid("hello \ufeff")  # U+FFFE, U+FEFF, U+FFFF make a post invalid


def test_x_urls_follow_twitter_text() -> None:
    assert x_weighted_length("see example.com/path?q=1") == 4 + 23  # bare domains link too
    assert x_weighted_length("test_underscore.twitter.com") == 5 + 23  # only ASCII labels link
    assert x_weighted_length("example.com.") == 23 + 1  # not the final dot
    assert x_weighted_length("(https://en.wikipedia.org/wiki/Bird_(disambiguation))") == 1 + 23 + 1
    assert x_weighted_length("@user.com #tag.com") == 18  # a handle or a tag is no domain
    assert x_weighted_length("https://t.co/" + "a" * 41) == 54  # a t.co slug over 40 is text
    assert x_weighted_length("x" * 64 + ".com") == 68  # a label over 63 is text


def test_x_counts_a_url_of_a_tld_it_does_not_know_at_least_as_x_does() -> None:
    # X counts 23 if the TLD is on its list, else the text's own weight: we count the larger
    assert x_weighted_length("file.txt") == 23 + 1  # or "file.tx" (23) and "t"
    assert x_weighted_length("https://example.zzz/" + "a" * 40) >= 23
    assert x_weighted_length("https://example.zzz/" + "a" * 40) >= len("https://example.zzz/") + 40
    assert x_weighted_length("e.g. i.e. a.m.") == 14  # one letter is no TLD


URL_ISH_PIECES = (
    "a|Z|9| |.|-|_|/|:|?|@|#|(|)|http://|https://|www.|example|t.co/|com|co|jp|zz|txt|.org/|xn--fsq"
    "|日本|é|Русский|рф|😀|👍🏽|🇯🇵|1\u20e3|\u200d|\ufe0f|©|\u2066|…"
)
URL_ISH = st.sampled_from(URL_ISH_PIECES.split("|"))


@given(st.lists(URL_ISH, max_size=30).map("".join))
def test_x_never_counts_less_than_the_x_sandbox(text: str) -> None:
    # the sandbox counts as X does with the TLDs both know; for other TLDs we count no less
    assert x_weighted_length(text) >= sandbox_weighted_length(text)


# mastodon/mastodon spec/validators/status_length_validator_spec.rb, MAX_CHARS stubbed to 500:
# (it "...", spoiler_text, text, adds an error, length as StatusLengthValidator counts it)
STARTING_STRING = "a" * 476
EXAMPLE_LINK = "http://" + "b" * 30 + ".com/example"
MASTODON_SPEC = [
    ("adds an error when content warning is over character limit", "a" * 520, "", True, 520),
    ("adds an error when text is over character limit", "", "a" * 520, True, 520),
    (
        "adds an error when text and content warning are over character limit total",
        "a" * 250,
        "b" * 251,
        True,
        501,
    ),
    (
        "reduces calculated length of auto-linkable space-separated URLs",
        "",
        " ".join([STARTING_STRING, EXAMPLE_LINK]),
        False,
        476 + 1 + 23,
    ),
    (
        "does not reduce calculated length of non-autolinkable URLs",
        "",
        STARTING_STRING + EXAMPLE_LINK,
        True,
        476 + len(EXAMPLE_LINK),
    ),
    (
        "does not reduce calculated length of count overly long URLs",
        "",
        "http://example.com/valid?" + "#foo?" * 1000,
        True,
        25 + 5000,
    ),
    (
        "counts only the front part of remote usernames",
        "",
        "a" * 475 + " @alice@" + "b" * 30 + ".com",
        False,
        475 + 1 + len("@alice"),
    ),
    (
        "does count both parts of remote usernames for overly long domains",
        "",
        "@alice@" + "b" * 500 + ".com",
        True,
        7 + 504,
    ),
    ("counts multi byte emoji as single character", "", "\u2728" * 500, False, 500),
    (
        "counts ZWJ sequence emoji as single character",
        "",
        "\U0001f3f3\ufe0f\u200d\u26a7\ufe0f" * 500,  # 🏳️‍⚧️
        False,
        500,
    ),
]


@pytest.mark.parametrize(
    ("spoiler_text", "text", "over", "length"),
    [pytest.param(*case[1:], id=case[0]) for case in MASTODON_SPEC],
)
def test_mastodon_status_length_validator_spec(
    spoiler_text: str, text: str, over: bool, length: int
) -> None:
    counted = mastodon_length(text, spoiler_text=spoiler_text)
    assert (counted > 500) is over
    assert counted == length


def test_mastodon_counts_no_blank_text_and_no_mention_followed_by_an_at_sign() -> None:
    assert mastodon_length(" \n\t ") == 0  # countable_text is "" for a blank text
    assert mastodon_length(" ", spoiler_text="cw") == 2
    assert mastodon_length("@bob@example.com@x") == len("@bob@example.com@x")  # end_mention_match
    assert mastodon_length("mail bob@example.com") == len("mail bob@example.com")
    assert mastodon_length("see example.com") == len("see example.com")  # no scheme, no link
