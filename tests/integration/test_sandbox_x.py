"""The X sandbox over real HTTP, driven by the real tweepy.Client (and raw requests for
contract details): auth, timelines, posting rules, deletes, rate limits and faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
import tweepy

from birdbridge.sandbox.x import XSandbox, XUser, weighted_length


class RewritingSession(requests.Session):
    """tweepy hard-codes https://api.twitter.com; send its calls to the sandbox instead
    (api-notes X3). OAuth1 signing happens at prepare time, after the rewrite."""

    def __init__(self, base: str, timeout: float = 5.0) -> None:
        super().__init__()
        self.base, self.timeout = base, timeout

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        for prefix in ("https://api.twitter.com", "https://api.x.com"):
            if url.startswith(prefix):
                url = self.base + url[len(prefix) :]
                break
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def client_for(x: XSandbox, user: XUser, timeout: float = 5.0, **overrides: str) -> tweepy.Client:
    creds = {
        "consumer_key": user.consumer_key,
        "consumer_secret": user.consumer_secret,
        "access_token": user.access_token,
        "access_token_secret": user.access_token_secret,
        **overrides,
    }
    client = tweepy.Client(**creds)
    client.session = RewritingSession(x.url, timeout)
    return client


def bearer_client(x: XSandbox) -> tweepy.Client:
    client = tweepy.Client(bearer_token=x.bearer_token)
    client.session = RewritingSession(x.url)
    return client


@pytest.fixture
def x() -> Iterator[XSandbox]:
    with XSandbox() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def alice(x: XSandbox) -> XUser:
    return x.create_user("alice", "Alice A.", protected=True)


@pytest.fixture
def bob(x: XSandbox) -> XUser:
    return x.create_user("bob")


# -- auth --------------------------------------------------------------------------------


def test_get_me_with_oauth1_signature(x: XSandbox, alice: XUser) -> None:
    me = client_for(x, alice).get_me(user_fields=["protected"])
    assert str(me.data.id) == alice.id
    assert me.data.username == "alice"
    assert me.data.name == "Alice A."
    assert me.data.protected is True


def test_bad_signature_and_missing_auth_are_401(x: XSandbox, alice: XUser) -> None:
    with pytest.raises(tweepy.Unauthorized):
        client_for(x, alice, access_token_secret="wrong").get_me()
    with pytest.raises(tweepy.Unauthorized):
        client_for(x, alice, consumer_key="nope").get_me()
    raw = requests.get(f"{x.url}/2/users/me", timeout=5)
    assert raw.status_code == 401
    assert raw.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }


def test_signature_covers_query_parameters(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    client.create_tweet(text="one")
    page = client.get_users_tweets(
        alice.id, user_auth=True, max_results=5, tweet_fields=["created_at", "author_id"]
    )
    assert str(page.data[0].author_id) == alice.id


def test_bearer_reads_but_cannot_write(x: XSandbox, alice: XUser) -> None:
    x.create_post("alice", "public post")
    app = bearer_client(x)
    assert app.get_users_tweets(alice.id).data[0].text == "public post"
    with pytest.raises(tweepy.Forbidden) as exc:
        app.create_tweet(text="nope", user_auth=False)
    body = exc.value.response.json()
    assert body["title"] == "Unsupported Authentication"
    assert body["type"] == "https://api.twitter.com/2/problems/unsupported-authentication"
    raw = requests.get(
        f"{x.url}/2/users/me", timeout=5, headers={"Authorization": f"Bearer {x.bearer_token}"}
    )
    assert raw.status_code == 403


# -- timelines ---------------------------------------------------------------------------


def test_timeline_pages_newest_first_and_since_id(x: XSandbox, alice: XUser) -> None:
    ids = [x.create_post("alice", f"post {i}")["id"] for i in range(25)]
    assert ids == sorted(ids, key=int)
    client = client_for(x, alice)
    seen, token, pages = [], None, 0
    while True:
        page = client.get_users_tweets(
            alice.id, user_auth=True, max_results=10, pagination_token=token
        )
        pages += 1
        seen += [t.id for t in page.data]
        assert page.meta["newest_id"] == str(page.data[0].id)
        assert page.meta["oldest_id"] == str(page.data[-1].id)
        token = page.meta.get("next_token")
        if not token:
            break
    assert pages == 3
    assert [str(i) for i in seen] == list(reversed(ids))

    newer = client.get_users_tweets(alice.id, user_auth=True, since_id=ids[19], max_results=100)
    assert [str(t.id) for t in newer.data] == list(reversed(ids[20:]))
    empty = client.get_users_tweets(alice.id, user_auth=True, since_id=ids[-1])
    assert empty.data is None
    assert empty.meta == {"result_count": 0}


def test_empty_timeline_has_no_data_key(x: XSandbox, alice: XUser) -> None:
    raw = requests.get(
        f"{x.url}/2/users/{alice.id}/tweets",
        timeout=5,
        headers={"Authorization": f"Bearer {x.bearer_token}"},
    )
    assert raw.json() == {"meta": {"result_count": 0}}
    assert int(raw.headers["x-rate-limit-limit"]) == 900


def test_max_results_out_of_range_is_invalid_request(x: XSandbox, alice: XUser) -> None:
    raw = requests.get(
        f"{x.url}/2/users/{alice.id}/tweets",
        params={"max_results": 3},
        headers={"Authorization": f"Bearer {x.bearer_token}"},
        timeout=5,
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "errors": [
            {
                "parameters": {"max_results": ["3"]},
                "message": "The `max_results` query parameter value [3] is not between 5 and 100",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def test_exclude_replies_and_reply_fields(x: XSandbox, alice: XUser) -> None:
    root = x.create_post("alice", "thread 1/2")
    reply = x.create_post("alice", "thread 2/2", in_reply_to_id=root["id"])
    assert reply["conversation_id"] == root["id"]
    assert reply["in_reply_to_user_id"] == alice.id
    assert reply["referenced_tweets"] == [{"type": "replied_to", "id": root["id"]}]
    client = client_for(x, alice)
    everything = client.get_users_tweets(alice.id, user_auth=True)
    assert [t.text for t in everything.data] == ["thread 2/2", "thread 1/2"]
    assert "author_id" not in everything.data[0].data  # only when asked for
    only_roots = client.get_users_tweets(
        alice.id,
        user_auth=True,
        exclude=["replies"],
        tweet_fields=["conversation_id"],
        expansions=["author_id"],
    )
    assert [t.text for t in only_roots.data] == ["thread 1/2"]
    assert only_roots.includes["users"][0].username == "alice"


# -- posting -------------------------------------------------------------------------------


def test_create_tweet_replaces_urls_with_tco(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    created = client.create_tweet(text="read https://example.com/a/long/path and example.org")
    assert created.data["edit_history_tweet_ids"] == [created.data["id"]]
    text = created.data["text"]
    assert "example" not in text and text.count("https://t.co/") == 2
    tweet = client.get_tweet(
        created.data["id"], user_auth=True, tweet_fields=["entities", "created_at"]
    ).data
    urls = tweet.entities["urls"]
    assert [u["expanded_url"] for u in urls] == [
        "https://example.com/a/long/path",
        "http://example.org",
    ]
    assert urls[0]["display_url"] == "example.com/a/long/path"
    for url in urls:
        assert text[url["start"] : url["end"]] == url["url"]
        assert len(url["url"]) == 23
    assert tweet.created_at is not None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 280, True),
        ("a" * 281, False),
        ("漢" * 140, True),
        ("漢" * 140 + "a", False),
        ("😀" * 140, True),
        ("👩‍👩‍👧‍👦" * 140, True),
        ("😀" * 141, False),
        ("a" * 256 + " https://example.com/" + "x" * 50, True),
        ("a" * 257 + " https://example.com/", False),
    ],
)
def test_length_limit(x: XSandbox, alice: XUser, text: str, ok: bool) -> None:
    client = client_for(x, alice)
    if ok:
        assert client.create_tweet(text=text).data["id"]
        return
    with pytest.raises(tweepy.BadRequest) as exc:
        client.create_tweet(text=text)
    assert "Your Tweet text is too long." in exc.value.response.json()["detail"]
    assert exc.value.response.json()["status"] == 400


def test_weighted_length_rules() -> None:
    assert weighted_length("hello") == 5
    assert weighted_length("日本語") == 6
    assert weighted_length("🇯🇵") == 2
    assert weighted_length("see example.com") == 4 + 23
    assert weighted_length("e\u0301") == 1  # NFC first


def test_long_post_from_the_app_has_note_tweet(x: XSandbox, alice: XUser) -> None:
    long_text = "word " * 100
    post = x.create_post("alice", long_text)
    assert post["note_tweet"]["text"] == long_text
    assert weighted_length(post["text"]) <= 280


def test_duplicate_is_refused(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    client.create_tweet(text="same words")
    with pytest.raises(tweepy.Forbidden) as exc:
        client.create_tweet(text="same words")
    assert exc.value.response.json() == {
        "title": "Forbidden",
        "type": "about:blank",
        "status": 403,
        "detail": "You are not allowed to create a Tweet with duplicate content.",
    }


def test_reply_to_deleted_tweet_is_refused(x: XSandbox, alice: XUser) -> None:
    gone = x.create_post("alice", "soon gone")
    x.delete_post(gone["id"])
    with pytest.raises(tweepy.Forbidden) as exc:
        client_for(x, alice).create_tweet(text="reply", in_reply_to_tweet_id=gone["id"])
    assert "deleted or not visible" in exc.value.response.json()["detail"]


def test_reply_restriction() -> None:
    with XSandbox(reply_restriction=True) as x:
        alice, _bob = x.create_user("alice"), x.create_user("bob")
        client = client_for(x, alice)
        plain = x.create_post("bob", "no mentions here")
        with pytest.raises(tweepy.Forbidden) as exc:
            client.create_tweet(text="hi", in_reply_to_tweet_id=plain["id"])
        assert exc.value.response.json()["detail"].startswith(
            "Reply to this conversation is not allowed because you have not been mentioned"
        )
        summoned = x.create_post("bob", "what do you think @alice?")
        assert client.create_tweet(text="yes", in_reply_to_tweet_id=summoned["id"]).data
        own = client.create_tweet(text="my thread 1/2").data
        assert client.create_tweet(text="2/2", in_reply_to_tweet_id=own["id"]).data
    with XSandbox(reply_restriction=True, self_replies_allowed=False) as x:
        alice = x.create_user("alice")
        own = x.create_post("alice", "1/2")
        with pytest.raises(tweepy.Forbidden):
            client_for(x, alice).create_tweet(text="2/2", in_reply_to_tweet_id=own["id"])


# -- lookup and delete -------------------------------------------------------------------


def test_delete_rules(x: XSandbox, alice: XUser, bob: XUser) -> None:
    mine = client_for(x, alice).create_tweet(text="mine").data["id"]
    with pytest.raises(tweepy.Forbidden):
        client_for(x, bob).delete_tweet(mine)
    assert client_for(x, alice).delete_tweet(mine).data == {"deleted": True}
    with pytest.raises(tweepy.NotFound):
        client_for(x, alice).delete_tweet(mine)
    assert x.get_post(mine) is None
    assert x.posts("alice") == []
    assert x.posts("alice", include_deleted=True)[0]["deleted"] is True
    gone = client_for(x, alice).get_tweet(mine, user_auth=True)
    assert gone.data is None
    assert gone.errors[0]["title"] == "Not Found Error"
    assert gone.errors[0]["detail"] == f"Could not find tweet with id: [{mine}]."


def test_ids_lookup_reports_missing(x: XSandbox, alice: XUser) -> None:
    a = x.create_post("alice", "a")["id"]
    b = x.create_post("alice", "b")["id"]
    missing = "1799999999999999999"
    found = bearer_client(x).get_tweets([a, missing, b])
    assert [t.text for t in found.data] == ["a", "b"]
    assert found.errors == [
        {
            "value": missing,
            "detail": f"Could not find tweet with ids: [{missing}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "ids",
            "resource_id": missing,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
    ]


# -- rate limits -------------------------------------------------------------------------------


def test_rate_limit_headers_and_429(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    first = client.session.get(f"{x.url}/2/users/me", auth=None)  # unsigned: 401, no count
    assert first.status_code == 401
    x.set_rate_limit("POST /2/tweets", 2, window_s=60)
    for n in range(2):
        client.create_tweet(text=f"post {n}")
    calls = x.api_requests("POST", r"^/2/tweets$")
    assert len(calls) == 2
    with pytest.raises(tweepy.TooManyRequests) as exc:
        client.create_tweet(text="one too many")
    response = exc.value.response
    assert response.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert response.headers["x-rate-limit-limit"] == "2"
    assert 0 < exc.value.reset_time - time.time() <= 61
    me = requests.get(
        f"{x.url}/2/users/{alice.id}/tweets",
        timeout=5,
        headers={"Authorization": f"Bearer {x.bearer_token}"},
    )
    assert me.headers["x-rate-limit-remaining"] == "899"


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "extra", "expected"),
    [
        ("status", {"status": 503}, tweepy.TwitterServerError),
        ("rate_limit", {"reset_in": 30}, tweepy.TooManyRequests),
        ("timeout", {"delay": 1.0}, requests.exceptions.ReadTimeout),
        ("malformed", {}, requests.exceptions.JSONDecodeError),
        ("html", {}, tweepy.TwitterServerError),
        ("empty", {}, requests.exceptions.JSONDecodeError),
        ("drop", {}, requests.exceptions.ConnectionError),
        ("drop_after_commit", {}, requests.exceptions.ConnectionError),
    ],
)
def test_fault_kinds_on_post(
    x: XSandbox, alice: XUser, kind: str, extra: dict, expected: type[Exception]
) -> None:
    x.add_fault(kind=kind, method="POST", path=r"^/2/tweets$", **extra)
    client = client_for(x, alice, timeout=0.3)
    with pytest.raises(expected) as exc:
        client.create_tweet(text=f"fault {kind}")
    committed = [p["text"] for p in x.posts("alice")]
    assert committed == ([f"fault {kind}"] if kind == "drop_after_commit" else [])
    if kind == "rate_limit":
        assert exc.value.response.headers["x-rate-limit-remaining"] == "0"
        assert exc.value.response.json()["status"] == 429
    if kind == "status":
        assert exc.value.response.json()["title"] == "Service Unavailable"
    # the fault was used once; the next call goes through
    assert client_for(x, alice).create_tweet(text=f"after {kind}").data["id"]


# -- control API --------------------------------------------------------------------------------


def test_control_api(x: XSandbox) -> None:
    user = requests.post(f"{x.url}/_sandbox/users", json={"username": "carol"}, timeout=5).json()
    assert user["username"] == "carol" and user["consumer_key"] == x.consumer_key
    post = requests.post(
        f"{x.url}/_sandbox/posts", json={"username": "carol", "text": "via control"}, timeout=5
    ).json()
    assert post["author_id"] == user["id"]
    reply = requests.post(
        f"{x.url}/_sandbox/posts",
        timeout=5,
        json={"username": "carol", "text": "r", "in_reply_to_id": post["id"]},
    )
    assert reply.json()["conversation_id"] == post["id"]
    assert requests.delete(f"{x.url}/_sandbox/posts/{post['id']}", timeout=5).ok
    listed = requests.get(
        f"{x.url}/_sandbox/posts", params={"username": "carol", "include_deleted": 1}, timeout=5
    ).json()
    assert [(p["text"], p.get("deleted", False)) for p in listed] == [
        ("via control", True),
        ("r", False),
    ]
    assert x.api_requests() == []  # control calls are not API calls


# -- account-level refusals and 2026 rules, as the real API answers them -------------------


def test_out_of_credits_is_402_credits_depleted(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice, return_type=requests.Response)
    x.set_credits(0.01)
    assert client.create_tweet(text="the last cent", user_auth=True).status_code == 201
    assert x.credits_usd is not None and x.credits_usd < 0  # a balance may go slightly negative
    with pytest.raises(tweepy.HTTPException) as refused:
        client.get_me(user_auth=True)
    response = refused.value.response
    assert response.status_code == 402
    assert response.json() == {
        "title": "Payment Required",
        "detail": "credits depleted",
        "type": "https://api.x.com/2/problems/credits-depleted",
        "status": 402,
    }
    x.set_credits(None)
    assert client.get_me(user_auth=True).status_code == 200


def test_a_read_only_token_reads_and_is_refused_writes(x: XSandbox) -> None:
    reader = x.create_user("reader", access_level="read")
    client = client_for(x, reader, return_type=requests.Response)
    me = client.get_me(user_auth=True)
    assert me.headers["x-access-level"] == "read"
    with pytest.raises(tweepy.Forbidden) as refused:
        client.create_tweet(text="not allowed", user_auth=True)
    body = refused.value.response.json()
    assert body["type"].endswith("/2/problems/oauth1-permissions")
    assert body["detail"] == (
        "Your client app is not configured with the appropriate oauth1 app permissions for "
        "this endpoint."
    )
    assert x.posts("reader") == []


def test_a_read_write_token_says_so(x: XSandbox, bob: XUser) -> None:
    response = client_for(x, bob, return_type=requests.Response).get_me(user_auth=True)
    assert response.headers["x-access-level"] == "read-write"


def test_one_cashtag_per_post(x: XSandbox, bob: XUser) -> None:
    client = client_for(x, bob)
    client.create_tweet(text="$AAPL is up", user_auth=True)
    client.create_tweet(text="$AAPL and $\u2060GOOG, and $5 is no cashtag", user_auth=True)
    with pytest.raises(tweepy.Forbidden) as refused:
        client.create_tweet(text="$AAPL and $GOOG", user_auth=True)
    assert (
        refused.value.response.json()["detail"] == "Posts are limited to a maximum of one cashtag"
    )


def test_a_timeline_can_lag(x: XSandbox, bob: XUser) -> None:
    x.timeline_lag_s = 60
    client = client_for(x, bob)
    client.create_tweet(text="not in the timeline yet", user_auth=True)
    assert client.get_users_tweets(bob.id, user_auth=True).data is None
    x.timeline_lag_s = 0
    assert len(client.get_users_tweets(bob.id, user_auth=True).data) == 1
