"""The media progress hook (media/progress.py) against the sandboxes over real HTTP: a download
and an upload on each network report growing byte counts that end at the file's size, and
each transfer starts and ends once."""

from __future__ import annotations

import fcntl
import io
import itertools
import os
import pty
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from birdbridge.config import MastodonConfig
from birdbridge.media.download import download
from birdbridge.media.progress import Transfer
from birdbridge.models import MediaKind
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.networks.twitter_media import CHUNK_BYTES
from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox

from ..conftest import Rig
from ..e2e.conftest import cli, write_config
from .test_twitter_adapter import network_for

FIXTURES = Path(__file__).parents[1] / "fixtures"
SANDBOX = frozenset({"127.0.0.1"})  # the sandboxes' host, as a link's api_base_url names it


@dataclass
class Recorder:
    """A Progress that writes down what it is told."""

    events: list[tuple[str, Transfer, int]] = field(default_factory=list)

    def started(self, transfer: Transfer) -> None:
        self.events.append(("started", transfer, 0))

    def moved(self, transfer: Transfer, done: int) -> None:
        self.events.append(("moved", transfer, done))

    def ended(self, transfer: Transfer) -> None:
        self.events.append(("ended", transfer, 0))

    def only_transfer(self) -> Transfer:
        transfers = {id(t): t for _, t, _ in self.events}
        assert len(transfers) == 1, self.events
        return next(iter(transfers.values()))

    def counts(self) -> list[int]:
        return [done for kind, _, done in self.events if kind == "moved"]


def assert_one_complete_transfer(recorder: Recorder, size: int, direction: str) -> list[int]:
    transfer = recorder.only_transfer()
    assert transfer.direction == direction and transfer.total == size
    kinds = [kind for kind, _, _ in recorder.events]
    assert kinds[0] == "started" and kinds[-1] == "ended" and kinds.count("ended") == 1
    counts = recorder.counts()
    assert counts, "no progress reported"
    assert all(a < b for a, b in itertools.pairwise(counts)), counts
    assert counts[-1] == size
    return counts


