"""Media in the X sandbox over real HTTP: v2 simple and chunked upload, STATUS polling,
alt text, attaching media to posts with X's rules, reading media back through expansions,
and downloading the files. Requests are signed with OAuth1 exactly as tweepy signs them."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import tweepy
from PIL import Image
from requests_oauthlib import OAuth1

from birdbridge.sandbox.x import XSandbox, XUser

from ..media_files import (
    SPS_HIGH_444,
    gif_bytes,
    make_video,
    mp4_bytes,
    needs_ffmpeg,
)

MP4 = mp4_bytes(mdat_size=40_000)  # 96x64, 1 s, 10 fps, as its boxes say
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 1_000


class RewritingSession(requests.Session):
    """tweepy hard-codes https://api.twitter.com (api-notes X3)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if url.startswith("https://api.twitter.com"):
            url = self.base + url[len("https://api.twitter.com") :]
        kwargs.setdefault("timeout", 5)
        return super().request(method, url, *args, **kwargs)


def jpeg(w: int = 64, h: int = 48, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), color).save(out, "JPEG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    frames = [Image.new("P", (40, 30), i) for i in (1, 2, 3)]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


class Api:
    """Raw v2 calls for the media endpoints tweepy 4.17 lacks, signed like tweepy's OAuth1."""

    def __init__(self, x: XSandbox, user: XUser) -> None:
        self.base = x.url
        self.auth = OAuth1(
            user.consumer_key, user.consumer_secret, user.access_token, user.access_token_secret
        )
        self.client = tweepy.Client(
            consumer_key=user.consumer_key,
            consumer_secret=user.consumer_secret,
            access_token=user.access_token,
            access_token_secret=user.access_token_secret,
        )
        self.client.session = RewritingSession(x.url)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.base + path, auth=self.auth, timeout=5, **kwargs)

    def upload(self, data: bytes, category: str = "tweet_image") -> requests.Response:
        files = {"media": ("blob", data, "application/octet-stream")}
        return self.call("POST", "/2/media/upload", files=files, data={"media_category": category})

    def chunked(self, data: bytes, media_type: str, category: str, chunk: int = 16_384) -> dict:
        init = {"media_type": media_type, "total_bytes": len(data), "media_category": category}
        media_id = self.call("POST", "/2/media/upload/initialize", json=init).json()["data"]["id"]
        for index, start in enumerate(range(0, len(data), chunk)):
            files = {"media": ("blob", data[start : start + chunk], "application/octet-stream")}
            r = self.call(
                "POST",
                f"/2/media/upload/{media_id}/append",
                files=files,
                data={"segment_index": str(index)},
            )
            assert r.status_code == 200, r.text
        r = self.call("POST", f"/2/media/upload/{media_id}/finalize")
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def status(self, media_id: str) -> requests.Response:
        return self.call(
            "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
        )

    def wait(self, media_id: str) -> list[str]:
        states = []
        for _ in range(100):
            info = self.status(media_id).json()["data"]["processing_info"]
            states.append(info["state"])
            if info["state"] in ("succeeded", "failed"):
                return states
            time.sleep(0.03)  # the sandbox is faster than check_after_secs (>= 1) says
        raise AssertionError(states)

    def tweet(self, media_ids: list[str], text: str = "with media") -> requests.Response:
        return self.call(
            "POST", "/2/tweets", json={"text": text, "media": {"media_ids": media_ids}}
        )


@pytest.fixture
def x() -> Iterator[XSandbox]:
    with XSandbox(media_processing_seconds=0.2) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def alice(x: XSandbox) -> XUser:
    return x.create_user("alice")


@pytest.fixture
def api(x: XSandbox, alice: XUser) -> Api:
    return Api(x, alice)


def media_error(r: requests.Response) -> str:
    body = r.json()
    assert body["title"] == "Invalid Request"
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    return body["errors"][0]["message"]


# -- simple upload, alt text, post, read back, download -----------------------------------


