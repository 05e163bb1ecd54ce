"""Fit pictures at and over the targets' limits and print each fit's peak RSS and seconds.

Each fit runs in a fresh process (spawned: nothing inherited but the file's path), so its
peak RSS is that fit's own, on top of the interpreter and Pillow (``baseline_rss_mb``):

- the largest pictures a target accepts, at its pixel limit and over its byte limit so
  they are decoded and re-encoded (random pixels: the worst case for the encoders):
  Mastodon's 7680x4320 and X's 8192x8192, as PNG and as JPEG;
- decompression bombs of one colour: 12000x11000 (opens, over the decode budget),
  20000x20000 (1.2 MB, 1.6 GB decoded) and 30000x30000 (2.6 MB, 3.6 GB decoded).

    python bench/image_memory.py
    python bench/image_memory.py --json bench/results/image_memory.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import resource
import struct
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

MASTODON = {"max_bytes": 16 * 1024 * 1024, "max_pixels": 33_177_600}  # instance defaults
X = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 8192 * 8192}  # X_MEDIA_LIMITS

# name, (width, height), format, target limits
CASES: list[tuple[str, tuple[int, int], str, dict[str, int]]] = [
    ("mastodon-limit-png", (7680, 4320), "PNG", MASTODON),
    ("mastodon-limit-jpeg", (7680, 4320), "JPEG", MASTODON),
    ("x-limit-png", (8192, 8192), "PNG", X),
    ("x-limit-jpeg", (8192, 8192), "JPEG", X),
    ("bomb-12000x11000", (12000, 11000), "bomb", MASTODON),
    ("bomb-20000x20000", (20000, 20000), "bomb", MASTODON),
    ("bomb-30000x30000", (30000, 30000), "bomb", MASTODON),
]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(size: tuple[int, int]) -> bytes:
    """A black RGB PNG of any size in a few MB (as tests/media_files.py builds it): one
    deflate block of 64 zero rows, fully flushed and repeated; Adler-32 of n zero bytes is
    (n mod 65521) << 16 | 1."""
    width, height = size
    row = bytes(1 + 3 * width)

    def deflated(rows: int) -> bytes:
        raw = zlib.compressobj(9, zlib.DEFLATED, -15)
        return raw.compress(row * rows) + raw.flush(zlib.Z_FULL_FLUSH)

    blocks, rest = divmod(height, 64)
    adler = ((len(row) * height) % 65521) << 16 | 1
    stream = b"\x78\xda" + deflated(64) * blocks + deflated(rest) + b"\x03\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", stream + struct.pack(">I", adler))
        + _png_chunk(b"IEND", b"")
    )


def make_picture(path: Path, size: tuple[int, int], fmt: str) -> str:
    """Write the case's file; its MIME type."""
    if fmt == "bomb":
        path.write_bytes(png_bomb(size))
        return "image/png"
    from PIL import Image

    noise = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    if fmt == "PNG":
        noise.save(path, "PNG", compress_level=1)  # quick to write; as large as PNG gets
        return "image/png"
    noise.save(path, "JPEG", quality=95)
    return "image/jpeg"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def fit_in_child(path: str, mime: str, limits: dict[str, int], out_dir: str, replies: Any) -> None:
    """Child process: one fit_image, then what came of it, its seconds and peak RSS."""
    from PIL import Image

    from birdbridge.media.images import ImageError, ImageLimits, fit_image

    # Pillow warns on opening anything over 67 MP; the outcome printed says what came of it
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    target = ImageLimits(frozenset({"image/jpeg", "image/png"}), **limits)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    try:
        out, fitted = fit_image(Path(path), mime, target, Path(out_dir))
    except ImageError as exc:
        outcome = f"refused: {exc}"
    except Exception as exc:  # what an older birdbridge let escape (issue 10)
        outcome = f"raised {type(exc).__name__}: {exc}"
    else:
        with Image.open(out) as image:
            outcome = f"fitted: {image.width}x{image.height} {fitted}, {out.stat().st_size} B"
    replies.put(
        {
            "seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "baseline_rss_mb": round(baseline, 1),
            "outcome": outcome,
        }
    )


def in_fresh_process(target: Any, *args: Any) -> Any:
    """``target(*args, replies)`` in a spawned process; what it put on ``replies``.

    Linux carries a parent's peak RSS over into a forked child's ru_maxrss (and across
    exec), so the parent stays small: even the pictures are made in a process of their own.
    """
    context = mp.get_context("spawn")
    replies = context.Queue()
    child = context.Process(target=target, args=(*args, replies))
    child.start()
    try:
        while child.is_alive():
            try:
                return replies.get(timeout=1)
            except queue.Empty:
                continue
        try:  # it may have replied just before it ended
            return replies.get(timeout=1)
        except queue.Empty:  # killed, e.g. by the kernel's OOM killer on a small machine
            return {"outcome": f"died with exit code {child.exitcode}"}
    finally:
        child.join(timeout=60)


def make_in_child(path: str, size: tuple[int, int], fmt: str, replies: Any) -> None:
    replies.put(make_picture(Path(path), size, fmt))


def run_case(
    name: str, size: tuple[int, int], fmt: str, limits: dict[str, int], tmp: Path
) -> dict[str, Any]:
    path = tmp / f"{name}.{'jpg' if fmt == 'JPEG' else 'png'}"
    mime = in_fresh_process(make_in_child, str(path), size, fmt)
    figures = in_fresh_process(fit_in_child, str(path), mime, limits, str(tmp))
    file_mb = round(path.stat().st_size / 2**20, 1)
    path.unlink()
    return {"case": name, "pixels": f"{size[0]}x{size[1]}", "file_mb": file_mb, **figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", "--out", dest="json", type=Path, help="also write the figures to this file"
    )
    parser.add_argument("--only", help="run only the cases whose name contains this")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="birdbridge-bench-") as tmp:
        for name, size, fmt, limits in CASES:
            if args.only and args.only not in name:
                continue
            result = run_case(name, size, fmt, limits, Path(tmp))
            print(json.dumps(result), flush=True)
            results.append(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    bombs = [r for r in results if r["case"].startswith("bomb")]
    ok = all(r["outcome"].startswith("refused") and r.get("peak_rss_mb", 1e9) < 150 for r in bombs)
    print("OK: every bomb refused under 150 MB" if ok else "NOT OK", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
