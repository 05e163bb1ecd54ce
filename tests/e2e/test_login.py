"""`birdbridge login`, `logout` and `init` as a person uses them: the CLI as a subprocess, the
authorization pages of the sandboxes approved over HTTP as a browser would."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox

from .conftest import cli
from .signin_tools import Interactive, approve_in_browser


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sandboxes():
    with XSandbox() as x, MastodonSandbox() as masto:
        x.create_user("alice", "Alice")
        masto.create_user("alice", "Alice")
        yield x, masto


def _config(tmp_path: Path, x: XSandbox, masto: MastodonSandbox) -> Path:
    redirect = f"http://127.0.0.1:{_free_port()}/callback"
    x.register_redirect_uri(redirect)
    path = tmp_path / "birdbridge.toml"
    path.write_text(
        f"""
[bridge]
database_url = "sqlite:///{tmp_path / "state.db"}"
poll_interval = 60

[[links]]
name = "alice"
direction = "both"

[links.twitter]
api_base_url = "{x.url}"
client_id = "{x.client_id}"
redirect_uri = "{redirect}"

[links.mastodon]
api_base_url = "{masto.url}"
"""
    )
    path.chmod(0o600)
    return path


def _login(config: Path, *args: str, env: dict[str, str] | None = None) -> Interactive:
    return Interactive(
        "login", *args, "--link", "alice", "--no-browser", "-c", str(config), env=env
    )


def _sign_in_both(config: Path, x: XSandbox) -> None:
    mastodon = _login(config, "mastodon")
    approve_in_browser(mastodon.next_url())
    assert mastodon.finish() == 0, mastodon.text()
    xs = _login(config, "x", env={"X_CLIENT_SECRET": x.client_secret})
    approve_in_browser(xs.next_url())
    assert xs.finish() == 0, xs.text()


def test_both_logins_over_the_loopback_then_the_bridge_mirrors(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto)

    mastodon = _login(config, "mastodon")
    approve_in_browser(mastodon.next_url())
    assert mastodon.finish() == 0, mastodon.text()
    assert "signed in: link alice: Mastodon @alice@" in mastodon.text()
    # The app asked for exactly the scopes a two-way link needs, nothing more.
    (app,) = masto.applications()
    assert sorted(app["scopes"]) == sorted(
        ["read:accounts", "read:statuses", "write:statuses", "write:media"]
    )

    xs = _login(config, "x", env={"X_CLIENT_SECRET": x.client_secret})
    approve_in_browser(xs.next_url())
    assert xs.finish() == 0, xs.text()
    assert "signed in: link alice: X @alice" in xs.text()

    # The key file was made beside the database, private; no token is stored in clear.
    key = tmp_path / "state.db.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    raw = (tmp_path / "state.db").read_bytes()
    for token in [t["access_token"] for t in masto.issued_tokens("alice")] + [
        t["token"] for t in x.oauth2_tokens("alice")
    ]:
        assert token.encode() not in raw

    checked = cli("check", "-c", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "credentials: signed in as @alice (OAuth 2.0" in checked.stdout
    assert "credentials: signed in as @alice@" in checked.stdout

    assert cli("once", "-c", str(config)).returncode == 0  # first poll: starts from now
    masto.create_post("alice", "signed in, and mirrored")
    ran = cli("once", "-c", str(config))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [p["text"] for p in x.posts("alice")] == ["signed in, and mirrored"]

    shown = cli("status", "-c", str(config))
    assert "signed in as @alice (OAuth 2.0), token valid until" in shown.stdout


def test_mastodon_out_of_band_code_and_x_oauth1_pin(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto)

    mastodon = _login(config, "mastodon", "--paste")
    code = approve_in_browser(mastodon.next_url())
    assert code
    mastodon.type(code)
    assert mastodon.finish() == 0, mastodon.text()
    (app,) = masto.applications()
    assert app["redirect_uris"] == ["urn:ietf:wg:oauth:2.0:oob"]

    keys = {"X_CONSUMER_KEY": x.consumer_key, "X_CONSUMER_SECRET": x.consumer_secret}
    pin_login = _login(config, "x", "--oauth1", env=keys)
    pin = approve_in_browser(pin_login.next_url())
    assert pin and pin.isdigit()
    pin_login.type(pin)
    assert pin_login.finish() == 0, pin_login.text()
    assert "access level read-write" in pin_login.text()

    checked = cli("check", "-c", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "(OAuth 1.0a" in checked.stdout


def test_x_paste_mode_takes_the_address_the_browser_ended_on(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto)
    from birdbridge.sandbox.common.approve import approve

    pasted = _login(config, "x", "--paste", env={"X_CLIENT_SECRET": x.client_secret})
    answer = approve(pasted.next_url())
    assert answer.location and "code=" in answer.location
    pasted.type(answer.location)  # nothing listens there: the person copies the address
    assert pasted.finish() == 0, pasted.text()


def test_a_denied_sign_in_stores_nothing_and_says_so(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto)
    denied = _login(config, "mastodon")
    approve_in_browser(denied.next_url(), decision="deny")
    assert denied.finish() == 1
    assert "refused the sign-in" in denied.text()
    shown = cli("status", "-c", str(config))
    assert "not signed in: run `birdbridge login mastodon --link alice`" in shown.stdout


def test_not_signed_in_is_a_configuration_error_naming_the_command(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto)
    ran = cli("once", "-c", str(config))
    assert ran.returncode == 2
    assert ran.stderr.count("run `birdbridge login x --link alice`") == 1  # said once
    checked = cli("check", "-c", str(config))
    assert checked.returncode == 2
    assert "run `birdbridge login x --link alice`" in checked.stderr


def test_a_wrong_key_is_a_clear_error_and_the_right_one_works(sandboxes, tmp_path):
    from cryptography.fernet import Fernet

    x, masto = sandboxes
    config = _config(tmp_path, x, masto)
    _sign_in_both(config, x)
    wrong = {"BIRDBRIDGE_SECRET_KEY": Fernet.generate_key().decode()}
    ran = cli("once", "-c", str(config), env=wrong)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "BIRDBRIDGE_SECRET_KEY" in ran.stderr and "sign in again" in ran.stderr.lower()
    assert wrong["BIRDBRIDGE_SECRET_KEY"] not in ran.stderr + ran.stdout
    assert cli("once", "-c", str(config)).returncode == 0  # the key file beside the database


def test_a_revoked_grant_pauses_the_side_with_sign_in_again_and_login_lifts_it(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto)
    _sign_in_both(config, x)
    assert cli("once", "-c", str(config)).returncode == 0
    masto.revoke_tokens("alice")
    ran = cli("once", "-c", str(config))
    assert ran.returncode == 1
    assert "Sign in again: `birdbridge login mastodon --link alice`" in ran.stderr
    again = _login(config, "mastodon")
    approve_in_browser(again.next_url())
    assert again.finish() == 0, again.text()
    masto.create_post("alice", "after signing in again")
    assert cli("once", "-c", str(config)).returncode == 0
    assert "after signing in again" in [p["text"] for p in x.posts("alice")]


def test_logout_revokes_and_forgets(sandboxes, tmp_path):
    x, masto = sandboxes
    config = _config(tmp_path, x, masto)
    _sign_in_both(config, x)
    out = cli("logout", "--link", "alice", "-c", str(config))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Mastodon token revoked" in out.stdout and "X tokens revoked" in out.stdout
    assert all(t["revoked"] for t in masto.issued_tokens("alice"))
    assert all(t["state"] in ("revoked", "used") for t in x.oauth2_tokens("alice"))
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("select count(*) from credential").fetchone() == (0,)
    shown = cli("status", "-c", str(config))
    assert "not signed in" in shown.stdout


def test_init_writes_a_private_config_without_secrets_signs_in_and_checks(sandboxes, tmp_path):
    x, masto = sandboxes
    port = _free_port()
    redirect = f"http://127.0.0.1:{port}/callback"
    x.register_redirect_uri(redirect)
    started = Interactive(
        "init",
        "--link",
        "alice",
        "--direction",
        "both",
        "--instance",
        masto.url,
        "--x-api-base-url",
        x.url,
        "--x-client-id",
        x.client_id,
        "--x-redirect-uri",
        redirect,
        "--no-browser",
        cwd=tmp_path,
        env={"X_CLIENT_SECRET": x.client_secret},
    )
    approve_in_browser(started.next_url())  # Mastodon
    approve_in_browser(started.next_url())  # X
    assert started.finish() == 0, started.text()
    config = tmp_path / "birdbridge.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    written = config.read_text()
    assert x.client_secret not in written and "access_token" not in written
    assert "credentials: signed in as @alice (OAuth 2.0" in started.text()
    assert cli("once", cwd=tmp_path).returncode == 0
    assert os.path.exists(tmp_path / "birdbridge.db.key")
