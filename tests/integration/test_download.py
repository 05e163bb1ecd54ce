"""Media downloads: streamed to disk, capped, typed by their bytes, http(s) only."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from birdbridge.media.download import DownloadError, download
from birdbridge.media.workdir import process_workdir
from birdbridge.sandbox.x import XSandbox


def served_picture(x: XSandbox, size: int = 64) -> str:
    x.create_user("alice")
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "red").save(buffer, "PNG")
    post = x.create_post("alice", "pic", media=[{"type": "photo", "data": buffer.getvalue()}])
    key = post["attachments"]["media_keys"][0]
    return f"{x.url}/media/{key}.png"


def test_download_streams_to_disk_and_sniffs_the_type(x_sandbox: XSandbox, tmp_path: Path) -> None:
    url = served_picture(x_sandbox)
    result = download(url, tmp_path / "file.bin", max_bytes=10_000_000)
    assert result.mime == "image/png" and result.size == (tmp_path / "file.bin").stat().st_size


def test_download_over_the_cap_is_aborted_and_leaves_nothing(
    x_sandbox: XSandbox, tmp_path: Path
) -> None:
    url = served_picture(x_sandbox, size=400)
    with pytest.raises(DownloadError, match=r"limit|more than"):
        download(url, tmp_path / "file.bin", max_bytes=1000)
    assert not (tmp_path / "file.bin").exists()


def test_only_http_urls_are_fetched(tmp_path: Path) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/a.jpg", "javascript:alert(1)"):
        with pytest.raises(DownloadError, match="not an http"):
            download(url, tmp_path / "file.bin", max_bytes=1000)


def test_server_errors_and_dropped_connections_are_download_errors(
    x_sandbox: XSandbox, tmp_path: Path
) -> None:
    url = served_picture(x_sandbox)
    x_sandbox.add_fault(kind="status", status=404, method="GET", path="^/media/")
    with pytest.raises(DownloadError, match="404"):
        download(url, tmp_path / "a.bin", max_bytes=10_000_000)
    x_sandbox.add_fault(kind="drop", method="GET", path="^/media/")
    with pytest.raises(DownloadError):
        download(url, tmp_path / "b.bin", max_bytes=10_000_000)
    x_sandbox.add_fault(kind="timeout", method="GET", path="^/media/", delay=2)
    with pytest.raises(DownloadError):
        download(url, tmp_path / "c.bin", max_bytes=10_000_000, timeout=0.3)


def test_leftovers_of_a_crashed_process_are_swept(tmp_path: Path) -> None:
    pid = os.fork()
    if pid == 0:  # a child that exits at once: its pid is then free
        os._exit(0)
    os.waitpid(pid, 0)
    stale = tmp_path / "birdbridge-media" / str(pid)
    stale.mkdir(parents=True)
    (stale / "half-downloaded.mp4").write_bytes(b"x" * 1000)
    mine = process_workdir(tmp_path)
    assert not stale.exists()
    assert mine.exists() and mine.name == str(os.getpid())