def test_simple_upload_alt_text_post_and_read_back(x: XSandbox, alice: XUser, api: Api) -> None:
    photo = jpeg()
    r = api.upload(photo)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    media_id = data["id"]
    assert media_id.isdigit() and data["media_key"] == f"3_{media_id}"
    assert data["size"] == len(photo) and data["expires_after_secs"] == 86400
    assert data["image"] == {"image_type": "image/jpeg", "w": 64, "h": 48}
    assert "processing_info" not in data

    meta = {"id": media_id, "metadata": {"alt_text": {"text": "A red square"}}}
    r = api.call("POST", "/2/media/metadata", json=meta)
    assert r.status_code == 200
    assert r.json()["data"] == {
        "id": media_id,
        "associated_metadata": {"alt_text": {"text": "A red square"}},
    }

    created = api.client.create_tweet(text="look", media_ids=[media_id])
    assert created.data["text"].startswith("look https://t.co/")  # X appends the media link

    fields = ["type", "url", "alt_text", "width", "height"]
    page = api.client.get_users_tweets(
        alice.id,
        expansions=["attachments.media_keys"],
        media_fields=fields,
        tweet_fields=["attachments", "entities"],
        user_auth=True,
    )
    tweet = page.data[0]
    assert tweet.attachments == {"media_keys": [f"3_{media_id}"]}
    assert tweet.entities["urls"][-1]["media_key"] == f"3_{media_id}"
    (media,) = page.includes["media"]
    assert media.type == "photo" and media.alt_text == "A red square"
    assert (media.width, media.height) == (64, 48)
    download = requests.get(media.url, timeout=5)
    assert download.content == photo
    assert download.headers["Content-Type"] == "image/jpeg"
    head = requests.head(media.url, timeout=5)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(photo)

    bare = api.client.get_tweet(tweet.id, tweet_fields=["attachments"], user_auth=True)
    assert bare.data.attachments == {"media_keys": [f"3_{media_id}"]}
    assert "media" not in bare.includes
    assert [u["id"] for u in x.uploads()] == [media_id]
    assert x.media(f"3_{media_id}")["alt_text"] == "A red square"


def test_json_base64_upload_sniffs_the_bytes(api: Api) -> None:
    body = {"media": base64.b64encode(jpeg()).decode(), "media_category": "tweet_image"}
    r = api.call("POST", "/2/media/upload", json=body)
    assert r.status_code == 200
    assert r.json()["data"]["image"]["image_type"] == "image/jpeg"


def test_app_bearer_may_not_upload(x: XSandbox, alice: XUser) -> None:
    r = requests.post(
        f"{x.url}/2/media/upload",
        headers={"Authorization": f"Bearer {x.bearer_token}"},
        files={"media": ("a", jpeg())},
        timeout=5,
    )
    assert r.status_code == 403
    assert r.json()["title"] == "Unsupported Authentication"


