"""MastodonNetwork against the sandbox's rate limits and scopes, over real HTTP, through the
real Mastodon.py and our httpx uploads: a 429 waits for the reset the server names (on our
clock), only the family of endpoints that ran out waits, and a token without a scope is an
account-level refusal that names the scope."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import stamina
from PIL import Image

from birdbridge.config import MastodonConfig
from birdbridge.errors import MissingPermission, RateLimited, Transient
from birdbridge.models import MediaKind, OutgoingPart
from birdbridge.networks.base import UploadedMedia
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.sandbox.mastodon import MastodonSandbox, MastodonUser

SEVEN_MINUTES = 420.0


@pytest.fixture(autouse=True)
def single_attempts() -> Iterator[None]:
    """One reply, one error: stamina's quick retries off (as in test_mastodon_adapter.py)."""
    stamina.set_testing(True, attempts=1)
    yield
    stamina.set_testing(False)


@pytest.fixture
def alice(mastodon_sandbox: MastodonSandbox) -> MastodonUser:
    return mastodon_sandbox.create_user("alice", "Alice")


def network_for(m: MastodonSandbox, token: str, *, target: bool = True) -> MastodonNetwork:
    config = MastodonConfig(api_base_url=m.url, access_token=token)
    return MastodonNetwork(config, timeout=5, target=target)


@pytest.fixture
def net(mastodon_sandbox: MastodonSandbox, alice: MastodonUser) -> MastodonNetwork:
    return network_for(mastodon_sandbox, alice.access_token)


def picture(folder: Path) -> Path:
    path = folder / "picture.png"
    out = io.BytesIO()
    Image.new("RGB", (16, 12), "green").save(out, "PNG")
    path.write_bytes(out.getvalue())
    return path


def publish(net: MastodonNetwork, folder: Path) -> object:
    return net.publish(OutgoingPart(text=f"a toot {time.monotonic()}"), idempotency_key=str(folder))


def upload(net: MastodonNetwork, folder: Path) -> UploadedMedia:
    return net.upload_media(picture(folder), "image/png", MediaKind.IMAGE, "a picture")


CALLS: dict[str, Callable[[MastodonNetwork, Path], object]] = {
    "statuses": publish,
    "media": upload,
}
PATHS = {"statuses": r"^/api/v1/statuses$", "media": r"^/api/v2/media$"}


def server_clock(reset_in: float, period: int, ahead: float) -> Callable[[], float]:
    """A server clock about ``ahead`` seconds off ours, at the point where its current window
    of ``period`` seconds ends ``reset_in`` seconds from now (by our clock)."""
    start = time.time()
    base = start + ahead
    at = base - base % period + (period - reset_in) + base % 1
    return lambda: at + (time.time() - start)


def use_up(m: MastodonSandbox, user: MastodonUser, family: str, folder: Path) -> None:
    """Another application of the same account spends the family's one call."""
    token = m.create_token(user.username, ["read", "write"], app_name="another app")
    auth = {"Authorization": f"Bearer {token}"}
    if family == "media":
        files = {"file": ("p.png", picture(folder).read_bytes())}
        r = requests.post(f"{m.url}/api/v2/media", files=files, headers=auth, timeout=5)
    else:
        r = requests.post(f"{m.url}/api/v1/statuses", data={"status": "x"}, headers=auth, timeout=5)
    assert r.status_code == 200


