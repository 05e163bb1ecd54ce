"""Mirror one large video and print the bridge's peak RSS and wall time.

The sandboxes run in a child process, so the figures are the bridge's own: the download is
streamed to disk, then uploaded from disk (X: chunked, one chunk at a time; Mastodon: one
streamed multipart request). The sandbox's limits are raised so 200 MB fits both ways.

    python bench/large_video.py                 # 200 MB
    python bench/large_video.py --size-mb 50 --out bench/results/large_video.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", len(body) + 8, kind) + body


def _movie_box(seconds: int = 60, width: int = 1280, height: int = 720, fps: int = 30) -> bytes:
    """A ``moov`` that says what X checks (ISO/IEC 14496-12 mvhd, tkhd, mdhd, hdlr, stts):
    the X sandbox reads a video's real duration, size and frame rate when processing it."""
    scale = 90000
    times = struct.pack(">4xIIII", 0, 0, scale, seconds * scale)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _box(b"mvhd", times + struct.pack(">IH10x", 0x10000, 0x100) + matrix + bytes(28))
    tkhd = _box(
        b"tkhd",
        struct.pack(">4xIII4xI", 0, 0, 1, seconds * scale)
        + bytes(16)
        + matrix
        + struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _box(b"mdhd", times + struct.pack(">HH", 0x55C4, 0))
    hdlr = _box(b"hdlr", bytes(8) + b"vide" + bytes(12) + b"Video\x00")
    stts = _box(b"stts", struct.pack(">4xIII", 1, seconds * fps, scale // fps))
    minf = _box(b"minf", _box(b"stbl", stts))
    return _box(b"moov", mvhd + _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + minf)))


def make_mp4(path: Path, size: int) -> None:
    """An MP4 container: ``ftyp``, a ``moov`` (1280x720, 60 s, 30 fps), then an ``mdat``
    box padded to ``size`` bytes."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp41")
    moov = _movie_box()
    mdat_size = size - len(ftyp) - len(moov)
    with path.open("wb") as file:
        file.write(ftyp + moov)
        file.write(struct.pack(">I4s", mdat_size, b"mdat"))
        block = bytes(range(256)) * 4096  # 1 MiB
        remaining = mdat_size - 8
        while remaining > 0:
            file.write(block[: min(len(block), remaining)])
            remaining -= len(block)


def sandboxes(video: str, direction: str, commands: Any, replies: Any) -> None:
    """Child process: both servers; posts the video when told; reports what arrived."""
    from birdbridge.sandbox.mastodon import MastodonSandbox
    from birdbridge.sandbox.x import XSandbox

    with XSandbox() as x, MastodonSandbox(video_size_limit=1 << 30) as masto:
        # X: 512 MB video limit already; Mastodon's default (99 MB) raised for the benchmark
        x_user = x.create_user("alice")
        m_user = masto.create_user("alice")
        replies.put(
            {
                "x": x.url,
                "masto": masto.url,
                "token": m_user.access_token,
                "x_user": x_user.__dict__,
            }
        )
        while (command := commands.get()) != "stop":
            if command == "post" and direction == "mastodon-to-twitter":
                item = {"type": "video", "data": Path(video), "description": "a test pattern"}
                masto.create_post("alice", "a large video", media=[item])
                replies.put("posted")
            elif command == "post":
                item = {"type": "video", "data": Path(video), "alt_text": "a test pattern"}
                x.create_post("alice", "a large video", media=[item])
                replies.put("posted")
            elif command == "report":
                target: Any = x if direction == "mastodon-to-twitter" else masto
                uploads = [
                    {"size": m.get("size"), "state": m.get("state")} for m in target.uploads()
                ]
                replies.put({"posts": len(target.posts("alice")), "uploads": uploads})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument(
        "--direction",
        default="mastodon-to-twitter",
        choices=["mastodon-to-twitter", "twitter-to-mastodon"],
    )
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    from birdbridge.config import parse_config
    from birdbridge.daemon import Bridge

    with tempfile.TemporaryDirectory(prefix="birdbridge-bench-") as tmp:
        video = Path(tmp) / "large.mp4"
        make_mp4(video, args.size_mb * 1024 * 1024)
        context = mp.get_context("spawn")
        commands, replies = context.Queue(), context.Queue()
        child = context.Process(
            target=sandboxes, args=(str(video), args.direction, commands, replies)
        )
        child.start()
        try:
            info = replies.get(timeout=60)
            u = info["x_user"]
            config = parse_config(
                f"""
[bridge]
database_url = "sqlite:///{tmp}/bench.db"
request_timeout = 120
[[links]]
name = "bench"
direction = "{args.direction}"
[links.twitter]
api_base_url = "{info["x"]}"
consumer_key = "{u["consumer_key"]}"
consumer_secret = "{u["consumer_secret"]}"
access_token = "{u["access_token"]}"
access_token_secret = "{u["access_token_secret"]}"
[links.mastodon]
api_base_url = "{info["masto"]}"
access_token = "{info["token"]}"
""",
                "<bench>",
                environ={},
            )
            bridge = Bridge(config)
            bridge.run_once()  # first poll: the cursor starts now
            baseline = peak_rss_mb()
            commands.put("post")
            replies.get(timeout=600)
            started = time.perf_counter()
            [report] = bridge.run_once()
            wall = time.perf_counter() - started
            peak = peak_rss_mb()
            commands.put("report")
            received = replies.get(timeout=60)
        finally:
            commands.put("stop")
            child.join(timeout=30)
    figures = {
        "direction": args.direction,
        "video_mb": args.size_mb,
        "wall_seconds": round(wall, 2),
        "throughput_mb_per_s": round(args.size_mb / wall, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mirroring_mb": round(baseline, 1),
        "mirrored": report.delivered.done,
        "fallbacks": report.delivered.fallbacks,
        "target_received": received,
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    ok = report.delivered.done == 1 and not report.delivered.fallbacks and peak < 150
    print("OK: peak RSS under 150 MB" if ok else "NOT OK", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
