"""The Mastodon sandbox's media keeps the real API's contract, over real HTTP with Mastodon.py.

Codes and bodies come from mastodon/mastodon (named next to each assertion):
app/controllers/api/v{1,2}/media_controller.rb, PostStatusService#validate_media!,
config/locales/en.yml media_attachments.validations, Attachmentable#check_image_dimension,
Paperclip's validators, and docs.joinmastodon.org methods/media.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mastodon import Mastodon, MastodonAPIError
from PIL import Image

from birdbridge.sandbox.mastodon import DEFAULT_MEDIA_LIMITS, MastodonSandbox, MastodonUser

_names = itertools.count(1)
NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox(media_processing_seconds=0.3) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(sandbox: MastodonSandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()
    sandbox.set_media_limits(**DEFAULT_MEDIA_LIMITS)


@pytest.fixture
def user(sandbox: MastodonSandbox) -> MastodonUser:
    return sandbox.create_user(f"media{next(_names)}")


def client(sandbox: MastodonSandbox, user: MastodonUser) -> Mastodon:
    return Mastodon(
        access_token=user.access_token,
        api_base_url=sandbox.url,
        ratelimit_method="throw",
        request_timeout=5,
    )


def auth(user: MastodonUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.access_token}"}


# -- files ---------------------------------------------------------------------------------------
def png(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "blue").save(out, "JPEG")
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 24), c) for c in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_header(width: int = 640, height: int = 360, seconds: int = 5) -> bytes:
    """ftyp + moov (mvhd, trak/tkhd): enough for type, duration and size sniffing."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = _box(b"mvhd", struct.pack(">B3xIIII", 0, 0, 0, 1000, seconds * 1000) + bytes(80))
    tkhd = _box(
        b"tkhd",
        struct.pack(
            ">B3xIII4xI8xhhh2x36xII", 0, 0, 0, 1, seconds * 1000, 0, 0, 0, width << 16, height << 16
        ),
    )
    return ftyp + _box(b"moov", mvhd + _box(b"trak", tkhd))


def mp4(payload: int = 2048) -> bytes:
    return mp4_header() + _box(b"mdat", bytes(payload))


def upload(
    sandbox: MastodonSandbox, user: MastodonUser, data: bytes, name: str = "f", **fields: str
) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/api/v2/media",
        headers=auth(user),
        files={"file": (name, data, "application/octet-stream")},
        data=fields,
        timeout=5,
    )


def wait_processed(api: Mastodon, media_id: str) -> dict:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        media = api.media(media_id)
        if media["url"] is not None:
            return media
        time.sleep(0.05)
    raise AssertionError(f"media {media_id} never finished processing")


def post_status(sandbox: MastodonSandbox, user: MastodonUser, **form: object) -> requests.Response:
    return requests.post(f"{sandbox.url}/api/v1/statuses", headers=auth(user), data=form, timeout=5)


# -- upload --------------------------------------------------------------------------------------
def test_image_upload_is_200_with_url_and_description(sandbox, user) -> None:
    api = client(sandbox, user)
    media = api.media_post(png(640, 480), mime_type="image/png", description="a red square")
    assert media["type"] == "image"
    assert media["url"].startswith(f"{sandbox.url}/system/media_attachments/files/")
    assert media["url"].endswith(".png")
    assert media["description"] == "a red square"
    assert media["remote_url"] is None and media["preview_remote_url"] is None
    assert media["meta"]["original"] == {
        "width": 640,
        "height": 480,
        "size": "640x480",
        "aspect": 640 / 480,
    }
    assert media["meta"]["small"]["width"] * media["meta"]["small"]["height"] <= 230_400
    assert media["blurhash"] and media["preview_url"]
    # 4.0.0: images are processed synchronously: 200, not 202 (docs: methods/media#v2)
    raw = upload(sandbox, user, jpeg(), "photo.jpg", description="raw")
    assert raw.status_code == 200 and raw.json()["url"].endswith(".jpeg")
    info = sandbox.media(media["id"])
    assert info is not None
    assert info["owner"] == user.username and info["state"] == "complete"
    assert info["size"] == info["path"].stat().st_size