def noisy_png(path: Path, side: int = 700) -> Path:
    """A picture that does not compress (random pixels): about 1.5 MB, many network reads."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def padded_video(path: Path, extra: int) -> Path:
    """The tiny mp4 fixture followed by a ``free`` box of ``extra`` bytes (ISO/IEC 14496-12
    8.1.2: a box readers skip), so the file is big enough for several chunks."""
    body = (FIXTURES / "tiny.mp4").read_bytes()
    path.write_bytes(body + struct.pack(">I4s", 8 + extra, b"free") + bytes(extra))
    return path


def test_a_download_reports_growing_counts_up_to_the_size(
    x_sandbox: XSandbox, tmp_path: Path
) -> None:
    x_sandbox.create_user("alice")
    data = noisy_png(tmp_path / "source.png").read_bytes()
    post = x_sandbox.create_post("alice", "pic", media=[{"type": "photo", "data": data}])
    url = f"{x_sandbox.url}/media/{post['attachments']['media_keys'][0]}.png"
    recorder = Recorder()
    result = download(
        url,
        tmp_path / "file.bin",
        max_bytes=10_000_000,
        allowed_hosts=SANDBOX,
        progress=recorder,
        name="image 1",
    )
    counts = assert_one_complete_transfer(recorder, len(data), "download")
    assert result.size == len(data) and len(counts) > 1  # streamed: more than one report
    assert recorder.only_transfer().name == "image 1"


def test_an_x_picture_upload_reports_its_size(x_sandbox: XSandbox, tmp_path: Path) -> None:
    net = network_for(x_sandbox, x_sandbox.create_user("alice"))
    path = noisy_png(tmp_path / "a.png")
    recorder = Recorder()
    net.upload_media(path, "image/png", MediaKind.IMAGE, "noise", progress=recorder)
    # one request whose body requests builds in memory: one report, the whole file
    assert assert_one_complete_transfer(recorder, path.stat().st_size, "upload") == [
        path.stat().st_size
    ]


def test_an_x_video_upload_reports_each_chunk(x_sandbox: XSandbox, tmp_path: Path) -> None:
    net = network_for(x_sandbox, x_sandbox.create_user("alice"))
    path = padded_video(tmp_path / "clip.mp4", 2 * CHUNK_BYTES)
    size = path.stat().st_size
    recorder = Recorder()
    net.upload_media(path, "video/mp4", MediaKind.VIDEO, "", progress=recorder)
    counts = assert_one_complete_transfer(recorder, size, "upload")
    assert counts == [CHUNK_BYTES, 2 * CHUNK_BYTES, size]  # after each accepted APPEND


def test_a_mastodon_upload_reports_as_the_body_is_sent(
    mastodon_sandbox: MastodonSandbox, tmp_path: Path
) -> None:
    user = mastodon_sandbox.create_user("alice")
    net = MastodonNetwork(
        MastodonConfig(api_base_url=mastodon_sandbox.url, access_token=user.access_token),
        timeout=5,
    )
    path = noisy_png(tmp_path / "a.png")
    recorder = Recorder()
    uploaded = net.upload_media(path, "image/png", MediaKind.IMAGE, "noise", progress=recorder)
    counts = assert_one_complete_transfer(recorder, path.stat().st_size, "upload")
    assert len(counts) > 10  # httpx reads the file 64 KiB at a time as it sends it
    assert mastodon_sandbox.media(uploaded.id) is not None


@pytest.mark.parametrize("network", ["x", "mastodon"])
def test_a_failed_upload_still_ends_its_transfer(
    network: str,
    x_sandbox: XSandbox,
    mastodon_sandbox: MastodonSandbox,
    tmp_path: Path,
) -> None:
    """A bar must not hang on after an error: the transfer ends however the upload ends."""
    path = noisy_png(tmp_path / "a.png", side=64)
    recorder = Recorder()
    if network == "x":
        x_sandbox.add_fault(kind="status", status=503, method="POST", path=r"^/2/media/upload$")
        net = network_for(x_sandbox, x_sandbox.create_user("alice"))
        with pytest.raises(Exception):  # noqa: B017 - which error is the adapter's business
            net.upload_media(path, "image/png", MediaKind.IMAGE, "", progress=recorder)
    else:
        mastodon_sandbox.add_fault(
            kind="status", status=503, method="POST", path=r"^/api/v2/media$", times=None
        )
        user = mastodon_sandbox.create_user("alice")
        config = MastodonConfig(api_base_url=mastodon_sandbox.url, access_token=user.access_token)
        with pytest.raises(Exception):  # noqa: B017
            MastodonNetwork(config, timeout=5).upload_media(
                path, "image/png", MediaKind.IMAGE, "", progress=recorder
            )
    kinds = [kind for kind, _, _ in recorder.events]
    assert kinds[0] == "started" and kinds[-1] == "ended" and kinds.count("started") == 1


# -- what `birdbridge once` shows ---------------------------------------------------------


def run_on_a_terminal(*args: str, columns: int = 120) -> tuple[int, str]:
    """``birdbridge ARGS`` with its output on a pseudo-terminal: exit code, all it wrote."""
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    process = subprocess.Popen(
        [sys.executable, "-m", "birdbridge", *args],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_once_shows_bars_on_a_terminal_and_none_when_piped(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    config.chmod(0o600)
    assert cli("once", "--config", str(config)).returncode == 0  # the first poll: cursors
    picture = {"type": "photo", "data": noisy_png(tmp_path / "a.png").read_bytes()}

    rig.tweet("a picture, watched", media=[picture])
    code, shown = run_on_a_terminal("once", "--config", str(config))
    assert code == 0, shown
    assert "download image 1" in shown and "upload image to Mastodon" in shown, shown
    assert "━" in shown and "MB" in shown  # a bar, with bytes
    assert "mirrored 1" in shown

    rig.tweet("a picture, piped", media=[picture])
    piped = cli("once", "--config", str(config))
    assert piped.returncode == 0 and "mirrored 1" in piped.stdout
    for output in (piped.stdout, piped.stderr):
        assert "download image" not in output and "upload image" not in output
        assert "━" not in output
    assert len(rig.toots()) == 2
