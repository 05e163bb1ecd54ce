"""The Mastodon sandbox keeps the real API's contract, checked over real HTTP with Mastodon.py.

Expected bodies and codes come from mastodon/mastodon (named next to each assertion) so the
bridge tested against the sandbox also works against a real instance.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonBadGatewayError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
)

from birdbridge.sandbox.mastodon import MastodonSandbox, MastodonUser, countable_length

_names = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[MastodonSandbox]:
    # One server for the module: stopping one waits for its 0.5 s poll loop.
    with MastodonSandbox() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(sandbox: MastodonSandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()
    sandbox.set_rate_limit(300, 300)


def new_user(sandbox: MastodonSandbox, prefix: str = "user", **kw: object) -> MastodonUser:
    return sandbox.create_user(f"{prefix}{next(_names)}", **kw)  # type: ignore[arg-type]


def client(sandbox: MastodonSandbox, user: MastodonUser, timeout: float = 5) -> Mastodon:
    return Mastodon(
        access_token=user.access_token,
        api_base_url=sandbox.url,
        ratelimit_method="throw",
        request_timeout=timeout,
    )


def auth(user: MastodonUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.access_token}"}


# -- accounts and instance -------------------------------------------------------------------


def test_verify_credentials_and_account(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox, display_name="Alice A.")
    me = client(sandbox, user).account_verify_credentials()
    assert (me.id, me.username, me.acct, me.display_name) == (
        user.id,
        user.username,
        user.username,
        "Alice A.",
    )
    assert me.url == f"https://sandbox.example/@{user.username}"
    assert me.source.privacy == "public"
    raw = requests.get(f"{sandbox.url}/api/v1/accounts/{user.id}", timeout=5).json()
    assert raw["id"] == user.id and "source" not in raw
    assert raw["created_at"].endswith("T00:00:00.000Z")


def test_instance_v1_and_v2(sandbox: MastodonSandbox) -> None:
    api = client(sandbox, new_user(sandbox))
    info = api.instance()  # fetches /api/v1/instance/ and /api/v2/instance/ first
    assert info.version == "4.3.0"
    assert info.configuration.statuses.max_characters == 500
    v1 = requests.get(f"{sandbox.url}/api/v1/instance/", timeout=5).json()
    assert v1["uri"] == "sandbox.example" and v1["version"] == "4.3.0"
    assert v1["configuration"]["statuses"]["characters_reserved_per_url"] == 23
    assert "max_toot_chars" not in v1
    v2 = requests.get(f"{sandbox.url}/api/v2/instance", timeout=5).json()
    assert v2["domain"] == "sandbox.example"
    assert v2["api_versions"] == {"mastodon": 2}
    assert v2["configuration"]["statuses"] == {
        "max_characters": 500,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    assert "image/png" in v2["configuration"]["media_attachments"]["supported_mime_types"]
    assert v2["configuration"]["urls"]["streaming"].startswith("ws://127.0.0.1:")


def test_bad_token_is_401(sandbox: MastodonSandbox) -> None:
    bad = Mastodon(access_token="nope", api_base_url=sandbox.url, request_timeout=5)
    with pytest.raises(MastodonUnauthorizedError):
        bad.account_verify_credentials()
    r = requests.post(
        f"{sandbox.url}/api/v1/statuses", data={"status": "hi"}, timeout=5
    )  # no token at all
    assert r.status_code == 401
    assert r.json() == {"error": "The access token is invalid"}


# -- posting and reading ---------------------------------------------------------------------


def test_status_post_shape(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    status = client(sandbox, user).status_post("hello", visibility="unlisted", language="en")
    raw = requests.get(f"{sandbox.url}/api/v1/statuses/{status.id}", headers=auth(user), timeout=5)
    body = raw.json()
    assert re.fullmatch(r"\d+", body["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["created_at"])
    assert body["url"] == f"https://sandbox.example/@{user.username}/{body['id']}"
    assert body["uri"] == f"https://sandbox.example/users/{user.username}/statuses/{body['id']}"
    assert body["content"] == "<p>hello</p>"
    assert body["visibility"] == "unlisted"
    assert body["account"]["id"] == user.id
    assert body["reblog"] is None and body["poll"] is None and body["card"] is None
    assert body["edited_at"] is None and body["media_attachments"] == []
    assert body["application"]["name"]
    assert body["in_reply_to_id"] is None and body["language"] == "en"


def test_paging_max_since_min_and_link(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    ids = [int(api.status_post(f"post {i}").id) for i in range(50)]
    assert ids == sorted(ids)  # snowflake-like: they increase with time

    first = api.account_statuses(user.id, limit=40)
    assert [int(s.id) for s in first] == ids[::-1][:40]  # newest first
    second = api.fetch_next(first)
    assert [int(s.id) for s in second] == ids[::-1][40:]
    assert [int(s.id) for s in api.account_statuses(user.id, limit=100)] == ids[::-1][:40]
    assert len(api.account_statuses(user.id)) == 20  # default limit

    since = api.account_statuses(user.id, since_id=ids[44], limit=40)
    assert [int(s.id) for s in since] == ids[45:][::-1]
    # since_id gives the newest page; min_id the page right after it, still newest first
    newest = api.account_statuses(user.id, since_id=ids[4], limit=5)
    assert [int(s.id) for s in newest] == ids[45:][::-1]
    after = api.account_statuses(user.id, min_id=ids[4], limit=5)
    assert [int(s.id) for s in after] == ids[5:10][::-1]
    window = api.account_statuses(user.id, min_id=ids[4], max_id=ids[8], limit=40)
    assert [int(s.id) for s in window] == ids[5:8][::-1]

    r = requests.get(
        f"{sandbox.url}/api/v1/accounts/{user.id}/statuses",
        params={"limit": 5, "exclude_replies": "true"},
        timeout=5,
    )
    links = requests.utils.parse_header_links(r.headers["Link"])
    by_rel = {link["rel"]: link["url"] for link in links}
    assert f"max_id={r.json()[-1]['id']}" in by_rel["next"]
    assert f"min_id={r.json()[0]['id']}" in by_rel["prev"]
    assert "limit=5" in by_rel["next"] and "exclude_replies=true" in by_rel["next"]
    assert requests.get(by_rel["next"], timeout=5).json()[0]["id"] == str(ids[44])
    # a short last page has no next link
    r = requests.get(
        f"{sandbox.url}/api/v1/accounts/{user.id}/statuses",
        params={"limit": 40, "max_id": ids[10]},
        timeout=5,
    )
    assert 'rel="next"' not in r.headers["Link"] and 'rel="prev"' in r.headers["Link"]


def test_exclude_replies_keeps_self_replies(sandbox: MastodonSandbox) -> None:
    me, other = new_user(sandbox), new_user(sandbox)
    api = client(sandbox, me)
    root = api.status_post("thread 1/2")
    own = api.status_post("thread 2/2", in_reply_to_id=root.id)
    theirs = sandbox.create_post(other.username, "their post")
    to_other = api.status_post("reply to other", in_reply_to_id=theirs["id"])
    # a self-reply under a reply to someone else carries that someone (Status model)
    under = api.status_post("more", in_reply_to_id=to_other.id)
    assert own.in_reply_to_account_id == me.id
    assert to_other.in_reply_to_account_id == other.id
    assert under.in_reply_to_account_id == other.id
    ids = [s.id for s in api.account_statuses(me.id, exclude_replies=True)]
    assert ids == [own.id, root.id]
    assert len(api.account_statuses(me.id, exclude_replies=False)) == 4


def test_reblogs_and_exclude_reblogs(sandbox: MastodonSandbox) -> None:
    me, other = new_user(sandbox), new_user(sandbox)
    original = sandbox.create_post(other.username, "boost me")
    boost = sandbox.create_post(me.username, "", reblog_of=original["id"])
    assert boost["reblog"]["id"] == original["id"] and boost["content"] == ""
    api = client(sandbox, me)
    assert [s.id for s in api.account_statuses(me.id)] == [boost["id"]]
    assert list(api.account_statuses(me.id, exclude_reblogs=True)) == []


def test_visibility_hiding_for_other_tokens(sandbox: MastodonSandbox) -> None:
    owner, stranger = new_user(sandbox), new_user(sandbox)
    for vis in ("public", "unlisted", "private", "direct"):
        sandbox.create_post(owner.username, f"a {vis} post", visibility=vis)
    seen_by_owner = client(sandbox, owner).account_statuses(owner.id)
    seen_by_other = client(sandbox, stranger).account_statuses(owner.id)
    anonymous = requests.get(f"{sandbox.url}/api/v1/accounts/{owner.id}/statuses", timeout=5)
    assert {s.visibility for s in seen_by_owner} == {"public", "unlisted", "private", "direct"}
    assert {s.visibility for s in seen_by_other} == {"public", "unlisted"}
    assert {s["visibility"] for s in anonymous.json()} == {"public", "unlisted"}
    private_id = next(s.id for s in seen_by_owner if s.visibility == "private")
    with pytest.raises(MastodonNotFoundError):
        client(sandbox, stranger).status(private_id)
    r = requests.get(f"{sandbox.url}/api/v1/statuses/{private_id}", timeout=5)
    assert (r.status_code, r.json()) == (404, {"error": "Record not found"})


def test_content_html(sandbox: MastodonSandbox) -> None:
    author, friend = new_user(sandbox), new_user(sandbox)
    url = "https://example.com/a/very/long/path/that/goes/on?x=1&y=2"
    text = (
        f"Hi @{friend.username} & <you>\n\nsecond line one\nline two {url}\n\n"
        "short https://example.com/x #Birds @ghost@elsewhere.social"
    )
    status = client(sandbox, author).status_post(text)
    f = friend.username
    assert status.content == (
        "<p>Hi "
        f'<span class="h-card" translate="no"><a href="https://sandbox.example/@{f}"'
        f' class="u-url mention">@<span>{f}</span></a></span> &amp; &lt;you&gt;</p>'
        "<p>second line one<br />line two "
        '<a href="https://example.com/a/very/long/path/that/goes/on?x=1&amp;y=2"'
        ' target="_blank" rel="nofollow noopener" translate="no">'
        '<span class="invisible">https://</span>'
        '<span class="ellipsis">example.com/a/very/long/path/t</span>'
        '<span class="invisible">hat/goes/on?x=1&amp;y=2</span></a></p>'
        '<p>short <a href="https://example.com/x" target="_blank" rel="nofollow noopener"'
        ' translate="no"><span class="invisible">https://</span>'
        '<span class="">example.com/x</span><span class="invisible"></span></a> '
        '<a href="https://sandbox.example/tags/Birds" class="mention hashtag" rel="tag">'
        "#<span>Birds</span></a> @ghost@elsewhere.social</p>"
    )
    assert [(m.id, m.username, m.acct) for m in status.mentions] == [(friend.id, f, f)]
    assert [t.name for t in status.tags] == ["birds"]


# -- validation --------------------------------------------------------------------------------


def test_length_validation(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    url = "https://example.com/" + "a" * 200  # counts 23
    exactly = url + " " + "b" * (500 - 24)
    assert countable_length(exactly) == 500
    assert api.status_post(exactly).id
    assert countable_length("@someone@far.away.example") == len("@someone")
    assert countable_length("👩‍👩‍👧‍👦") == 1  # one grapheme cluster
    r = requests.post(
        f"{sandbox.url}/api/v1/statuses", data={"status": "x" * 501}, headers=auth(user), timeout=5
    )
    # StatusLengthValidator + statuses.over_character_limit, wrapped by RecordInvalid
    assert r.status_code == 422
    assert r.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}
    # the CW counts too
    r = requests.post(
        f"{sandbox.url}/api/v1/statuses",
        data={"status": "x" * 490, "spoiler_text": "y" * 11},
        headers=auth(user),
        timeout=5,
    )
    assert r.status_code == 422
    with pytest.raises(MastodonAPIError) as err:
        api.status_post("")
    assert err.value.args[1] == 422
    assert err.value.args[3] == "Validation failed: Text can't be blank"


def test_custom_max_characters() -> None:
    with MastodonSandbox(max_characters=20) as small:
        user = small.create_user("tiny")
        api = client(small, user)
        assert api.instance().configuration.statuses.max_characters == 20
        api.status_post("x" * 20)
        with pytest.raises(MastodonAPIError) as err:
            api.status_post("x" * 21)
        assert err.value.args[3] == "Validation failed: Text character limit of 20 exceeded"


def test_other_post_errors(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    post = f"{sandbox.url}/api/v1/statuses"
    r = requests.post(
        post, data={"status": "x", "visibility": "world"}, headers=auth(user), timeout=5
    )
    assert r.status_code == 422
    assert r.json() == {"error": "Validation failed: Visibility is not included in the list"}
    r = requests.post(
        post, data={"status": "x", "in_reply_to_id": "1"}, headers=auth(user), timeout=5
    )
    assert r.status_code == 404
    assert r.json() == {"error": "The post you are trying to reply to does not appear to exist."}
    # JSON bodies work as well as forms
    r = requests.post(post, json={"status": "json body", "sensitive": True}, headers=auth(user))
    assert r.status_code == 200 and r.json()["sensitive"] is True
    # a CW without text becomes the text, still sensitive (PostStatusService)
    r = requests.post(post, data={"spoiler_text": "cw only"}, headers=auth(user), timeout=5)
    assert (r.json()["content"], r.json()["spoiler_text"], r.json()["sensitive"]) == (
        "<p>cw only</p>",
        "",
        True,
    )


def test_idempotency_key(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    first = api.status_post("once", idempotency_key="key-1")
    again = api.status_post("once", idempotency_key="key-1")
    assert again.id == first.id
    assert [p["id"] for p in sandbox.posts(user.username)] == [first.id]
    other = api.status_post("once", idempotency_key="key-2")
    assert other.id != first.id
    # keys are per account
    someone = new_user(sandbox)
    assert client(sandbox, someone).status_post("once", idempotency_key="key-1").id != first.id


# -- edit, delete, source, context -------------------------------------------------------------


def test_edit_source_and_delete(sandbox: MastodonSandbox) -> None:
    user, other = new_user(sandbox), new_user(sandbox)
    api = client(sandbox, user)
    status = api.status_post("first version")
    edited = api.status_update(status.id, "second version", spoiler_text="cw")
    assert edited.id == status.id and edited.content == "<p>second version</p>"
    assert edited.edited_at is not None and edited.spoiler_text == "cw" and edited.sensitive
    source = api.status_source(status.id)
    assert (source.text, source.spoiler_text) == ("second version", "cw")
    with pytest.raises(MastodonNotFoundError):
        client(sandbox, other).status_update(status.id, "hijack")
    with pytest.raises(MastodonNotFoundError):
        client(sandbox, other).status_delete(status.id)
    r = requests.delete(f"{sandbox.url}/api/v1/statuses/{status.id}", headers=auth(user))
    assert r.status_code == 200 and r.json()["text"] == "second version"
    assert r.json()["id"] == status.id
    with pytest.raises(MastodonNotFoundError):
        api.status(status.id)
    assert sandbox.get_post(status.id) is None
    rows = sandbox.posts(user.username, include_deleted=True)
    assert rows[-1]["id"] == status.id and rows[-1]["deleted"] is True


def test_context(sandbox: MastodonSandbox) -> None:
    user, other = new_user(sandbox), new_user(sandbox)
    api = client(sandbox, user)
    root = api.status_post("root")
    middle = api.status_post("middle", in_reply_to_id=root.id)
    leaf = sandbox.create_post(other.username, "leaf", in_reply_to_id=middle.id)
    context = api.status_context(middle.id)
    assert [s.id for s in context.ancestors] == [root.id]
    assert [s.id for s in context.descendants] == [leaf["id"]]
    assert api.status(root.id).replies_count == 1
    branch = api.status_post("second branch", in_reply_to_id=root.id)
    # depth first, oldest reply first (Status::ThreadingConcern)
    assert [s.id for s in api.status_context(root.id).descendants] == [
        middle.id,
        leaf["id"],
        branch.id,
    ]


# -- rate limits -------------------------------------------------------------------------------


def test_rate_limit_headers_and_429(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    r = requests.get(f"{sandbox.url}/api/v1/accounts/verify_credentials", headers=auth(user))
    assert r.headers["X-RateLimit-Limit"] == "300"
    assert int(r.headers["X-RateLimit-Remaining"]) < 300
    reset = datetime.strptime(r.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = datetime.now(UTC).replace(tzinfo=None)
    assert now < reset <= now + timedelta(seconds=301)

    sandbox.set_rate_limit(3, 300)
    api = client(sandbox, user)
    api.account_verify_credentials()
    api.account_verify_credentials()
    api.account_verify_credentials()
    assert api.ratelimit_remaining == 0
    with pytest.raises(MastodonRatelimitError):
        api.account_verify_credentials()
    r = requests.get(f"{sandbox.url}/api/v1/accounts/verify_credentials", headers=auth(user))
    assert (r.status_code, r.json()) == (429, {"error": "Too many requests"})
    assert r.headers["X-RateLimit-Remaining"] == "0"
    # per token: someone else is not limited
    assert client(sandbox, new_user(sandbox)).account_verify_credentials()


# -- faults ------------------------------------------------------------------------------------


def test_fault_status_rate_limit_html(sandbox: MastodonSandbox) -> None:
    api = client(sandbox, new_user(sandbox))
    sandbox.add_fault(kind="status", path=r"^/api/v1/statuses$", method="POST", status=503)
    with pytest.raises(MastodonServiceUnavailableError):
        api.status_post("a")
    sandbox.add_fault(kind="rate_limit", path=r"^/api/v1/statuses$", method="POST", reset_in=30)
    r = requests.post(
        f"{sandbox.url}/api/v1/statuses", data={"status": "b"}, headers=auth(api_user(api))
    )
    assert r.status_code == 429 and r.json() == {"error": "Too many requests"}
    assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Reset"]
    sandbox.add_fault(kind="rate_limit", path=r"^/api/v1/statuses$", method="POST")
    with pytest.raises(MastodonRatelimitError):
        api.status_post("c")
    sandbox.add_fault(kind="html", path=r"^/api/v1/statuses$", method="POST")
    with pytest.raises(MastodonBadGatewayError):
        api.status_post("d")
    assert api.status_post("e").content == "<p>e</p>"  # faults were one-shot


def api_user(api: Mastodon) -> MastodonUser:
    class _Token:
        access_token = api.access_token

    return _Token  # type: ignore[return-value]


def test_fault_malformed_empty_drop_timeout(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    sandbox.add_fault(kind="malformed", path=r"^/api/v1/statuses$", method="POST")
    with pytest.raises(MastodonAPIError, match="Could not parse"):
        api.status_post("a")
    sandbox.add_fault(kind="empty", path=r"^/api/v1/statuses$", method="POST")
    with pytest.raises(MastodonAPIError, match="Could not parse"):
        api.status_post("b")
    sandbox.add_fault(kind="drop", path=r"^/api/v1/statuses$", method="POST")
    with pytest.raises(MastodonNetworkError):
        api.status_post("c")
    sandbox.add_fault(kind="timeout", path=r"^/api/v1/statuses$", method="POST", delay=1.0)
    with pytest.raises(MastodonNetworkError):
        client(sandbox, user, timeout=0.3).status_post("d")
    assert sandbox.posts(user.username) == []  # none of these ran the handler


def test_drop_after_commit_then_retry_with_same_key(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    sandbox.add_fault(kind="drop_after_commit", path=r"^/api/v1/statuses$", method="POST")
    with pytest.raises(MastodonNetworkError):
        api.status_post("exactly once", idempotency_key="delivery-42")
    committed = sandbox.posts(user.username)
    assert [p["content"] for p in committed] == ["<p>exactly once</p>"]
    retried = api.status_post("exactly once", idempotency_key="delivery-42")
    assert retried.id == committed[0]["id"]
    assert len(sandbox.posts(user.username)) == 1
    logged = sandbox.api_requests("POST", r"^/api/v1/statuses$")
    assert [r.fault for r in logged[-2:]] == ["drop_after_commit", None]


# -- control API -------------------------------------------------------------------------------


def test_control_api(sandbox: MastodonSandbox) -> None:
    base = f"{sandbox.url}/_sandbox"
    user = requests.post(f"{base}/users", json={"username": "ctl", "locked": True}).json()
    assert user["username"] == "ctl" and user["locked"] is True and user["access_token"]
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    old = sandbox.create_post("ctl", "old one", created_at=when)
    assert old["created_at"] == "2024-05-01T12:00:00.000Z"
    made = requests.post(
        f"{base}/posts", json={"username": "ctl", "text": "hi", "visibility": "private"}
    ).json()
    assert made["visibility"] == "private" and int(made["id"]) > int(old["id"])
    assert requests.delete(f"{base}/posts/{made['id']}").status_code == 200
    rows = requests.get(f"{base}/posts", params={"username": "ctl"}).json()
    assert [r["id"] for r in rows] == [old["id"]]
    rows = requests.get(f"{base}/posts", params={"username": "ctl", "include_deleted": 1}).json()
    assert [(r["id"], r["deleted"]) for r in rows] == [(old["id"], False), (made["id"], True)]