def test_video_upload_is_202_then_206_then_200(sandbox, user) -> None:
    started = time.monotonic()
    raw = upload(sandbox, user, mp4(), "clip.mp4", description="a clip")
    assert raw.status_code == 202
    body = raw.json()
    assert body["type"] == "video" and body["url"] is None and body["description"] == "a clip"
    assert body["meta"]["original"]["width"] == 640 and body["meta"]["original"]["duration"] == 5
    shown = requests.get(f"{sandbox.url}/api/v1/media/{body['id']}", headers=auth(user), timeout=5)
    assert shown.status_code == 206 and shown.json()["url"] is None
    assert sandbox.media(body["id"])["state"] == "processing"
    time.sleep(max(0.0, 0.35 - (time.monotonic() - started)))
    done = requests.get(f"{sandbox.url}/api/v1/media/{body['id']}", headers=auth(user), timeout=5)
    assert done.status_code == 200 and done.json()["url"].endswith(".mp4")


def test_mastodon_py_polls_a_video_until_processed(sandbox, user) -> None:
    api = client(sandbox, user)
    media = api.media_post(mp4(), mime_type="video/mp4", description="v", synchronous=False)
    assert media["url"] is None
    done = wait_processed(api, media["id"])
    assert done["type"] == "video" and done["description"] == "v"
    assert requests.get(done["url"], timeout=5).content == mp4()


def test_audio_is_processed_asynchronously_and_gif_becomes_gifv(sandbox, user) -> None:
    audio = upload(sandbox, user, b"ID3\x04\x00\x00" + bytes(512), "song.mp3")
    assert audio.status_code == 202
    assert audio.json()["type"] == "audio" and audio.json()["preview_url"] is None
    # An animated GIF is an image when validated, so it is processed synchronously and
    # GifTranscoder turns it into a gifv (MediaAttachment#set_type_and_extension).
    gif = upload(sandbox, user, animated_gif(), "anim.gif")
    assert gif.status_code == 200 and gif.json()["type"] == "gifv"
    still = upload(sandbox, user, _static_gif(), "still.gif")
    assert still.status_code == 200 and still.json()["type"] == "image"


def _static_gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (16, 16), 3).save(out, "GIF")
    return out.getvalue()


def test_v1_upload_is_synchronous(sandbox, user) -> None:
    raw = requests.post(
        f"{sandbox.url}/api/v1/media",
        headers=auth(user),
        files={"file": ("clip.mp4", mp4(), "video/mp4")},
        timeout=5,
    )
    assert raw.status_code == 200 and raw.json()["url"] is not None


