"""The golden corpus: every case in tests/data/corpus/ replayed end to end.

For each case the source post (as its API returns it) goes through the real converter, the
real policy and the real Deliverer to a sandbox of the other network; the write requests that
sandbox received must be exactly the case's ``expected`` ones. Format and how to add a case:
tests/data/corpus/README.md.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ..corpus_tools import CATEGORIES, case_files, load_case, replay

FILES = case_files()


def _param(path: Path) -> Any:
    case = json.loads(path.read_text(encoding="utf-8"))
    marks = []
    if case.get("known_bug"):
        marks.append(pytest.mark.xfail(reason=case["known_bug"], strict=True))
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_param(p) for p in FILES])
def test_case(path: Path, tmp_path: Path) -> None:
    case = load_case(path)
    outcome = replay(case, tmp_path)
    if case["expected"]:
        assert outcome.skipped is None, f"not mirrored: {outcome.skipped}"
    else:
        assert outcome.skipped is not None, "mirrored, but the case expects a skip"
        assert case["skip_reason"] in outcome.skipped
    assert outcome.requests == case["expected"]
    wanted = case.get("fallbacks", [])
    assert len(outcome.fallbacks) == len(wanted), outcome.fallbacks
    for message, fragment in zip(outcome.fallbacks, wanted, strict=True):
        assert fragment in message


def test_corpus_is_large_and_covers_every_category() -> None:
    cases = [load_case(p) for p in FILES]
    assert len(cases) >= 40
    per_category = Counter(c["category"] for c in cases)
    assert set(per_category) == CATEGORIES, sorted(CATEGORIES - set(per_category))
    directions = Counter(c["source"]["network"] for c in cases)
    assert directions["twitter"] >= 15 and directions["mastodon"] >= 15, directions