def test_alt_text_over_1000_characters_is_refused(api: Api) -> None:
    media_id = api.upload(jpeg()).json()["data"]["id"]
    meta = {"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}}
    r = api.call("POST", "/2/media/metadata", json=meta)
    assert r.status_code == 400
    assert "1000" in media_error(r)


# -- chunked upload and processing -------------------------------------------------------


def test_chunked_gif_is_processed_then_posted(x: XSandbox, api: Api) -> None:
    data = gif()
    final = api.chunked(data, "image/gif", "tweet_gif", chunk=200)
    assert final["media_key"] == f"16_{final['id']}" and final["size"] == len(data)
    assert final["processing_info"] == {"state": "pending", "check_after_secs": 1}
    r = api.tweet([final["id"]])
    assert r.status_code == 400 and media_error(r) == "Your media IDs are invalid."

    states = api.wait(final["id"])
    assert states[-1] == "succeeded"
    assert states == sorted(states, key=["pending", "in_progress", "succeeded"].index)
    tweet_id = api.tweet([final["id"]]).json()["data"]["id"]
    got = api.client.get_tweet(
        tweet_id,
        expansions=["attachments.media_keys"],
        media_fields=["variants", "preview_image_url", "width", "height"],
        user_auth=True,
    )
    (media,) = got.includes["media"]
    assert media.type == "animated_gif" and (media.width, media.height) == (40, 30)
    assert media.variants[0]["content_type"] == "video/mp4"
    assert requests.get(media.variants[0]["url"], timeout=5).content == data
    thumb = requests.get(media.preview_image_url, timeout=5)
    assert thumb.headers["Content-Type"] == "image/jpeg"


def test_chunked_video_has_mp4_and_hls_variants(x: XSandbox, api: Api) -> None:
    final = api.chunked(MP4, "video/mp4", "tweet_video")
    assert final["media_key"] == f"7_{final['id']}"
    assert api.wait(final["id"])[-1] == "succeeded"
    status = api.status(final["id"]).json()["data"]
    assert status["video"] == {"video_type": "video/mp4"}
    tweet_id = api.tweet([final["id"]]).json()["data"]["id"]
    got = api.client.get_tweet(
        tweet_id,
        expansions=["attachments.media_keys"],
        media_fields=["variants", "duration_ms", "preview_image_url"],
        user_auth=True,
    )
    (media,) = got.includes["media"]
    assert media.type == "video" and media.duration_ms > 0
    mp4s = [v for v in media.variants if v["content_type"] == "video/mp4"]
    assert mp4s and all(v["bit_rate"] > 0 for v in mp4s)
    assert any(v["content_type"] == "application/x-mpegURL" for v in media.variants)
    best = max(mp4s, key=lambda v: v["bit_rate"])
    assert requests.get(best["url"], timeout=5).content == MP4
    assert [u["media_key"] for u in x.uploads()] == [final["media_key"]]


def test_status_of_bytes_that_are_not_a_video_fails(api: Api) -> None:
    final = api.chunked(jpeg(), "video/mp4", "tweet_video")
    assert api.wait(final["id"])[-1] == "failed"
    info = api.status(final["id"]).json()["data"]["processing_info"]
    assert info["error"]["name"] == "InvalidMedia"
    assert media_error(api.tweet([final["id"]])) == "Your media IDs are invalid."


def test_status_of_an_image_is_not_found(api: Api) -> None:
    media_id = api.upload(jpeg()).json()["data"]["id"]
    r = api.status(media_id)
    assert r.status_code == 400 and media_error(r) == "BadRequest: Not found"


def test_finalize_with_missing_bytes_is_refused(api: Api) -> None:
    init = {"media_type": "video/mp4", "total_bytes": 100, "media_category": "tweet_video"}
    media_id = api.call("POST", "/2/media/upload/initialize", json=init).json()["data"]["id"]
    files = {"media": ("blob", b"x" * 50)}
    api.call("POST", f"/2/media/upload/{media_id}/append", files=files, data={"segment_index": "0"})
    r = api.call("POST", f"/2/media/upload/{media_id}/finalize")
    assert r.status_code == 400 and "total file size" in media_error(r)


# -- attaching: X's rules ------------------------------------------------------------------


def test_five_photos_are_refused(api: Api) -> None:
    ids = [api.upload(jpeg(8 + i, 8)).json()["data"]["id"] for i in range(5)]
    r = api.tweet(ids)
    assert r.status_code == 400
    assert media_error(r) == "$.media.media_ids: there must be a maximum of 4 items in the array"
    assert api.tweet(ids[:4]).status_code == 201


def test_photo_and_video_together_are_refused(api: Api) -> None:
    photo = api.upload(jpeg()).json()["data"]["id"]
    video = api.chunked(MP4, "video/mp4", "tweet_video")["id"]
    api.wait(video)
    r = api.tweet([photo, video])
    assert r.status_code == 400 and media_error(r) == "Your media IDs are invalid."
    assert r.json()["errors"][0]["parameters"] == {"media.media_ids": [photo, video]}


def test_expired_media_is_refused(x: XSandbox, api: Api) -> None:
    x.media_ttl = 0.1
    media_id = api.upload(jpeg()).json()["data"]["id"]
    time.sleep(0.15)
    r = api.tweet([media_id])
    assert r.status_code == 400 and media_error(r) == "Your media IDs are invalid."


def test_media_still_processing_is_refused(x: XSandbox, api: Api) -> None:
    x.media_processing_seconds = 30
    final = api.chunked(MP4, "video/mp4", "tweet_video")
    info = api.status(final["id"]).json()["data"]["processing_info"]
    assert info["state"] == "pending" and isinstance(info["check_after_secs"], int)
    r = api.tweet([final["id"]])
    assert r.status_code == 400 and media_error(r) == "Your media IDs are invalid."


def test_someone_elses_media_is_refused(x: XSandbox, api: Api) -> None:
    bob = Api(x, x.create_user("bob"))
    media_id = bob.upload(jpeg()).json()["data"]["id"]
    assert media_error(api.tweet([media_id])) == "Your media IDs are invalid."


def test_wrong_type_by_bytes_is_refused(api: Api) -> None:
    r = api.upload(HEIC)
    assert r.status_code == 400 and media_error(r) == "media type unrecognized."
    r = api.upload(b"\x1a\x45\xdf\xa3" + b"\x00" * 100)  # WebM
    assert r.status_code == 400 and media_error(r) == "media type unrecognized."


def test_size_over_the_limit_is_refused(x: XSandbox, api: Api) -> None:
    x.media_limits["tweet_image"] = 500
    r = api.upload(jpeg())
    assert r.status_code == 400 and media_error(r) == "File size exceeds 500 bytes."
    init = {"media_type": "image/jpeg", "total_bytes": 501, "media_category": "tweet_image"}
    r = api.call("POST", "/2/media/upload/initialize", json=init)
    assert r.status_code == 400 and media_error(r) == "File size exceeds 500 bytes."
    assert x.uploads() == []


# -- control API ---------------------------------------------------------------------------


def test_control_post_with_media_and_http_control(x: XSandbox, alice: XUser, api: Api) -> None:
    post = x.create_post(
        "alice",
        "from the app",
        media=[
            {"type": "photo", "data": jpeg(), "alt_text": "red"},
            {"type": "photo", "data": jpeg(color="blue"), "width": 640, "height": 480},
        ],
    )
    keys = post["attachments"]["media_keys"]
    assert len(keys) == 2 and x.media(keys[0])["alt_text"] == "red"
    assert x.media(keys[1])["width"] == 640 and x.uploads() == []

    item = {"type": "video", "data": base64.b64encode(MP4).decode(), "alt_text": "clip"}
    r = requests.post(
        f"{x.url}/_sandbox/posts",
        json={"username": "alice", "text": "video", "media": [item]},
        timeout=5,
    )
    assert r.status_code == 201
    (key,) = r.json()["attachments"]["media_keys"]
    info = x.media(key)
    assert info["type"] == "video" and info["state"] == "succeeded"
    assert info["path"].read_bytes() == MP4


def test_stop_removes_the_media_directory() -> None:
    server = XSandbox().start()
    try:
        user = server.create_user("carol")
        post = server.create_post("carol", "pic", media=[{"type": "photo", "data": jpeg()}])
        path = server.media(post["attachments"]["media_keys"][0])["path"]
        assert path.exists() and user.id
    finally:
        server.stop()
    assert not path.exists() and not path.parent.exists()


def test_the_media_link_can_be_left_out_of_the_text() -> None:
    with XSandbox(media_link_in_text=False) as server:
        server.create_user("dave")
        post = server.create_post("dave", "plain", media=[{"type": "photo", "data": jpeg()}])
        assert post["text"] == "plain" and "urls" not in post.get("entities", {})


# -- request bodies as the newest openapi.json declares them (2.167) ----------------------

UNDECLARED = "is not defined in the schema and the schema does not allow additional properties"


def invalid(r: requests.Response) -> tuple[dict[str, Any], str]:
    """The parameters and message of X's networknt-style invalid-request body."""
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["title"] == "Invalid Request"
    assert body["detail"] == "One or more parameters to your request was invalid."
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    (error,) = body["errors"]
    return error["parameters"], error["message"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("media_type", "image/jpeg"), ("command", "INIT"), ("shared", "false"), ("alt", "x")],
)
def test_one_shot_refuses_what_its_schema_does_not_declare(
    x: XSandbox, api: Api, name: str, value: str
) -> None:
    files = {"media": ("blob", jpeg(), "application/octet-stream")}
    r = api.call(
        "POST", "/2/media/upload", files=files, data={"media_category": "tweet_image", name: value}
    )
    assert invalid(r) == ({name: [value]}, f"$.{name}: {UNDECLARED}")
    r = api.call(
        "POST",
        "/2/media/upload",
        json={
            "media": base64.b64encode(jpeg()).decode(),
            "media_category": "tweet_image",
            name: value,
        },
    )
    assert invalid(r)[1] == f"$.{name}: {UNDECLARED}"
    assert x.uploads() == []


