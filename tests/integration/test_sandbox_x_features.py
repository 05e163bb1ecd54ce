"""The X sandbox's polls, edits, retweets, quote refusal, possibly_sensitive, batch lookup and
referenced-tweet expansions, driven by the real tweepy.Client (and its public ``request`` for
what tweepy has no wrapper for, such as edits)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import tweepy

from birdbridge.sandbox.x import (
    ALREADY_RETWEETED_DETAIL,
    EDIT_DELETED_DETAIL,
    EDIT_FORBIDDEN_DETAIL,
    EDIT_LIMIT_DETAIL,
    EDIT_NOT_ELIGIBLE_DETAIL,
    EDIT_NOT_LATEST_DETAIL,
    EDIT_POLL_DETAIL,
    EDIT_PREMIUM_DETAIL,
    EDIT_WINDOW_DETAIL,
    QUOTE_NOT_ENROLLED_DETAIL,
    RETWEET_DELETED_DETAIL,
    RETWEET_OTHER_USER_DETAIL,
    EditRefused,
    XSandbox,
    XUser,
)

PROBLEMS = "https://api.twitter.com/2/problems/"
INVALID = {
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": PROBLEMS + "invalid-request",
}


class RecordingSession(requests.Session):
    """tweepy hard-codes https://api.twitter.com; send its calls to the sandbox (api-notes X3)
    and keep the JSON bodies it sends."""

    def __init__(self, base: str, timeout: float = 5.0) -> None:
        super().__init__()
        self.base, self.timeout = base, timeout
        self.sent: list[tuple[str, str, Any]] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        for prefix in ("https://api.twitter.com", "https://api.x.com"):
            if url.startswith(prefix):
                url = self.base + url[len(prefix) :]
                break
        kwargs.setdefault("timeout", self.timeout)
        self.sent.append((method, url, kwargs.get("json")))
        return super().request(method, url, *args, **kwargs)


def client_for(x: XSandbox, user: XUser, **kwargs: Any) -> tweepy.Client:
    client = tweepy.Client(
        consumer_key=user.consumer_key,
        consumer_secret=user.consumer_secret,
        access_token=user.access_token,
        access_token_secret=user.access_token_secret,
        **kwargs,
    )
    client.session = RecordingSession(x.url)
    return client


def bearer_client(x: XSandbox) -> tweepy.Client:
    client = tweepy.Client(bearer_token=x.bearer_token)
    client.session = RecordingSession(x.url)
    return client


def forbidden(detail: str) -> dict[str, Any]:
    return {"title": "Forbidden", "detail": detail, "type": "about:blank", "status": 403}


def invalid(parameter: str, values: list[str], message: str) -> dict[str, Any]:
    return {"errors": [{"parameters": {parameter: values}, "message": message}], **INVALID}


def call(
    client: tweepy.Client, method: str, route: str, body: Any = None, **params: str
) -> requests.Response:
    """A request signed by tweepy's public ``Client.request`` (api-notes X1), whose response
    is returned also when tweepy raises for its status."""
    try:
        return client.request(method, route, params=params, json=body, user_auth=True)
    except tweepy.HTTPException as exc:
        return exc.response


def post(client: tweepy.Client, body: dict[str, Any]) -> requests.Response:
    """POST /2/tweets with a body tweepy cannot build (edit_options)."""
    return call(client, "POST", "/2/tweets", body)


def edit(client: tweepy.Client, previous_id: str, text: str, **extra: Any) -> requests.Response:
    return post(client, {"text": text, "edit_options": {"previous_post_id": previous_id}, **extra})


@pytest.fixture
def x() -> Iterator[XSandbox]:
    with XSandbox() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def alice(x: XSandbox) -> XUser:
    return x.create_user("alice", "Alice", premium=True)


@pytest.fixture
def bob(x: XSandbox) -> XUser:
    return x.create_user("bob")


# -- polls -------------------------------------------------------------------------------


def test_poll_from_tweepy_create_tweet(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    created = client.create_tweet(
        text="Lunch?", poll_options=["pizza", "sushi", "salad"], poll_duration_minutes=60
    )
    assert client.session.sent[-1][2] == {
        "text": "Lunch?",
        "poll": {"options": ["pizza", "sushi", "salad"], "duration_minutes": 60},
    }
    tweet_id = created.data["id"]
    got = client.get_tweet(
        tweet_id,
        user_auth=True,
        tweet_fields=["attachments", "created_at"],
        expansions=["attachments.poll_ids"],
        poll_fields=["duration_minutes", "end_datetime", "voting_status", "options", "id"],
    )
    (poll,) = got.includes["polls"]
    assert isinstance(poll, tweepy.Poll)
    assert got.data.attachments == {"poll_ids": [poll.id]}
    assert poll.options == [
        {"position": 1, "label": "pizza", "votes": 0},
        {"position": 2, "label": "sushi", "votes": 0},
        {"position": 3, "label": "salad", "votes": 0},
    ]
    assert poll.duration_minutes == 60
    assert poll.voting_status == "open"
    assert poll.end_datetime - got.data.created_at == timedelta(minutes=60)
    assert poll.id.isdigit() and poll.id != tweet_id


def test_poll_default_fields_and_timeline(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice, return_type=dict)
    client.create_tweet(
        text="Tea or coffee?", poll_options=["tea", "coffee"], poll_duration_minutes=5
    )
    page = client.get_users_tweets(alice.id, user_auth=True, expansions=["attachments.poll_ids"])
    (poll,) = page["includes"]["polls"]
    assert set(poll) == {"id", "options"}  # the rest only per poll.fields
    assert "attachments" not in page["data"][0]  # only with tweet.fields=attachments
    plain = client.get_users_tweets(alice.id, user_auth=True)
    assert "includes" not in plain


def test_closed_poll_with_votes_from_the_control_api(x: XSandbox, alice: XUser) -> None:
    body = {
        "username": "alice",
        "text": "Old poll",
        "created_at": "2024-01-01T10:00:00Z",
        "poll": {"options": ["yes", "no"], "duration_minutes": 1440, "votes": [7, 3]},
    }
    created = requests.post(f"{x.url}/_sandbox/posts", json=body, timeout=5)
    assert created.status_code == 201
    poll_id = created.json()["attachments"]["poll_ids"][0]
    got = client_for(x, alice, return_type=dict).get_tweet(
        created.json()["id"],
        user_auth=True,
        expansions=["attachments.poll_ids"],
        poll_fields=["voting_status", "end_datetime", "duration_minutes"],
    )
    assert got["includes"]["polls"] == [
        {
            "id": poll_id,
            "options": [
                {"position": 1, "label": "yes", "votes": 7},
                {"position": 2, "label": "no", "votes": 3},
            ],
            "duration_minutes": 1440,
            "end_datetime": "2024-01-02T10:00:00.000Z",
            "voting_status": "closed",
        }
    ]
    bad = requests.post(
        f"{x.url}/_sandbox/posts",
        json={
            "username": "alice",
            "text": "p",
            "poll": {"options": ["one"], "duration_minutes": 5},
        },
        timeout=5,
    )
    assert bad.status_code == 422
    assert "minimum of 2" in bad.json()["error"]
    with pytest.raises(ValueError, match="one count"):
        x.create_post(
            "alice", "p", poll={"options": ["a", "b"], "duration_minutes": 5, "votes": [1]}
        )


@pytest.mark.parametrize(
    ("poll", "parameter", "values", "message"),
    [
        (
            {"options": ["only"], "duration_minutes": 60},
            "poll.options",
            ["only"],
            "$.poll.options: there must be a minimum of 2 items in the array",
        ),
        (
            {"options": list("abcde"), "duration_minutes": 60},
            "poll.options",
            list("abcde"),
            "$.poll.options: there must be a maximum of 4 items in the array",
        ),
        (
            {"options": ["a", ""], "duration_minutes": 60},
            "poll.options",
            ["a", ""],
            "$.poll.options[1]: must be at least 1 characters long",
        ),
        (
            {"options": ["a", "x" * 26], "duration_minutes": 60},
            "poll.options",
            ["a", "x" * 26],
            "$.poll.options[1]: may only be 25 characters long",
        ),
        (
            {"options": ["a", "b"], "duration_minutes": 4},
            "poll.duration_minutes",
            ["4"],
            "$.poll.duration_minutes: must have a minimum value of 5",
        ),
        (
            {"options": ["a", "b"], "duration_minutes": 10081},
            "poll.duration_minutes",
            ["10081"],
            "$.poll.duration_minutes: must have a maximum value of 10080",
        ),
        (
            {"options": ["a", "b"]},
            "poll.duration_minutes",
            [],
            "$.poll.duration_minutes: is missing but it is required",
        ),
    ],
)
def test_poll_limits(
    x: XSandbox, alice: XUser, poll: dict, parameter: str, values: list[str], message: str
) -> None:
    client = client_for(x, alice)
    with pytest.raises(tweepy.BadRequest) as exc:
        client.create_tweet(
            text="poll",
            poll_options=poll["options"],
            poll_duration_minutes=poll.get("duration_minutes"),
        )
    assert exc.value.response.json() == invalid(parameter, values, message)
    assert x.posts("alice") == []
    # the boundaries themselves are fine
    for options, minutes in ((["a", "b"], 5), (["a", "b", "c", "x" * 25], 10080)):
        assert client.create_tweet(
            text=f"ok {minutes}", poll_options=options, poll_duration_minutes=minutes
        )


def test_poll_excludes_media_and_quote(x: XSandbox, alice: XUser) -> None:
    x.quotes_allowed = True  # the exclusion is a 400 before any 403
    quoted = x.create_post("alice", "quote me")["id"]
    media = x.create_post("alice", "with media", media=[{"type": "photo", "data": b"\xff\xd8\xff"}])
    media_id = media["attachments"]["media_keys"][0].split("_", 1)[1]
    client = client_for(x, alice)
    poll = {"options": ["a", "b"], "duration_minutes": 30}
    for other, value in (("quote_tweet_id", quoted), ("media", {"media_ids": [media_id]})):
        response = post(client, {"text": "both", "poll": poll, other: value})
        assert response.status_code == 400
        assert response.json() == invalid(
            "poll", [other], f"$.poll: is mutually exclusive with $.{other}"
        )
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(
            text="both", poll_options=["a", "b"], poll_duration_minutes=30, quote_tweet_id=quoted
        )


def test_unknown_poll_field_is_invalid_request(x: XSandbox, alice: XUser) -> None:
    raw = requests.get(
        f"{x.url}/2/users/{alice.id}/tweets",
        params={"poll.fields": "id,votes"},
        headers={"Authorization": f"Bearer {x.bearer_token}"},
        timeout=5,
    )
    assert raw.status_code == 400
    assert raw.json() == invalid(
        "poll.fields",
        ["votes"],
        "The `poll.fields` query parameter value [votes] is not one of "
        "[duration_minutes,end_datetime,id,options,voting_status]",
    )


# -- edits ---------------------------------------------------------------------------------


def test_edit_creates_a_new_version(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    first = client.create_tweet(text="helo world").data["id"]
    response = edit(client, first, "hello world")
    assert response.status_code == 201
    second = response.json()["data"]["id"]
    assert response.json() == {
        "data": {"id": second, "text": "hello world", "edit_history_tweet_ids": [first, second]}
    }
    assert client.session.sent[-1][2] == {
        "text": "hello world",
        "edit_options": {"previous_post_id": first},
    }
    assert int(second) > int(first)

    # the timeline shows only the newest version, at its new id: since_id polling sees it
    timeline = client.get_users_tweets(alice.id, user_auth=True)
    assert [(str(t.id), t.text) for t in timeline.data] == [(second, "hello world")]
    newer = client.get_users_tweets(alice.id, user_auth=True, since_id=first)
    assert [str(t.id) for t in newer.data] == [second]
    assert newer.data[0].data["edit_history_tweet_ids"] == [first, second]

    # the older version stays readable at its own id, with the whole chain
    old = client.get_tweet(first, user_auth=True).data
    assert (old.text, old.data["edit_history_tweet_ids"]) == ("helo world", [first, second])
    both = bearer_client(x).get_tweets([first, second])
    assert [t.text for t in both.data] == ["helo world", "hello world"]
    assert all(t.data["edit_history_tweet_ids"] == [first, second] for t in both.data)

    # edit_controls and the edit_history_tweet_ids expansion
    got = client_for(x, alice, return_type=dict).get_tweet(
        second,
        user_auth=True,
        tweet_fields=["edit_controls", "created_at"],
        expansions=["edit_history_tweet_ids"],
    )
    controls = got["data"]["edit_controls"]
    assert controls["edits_remaining"] == 4
    assert controls["is_edit_eligible"] is True
    created = datetime.fromisoformat(x.get_post(first)["created_at"].replace("Z", "+00:00"))
    until = datetime.fromisoformat(controls["editable_until"].replace("Z", "+00:00"))
    assert abs(until - created - timedelta(minutes=30)) < timedelta(milliseconds=2)
    assert [t["id"] for t in got["includes"]["tweets"]] == [first]
    assert got["includes"]["tweets"][0]["edit_controls"] == controls

    # the control API lists versions on request
    assert [p["id"] for p in x.posts("alice")] == [second]
    assert [p["id"] for p in x.posts("alice", include_superseded=True)] == [first, second]
    listed = requests.get(
        f"{x.url}/_sandbox/posts",
        params={"username": "alice", "include_superseded": "1"},
        timeout=5,
    ).json()
    assert [p["text"] for p in listed] == ["helo world", "hello world"]


def test_edit_refusals(x: XSandbox, alice: XUser, bob: XUser) -> None:
    client = client_for(x, alice)
    mine = client.create_tweet(text="mine").data["id"]
    # not X Premium
    bobs = x.create_post("bob", "bob's")["id"]
    response = edit(client_for(x, bob), bobs, "bob's, edited")
    assert (response.status_code, response.json()) == (403, forbidden(EDIT_PREMIUM_DETAIL))
    # someone else's post
    response = edit(client, bobs, "hijack")
    assert (response.status_code, response.json()) == (403, forbidden(EDIT_FORBIDDEN_DETAIL))
    # unknown and deleted posts
    gone = x.create_post("alice", "gone")["id"]
    x.delete_post(gone)
    for missing in ("1799999999999999999", gone):
        response = edit(client, missing, "too late")
        assert (response.status_code, response.json()) == (403, forbidden(EDIT_DELETED_DETAIL))
    # only the newest version
    edited = edit(client, mine, "mine v2").json()["data"]["id"]
    response = edit(client, mine, "mine v2 again")
    assert (response.status_code, response.json()) == (403, forbidden(EDIT_NOT_LATEST_DETAIL))
    assert edit(client, edited, "mine v3").status_code == 201
    # nothing refused was stored
    assert [p["text"] for p in x.posts("alice", include_superseded=True)] == [
        "mine",
        "mine v2",
        "mine v3",
    ]
    assert [p["text"] for p in x.posts("bob")] == ["bob's"]


def test_edit_schema_errors(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    first = client.create_tweet(text="schema").data["id"]
    response = post(client, {"text": "x", "edit_options": {"previous_tweet_id": first}})
    assert response.status_code == 400
    assert response.json() == invalid(
        "edit_options.previous_tweet_id",
        [first],
        "$.edit_options.previous_tweet_id: is not defined in the schema and the schema does "
        "not allow additional properties",
    )
    response = post(client, {"text": "x", "edit_options": {}})
    assert response.json() == invalid(
        "edit_options.previous_post_id",
        [],
        "$.edit_options.previous_post_id: is missing but it is required",
    )
    response = post(client, {"text": "x", "edit_options": {"previous_post_id": "abc"}})
    assert response.json()["errors"][0]["message"] == (
        "$.edit_options.previous_post_id: does not match the regex pattern ^[0-9]{1,19}$"
    )


def test_edit_window() -> None:
    with XSandbox() as x:
        user = x.create_user("alice", premium=True)
        client = client_for(x, user)
        old = x.create_post("alice", "old", created_at=datetime.now(UTC) - timedelta(minutes=31))
        response = edit(client, old["id"], "old, edited")
        assert (response.status_code, response.json()) == (403, forbidden(EDIT_WINDOW_DETAIL))
        with pytest.raises(EditRefused) as exc:
            x.edit_post(old["id"], "old, edited in the app")
        assert exc.value.detail == EDIT_WINDOW_DETAIL
        fresh = x.create_post(
            "alice", "fresh", created_at=datetime.now(UTC) - timedelta(minutes=29)
        )
        assert edit(client, fresh["id"], "fresh, edited").status_code == 201
    with XSandbox(edit_window_s=2.0) as x:  # the window counts from the original post
        user = x.create_user("alice", premium=True)
        client = client_for(x, user)
        v1 = client.create_tweet(text="v1").data["id"]
        time.sleep(1.2)
        v2 = edit(client, v1, "v2").json()["data"]["id"]
        time.sleep(1.0)
        response = edit(client, v2, "v3")  # v2 is 1 s old, but v1 is over 2 s old
        assert (response.status_code, response.json()) == (403, forbidden(EDIT_WINDOW_DETAIL))
    with XSandbox(edit_window_s=3600) as x:  # the changelog's one hour
        user = x.create_user("alice", premium=True)
        old = x.create_post("alice", "old", created_at=datetime.now(UTC) - timedelta(minutes=31))
        assert edit(client_for(x, user), old["id"], "old, edited").status_code == 201


def test_at_most_five_edits(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice, return_type=dict)
    current = client.create_tweet(text="v0")["data"]["id"]
    remaining = []
    for n in range(1, 6):
        current = edit(client, current, f"v{n}").json()["data"]["id"]
        got = client.get_tweet(current, user_auth=True, tweet_fields=["edit_controls"])
        remaining.append(got["data"]["edit_controls"]["edits_remaining"])
    assert remaining == [4, 3, 2, 1, 0]
    response = edit(client, current, "v6")
    assert (response.status_code, response.json()) == (403, forbidden(EDIT_LIMIT_DETAIL))
    chain = x.get_post(current)
    assert chain is not None and len(chain["edit_history_tweet_ids"]) == 6


def test_what_cannot_be_edited(x: XSandbox, alice: XUser, bob: XUser) -> None:
    client = client_for(x, alice)
    poll = client.create_tweet(text="vote", poll_options=["a", "b"], poll_duration_minutes=10).data
    response = edit(client, poll["id"], "vote!")
    assert (response.status_code, response.json()) == (403, forbidden(EDIT_POLL_DETAIL))
    plain = client.create_tweet(text="no poll yet").data["id"]
    response = edit(
        client, plain, "now a poll", poll={"options": ["a", "b"], "duration_minutes": 10}
    )
    assert (response.status_code, response.json()) == (403, forbidden(EDIT_POLL_DETAIL))
    # a reply to someone else cannot be edited, a self-thread reply can
    bobs = x.create_post("bob", "hi @alice")["id"]
    reply = client.create_tweet(text="hi bob", in_reply_to_tweet_id=bobs).data["id"]
    response = edit(client, reply, "hi Bob")
    assert (response.status_code, response.json()) == (403, forbidden(EDIT_NOT_ELIGIBLE_DETAIL))
    got = client_for(x, alice, return_type=dict).get_tweet(
        reply, user_auth=True, tweet_fields=["edit_controls"]
    )
    assert got["data"]["edit_controls"]["is_edit_eligible"] is False
    thread = client.create_tweet(text="2/2", in_reply_to_tweet_id=plain).data["id"]
    response = edit(client, thread, "2/2 (fixed)", reply={"in_reply_to_tweet_id": plain})
    assert response.status_code == 201
    new = x.get_post(response.json()["data"]["id"])
    assert new is not None
    assert new["referenced_tweets"] == [{"type": "replied_to", "id": plain}]
    assert new["conversation_id"] == plain
    # the reply cannot be changed by an edit
    response = edit(client, new["id"], "moved", reply={"in_reply_to_tweet_id": bobs})
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameters"] == {"reply.in_reply_to_tweet_id": [bobs]}
    # a retweet cannot be edited
    x.retweet_reply_id = True  # the newest spec's reply shape: with the retweet's own id
    retweet = client.retweet(bobs).data["rest_id"]
    assert edit(client, retweet, "rt").json() == forbidden(EDIT_NOT_ELIGIBLE_DETAIL)


def test_deleting_any_version_deletes_the_chain(x: XSandbox, alice: XUser) -> None:
    client = client_for(x, alice)
    first = client.create_tweet(text="v1").data["id"]
    second = edit(client, first, "v2").json()["data"]["id"]
    third = edit(client, second, "v3").json()["data"]["id"]
    assert client.delete_tweet(first).data == {"deleted": True}
    for version in (first, second, third):
        assert x.get_post(version) is None
        gone = client.get_tweet(version, user_auth=True)
        assert gone.data is None and gone.errors[0]["resource_id"] == version
    assert client.get_users_tweets(alice.id, user_auth=True).data is None
    with pytest.raises(tweepy.NotFound):
        client.delete_tweet(third)
    # the control API's delete does the same
    one = x.create_post("alice", "one")["id"]
    two = x.edit_post(one, "two")["id"]
    assert requests.delete(f"{x.url}/_sandbox/posts/{two}", timeout=5).ok
    assert x.get_post(one) is None and x.get_post(two) is None


def test_edit_from_the_app(x: XSandbox, bob: XUser) -> None:
    # no Premium needed in the app; media, quote and sensitivity are kept
    quoted = x.create_post("bob", "quoted")["id"]
    original = x.create_post(
        "bob",
        "look",
        quote_id=quoted,
        sensitive=True,
        media=[{"type": "photo", "data": b"\xff\xd8\xff", "alt_text": "a dot"}],
    )
    edited = x.edit_post(original["id"], "look at this")
    assert edited["id"] != original["id"]
    assert edited["edit_history_tweet_ids"] == [original["id"], edited["id"]]
    assert edited["text"].startswith("look at this https://t.co/")
    assert edited["attachments"] == original["attachments"]
    assert edited["referenced_tweets"] == [{"type": "quoted", "id": quoted}]
    assert edited["possibly_sensitive"] is True
    assert edited["edit_controls"]["edits_remaining"] == 4
    # over HTTP
    response = requests.post(
        f"{x.url}/_sandbox/posts/{edited['id']}/edit", json={"text": "look at this!"}, timeout=5
    )
    assert response.status_code == 201
    third = response.json()
    assert third["edit_history_tweet_ids"] == [original["id"], edited["id"], third["id"]]
    stale = requests.post(
        f"{x.url}/_sandbox/posts/{edited['id']}/edit", json={"text": "again"}, timeout=5
    )
    assert (stale.status_code, stale.json()) == (422, {"error": EDIT_NOT_LATEST_DETAIL})
    missing = requests.post(
        f"{x.url}/_sandbox/posts/1799999999999999999/edit", json={"text": "?"}, timeout=5
    )
    assert missing.status_code == 404
    with pytest.raises(KeyError):
        x.edit_post("1799999999999999999", "?")
    poll = x.create_post("bob", "vote", poll={"options": ["a", "b"], "duration_minutes": 5})
    with pytest.raises(EditRefused, match="polls"):
        x.edit_post(poll["id"], "vote!")
    assert x.api_requests() == []  # control calls are not API calls


def test_api_edit_builds_the_version_from_the_request(
    x: XSandbox, alice: XUser, bob: XUser
) -> None:
    original = x.create_post("alice", "pic", media=[{"type": "photo", "data": b"\xff\xd8\xff"}])
    client = client_for(x, alice)
    bare = edit(client, original["id"], "pic, no media sent").json()["data"]
    got = x.get_post(bare["id"])
    assert got is not None and "attachments" not in got
    assert bare["text"] == "pic, no media sent"
    # a quote post keeps its quote when edited, even where apps cannot create quotes
    quoted = x.create_post("bob", "quoted")["id"]
    quote = x.create_post("alice", "my take", quote_id=quoted)["id"]
    response = edit(client, quote, "my better take")
    assert response.status_code == 201
    again = edit(client, response.json()["data"]["id"], "my best take", quote_tweet_id=quoted)
    assert again.status_code == 201
    got = x.get_post(again.json()["data"]["id"])
    assert got is not None and got["referenced_tweets"] == [{"type": "quoted", "id": quoted}]


# -- retweets ------------------------------------------------------------------------------


def test_the_retweet_reply_has_no_id_by_default(x: XSandbox, alice: XUser) -> None:
    """The manage-retweets guide's reply: {"data": {"retweeted": true}}, no id."""
    source = x.create_post("alice", "worth sharing")["id"]
    assert client_for(x, alice).retweet(source).data == {"retweeted": True}


