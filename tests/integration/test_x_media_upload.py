"""The bridge's X media uploads (networks/twitter_media.py) against the X sandbox over real HTTP:
each request carries only what the newest API reference declares, and each reply is read only
for what the bridge uses (an APPEND may answer with no body at all)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from birdbridge.models import MediaKind
from birdbridge.networks.twitter import TwitterNetwork
from birdbridge.sandbox.x import XSandbox, XUser

from .test_twitter_adapter import network_for

FIXTURES = Path(__file__).parents[1] / "fixtures"

# Properties each request body may hold: openapi.json 2.167 (xdevplatform/docs), schemas
# MediaUploadRequest, InitializeMediaUploadRequest, AppendMediaUploadRequest (each with
# additionalProperties false) and CreateMediaMetadataRequest; finalize has no body.
DECLARED = {
    r"^/2/media/upload$": {"media", "media_category", "additional_owners"},
    r"^/2/media/upload/initialize$": {
        "additional_owners",
        "media_category",
        "media_type",
        "shared",
        "total_bytes",
    },
    r"^/2/media/upload/\d+/append$": {"media", "segment_index"},
    r"^/2/media/upload/\d+/finalize$": set(),
    r"^/2/media/metadata$": {"id", "metadata"},
}


def body_fields(request: Any) -> set[str]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return set(request.multipart())
    if not request.body:
        return set()
    return set(json.loads(request.body))


def picture(path: Path) -> Path:
    Image.new("RGB", (40, 30), "red").save(path, "JPEG")
    return path


def sent_fields(x: XSandbox) -> dict[str, set[str]]:
    """The body properties sent to each media endpoint (by its path pattern)."""
    out: dict[str, set[str]] = {}
    for pattern in DECLARED:
        for logged in x.api_requests("POST", pattern):
            assert logged.request is not None
            out.setdefault(pattern, set()).update(body_fields(logged.request))
    return out


@pytest.fixture
def alice(x_sandbox: XSandbox) -> XUser:
    return x_sandbox.create_user("alice", "Alice")


@pytest.fixture
def net(x_sandbox: XSandbox, alice: XUser) -> TwitterNetwork:
    x_sandbox.keep_exchanges = True
    return network_for(x_sandbox, alice)


def test_a_picture_goes_in_one_request_with_the_declared_fields_only(
    x_sandbox: XSandbox, net: TwitterNetwork, tmp_path: Path
) -> None:
    uploaded = net.upload_media(picture(tmp_path / "a.jpg"), "image/jpeg", MediaKind.IMAGE, "Red")
    assert x_sandbox.media(uploaded.id)["alt_text"] == "Red"
    sent = sent_fields(x_sandbox)
    assert sent == {
        r"^/2/media/upload$": {"media", "media_category"},
        r"^/2/media/metadata$": {"id", "metadata"},
    }


@pytest.mark.parametrize(
    ("path", "mime", "kind"),
    [
        ("tiny.mp4", "video/mp4", MediaKind.VIDEO),
        ("loop.gif", "image/gif", MediaKind.GIF),
    ],
)
def test_chunked_uploads_send_the_declared_fields_only(
    x_sandbox: XSandbox, net: TwitterNetwork, tmp_path: Path, path: str, mime: str, kind: MediaKind
) -> None:
    file = FIXTURES / path if path.endswith(".mp4") else animated_gif(tmp_path / path)
    uploaded = net.upload_media(file, mime, kind, "")
    assert x_sandbox.media(uploaded.id)["state"] == "succeeded"
    for pattern, fields in sent_fields(x_sandbox).items():
        assert fields <= DECLARED[pattern], pattern
    assert set(sent_fields(x_sandbox)) == {
        r"^/2/media/upload/initialize$",
        r"^/2/media/upload/\d+/append$",
        r"^/2/media/upload/\d+/finalize$",
    }


@pytest.mark.parametrize("reply", ["204", "200"])
def test_an_append_that_answers_with_no_body_is_fine(
    x_sandbox: XSandbox, net: TwitterNetwork, reply: str
) -> None:
    """The v1.1 APPEND answered an empty 2xx; the v2 guide documents {"data":{"expires_at"}}:
    the bridge reads nothing from that reply."""
    x_sandbox.media_append_reply = reply
    uploaded = net.upload_media(FIXTURES / "tiny.mp4", "video/mp4", MediaKind.VIDEO, "clip")
    appends = x_sandbox.api_requests("POST", r"^/2/media/upload/\d+/append$")
    assert appends and all(a.status == int(reply) for a in appends)
    stored = x_sandbox.media(uploaded.id)
    assert stored["state"] == "succeeded" and stored["alt_text"] == "clip"
    assert Path(stored["path"]).read_bytes() == (FIXTURES / "tiny.mp4").read_bytes()


def animated_gif(path: Path) -> Path:
    frames = [Image.new("P", (40, 30), i) for i in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    path.write_bytes(buffer.getvalue())
    return path
