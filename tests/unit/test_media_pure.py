"""Pure media decisions: grouping per post, alt text cut, type sniffing."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from birdbridge.media.plan import distribute, group_media
from birdbridge.media.sniff import sniff_bytes
from birdbridge.models import Media, MediaKind, MediaSource
from birdbridge.render.alt import ELLIPSIS, fit_alt_text


def media(kind: MediaKind) -> Media:
    return Media(kind=kind, sources=(MediaSource(url="https://example.com/f"),))


IMAGE, GIF, VIDEO = (media(k) for k in (MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO))


def test_four_images_share_one_post_a_fifth_goes_on_the_next() -> None:
    assert group_media([IMAGE] * 5, max_per_post=4) == [[0, 1, 2, 3], [4]]


def test_a_video_travels_alone_and_keeps_its_place() -> None:
    assert group_media([VIDEO, IMAGE, IMAGE], 4) == [[0], [1, 2]]
    assert group_media([IMAGE, VIDEO, IMAGE], 4) == [[0], [1], [2]]
    assert group_media([GIF, VIDEO], 4) == [[0], [1]]


@given(st.lists(st.sampled_from([IMAGE, GIF, VIDEO]), max_size=12), st.integers(1, 6))
def test_grouping_keeps_every_item_once_in_order_within_limits(
    items: list[Media], limit: int
) -> None:
    groups = group_media(items, limit)
    assert [i for g in groups for i in g] == list(range(len(items)))
    for group in groups:
        assert len(group) <= limit
        kinds = {items[i].kind for i in group}
        assert kinds == {MediaKind.IMAGE} or len(group) == 1  # never a video among pictures


def test_distribute_pairs_text_and_media() -> None:
    assert distribute(["a", "b"], [["m1"]]) == [("a", ["m1"]), ("b", [])]
    assert distribute(["a"], [["m1"], ["m2"]]) == [("a", ["m1"]), ("", ["m2"])]
    assert distribute([], [["m1"]]) == [("", ["m1"])]
    assert distribute([], []) == []


def test_alt_text_fits_and_ends_at_a_word() -> None:
    assert fit_alt_text("short", 1000) == "short"
    cut = fit_alt_text("a cat sitting on a very warm windowsill", 20)
    assert len(cut) <= 20 and cut.endswith(ELLIPSIS)
    assert cut == "a cat sitting on a…"


@given(st.text(min_size=0, max_size=400), st.integers(2, 200))
def test_alt_text_never_exceeds_the_limit(text: str, limit: int) -> None:
    fitted = fit_alt_text(text, limit)
    assert len(fitted) <= limit
    if len(text.strip()) <= limit:
        assert fitted == text.strip()
    else:
        assert fitted.endswith(ELLIPSIS)
        assert text.strip().startswith(fitted[: -len(ELLIPSIS)].rstrip())


def encoded(fmt: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (8, 8)).save(buffer, fmt)
    return buffer.getvalue()


def test_types_are_sniffed_from_real_bytes() -> None:
    assert sniff_bytes(encoded("JPEG")) == "image/jpeg"
    assert sniff_bytes(encoded("PNG", "RGBA")) == "image/png"
    assert sniff_bytes(encoded("GIF", "P")) == "image/gif"
    assert sniff_bytes(encoded("WEBP")) == "image/webp"
    assert sniff_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00") == "video/mp4"
    assert sniff_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "image/heic"
    assert sniff_bytes(b"\x1a\x45\xdf\xa3\x01\x00") == "video/webm"
    assert sniff_bytes(b"<html><body>not a picture") is None