def test_retweet_with_tweepy(x: XSandbox, alice: XUser, bob: XUser) -> None:
    assert alice.access_token.startswith(f"{alice.id}-")  # tweepy reads the user id from it
    x.retweet_reply_id = True  # the newest spec's reply shape: with the retweet's own id
    source = x.create_post("bob", "worth sharing")["id"]
    client = client_for(x, alice)
    done = client.retweet(source)
    assert client.session.sent[-1][:2] == ("POST", f"{x.url}/2/users/{alice.id}/retweets")
    assert client.session.sent[-1][2] == {"tweet_id": source}
    rest_id = done.data["rest_id"]
    assert done.data == {"retweeted": True, "rest_id": rest_id}
    timeline = client_for(x, alice, return_type=dict).get_users_tweets(
        alice.id,
        user_auth=True,
        tweet_fields=["referenced_tweets", "author_id"],
        expansions=["referenced_tweets.id", "referenced_tweets.id.author_id"],
    )
    assert [t["id"] for t in timeline["data"]] == [rest_id]
    assert timeline["data"][0]["text"] == "RT @bob: worth sharing"
    assert timeline["data"][0]["referenced_tweets"] == [{"type": "retweeted", "id": source}]
    assert [t["id"] for t in timeline["includes"]["tweets"]] == [source]
    assert timeline["includes"]["users"] == [{"id": bob.id, "name": "bob", "username": "bob"}]
    without = client.get_users_tweets(alice.id, user_auth=True, exclude=["retweets"])
    assert without.data is None

    # twice: refused
    with pytest.raises(tweepy.Forbidden) as exc:
        client.retweet(source)
    assert exc.value.response.json() == forbidden(ALREADY_RETWEETED_DETAIL)
    # a retweet of the retweet is a retweet of the original: also already done
    with pytest.raises(tweepy.Forbidden):
        client.retweet(rest_id)

    # undo, then undo again (no action, still succeeds), then retweet again
    assert client.unretweet(source).data == {"retweeted": False}
    assert client.session.sent[-1][:2] == (
        "DELETE",
        f"{x.url}/2/users/{alice.id}/retweets/{source}",
    )
    assert client.get_users_tweets(alice.id, user_auth=True).data is None
    assert client.unretweet(source).data == {"retweeted": False}
    again = client.retweet(source).data["rest_id"]
    assert again != rest_id
    listed = x.posts("alice", include_deleted=True)
    assert [(p["id"], p.get("deleted", False)) for p in listed] == [(rest_id, True), (again, False)]


