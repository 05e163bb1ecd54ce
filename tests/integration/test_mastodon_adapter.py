"""MastodonNetwork against the Mastodon sandbox over real HTTP, through the real Mastodon.py:
identity, instance limits, reading with cursors and paging, HTML -> text, publishing with the
Idempotency-Key, reply fallback, recovery search, deletes, and the mapping of failures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stamina

from birdbridge.config import MastodonConfig
from birdbridge.errors import (
    AuthRevoked,
    BirdbridgeError,
    Permanent,
    RateLimited,
    Transient,
)
from birdbridge.models import NetworkName, OutgoingPart, Visibility
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.sandbox.mastodon import MastodonSandbox, MastodonUser

STATUSES = r"^/api/v1/accounts/[^/]+/statuses$"


@pytest.fixture(autouse=True)
def single_attempts() -> Iterator[None]:
    """These tests check how ONE reply maps to an error: stamina's test mode turns the
    adapters' quick read retries off (test_engine.py checks the retries themselves)."""
    stamina.set_testing(True, attempts=1)
    yield
    stamina.set_testing(False)


def network_for(
    m: MastodonSandbox, user: MastodonUser, timeout: float = 5, token: str | None = None
) -> MastodonNetwork:
    config = MastodonConfig(api_base_url=m.url, access_token=token or user.access_token)
    return MastodonNetwork(config, timeout=timeout)


@pytest.fixture
def alice(mastodon_sandbox: MastodonSandbox) -> MastodonUser:
    return mastodon_sandbox.create_user("alice", "Alice")


@pytest.fixture
def bob(mastodon_sandbox: MastodonSandbox) -> MastodonUser:
    return mastodon_sandbox.create_user("bob", "Bob")


@pytest.fixture
def net(mastodon_sandbox: MastodonSandbox, alice: MastodonUser) -> MastodonNetwork:
    return network_for(mastodon_sandbox, alice)


def toot(m: MastodonSandbox, user: MastodonUser, text: str, **kwargs: Any) -> str:
    return str(m.create_post(user.username, text, **kwargs)["id"])


def fresh_cursor(net: MastodonNetwork) -> str:
    cursor = net.fetch_since(None).cursor
    assert cursor is not None
    return cursor


# -- identity and limits -------------------------------------------------------------------


def test_account_id_handle_and_cache(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork
) -> None:
    account = net.account()
    assert account.network is NetworkName.MASTODON
    assert account.id == alice.id
    assert account.handle.startswith("@alice@")
    assert account.handle.count("@") == 2
    assert account.url == f"https://{mastodon_sandbox.domain}/@alice"
    assert account.protected is False
    assert net.account() is account
    assert len(mastodon_sandbox.api_requests("GET", "verify_credentials")) == 1


