"""twitter-text's own conformance cases for a post's weighted length, run on our two X counters.

The cases are tests/data/twitter-text/validate.yml: the weighted-length sections of
twitter/twitter-text's conformance/validate.yml, kept verbatim (its header names the source, the
licence and the commit).

Which config each section is for (twitter-text's own suites say so, e.g. the Objective-C
``testUnicodePointTweetLengthCounting`` and ``testEmojiWeightedTweetLengthCounting``; the
official twitter-text 3.1.0 returns every expectation in the file under that config):

- WeightedTweetsWithDiscountedEmojiCounterTest: config v3 (config/v3.json: weights 100/200,
  light ranges 0-4351, 8192-8205, 8208-8223, 8242-8247, transformedURLLength 23,
  maxWeightedTweetLength 280, emojiParsingEnabled). That is how X counts, and how
  ``x_weighted_length`` and the X sandbox's ``weighted_length`` count by default.
- UnicodeDirectionalMarkerCounterTest: no emoji in it, the same under v2 and v3; run as v3.
- WeightedTweetsCounterTest: config v2, the same as v3 but with no emoji parsing (every code
  point of an emoji weighs on its own: 👨‍👩‍👧‍👦 is 11). Both counters take
  ``emoji_parsing=False`` for that, and we run the section with it: it still holds the cases on
  URLs, NFC normalisation and the light ranges.

For every case: our weighted length must be ``weightedLength``, and our validity ``valid``, which
twitter-text's parseTweet gives as 0 < weightedLength <= 280 and no U+FFFE, U+FEFF or U+FFFF in
the text (``x_is_valid``, the sandbox's ``text_is_valid``; computed here the same way with the v2
length for the v2 section). We do not compute ``permillage`` (weightedLength / 280, in thousandths)
or the ranges; ``permillage`` and ``displayRangeEnd`` (the text's UTF-16 length less one) are
checked against the case itself, which shows the data were kept intact, invisible characters
included. ``validRangeEnd`` (the last UTF-16 index within 280) is not ours to check: we cut text on
whole graphemes (``truncate_to``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from birdbridge.render.length import (
    X_INVALID_CHARACTERS,
    X_MAX_WEIGHTED_LENGTH,
    x_is_valid,
    x_weighted_length,
)
from birdbridge.sandbox.x import text_is_valid, weighted_length

DATA = Path(__file__).resolve().parent.parent / "data" / "twitter-text" / "validate.yml"
SECTIONS = {  # section: number of cases kept
    "WeightedTweetsCounterTest": 20,
    "WeightedTweetsWithDiscountedEmojiCounterTest": 22,
    "UnicodeDirectionalMarkerCounterTest": 2,
}
V2_SECTIONS = {"WeightedTweetsCounterTest"}  # config v2: no emoji parsing


def _tests() -> dict[str, list[dict[str, Any]]]:
    with DATA.open(encoding="utf-8") as data:
        tests: dict[str, list[dict[str, Any]]] = yaml.safe_load(data)["tests"]
    return tests


def _cases() -> list[Any]:
    return [
        pytest.param(
            section, case["text"], case["expected"], id=f"{section}: {case['description']}"
        )
        for section, cases in _tests().items()
        for case in cases
    ]


CASES = _cases()


def _valid(text: str, weighted: int) -> bool:
    """parseTweet's ``valid``, given the weighted length."""
    no_invalid_character = not any(char in X_INVALID_CHARACTERS for char in text)
    return no_invalid_character and 0 < weighted <= X_MAX_WEIGHTED_LENGTH


def test_the_weighted_length_sections_are_all_kept() -> None:
    assert {section: len(cases) for section, cases in _tests().items()} == SECTIONS


@pytest.mark.parametrize(("section", "text", "expected"), CASES)
def test_case_is_intact(section: str, text: str, expected: dict[str, Any]) -> None:
    utf16_length = len(text.encode("utf-16-le")) // 2
    assert expected["displayRangeStart"] == expected["validRangeStart"] == 0
    assert expected["displayRangeEnd"] == max(utf16_length - 1, 0)
    assert expected["permillage"] == expected["weightedLength"] * 1000 // X_MAX_WEIGHTED_LENGTH
    assert expected["valid"] == _valid(text, expected["weightedLength"])


@pytest.mark.parametrize(("section", "text", "expected"), CASES)
def test_x_weighted_length(section: str, text: str, expected: dict[str, Any]) -> None:
    v3 = section not in V2_SECTIONS
    weighted = x_weighted_length(text, emoji_parsing=v3)
    assert weighted == expected["weightedLength"]
    assert (x_is_valid(text) if v3 else _valid(text, weighted)) is expected["valid"]


@pytest.mark.parametrize(("section", "text", "expected"), CASES)
def test_x_sandbox_weighted_length(section: str, text: str, expected: dict[str, Any]) -> None:
    v3 = section not in V2_SECTIONS
    weighted = weighted_length(text, emoji_parsing=v3)
    assert weighted == expected["weightedLength"]
    assert (text_is_valid(text) if v3 else _valid(text, weighted)) is expected["valid"]