def test_retweet_refusals(x: XSandbox, alice: XUser, bob: XUser) -> None:
    client = client_for(x, alice)
    source = x.create_post("bob", "hello")["id"]
    # :id must be the authenticating user
    for method, path, body in (
        ("POST", f"/2/users/{bob.id}/retweets", {"tweet_id": source}),
        ("DELETE", f"/2/users/{bob.id}/retweets/{source}", None),
    ):
        response = call(client, method, path, body)
        assert (response.status_code, response.json()) == (
            403,
            forbidden(RETWEET_OTHER_USER_DETAIL),
        )
    # unknown or deleted post
    gone = x.create_post("bob", "gone")["id"]
    x.delete_post(gone)
    for target in (gone, "1799999999999999999"):
        with pytest.raises(tweepy.Forbidden) as exc:
            client.retweet(target)
        assert exc.value.response.json() == forbidden(RETWEET_DELETED_DETAIL)
    # schema
    response = call(client, "POST", f"/2/users/{alice.id}/retweets", {})
    assert response.json() == invalid("tweet_id", [], "$.tweet_id: is missing but it is required")
    # app-only auth cannot retweet
    raw = requests.post(
        f"{x.url}/2/users/{alice.id}/retweets",
        json={"tweet_id": source},
        headers={"Authorization": f"Bearer {x.bearer_token}"},
        timeout=5,
    )
    assert raw.status_code == 403
    assert raw.json()["type"] == PROBLEMS + "unsupported-authentication"


