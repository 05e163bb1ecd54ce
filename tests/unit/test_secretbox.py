"""The key of the stored sign-ins: where it comes from, rotation, and what a key that does not
fit says (never the key itself)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from birdbridge.errors import ConfigError
from birdbridge.redaction import redact
from birdbridge.secretbox import (
    ENV_KEY,
    SecretBox,
    SecretKeyError,
    key_id,
    new_key,
    secret_box,
)

SECRETS = {"access_token": "at-0123456789", "refresh_token": "rt-9876543210"}
WHAT = "the X sign-in of link alice"
AGAIN = "birdbridge login x --link alice"


def box_of(*keys: str) -> SecretBox:
    return secret_box("postgresql://db.example/bridge", {ENV_KEY: ",".join(keys)}, create=False)


def test_a_round_trip_gives_the_secrets_back_and_the_token_holds_none() -> None:
    key = new_key()
    box = box_of(key)
    token = box.encrypt(SECRETS)
    assert box.decrypt(token, what=WHAT, stored_key_id=box.key_id) == SECRETS
    assert all(secret not in token for secret in SECRETS.values())
    assert box.key_id == key_id(key) and len(box.key_id) == 8
    assert int(box.key_id, 16) >= 0  # hex
    assert box.source == ENV_KEY
    assert key not in repr(box)


def test_secrets_that_went_through_the_box_are_redacted() -> None:
    box = box_of(new_key())
    secrets = {"access_token": "fresh-token-" + new_key()[:10]}
    box.decrypt(box.encrypt(secrets), what=WHAT)
    assert secrets["access_token"] not in redact(f"GET failed with {secrets['access_token']}")


def test_rotation_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = new_key(), new_key()
    stored = box_of(old).encrypt(SECRETS)
    rotated = box_of(new, old)
    assert rotated.key_id == key_id(new)
    assert rotated.key_ids == (key_id(new), key_id(old))
    assert rotated.decrypt(stored, what=WHAT, stored_key_id=key_id(old)) == SECRETS
    again = rotated.encrypt(SECRETS)
    assert box_of(new).decrypt(again, what=WHAT) == SECRETS  # written with the first key
    with pytest.raises(SecretKeyError):
        box_of(old).decrypt(again, what=WHAT)
    spaced = secret_box("postgresql://h/d", {ENV_KEY: f" {new} , {old} "}, create=False)
    assert spaced.key_ids == rotated.key_ids


def test_a_wrong_key_names_both_key_ids_and_the_two_fixes_never_a_key() -> None:
    right, wrong = new_key(), new_key()
    token = box_of(right).encrypt(SECRETS)
    with pytest.raises(SecretKeyError) as refused:
        box_of(wrong).decrypt(token, what=WHAT, stored_key_id=key_id(right), again=AGAIN)
    message = str(refused.value)
    assert isinstance(refused.value, ConfigError)  # exit 2
    assert WHAT in message
    assert f"stored with key {key_id(right)}" in message
    assert f"{ENV_KEY} is key {key_id(wrong)}" in message
    assert f"set {ENV_KEY} to the key {key_id(right)}" in message
    assert f"`{AGAIN}`" in message
    assert right not in message and wrong not in message
    assert all(secret not in message for secret in SECRETS.values())


def test_a_wrong_key_without_a_stored_id_still_says_what_to_do() -> None:
    token = box_of(new_key()).encrypt(SECRETS)
    with pytest.raises(SecretKeyError, match="another key, or is damaged") as refused:
        box_of(new_key()).decrypt(token, what=WHAT, again=AGAIN)
    assert AGAIN in str(refused.value)


def test_damaged_ciphertext_is_a_clear_error() -> None:
    box = box_of(new_key())
    token = box.encrypt(SECRETS)
    other = "B" if token[20] == "A" else "A"  # a change, whatever the random token holds there
    for damaged in (token[:-6], token[:20] + other + token[21:], "not a token", "é"):
        with pytest.raises(SecretKeyError) as refused:
            box.decrypt(damaged, what=WHAT, stored_key_id=box.key_id, again=AGAIN)
        assert "damaged" in str(refused.value) and AGAIN in str(refused.value)
    not_ours = box._box().encrypt(b"[1, 2]").decode()
    with pytest.raises(SecretKeyError, match="not a sign-in birdbridge wrote"):
        box.decrypt(not_ours, what=WHAT)


@pytest.mark.parametrize("value", ['"' + "A" * 42 + '"', "abc", "A" * 44 + "=", "é" * 44])
def test_a_malformed_key_names_the_variable_never_the_value(value: str) -> None:
    with pytest.raises(SecretKeyError) as refused:
        secret_box("sqlite:///state.db", {ENV_KEY: value}, create=True)
    message = str(refused.value)
    assert ENV_KEY in message and "not a Fernet key" in message
    assert value not in message
    assert "Fernet.generate_key()" in message


def test_a_malformed_second_key_is_named_by_its_place() -> None:
    good = new_key()
    with pytest.raises(SecretKeyError, match=f"key 2 of 2 in {ENV_KEY}") as refused:
        box_of(good, "nonsense")
    assert good not in str(refused.value) and "nonsense" not in str(refused.value)


def test_the_variable_wins_over_a_key_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    key = new_key()
    box = secret_box(url, {ENV_KEY: key}, create=True)
    assert box.key_id == key_id(key) and box.source == ENV_KEY
    assert not (tmp_path / "state.db.key").exists()


def test_a_key_file_is_made_private_beside_a_sqlite_database_and_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'birdbridge.db'}"
    path = tmp_path / "deep" / "birdbridge.db.key"
    first = secret_box(url, {}, create=True)
    assert first.source == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.key_id == key_id(path.read_text().strip())
    token = first.encrypt(SECRETS)
    second = secret_box(url, {}, create=True)
    assert second.key_id == first.key_id
    assert secret_box(url, {}, create=False).decrypt(token, what=WHAT) == SECRETS
    assert [p.name for p in path.parent.iterdir()] == ["birdbridge.db.key"]  # no leftovers


def test_a_key_file_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        secret_box(f"sqlite:///{tmp_path / 'state.db'}", {}, create=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "state.db.key").stat().st_mode) == 0o600


def test_processes_making_the_key_file_at_once_all_get_the_same_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ids: list[str] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        ids.append(secret_box(url, {}, create=True).key_id)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db.key"]


def test_a_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    secret_box(url, {}, create=True)
    path = tmp_path / "state.db.key"
    path.chmod(0o644)
    for create in (True, False):
        with pytest.raises(SecretKeyError) as refused:
            secret_box(url, {}, create=create)
        message = str(refused.value)
        assert "mode 0644" in message and f"chmod 600 {path}" in message
        assert path.read_text().strip() not in message


def test_a_key_file_with_rotated_keys_encrypts_with_the_first(tmp_path: Path) -> None:
    new, old = new_key(), new_key()
    path = tmp_path / "state.db.key"
    path.write_text(f"{new}\n{old}\n")
    path.chmod(0o600)
    box = secret_box(f"sqlite:///{tmp_path / 'state.db'}", {}, create=False)
    assert box.key_ids == (key_id(new), key_id(old))


def test_an_empty_key_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.db.key"
    path.touch(mode=0o600)
    with pytest.raises(SecretKeyError, match="holds no key: delete it"):
        secret_box(f"sqlite:///{tmp_path / 'state.db'}", {}, create=True)


def test_a_missing_key_file_is_an_error_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError) as refused:
        secret_box(f"sqlite:///{tmp_path / 'state.db'}", {}, create=False)
    message = str(refused.value)
    assert f"the key file {tmp_path / 'state.db.key'} is missing" in message
    assert "cannot be read without it" in message and ENV_KEY in message
    assert not (tmp_path / "state.db.key").exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bridge@db.example/bridge",
        "postgres://bridge:pw@db.example/bridge",
        "postgresql+psycopg://bridge@db.example/bridge",
        "sqlite://",  # in memory: no file to put a key beside
        "not a url",
    ],
)
def test_without_a_database_file_the_variable_is_the_only_source(url: str) -> None:
    with pytest.raises(SecretKeyError) as refused:
        secret_box(url, {}, create=True)
    message = str(refused.value)
    assert f"{ENV_KEY} is not set" in message and "Fernet.generate_key()" in message
    assert "pw" not in message


def test_new_keys_are_fernet_keys_and_differ() -> None:
    first, second = new_key(), new_key()
    assert first != second and len(first) == 44
    box_of(first, second)  # accepted
