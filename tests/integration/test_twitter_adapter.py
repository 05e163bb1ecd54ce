"""TwitterNetwork against the X sandbox over real HTTP, through the real tweepy.Client:
identity, limits, reading with cursors and paging, publishing (with the 2026 reply
restriction), recovery search, deletes, and the mapping of every failure onto our errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import stamina
from PIL import Image

from birdbridge.config import TwitterConfig
from birdbridge.errors import AuthRevoked, Permanent, RateLimited, ReplyRefused, Transient
from birdbridge.models import MediaKind, NetworkName, OutgoingPart, Visibility
from birdbridge.networks.twitter import TwitterNetwork
from birdbridge.sandbox.x import XSandbox, XUser

TIMELINE = r"^/2/users/\d+/tweets$"


@pytest.fixture(autouse=True)
def single_attempts() -> Iterator[None]:
    """These tests check how ONE reply maps to an error: stamina's test mode turns the
    adapters' quick read retries off (test_engine.py checks the retries themselves)."""
    stamina.set_testing(True, attempts=1)
    yield
    stamina.set_testing(False)


def config_for(x: XSandbox, user: XUser, **overrides: str) -> TwitterConfig:
    values = {
        "api_base_url": x.url,
        "consumer_key": user.consumer_key,
        "consumer_secret": user.consumer_secret,
        "access_token": user.access_token,
        "access_token_secret": user.access_token_secret,
        **overrides,
    }
    return TwitterConfig(**values)


def network_for(x: XSandbox, user: XUser, timeout: float = 5, **overrides: str) -> TwitterNetwork:
    return TwitterNetwork(config_for(x, user, **overrides), timeout=timeout)


@pytest.fixture
def alice(x_sandbox: XSandbox) -> XUser:
    return x_sandbox.create_user("alice", "Alice")


@pytest.fixture
def bob(x_sandbox: XSandbox) -> XUser:
    return x_sandbox.create_user("bob", "Bob")


@pytest.fixture
def net(x_sandbox: XSandbox, alice: XUser) -> TwitterNetwork:
    return network_for(x_sandbox, alice)


def post(x: XSandbox, user: XUser, text: str, **kwargs: Any) -> str:
    return str(x.create_post(user.username, text, **kwargs)["id"])


def timeline_calls(x: XSandbox) -> list[Any]:
    return x.api_requests("GET", TIMELINE)


# -- identity and limits -------------------------------------------------------------------