def test_one_shot_requires_media_and_a_category_from_its_enum(api: Api) -> None:
    files = {"media": ("blob", jpeg(), "application/octet-stream")}
    r = api.call("POST", "/2/media/upload", files=files)
    assert invalid(r) == ({"media_category": []}, "$.media_category: is missing but it is required")
    r = api.call(
        "POST", "/2/media/upload", data={"media_category": "tweet_image"}, files={"x": ("", b"")}
    )
    assert invalid(r)[1] == "$.x: " + UNDECLARED
    r = api.call("POST", "/2/media/upload", json={"media_category": "tweet_image"})
    assert invalid(r)[1] == "$.media: is missing but it is required"
    r = api.upload(jpeg(), category="amplify_video")  # initialize takes it, the one-shot not
    assert invalid(r) == (
        {"media_category": ["amplify_video"]},
        "$.media_category: does not have a value in the enumeration "
        "[tweet_image, tweet_video, tweet_gif, dm_image, dm_video, dm_gif, subtitles]",
    )


def test_initialize_declares_five_properties_and_requires_none(x: XSandbox, api: Api) -> None:
    init = "/2/media/upload/initialize"
    r = api.call("POST", init, json={"media_type": "image/jpeg", "command": "INIT"})
    assert invalid(r) == ({"command": ["INIT"]}, f"$.command: {UNDECLARED}")
    r = api.call("POST", init, json={"total_bytes": "100"})
    assert invalid(r)[1] == "$.total_bytes: string found, integer expected"
    r = api.call("POST", init, json={"total_bytes": 17179869185})
    assert invalid(r)[1] == "$.total_bytes: must have a maximum value of 17179869184"
    r = api.call("POST", init, json={"shared": "yes"})
    assert invalid(r)[1] == "$.shared: string found, boolean expected"
    r = api.call("POST", init, json={"additional_owners": ["12", "bob"]})
    assert invalid(r)[1] == "$.additional_owners[1]: does not match the regex pattern ^[0-9]{1,19}$"
    r = api.call("POST", init, json={"media_category": "tweet_photo"})
    assert invalid(r)[1] == (
        "$.media_category: does not have a value in the enumeration [amplify_video, tweet_gif, "
        "tweet_image, tweet_video, dm_gif, dm_image, dm_video, subtitles]"
    )
    r = api.call("POST", init, json={"media_type": "image/heic"})
    assert "$.media_type: does not have a value in the enumeration [video/mp4," in invalid(r)[1]
    # Nothing is required: the category follows the content type (best-practices.mdx).
    r = api.call("POST", init, json={"media_type": "video/mp4"})
    assert r.status_code == 200 and r.json()["data"]["media_key"].startswith("7_")
    r = api.call("POST", init, json={})
    assert r.status_code == 200 and r.json()["data"]["media_key"].startswith("3_")
    r = api.call("POST", init, json={"media_category": "amplify_video", "shared": False})
    assert r.status_code == 200 and r.json()["data"]["media_key"].startswith("13_")


