"""Reading a video's real properties: the pure mp4/mov box reader on structures built byte by
byte (no ffmpeg needed), ffprobe on real videos made by ffmpeg, both agreeing, the reader used
where ffprobe is missing (an empty PATH), and the transcode that fits a video to a target."""

from __future__ import annotations

from pathlib import Path

import pytest

from birdbridge.media.mp4box import read_mp4
from birdbridge.media.probe import probe_video
from birdbridge.media.rules import VideoFit, VideoProps
from birdbridge.media.video import transcode_to_mp4

from ..media_files import (
    SPS_BASELINE,
    SPS_HIGH10_420,
    SPS_HIGH_444,
    box,
    make_video,
    mp4_bytes,
    needs_ffmpeg,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"


def written(tmp_path: Path, data: bytes, name: str = "v.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        ({}, VideoProps(1.0, 96, 64, 10.0, "yuv420p", None, "mp4 boxes")),
        (
            {"seconds": 150.2, "size": (1920, 1080), "fps": 60},
            VideoProps(150.2, 1920, 1080, 60.0, "yuv420p", None, "mp4 boxes"),
        ),
        (
            {"fps": 29.97, "timescale": 30000, "seconds": 2},
            VideoProps(2.0, 96, 64, 30000 / 1001, "yuv420p", None, "mp4 boxes"),
        ),
        ({"sps": SPS_HIGH_444}, VideoProps(1.0, 96, 64, 10.0, "yuv444p", None, "mp4 boxes")),
        ({"sps": SPS_HIGH10_420}, VideoProps(1.0, 96, 64, 10.0, "yuv420p10le", None, "mp4 boxes")),
        ({"sps": SPS_BASELINE}, VideoProps(1.0, 96, 64, 10.0, "yuv420p", None, "mp4 boxes")),
        ({"pixel_aspect": (4, 3)}, VideoProps(1.0, 96, 64, 10.0, "yuv420p", 4 / 3, "mp4 boxes")),
        # version 1 headers, the movie box after a 64-bit media data box, QuickTime
        (
            {"version": 1, "moov_last": True, "large_mdat": True, "brand": b"qt  "},
            VideoProps(1.0, 96, 64, 10.0, "yuv420p", None, "mp4 boxes"),
        ),
    ],
)
def test_the_box_reader(tmp_path: Path, boxes: dict, expected: VideoProps) -> None:
    found = read_mp4(written(tmp_path, mp4_bytes(**boxes)))
    assert found is not None
    assert found.frame_rate == pytest.approx(expected.frame_rate)
    assert found.duration == pytest.approx(expected.duration)
    assert found == VideoProps(
        **{**expected.__dict__, "frame_rate": found.frame_rate, "duration": found.duration}
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(100),  # no movie box
        mp4_bytes()[:200],  # cut inside the movie box
        b"\x00\x00\x00\x18ftypisom" + box(b"moov", box(b"mvhd", b"\x07")),  # garbage header
        (FIXTURES / "tiny.webm").read_bytes(),  # not ISO-BMFF
    ],
)
def test_the_box_reader_says_none_rather_than_guessing(tmp_path: Path, data: bytes) -> None:
    assert read_mp4(written(tmp_path, data)) is None


def test_a_file_with_only_an_audio_track_is_not_a_video(tmp_path: Path) -> None:
    data = mp4_bytes().replace(b"vide", b"soun")
    assert read_mp4(written(tmp_path, data)) is None


def test_without_ffprobe_on_the_path_the_box_reader_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    found = probe_video(FIXTURES / "tiny.mp4")
    assert found is not None and found.via == "mp4 boxes"
    assert (found.width, found.height, found.duration) == (96, 64, pytest.approx(1.0, abs=0.05))
    assert probe_video(FIXTURES / "tiny.webm") is None  # only ffprobe reads WebM


@needs_ffmpeg
@pytest.mark.parametrize(
    "made",
    [
        {"seconds": 2, "size": (64, 48), "fps": 25, "audio": True},
        {"seconds": 1, "size": (1920, 1080), "fps": 60},
        {"seconds": 1, "size": (96, 64), "fps": 120},
        {"seconds": 0.4, "size": (32, 96), "fps": 30},
        {"seconds": 1, "size": (64, 48), "fps": 24, "pix_fmt": "yuv444p"},
        {"seconds": 1, "size": (64, 48), "fps": 24, "pix_fmt": "yuv422p"},
        {"seconds": 1, "size": (64, 48), "fps": 24, "pix_fmt": "yuv420p10le"},
    ],
)
def test_ffprobe_and_the_box_reader_agree_on_real_videos(tmp_path: Path, made: dict) -> None:
    path = make_video(tmp_path / "real.mp4", **made)
    by_ffprobe = probe_video(path)
    by_boxes = probe_video(path, use_ffprobe=False)
    assert by_ffprobe is not None and by_ffprobe.via == "ffprobe"
    assert by_boxes is not None and by_boxes.via == "mp4 boxes"
    for found in (by_ffprobe, by_boxes):
        assert (found.width, found.height) == made["size"]
        assert found.frame_rate == pytest.approx(made["fps"], rel=0.01)
        assert found.duration == pytest.approx(made["seconds"], abs=0.1)
        assert found.pixel_format == made.get("pix_fmt", "yuv420p")
        assert found.pixel_aspect == pytest.approx(1.0)


@needs_ffmpeg
def test_ffprobe_reads_webm_too() -> None:
    found = probe_video(FIXTURES / "tiny.webm")
    assert found is not None and (found.width, found.height) == (96, 64)


@needs_ffmpeg
def test_the_transcode_applies_the_fit(tmp_path: Path) -> None:
    source = make_video(tmp_path / "s.mp4", size=(320, 180), fps=120, pix_fmt="yuv444p", audio=True)
    out = transcode_to_mp4(source, tmp_path, VideoFit(width=160, height=90, frame_rate=60))
    assert out is not None
    found = probe_video(out)
    assert found is not None
    assert (found.width, found.height, found.pixel_format) == (160, 90, "yuv420p")
    assert found.frame_rate == pytest.approx(60)
    assert found.pixel_aspect == pytest.approx(1.0)


def test_the_transcode_says_none_without_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert transcode_to_mp4(FIXTURES / "tiny.mp4", tmp_path) is None