def test_retweet_rate_limits(x: XSandbox, alice: XUser, bob: XUser) -> None:
    """Per user, 50 per 15 min for each of the two endpoints (XD:…/rate-limits.mdx)."""
    client = client_for(x, alice)
    source = x.create_post("bob", "hello")["id"]
    for method, path, body in (
        ("POST", f"/2/users/{alice.id}/retweets", {"tweet_id": source}),
        ("DELETE", f"/2/users/{alice.id}/retweets/{source}", None),
    ):
        response = call(client, method, path, body)
        assert response.ok
        assert response.headers["x-rate-limit-limit"] == "50"
        assert response.headers["x-rate-limit-remaining"] == "49"
    x.set_rate_limit("POST /2/users/:id/retweets", 1, window_s=60)
    client.retweet(source)
    client.unretweet(source)
    with pytest.raises(tweepy.TooManyRequests):
        client.retweet(source)


def test_retweets_go_with_their_original(x: XSandbox, alice: XUser) -> None:
    source = x.create_post("alice", "mine")["id"]
    bob = x.create_user("bobby")
    x.retweet_reply_id = True
    rest_id = client_for(x, bob).retweet(source).data["rest_id"]
    x.delete_post(source)
    assert x.get_post(rest_id) is None
    assert client_for(x, bob).get_users_tweets(bob.id, user_auth=True).data is None