def test_append_declares_media_and_segment_index_only(api: Api) -> None:
    init = {"media_type": "image/jpeg", "total_bytes": 10, "media_category": "tweet_image"}
    media_id = api.call("POST", "/2/media/upload/initialize", json=init).json()["data"]["id"]
    path = f"/2/media/upload/{media_id}/append"
    chunk = {"media": ("blob", b"0123456789", "application/octet-stream")}
    r = api.call("POST", path, files=chunk, data={"segment_index": "0", "media_id": media_id})
    assert invalid(r) == ({"media_id": [media_id]}, f"$.media_id: {UNDECLARED}")
    r = api.call("POST", path, files=chunk, data={"segment_index": "0", "command": "APPEND"})
    assert invalid(r)[1] == f"$.command: {UNDECLARED}"
    r = api.call("POST", path, files=chunk)
    assert invalid(r)[1] == "$.segment_index: is missing but it is required"
    r = api.call("POST", path, files=chunk, data={"segment_index": "1000"})
    assert invalid(r)[1] == "$.segment_index: must have a maximum value of 999"
    r = api.call(
        "POST", path, json={"media": base64.b64encode(b"x").decode(), "segment_index": "0"}
    )
    assert invalid(r)[1] == "$.segment_index: string found, integer expected"
    r = api.call("POST", "/2/media/upload/abc/append", files=chunk, data={"segment_index": "0"})
    assert invalid(r)[1] == "The `id` query parameter value [abc] is not valid"
    r = api.call(
        "POST", path, json={"media": base64.b64encode(b"0123456789").decode(), "segment_index": 0}
    )
    assert r.status_code == 200 and isinstance(r.json()["data"]["expires_at"], int)


