"""Pictures, GIFs and videos crossing both ways with their alt text, over real HTTP.

Real bytes: pictures made by Pillow here, a small real mp4 and webm from tests/fixtures.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from birdbridge.media.probe import probe_video
from birdbridge.render.html import html_to_text
from birdbridge.sandbox.x.errors import invalid_request
from birdbridge.sandbox.x.media.kinds import MEDIA_IDS_INVALID

from ..conftest import Rig
from ..media_files import gif_bytes, make_video, mp4_bytes, needs_ffmpeg, png_bomb

FIXTURES = Path(__file__).parents[1] / "fixtures"
MP4 = (FIXTURES / "tiny.mp4").read_bytes()
WEBM = (FIXTURES / "tiny.webm").read_bytes()


def picture(
    fmt: str = "JPEG",
    size: tuple[int, int] = (64, 48),
    color: str = "red",
    mode: str = "RGB",
    noise: bool = False,
) -> bytes:
    image = (
        Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))
        if noise
        else Image.new(mode, size, color)
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def x_media(rig: Rig, tweet: dict[str, Any]) -> list[dict[str, Any]]:
    """The media of a tweet as X serves it (type, alt text, bytes)."""
    keys = (tweet.get("attachments") or {}).get("media_keys") or []
    return [rig.x.media(key) for key in keys]


def tweet_text(tweet: dict[str, Any]) -> str:
    """A tweet's text without the t.co link X appends for its own media."""
    text = tweet["text"]
    for url in (tweet.get("entities") or {}).get("urls", []):
        if url.get("media_key"):
            text = text.replace(url["url"], "")
    return text.strip()


def toot_media(toot: dict[str, Any]) -> list[dict[str, Any]]:
    return toot.get("media_attachments") or []


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


# -- X -> Mastodon ------------------------------------------------------------------------


def test_one_picture_with_alt_text_to_mastodon(rig: Rig) -> None:
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    data = picture()
    rig.tweet("a red square", media=[{"type": "photo", "data": data, "alt_text": "A red square"}])
    report = engine.cycle()
    assert report.delivered.done == 1 and not report.delivered.fallbacks
    toot = only(rig.toots())
    assert html_to_text(toot["content"]) == "a red square"
    attachment = only(toot_media(toot))
    assert attachment["type"] == "image" and attachment["description"] == "A red square"
    assert Path(rig.masto.media(attachment["id"])["path"]).read_bytes() == data


def test_four_pictures_keep_their_order_and_alt_texts(rig: Rig) -> None:
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    colors = ["red", "green", "blue", "yellow"]
    rig.tweet(
        "four colours",
        media=[
            {"type": "photo", "data": picture(color=c), "alt_text": f"{c} square"} for c in colors
        ],
    )
    engine.cycle()
    toot = only(rig.toots())
    assert [a["description"] for a in toot_media(toot)] == [f"{c} square" for c in colors]


def test_gif_and_video_to_mastodon_play(rig: Rig) -> None:
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet("a loop", media=[{"type": "animated_gif", "data": MP4}])
    rig.tweet("a clip", media=[{"type": "video", "data": MP4, "alt_text": "test pattern"}])
    engine.cycle()
    loop, clip = rig.toots()
    assert only(toot_media(loop))["type"] in ("gifv", "video")
    video = only(toot_media(clip))
    assert video["type"] in ("video", "gifv") and video["description"] == "test pattern"
    assert video["url"]  # processed, playable


# -- Mastodon -> X ------------------------------------------------------------------------


