"""Signing in to the Mastodon sandbox with the real Mastodon.py 2.3.3, over real HTTP:
registering an app, the authorization page, the token and revocation endpoints, and the
well-known document, answered as Mastodon (Doorkeeper 5.9) answers them
(docs/api-notes.md M6)."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from mastodon import Mastodon, MastodonIllegalArgumentError, MastodonUnauthorizedError

from birdbridge.sandbox.common.approve import ApprovalError, approve
from birdbridge.sandbox.mastodon import MastodonSandbox

OOB = "urn:ietf:wg:oauth:2.0:oob"
CALLBACK = "http://127.0.0.1:8765/callback"
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
_names = itertools.count(1)


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        server.create_user(f"alice{next(_names)}")
        yield server


def new_app(
    sandbox: MastodonSandbox, scopes: list[str], redirect: str = CALLBACK
) -> tuple[Mastodon, str]:
    name = f"Bridge {next(_names)}"
    client_id, secret = Mastodon.create_app(
        name, scopes=scopes, redirect_uris=redirect, api_base_url=sandbox.url
    )
    return Mastodon(client_id=client_id, client_secret=secret, api_base_url=sandbox.url), name


def code_of(location: str | None) -> str:
    assert location is not None
    return parse_qs(urlsplit(location).query)["code"][0]


def sign_in(sandbox: MastodonSandbox, scopes: list[str]) -> tuple[Mastodon, str, str]:
    api, name = new_app(sandbox, scopes)
    url = api.auth_request_url(redirect_uris=CALLBACK, scopes=scopes, allow_http=True)
    code = code_of(approve(url).location)
    token = api.log_in(code=code, redirect_uri=CALLBACK, scopes=scopes, allow_http=True)
    return api, name, token


def token_request(sandbox: MastodonSandbox, **fields: str) -> requests.Response:
    return requests.post(f"{sandbox.url}/oauth/token", data=fields, timeout=5)


def test_the_whole_flow_with_a_loopback_redirect(sandbox: MastodonSandbox) -> None:
    scopes = ["read:accounts", "write:statuses"]
    api, name = new_app(sandbox, scopes)
    url = api.auth_request_url(
        redirect_uris=CALLBACK, scopes=scopes, state="s t&ate", allow_http=True
    )
    assert url.startswith(f"{sandbox.url}/oauth/authorize?")  # from the well-known document
    approval = approve(url)
    assert approval.location is not None and approval.location.startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(approval.location).query)["state"] == ["s t&ate"]
    token = api.log_in(
        code=code_of(approval.location), redirect_uri=CALLBACK, scopes=scopes, allow_http=True
    )
    user = sandbox.user(next(iter(sandbox.issued_tokens()))["username"])  # type: ignore[arg-type]
    assert api.account_verify_credentials()["username"] == user.username
    status = api.status_post("signed in")
    assert status["application"]["name"] == name
    [app] = [a for a in sandbox.applications() if a["name"] == name]
    assert app["scopes"] == scopes and app["redirect_uris"] == [CALLBACK]
    [issued] = sandbox.issued_tokens(user.username)
    assert issued["access_token"] == token and issued["scopes"] == scopes
    assert issued["client_id"] == app["client_id"]

    api.revoke_access_token(allow_http=True)
    gone = requests.get(
        f"{sandbox.url}/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert gone.status_code == 401
    assert gone.json() == {"error": "The access token was revoked"}
    assert sandbox.issued_tokens(user.username)[0]["revoked"] is True


def test_out_of_band_shows_the_code_on_the_server(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read", "write"], redirect=OOB)
    approval = approve(api.auth_request_url(scopes=["read", "write"], allow_http=True))
    assert approval.location is not None
    assert urlsplit(approval.location).path == "/oauth/authorize/native"
    assert approval.code is not None and approval.code == code_of(approval.location)
    api.log_in(code=approval.code, scopes=["read", "write"], allow_http=True)
    assert api.status_post("from oob")["content"] == "<p>from oob</p>"


def test_registration_answers_the_credential_application(sandbox: MastodonSandbox) -> None:
    reply = requests.post(
        f"{sandbox.url}/api/v1/apps",
        json={"client_name": "JSON app", "redirect_uris": [CALLBACK, OOB], "scopes": "read"},
        timeout=5,
    )
    body = reply.json()
    assert reply.status_code == 200
    assert body["redirect_uris"] == [CALLBACK, OOB]
    assert body["redirect_uri"] == f"{CALLBACK}\n{OOB}"
    assert body["scopes"] == ["read"] and "client_secret_expires_at" not in body  # 4.3
    sandbox.set_version("4.4.0")
    later = requests.post(
        f"{sandbox.url}/api/v1/apps", data={"client_name": "x", "redirect_uris": OOB}
    )
    assert later.json()["client_secret_expires_at"] == 0 and later.json()["scopes"] == ["read"]
    sandbox.set_version("4.2.0")
    old = requests.post(
        f"{sandbox.url}/api/v1/apps", data={"client_name": "y", "redirect_uris": OOB}
    )
    assert "scopes" not in old.json() and "redirect_uris" not in old.json()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"redirect_uris": OOB}, "Validation failed: Application name can't be blank"),
        (
            {"client_name": "a", "redirect_uris": "/callback"},
            "Validation failed: Redirect URI must be an absolute URI.",
        ),
        (
            {"client_name": "a", "redirect_uris": "https://app.example/cb#frag"},
            "Validation failed: Redirect URI cannot contain a fragment.",
        ),
        (
            {"client_name": "a", "redirect_uris": OOB, "scopes": "read launch:missiles"},
            "Validation failed: Scopes doesn't match those configured on the server.",
        ),
        ({"client_name": "a"}, "Validation failed: Redirect URI can't be blank"),
    ],
)
def test_registration_refusals(
    sandbox: MastodonSandbox, fields: dict[str, str], message: str
) -> None:
    reply = requests.post(f"{sandbox.url}/api/v1/apps", data=fields, timeout=5)
    assert (reply.status_code, reply.json()) == (422, {"error": message})


def test_a_code_works_once(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    code = code_of(
        approve(
            api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], allow_http=True)
        ).location
    )
    fields = {
        "grant_type": "authorization_code",
        "client_id": str(api.client_id),
        "client_secret": str(api.client_secret),
        "code": code,
        "redirect_uri": CALLBACK,
    }
    first = token_request(sandbox, **fields)
    assert first.status_code == 200
    assert set(first.json()) == {"access_token", "token_type", "scope", "created_at"}
    assert first.json()["token_type"] == "Bearer" and first.json()["scope"] == "read"
    second = token_request(sandbox, **fields)
    assert second.status_code == 400
    assert second.json() == {"error": "invalid_grant", "error_description": INVALID_GRANT}


def test_a_code_expires_after_ten_minutes(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    code = code_of(
        approve(
            api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], allow_http=True)
        ).location
    )
    now = sandbox.now()
    sandbox.clock = lambda: now + 601
    with pytest.raises(MastodonIllegalArgumentError, match="invalid_grant"):
        api.log_in(code=code, redirect_uri=CALLBACK, scopes=["read"], allow_http=True)


def test_a_wrong_client_secret_is_invalid_client(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    code = code_of(
        approve(
            api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], allow_http=True)
        ).location
    )
    reply = token_request(
        sandbox,
        grant_type="authorization_code",
        client_id=str(api.client_id),
        client_secret="not-the-secret",
        code=code,
        redirect_uri=CALLBACK,
    )
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_client"
    assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="Doorkeeper"')


def test_a_redirect_uri_the_app_did_not_register_is_refused(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    url = api.auth_request_url(
        redirect_uris="http://evil.example/cb", scopes=["read"], allow_http=True
    )
    page = requests.get(url, timeout=5)
    assert page.status_code == 400 and "<form" not in page.text
    assert "doesn&#x27;t match the client redirect URI" in page.text
    with pytest.raises(ApprovalError):
        approve(url)
    # The loopback port may differ (RFC 8252 7.3), the path may not.
    assert approve(
        api.auth_request_url(
            redirect_uris="http://127.0.0.1:1/callback", scopes=["read"], allow_http=True
        )
    ).location
    with pytest.raises(ApprovalError):
        approve(
            api.auth_request_url(
                redirect_uris="http://127.0.0.1:8765/other", scopes=["read"], allow_http=True
            )
        )


def test_an_unknown_client_gets_the_error_page(sandbox: MastodonSandbox) -> None:
    query = urlencode({"client_id": "nope", "redirect_uri": OOB, "response_type": "code"})
    page = requests.get(f"{sandbox.url}/oauth/authorize?{query}", timeout=5)
    assert page.status_code == 401 and "<form" not in page.text
    assert "Client authentication failed" in page.text


def test_scopes_wider_than_the_apps_are_refused(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    for scopes in (["read", "write"], ["read:statuses"]):  # no hierarchy in Doorkeeper
        url = api.auth_request_url(redirect_uris=CALLBACK, scopes=scopes, allow_http=True)
        page = requests.get(url, timeout=5)
        assert page.status_code == 400 and "<form" not in page.text
        assert "The requested scope is invalid, unknown, or malformed." in page.text


def test_deny_sends_access_denied_back(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    url = api.auth_request_url(
        redirect_uris=CALLBACK, scopes=["read"], state="abc", allow_http=True
    )
    denied = approve(url, decision="deny")
    assert denied.location is not None
    assert parse_qs(urlsplit(denied.location).query) == {
        "error": ["access_denied"],
        "error_description": ["The resource owner or authorization server denied the request."],
        "state": ["abc"],
    }
    assert sandbox.issued_tokens() == []


def _pkce_url(api: Mastodon, verifier: str) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "client_id": api.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "read",
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    return f"{api.api_base_url}/oauth/authorize?{query}"


def test_pkce_needs_the_right_verifier(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    verifier = "v" * 50
    base = {
        "grant_type": "authorization_code",
        "client_id": str(api.client_id),
        "client_secret": str(api.client_secret),
        "redirect_uri": CALLBACK,
    }
    code = code_of(approve(_pkce_url(api, verifier)).location)
    without = token_request(sandbox, **base, code=code)
    assert without.json() == {
        "error": "invalid_request",
        "error_description": "Missing required parameter: code_verifier.",
    }
    wrong = token_request(sandbox, **base, code=code, code_verifier="w" * 50)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    code = code_of(approve(_pkce_url(api, verifier)).location)
    right = token_request(sandbox, **base, code=code, code_verifier=verifier)
    assert right.status_code == 200 and right.json()["scope"] == "read"


def test_pkce_plain_is_not_accepted(sandbox: MastodonSandbox) -> None:
    api, _ = new_app(sandbox, ["read"])
    url = _pkce_url(api, "v" * 50).replace("S256", "plain")
    page = requests.get(url, timeout=5)
    assert page.status_code == 400 and "The code_challenge_method must be S256." in page.text


def test_well_known_document_from_4_3(sandbox: MastodonSandbox) -> None:
    sandbox.set_version("4.2.0")
    path = f"{sandbox.url}/.well-known/oauth-authorization-server"
    assert requests.get(path, timeout=5).status_code == 404
    sandbox.set_version("4.3.0")
    document = requests.get(path, timeout=5).json()
    assert document["issuer"] == f"{sandbox.url}/"
    assert document["authorization_endpoint"] == f"{sandbox.url}/oauth/authorize"
    assert document["token_endpoint"] == f"{sandbox.url}/oauth/token"
    assert document["revocation_endpoint"] == f"{sandbox.url}/oauth/revoke"
    assert document["app_registration_endpoint"] == f"{sandbox.url}/api/v1/apps"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert "password" in document["grant_types_supported"]
    assert {"profile", "write:statuses"} <= set(document["scopes_supported"])
    assert "userinfo_endpoint" not in document
    sandbox.set_version("4.4.0")
    newer = requests.get(path, timeout=5).json()
    assert newer["grant_types_supported"] == ["authorization_code", "client_credentials"]
    assert newer["userinfo_endpoint"] == f"{sandbox.url}/oauth/userinfo"


def test_before_4_3_mastodon_py_falls_back_and_pkce_is_ignored(sandbox: MastodonSandbox) -> None:
    sandbox.set_version("4.2.0")
    api, _, token = sign_in(sandbox, ["read"])
    assert api.access_token == token
    code = code_of(approve(_pkce_url(api, "v" * 50)).location)
    reply = token_request(
        sandbox,
        grant_type="authorization_code",
        client_id=str(api.client_id),
        client_secret=str(api.client_secret),
        code=code,
        redirect_uri=CALLBACK,
    )
    assert reply.status_code == 200  # no code_challenge column before 4.3


def test_revoke_tokens_is_the_user_revoking_the_app(sandbox: MastodonSandbox) -> None:
    api, _, _ = sign_in(sandbox, ["read", "write"])
    username = str(sandbox.issued_tokens()[0]["username"])
    own = sandbox.user(username).access_token
    assert sandbox.revoke_tokens(username) == 1
    with pytest.raises(MastodonUnauthorizedError):
        api.account_verify_credentials()
    mine = requests.get(
        f"{sandbox.url}/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {own}"},
        timeout=5,
    )
    assert mine.status_code == 200  # the token made in Preferences > Development stays
    over_http = requests.post(
        f"{sandbox.url}/_sandbox/revoke_tokens", json={"username": username}, timeout=5
    )
    assert over_http.json() == {"revoked": 0}


def test_signing_in_again_gives_the_same_token(sandbox: MastodonSandbox) -> None:
    api, _, token = sign_in(sandbox, ["read"])
    url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], allow_http=True)
    again = api.log_in(
        code=code_of(approve(url).location), redirect_uri=CALLBACK, scopes=["read"], allow_http=True
    )
    assert again == token  # reuse_access_token
    assert len(sandbox.issued_tokens()) == 1
    # Without Mastodon.py's force_login=False (which Rails reads as true), an app already
    # approved with these scopes is approved again at once: no page.
    query = urlencode(
        {
            "client_id": api.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "read",
        }
    )
    at_once = requests.get(f"{sandbox.url}/oauth/authorize?{query}", allow_redirects=False)
    assert at_once.status_code == 302 and code_of(at_once.headers["Location"])
    shown = requests.get(f"{sandbox.url}/oauth/authorize?{query}&force_login=true")
    assert shown.status_code == 200 and shown.text.count("<form") == 1


def test_client_credentials_token_is_an_app_token(sandbox: MastodonSandbox) -> None:
    api, name = new_app(sandbox, ["read", "write:statuses"])
    reply = token_request(
        sandbox,
        grant_type="client_credentials",
        client_id=str(api.client_id),
        client_secret=str(api.client_secret),
    )
    assert reply.json()["scope"] == "read"
    headers = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    app = requests.get(f"{sandbox.url}/api/v1/apps/verify_credentials", headers=headers)
    assert app.json()["name"] == name
    me = requests.get(f"{sandbox.url}/api/v1/accounts/verify_credentials", headers=headers)
    assert (me.status_code, me.json()) == (
        422,
        {"error": "This method requires an authenticated user"},
    )
    wider = token_request(
        sandbox,
        grant_type="client_credentials",
        client_id=str(api.client_id),
        client_secret=str(api.client_secret),
        scope="read push",
    )
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")


def test_unsupported_grant_type_and_foreign_revocation(sandbox: MastodonSandbox) -> None:
    reply = token_request(sandbox, grant_type="refresh_token", refresh_token="x")
    assert reply.status_code == 400
    assert reply.json()["error"] == "unsupported_grant_type"
    first, _, token = sign_in(sandbox, ["read"])
    other, _ = new_app(sandbox, ["read"])
    refused = requests.post(
        f"{sandbox.url}/oauth/revoke",
        data={"client_id": other.client_id, "client_secret": other.client_secret, "token": token},
        timeout=5,
    )
    assert refused.status_code == 403 and refused.json()["error"] == "unauthorized_client"
    assert first.account_verify_credentials()["username"]
