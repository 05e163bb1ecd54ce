"""The Mastodon sandbox's rate limits and scopes keep the real server's contract, over real
HTTP: rack-attack's throttles and the statuses family (their windows, counts, headers and
429s), and Doorkeeper's scopes (which token may call what, the 403, apps/verify_credentials).

Each rule comes from docs/api-notes.md (M2, M3), which cites mastodon/mastodon's rack-attack
configuration and Doorkeeper scopes by file.
"""

from __future__ import annotations

import email.utils
import io
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from mastodon import Mastodon
from PIL import Image

from birdbridge.sandbox.mastodon import MastodonSandbox, MastodonUser

_names = itertools.count(1)
ISO_6 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# A moment in the middle of a 5-minute window, with microseconds of its own.
T = 1_800_000_123.456789  # 2027-01-15T08:02:03.456789Z


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


def new_user(sandbox: MastodonSandbox, **kw: object) -> MastodonUser:
    return sandbox.create_user(f"user{next(_names)}", **kw)  # type: ignore[arg-type]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    sandbox: MastodonSandbox, method: str, path: str, token: str | None = None, **kw: object
) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.request(method, sandbox.url + path, headers=headers, timeout=5, **kw)  # type: ignore[arg-type]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


def upload(sandbox: MastodonSandbox, token: str) -> requests.Response:
    return call(sandbox, "POST", "/api/v2/media", token, files={"file": ("a.png", png())})


def post(sandbox: MastodonSandbox, token: str, text: str) -> requests.Response:
    return call(sandbox, "POST", "/api/v1/statuses", token, data={"status": text})


def limits(r: requests.Response) -> tuple[str, str, str]:
    h = r.headers
    return h["X-RateLimit-Limit"], h["X-RateLimit-Remaining"], h["X-RateLimit-Reset"]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the headers (item 8) ------------------------------------------------------------------------


def test_reset_is_iso8601_with_the_requests_own_microseconds_and_a_date_header(
    sandbox: MastodonSandbox,
) -> None:
    user = new_user(sandbox)
    sandbox.clock = lambda: T
    r = call(sandbox, "GET", "/api/v1/accounts/verify_credentials", user.access_token)
    # now + (period - now.to_i % period), iso8601(6) (api/rate_limit_headers.rb:51-68): the
    # next 5-minute boundary plus the request's own .456789 s, not ".000000"
    assert limits(r) == ("300", "299", "2027-01-15T08:05:00.456789Z")
    assert ISO_6.match(r.headers["X-RateLimit-Reset"])
    assert r.headers["Date"] == email.utils.formatdate(T, usegmt=True)
    # the 429 of the throttled responder has the same format (rack_attack.rb:160-165)
    sandbox.set_rate_limit(1, 300)
    call(sandbox, "GET", "/api/v1/accounts/verify_credentials", user.access_token)
    r = call(sandbox, "GET", "/api/v1/accounts/verify_credentials", user.access_token)
    assert (r.status_code, r.json()) == (429, {"error": "Too many requests"})
    assert limits(r) == ("1", "0", "2027-01-15T08:05:00.456789Z")
    assert "Retry-After" not in r.headers


def test_mastodon_py_reads_the_reset_and_corrects_the_servers_clock_with_date(
    sandbox: MastodonSandbox,
) -> None:
    """Mastodon.py parses the ISO reset and moves it by (its clock - Date) (internals.py:
    267-286): a server one hour ahead still means "in the same few minutes" here."""
    user = new_user(sandbox)
    ahead = 3600.0
    sandbox.clock = lambda: datetime.now(UTC).timestamp() + ahead
    api = Mastodon(
        access_token=user.access_token, api_base_url=sandbox.url, ratelimit_method="throw"
    )
    api.account_verify_credentials()
    now = datetime.now(UTC).timestamp()
    assert api.ratelimit_reset is not None
    assert now < api.ratelimit_reset <= now + 301 + 1  # Date has whole seconds