def test_account_is_the_credentials_user_and_is_fetched_once(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    first = net.account()
    assert first.network is NetworkName.TWITTER
    assert first.id == alice.id
    assert first.handle == "@alice"
    assert first.protected is False
    assert net.account() is first
    assert net.account() == first
    assert len(x_sandbox.api_requests("GET", r"^/2/users/me$")) == 1


def test_protected_account_and_its_posts_are_private(x_sandbox: XSandbox) -> None:
    carol = x_sandbox.create_user("carol", "Carol", protected=True)
    net = network_for(x_sandbox, carol)
    assert net.account().protected is True
    cursor = net.fetch_since(None).cursor
    post(x_sandbox, carol, "only for my followers")
    result = net.fetch_since(cursor)
    assert [p.text for p in result.posts] == ["only for my followers"]
    assert result.posts[0].visibility is Visibility.PRIVATE


def test_public_account_posts_are_public(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    cursor = net.fetch_since(None).cursor
    post(x_sandbox, alice, "hello world")
    (only,) = net.fetch_since(cursor).posts
    assert only.visibility is Visibility.PUBLIC


def test_limits_are_280_weighted(net: TwitterNetwork) -> None:
    limits = net.limits()
    assert limits.max_characters == 280
    count = limits.counter
    assert count("a" * 280) == 280
    assert count("日本語") == 6  # CJK weighs 2
    assert count("👍") == 2  # an emoji weighs 2
    assert count("see https://example.com/" + "x" * 100) == len("see ") + 23  # t.co length
    assert count("visit example.com") == len("visit ") + 23  # bare domains are links too


# -- reading -------------------------------------------------------------------------------


def test_first_poll_returns_no_posts_and_the_newest_id(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    ids = [post(x_sandbox, alice, f"old {i}") for i in range(3)]
    result = net.fetch_since(None)
    assert result.posts == []
    assert result.cursor == ids[-1]


def test_first_poll_on_empty_account_gives_a_time_cursor_that_catches_the_next_post(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    first = net.fetch_since(None)
    assert first.posts == []
    assert first.cursor is not None
    new_id = post(x_sandbox, alice, "my very first post")
    second = net.fetch_since(first.cursor)
    assert [p.id for p in second.posts] == [new_id]
    assert second.posts[0].text == "my very first post"
    assert second.cursor == new_id
    third = net.fetch_since(second.cursor)
    assert third.posts == []
    assert third.cursor == new_id


def test_fetch_since_cursor_returns_only_newer_posts_oldest_first(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    for i in range(3):
        post(x_sandbox, alice, f"old {i}")
    cursor = net.fetch_since(None).cursor
    new_ids = [post(x_sandbox, alice, f"new {i}") for i in range(3)]
    result = net.fetch_since(cursor)
    assert [p.id for p in result.posts] == new_ids
    assert [p.text for p in result.posts] == ["new 0", "new 1", "new 2"]
    assert all(p.author_id == net.account().id for p in result.posts)
    assert result.cursor == new_ids[-1]
    again = net.fetch_since(result.cursor)
    assert again.posts == []
    assert again.cursor == new_ids[-1]


def test_230_new_posts_come_back_complete_across_pages(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    post(x_sandbox, alice, "before")
    cursor = net.fetch_since(None).cursor
    assert cursor is not None
    new_ids = [post(x_sandbox, alice, f"post number {i}") for i in range(230)]
    seen_before = len(timeline_calls(x_sandbox))
    result = net.fetch_since(cursor)
    assert [p.id for p in result.posts] == new_ids
    assert result.cursor == new_ids[-1]
    calls = timeline_calls(x_sandbox)[seen_before:]
    assert len(calls) == 3  # 100 + 100 + 30
    assert "pagination_token" not in calls[0].query
    assert all("pagination_token" in c.query for c in calls[1:])
    assert len({c.query["pagination_token"][0] for c in calls[1:]}) == 2
    assert all(c.query.get("since_id") == [cursor] for c in calls)


def test_retweets_are_excluded_by_default(
    x_sandbox: XSandbox, alice: XUser, bob: XUser, net: TwitterNetwork
) -> None:
    original = post(x_sandbox, bob, "bob says hi")
    cursor = net.fetch_since(None).cursor
    retweet = post(x_sandbox, alice, "", retweet_of=original)
    own = post(x_sandbox, alice, "my own words")
    before = len(timeline_calls(x_sandbox))
    result = net.fetch_since(cursor)
    assert [p.id for p in result.posts] == [own]
    call = timeline_calls(x_sandbox)[before]
    assert "retweets" in call.query["exclude"][0].split(",")
    everything = net.fetch_since(cursor, include_reposts=True)
    assert [p.id for p in everything.posts] == [retweet, own]
    assert everything.posts[0].is_repost is True
    assert everything.posts[1].is_repost is False


def test_urls_come_back_expanded_and_entities_unescaped(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    text = "Fish & chips <3 > all: https://example.com/menu?dish=cod&size=large see you"
    cursor = net.fetch_since(None).cursor
    post(x_sandbox, alice, text)
    raw = x_sandbox.posts("alice")[-1]["text"]
    assert "t.co/" in raw and "&amp;" in raw  # the sandbox really shortens and escapes
    (only,) = net.fetch_since(cursor).posts
    assert only.text == text


def test_two_urls_both_expanded(x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork) -> None:
    text = "a https://example.com/one & b https://example.org/two"
    cursor = net.fetch_since(None).cursor
    post(x_sandbox, alice, text)
    (only,) = net.fetch_since(cursor).posts
    assert only.text == text


def test_long_post_comes_back_with_its_full_note_tweet_text(
    x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork
) -> None:
    words = " ".join(f"word{i}" for i in range(70))  # ~450 characters
    text = f"{words} & more at https://example.com/the/end"
    assert len(text) > 280
    cursor = net.fetch_since(None).cursor
    post(x_sandbox, alice, text)
    assert x_sandbox.posts("alice")[-1]["text"].endswith("…")  # truncated "text" field
    (only,) = net.fetch_since(cursor).posts
    assert only.text == text


def test_thread_fields(x_sandbox: XSandbox, alice: XUser, bob: XUser, net: TwitterNetwork) -> None:
    bobs = post(x_sandbox, bob, "bob starts")
    cursor = net.fetch_since(None).cursor
    root = post(x_sandbox, alice, "thread 1/2")
    child = post(x_sandbox, alice, "thread 2/2", in_reply_to_id=root)
    answer = post(x_sandbox, alice, "@bob I disagree", in_reply_to_id=bobs)
    posts = {p.id: p for p in net.fetch_since(cursor).posts}
    assert posts[root].in_reply_to_id is None
    assert posts[root].is_self_reply is False
    assert posts[child].in_reply_to_id == root
    assert posts[child].in_reply_to_author_id == alice.id
    assert posts[child].is_self_reply is True
    assert posts[answer].in_reply_to_id == bobs
    assert posts[answer].in_reply_to_author_id == bob.id
    assert posts[answer].is_reply is True
    assert posts[answer].is_self_reply is False


# -- writing -------------------------------------------------------------------------------


def test_publish_creates_a_post_and_a_reply(x_sandbox: XSandbox, net: TwitterNetwork) -> None:
    first = net.publish(OutgoingPart(text="hello from the bridge"), idempotency_key="k1")
    assert first.reply_fallback is False
    stored = x_sandbox.get_post(first.id)
    assert stored is not None
    assert stored["text"] == "hello from the bridge"
    assert stored["author_id"] == net.account().id
    reply = net.publish(
        OutgoingPart(text="and a reply", in_reply_to_id=first.id), idempotency_key="k2"
    )
    assert reply.reply_fallback is False
    stored_reply = x_sandbox.get_post(reply.id)
    assert stored_reply is not None
    assert stored_reply["referenced_tweets"] == [{"type": "replied_to", "id": first.id}]


def test_a_refused_reply_raises_reply_refused_and_posts_nothing() -> None:
    """The adapter reports X's refusal as ReplyRefused; what happens instead is the engine's
    `reply_refused` policy (tests/integration/test_x_real.py)."""
    with XSandbox(reply_restriction=True, self_replies_allowed=False) as x:
        user = x.create_user("alice", "Alice")
        net = network_for(x, user)
        parent = net.publish(OutgoingPart(text="1/2 a thread"), idempotency_key="a")
        with pytest.raises(ReplyRefused) as refused:
            net.publish(
                OutgoingPart(text="2/2 the end", in_reply_to_id=parent.id), idempotency_key="b"
            )
        assert refused.value.status == 403
        assert "mentioned" in str(refused.value)
        assert [p["text"] for p in x.posts("alice")] == ["1/2 a thread"]


def test_allowed_self_reply_under_the_restriction_stays_threaded() -> None:
    with XSandbox(reply_restriction=True, self_replies_allowed=True) as x:
        user = x.create_user("alice", "Alice")
        net = network_for(x, user)
        parent = net.publish(OutgoingPart(text="1/2 a thread"), idempotency_key="a")
        second = net.publish(
            OutgoingPart(text="2/2 the end", in_reply_to_id=parent.id), idempotency_key="b"
        )
        assert second.reply_fallback is False
        stored = x.get_post(second.id)
        assert stored is not None
        assert stored["referenced_tweets"] == [{"type": "replied_to", "id": parent.id}]


def test_recent_own_reads_back_text_reply_target_and_media(
    net: TwitterNetwork, tmp_path: Path
) -> None:
    """What recovery compares: the text as X stores it, the reply target and the media."""
    since = datetime.now(UTC) - timedelta(seconds=2)
    parent = net.publish(OutgoingPart(text="Fish & chips example.com/x"), idempotency_key="k")
    picture = tmp_path / "plate.jpg"
    Image.new("RGB", (40, 30), "red").save(picture, "JPEG")
    media = net.upload_media(picture, "image/jpeg", MediaKind.IMAGE, "a plate")
    reply = net.publish(
        OutgoingPart(text="", in_reply_to_id=parent.id, media_ids=(media.id,)),
        idempotency_key="k2",
    )
    posts = {p.id: p for p in net.recent_own(since)}
    assert posts[parent.id].text == "Fish & chips http://example.com/x"
    assert posts[parent.id].in_reply_to_id is None and posts[parent.id].media == ()
    assert posts[reply.id].in_reply_to_id == parent.id
    assert [m.kind for m in posts[reply.id].media] == [MediaKind.IMAGE]
    assert net.app_name() is None  # X tells no app: other details decide


def test_delete_removes_the_post(x_sandbox: XSandbox, net: TwitterNetwork) -> None:
    keep = net.publish(OutgoingPart(text="keep me"), idempotency_key="a")
    gone = net.publish(OutgoingPart(text="delete me"), idempotency_key="b")
    net.delete(gone.id)
    assert x_sandbox.get_post(gone.id) is None
    assert [p["id"] for p in x_sandbox.posts("alice")] == [keep.id]


# -- errors --------------------------------------------------------------------------------


def test_429_is_rate_limited_until_the_epoch_reset(
    x_sandbox: XSandbox, net: TwitterNetwork
) -> None:
    x_sandbox.add_fault(kind="rate_limit", path=r"^/2/users/me$", reset_in=120)
    expected = datetime.now(UTC) + timedelta(seconds=120)
    with pytest.raises(RateLimited) as caught:
        net.account()
    assert abs((caught.value.retry_at - expected).total_seconds()) < 3
    assert caught.value.network == "twitter"
    # Until the reset, this endpoint is not called again (X bills calls; a 429 is certain).
    with pytest.raises(RateLimited, match="no calls left"):
        net.account()
    assert len(x_sandbox.api_requests("GET", r"^/2/users/me$")) == 1


def test_429_on_the_timeline(x_sandbox: XSandbox, alice: XUser, net: TwitterNetwork) -> None:
    cursor = net.fetch_since(None).cursor
    x_sandbox.add_fault(kind="rate_limit", path=TIMELINE, reset_in=600)
    expected = datetime.now(UTC) + timedelta(seconds=600)
    with pytest.raises(RateLimited) as caught:
        net.fetch_since(cursor)
    assert abs((caught.value.retry_at - expected).total_seconds()) < 3


def test_bad_access_token_secret_is_auth_revoked(x_sandbox: XSandbox, alice: XUser) -> None:
    net = network_for(x_sandbox, alice, access_token_secret="not-the-secret")
    with pytest.raises(AuthRevoked):
        net.account()


def test_duplicate_post_is_permanent(x_sandbox: XSandbox, net: TwitterNetwork) -> None:
    net.publish(OutgoingPart(text="say it once"), idempotency_key="a")
    with pytest.raises(Permanent) as caught:
        net.publish(OutgoingPart(text="say it once"), idempotency_key="b")
    assert "duplicate" in str(caught.value).lower()
    assert len(x_sandbox.posts("alice")) == 1


def test_duplicate_reply_is_permanent_not_a_fallback(
    x_sandbox: XSandbox, net: TwitterNetwork
) -> None:
    parent = net.publish(OutgoingPart(text="parent"), idempotency_key="a")
    net.publish(OutgoingPart(text="same reply", in_reply_to_id=parent.id), idempotency_key="b")
    with pytest.raises(Permanent):
        net.publish(OutgoingPart(text="same reply", in_reply_to_id=parent.id), idempotency_key="c")
    assert len(x_sandbox.posts("alice")) == 2


def test_too_long_post_is_permanent(x_sandbox: XSandbox, net: TwitterNetwork) -> None:
    with pytest.raises(Permanent):
        net.publish(OutgoingPart(text="x" * 281), idempotency_key="a")
    assert x_sandbox.posts("alice") == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(x_sandbox: XSandbox, net: TwitterNetwork, status: int) -> None:
    cursor = net.fetch_since(None).cursor
    x_sandbox.add_fault(kind="status", path=TIMELINE, status=status)
    with pytest.raises(Transient):
        net.fetch_since(cursor)


OPERATIONS = {
    "account": (r"^/2/users/me$", lambda net, cursor: net.account()),
    "fetch": (TIMELINE, lambda net, cursor: net.fetch_since(cursor)),
    "publish": (
        r"^/2/tweets$",
        lambda net, cursor: net.publish(OutgoingPart(text="hi"), idempotency_key="k"),
    ),
}


@pytest.mark.parametrize("kind", ["malformed", "html", "empty", "drop"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_garbage_and_dropped_replies_are_transient(
    x_sandbox: XSandbox, alice: XUser, kind: str, operation: str
) -> None:
    net = network_for(x_sandbox, alice)
    path, call = OPERATIONS[operation]
    cursor = None
    if operation != "account":
        cursor = net.fetch_since(None).cursor
    x_sandbox.add_fault(kind=kind, path=path)
    with pytest.raises(Transient):
        call(net, cursor)
    assert [r.fault for r in x_sandbox.api_requests(path=path)].count(kind) == 1


def test_a_slow_reply_is_given_up_as_transient(x_sandbox: XSandbox, alice: XUser) -> None:
    """The server would answer after 3 s: with a 0.5 s timeout the client must give up (a
    client without one would get the answer, and no error)."""
    net = network_for(x_sandbox, alice, timeout=0.5)
    x_sandbox.add_fault(kind="delay", path=r"^/2/users/me$", delay=3, times=None)
    with pytest.raises(Transient):
        net.account()


def test_a_slow_publish_is_given_up_as_transient(x_sandbox: XSandbox, alice: XUser) -> None:
    net = network_for(x_sandbox, alice, timeout=0.5)
    net.account()
    x_sandbox.add_fault(kind="delay", path=r"^/2/tweets$", delay=3)
    with pytest.raises(Transient):
        net.publish(OutgoingPart(text="slow"), idempotency_key="k")


# -- where requests go, and how they are signed ------------------------------------------


@pytest.fixture
def recorded(net: TwitterNetwork) -> Iterator[list[requests.PreparedRequest]]:
    """Every request the adapter's session actually sent (requests' public response hook)."""
    sent: list[requests.PreparedRequest] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent.append(response.request)

    net.client.session.hooks["response"].append(hook)
    yield sent


def test_requests_go_only_to_the_sandbox_signed_with_oauth1(
    x_sandbox: XSandbox, net: TwitterNetwork, recorded: list[requests.PreparedRequest]
) -> None:
    net.account()
    cursor = net.fetch_since(None).cursor
    published = net.publish(OutgoingPart(text="where do you go"), idempotency_key="k")
    net.fetch_since(cursor)
    net.recent_own(datetime.now(UTC))
    net.delete(published.id)
    assert len(recorded) == len(x_sandbox.api_requests()) == 6
    for request in recorded:
        assert str(request.url).startswith(x_sandbox.url + "/2/")
        assert "twitter.com" not in str(request.url) and "x.com" not in str(request.url)
        authorization = str(request.headers["Authorization"])
        assert authorization.startswith("OAuth ")
        assert 'oauth_signature_method="HMAC-SHA1"' in authorization
        assert "oauth_signature=" in authorization
    assert all(r.status is not None and r.status < 300 for r in x_sandbox.api_requests())


def test_wrong_consumer_secret_fails_the_signature(x_sandbox: XSandbox, alice: XUser) -> None:
    net = network_for(x_sandbox, alice, consumer_secret="x" * 50)
    with pytest.raises(AuthRevoked):
        net.account()
    (call,) = x_sandbox.api_requests("GET", r"^/2/users/me$")
    assert call.status == 401
    assert network_for(x_sandbox, alice).account().id == alice.id


def test_reply_to_a_deleted_post_falls_back_to_standalone(
    x_sandbox: XSandbox, net: TwitterNetwork
) -> None:
    parent = net.publish(OutgoingPart(text="soon gone"), idempotency_key="a")
    net.delete(parent.id)
    reply = net.publish(OutgoingPart(text="orphan", in_reply_to_id=parent.id), idempotency_key="b")
    assert reply.reply_fallback is True
    stored = x_sandbox.get_post(reply.id)
    assert stored is not None and "referenced_tweets" not in stored


def test_the_sandbox_own_rate_limit_is_rate_limited(
    x_sandbox: XSandbox, net: TwitterNetwork
) -> None:
    x_sandbox.set_rate_limit("POST /2/tweets", 1, window_s=300)
    net.publish(OutgoingPart(text="one"), idempotency_key="a")
    with pytest.raises(RateLimited) as caught:
        net.publish(OutgoingPart(text="two"), idempotency_key="b")
    expected = datetime.now(UTC) + timedelta(seconds=300)
    assert abs((caught.value.retry_at - expected).total_seconds()) < 3


def test_publish_committed_but_dropped_is_transient_and_recoverable(
    x_sandbox: XSandbox, net: TwitterNetwork
) -> None:
    since = datetime.now(UTC)
    net.account()
    x_sandbox.add_fault(kind="drop_after_commit", path=r"^/2/tweets$", method="POST")
    with pytest.raises(Transient):
        net.publish(OutgoingPart(text="did it go out?"), idempotency_key="k")
    (stored,) = x_sandbox.posts("alice")
    [found] = net.recent_own(since)
    assert found.id == stored["id"] and found.text == "did it go out?"