def test_update_description_before_attachment(sandbox, user) -> None:
    api = client(sandbox, user)
    media = api.media_post(png(), mime_type="image/png", description="old")
    updated = api.media_update(media["id"], description="new", focus=(0.5, -0.25))
    assert updated["description"] == "new"
    assert updated["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    status = api.status_post("with media", media_ids=[media["id"]])
    assert status["media_attachments"][0]["description"] == "new"
    # Api::V1::MediaController#set_media_attachment: only unattached media (where status_id: nil)
    gone = requests.get(f"{sandbox.url}/api/v1/media/{media['id']}", headers=auth(user), timeout=5)
    assert gone.status_code == 404 and gone.json() == {"error": "Record not found"}


# -- upload errors -------------------------------------------------------------------------------
def test_wrong_type_by_bytes_is_422(sandbox, user) -> None:
    # The bytes decide, not the name or the declared type (docs: methods/media, 422).
    raw = requests.post(
        f"{sandbox.url}/api/v2/media",
        headers=auth(user),
        files={"file": ("photo.jpg", b"just some text, not a JPEG\n", "image/jpeg")},
        timeout=5,
    )
    assert raw.status_code == 422
    assert raw.json() == {
        "error": "Validation failed: File content type is invalid, File is invalid"
    }
    sandbox.set_media_limits(supported_mime_types=["image/jpeg"])
    refused = upload(sandbox, user, png(), "x.png")
    assert refused.status_code == 422 and "File content type is invalid" in refused.json()["error"]
    with pytest.raises(MastodonAPIError):
        client(sandbox, user).media_post(b"%PDF-1.4\n...", mime_type="image/png")


def test_image_over_the_size_limit_is_422(sandbox, user) -> None:
    sandbox.set_media_limits(image_size_limit=1024)
    raw = upload(sandbox, user, jpeg(300, 300), "big.jpg")
    # Paperclip's AttachmentSizeValidator adds the error to file_file_size and to file
    # (mastodon/mastodon#6949: "File file size must be less than 8 MB, File must be ...").
    assert raw.status_code == 422
    assert raw.json() == {
        "error": "Validation failed: File file size must be less than 1 KB, "
        "File must be less than 1 KB"
    }
    assert upload(sandbox, user, mp4(), "v.mp4").status_code == 202  # video_size_limit applies


def test_video_over_the_video_limit_is_422(sandbox, user) -> None:
    sandbox.set_media_limits(video_size_limit=2048)
    raw = upload(sandbox, user, mp4(4096), "v.mp4")
    assert raw.status_code == 422
    assert raw.json()["error"] == (
        "Validation failed: File file size must be less than 2 KB, File must be less than 2 KB"
    )


def test_image_over_the_pixel_matrix_is_422(sandbox, user) -> None:
    sandbox.set_media_limits(image_matrix_limit=100)
    before = len(sandbox.uploads())
    raw = upload(sandbox, user, png(20, 10), "wide.png")
    # Attachmentable#check_image_dimension raises Mastodon::DimensionsValidationError
    assert raw.status_code == 422 and raw.json() == {"error": "20x10 images are not supported"}
    assert len(sandbox.uploads()) == before
    assert upload(sandbox, user, png(10, 10), "square.png").status_code == 200


def test_description_over_the_limit_is_422(sandbox, user) -> None:
    raw = upload(sandbox, user, png(), "x.png", description="a" * 1501)
    assert raw.status_code == 422
    assert raw.json() == {
        "error": "Validation failed: Description is too long (maximum is 1500 characters)"
    }
    assert upload(sandbox, user, png(), "x.png", description="é" * 1500).status_code == 200
    media = upload(sandbox, user, png(), "x.png").json()
    put = requests.put(
        f"{sandbox.url}/api/v1/media/{media['id']}",
        headers=auth(user),
        data={"description": "b" * 1501},
        timeout=5,
    )
    assert put.status_code == 422 and "Description is too long" in put.json()["error"]


def test_upload_needs_a_token_and_a_file(sandbox, user) -> None:
    anonymous = requests.post(
        f"{sandbox.url}/api/v2/media", files={"file": ("x.png", png())}, timeout=5
    )
    assert anonymous.status_code == 401
    empty = requests.post(
        f"{sandbox.url}/api/v2/media", headers=auth(user), data={"description": "x"}, timeout=5
    )
    assert empty.status_code == 422


# -- statuses with media -------------------------------------------------------------------------
def test_status_with_four_images_keeps_their_order(sandbox, user) -> None:
    api = client(sandbox, user)
    ids = [
        api.media_post(png(10 + i, 10), mime_type="image/png", description=f"image {i}")["id"]
        for i in range(4)
    ]
    order = [ids[2], ids[0], ids[3], ids[1]]
    status = api.status_post("", media_ids=order, sensitive=True)  # media and no text
    assert [m["id"] for m in status["media_attachments"]] == order
    assert [m["description"] for m in status["media_attachments"]] == [
        "image 2",
        "image 0",
        "image 3",
        "image 1",
    ]
    assert status["sensitive"] is True and status["content"] == ""
    assert sandbox.media(ids[0])["status_id"] == status["id"]
    only = api.account_statuses(user.id, only_media=True)
    assert [s["id"] for s in only] == [status["id"]]


def test_five_media_is_422(sandbox, user) -> None:
    ids = [upload(sandbox, user, png(), "x.png").json()["id"] for _ in range(5)]
    raw = post_status(sandbox, user, status="five", **{"media_ids[]": ids})
    assert raw.status_code == 422
    assert raw.json() == {"error": "Cannot attach more than 4 files"}
    sandbox.set_media_limits(max_media_attachments=2)
    raw = post_status(sandbox, user, status="three", **{"media_ids[]": ids[:3]})
    assert raw.status_code == 422 and raw.json() == {"error": "Cannot attach more than 2 files"}


def test_video_with_an_image_is_422(sandbox, user) -> None:
    api = client(sandbox, user)
    video = wait_processed(api, upload(sandbox, user, mp4(), "v.mp4").json()["id"])
    image = upload(sandbox, user, png(), "x.png").json()
    raw = post_status(sandbox, user, status="mixed", **{"media_ids[]": [image["id"], video["id"]]})
    # PostStatusService#validate_media!: media.size > 1 && media.find(&:audio_or_video?)
    assert raw.status_code == 422
    assert raw.json() == {"error": "Cannot attach a video to a post that already contains images"}
    # gifv is not audio_or_video?, so a gifv goes with images
    gif = upload(sandbox, user, animated_gif(), "a.gif").json()
    ok = post_status(sandbox, user, status="ok", **{"media_ids[]": [image["id"], gif["id"]]})
    assert ok.status_code == 200
    alone = api.status_post("just the video", media_ids=[video["id"]])
    assert alone["media_attachments"][0]["type"] == "video"


def test_still_processing_is_422(sandbox, user) -> None:
    video = upload(sandbox, user, mp4(), "v.mp4").json()
    raw = post_status(sandbox, user, status="too soon", **{"media_ids[]": [video["id"]]})
    assert raw.status_code == 422 and raw.json() == {"error": NOT_READY}
    api = client(sandbox, user)
    with pytest.raises(MastodonAPIError):
        api.status_post("too soon", media_ids=[video["id"]])
    wait_processed(api, video["id"])
    assert api.status_post("now", media_ids=[video["id"]])["media_attachments"]


def test_media_of_another_account_or_already_attached_is_422(sandbox, user) -> None:
    other = sandbox.create_user(f"other{next(_names)}")
    theirs = upload(sandbox, other, png(), "x.png").json()["id"]
    raw = post_status(sandbox, user, status="steal", **{"media_ids[]": [theirs]})
    assert raw.status_code == 422
    assert raw.json() == {"error": f"Media {theirs} not found or already attached to another post"}
    mine = upload(sandbox, user, png(), "x.png").json()["id"]
    assert post_status(sandbox, user, status="one", **{"media_ids[]": [mine]}).status_code == 200
    again = post_status(sandbox, user, status="two", **{"media_ids[]": [mine]})
    assert again.status_code == 422
    assert again.json()["error"] == f"Media {mine} not found or already attached to another post"


def test_status_read_back_downloads_the_same_bytes(sandbox, user) -> None:
    api = client(sandbox, user)
    data = jpeg(320, 200)
    media = api.media_post(data, mime_type="image/jpeg", description="blue")
    posted = api.status_post("look", media_ids=[media["id"]])
    status = requests.get(f"{sandbox.url}/api/v1/statuses/{posted['id']}", timeout=5).json()
    (attachment,) = status["media_attachments"]
    assert attachment["type"] == "image" and attachment["description"] == "blue"
    assert attachment["meta"]["original"]["size"] == "320x200"
    download = requests.get(attachment["url"], timeout=5)  # no token: files are public
    assert download.status_code == 200 and download.content == data
    assert download.headers["Content-Type"] == "image/jpeg"
    assert requests.get(attachment["preview_url"], timeout=5).status_code == 200
    missing = requests.get(attachment["url"].replace("/original/", "/original/x"), timeout=5)
    assert missing.status_code == 404


def test_idempotent_retry_with_media_returns_the_same_status(sandbox, user) -> None:
    api = client(sandbox, user)
    media = api.media_post(png(), mime_type="image/png")
    first = api.status_post("once", media_ids=[media["id"]], idempotency_key="k-media")
    second = api.status_post("once", media_ids=[media["id"]], idempotency_key="k-media")
    assert first["id"] == second["id"]
    assert [m["id"] for m in second["media_attachments"]] == [media["id"]]


# -- instance configuration ----------------------------------------------------------------------
def test_instance_endpoints_report_the_limits(sandbox, user) -> None:
    v2 = requests.get(f"{sandbox.url}/api/v2/instance", timeout=5).json()["configuration"]
    assert v2["statuses"]["max_media_attachments"] == 4
    media = v2["media_attachments"]
    assert media["image_size_limit"] == 16777216 and media["video_size_limit"] == 103809024
    assert media["image_matrix_limit"] == 33177600 and media["description_limit"] == 1500
    assert "video/mp4" in media["supported_mime_types"]
    sandbox.set_media_limits(
        max_media_attachments=2,
        image_size_limit=1000,
        video_size_limit=2000,
        image_matrix_limit=300,
        description_limit=10,
        supported_mime_types=["image/png"],
    )
    for path in ("/api/v1/instance", "/api/v2/instance"):
        config = requests.get(f"{sandbox.url}{path}", timeout=5).json()["configuration"]
        assert config["statuses"]["max_media_attachments"] == 2
        assert config["media_attachments"]["image_size_limit"] == 1000
        assert config["media_attachments"]["video_size_limit"] == 2000
        assert config["media_attachments"]["image_matrix_limit"] == 300
        assert config["media_attachments"]["supported_mime_types"] == ["image/png"]
    instance = client(sandbox, user).instance()
    assert instance["configuration"]["media_attachments"]["description_limit"] == 10


def test_limits_through_the_constructor_and_the_control_api() -> None:
    with MastodonSandbox(max_media_attachments=1, image_size_limit=500) as small:
        config = requests.get(f"{small.url}/api/v2/instance", timeout=5).json()["configuration"]
        assert config["statuses"]["max_media_attachments"] == 1
        assert config["media_attachments"]["image_size_limit"] == 500
        changed = requests.post(
            f"{small.url}/_sandbox/media_limits", json={"description_limit": 42}, timeout=5
        )
        assert changed.status_code == 200 and changed.json()["description_limit"] == 42
        media_dir = small.media_dir
        assert media_dir.is_dir()
    assert not media_dir.exists()  # stop() removes the store


# -- control API ---------------------------------------------------------------------------------
def test_control_post_with_a_gifv_and_a_20_mb_video(sandbox, user, tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    with video.open("wb") as file:
        file.write(mp4_header(1280, 720, 30))
        size = 20 * 1024 * 1024
        file.write(struct.pack(">I", size) + b"mdat")
        chunk = bytes(1 << 20)
        for _ in range(20):
            file.write(chunk)
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    uploads_before = len(sandbox.uploads())
    status = sandbox.create_post(
        user.username,
        "",
        media=[
            {"type": "gifv", "data": animated_gif(), "description": "loop"},
            {"type": "video", "data": video, "content_type": "video/mp4", "description": None},
        ],
        sensitive=True,
    )
    assert status["sensitive"] is True
    gifv, clip = status["media_attachments"]
    assert gifv["type"] == "gifv" and gifv["description"] == "loop" and gifv["url"]
    assert clip["type"] == "video" and clip["url"].endswith(".mp4")
    assert clip["meta"]["original"]["width"] == 1280 and clip["meta"]["original"]["duration"] == 30
    info = sandbox.media(clip["id"])
    assert info["size"] == video.stat().st_size and info["path"] != video
    assert info["state"] == "complete" and info["owner"] == user.username
    with requests.get(clip["url"], stream=True, timeout=5) as download:
        assert download.headers["Content-Type"] == "video/mp4"
        sha = hashlib.sha256()
        for part in download.iter_content(1 << 20):
            sha.update(part)
    assert sha.hexdigest() == digest
    assert len(sandbox.uploads()) == uploads_before  # control media are not API uploads
    read = client(sandbox, user).status(status["id"])
    assert [m["type"] for m in read["media_attachments"]] == ["gifv", "video"]


def test_control_http_posts_with_base64_media(sandbox, user) -> None:
    data = png(12, 34)
    created = requests.post(
        f"{sandbox.url}/_sandbox/posts",
        json={
            "username": user.username,
            "text": "from the web",
            "media": [
                {"type": "image", "data": base64.b64encode(data).decode(), "description": "d"}
            ],
        },
        timeout=5,
    )
    assert created.status_code == 201
    (attachment,) = created.json()["media_attachments"]
    assert attachment["meta"]["original"]["size"] == "12x34"
    assert requests.get(attachment["url"], timeout=5).content == data
    info = requests.get(f"{sandbox.url}/_sandbox/media/{attachment['id']}", timeout=5).json()
    assert info["type"] == "image" and info["description"] == "d" and info["source"] == "control"


def test_uploads_lists_api_uploads_only(sandbox, user) -> None:
    before = {m["id"] for m in sandbox.uploads()}
    first = upload(sandbox, user, png(), "x.png").json()["id"]
    sandbox.create_post(user.username, "web", media=[{"type": "image", "data": png()}])
    new = [m for m in sandbox.uploads() if m["id"] not in before]
    assert [m["id"] for m in new] == [first]
    assert new[0]["owner"] == user.username and new[0]["source"] == "api"
    listed = requests.get(f"{sandbox.url}/_sandbox/uploads", timeout=5).json()
    assert first in [m["id"] for m in listed]