def seconds_from_now(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()


# -- item 8: the reset the server names -----------------------------------------------------------


@pytest.mark.parametrize("family", ["statuses", "media"])
def test_a_429_waits_for_the_reset_it_names_not_a_default(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork, tmp_path: Path, family: str
) -> None:
    """Seven minutes: neither Mastodon's usual 5-minute window nor X's 15. Mastodon.py's
    MastodonRatelimitError carries nothing; the reply the session saw does."""
    mastodon_sandbox.add_fault(kind="rate_limit", path=PATHS[family], reset_in=SEVEN_MINUTES)
    earliest = datetime.now(UTC) + timedelta(seconds=SEVEN_MINUTES)
    with pytest.raises(RateLimited) as caught:
        CALLS[family](net, tmp_path)
    assert abs(seconds_from_now(caught.value.retry_at) - SEVEN_MINUTES) < 3
    # Date has whole seconds: moving the reset by it may add up to one, never take any away
    assert caught.value.retry_at >= earliest
    assert (caught.value.status, caught.value.scope) == (429, family)


@pytest.mark.parametrize(("family", "period"), [("statuses", 3 * 3600), ("media", 1800)])
@pytest.mark.parametrize("ahead", [2 * 3600.0, -3600.0])
def test_a_spent_family_waits_for_its_reset_on_our_clock(
    mastodon_sandbox: MastodonSandbox,
    alice: MastodonUser,
    net: MastodonNetwork,
    tmp_path: Path,
    family: str,
    period: int,
    ahead: float,
) -> None:
    """The server's clock is hours off ours: its reset, moved by Date as Mastodon.py does
    (internals.py:282-286), is still seven minutes from now here."""
    mastodon_sandbox.clock = server_clock(SEVEN_MINUTES, period, ahead)
    mastodon_sandbox.set_rate_limit(1, period, family=family)
    use_up(mastodon_sandbox, alice, family, tmp_path)
    with pytest.raises(RateLimited) as caught:
        CALLS[family](net, tmp_path)
    assert (caught.value.status, caught.value.scope) == (429, family)
    assert abs(seconds_from_now(caught.value.retry_at) - SEVEN_MINUTES) < 3
    # The family is held back until its reset without another call ...
    calls = len(mastodon_sandbox.api_requests("POST", PATHS[family]))
    with pytest.raises(RateLimited, match="no calls left") as held:
        CALLS[family](net, tmp_path)
    assert held.value.scope == family
    assert abs(seconds_from_now(held.value.retry_at) - SEVEN_MINUTES) < 3
    assert len(mastodon_sandbox.api_requests("POST", PATHS[family])) == calls
    # ... and nothing else is: the other family and reading go on.
    other = "media" if family == "statuses" else "statuses"
    CALLS[other](net, tmp_path)
    assert net.fetch_since(None).cursor


def test_a_429_of_the_api_as_a_whole_is_the_whole_accounts(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork
) -> None:
    net.account()
    mastodon_sandbox.add_fault(
        kind="rate_limit", path=r"/statuses$", method="GET", reset_in=SEVEN_MINUTES
    )
    with pytest.raises(RateLimited) as caught:
        net.fetch_since(None)
    assert caught.value.scope is None
    assert abs(seconds_from_now(caught.value.retry_at) - SEVEN_MINUTES) < 3


# -- item 10: scopes ------------------------------------------------------------------------------


def test_verify_names_each_missing_scope_with_the_fix(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser
) -> None:
    token = mastodon_sandbox.create_token("alice", ["profile", "read:statuses", "write:statuses"])
    net = network_for(mastodon_sandbox, token)
    net.account()  # `profile` is enough for verify_credentials
    verified = net.verify()
    assert verified.facts == ("token scopes: profile read:statuses write:statuses",)
    [problem] = verified.problems
    assert "lacks the scope write:media (or write)" in problem
    assert "upload pictures and videos" in problem and "[links.mastodon]" in problem


@pytest.mark.parametrize(
    ("scopes", "target", "lacking"),
    [
        (["read", "write"], True, []),
        (["read:accounts", "read:statuses", "write:statuses", "write:media"], True, []),
        (["read"], True, ["write:statuses", "write:media"]),
        (["read"], False, []),  # Mastodon is only a source: reading is all it needs
        (["write"], False, ["read:accounts", "read:statuses"]),
        (["profile", "write"], True, ["read:statuses"]),
    ],
)
def test_what_the_token_needs_depends_on_the_links_direction(
    mastodon_sandbox: MastodonSandbox,
    alice: MastodonUser,
    scopes: list[str],
    target: bool,
    lacking: list[str],
) -> None:
    token = mastodon_sandbox.create_token("alice", scopes)
    verified = network_for(mastodon_sandbox, token, target=target).verify()
    named = [p.split("lacks the scope ")[1].split(" ")[0] for p in verified.problems]
    assert named == lacking


def test_before_4_3_the_scopes_cannot_be_verified_and_that_is_no_problem(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser
) -> None:
    mastodon_sandbox.set_version("4.2.10")
    for scopes in (["read", "write"], ["read:accounts", "read:statuses", "write"]):
        token = mastodon_sandbox.create_token("alice", scopes)
        verified = network_for(mastodon_sandbox, token).verify()
        assert verified.problems == ()
        [fact] = verified.facts
        assert fact.startswith("scopes not verified")


@pytest.mark.parametrize("call", ["statuses", "media"])
def test_a_403_outside_the_scopes_is_missing_permission_naming_them(
    mastodon_sandbox: MastodonSandbox, alice: MastodonUser, tmp_path: Path, call: str
) -> None:
    token = mastodon_sandbox.create_token("alice", ["read"])
    with pytest.raises(MissingPermission) as caught:
        CALLS[call](network_for(mastodon_sandbox, token), tmp_path)
    assert caught.value.status == 403
    assert "outside the authorized scopes" in str(caught.value)
    scope = "write:statuses" if call == "statuses" else "write:media"
    assert f"write or {scope} as well" in caught.value.fix


# -- item 11: a blip costs seconds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("write", "method", "path"),
    [
        ("publish", "POST", r"^/api/v1/statuses$"),
        ("edit", "PUT", r"^/api/v1/statuses/\d+$"),
        ("delete", "DELETE", r"^/api/v1/statuses/\d+$"),
        ("repost", "POST", r"/reblog$"),
    ],
)
def test_writes_that_cannot_double_are_retried_at_once(
    mastodon_sandbox: MastodonSandbox,
    alice: MastodonUser,
    net: MastodonNetwork,
    write: str,
    method: str,
    path: str,
) -> None:
    stamina.set_testing(True, attempts=3)  # the quick retries on, without their waits
    status_id = str(mastodon_sandbox.create_post("alice", "first words")["id"])
    mastodon_sandbox.add_fault(kind="drop_after_commit", method=method, path=path)
    if write == "publish":
        net.publish(OutgoingPart(text="new words"), idempotency_key="k")
    elif write == "edit":
        net.edit(status_id, OutgoingPart(text="edited words"))
    elif write == "delete":
        net.delete(status_id)
    else:
        net.repost(status_id)
    assert len(mastodon_sandbox.api_requests(method, path)) == 2  # done, lost, done again
    toots = mastodon_sandbox.posts("alice")
    expected = {
        "publish": ["<p>first words</p>", "<p>new words</p>"],
        "edit": ["<p>edited words</p>"],
        "delete": [],
        "repost": ["<p>first words</p>", ""],
    }[write]
    assert [t["content"] for t in toots] == expected


def test_an_upload_is_not_retried_in_process(
    mastodon_sandbox: MastodonSandbox, net: MastodonNetwork, tmp_path: Path
) -> None:
    """Uploading again would make a second attachment and spend the media throttle."""
    stamina.set_testing(True, attempts=3)
    mastodon_sandbox.add_fault(kind="drop_after_commit", method="POST", path=PATHS["media"])
    with pytest.raises(Transient):
        upload(net, tmp_path)
    assert len(mastodon_sandbox.api_requests("POST", PATHS["media"])) == 1
