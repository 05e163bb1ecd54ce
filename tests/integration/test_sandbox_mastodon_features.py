"""Polls, boosts, quotes, batch lookup, edits and their history in the Mastodon sandbox, checked
over real HTTP with the real Mastodon.py client.

Expected bodies and codes come from mastodon/mastodon and docs.joinmastodon.org (named next
to each assertion): Api::V1::StatusesController, PostStatusService, UpdateStatusService,
ReblogService, Poll and its validators (polls.errors.* in config/locales/en.yml, attribute
names in config/locales/activerecord.en.yml), REST::*Serializer, docs client/quotes.md and
methods/statuses.md.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from mastodon import MastodonAPIError, MastodonNotFoundError

from birdbridge.sandbox.mastodon import MastodonSandbox, MastodonUser, api_version_for
from tests.integration.test_sandbox_mastodon import auth, client

_names = itertools.count(1)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)
POLL_KEYS = {
    "id",
    "expires_at",
    "expired",
    "multiple",
    "votes_count",
    "voters_count",
    "options",
    "emojis",
    "voted",
    "own_votes",
}
STATUS_EDIT_KEYS = {
    "content",
    "spoiler_text",
    "sensitive",
    "created_at",
    "account",
    "media_attachments",
    "emojis",
}
QUOTE_NOT_FOUND = "The post you are trying to quote does not appear to exist."
NOT_MENTIONED = "Validation failed: Cannot quote a non-mentioned user in a Private Mention post."


@pytest.fixture(scope="module")
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


@pytest.fixture(scope="module")
def sandbox45() -> Iterator[MastodonSandbox]:
    with MastodonSandbox(version="4.5.0") as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(sandbox: MastodonSandbox, sandbox45: MastodonSandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()
    sandbox.set_version("4.3.0")
    sandbox45.clear_faults()
    sandbox45.set_version("4.5.0")


def new_user(sandbox: MastodonSandbox, prefix: str = "feat") -> MastodonUser:
    return sandbox.create_user(f"{prefix}{next(_names)}")


def post(sandbox: MastodonSandbox, user: MastodonUser, **body: object) -> requests.Response:
    return requests.post(f"{sandbox.url}/api/v1/statuses", json=body, headers=auth(user), timeout=5)


def put(sandbox: MastodonSandbox, user: MastodonUser, id: str, **body: object) -> requests.Response:
    return requests.put(
        f"{sandbox.url}/api/v1/statuses/{id}", json=body, headers=auth(user), timeout=5
    )


def get(
    sandbox: MastodonSandbox, path: str, user: MastodonUser | None = None, **params: Any
) -> requests.Response:
    headers = auth(user) if user else {}
    return requests.get(f"{sandbox.url}{path}", params=params, headers=headers, timeout=5)


def when(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# -- polls -------------------------------------------------------------------------------------


def test_poll_from_mastodon_py_is_a_json_body_and_a_poll_entity(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    # Mastodon.py 2.3.3 switches to a JSON body when a poll is given (use_json = True) and
    # sends make_poll()'s dict as the nested object `poll`.
    sandbox.add_fault(kind="delay", delay=0, method="POST", body_contains='"poll": {"options"')
    status = api.status_post(
        "Which one?", poll=api.make_poll(["yes", "no"], expires_in=3600, multiple=True)
    )
    assert sandbox.api_requests("POST", r"^/api/v1/statuses$")[-1].fault == "delay"
    raw = get(sandbox, f"/api/v1/statuses/{status.id}", user).json()
    poll = raw["poll"]
    assert set(poll) == POLL_KEYS  # REST::PollSerializer, voted/own_votes with a user token
    assert re.fullmatch(r"\d+", poll["id"])
    assert (poll["expired"], poll["multiple"], poll["votes_count"], poll["voters_count"]) == (
        False,
        True,
        0,
        0,
    )
    assert poll["options"] == [
        {"title": "yes", "votes_count": 0},
        {"title": "no", "votes_count": 0},
    ]
    assert (poll["emojis"], poll["voted"], poll["own_votes"]) == ([], True, [])  # author: voted
    created = when(raw["created_at"])
    assert timedelta(seconds=3599) <= when(poll["expires_at"]) - created <= timedelta(seconds=3601)
    # anonymous: no voted/own_votes; someone else: not voted
    anonymous = get(sandbox, f"/api/v1/statuses/{status.id}").json()["poll"]
    assert "voted" not in anonymous and "own_votes" not in anonymous
    other = client(sandbox, new_user(sandbox)).status(status.id).poll
    assert other.voted is False and other.own_votes == []


def test_poll_from_form_fields(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    r = requests.post(
        f"{sandbox.url}/api/v1/statuses",
        data={
            "status": "form poll",
            "poll[options][]": ["  a  ", "", "b", "\u3000"],  # Poll#prepare_options
            "poll[expires_in]": "300",
            "poll[hide_totals]": "true",
        },
        headers=auth(user),
        timeout=5,
    )
    assert r.status_code == 200
    poll = r.json()["poll"]
    # hide_totals: option counts are null until the poll ends; `multiple` defaults to false
    assert poll["options"] == [
        {"title": "a", "votes_count": None},
        {"title": "b", "votes_count": None},
    ]
    assert poll["multiple"] is False and poll["votes_count"] == 0


@pytest.mark.parametrize(
    ("poll", "message"),
    [
        (
            {"options": ["a", " "], "expires_in": 3600},
            "Validation failed: Choices must have more than one item",
        ),
        (
            {"options": ["a", "b", "c", "d", "e"], "expires_in": 3600},
            "Validation failed: Choices can't contain more than 4 items",
        ),
        (
            {"options": ["a", "x" * 51], "expires_in": 3600},
            "Validation failed: Choices cannot be longer than 50 characters each",
        ),
        (
            {"options": ["a", "a"], "expires_in": 3600},
            "Validation failed: Choices contain duplicate items",
        ),
        (
            {"options": ["a", "b"], "expires_in": 299},
            "Validation failed: Deadline is too soon",
        ),
        (
            {"options": ["a", "b"], "expires_in": 2629747},
            "Validation failed: Deadline is too far into the future",
        ),
        (
            {"options": ["a", "b"]},
            "Validation failed: Deadline can't be blank, Deadline is too far into the future",
        ),
        (
            {"options": [], "expires_in": 60},
            "Validation failed: Choices can't be blank, "
            "Choices must have more than one item, Deadline is too soon",
        ),
    ],
)
def test_poll_refusals(sandbox: MastodonSandbox, poll: dict, message: str) -> None:
    user = new_user(sandbox)
    r = post(sandbox, user, status="poll", poll=poll)
    assert (r.status_code, r.json()) == (422, {"error": message})
    assert sandbox.posts(user.username) == []


def test_poll_limits_come_from_the_instance(sandbox: MastodonSandbox) -> None:
    polls = get(sandbox, "/api/v2/instance").json()["configuration"]["polls"]
    assert polls == {
        "max_options": 4,
        "max_characters_per_option": 50,
        "min_expiration": 300,
        "max_expiration": 2629746,
    }
    user = new_user(sandbox)
    ok = post(
        sandbox,
        user,
        status="edge",
        poll={"options": ["👩‍👩‍👧‍👦" * 50, "b", "c", "d"], "expires_in": 2629746},
    )
    assert ok.status_code == 200  # 50 grapheme clusters is fine, and so is exactly a month


def test_poll_other_refusals(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    media = api.media_post(PNG, mime_type="image/png")
    # PostStatusService#validate_media!: a poll with media is "too many" attachments
    r = post(
        sandbox,
        user,
        status="both",
        media_ids=[media.id],
        poll={"options": ["a", "b"], "expires_in": 3600},
    )
    assert (r.status_code, r.json()) == (422, {"error": "Cannot attach more than 4 files"})
    with pytest.raises(MastodonAPIError) as err:
        api.status_post("both", media_ids=[media.id], poll=api.make_poll(["a", "b"], 3600))
    assert err.value.args[1] == 422
    # a poll does not stand in for the text; the status' errors come first
    r = post(sandbox, user, status="", poll={"options": ["a"], "expires_in": 3600})
    assert r.json() == {
        "error": "Validation failed: Text can't be blank, Choices must have more than one item"
    }
    assert sandbox.posts(user.username) == []


def test_poll_edit_replaces_resets_and_removes(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    status = api.status_post("vote", poll=api.make_poll(["a", "b"], 3600))
    first_id = status.poll.id
    edited = api.status_update(status.id, "vote again", poll=api.make_poll(["a", "b", "c"], 7200))
    assert edited.edited_at is not None
    assert [o.title for o in edited.poll.options] == ["a", "b", "c"]
    assert str(edited.poll.id) == str(first_id)  # the same poll, its votes reset
    assert edited.poll.votes_count == 0
    # an edit is validated like a post
    r = put(sandbox, user, status.id, status="x", poll={"options": ["a", "a"], "expires_in": 3600})
    assert (r.status_code, r.json()) == (
        422,
        {"error": "Validation failed: Choices contain duplicate items"},
    )
    # the controller passes `poll: nil` when it is left out: the poll is removed
    plain = api.status_update(status.id, "no poll now")
    assert plain.poll is None
    history = api.status_history(status.id)
    assert [[o.title for o in h.poll.options] if h.poll else None for h in history] == [
        ["a", "b"],
        ["a", "b", "c"],
        None,
    ]


def test_poll_from_python_and_the_control_api(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    made = sandbox.create_post(
        user.username, "control poll", poll={"options": ["x", "y"], "expires_in": 600}
    )
    assert [o["title"] for o in made["poll"]["options"]] == ["x", "y"]
    assert made["poll"]["multiple"] is False
    r = requests.post(
        f"{sandbox.url}/_sandbox/posts",
        json={
            "username": user.username,
            "text": "control poll 2",
            "poll": {"options": ["1", "2", "3"], "multiple": True},
        },
        timeout=5,
    )
    assert r.status_code == 201
    poll = r.json()["poll"]
    assert poll["multiple"] is True and len(poll["options"]) == 3
    assert when(poll["expires_at"]) - when(r.json()["created_at"]) == timedelta(days=1)
    bad = requests.post(
        f"{sandbox.url}/_sandbox/posts",
        json={"username": user.username, "text": "x", "poll": {"options": ["only"]}},
        timeout=5,
    )
    assert bad.status_code == 422


# -- boosts ------------------------------------------------------------------------------------


def test_reblog_and_unreblog_with_mastodon_py(sandbox: MastodonSandbox) -> None:
    author, booster = new_user(sandbox), new_user(sandbox)
    original = client(sandbox, author).status_post("boost me")
    api = client(sandbox, booster)
    boost = api.status_reblog(original.id)
    assert boost.id != original.id
    assert boost.reblog.id == original.id and boost.account.id == booster.id
    assert boost.content == "" and boost.visibility == "public"
    assert boost.reblogged is True and boost.reblog.reblogged is True
    assert boost.reblog.reblogs_count == 1
    raw = get(sandbox, f"/api/v1/statuses/{boost.id}", booster).json()
    assert raw["uri"].endswith(f"/statuses/{boost.id}/activity")
    # ReblogService: a second boost is the first one; a boost of a boost boosts the original
    assert api.status_reblog(original.id).id == boost.id
    assert api.status_reblog(boost.id).id == boost.id
    assert [s.id for s in api.account_statuses(booster.id)] == [boost.id]
    # unreblog returns the original, no longer reblogged, and discards the boost
    undone = api.status_unreblog(original.id)
    assert undone.id == original.id and undone.reblogged is False
    assert undone.reblogs_count == 0
    assert list(api.account_statuses(booster.id)) == []
    with pytest.raises(MastodonNotFoundError):
        api.status(boost.id)
    # "Status unboosted or was already not boosted": 200 again
    assert api.status_unreblog(original.id).id == original.id
    # visibility can be lowered
    quiet = api.status_reblog(original.id, visibility="unlisted")
    assert quiet.visibility == "unlisted" and quiet.id != boost.id


def test_reblog_refusals(sandbox: MastodonSandbox) -> None:
    author, other = new_user(sandbox), new_user(sandbox)
    base = f"{sandbox.url}/api/v1/statuses"
    direct = sandbox.create_post(author.username, f"hi @{other.username}", visibility="direct")
    private = sandbox.create_post(author.username, "followers only", visibility="private")
    public = sandbox.create_post(author.username, "public")
    # StatusPolicy#reblog?: a private mention can never be boosted, not even by its author
    r = requests.post(f"{base}/{direct['id']}/reblog", headers=auth(author), timeout=5)
    assert (r.status_code, r.json()) == (403, {"error": "This action is not allowed"})
    r = requests.post(f"{base}/{direct['id']}/reblog", headers=auth(other), timeout=5)
    assert (r.status_code, r.json()) == (403, {"error": "This action is not allowed"})
    # someone else's followers-only post: not visible to a non-follower, so 404
    r = requests.post(f"{base}/{private['id']}/reblog", headers=auth(other), timeout=5)
    assert (r.status_code, r.json()) == (404, {"error": "Record not found"})
    with pytest.raises(MastodonNotFoundError):
        client(sandbox, other).status_reblog(private["id"])
    # ...but its author may boost it, and the boost keeps its visibility
    own = client(sandbox, author).status_reblog(private["id"], visibility="public")
    assert own.visibility == "private"
    r = requests.post(f"{base}/12345/reblog", headers=auth(other), timeout=5)
    assert (r.status_code, r.json()) == (404, {"error": "Record not found"})
    # validates :visibility, exclusion: { in: %w(direct limited) }, if: :reblog?
    r = requests.post(
        f"{base}/{public['id']}/reblog", data={"visibility": "direct"}, headers=auth(other)
    )
    assert (r.status_code, r.json()) == (
        422,
        {"error": "Validation failed: Visibility is reserved"},
    )
    r = requests.post(f"{base}/{public['id']}/reblog", timeout=5)
    assert (r.status_code, r.json()) == (401, {"error": "The access token is invalid"})
    r = requests.post(f"{base}/{private['id']}/unreblog", headers=auth(other), timeout=5)
    assert (r.status_code, r.json()) == (404, {"error": "Record not found"})
    assert sandbox.posts(other.username) == []


def test_control_reblogs_follow_reblog_service(sandbox: MastodonSandbox) -> None:
    author, booster = new_user(sandbox), new_user(sandbox)
    original = sandbox.create_post(author.username, "original")
    boost = sandbox.create_post(booster.username, "", reblog_of=original["id"])
    assert sandbox.create_post(booster.username, "", reblog_of=original["id"])["id"] == boost["id"]
    again = sandbox.create_post(author.username, "", reblog_of=boost["id"])
    assert again["reblog"]["id"] == original["id"]


# -- quotes --------------------------------------------------------------------------------------


def test_version_drives_the_instance_endpoints(sandbox: MastodonSandbox) -> None:
    def versions() -> tuple[str, str, object]:
        v1 = get(sandbox, "/api/v1/instance").json()
        v2 = get(sandbox, "/api/v2/instance").json()
        return v1["version"], v2["version"], v2.get("api_versions", "absent")

    assert versions() == ("4.3.0", "4.3.0", {"mastodon": 2})
    sandbox.set_version("4.5.0")
    assert versions() == ("4.5.0", "4.5.0", {"mastodon": 7})
    r = requests.post(f"{sandbox.url}/_sandbox/version", json={"version": "4.4.0"}, timeout=5)
    assert r.json() == {"version": "4.4.0", "api_versions": {"mastodon": 5}}
    assert versions() == ("4.4.0", "4.4.0", {"mastodon": 5})
    sandbox.set_version("4.2.1")
    assert versions() == ("4.2.1", "4.2.1", "absent")
    sandbox.set_version("4.5.2", api_version=8)
    assert versions() == ("4.5.2", "4.5.2", {"mastodon": 8})
    bad = requests.post(f"{sandbox.url}/_sandbox/version", json={"version": "next"}, timeout=5)
    assert bad.status_code == 422
    assert requests.get(f"{sandbox.url}/_sandbox/version", timeout=5).json()["version"] == "4.5.2"
    assert (
        api_version_for("4.5.0-beta.2"),
        api_version_for("4.3.7"),
        api_version_for("3.5.0"),
    ) == (
        7,
        2,
        None,
    )
    sandbox.set_version("4.5.0")
    api = client(sandbox, new_user(sandbox))
    assert api.instance().version == "4.5.0"
    assert api.mastodon_api_version == 7  # read from api_versions by Mastodon.py


def test_quote_post_on_45(sandbox45: MastodonSandbox) -> None:
    author, quoter = new_user(sandbox45), new_user(sandbox45)
    original = client(sandbox45, author).status_post("quote me #Birds")
    api = client(sandbox45, quoter)
    # Mastodon.py 2.3.3 sends quoted_status_id as a plain form field
    sandbox45.add_fault(kind="delay", delay=0, method="POST", body_contains="quoted_status_id=")
    quote = api.status_post("so true", quoted_status_id=original.id)
    assert sandbox45.api_requests("POST", r"^/api/v1/statuses$")[-1].fault == "delay"
    raw = get(sandbox45, f"/api/v1/statuses/{quote.id}", quoter).json()
    url = f"https://sandbox.example/@{author.username}/{original.id}"
    assert raw["content"] == (
        '<p class="quote-inline">RE: '
        f'<a href="{url}" target="_blank" rel="nofollow noopener" translate="no">'
        '<span class="invisible">https://</span>'
        f'<span class="ellipsis">{url[8:38]}</span>'
        f'<span class="invisible">{url[38:]}</span></a></p><p>so true</p>'
    )
    assert raw["quote"]["state"] == "accepted"
    quoted = raw["quote"]["quoted_status"]
    assert quoted["id"] == original.id and quoted["account"]["id"] == author.id
    assert quoted["quote"] is None and quoted["quotes_count"] == 1
    assert raw["quotes_count"] == 0
    assert raw["quote_approval"] == {
        "automatic": ["public"],
        "manual": [],
        "current_user": "automatic",
    }
    assert get(sandbox45, f"/api/v1/statuses/{original.id}").json()["quote"] is None
    # a quote of a quote: the inner one is a ShallowQuote
    deeper = client(sandbox45, author).status_post("and again", quoted_status_id=quote.id)
    inner = get(sandbox45, f"/api/v1/statuses/{deeper.id}").json()["quote"]["quoted_status"]
    assert inner["quote"] == {"state": "accepted", "quoted_status_id": original.id}
    # the link is already in the text: no fallback paragraph
    linked = api.status_post(f"see {url}", quoted_status_id=original.id)
    assert not linked.content.startswith('<p class="quote-inline">')


def test_quote_variants_on_45(sandbox45: MastodonSandbox) -> None:
    user, other = new_user(sandbox45), new_user(sandbox45)
    api = client(sandbox45, user)
    mine = api.status_post("mine")
    # a self-quote with no text is fine (with_quote?), a CW is not turned into the text
    bare = post(sandbox45, user, quoted_status_id=mine.id, spoiler_text="cw")
    assert bare.status_code == 200
    body = bare.json()
    assert body["content"].startswith('<p class="quote-inline">RE: ')
    assert body["content"].endswith("</a></p>") and body["spoiler_text"] == "cw"
    # quoting a boost quotes the boosted post (Status.find(...)&.proper)
    theirs = client(sandbox45, other).status_post("theirs")
    boost = api.status_reblog(theirs.id)
    of_boost = api.status_post("via boost", quoted_status_id=boost.id)
    assert of_boost.quote.quoted_status.id == theirs.id
    # quoting your own followers-only post makes the quote followers-only
    private = api.status_post("inner circle", visibility="private")
    narrowed = api.status_post("quote", quoted_status_id=private.id, visibility="public")
    assert narrowed.visibility == "private"
    assert narrowed.quote_approval.automatic == []  # private posts: policy nobody
    # a private mention may quote someone it mentions
    mention = api.status_post(
        f"@{other.username} look", quoted_status_id=theirs.id, visibility="direct"
    )
    assert mention.quote.state == "accepted"
    # quote_approval_policy is kept
    closed = client(sandbox45, other).status_post("no quotes", quote_approval_policy="nobody")
    assert closed.quote_approval.automatic == []
    assert api.status(closed.id).quote_approval.current_user == "denied"
    assert client(sandbox45, other).status(closed.id).quote_approval.current_user == "automatic"
    # quotes live: a deleted quoted post leaves state "deleted" and no fallback link
    gone = client(sandbox45, other).status_post("soon gone")
    orphan = api.status_post("quoting", quoted_status_id=gone.id)
    client(sandbox45, other).status_delete(gone.id)
    raw = get(sandbox45, f"/api/v1/statuses/{orphan.id}").json()
    assert raw["quote"] == {"state": "deleted", "quoted_status": None}
    assert raw["content"] == "<p>quoting</p>"


def test_quote_refusals_on_45(sandbox45: MastodonSandbox) -> None:
    user, other = new_user(sandbox45), new_user(sandbox45)
    theirs_private = sandbox45.create_post(other.username, "private", visibility="private")
    own_direct = sandbox45.create_post(user.username, f"@{other.username} dm", visibility="direct")
    nobody = post(sandbox45, other, status="mine only", quote_approval_policy="nobody").json()
    public = sandbox45.create_post(other.username, "public")
    for quoted_id in ("12345", theirs_private["id"], own_direct["id"], nobody["id"]):
        r = post(sandbox45, user, status="quote", quoted_status_id=quoted_id)
        assert (r.status_code, r.json()) == (404, {"error": QUOTE_NOT_FOUND}), quoted_id
    with pytest.raises(MastodonNotFoundError):
        client(sandbox45, user).status_post("q", quoted_status_id=nobody["id"])
    # the author may still quote a post nobody else may
    assert post(sandbox45, other, status="me", quoted_status_id=nobody["id"]).status_code == 200
    # Api::InteractionPoliciesConcern: anything but public/followers/nobody
    r = post(sandbox45, user, status="x", quote_approval_policy="everyone")
    assert (r.status_code, r.json()) == (422, {"error": "Record invalid"})
    # #safeguard_private_mention_quote!
    r = post(sandbox45, user, status="psst", visibility="direct", quoted_status_id=public["id"])
    assert (r.status_code, r.json()) == (422, {"error": NOT_MENTIONED})
    r = post(sandbox45, user, status="", quoted_status_id="12345")
    assert r.status_code == 404  # set_quoted_status runs before any validation


def test_quote_is_ignored_before_45(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    target = api.status_post("target")
    # 4.3 does not know the parameter: a plain post, no `quote` at all
    plain = api.status_post("not a quote", quoted_status_id=target.id)
    raw = get(sandbox, f"/api/v1/statuses/{plain.id}").json()
    assert raw["content"] == "<p>not a quote</p>"
    assert "quote" not in raw and "quotes_count" not in raw and "quote_approval" not in raw
    r = post(sandbox, user, status="x", quoted_status_id="nope", quote_approval_policy="bad")
    assert r.status_code == 200
    with pytest.raises(ValueError, match=r"4\.5"):
        sandbox.create_post(user.username, "q", quote_of=target.id)
    r = requests.post(
        f"{sandbox.url}/_sandbox/posts",
        json={"username": user.username, "text": "q", "quote_of": target.id},
        timeout=5,
    )
    assert r.status_code == 422
    # 4.4 serializes `quote` (null here) but still cannot make quotes
    sandbox.set_version("4.4.0")
    raw = get(sandbox, f"/api/v1/statuses/{plain.id}").json()
    assert raw["quote"] is None and "quote_approval" not in raw


def test_quote_from_python_and_the_control_api(sandbox45: MastodonSandbox) -> None:
    user, other = new_user(sandbox45), new_user(sandbox45)
    target = sandbox45.create_post(other.username, "target")
    made = sandbox45.create_post(user.username, "python quote", quote_of=target["id"])
    assert made["quote"]["state"] == "accepted"
    assert made["quote"]["quoted_status"]["id"] == target["id"]
    r = requests.post(
        f"{sandbox45.url}/_sandbox/posts",
        json={"username": user.username, "text": "control quote", "quote_of": target["id"]},
        timeout=5,
    )
    assert r.status_code == 201 and r.json()["quote"]["quoted_status"]["id"] == target["id"]
    assert r.json()["content"].startswith('<p class="quote-inline">RE: ')
    missing = requests.post(
        f"{sandbox45.url}/_sandbox/posts",
        json={"username": user.username, "text": "q", "quote_of": "12345"},
        timeout=5,
    )
    assert missing.status_code == 404
    assert get(sandbox45, f"/api/v1/statuses/{target['id']}").json()["quotes_count"] == 2


# -- batch lookup --------------------------------------------------------------------------------


def test_batch_lookup(sandbox: MastodonSandbox) -> None:
    author, stranger = new_user(sandbox), new_user(sandbox)
    api = client(sandbox, author)
    first, second, third = (api.status_post(f"post {i}") for i in range(3))
    private = api.status_post("private", visibility="private")
    gone = api.status_post("gone")
    api.status_delete(gone.id)
    ids = [first.id, "12345", gone.id, third.id, private.id, second.id, first.id]
    # Mastodon.py 2.3.3 has statuses(ids): GET /api/v1/statuses?id[]=...
    found = client(sandbox, stranger).statuses(ids)
    # Status.permitted_statuses_from_ids without `stable: true`: newest first, not as asked
    assert [str(s.id) for s in found] == [third.id, second.id, first.id]
    assert [str(s.id) for s in api.statuses(ids)] == [private.id, third.id, second.id, first.id]
    anonymous = requests.get(
        f"{sandbox.url}/api/v1/statuses", params={"id[]": [second.id, private.id]}, timeout=5
    )
    assert [s["id"] for s in anonymous.json()] == [second.id]
    assert get(sandbox, "/api/v1/statuses").json() == []
    # check_statuses_limit: more than DEFAULT_STATUSES_LIMIT (20) distinct ids
    twenty = [first.id] + [str(i) for i in range(19)]
    assert len(api.statuses([*twenty, first.id])) == 1
    r = requests.get(f"{sandbox.url}/api/v1/statuses", params={"id[]": [*twenty, "99"]}, timeout=5)
    assert (r.status_code, r.json()) == (422, {"error": "Mastodon::ValidationError"})
    r = requests.get(
        f"{sandbox.url}/api/v1/statuses",
        params={"id[]": [first.id]},
        headers={"Authorization": "Bearer nope"},
        timeout=5,
    )
    # authorize_if_got_token!: an unknown token is no token, so the request is served as an
    # anonymous one (api/base_controller.rb:90-92; api-notes M3)
    assert r.status_code == 200 and [s["id"] for s in r.json()] == [first.id]


# -- edits -----------------------------------------------------------------------------------------


def test_put_edit_rerenders_and_keeps_history(sandbox: MastodonSandbox) -> None:
    user, friend = new_user(sandbox), new_user(sandbox)
    api = client(sandbox, user)
    status = api.status_post("first #one")
    # never edited: one version, built on the fly
    history = get(sandbox, f"/api/v1/statuses/{status.id}/history").json()
    assert len(history) == 1 and set(history[0]) == STATUS_EDIT_KEYS
    assert (
        history[0]["created_at"]
        == get(sandbox, f"/api/v1/statuses/{status.id}").json()["created_at"]
    )
    edited = api.status_update(status.id, f"second @{friend.username} #Two", spoiler_text="cw")
    assert edited.edited_at is not None and edited.sensitive is True
    assert [m.id for m in edited.mentions] == [friend.id]
    assert [t.name for t in edited.tags] == ["two"]
    assert '<a href="https://sandbox.example/tags/Two" class="mention hashtag" rel="tag">' in (
        edited.content
    )
    assert f'class="u-url mention">@<span>{friend.username}</span></a>' in edited.content
    api.status_update(status.id, "third", spoiler_text="")
    history = api.status_history(status.id)
    assert [h.content for h in history] == [
        '<p>first <a href="https://sandbox.example/tags/one" class="mention hashtag" '
        'rel="tag">#<span>one</span></a></p>',
        f'<p>second <span class="h-card" translate="no"><a href="https://sandbox.example/'
        f'@{friend.username}" class="u-url mention">@<span>{friend.username}</span></a></span> '
        '<a href="https://sandbox.example/tags/Two" class="mention hashtag" rel="tag">'
        "#<span>Two</span></a></p>",
        "<p>third</p>",
    ]
    assert [(h.spoiler_text, h.sensitive) for h in history] == [
        ("", False),
        ("cw", True),
        ("", False),
    ]
    assert [h.account.id for h in history] == [user.id] * 3
    assert history[0].created_at < history[1].created_at <= history[2].created_at
    raw = get(sandbox, f"/api/v1/statuses/{status.id}/history").json()
    assert all(set(h) == STATUS_EDIT_KEYS for h in raw)  # no `poll` key without a poll
    assert (
        raw[-1]["created_at"] == get(sandbox, f"/api/v1/statuses/{status.id}").json()["edited_at"]
    )


def test_put_edit_refusals_and_no_op(sandbox: MastodonSandbox) -> None:
    user, other = new_user(sandbox), new_user(sandbox)
    api = client(sandbox, user)
    status = api.status_post("stay")
    r = put(sandbox, user, status.id, status="x" * 501)
    assert (r.status_code, r.json()) == (
        422,
        {"error": "Validation failed: Text character limit of 500 exceeded"},
    )
    r = put(sandbox, user, status.id, status="")
    assert (r.status_code, r.json()) == (422, {"error": "Validation failed: Text can't be blank"})
    r = put(sandbox, other, status.id, status="hijack")
    assert (r.status_code, r.json()) == (404, {"error": "Record not found"})
    # UpdateStatusService: nothing changed, nothing edited
    same = api.status_update(status.id, "stay")
    assert same.edited_at is None and len(api.status_history(status.id)) == 1
    # a blank text takes the CW given, and leaves the CW as it was (update_immediate_attributes!)
    cw = api.status_post("body", spoiler_text="old warning")
    r = put(sandbox, user, cw.id, status=" ", spoiler_text="now the text")
    body = r.json()
    assert (body["content"], body["spoiler_text"], body["sensitive"]) == (
        "<p>now the text</p>",
        "old warning",
        False,
    )
    private = api.status_post("hidden", visibility="private")
    api.status_update(private.id, "hidden, edited")
    r = get(sandbox, f"/api/v1/statuses/{private.id}/history", other)
    assert (r.status_code, r.json()) == (404, {"error": "Record not found"})
    assert len(get(sandbox, f"/api/v1/statuses/{private.id}/history", user).json()) == 2


def test_put_edit_media(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    api = client(sandbox, user)
    media = api.media_post(PNG, mime_type="image/png", description="before")
    status = api.status_post("pic", media_ids=[media.id])
    # media_attributes (Mastodon.py sends them as JSON) change the description
    edited = api.status_update(
        status.id,
        "pic",
        media_attributes=[api.generate_media_edit_attributes(media.id, description="after")],
    )
    assert [m.description for m in edited.media_attachments] == ["after"]
    assert edited.edited_at is not None
    # the controller passes `media_ids: nil` when they are left out: they are dropped
    bare = api.status_update(status.id, "pic, no media")
    assert bare.media_attachments == []
    history = get(sandbox, f"/api/v1/statuses/{status.id}/history").json()
    assert [[m["description"] for m in h["media_attachments"]] for h in history] == [
        ["before"],
        ["after"],
        [],
    ]


def test_edit_post_from_python_and_the_control_api(sandbox: MastodonSandbox) -> None:
    user, friend = new_user(sandbox), new_user(sandbox)
    made = sandbox.create_post(
        user.username,
        "web post",
        spoiler_text="cw",
        media=[{"data": PNG, "description": "kept"}],
        poll={"options": ["a", "b"]},
    )
    long_text = f"edited for @{friend.username} #Tag " + "x" * 600  # no length limit here
    edited = sandbox.edit_post(made["id"], long_text)
    assert edited["edited_at"] is not None and edited["spoiler_text"] == "cw"
    assert edited["sensitive"] is True
    assert [m["id"] for m in edited["mentions"]] == [friend.id]
    assert [t["name"] for t in edited["tags"]] == ["tag"]
    assert [m["description"] for m in edited["media_attachments"]] == ["kept"]  # kept
    assert [o["title"] for o in edited["poll"]["options"]] == ["a", "b"]  # kept
    assert edited["poll"]["id"] == made["poll"]["id"]
    # what Mastodon.py then sees
    api = client(sandbox, user)
    assert api.status(made["id"]).edited_at is not None
    assert len(api.status_history(made["id"])) == 2
    # the same again changes nothing
    again = sandbox.edit_post(made["id"], long_text)
    assert again["edited_at"] == edited["edited_at"]
    # spoiler and poll changes
    changed = sandbox.edit_post(made["id"], "plain", spoiler_text="", sensitive=False, poll=None)
    assert (changed["spoiler_text"], changed["sensitive"], changed["poll"]) == ("", False, None)
    base = f"{sandbox.url}/_sandbox/posts"
    r = requests.post(f"{base}/{made['id']}/edit", json={"text": "via control"}, timeout=5)
    assert r.status_code == 200 and r.json()["content"] == "<p>via control</p>"
    r = requests.post(
        f"{base}/{made['id']}/edit",
        json={"text": "poll again", "poll": {"options": ["c", "d"], "expires_in": 600}},
        timeout=5,
    )
    assert [o["title"] for o in r.json()["poll"]["options"]] == ["c", "d"]
    assert requests.post(f"{base}/12345/edit", json={"text": "x"}, timeout=5).status_code == 404
    assert requests.post(f"{base}/{made['id']}/edit", json={}, timeout=5).status_code == 422
    with pytest.raises(KeyError):
        sandbox.edit_post("12345", "x")
    text_only = sandbox.create_post(user.username, "text only")
    with pytest.raises(ValueError, match="Text can't be blank"):
        sandbox.edit_post(text_only["id"], "")


# -- tags and emoji --------------------------------------------------------------------------------


def test_hashtags_and_emoji_shortcodes(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    status = client(sandbox, user).status_post("Hello :blobcat: #Fediverse and #café :x:")
    assert status.content == (
        "<p>Hello :blobcat: "
        '<a href="https://sandbox.example/tags/Fediverse" class="mention hashtag" rel="tag">'
        "#<span>Fediverse</span></a> and "
        '<a href="https://sandbox.example/tags/café" class="mention hashtag" rel="tag">'
        "#<span>café</span></a> :x:</p>"
    )
    assert [(t.name, t.url) for t in status.tags] == [
        ("fediverse", "https://sandbox.example/tags/fediverse"),
        ("café", "https://sandbox.example/tags/café"),
    ]
    assert status.emojis == []