def test_account_handle_uses_the_instance_domain(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    assert net.account().handle == f"@alice@{mastodon_sandbox.domain}"


def test_locked_account_is_protected(mastodon_sandbox: MastodonSandbox) -> None:
    carol = mastodon_sandbox.create_user("carol", "Carol", locked=True)
    assert network_for(mastodon_sandbox, carol).account().protected is True


def test_limits_read_max_characters_from_the_instance() -> None:
    with MastodonSandbox(max_characters=1000) as m:
        user = m.create_user("alice")
        net = network_for(m, user)
        limits = net.limits()
        assert limits.max_characters == 1000
        assert net.limits() is limits
        assert len(m.api_requests("GET", r"^/api/v\d/instance$")) == 1
        count = limits.counter
        assert count("a" * 10) == 10
        assert count("see https://example.com/" + "x" * 100) == len("see ") + 23
        assert count("@bob@remote.example hi") == len("@bob hi")  # remote domain is free


def test_limits_default_instance_is_500(net: MastodonNetwork) -> None:
    assert net.limits().max_characters == 500


# -- reading -------------------------------------------------------------------------------


def test_first_poll_returns_no_posts_and_the_newest_id(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork
) -> None:
    ids = [toot(mastodon_sandbox, alice, f"old {i}") for i in range(3)]
    result = net.fetch_since(None)
    assert result.posts == []
    assert result.cursor == ids[-1]


def test_first_poll_on_empty_account_gives_a_time_cursor_that_catches_the_next_post(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork
) -> None:
    first = net.fetch_since(None)
    assert first.posts == []
    assert first.cursor is not None
    time.sleep(0.005)  # created_at is sent with millisecond precision
    new_id = toot(mastodon_sandbox, alice, "my very first toot")
    second = net.fetch_since(first.cursor)
    assert [p.id for p in second.posts] == [new_id]
    assert second.posts[0].text == "my very first toot"
    assert second.cursor == new_id
    third = net.fetch_since(second.cursor)
    assert third.posts == []
    assert third.cursor == new_id


def test_fetch_since_cursor_returns_only_newer_posts_oldest_first(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork
) -> None:
    for i in range(3):
        toot(mastodon_sandbox, alice, f"old {i}")
    cursor = fresh_cursor(net)
    new_ids = [toot(mastodon_sandbox, alice, f"new {i}") for i in range(3)]
    result = net.fetch_since(cursor)
    assert [p.id for p in result.posts] == new_ids
    assert [p.text for p in result.posts] == ["new 0", "new 1", "new 2"]
    assert all(p.author_id == alice.id for p in result.posts)
    assert result.cursor == new_ids[-1]
    again = net.fetch_since(result.cursor)
    assert again.posts == []
    assert again.cursor == new_ids[-1]


def test_95_new_statuses_come_back_complete_and_oldest_first(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork
) -> None:
    toot(mastodon_sandbox, alice, "before")
    cursor = fresh_cursor(net)
    new_ids = [toot(mastodon_sandbox, alice, f"status {i}") for i in range(95)]
    before = len(mastodon_sandbox.api_requests("GET", STATUSES))
    result = net.fetch_since(cursor)
    assert [p.id for p in result.posts] == new_ids
    assert [p.text for p in result.posts] == [f"status {i}" for i in range(95)]
    assert result.cursor == new_ids[-1]
    calls = mastodon_sandbox.api_requests("GET", STATUSES)[before:]
    assert len(calls) == 3  # 40 + 40 + 15
    assert all(c.query.get("since_id") == [cursor] for c in calls)
    assert "max_id" not in calls[0].query
    assert all("max_id" in c.query for c in calls[1:])
    assert all(int(c.query["limit"][0]) <= 40 for c in calls)


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
def test_visibility_mapping(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork, visibility: str
) -> None:
    cursor = fresh_cursor(net)
    toot(mastodon_sandbox, alice, f"a {visibility} status", visibility=visibility)
    (only,) = net.fetch_since(cursor).posts
    assert only.visibility is Visibility(visibility)


def test_html_becomes_plain_text(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork
) -> None:
    url = "https://example.com/a/very/long/path/that/mastodon/shortens?x=1&y=2"
    text = f"Fish & chips <3 > all\nsecond line\n\nnew paragraph {url} #tag end"
    cursor = fresh_cursor(net)
    toot(mastodon_sandbox, alice, text)
    html = mastodon_sandbox.posts("alice")[-1]["content"]
    assert "<br />" in html and "</p><p>" in html and "ellipsis" in html and "&amp;" in html
    (only,) = net.fetch_since(cursor).posts
    assert only.text == text


def test_local_mention_carries_a_domain(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, bob: MastodonUser, net: MastodonNetwork
) -> None:
    cursor = fresh_cursor(net)
    toot(mastodon_sandbox, alice, "hello @bob how are you")
    (only,) = net.fetch_since(cursor).posts
    assert only.text.startswith("hello @bob@")
    assert only.text.endswith(" how are you")


def test_local_mention_comes_back_as_user_at_instance_domain(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, bob: MastodonUser, net: MastodonNetwork
) -> None:
    cursor = fresh_cursor(net)
    toot(mastodon_sandbox, alice, "hello @bob how are you")
    (only,) = net.fetch_since(cursor).posts
    assert only.text == f"hello @bob@{mastodon_sandbox.domain} how are you"


def test_spoiler_text_is_carried(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, net: MastodonNetwork
) -> None:
    cursor = fresh_cursor(net)
    toot(mastodon_sandbox, alice, "the ending is sad", spoiler_text="film spoilers")
    (only,) = net.fetch_since(cursor).posts
    assert only.spoiler_text == "film spoilers"
    assert only.sensitive is True
    assert only.text == "the ending is sad"


def test_thread_fields(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, bob: MastodonUser, net: MastodonNetwork
) -> None:
    bobs = toot(mastodon_sandbox, bob, "bob starts")
    cursor = fresh_cursor(net)
    root = toot(mastodon_sandbox, alice, "thread 1/2")
    child = toot(mastodon_sandbox, alice, "thread 2/2", in_reply_to_id=root)
    answer = toot(mastodon_sandbox, alice, "@bob no", in_reply_to_id=bobs)
    posts = {p.id: p for p in net.fetch_since(cursor).posts}
    assert posts[root].in_reply_to_id is None
    assert posts[child].in_reply_to_id == root
    assert posts[child].is_self_reply is True
    assert posts[answer].in_reply_to_id == bobs
    assert posts[answer].in_reply_to_author_id == bob.id
    assert posts[answer].is_self_reply is False


def test_reblogs_are_excluded_by_default(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, bob: MastodonUser, net: MastodonNetwork
) -> None:
    original = toot(mastodon_sandbox, bob, "bob says hi")
    cursor = fresh_cursor(net)
    boost = toot(mastodon_sandbox, alice, "", reblog_of=original)
    own = toot(mastodon_sandbox, alice, "my own words")
    before = len(mastodon_sandbox.api_requests("GET", STATUSES))
    result = net.fetch_since(cursor)
    assert [p.id for p in result.posts] == [own]
    call = mastodon_sandbox.api_requests("GET", STATUSES)[before]
    assert call.query["exclude_reblogs"][0].lower() in ("1", "true")
    everything = net.fetch_since(cursor, include_reposts=True)
    assert [p.id for p in everything.posts] == [boost, own]
    assert everything.posts[0].is_repost is True
    assert everything.posts[1].is_repost is False


# -- writing -------------------------------------------------------------------------------


def test_same_idempotency_key_publishes_once(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    part = OutgoingPart(text="only once please")
    first = net.publish(part, idempotency_key="delivery-1")
    second = net.publish(part, idempotency_key="delivery-1")
    assert first.id == second.id
    assert [s["id"] for s in mastodon_sandbox.posts("alice")] == [first.id]
    third = net.publish(part, idempotency_key="delivery-2")
    assert third.id != first.id
    assert len(mastodon_sandbox.posts("alice")) == 2


def test_publish_dropped_after_commit_is_transient_and_the_retry_does_not_duplicate(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    mastodon_sandbox.add_fault(kind="drop_after_commit", method="POST", path=r"^/api/v1/statuses$")
    part = OutgoingPart(text="did it go out?")
    with pytest.raises(Transient):
        net.publish(part, idempotency_key="delivery-7")
    retried = net.publish(part, idempotency_key="delivery-7")
    assert [s["id"] for s in mastodon_sandbox.posts("alice")] == [retried.id]


def test_publish_with_spoiler_text_and_visibility(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    part = OutgoingPart(
        text="the butler did it",
        spoiler_text="book spoilers",
        visibility=Visibility.UNLISTED,
        language="en",
    )
    published = net.publish(part, idempotency_key="k")
    stored = mastodon_sandbox.get_post(published.id)
    assert stored is not None
    assert stored["spoiler_text"] == "book spoilers"
    assert stored["sensitive"] is True
    assert stored["visibility"] == "unlisted"
    assert stored["content"] == "<p>the butler did it</p>"
    assert published.url == stored["url"]


def test_publish_reply(mastodon_sandbox: MastodonSandbox, net: MastodonNetwork) -> None:
    parent = net.publish(OutgoingPart(text="1/2"), idempotency_key="a")
    child = net.publish(OutgoingPart(text="2/2", in_reply_to_id=parent.id), idempotency_key="b")
    assert child.reply_fallback is False
    stored = mastodon_sandbox.get_post(child.id)
    assert stored is not None and stored["in_reply_to_id"] == parent.id


def test_reply_to_a_deleted_parent_falls_back_to_standalone(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    parent = net.publish(OutgoingPart(text="soon gone"), idempotency_key="a")
    mastodon_sandbox.delete_post(parent.id)
    child = net.publish(
        OutgoingPart(text="orphan reply", in_reply_to_id=parent.id), idempotency_key="b"
    )
    assert child.reply_fallback is True
    stored = mastodon_sandbox.get_post(child.id)
    assert stored is not None
    assert stored["in_reply_to_id"] is None
    assert stored["content"] == "<p>orphan reply</p>"
    assert [s["id"] for s in mastodon_sandbox.posts("alice")] == [child.id]


def test_recent_own_tells_which_app_wrote_each_status(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    """Mastodon shows the owner each status's application: recovery never adopts a status
    written elsewhere (the web, a phone) as birdbridge's."""
    since = datetime.now(UTC) - timedelta(seconds=2)
    text = "Fish & chips <3 https://example.com/a/rather/long/link/to/the/menu"
    published = net.publish(OutgoingPart(text=text), idempotency_key="k")
    by_hand = mastodon_sandbox.create_post("alice", "typed on the web")
    posts = {p.id: p for p in net.recent_own(since)}
    assert posts[published.id].text == text
    assert posts[published.id].app == net.app_name() == "birdbridge"
    assert posts[by_hand["id"]].app == "Web"


def test_delete_removes_the_status(mastodon_sandbox: MastodonSandbox, net: MastodonNetwork) -> None:
    keep = net.publish(OutgoingPart(text="keep me"), idempotency_key="a")
    gone = net.publish(OutgoingPart(text="delete me"), idempotency_key="b")
    net.delete(gone.id)
    assert mastodon_sandbox.get_post(gone.id) is None
    assert [s["id"] for s in mastodon_sandbox.posts("alice")] == [keep.id]


# -- errors --------------------------------------------------------------------------------


def test_429_is_rate_limited_until_the_iso_reset(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    mastodon_sandbox.add_fault(kind="rate_limit", path="verify_credentials", reset_in=120)
    expected = datetime.now(UTC) + timedelta(seconds=120)
    with pytest.raises(RateLimited) as caught:
        net.account()
    assert abs((caught.value.retry_at - expected).total_seconds()) < 3
    assert caught.value.network == "mastodon"
    # Until the reset, the next call is held back without reaching the server at all.
    with pytest.raises(RateLimited, match="no calls left"):
        net.account()
    assert len(mastodon_sandbox.api_requests("GET", "verify_credentials")) == 1


def test_429_on_publish(mastodon_sandbox: MastodonSandbox, net: MastodonNetwork) -> None:
    mastodon_sandbox.add_fault(kind="rate_limit", path=r"^/api/v1/statuses$", reset_in=900)
    expected = datetime.now(UTC) + timedelta(seconds=900)
    with pytest.raises(RateLimited) as caught:
        net.publish(OutgoingPart(text="hi"), idempotency_key="k")
    assert abs((caught.value.retry_at - expected).total_seconds()) < 3
    assert mastodon_sandbox.posts("alice") == []


def test_bad_token_is_auth_revoked(mastodon_sandbox: MastodonSandbox, alice: MastodonUser) -> None:
    net = network_for(mastodon_sandbox, alice, token="not-a-token")
    with pytest.raises(AuthRevoked):
        net.account()


def test_over_long_status_is_permanent(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    with pytest.raises(Permanent) as caught:
        net.publish(OutgoingPart(text="x" * 501), idempotency_key="k")
    assert "422" in str(caught.value)
    assert mastodon_sandbox.posts("alice") == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork, status: int
) -> None:
    cursor = fresh_cursor(net)
    mastodon_sandbox.add_fault(kind="status", path=STATUSES, status=status)
    with pytest.raises(Transient):
        net.fetch_since(cursor)


OPERATIONS = {
    "account": ("verify_credentials", lambda net, cursor: net.account()),
    "fetch": (STATUSES, lambda net, cursor: net.fetch_since(cursor)),
    "publish": (
        r"^/api/v1/statuses$",
        lambda net, cursor: net.publish(OutgoingPart(text="hi"), idempotency_key="k"),
    ),
}


@pytest.mark.parametrize("kind", ["malformed", "html", "empty", "drop"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_garbage_and_dropped_replies_are_transient(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, kind: str, operation: str
) -> None:
    net = network_for(mastodon_sandbox, alice)
    path, call = OPERATIONS[operation]
    cursor = fresh_cursor(net) if operation != "account" else None
    mastodon_sandbox.add_fault(kind=kind, path=path)
    with pytest.raises(Transient):
        call(net, cursor)
    assert [r.fault for r in mastodon_sandbox.api_requests(path=path)].count(kind) == 1


def test_a_slow_reply_is_given_up_as_transient(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser
) -> None:
    """The server would answer after 3 s: with a 0.5 s timeout the client must give up (a
    client without one would get the answer, and no error)."""
    net = network_for(mastodon_sandbox, alice, timeout=0.5)
    mastodon_sandbox.add_fault(kind="delay", path="verify_credentials", delay=3, times=None)
    with pytest.raises(Transient):
        net.account()


@pytest.fixture
def failing_instance(mastodon_sandbox: MastodonSandbox, request: pytest.FixtureRequest) -> str:
    kind = request.param
    extra: dict[str, Any] = {"status": 500} if kind == "status" else {}
    if kind == "timeout":
        extra["delay"] = 3
    mastodon_sandbox.add_fault(kind=kind, path=r"^/api/v[12]/instance$", times=None, **extra)
    return str(kind)


@pytest.mark.parametrize(
    "failing_instance", ["status", "html", "malformed", "empty", "drop", "timeout"], indirect=True
)
def test_failing_instance_endpoints_neither_hang_nor_leak_library_errors(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, failing_instance: str
) -> None:
    net = network_for(mastodon_sandbox, alice, timeout=0.5)
    try:
        limits = net.limits()
    except BirdbridgeError:
        pass
    else:  # a fallback is acceptable, as long as it is usable
        assert limits.max_characters > 0
    # No hang (pytest-timeout would end the test), and no retry storm:
    assert 1 <= len(mastodon_sandbox.api_requests("GET", r"^/api/v[12]/instance$")) <= 4
    mastodon_sandbox.clear_faults()
    assert network_for(mastodon_sandbox, alice).limits().max_characters == 500


def test_limits_recover_after_a_failing_instance_call(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    mastodon_sandbox.add_fault(kind="status", path=r"^/api/v[12]/instance$", status=503)
    with pytest.raises(Transient):
        net.limits()
    assert net.limits().max_characters == 500  # the failure was not cached


def test_instance_without_v2_endpoint_still_gives_limits() -> None:
    with MastodonSandbox(max_characters=1000, version="3.5.3") as m:
        user = m.create_user("alice")
        m.add_fault(kind="status", status=404, path=r"^/api/v2/instance$", times=None)
        assert network_for(m, user).limits().max_characters == 1000


@pytest.fixture
def everything_fails(mastodon_sandbox: MastodonSandbox) -> Iterator[None]:
    mastodon_sandbox.add_fault(kind="status", status=500, times=None)
    yield
    mastodon_sandbox.clear_faults()


def test_every_call_fails_with_our_error_types(
    everything_fails: None, mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    calls = [
        net.account,
        net.limits,
        lambda: net.fetch_since(None),
        lambda: net.publish(OutgoingPart(text="x"), idempotency_key="k"),
        lambda: net.delete("1"),
    ]
    for call in calls:
        with pytest.raises(Transient):
            call()