@pytest.mark.parametrize("reply", ["204", "200"])
def test_append_can_answer_with_an_empty_body(x: XSandbox, api: Api, reply: str) -> None:
    x.media_append_reply = reply
    init = {"media_type": "image/jpeg", "total_bytes": 10, "media_category": "tweet_image"}
    media_id = api.call("POST", "/2/media/upload/initialize", json=init).json()["data"]["id"]
    chunk = {"media": ("blob", b"0123456789", "application/octet-stream")}
    r = api.call(
        "POST", f"/2/media/upload/{media_id}/append", files=chunk, data={"segment_index": "0"}
    )
    assert r.status_code == int(reply) and r.content == b""


def test_the_command_form_of_the_quickstart_is_refused(api: Api) -> None:
    """The chunked quickstart's cURL still shows command=INIT on POST /2/media/upload; the
    newest schema of that operation does not declare `command` (nor `media_type`)."""
    fields = {"command": "INIT", "media_type": "video/mp4", "total_bytes": "100"}
    chunk = {"media": ("blob", b"0123456789", "application/octet-stream")}
    r = api.call("POST", "/2/media/upload", files=chunk, data=fields)
    assert invalid(r)[1] == f"$.command: {UNDECLARED}"


def test_status_command_is_optional_and_only_status(api: Api) -> None:
    final = api.chunked(gif(), "image/gif", "tweet_gif", chunk=200)
    r = api.call("GET", "/2/media/upload", params={"media_id": final["id"]})
    assert r.status_code == 200 and r.json()["data"]["processing_info"]["state"]
    r = api.call("GET", "/2/media/upload", params={"media_id": final["id"], "command": "INIT"})
    assert invalid(r)[1] == "The `command` query parameter value [INIT] is not one of [STATUS]"
    r = api.call("GET", "/2/media/upload", params={"command": "STATUS"})
    assert invalid(r)[1] == "The `media_id` query parameter can not be empty"


def test_metadata_id_is_a_string_and_other_properties_pass(api: Api) -> None:
    media_id = api.upload(jpeg()).json()["data"]["id"]
    r = api.call("POST", "/2/media/metadata", json={"id": int(media_id)})
    assert invalid(r)[1] == "$.id: integer found, string expected"
    r = api.call("POST", "/2/media/metadata", json={"id": "m1"})
    assert invalid(r)[1] == "$.id: does not match the regex pattern ^[0-9]{1,19}$"
    # CreateMediaMetadataRequest has no additionalProperties rule
    body = {"id": media_id, "metadata": {"alt_text": {"text": "ok"}}, "extra": 1}
    assert api.call("POST", "/2/media/metadata", json=body).status_code == 200


# -- processing checks the file's real properties (best-practices.mdx) --------------------

FIXTURES = Path(__file__).parents[1] / "fixtures"


def processed(api: Api, data: bytes, media_type: str, category: str) -> dict[str, Any]:
    """The last STATUS of a chunked upload."""
    final = api.chunked(data, media_type, category)
    api.wait(final["id"])
    return api.status(final["id"]).json()["data"]


def test_a_video_is_known_by_its_real_size_and_length(x: XSandbox, api: Api) -> None:
    data = (FIXTURES / "tiny.mp4").read_bytes()  # 96x64, 1 s
    status = processed(api, data, "video/mp4", "tweet_video")
    assert status["processing_info"]["state"] == "succeeded"
    stored = x.media(status["id"])
    assert (stored["width"], stored["height"]) == (96, 64)
    tweet_id = api.tweet([status["id"]]).json()["data"]["id"]
    got = api.client.get_tweet(
        tweet_id,
        expansions=["attachments.media_keys"],
        media_fields=["duration_ms", "width", "height"],
        user_auth=True,
    )
    (media,) = got.includes["media"]
    assert (media.width, media.height) == (96, 64)
    assert 900 <= media.duration_ms <= 1100


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        (
            {"seconds": 150.2},
            "Duration 2.minutes+30.seconds+200.milliseconds exceeds max duration of "
            "2.minutes+20.seconds",
        ),
        (
            {"seconds": 0.3},
            "Duration 300.milliseconds is less than min duration of 500.milliseconds",
        ),
        (
            {"size": (1920, 1080)},
            "Unsupported video dimensions 1920x1080: must be between 32x32 and 1280x1024",
        ),
        (
            {"size": (720, 1280)},
            "Unsupported video dimensions 720x1280: must be between 32x32 and 1280x1024",
        ),
        (
            {"size": (16, 16)},
            "Unsupported video dimensions 16x16: must be between 32x32 and 1280x1024",
        ),
        ({"size": (1200, 100)}, "Unsupported aspect ratio 1200:100: must be between 1:3 and 3:1"),
        ({"fps": 120}, "Frame rate 120.00 exceeds max frame rate of 60"),
        ({"pixel_aspect": (4, 3)}, "Unsupported pixel aspect ratio 4:3: must be 1:1"),
        ({"sps": SPS_HIGH_444}, "Unsupported pixel format yuv444p: only YUV 4:2:0"),
    ],
)
def test_a_video_breaking_a_rule_fails_processing(
    api: Api, boxes: dict[str, Any], message: str
) -> None:
    status = processed(api, mp4_bytes(**boxes), "video/mp4", "tweet_video")
    info = status["processing_info"]
    assert info["state"] == "failed"
    assert info["error"] == {"code": 3, "name": "UnsupportedMedia", "message": message}
    assert media_error(api.tweet([status["id"]])) == "Your media IDs are invalid."