# -- quotes ------------------------------------------------------------------------------------


def test_quotes_refused_for_self_serve_apps(x: XSandbox, alice: XUser) -> None:
    quoted = x.create_post("alice", "quote me")["id"]
    with pytest.raises(tweepy.Forbidden) as exc:
        client_for(x, alice).create_tweet(text="my take", quote_tweet_id=quoted)
    assert exc.value.response.json() == {
        "title": "Client Forbidden",
        "detail": QUOTE_NOT_ENROLLED_DETAIL,
        "type": PROBLEMS + "client-forbidden",
        "status": 403,
        "reason": "client-not-enrolled",
        "required_enrollment": "Enterprise",
    }
    assert [p["id"] for p in x.posts("alice")] == [quoted]
    # the user can still quote in the app
    made = requests.post(
        f"{x.url}/_sandbox/posts",
        json={"username": "alice", "text": "quoting in the app", "quote_id": quoted},
        timeout=5,
    ).json()
    assert made["referenced_tweets"] == [{"type": "quoted", "id": quoted}]


def test_quotes_allowed_and_expansions() -> None:
    with XSandbox(quotes_allowed=True) as x:
        alice = x.create_user("alice")
        bob = x.create_user("bob", "Bob B.")
        quoted = x.create_post("bob", "original")["id"]
        client = client_for(x, alice, return_type=dict)
        mine = client.create_tweet(text="my take", quote_tweet_id=quoted)["data"]["id"]
        got = client.get_tweet(
            mine,
            user_auth=True,
            tweet_fields=["referenced_tweets", "author_id"],
            user_fields=["created_at"],
            expansions=["referenced_tweets.id", "referenced_tweets.id.author_id"],
        )
        assert got["data"]["referenced_tweets"] == [{"type": "quoted", "id": quoted}]
        assert got["includes"]["tweets"] == [
            {
                "id": quoted,
                "text": "original",
                "edit_history_tweet_ids": [quoted],
                "author_id": bob.id,
            }
        ]
        assert got["includes"]["users"] == [
            {
                "id": bob.id,
                "name": "Bob B.",
                "username": "bob",
                "created_at": "2020-01-01T00:00:00.000Z",
            }
        ]
        x.delete_post(quoted)
        with pytest.raises(tweepy.Forbidden) as exc:  # quoting a deleted post
            client.create_tweet(text="late take", quote_tweet_id=quoted)
        assert "deleted or not visible" in exc.value.response.json()["detail"]
        # the quote stays; its gone original is reported in `errors`, as X does
        after = client.get_tweet(mine, user_auth=True, expansions=["referenced_tweets.id"])
        assert after["data"]["id"] == mine
        assert "includes" not in after
        assert after["errors"] == [
            {
                "value": quoted,
                "detail": f"Could not find tweet with referenced_tweets.id: [{quoted}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "referenced_tweets.id",
                "resource_id": quoted,
                "type": PROBLEMS + "resource-not-found",
            }
        ]


