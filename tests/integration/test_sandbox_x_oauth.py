"""X's sign-in flows on the X sandbox, end to end over real HTTP with the real clients: tweepy's
OAuth1UserHandler (PIN and callback), requests_oauthlib's OAuth2Session and tweepy's
OAuth2UserHandler (PKCE), approving with the sandbox's page like a person would; then the
tokens on the API with tweepy.Client. Errors carry X's bodies (docs/api-notes.md X7)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import tweepy
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1, OAuth2Session

from birdbridge.sandbox.common.approve import ApprovalError, approve
from birdbridge.sandbox.x import XSandbox, XUser
from birdbridge.sandbox.x.oauth_tokens import DEFAULT_REDIRECT_URI

CALLBACK = DEFAULT_REDIRECT_URI
ALL_SCOPES = ["tweet.read", "tweet.write", "users.read", "media.write", "offline.access"]
SPENT_TOKEN = {
    "error": "invalid_request",
    "error_description": "Value passed for the token was invalid.",
}
BAD_CODE = {
    "error": "invalid_request",
    "error_description": "Value passed for the authorization code was invalid.",
}


def rebased(base: str, url: str) -> str:
    """tweepy's hard-coded hosts sent to the sandbox (as birdbridge's BaseUrlSession does)."""
    for host in ("https://api.twitter.com", "https://twitter.com", "https://api.x.com"):
        if url.startswith(host):
            return base + url[len(host) :]
    return url


class HostSession(requests.Session):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", 5)
        return super().request(method, rebased(self.base, url), *args, **kwargs)


class SandboxOAuth1Handler(tweepy.OAuth1UserHandler):
    def __init__(self, base: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = base

    def _get_oauth_url(self, endpoint: str) -> str:
        return f"{self.base}/oauth/{endpoint}"


class SandboxOAuth2Handler(tweepy.OAuth2UserHandler):
    """tweepy's own handler; only its hard-coded hosts are rewritten."""

    def __init__(self, base: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = base

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs["timeout"] = kwargs.get("timeout") or 5
        return super().request(method, rebased(self.base, url), *args, **kwargs)


@pytest.fixture(autouse=True)
def plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses OAuth 2.0 over http unless told the transport is a test's.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def x() -> Iterator[XSandbox]:
    with XSandbox() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def alice(x: XSandbox) -> XUser:
    return x.create_user("alice", "Alice A.")


def oauth1_client(x: XSandbox, token: str, secret: str) -> tweepy.Client:
    client = tweepy.Client(
        consumer_key=x.consumer_key,
        consumer_secret=x.consumer_secret,
        access_token=token,
        access_token_secret=secret,
    )
    client.session = HostSession(x.url)
    return client


def bearer_client(x: XSandbox, access_token: str) -> tweepy.Client:
    client = tweepy.Client(bearer_token=access_token)
    client.session = HostSession(x.url)
    return client


def pkce_session(x: XSandbox, scope: list[str]) -> OAuth2Session:
    return OAuth2Session(x.client_id, redirect_uri=CALLBACK, scope=scope, pkce="S256")


def authorize(x: XSandbox, session: OAuth2Session, **approve_args: Any) -> str:
    """The authorization page approved; the URL X redirected the browser to."""
    url, _state = session.authorization_url(f"{x.url}/i/oauth2/authorize")
    location = approve(url, **approve_args).location
    assert location is not None
    return location


def sign_in(x: XSandbox, scope: list[str] = ALL_SCOPES) -> dict[str, Any]:
    session = pkce_session(x, scope)
    location = authorize(x, session)
    return session.fetch_token(
        f"{x.url}/2/oauth2/token", authorization_response=location, client_secret=x.client_secret
    )


def token_call(x: XSandbox, **form: str) -> requests.Response:
    auth = HTTPBasicAuth(x.client_id, x.client_secret)
    return requests.post(f"{x.url}/2/oauth2/token", data=form, auth=auth, timeout=5)


def refresh(x: XSandbox, refresh_token: str) -> requests.Response:
    return token_call(x, grant_type="refresh_token", refresh_token=refresh_token)


def me(x: XSandbox, access_token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(f"{x.url}/2/users/me", headers=headers, timeout=5)


# -- OAuth 1.0a ------------------------------------------------------------------------------
def test_pin_flow_gives_a_token_that_posts_and_reads(x: XSandbox, alice: XUser) -> None:
    handler = SandboxOAuth1Handler(x.url, x.consumer_key, x.consumer_secret, callback="oob")
    approval = approve(handler.get_authorization_url())
    assert approval.location is None and approval.code is not None
    assert approval.code.isdigit() and len(approval.code) == 7

    token, secret = handler.get_access_token(approval.code)
    assert token.startswith(f"{alice.id}-") and token != alice.access_token
    client = oauth1_client(x, token, secret)
    assert client.get_me().data.username == "alice"
    posted = client.create_tweet(text="signed in with a PIN")
    timeline = client.get_users_tweets(alice.id, user_auth=True)
    assert [t.id for t in timeline.data] == [int(posted.data["id"])]

    # "PIN numbers are not reusable": the request token went with the first exchange.
    with pytest.raises(tweepy.TweepyException, match="401"):
        handler.get_access_token(approval.code)


def test_callback_flow_redirects_with_a_verifier(x: XSandbox, alice: XUser) -> None:
    bob = x.create_user("bob")
    handler = SandboxOAuth1Handler(x.url, x.consumer_key, x.consumer_secret, callback=CALLBACK)
    approval = approve(handler.get_authorization_url(), username="bob")
    assert approval.location is not None and approval.location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(approval.location).query)
    assert query["oauth_token"] == [handler.request_token["oauth_token"]]

    token, secret = handler.get_access_token(query["oauth_verifier"][0])
    assert token.startswith(f"{bob.id}-")
    response = oauth1_client(x, token, secret).get_me(user_auth=True)
    assert response.data.id == int(bob.id)


def test_oauth1_refusals_carry_x_bodies(x: XSandbox, alice: XUser) -> None:
    unregistered = OAuth1(
        x.consumer_key, x.consumer_secret, callback_uri="http://127.0.0.1:9/elsewhere"
    )
    answer = requests.post(f"{x.url}/oauth/request_token", auth=unregistered, timeout=5)
    assert answer.status_code == 403
    assert '<error code="415">Callback URL not approved' in answer.text

    bad_key = OAuth1(x.consumer_key, "not-the-secret", callback_uri="oob")
    answer = requests.post(f"{x.url}/oauth/request_token", auth=bad_key, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == 32

    handler = SandboxOAuth1Handler(x.url, x.consumer_key, x.consumer_secret, callback="oob")
    pin = approve(handler.get_authorization_url()).code
    wrong = "0000000" if pin != "0000000" else "1111111"
    request_token = handler.request_token
    signed = OAuth1(
        x.consumer_key,
        x.consumer_secret,
        request_token["oauth_token"],
        request_token["oauth_token_secret"],
        verifier=wrong,
    )
    answer = requests.post(f"{x.url}/oauth/access_token", auth=signed, timeout=5)
    assert answer.status_code == 401
    assert answer.text == "Error processing your OAuth request: Invalid oauth_verifier parameter"
    # The wrong PIN did not spend the request token: the right one still works.
    assert handler.get_access_token(pin)[0].startswith(f"{alice.id}-")


def test_denying_an_oauth1_request(x: XSandbox, alice: XUser) -> None:
    handler = SandboxOAuth1Handler(x.url, x.consumer_key, x.consumer_secret, callback=CALLBACK)
    approval = approve(handler.get_authorization_url(), decision="deny")
    assert approval.location is not None
    query = parse_qs(urlsplit(approval.location).query)
    assert query == {"denied": [handler.request_token["oauth_token"]]}
    with pytest.raises(tweepy.TweepyException, match="401"):
        handler.get_access_token("anything")

    pin_handler = SandboxOAuth1Handler(x.url, x.consumer_key, x.consumer_secret, callback="oob")
    with pytest.raises(ApprovalError, match="no code"):
        approve(pin_handler.get_authorization_url(), decision="deny")


def test_read_only_access_type_gives_a_read_only_token(x: XSandbox, alice: XUser) -> None:
    handler = SandboxOAuth1Handler(x.url, x.consumer_key, x.consumer_secret, callback="oob")
    pin = approve(handler.get_authorization_url(access_type="read")).code
    client = oauth1_client(x, *handler.get_access_token(pin))
    assert client.get_me().data.username == "alice"
    with pytest.raises(tweepy.Forbidden, match="oauth1 app permissions"):
        client.create_tweet(text="read-only tokens cannot post")


# -- OAuth 2.0 with PKCE ---------------------------------------------------------------------
def test_pkce_flow_gives_a_bearer_token_that_posts_and_reads(x: XSandbox, alice: XUser) -> None:
    token = sign_in(x)
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    assert token["scope"] == ALL_SCOPES and token["refresh_token"]

    client = bearer_client(x, token["access_token"])
    assert client.get_me(user_auth=False).data.username == "alice"
    posted = client.create_tweet(text="posted with OAuth 2.0", user_auth=False)
    timeline = client.get_users_tweets(alice.id, user_auth=False)
    assert [t.id for t in timeline.data] == [int(posted.data["id"])]
    client.delete_tweet(posted.data["id"], user_auth=False)
    assert x.posts("alice") == []
    assert "x-access-level" not in me(x, token["access_token"]).headers


def test_tweepys_own_oauth2_handler_and_a_plain_challenge(x: XSandbox, alice: XUser) -> None:
    handler = SandboxOAuth2Handler(
        x.url,
        client_id=x.client_id,
        redirect_uri=CALLBACK,
        scope=["tweet.read", "users.read"],
        client_secret=x.client_secret,
    )
    url = handler.get_authorization_url().replace("https://twitter.com", x.url)
    location = approve(url).location
    token = handler.fetch_token(location)
    assert "refresh_token" not in token  # no offline.access, no refresh token
    assert me(x, token["access_token"]).json()["data"]["username"] == "alice"

    # X allows "S256 OR plain" (requests_oauthlib 2.0 leaves a plain challenge out of the URL,
    # so it is passed by hand).
    plain = OAuth2Session(x.client_id, redirect_uri=CALLBACK, scope=["tweet.read", "users.read"])
    verifier = "a-plain-verifier-" + "v" * 40
    url, _ = plain.authorization_url(
        f"{x.url}/i/oauth2/authorize", code_challenge=verifier, code_challenge_method="plain"
    )
    token = plain.fetch_token(
        f"{x.url}/2/oauth2/token",
        authorization_response=approve(url).location,
        client_secret=x.client_secret,
        code_verifier=verifier,
    )
    assert me(x, token["access_token"]).status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_is_refused(x: XSandbox, alice: XUser) -> None:
    first = sign_in(x)
    answer = refresh(x, first["refresh_token"])
    assert answer.status_code == 200
    second = answer.json()
    assert list(second) == ["token_type", "expires_in", "access_token", "scope", "refresh_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert me(x, second["access_token"]).status_code == 200
    assert x.token_refreshes == 1

    again = refresh(x, first["refresh_token"])
    assert (again.status_code, again.json()) == (400, SPENT_TOKEN)
    rows = {row["token"]: row for row in x.oauth2_tokens("alice")}
    assert rows[first["refresh_token"]]["state"] == "used"
    assert rows[first["refresh_token"]]["replaced_by"] == second["refresh_token"]
    assert x.token_refreshes == 1

    # requests_oauthlib's own refresh call, with the new refresh token.
    session = OAuth2Session(x.client_id, token=second)
    third = session.refresh_token(
        f"{x.url}/2/oauth2/token", auth=HTTPBasicAuth(x.client_id, x.client_secret)
    )
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    served = requests.get(f"{x.url}/_sandbox/oauth/tokens", timeout=5).json()
    assert served["token_refreshes"] == 2


def test_a_code_is_single_use_and_short_lived(
    x: XSandbox, alice: XUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = pkce_session(x, ["tweet.read", "users.read"])
    location = authorize(x, session)
    session.fetch_token(
        f"{x.url}/2/oauth2/token", authorization_response=location, client_secret=x.client_secret
    )
    code = parse_qs(urlsplit(location).query)["code"][0]
    verifier = session._code_verifier
    twice = token_call(
        x, grant_type="authorization_code", code=code, redirect_uri=CALLBACK,
        code_verifier=verifier, client_id=x.client_id,
    )  # fmt: skip
    assert (twice.status_code, twice.json()) == (400, BAD_CODE)

    late = pkce_session(x, ["tweet.read", "users.read"])
    location = authorize(x, late)
    clock = x.now()
    monkeypatch.setattr(x, "now", lambda: clock + 31)  # X: exchange within 30 s
    expired = token_call(
        x, grant_type="authorization_code", code=parse_qs(urlsplit(location).query)["code"][0],
        redirect_uri=CALLBACK, code_verifier=late._code_verifier,
    )  # fmt: skip
    assert (expired.status_code, expired.json()) == (400, BAD_CODE)


def test_the_verifier_and_the_redirect_uri_must_match(x: XSandbox, alice: XUser) -> None:
    session = pkce_session(x, ["tweet.read", "users.read"])
    code = parse_qs(urlsplit(authorize(x, session)).query)["code"][0]
    wrong = token_call(
        x, grant_type="authorization_code", code=code, redirect_uri=CALLBACK,
        code_verifier="x" * 64,
    )  # fmt: skip
    assert wrong.status_code == 400
    assert wrong.json()["error_description"] == (
        "Value passed for the code verifier did not match the code challenge."
    )
    spent = token_call(
        x, grant_type="authorization_code", code=code, redirect_uri=CALLBACK,
        code_verifier=session._code_verifier,
    )  # fmt: skip
    assert spent.json() == BAD_CODE  # a failed exchange spent the code too

    other = "http://127.0.0.1:8765/other"
    x.register_redirect_uri(other)
    session = pkce_session(x, ["tweet.read", "users.read"])
    code = parse_qs(urlsplit(authorize(x, session)).query)["code"][0]
    mismatch = token_call(
        x, grant_type="authorization_code", code=code, redirect_uri=other,
        code_verifier=session._code_verifier,
    )  # fmt: skip
    assert mismatch.json()["error_description"].startswith(
        "Value passed for the redirect uri did not match"
    )
    missing = token_call(x, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "Missing required parameter [code_verifier].",
    }


def test_the_authorization_page_refuses_what_x_refuses(x: XSandbox, alice: XUser) -> None:
    elsewhere = "http://127.0.0.1:8765/not-registered"
    session = OAuth2Session(x.client_id, redirect_uri=elsewhere, scope=["tweet.read"], pkce="S256")
    url, _ = session.authorization_url(f"{x.url}/i/oauth2/authorize")
    with pytest.raises(ApprovalError, match="400"):
        approve(url)
    registered = requests.post(
        f"{x.url}/_sandbox/oauth/redirect_uris", json={"uri": elsewhere}, timeout=5
    )
    assert elsewhere in registered.json()["redirect_uris"]
    assert approve(url).location is not None  # exact match, once registered

    no_pkce = OAuth2Session(x.client_id, redirect_uri=CALLBACK, scope=["tweet.read"])
    url, _ = no_pkce.authorization_url(f"{x.url}/i/oauth2/authorize")
    with pytest.raises(ApprovalError, match="code_challenge"):
        approve(url)
    unknown = pkce_session(x, ["tweet.read", "tweet.everything"])
    with pytest.raises(ApprovalError, match="scope"):
        authorize(x, unknown)
    stranger = OAuth2Session(
        "someone-else", redirect_uri=CALLBACK, scope=["tweet.read"], pkce="S256"
    )
    url, _ = stranger.authorization_url(f"{x.url}/i/oauth2/authorize")
    with pytest.raises(ApprovalError, match="client_id"):
        approve(url)


def test_denying_an_oauth2_request(x: XSandbox, alice: XUser) -> None:
    session = pkce_session(x, ["tweet.read", "users.read"])
    url, state = session.authorization_url(f"{x.url}/i/oauth2/authorize")
    location = approve(url, decision="deny").location
    assert location is not None
    assert parse_qs(urlsplit(location).query) == {"error": ["access_denied"], "state": [state]}


def test_a_missing_scope_is_xs_403(x: XSandbox, alice: XUser) -> None:
    token = sign_in(x, ["tweet.read", "users.read"])
    client = bearer_client(x, token["access_token"])
    with pytest.raises(tweepy.Forbidden) as refused:
        client.create_tweet(text="no tweet.write", user_auth=False)
    assert refused.value.response.json() == {
        "title": "Forbidden",
        "detail": "Forbidden",
        "type": "about:blank",
        "status": 403,
    }
    upload = requests.post(
        f"{x.url}/2/media/upload/initialize",
        json={"media_type": "image/png", "total_bytes": 10, "media_category": "tweet_image"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert upload.status_code == 403  # media.write
    assert x.posts("alice") == []

    only_users = sign_in(x, ["users.read"])
    assert me(x, only_users["access_token"]).status_code == 403  # needs tweet.read too


def test_an_expired_access_token_is_xs_401_and_a_refresh_mends_it(
    x: XSandbox, alice: XUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    x.access_token_ttl = 3
    token = sign_in(x)
    assert token["expires_in"] == 3
    assert me(x, token["access_token"]).status_code == 200
    clock = x.now()
    monkeypatch.setattr(x, "now", lambda: clock + 4)
    expired = me(x, token["access_token"])
    assert (expired.status_code, expired.json()["title"]) == (401, "Unauthorized")
    fresh = refresh(x, token["refresh_token"]).json()
    assert me(x, fresh["access_token"]).status_code == 200

    assert x.expire_access_tokens("alice") == 2
    assert me(x, fresh["access_token"]).status_code == 401
    assert me(x, refresh(x, fresh["refresh_token"]).json()["access_token"]).status_code == 200


def test_revoking_a_token(x: XSandbox, alice: XUser) -> None:
    token = sign_in(x)
    auth = HTTPBasicAuth(x.client_id, x.client_secret)
    answer = requests.post(
        f"{x.url}/2/oauth2/revoke",
        data={"token": token["access_token"], "token_type_hint": "access_token"},
        auth=auth,
        timeout=5,
    )
    assert answer.json() == {"revoked": True}
    assert me(x, token["access_token"]).status_code == 401

    requests.post(
        f"{x.url}/2/oauth2/revoke", data={"token": token["refresh_token"]}, auth=auth, timeout=5
    )
    assert refresh(x, token["refresh_token"]).json() == SPENT_TOKEN
    unauthenticated = requests.post(
        f"{x.url}/2/oauth2/revoke", data={"token": "x", "client_id": x.client_id}, timeout=5
    )
    assert unauthenticated.status_code == 401


def test_revoke_grants_ends_every_token_of_the_user(x: XSandbox, alice: XUser) -> None:
    bob = x.create_user("bob")
    oauth2 = sign_in(x)
    handler = SandboxOAuth1Handler(x.url, x.consumer_key, x.consumer_secret, callback="oob")
    oauth1 = handler.get_access_token(approve(handler.get_authorization_url()).code)
    again = sign_in(x)  # the page signs in alice by default
    bob_token = sign_in_as(x, "bob")

    answer = requests.post(
        f"{x.url}/_sandbox/oauth/revoke_grants", json={"username": "alice"}, timeout=5
    )
    assert answer.json()["revoked"] >= 5
    assert me(x, oauth2["access_token"]).status_code == 401
    assert me(x, again["access_token"]).status_code == 401
    assert refresh(x, oauth2["refresh_token"]).json() == SPENT_TOKEN
    with pytest.raises(tweepy.Unauthorized):
        oauth1_client(x, *oauth1).get_me()
    with pytest.raises(tweepy.Unauthorized):
        oauth1_client(x, alice.access_token, alice.access_token_secret).get_me()
    # bob's tokens are his own; alice can sign in again.
    assert me(x, bob_token["access_token"]).json()["data"]["id"] == bob.id
    assert me(x, sign_in(x)["access_token"]).status_code == 200


def sign_in_as(x: XSandbox, username: str) -> dict[str, Any]:
    session = pkce_session(x, ["tweet.read", "users.read"])
    location = authorize(x, session, username=username)
    return session.fetch_token(
        f"{x.url}/2/oauth2/token", authorization_response=location, client_secret=x.client_secret
    )


def test_client_authentication(alice: XUser, x: XSandbox) -> None:
    session = pkce_session(x, ["tweet.read", "users.read"])
    location = authorize(x, session)
    code = parse_qs(urlsplit(location).query)["code"][0]
    body_only = requests.post(
        f"{x.url}/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": session._code_verifier,
            "client_id": x.client_id,
        },
        timeout=5,
    )
    assert body_only.status_code == 401
    assert body_only.json() == {
        "error": "unauthorized_client",
        "error_description": "Missing valid authorization header",
    }

    with XSandbox(oauth2_client_type="public") as public:
        public.create_user("carol")
        native = pkce_session(public, ["tweet.read", "users.read"])
        location = authorize(public, native)
        token = native.fetch_token(
            f"{public.url}/2/oauth2/token",
            authorization_response=location,
            include_client_id=True,
        )
        assert me(public, token["access_token"]).json()["data"]["username"] == "carol"


def test_oauth2_users_have_their_own_rate_limit(x: XSandbox, alice: XUser) -> None:
    x.set_rate_limit("GET /2/users/me", 1)
    token = sign_in(x)
    assert me(x, token["access_token"]).status_code == 200
    limited = me(x, token["access_token"])
    assert limited.status_code == 429 and limited.headers["x-rate-limit-remaining"] == "0"
    bob = x.create_user("bob")
    assert me(x, sign_in_as(x, "bob")["access_token"]).json()["data"]["id"] == bob.id