@pytest.mark.parametrize(
    "boxes",
    [
        {"seconds": 140, "fps": 60, "size": (1280, 1024)},
        {"seconds": 0.5, "size": (32, 96)},  # 1:3 exactly
        {"version": 1, "moov_last": True, "large_mdat": True, "brand": b"qt  "},
    ],
)
def test_a_video_at_the_limits_is_taken(api: Api, boxes: dict[str, Any]) -> None:
    media_type = "video/quicktime" if boxes.get("brand") == b"qt  " else "video/mp4"
    status = processed(api, mp4_bytes(**boxes), media_type, "tweet_video")
    assert status["processing_info"]["state"] == "succeeded"


def test_an_mp4_without_a_movie_box_is_unsupported(api: Api) -> None:
    data = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 4_000
    info = processed(api, data, "video/mp4", "tweet_video")["processing_info"]
    assert info["error"] == {
        "code": 3,
        "name": "UnsupportedMedia",
        "message": "file is currently unsupported",
    }


@pytest.mark.parametrize(
    ("size", "frames", "message"),
    [
        ((1300, 100), 3, "GIF dimensions 1300x100 exceed max dimensions of 1280x1080"),
        ((40, 30), 351, "GIF has 351 frames, more than the max of 350"),
        (
            (1280, 1000),
            240,
            "GIF has 307200000 pixels (width * height * frames), more than the max of 300000000",
        ),
    ],
)
def test_a_gif_breaking_a_rule_fails_processing(
    api: Api, size: tuple[int, int], frames: int, message: str
) -> None:
    info = processed(api, gif_bytes(size, frames), "image/gif", "tweet_gif")["processing_info"]
    assert info["state"] == "failed" and info["error"]["message"] == message


def test_a_gif_within_the_rules_is_taken(x: XSandbox, api: Api) -> None:
    status = processed(api, gif_bytes((1280, 1080), 350 // 2), "image/gif", "tweet_gif")
    assert status["processing_info"]["state"] == "succeeded"
    assert (x.media(status["id"])["width"], x.media(status["id"])["height"]) == (1280, 1080)


@pytest.mark.parametrize(
    ("data", "media_type", "category"),
    [
        (gif_bytes(), "image/gif", "tweet_video"),
        (MP4, "video/mp4", "tweet_gif"),
        (jpeg(), "image/jpeg", "tweet_gif"),
    ],
)
def test_a_category_that_does_not_match_the_file_fails(
    api: Api, data: bytes, media_type: str, category: str
) -> None:
    info = processed(api, data, media_type, category)["processing_info"]
    assert info["state"] == "failed" and info["error"]["name"] == "InvalidMedia"


@needs_ffmpeg
@pytest.mark.parametrize(
    ("video", "taken"),
    [
        ({"size": (64, 48), "fps": 60}, True),
        ({"size": (64, 48), "fps": 90}, False),
        ({"size": (1920, 1080), "fps": 5, "seconds": 0.6}, False),
        ({"size": (64, 48), "pix_fmt": "yuv444p"}, False),
        ({"size": (32, 32), "fps": 1, "seconds": 141}, False),
    ],
)
def test_real_videos_made_by_ffmpeg(
    api: Api, tmp_path: Path, video: dict[str, Any], taken: bool
) -> None:
    data = make_video(tmp_path / "v.mp4", **video).read_bytes()
    info = processed(api, data, "video/mp4", "tweet_video")["processing_info"]
    assert info["state"] == ("succeeded" if taken else "failed"), info
