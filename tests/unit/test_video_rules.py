"""The targets' rules for videos and GIFs (media/rules.py) and where they come from: X's from
its media best practices, Mastodon's from the instance's configuration; what the source APIs
announce of a video (X duration_ms) kept on the neutral Media."""

from __future__ import annotations

import pytest

from birdbridge.media.rules import (
    GifRules,
    VideoFit,
    VideoProps,
    VideoRules,
    fit_video,
    gif_breaches,
    video_breaches,
)
from birdbridge.models import Media, MediaKind, MediaSource
from birdbridge.networks.mastodon_limits import media_limits
from birdbridge.networks.twitter_posts import to_media
from birdbridge.networks.twitter_spec import X_MEDIA_LIMITS

X = X_MEDIA_LIMITS.video_rules
GOOD = VideoProps(duration=10, width=1280, height=720, frame_rate=30, pixel_format="yuv420p")


def reasons(props: VideoProps, rules: VideoRules = X) -> list[tuple[str, bool]]:
    return [(b.reason, b.fixable) for b in video_breaches(props, rules, "X")]


def with_(**changes: object) -> VideoProps:
    return VideoProps(**{**GOOD.__dict__, **changes})  # type: ignore[arg-type]


def test_x_rules_are_the_best_practices_page() -> None:
    assert (X.min_seconds, X.max_seconds) == (0.5, 140)
    assert (X.min_width, X.min_height, X.max_width, X.max_height) == (32, 32, 1280, 1024)
    assert X.max_frame_rate == 60 and X.square_pixels
    assert (X.min_aspect, X.max_aspect) == (pytest.approx(1 / 3), 3)
    assert "yuv420p" in X.pixel_formats
    gif = X_MEDIA_LIMITS.gif_rules
    assert (gif.max_width, gif.max_height, gif.max_frames) == (1280, 1080, 350)
    assert gif.max_total_pixels == 300_000_000


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (GOOD, []),
        (with_(duration=140), []),
        (with_(duration=150.24), [("video of 150.2 s is over X's 140 s", False)]),
        (with_(duration=0.3), [("video of 0.30 s is under X's 0.5 s", False)]),
        (with_(width=1920, height=1080), [("video of 1920x1080 is over X's 1280x1024", True)]),
        (with_(width=720, height=1280), [("video of 720x1280 is over X's 1280x1024", True)]),
        (with_(width=16, height=16), [("video of 16x16 is under X's 32x32", False)]),
        (
            with_(width=1200, height=100),
            [("video of 1200x100 is outside X's aspect ratios 1:3 to 3:1", False)],
        ),
        (with_(frame_rate=60.0004), []),
        (with_(frame_rate=120), [("video at 120 fps is over X's 60 fps", True)]),
        (
            with_(pixel_format="yuv444p"),
            [("video in yuv444p is not X's yuv420p or yuvj420p", True)],
        ),
        (
            with_(pixel_aspect=4 / 3),
            [("video with non-square pixels (1.33:1) is not what X takes (1:1)", True)],
        ),
        (VideoProps(), []),  # nothing known: nothing broken (the target will judge)
    ],
)
def test_each_rule_of_x(props: VideoProps, expected: list[tuple[str, bool]]) -> None:
    assert reasons(props) == expected


def test_no_rules_means_anything_goes() -> None:
    extreme = VideoProps(duration=9999, width=9000, height=10, frame_rate=500, pixel_format="x")
    assert video_breaches(extreme, VideoRules(), "Mastodon") == []


@pytest.mark.parametrize(
    ("props", "rules", "fit"),
    [
        (with_(width=1920, height=1080), X, VideoFit(1280, 720, None)),
        (with_(width=720, height=1280), X, VideoFit(576, 1024, None)),
        (with_(width=1280, height=1024, frame_rate=120), X, VideoFit(1280, 1024, 60)),
        (with_(width=97, height=65), X, VideoFit(96, 64, None)),  # even sizes for 4:2:0
        (with_(width=720, height=576, pixel_aspect=16 / 15), X, VideoFit(768, 576, None)),
        (
            with_(width=7680, height=4320),
            VideoRules(max_pixels=8_294_400),
            VideoFit(3840, 2160, None),
        ),
        (VideoProps(frame_rate=90), X, VideoFit(None, None, 60)),
    ],
)
def test_fit_scales_down_keeps_the_aspect_and_caps_the_frame_rate(
    props: VideoProps, rules: VideoRules, fit: VideoFit
) -> None:
    result = fit_video(props, rules)
    assert result == fit
    if result.width and result.height:  # what it produces keeps the rules it fixed
        after = VideoProps(width=result.width, height=result.height, frame_rate=result.frame_rate)
        assert [b for b in video_breaches(after, rules, "X") if b.fixable] == []


def test_gif_rules() -> None:
    rules = X_MEDIA_LIMITS.gif_rules
    assert gif_breaches(1280, 1080, 200, rules, "X") == []
    assert gif_breaches(1300, 100, 3, rules, "X") == [
        "animated GIF of 1300x100 is over X's 1280x1080"
    ]
    assert gif_breaches(40, 30, 351, rules, "X") == ["animated GIF of 351 frames is over X's 350"]
    assert gif_breaches(1280, 1000, 240, rules, "X") == [
        "animated GIF of 307200000 pixels (width x height x frames) is over X's 300000000"
    ]
    assert gif_breaches(9999, 9999, 9999, GifRules(), "X") == []


def test_mastodon_rules_come_from_the_instance_configuration() -> None:
    instance = {
        "configuration": {
            "media_attachments": {
                "supported_mime_types": ["image/jpeg", "video/mp4"],
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8_294_400,
            }
        }
    }
    rules = media_limits(instance).video_rules
    assert rules == VideoRules(max_frame_rate=120, max_pixels=8_294_400)
    assert media_limits({}).video_rules == VideoRules()  # an instance that says nothing


def test_x_duration_ms_is_kept_and_media_json_round_trips() -> None:
    item = to_media(
        {
            "media_key": "7_1",
            "type": "video",
            "duration_ms": 150200,
            "width": 1920,
            "height": 1080,
            "variants": [{"bit_rate": 1, "content_type": "video/mp4", "url": "https://v/1.mp4"}],
        }
    )
    assert item is not None
    assert (item.duration, item.width, item.height) == (150.2, 1920, 1080)
    assert Media.from_json(item.to_json()) == item
    stored_before = {"kind": "video", "sources": [{"url": "https://v/1.mp4"}], "alt_text": ""}
    old = Media.from_json(stored_before)  # a delivery stored before these fields existed
    assert old == Media(MediaKind.VIDEO, (MediaSource(url="https://v/1.mp4"),))
    assert old.duration is None and old.frame_rate is None
