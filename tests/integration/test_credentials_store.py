"""Sign-ins kept in the store, encrypted, and the refresh lease that lets one process at a
time refresh them: on SQLite, and on PostgreSQL when configured."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import text as sa_text
from sqlmodel import SQLModel

from birdbridge.redaction import redact
from birdbridge.secretbox import ENV_KEY, SecretBox, SecretKeyError, key_id, new_key, secret_box
from birdbridge.store import CredentialSummary, Store, StoredCredential
from birdbridge.store.database import MIGRATIONS, create_db_engine
from birdbridge.store.migrations import HEAD_REVISION
from birdbridge.store.values import utcnow

X_SECRETS = {
    "access_token": "x-access-token-1111111111",
    "refresh_token": "x-refresh-token-2222222222",
    "client_id": "x-client-id-3333",
}
NEWER = {
    "access_token": "x-access-token-4444444444",
    "refresh_token": "x-refresh-token-5555555555",
    "client_id": "x-client-id-3333",
}


def make_box(*keys: str) -> SecretBox:
    return secret_box("postgresql://h/d", {ENV_KEY: ",".join(keys or (new_key(),))}, create=False)


@pytest.fixture
def box() -> SecretBox:
    return make_box()


def sign_in(
    store: Store, box: SecretBox, secrets: dict[str, str] | None = None, **more: object
) -> StoredCredential:
    fields: dict[str, object] = {
        "link": "alice",
        "network": "twitter",
        "kind": "oauth2",
        "secrets": secrets or X_SECRETS,
        "account_id": "42",
        "handle": "alice",
        "scopes": "tweet.read tweet.write users.read offline.access",
        "expires_at": utcnow() + timedelta(hours=2),
    }
    return store.save_credential(box, **(fields | more))  # type: ignore[arg-type]


def raw_rows(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa_text("SELECT * FROM credential"))
        return [dict(row._mapping) for row in rows]


def test_save_read_replace_and_forget(store: Store, box: SecretBox) -> None:
    assert store.credential(box, "alice", "twitter") is None
    saved = sign_in(store, box)
    assert saved.generation == 1 and saved.secrets == X_SECRETS
    assert saved.key_id == box.key_id and saved.refreshed_at is None
    read = store.credential(box, "alice", "twitter")
    assert read == saved  # everything, times in UTC
    assert read is not None and read.secrets == X_SECRETS and read.created_at.tzinfo is not None
    assert X_SECRETS["access_token"] not in repr(read)

    replaced = sign_in(store, box, NEWER, account_id="43", handle="alice2", expires_at=None)
    assert replaced.generation == 2 and replaced.expires_at is None
    read = store.credential(box, "alice", "twitter")
    assert read is not None and read.secrets == NEWER and read.handle == "alice2"
    assert len(raw_rows(store)) == 1

    store.save_credential(
        box,
        link="alice",
        network="mastodon",
        kind="mastodon",
        secrets={"access_token": "masto-token-666666"},
        account_id="7",
        handle="alice@example.social",
        scopes="read write",
        expires_at=None,
    )
    assert store.forget_credential("alice", "twitter") is True
    assert store.forget_credential("alice", "twitter") is False
    assert store.credential(box, "alice", "twitter") is None
    assert [s.network for s in store.credential_summaries()] == ["mastodon"]


def test_an_unknown_kind_is_refused(store: Store, box: SecretBox) -> None:
    with pytest.raises(ValueError, match="oauth2"):
        sign_in(store, box, kind="password")
    assert store.credential_summaries() == []


def test_the_table_holds_no_token_in_clear(store: Store, box: SecretBox) -> None:
    sign_in(store, box)
    [row] = raw_rows(store)
    everything = " ".join(str(value) for value in row.values())
    for secret in X_SECRETS.values():
        assert secret not in everything
    assert row["key_id"] == box.key_id and row["ciphertext"]


def test_decrypted_secrets_are_redacted(store: Store, box: SecretBox) -> None:
    """A token read from the database (written by another process, so never seen by this
    one's config or encryption) is redacted from then on."""
    sign_in(store, box)
    token = "only-in-the-database-" + new_key()[:12]
    written_elsewhere = box._box().encrypt(json.dumps({"access_token": token}).encode()).decode()
    with store.engine.begin() as connection:
        connection.execute(
            sa_text("UPDATE credential SET ciphertext = :c"), {"c": written_elsewhere}
        )
    assert redact(token) == token  # a new value: not known before it is read
    read = store.credential(box, "alice", "twitter")
    assert read is not None and read.secrets == {"access_token": token}
    assert redact(f"401 for {token}") == "401 for [redacted]"


def test_a_summary_needs_no_key(store: Store, box: SecretBox) -> None:
    saved = sign_in(store, box)
    summary = store.credential_summary("alice", "twitter")
    assert isinstance(summary, CredentialSummary) and not isinstance(summary, StoredCredential)
    assert summary == CredentialSummary(
        **{name: getattr(saved, name) for name in CredentialSummary.__dataclass_fields__}
    )
    assert store.credential_summary("alice", "mastodon") is None
    assert store.credential_summaries() == [summary]


def test_another_key_cannot_open_it_and_says_so(store: Store, box: SecretBox) -> None:
    sign_in(store, box)
    other = make_box()
    with pytest.raises(SecretKeyError) as refused:
        store.credential(other, "alice", "twitter")
    message = str(refused.value)
    assert "the X sign-in of link alice" in message
    assert f"stored with key {box.key_id}" in message and other.key_id in message
    assert "`birdbridge login x --link alice`" in message
    assert store.credential_summary("alice", "twitter") is not None  # still there


def test_a_rotated_key_opens_it_and_a_refresh_re_encrypts_with_the_new_one(
    store: Store,
) -> None:
    old, new = new_key(), new_key()
    saved = sign_in(store, make_box(old))
    rotated = make_box(new, old)
    assert store.credential(rotated, "alice", "twitter") is not None
    assert store.take_refresh(
        "alice", "twitter", generation=saved.generation, holder="w1", lease_seconds=30
    )
    refreshed = store.finish_refresh(
        rotated,
        link="alice",
        network="twitter",
        generation=saved.generation,
        holder="w1",
        secrets=NEWER,
        expires_at=None,
    )
    assert refreshed is not None and refreshed.key_id == key_id(new)
    assert store.credential(make_box(new), "alice", "twitter") is not None


def test_exactly_one_of_eight_racing_processes_takes_the_refresh(
    store: Store, box: SecretBox, database_url: str
) -> None:
    saved = sign_in(store, box)
    stores = [Store.open(database_url) for _ in range(8)]
    start = threading.Barrier(len(stores))
    won: dict[str, bool] = {}

    def race(number: int, mine: Store) -> None:
        start.wait()
        won[f"w{number}"] = mine.take_refresh(
            "alice", "twitter", generation=saved.generation, holder=f"w{number}", lease_seconds=60
        )

    threads = [threading.Thread(target=race, args=pair) for pair in enumerate(stores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for opened in stores:
            opened.close()
    assert len(won) == 8
    winners = [holder for holder, took in won.items() if took]
    assert len(winners) == 1
    [row] = raw_rows(store)
    assert row["refresh_holder"] == winners[0]


def test_a_lease_blocks_others_until_it_expires(store: Store, box: SecretBox) -> None:
    """A worker that crashed after take_refresh never finishes: the others wait for the lease
    to run out, not for ever."""
    saved = sign_in(store, box)
    now = utcnow()
    take = {"generation": saved.generation, "lease_seconds": 30}
    assert store.take_refresh("alice", "twitter", holder="crashed", now=now, **take)
    assert not store.take_refresh("alice", "twitter", holder="crashed", now=now, **take)
    soon = now + timedelta(seconds=29)
    assert not store.take_refresh("alice", "twitter", holder="w2", now=soon, **take)
    later = now + timedelta(seconds=31)
    assert store.take_refresh("alice", "twitter", holder="w2", now=later, **take)
    assert not store.take_refresh("alice", "twitter", holder="w3", now=later, **take)
    # The crashed worker, back, lost the lease: its refresh is not stored.
    lost = store.finish_refresh(
        box,
        link="alice",
        network="twitter",
        generation=saved.generation,
        holder="crashed",
        secrets=NEWER,
        expires_at=None,
    )
    assert lost is None
    assert store.credential(box, "alice", "twitter") == saved.__class__(
        **{**vars_of(saved), "secrets": X_SECRETS}
    )


def vars_of(credential: StoredCredential) -> dict[str, object]:
    return {name: getattr(credential, name) for name in StoredCredential.__dataclass_fields__}


def test_finish_refresh_replaces_the_tokens_in_one_commit(store: Store, box: SecretBox) -> None:
    saved = sign_in(store, box)
    now = utcnow() + timedelta(minutes=5)
    assert store.take_refresh(
        "alice", "twitter", generation=1, holder="w1", lease_seconds=30, now=now
    )
    expires = now + timedelta(hours=2)
    refreshed = store.finish_refresh(
        box,
        link="alice",
        network="twitter",
        generation=1,
        holder="w1",
        secrets=NEWER,
        expires_at=expires,
        now=now,
    )
    assert refreshed is not None
    assert refreshed.generation == 2 and refreshed.secrets == NEWER
    assert refreshed.refreshed_at == now and refreshed.expires_at == expires
    assert refreshed.created_at == saved.created_at  # the same sign-in, refreshed
    assert store.credential(box, "alice", "twitter") == refreshed
    [row] = raw_rows(store)
    assert row["refresh_holder"] is None and row["refresh_until"] is None
    # The retired refresh token is gone: the only ciphertext opens to the new one.
    assert box.decrypt(str(row["ciphertext"]), what="it") == NEWER
    # The next refresh is for generation 2; generation 1 is over.
    assert not store.take_refresh("alice", "twitter", generation=1, holder="w2", lease_seconds=30)
    assert store.take_refresh("alice", "twitter", generation=2, holder="w2", lease_seconds=30)


def test_finish_refresh_after_a_new_sign_in_changes_nothing(store: Store, box: SecretBox) -> None:
    sign_in(store, box)
    assert store.take_refresh("alice", "twitter", generation=1, holder="w1", lease_seconds=30)
    signed_in_again = sign_in(store, box, {"access_token": "from-the-new-sign-in-777"})
    assert signed_in_again.generation == 2
    [row] = raw_rows(store)
    assert row["refresh_holder"] is None  # a new sign-in clears the lease
    stale = store.finish_refresh(
        box,
        link="alice",
        network="twitter",
        generation=1,
        holder="w1",
        secrets=NEWER,
        expires_at=None,
    )
    assert stale is None
    assert store.credential(box, "alice", "twitter") == signed_in_again


def test_finish_refresh_by_a_holder_without_the_lease_changes_nothing(
    store: Store, box: SecretBox
) -> None:
    saved = sign_in(store, box)
    assert store.take_refresh("alice", "twitter", generation=1, holder="w1", lease_seconds=30)
    for holder in ("w2", ""):
        assert (
            store.finish_refresh(
                box,
                link="alice",
                network="twitter",
                generation=1,
                holder=holder,
                secrets=NEWER,
                expires_at=None,
            )
            is None
        )
    assert store.credential(box, "alice", "twitter") == saved
    assert store.finish_refresh(
        box, link="nobody", network="twitter", generation=1, holder="w1", secrets=NEWER,
        expires_at=None,
    ) is None  # fmt: skip


def test_a_failed_refresh_gives_the_lease_back(store: Store, box: SecretBox) -> None:
    sign_in(store, box)
    assert store.take_refresh("alice", "twitter", generation=1, holder="w1", lease_seconds=300)
    store.release_refresh("alice", "twitter", holder="w2")  # not w2's: nothing happens
    assert not store.take_refresh("alice", "twitter", generation=1, holder="w2", lease_seconds=1)
    store.release_refresh("alice", "twitter", holder="w1")
    assert store.take_refresh("alice", "twitter", generation=1, holder="w2", lease_seconds=1)
    assert not store.take_refresh("nobody", "twitter", generation=1, holder="w", lease_seconds=1)


def test_the_credential_table_matches_its_model(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            diffs = compare_metadata(context, SQLModel.metadata)
    finally:
        store.close()
    ours = [d for d in diffs if "credential" in repr(d)]
    assert ours == []


def test_a_database_at_0006_with_rows_upgrades_to_0007_intact(database_url: str) -> None:
    engine = create_db_engine(database_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    now = utcnow()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.upgrade(config, "0006")
        connection.execute(
            sa_text(
                "INSERT INTO link_state (link, network, account_id, cursor, last_poll_at) "
                "VALUES ('a', 'twitter', '1', '42', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            sa_text(
                "INSERT INTO delivery (link, source_network, source_id, target_network, "
                "kind, status, attempts, next_attempt_at, payload, idempotency_token, "
                "publishing_part, publishing_text, publishing_started_at, "
                "publishing_attempt_at, created_at, updated_at) VALUES ('a', 'twitter', '8', "
                "'mastodon', 'post', 'publishing', 1, :now, '{}', 't8', 0, 'in flight', :now, "
                ":now, :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            sa_text(
                "INSERT INTO mirror (link, source_network, source_id, part_index, "
                "target_network, target_id, target_url, created_at) "
                "VALUES ('a', 'twitter', '6', 0, 'mastodon', '600', 'https://m/600', :now)"
            ),
            {"now": now},
        )
    engine.dispose()

    store = Store.open(database_url)
    try:
        with store.engine.connect() as connection:
            version = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == HEAD_REVISION
        state = store.link_state("a", "twitter")
        assert state is not None and state.cursor == "42"
        [delivery] = store.deliveries()
        assert delivery.publishing_text == "in flight" and delivery.attempts == 1
        mirror = store.mirror_source("a", "mastodon", "600")
        assert mirror is not None and mirror.source_id == "6"
        assert store.credential_summaries() == []
        box = make_box()
        assert sign_in(store, box).generation == 1
    finally:
        store.close()