def test_one_picture_with_alt_text_to_x(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    data = picture("PNG", mode="RGBA", color="blue")
    rig.toot("a blue square", media=[{"type": "image", "data": data, "description": "Blue"}])
    engine.cycle()
    tweet = only(rig.tweets())
    assert tweet_text(tweet) == "a blue square"
    media = only(x_media(rig, tweet))
    assert media["type"] == "photo" and media["alt_text"] == "Blue"


def test_video_to_x_goes_through_the_chunked_upload(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("a clip", media=[{"type": "video", "data": MP4, "description": "pattern"}])
    engine.cycle()
    media = only(x_media(rig, only(rig.tweets())))
    assert media["type"] == "video" and media["alt_text"] == "pattern"
    assert rig.x.api_requests("POST", r"^/2/media/upload/\d+/append$")
    assert Path(media["path"]).read_bytes() == MP4


def test_five_pictures_become_a_thread_of_four_and_one(rig: Rig) -> None:
    rig.masto.set_media_limits(max_media_attachments=5)
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot(
        "five",
        media=[
            {"type": "image", "data": picture(color=c)}
            for c in ("red", "green", "blue", "black", "white")
        ],
    )
    engine.cycle()
    first, second = rig.tweets()
    assert len(x_media(rig, first)) == 4 and len(x_media(rig, second)) == 1
    assert second["referenced_tweets"] == [{"type": "replied_to", "id": first["id"]}]
    assert tweet_text(first) == "five" and tweet_text(second) == ""


@pytest.mark.parametrize("direction", ["twitter-to-mastodon", "mastodon-to-twitter"])
def test_mixed_media_video_first_then_the_pictures_in_a_reply(rig: Rig, direction: str) -> None:
    engine = rig.engine(direction)
    engine.cycle()
    if direction == "twitter-to-mastodon":
        # X itself cannot hold both; the mixed case starts on Mastodon. Here: a GIF and a
        # picture on two consecutive tweets of one thread stay a thread.
        first = rig.tweet("clip", media=[{"type": "video", "data": MP4}])
        rig.tweet(
            "and a picture",
            media=[{"type": "photo", "data": picture()}],
            in_reply_to_id=first["id"],
        )
        engine.cycle()
        clip, pic = rig.toots()
        assert only(toot_media(clip))["type"] in ("video", "gifv")
        assert only(toot_media(pic))["type"] == "image"
        assert pic["in_reply_to_id"] == clip["id"]
        return
    rig.masto.create_post(
        rig.m_user.username,
        "mixed",
        media=[
            {"type": "video", "data": MP4},
            {"type": "image", "data": picture(color="green")},
            {"type": "image", "data": picture(color="blue")},
        ],
    )
    engine.cycle()
    first, second = rig.tweets()
    assert [m["type"] for m in x_media(rig, first)] == ["video"]
    assert [m["type"] for m in x_media(rig, second)] == ["photo", "photo"]
    assert second["referenced_tweets"] == [{"type": "replied_to", "id": first["id"]}]


def test_an_oversized_picture_is_shrunk_for_x(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    big = picture("PNG", size=(1600, 1400), noise=True)
    assert len(big) > 5 * 1024 * 1024  # over X's 5 MB picture limit
    rig.toot("big", media=[{"type": "image", "data": big, "description": "noise"}])
    report = engine.cycle()
    assert not report.delivered.fallbacks
    media = only(x_media(rig, only(rig.tweets())))
    assert media["size"] <= 5 * 1024 * 1024 and media["alt_text"] == "noise"


def test_webp_is_converted_where_the_instance_refuses_it(rig: Rig) -> None:
    rig.masto.set_media_limits(supported_mime_types=["image/jpeg", "image/png", "video/mp4"])
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet(
        "webp", media=[{"type": "photo", "data": picture("WEBP"), "content_type": "image/webp"}]
    )
    report = engine.cycle()
    assert not report.delivered.fallbacks
    attachment = only(toot_media(only(rig.toots())))
    assert Path(rig.masto.media(attachment["id"])["path"]).read_bytes()[:3] == b"\xff\xd8\xff"


def test_webm_to_x_without_ffmpeg_falls_back_to_a_link(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without ffmpeg
    engine = rig.engine("mastodon-to-twitter", policy={"media_fallback": "link"})
    engine.cycle()
    toot = rig.toot("webm", media=[{"type": "video", "data": WEBM}])
    report = engine.cycle()
    tweet = only(rig.tweets())
    assert tweet["text"].startswith("webm")
    assert toot["url"] in [u["expanded_url"] for u in tweet["entities"]["urls"]]
    assert any("ffmpeg is not installed" in f for f in report.delivered.fallbacks)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg on the PATH")
def test_webm_to_x_is_transcoded_with_ffmpeg(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("webm", media=[{"type": "video", "data": WEBM}])
    report = engine.cycle()
    assert not report.delivered.fallbacks
    media = only(x_media(rig, only(rig.tweets())))
    assert media["type"] == "video"
    assert Path(media["path"]).read_bytes()[4:8] == b"ftyp"


def test_audio_to_x_is_dropped_by_default_and_no_url_is_added(rig: Rig) -> None:
    """Towards X the default fallback adds no URL: a post with one costs $0.20, not $0.015."""
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot(
        "listen",
        media=[
            {"type": "audio", "data": b"ID3\x03\x00" + bytes(2000), "content_type": "audio/mpeg"}
        ],
    )
    report = engine.cycle()
    tweet = only(rig.tweets())
    assert tweet["text"] == "listen" and not (tweet.get("entities") or {}).get("urls")
    assert any(
        "cannot show audio" in f and 'posted without it (media_fallback = "drop")' in f
        for f in report.delivered.fallbacks
    )
    spent = rig.store.x_spend(rig.clock().date().replace(day=1))["alice"]
    assert "post_with_url" not in spent and spent["post"].units == 1


def test_audio_to_x_falls_back_to_a_link_to_the_original(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter", policy={"media_fallback": "link"})
    engine.cycle()
    toot = rig.toot(
        "listen",
        media=[
            {"type": "audio", "data": b"ID3\x03\x00" + bytes(2000), "content_type": "audio/mpeg"}
        ],
    )
    report = engine.cycle()
    tweet = only(rig.tweets())
    assert tweet["text"].startswith("listen")
    assert "t.co/" in tweet["text"]  # X shows the link to the toot as a t.co link
    assert toot["url"] in [u["expanded_url"] for u in tweet["entities"]["urls"]]
    assert any("cannot show audio" in f for f in report.delivered.fallbacks)


@pytest.mark.parametrize("policy", ["drop", "skip"])
def test_media_fallback_policies(rig: Rig, policy: str) -> None:
    engine = rig.engine("mastodon-to-twitter", policy={"media_fallback": policy})
    engine.cycle()
    rig.toot(
        "listen",
        media=[
            {"type": "audio", "data": b"ID3\x03\x00" + bytes(2000), "content_type": "audio/mpeg"}
        ],
    )
    rig.toot("next one")
    report = engine.cycle()
    texts = [tweet_text(t) for t in rig.tweets()]
    assert texts == (["listen", "next one"] if policy == "drop" else ["next one"])
    assert len(report.delivered.fallbacks) == 1


def test_a_failing_download_falls_back_and_does_not_block_the_queue(rig: Rig) -> None:
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    tweet = rig.tweet(
        "picture that cannot be fetched", media=[{"type": "photo", "data": picture()}]
    )
    rig.tweet("the next tweet")
    rig.x.add_fault(kind="status", status=503, method="GET", path=r"^/media/", times=None)
    report = engine.cycle()
    texts = [html_to_text(t["content"]) for t in rig.toots()]
    assert texts[1] == "the next tweet"
    assert texts[0].startswith("picture that cannot be fetched")
    assert tweet["id"] in texts[0]  # the link to the original tweet
    assert any("download failed" in f for f in report.delivered.fallbacks)


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ((30000, 30000), "over the 134 megapixels birdbridge opens"),  # Pillow: a bomb
        ((20000, 20000), "over the 134 megapixels birdbridge opens"),  # 1.6 GB to decode
        ((12000, 11000), "12000x11000 pixels is over the 33 megapixels birdbridge decodes"),
    ],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # over 67 MP
def test_a_picture_bomb_falls_back_and_does_not_block_the_queue(
    rig: Rig, size: tuple[int, int], reason: str
) -> None:
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    bomb = rig.tweet("a bomb", media=[{"type": "photo", "data": png_bomb(size)}])
    rig.tweet("the next tweet", media=[{"type": "photo", "data": picture()}])
    report = engine.cycle()
    first, second = rig.toots()
    assert html_to_text(first["content"]).startswith("a bomb")
    assert bomb["id"] in html_to_text(first["content"])  # the link to the original tweet
    assert toot_media(first) == []
    assert html_to_text(second["content"]) == "the next tweet"
    assert only(toot_media(second))["type"] == "image"
    (fallback,) = report.delivered.fallbacks
    assert f"image 1: {reason}" in fallback
    assert report.delivered.done == 2 and report.delivered.failed == 0


# -- exactly once with media --------------------------------------------------------------


def test_failed_post_call_reuses_the_upload_to_x(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("upload once", media=[{"type": "image", "data": picture()}])
    rig.x.add_fault(kind="status", status=503, method="POST", path=r"^/2/tweets$")
    engine.cycle()
    assert rig.tweets() == [] and len(rig.x.uploads()) == 1
    rig.clock.advance(minutes=5)
    engine.cycle()
    assert len(rig.x.uploads()) == 1  # the same media id was used
    assert len(x_media(rig, only(rig.tweets()))) == 1


def test_media_ids_x_refuses_at_post_time_are_uploaded_again(rig: Rig) -> None:
    """X answers a post whose media it no longer has (cleaned up, expired early) with a 400
    "Your media IDs are invalid.": the adapter says MediaRejected, the upload is done again."""
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("upload again", media=[{"type": "image", "data": picture()}])
    refusal = invalid_request("media.media_ids", ["1"], MEDIA_IDS_INVALID)
    rig.x.add_fault(
        kind="status", status=400, body=refusal.body, method="POST", path=r"^/2/tweets$"
    )
    engine.cycle()
    [delivery] = rig.store.deliveries()
    assert rig.tweets() == [] and len(rig.x.uploads()) == 1
    assert "the media will be uploaded again" in (delivery.last_error or "")
    rig.clock.advance(minutes=5)
    engine.cycle()
    assert len(rig.x.uploads()) == 2  # a new upload, not the refused id
    assert len(x_media(rig, only(rig.tweets()))) == 1


def test_media_ids_mastodon_refuses_at_post_time_are_uploaded_again(rig: Rig) -> None:
    """Mastodon's 422 "Media ... not found or already attached to another post"."""
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet("upload again", media=[{"type": "photo", "data": picture()}])
    refusal = rig.masto.error_response(422, "Media 1 not found or already attached to another post")
    rig.masto.add_fault(
        kind="status", status=422, body=refusal.body, method="POST", path=r"^/api/v1/statuses$"
    )
    engine.cycle()
    assert rig.toots() == [] and len(rig.masto.uploads()) == 1
    rig.clock.advance(minutes=5)
    engine.cycle()
    assert len(rig.masto.uploads()) == 2
    assert len(toot_media(only(rig.toots()))) == 1


def test_crash_between_upload_and_post_neither_uploads_nor_posts_twice(rig: Rig) -> None:
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet("exactly once", media=[{"type": "photo", "data": picture()}])
    # The status is created, but the reply never arrives: like a crash right after the call.
    rig.masto.add_fault(kind="drop_after_commit", method="POST", path=r"^/api/v1/statuses$")
    engine.cycle()
    assert len(rig.toots()) == 1 and len(rig.masto.uploads()) == 1
    restarted = rig.engine("twitter-to-mastodon")  # a fresh engine: as after a restart
    rig.clock.advance(minutes=5)
    restarted.cycle()
    assert len(rig.toots()) == 1 and len(rig.masto.uploads()) == 1
    assert len(toot_media(only(rig.toots()))) == 1


def test_a_sensitive_toot_arrives_on_x_with_its_media(rig: Rig) -> None:
    engine = rig.engine("both")
    engine.cycle()
    rig.toot("careful", sensitive=True, media=[{"type": "image", "data": picture()}])
    engine.cycle()
    assert len(x_media(rig, only(rig.tweets()))) == 1  # X's API cannot mark it: documented


def test_four_pictures_to_x_keep_their_order_and_alt_texts(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    colors = ["red", "green", "blue", "yellow"]
    rig.toot(
        "four",
        media=[
            {"type": "image", "data": picture(color=c), "description": f"{c} square"}
            for c in colors
        ],
    )
    engine.cycle()
    media = x_media(rig, only(rig.tweets()))
    assert [m["alt_text"] for m in media] == [f"{c} square" for c in colors]


def test_gifs_from_mastodon_play_on_x(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("gifv", media=[{"type": "gifv", "data": MP4, "description": "a loop"}])
    rig.toot("gif file", media=[{"type": "image", "data": animated_gif()}])
    engine.cycle()
    gifv, gif = rig.tweets()
    assert only(x_media(rig, gifv))["type"] == "video"  # an mp4 loop travels as a video
    assert only(x_media(rig, gif))["type"] == "animated_gif"  # a GIF file stays a GIF
    assert rig.x.api_requests("POST", r"^/2/media/upload/initialize$")


def test_an_oversized_picture_is_shrunk_for_mastodon(rig: Rig) -> None:
    rig.masto.set_media_limits(image_size_limit=60_000, image_matrix_limit=200_000)
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet(
        "big",
        media=[
            {"type": "photo", "data": picture("PNG", (900, 600), noise=True), "alt_text": "static"}
        ],
    )
    report = engine.cycle()
    assert not report.delivered.fallbacks
    attachment = only(toot_media(only(rig.toots())))
    stored = rig.masto.media(attachment["id"])
    assert stored["size"] < 60_000 and attachment["description"] == "static"
    with Image.open(stored["path"]) as image:
        assert image.width * image.height <= 200_000


def test_a_failing_download_from_mastodon_falls_back_too(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter", policy={"media_fallback": "link"})
    engine.cycle()
    toot = rig.toot("unreachable picture", media=[{"type": "image", "data": picture()}])
    rig.masto.add_fault(kind="drop", method="GET", path=r"^/system/media_attachments/", times=None)
    report = engine.cycle()
    tweet = only(rig.tweets())
    assert toot["url"] in [u["expanded_url"] for u in tweet["entities"]["urls"]]
    assert any("download failed" in f for f in report.delivered.fallbacks)


def test_alt_text_over_the_target_limit_is_cut_at_a_word(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    long_alt = "word " * 300  # 1500 characters; X takes 1000
    rig.toot("alt", media=[{"type": "image", "data": picture(), "description": long_alt}])
    engine.cycle()
    alt = only(x_media(rig, only(rig.tweets())))["alt_text"]
    assert len(alt) <= 1000 and alt.endswith("word…")


# -- X's rules for videos, checked before anything is uploaded ------------------------------

X_MEDIA_ENDPOINTS = r"^/2/media/"


def no_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine without ffmpeg and ffprobe: an empty PATH (shutil.which finds nothing)."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def media_file_downloads(rig: Rig) -> list[Any]:
    return rig.masto.api_requests("GET", r"^/system/media_attachments/")


@pytest.mark.parametrize("ffmpeg", [False, pytest.param(True, marks=needs_ffmpeg)])
def test_a_video_over_140_s_to_x_falls_back_and_nothing_is_uploaded(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ffmpeg: bool
) -> None:
    if ffmpeg:  # a real 150 s video (tiny frames, one per second)
        video = make_video(tmp_path / "long.mp4", seconds=150, size=(32, 32), fps=1).read_bytes()
    else:  # boxes that say 150.2 s, read without ffprobe
        no_ffmpeg(monkeypatch, tmp_path)
        video = mp4_bytes(seconds=150.2, size=(320, 240), fps=25)
    engine = rig.engine("mastodon-to-twitter", policy={"media_fallback": "link"})
    engine.cycle()
    toot = rig.toot("a long clip", media=[{"type": "video", "data": video}])
    report = engine.cycle()
    seconds = "150.0" if ffmpeg else "150.2"
    assert report.delivered.fallbacks == [
        f"Mastodon post {toot['id']}: media not carried (video 1: video of {seconds} s is "
        f'over X\'s 140 s); posted with a link to the original (media_fallback = "link")'
    ]
    assert rig.x.api_requests(path=X_MEDIA_ENDPOINTS) == []  # not one upload call
    tweet = only(rig.tweets())
    assert tweet_text(tweet).startswith("a long clip")
    assert toot["url"] in [u["expanded_url"] for u in tweet["entities"]["urls"]]
    assert "attachments" not in tweet


def test_a_1920x1080_video_without_ffmpeg_is_not_even_downloaded(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_ffmpeg(monkeypatch, tmp_path)
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    video = mp4_bytes(size=(1920, 1080), fps=30)
    rig.toot("full hd", media=[{"type": "video", "data": video}])
    report = engine.cycle()
    (fallback,) = report.delivered.fallbacks
    assert (
        "video of 1920x1080 is over X's 1280x1024 and ffmpeg is not installed "
        "(as the source post says; not downloaded)" in fallback
    )
    assert media_file_downloads(rig) == []  # Mastodon's meta.original told enough
    assert rig.x.api_requests(path=X_MEDIA_ENDPOINTS) == []
    assert tweet_text(only(rig.tweets())).startswith("full hd")


def test_a_120_fps_video_without_ffmpeg_falls_back_after_reading_its_boxes(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_ffmpeg(monkeypatch, tmp_path)
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("fast", media=[{"type": "video", "data": mp4_bytes(size=(320, 240), fps=120)}])
    report = engine.cycle()
    (fallback,) = report.delivered.fallbacks
    assert "video at 120 fps is over X's 60 fps and ffmpeg is not installed" in fallback
    assert len(media_file_downloads(rig)) == 1  # the source did not say its frame rate
    assert rig.x.api_requests(path=X_MEDIA_ENDPOINTS) == []


@needs_ffmpeg
@pytest.mark.parametrize(
    ("made", "expected"),
    [
        ({"size": (1920, 1080), "fps": 60, "seconds": 1}, {"size": (1280, 720), "fps": 60}),
        ({"size": (96, 64), "fps": 120, "seconds": 1}, {"size": (96, 64), "fps": 60}),
        ({"size": (96, 64), "pix_fmt": "yuv444p"}, {"size": (96, 64), "pix_fmt": "yuv420p"}),
    ],
)
def test_a_video_breaking_x_s_frame_rules_is_transcoded_and_taken(
    rig: Rig, tmp_path: Path, made: dict[str, Any], expected: dict[str, Any]
) -> None:
    source = make_video(tmp_path / "source.mp4", audio=True, **made)
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("fitted", media=[{"type": "video", "data": source.read_bytes(), "description": "d"}])
    report = engine.cycle()
    assert report.delivered.fallbacks == []
    media = only(x_media(rig, only(rig.tweets())))
    assert media["type"] == "video" and media["state"] == "succeeded"
    assert (media["width"], media["height"]) == expected["size"]
    stored = probe_video(Path(media["path"]), use_ffprobe=False)
    assert stored is not None
    if "fps" in expected:
        assert stored.frame_rate == pytest.approx(expected["fps"], abs=0.01)
    if "pix_fmt" in expected:
        assert stored.pixel_format == expected["pix_fmt"]
    # X was asked once: initialize, appends, finalize, STATUS, metadata; nothing failed
    assert all(r.status in (200, 204) for r in rig.x.api_requests(path=X_MEDIA_ENDPOINTS))


@needs_ffmpeg
def test_an_animated_gif_over_x_s_gif_rules_travels_as_a_video(rig: Rig) -> None:
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    colors = ["red", "green", "blue", "white", "black"] * 2  # 10 frames, 1 s
    frames = [Image.new("RGB", (1300, 800), c) for c in colors]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    rig.toot("wide gif", media=[{"type": "image", "data": buffer.getvalue()}])
    report = engine.cycle()
    assert report.delivered.fallbacks == []
    media = only(x_media(rig, only(rig.tweets())))
    assert media["type"] == "video" and (media["width"], media["height"]) == (1280, 786)


def test_an_animated_gif_over_x_s_gif_rules_without_ffmpeg_falls_back(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_ffmpeg(monkeypatch, tmp_path)
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    rig.toot("many frames", media=[{"type": "image", "data": gif_bytes((40, 30), 351)}])
    report = engine.cycle()
    (fallback,) = report.delivered.fallbacks
    assert "animated GIF of 351 frames is over X's 350 and ffmpeg is not installed" in fallback
    assert rig.x.api_requests(path=X_MEDIA_ENDPOINTS) == []
