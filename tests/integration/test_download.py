"""Media downloads: streamed to disk, capped, typed by their bytes, http(s) only."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
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


def test_leftovers_of_a_killed_process_are_swept_even_with_the_same_pid(tmp_path: Path) -> None:
    """In a container every run is PID 1: a folder named after a pid that is alive again
    must still be swept when no process holds it."""
    killed = tmp_path / "birdbridge-media" / f"{os.getpid()}-deadbeef"
    killed.mkdir(parents=True)
    (killed / ".lock").write_bytes(b"")  # its process died: nobody holds the lock
    (killed / "half-downloaded.mp4").write_bytes(b"x" * 1000)
    older = tmp_path / "birdbridge-media" / "1"  # a folder of an older version (no lock file)
    older.mkdir()
    mine = process_workdir(tmp_path)
    assert not killed.exists() and not older.exists()
    assert mine.exists() and mine.name.startswith(f"{os.getpid()}-")
    assert process_workdir(tmp_path) == mine  # one folder per process


def test_a_folder_another_process_holds_is_kept(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; "
        "from birdbridge.media.workdir import process_workdir; "
        "print(process_workdir(Path(sys.argv[1])), flush=True); time.sleep(60)"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None
        theirs = Path(other.stdout.readline().strip())
        mine = process_workdir(tmp_path)
        assert theirs.exists() and mine != theirs
    finally:
        other.kill()
        other.wait()
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700