def test_the_rate_limit_fault_is_a_throttled_responders_429(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    sandbox.clock = lambda: T
    sandbox.add_fault(kind="rate_limit", path=r"^/api/v1/statuses$", reset_in=420)
    r = post(sandbox, user.access_token, "hi")
    assert (r.status_code, r.json()) == (429, {"error": "Too many requests"})
    assert limits(r) == ("300", "0", iso(T + 420))


# -- the throttles (item 9) ----------------------------------------------------------------------


def test_media_uploads_have_a_throttle_of_their_own(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    sandbox.clock = lambda: T
    sandbox.set_rate_limit(2, 1800, family="media")
    first = upload(sandbox, user.access_token)
    # the fewest calls left wins the headers: 2-1 of the media throttle, not 300-1
    assert first.status_code == 200 and limits(first)[:2] == ("2", "1")
    # 30-minute windows aligned to the epoch: 08:00 + 30 min, the request's microseconds kept
    assert limits(first)[2] == "2027-01-15T08:30:00.456789Z"
    assert upload(sandbox, user.access_token).status_code == 200
    third = upload(sandbox, user.access_token)
    assert (third.status_code, third.json()) == (429, {"error": "Too many requests"})
    assert limits(third) == ("2", "0", "2027-01-15T08:30:00.456789Z")
    # Only POST /api/v{1,2}/media: posting, reading and PUT /media/:id go on.
    media_id = first.json()["id"]
    r = call(sandbox, "PUT", f"/api/v1/media/{media_id}", user.access_token, data={"focus": "0,0"})
    assert r.status_code == 200
    assert post(sandbox, user.access_token, "text still goes").status_code == 200
    r = call(sandbox, "GET", f"/api/v1/accounts/{user.id}/statuses", user.access_token)
    assert r.status_code == 200 and limits(r)[:2] == ("300", "294")
    # per user: a second token of the same account meets the same media count
    other = sandbox.create_token(user.username, ["read", "write"])
    assert upload(sandbox, other).status_code == 429
    # the next window (08:30:00) starts afresh; the version of /api/v1 counts as well
    sandbox.clock = lambda: 1_800_001_800.5
    v1 = call(sandbox, "POST", "/api/v1/media", user.access_token, files={"file": ("a", png())})
    assert v1.status_code == 200


def test_deletions_and_unreblogs_share_a_throttle(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    token = user.access_token
    sandbox.set_rate_limit(2, 1800, family="deletes")
    ids = [post(sandbox, token, f"post {n}").json()["id"] for n in range(3)]
    assert call(sandbox, "DELETE", f"/api/v1/statuses/{ids[0]}", token).status_code == 200
    r = call(sandbox, "POST", f"/api/v1/statuses/{ids[1]}/unreblog", token)
    assert r.status_code == 200 and limits(r)[:2] == ("2", "0")
    r = call(sandbox, "DELETE", f"/api/v1/statuses/{ids[2]}", token)
    assert (r.status_code, r.json()) == (429, {"error": "Too many requests"})
    assert sandbox.get_post(ids[2]) is not None
    assert post(sandbox, token, "posting is another throttle").status_code == 200


def test_statuses_family_counts_posts_and_edits_not_boosts_nor_refusals(
    sandbox: MastodonSandbox,
) -> None:
    user = new_user(sandbox)
    token = user.access_token
    sandbox.clock = lambda: T
    sandbox.set_rate_limit(3, 10800, family="statuses")
    first = post(sandbox, token, "one")
    # RateLimiter#to_headers replaces rack-attack's when it has fewer left (3-1 < 300-1);
    # 3-hour windows from 00:00 UTC
    assert limits(first) == ("3", "2", "2027-01-15T09:00:00.456789Z")
    status_id = first.json()["id"]
    r = call(sandbox, "PUT", f"/api/v1/statuses/{status_id}", token, data={"status": "one!"})
    assert r.status_code == 200 and limits(r)[:2] == ("3", "1")  # an edit counts
    # a 422 creates nothing, so counts nothing; its reply still has the family's headers
    r = post(sandbox, token, "x" * 501)
    assert r.status_code == 422 and limits(r)[:2] == ("3", "1")
    boost = call(sandbox, "POST", f"/api/v1/statuses/{status_id}/reblog", token)
    assert boost.status_code == 200 and limits(boost)[:2] == ("3", "1")  # not counted
    assert post(sandbox, token, "two").status_code == 200
    refused = post(sandbox, token, "three")
    # Mastodon::RateLimitExceededError in the controller (error_handling.rb:44-46)
    assert (refused.status_code, refused.json()) == (429, {"error": "Too many requests"})
    assert limits(refused) == ("3", "0", "2027-01-15T09:00:00.456789Z")
    assert [s["content"] for s in sandbox.posts(user.username) if s["reblog"] is None] == [
        "<p>one!</p>",
        "<p>two</p>",
    ]
    r = call(sandbox, "PUT", f"/api/v1/statuses/{status_id}", token, data={"status": "one?"})
    assert r.status_code == 429
    # deleting and reading are other throttles
    assert call(sandbox, "DELETE", f"/api/v1/statuses/{status_id}", token).status_code == 200
    # the family counts per account, not per token
    other = sandbox.create_token(user.username, "write:statuses")
    assert post(sandbox, other, "from another app").status_code == 429


def test_the_control_api_sets_a_familys_limit(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    r = requests.post(
        f"{sandbox.url}/_sandbox/rate_limit",
        json={"limit": 1, "window_s": 1800, "family": "media"},
        timeout=5,
    )
    assert r.status_code == 200
    assert upload(sandbox, user.access_token).status_code == 200
    assert upload(sandbox, user.access_token).status_code == 429
    r = requests.post(
        f"{sandbox.url}/_sandbox/rate_limit", json={"limit": 1, "family": "nope"}, timeout=5
    )
    assert r.status_code == 422


def test_the_api_throttle_counts_per_token_and_refused_calls_count(
    sandbox: MastodonSandbox,
) -> None:
    user = new_user(sandbox)
    sandbox.clock = lambda: T
    sandbox.set_rate_limit(2, 300)
    path = "/api/v1/accounts/verify_credentials"
    assert [call(sandbox, "GET", path, user.access_token).status_code for _ in range(4)] == [
        200,
        200,
        429,
        429,
    ]
    other = sandbox.create_token(user.username, ["read"])
    assert call(sandbox, "GET", path, other).status_code == 200
    sandbox.clock = lambda: T + 300  # 08:07:03: the next 5-minute window
    assert call(sandbox, "GET", path, user.access_token).status_code == 200


# -- scopes (item 10) ------------------------------------------------------------------------------


def test_a_token_without_the_scope_gets_403_with_the_scopes_named(
    sandbox: MastodonSandbox,
) -> None:
    user = new_user(sandbox, scopes=["read"])
    r = post(sandbox, user.access_token, "hi")
    assert (r.status_code, r.json()) == (
        403,
        {"error": "This action is outside the authorized scopes"},
    )
    # doorkeeper error_response.rb:97-118: quotes are not allowed there, they become "_"
    assert r.headers["WWW-Authenticate"] == (
        'Bearer realm="Doorkeeper", error="insufficient_scope", '
        'error_description="Access to this resource requires scope _write write:statuses_."'
    )
    assert r.headers["Cache-Control"] == "no-store, no-cache"
    assert "X-RateLimit-Remaining" in r.headers  # the before_action of Api::RateLimitHeaders
    assert sandbox.posts(user.username) == []
    assert upload(sandbox, user.access_token).status_code == 403
    assert call(sandbox, "GET", "/api/v1/accounts/verify_credentials", user.access_token).ok


@pytest.mark.parametrize(
    ("scopes", "allowed", "refused"),
    [
        # parents pass only because each controller lists them next to the child
        (["write"], ["post", "upload"], ["timeline", "me"]),
        (["write:statuses"], ["post"], ["upload", "timeline", "me"]),
        (["write:media"], ["upload"], ["post"]),
        (["read:statuses"], ["timeline"], ["me", "account", "post"]),
        (["read:accounts"], ["me", "account"], ["timeline"]),
        # profile passes verify_credentials, and only it (credentials_controller.rb:4)
        (["profile"], ["me"], ["account", "timeline", "post"]),
    ],
)
def test_any_listed_scope_passes_and_nothing_else(
    sandbox: MastodonSandbox, scopes: list[str], allowed: list[str], refused: list[str]
) -> None:
    user = new_user(sandbox, scopes=scopes)
    token = user.access_token
    calls = {
        "post": lambda: post(sandbox, token, "hi"),
        "upload": lambda: upload(sandbox, token),
        "timeline": lambda: call(sandbox, "GET", f"/api/v1/accounts/{user.id}/statuses", token),
        "me": lambda: call(sandbox, "GET", "/api/v1/accounts/verify_credentials", token),
        "account": lambda: call(sandbox, "GET", f"/api/v1/accounts/{user.id}", token),
    }
    assert {name: calls[name]().status_code for name in allowed} == dict.fromkeys(allowed, 200)
    assert {name: calls[name]().status_code for name in refused} == dict.fromkeys(refused, 403)


def test_without_a_known_token_optional_endpoints_are_anonymous(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox)
    post(sandbox, user.access_token, "public")
    timeline = f"/api/v1/accounts/{user.id}/statuses"
    assert len(call(sandbox, "GET", timeline).json()) == 1
    assert len(call(sandbox, "GET", timeline, "not-a-token").json()) == 1
    r = call(sandbox, "GET", "/api/v1/accounts/verify_credentials", "not-a-token")
    assert (r.status_code, r.json()) == (401, {"error": "The access token is invalid"})
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert call(sandbox, "GET", "/api/v2/instance", "not-a-token").status_code == 200


def test_apps_verify_credentials_tells_the_scopes_from_4_3(sandbox: MastodonSandbox) -> None:
    user = new_user(sandbox, scopes="read:accounts write:media")
    r = call(sandbox, "GET", "/api/v1/apps/verify_credentials", user.access_token)
    body = r.json()
    assert r.status_code == 200
    assert body["scopes"] == ["read:accounts", "write:media"]  # a JSON array
    assert set(body) == {
        "id",
        "name",
        "website",
        "scopes",
        "redirect_uris",
        "redirect_uri",
        "vapid_key",
    }
    assert isinstance(body["id"], str) and body["redirect_uris"] == [body["redirect_uri"]]
    api = Mastodon(access_token=user.access_token, api_base_url=sandbox.url)
    assert api.app_verify_credentials().scopes == ["read:accounts", "write:media"]
    assert call(sandbox, "GET", "/api/v1/apps/verify_credentials", "nope").status_code == 401
    # before 4.3: no scopes, and the read scope needed (credentials_controller before #27142)
    sandbox.set_version("4.2.10")
    r = call(sandbox, "GET", "/api/v1/apps/verify_credentials", user.access_token)
    assert r.status_code == 403
    reader = new_user(sandbox, scopes=["read"])
    r = call(sandbox, "GET", "/api/v1/apps/verify_credentials", reader.access_token)
    assert r.status_code == 200 and set(r.json()) == {"name", "website", "vapid_key"}


def test_scopes_must_be_mastodons(sandbox: MastodonSandbox) -> None:
    with pytest.raises(ValueError, match="write:everything"):
        new_user(sandbox, scopes=["read", "write:everything"])
    user = new_user(sandbox)
    assert user.scopes == ("read", "write")
    r = requests.post(
        f"{sandbox.url}/_sandbox/tokens",
        json={"username": user.username, "scopes": ["read:statuses"]},
        timeout=5,
    )
    assert r.status_code == 201
    token = r.json()["access_token"]
    assert post(sandbox, token, "hi").status_code == 403