def test_tweepy_objects_for_referenced_tweets(x: XSandbox, alice: XUser, bob: XUser) -> None:
    source = x.create_post("bob", "source")["id"]
    x.create_post("alice", "quoting", quote_id=source)
    x.create_post("alice", "", retweet_of=source)
    page = client_for(x, alice).get_users_tweets(
        alice.id,
        user_auth=True,
        expansions=["referenced_tweets.id", "referenced_tweets.id.author_id", "author_id"],
    )
    assert [t.text for t in page.data] == ["RT @bob: source", "quoting"]
    assert [str(t.id) for t in page.includes["tweets"]] == [source]
    assert sorted(u.username for u in page.includes["users"]) == ["alice", "bob"]


# -- possibly_sensitive -------------------------------------------------------------------------


def test_possibly_sensitive(x: XSandbox, alice: XUser) -> None:
    hot = x.create_post("alice", "spicy", sensitive=True)["id"]
    cold = requests.post(
        f"{x.url}/_sandbox/posts", json={"username": "alice", "text": "mild"}, timeout=5
    ).json()["id"]
    warm = requests.post(
        f"{x.url}/_sandbox/posts",
        json={"username": "alice", "text": "warm", "sensitive": True},
        timeout=5,
    ).json()["id"]
    found = bearer_client(x).get_tweets([hot, cold, warm], tweet_fields=["possibly_sensitive"])
    assert [t.possibly_sensitive for t in found.data] == [True, False, True]
    plain = bearer_client(x).get_tweets([hot])
    assert "possibly_sensitive" not in plain.data[0].data


# -- batch lookup ------------------------------------------------------------------------


def test_batch_lookup_contract(x: XSandbox, alice: XUser) -> None:
    a = x.create_post("alice", "a")["id"]
    deleted = x.create_post("alice", "deleted")["id"]
    x.delete_post(deleted)
    b = x.create_post("alice", "b")["id"]
    unknown = "1799999999999999999"
    app = bearer_client(x)
    app.return_type = dict
    found = app.get_tweets([a, deleted, b, unknown])
    assert [t["text"] for t in found["data"]] == ["a", "b"]
    assert found["errors"] == [
        {
            "value": value,
            "detail": f"Could not find tweet with ids: [{value}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "ids",
            "resource_id": value,
            "type": PROBLEMS + "resource-not-found",
        }
        for value in (deleted, unknown)
    ]
    only_missing = app.get_tweets([unknown])
    assert set(only_missing) == {"errors"}

    too_many = [str(1800000000000000000 + n) for n in range(101)]
    raw = requests.get(
        f"{x.url}/2/tweets",
        params={"ids": ",".join(too_many)},
        headers={"Authorization": f"Bearer {x.bearer_token}"},
        timeout=5,
    )
    assert raw.status_code == 400
    assert raw.json() == invalid(
        "ids",
        [",".join(too_many)],
        "The number of values in the `ids` query parameter list [101] is not between 1 and 100",
    )
    assert app.get_tweets(too_many[:100]).get("errors")  # 100 is fine
    bad = requests.get(
        f"{x.url}/2/tweets",
        params={"ids": f"{a},nope"},
        headers={"Authorization": f"Bearer {x.bearer_token}"},
        timeout=5,
    )
    assert bad.json() == invalid(
        "ids", ["nope"], "The `ids` query parameter value [nope] is not valid"
    )


def test_batch_lookup_is_billed_and_limited_per_call(x: XSandbox, alice: XUser) -> None:
    ids = [x.create_post("alice", f"p{n}")["id"] for n in range(3)]
    client = client_for(x, alice)
    before = len(x.api_requests("GET", r"^/2/tweets$"))
    response = call(client, "GET", "/2/tweets", ids=",".join(ids))
    assert len(x.api_requests("GET", r"^/2/tweets$")) == before + 1  # one call, three posts
    assert response.headers["x-rate-limit-limit"] == "5000"  # XD:…/rate-limits.mdx, per user
    assert response.headers["x-rate-limit-remaining"] == "4999"
    x.set_rate_limit("GET /2/tweets", 1, window_s=60)
    client.get_tweets(ids, user_auth=True)
    with pytest.raises(tweepy.TooManyRequests) as exc:
        client.get_tweets(ids, user_auth=True)
    assert 0 < exc.value.reset_time - time.time() <= 61
    # other endpoints keep their own windows
    assert client.get_tweet(ids[0], user_auth=True).data.text == "p0"
