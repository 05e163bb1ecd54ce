"""Sign-ins made by `birdbridge login`: their secrets encrypted with the key of secretbox.py,
and the refresh lease that lets one process at a time refresh them.

X's OAuth 2.0 refresh tokens are single-use (X API v2 docs, "OAuth 2.0 Authorization Code
Flow with PKCE": a refresh returns a new refresh token and retires the old one), so two workers
refreshing the same sign-in at once would leave one of them, and then the link, signed out.
``take_refresh`` is a compare-and-set on the sign-in's ``generation`` that exactly one of
them wins; ``finish_refresh`` stores the new tokens in the same commit that retires the old
ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from birdbridge.store.base import StoreBase
from birdbridge.store.tables import CredentialRow
from birdbridge.store.values import (
    CREDENTIAL_KINDS,
    CredentialSummary,
    StoredCredential,
    as_utc,
    utcnow,
)

if TYPE_CHECKING:
    from birdbridge.secretbox import SecretBox

_LABELS = {"twitter": ("X", "x"), "mastodon": ("Mastodon", "mastodon")}


class Credentials(StoreBase):
    """Stored sign-ins, encrypted, and their refresh lease."""

    def save_credential(
        self,
        box: SecretBox,
        *,
        link: str,
        network: str,
        kind: str,
        secrets: Mapping[str, str],
        account_id: str | None,
        handle: str | None,
        scopes: str | None,
        expires_at: datetime | None,
        now: datetime | None = None,
    ) -> StoredCredential:
        """A new sign-in: stored in place of any earlier one of this link and network, with
        the next generation and no refresh lease."""
        if kind not in CREDENTIAL_KINDS:
            raise ValueError(f"kind {kind!r}: one of {', '.join(CREDENTIAL_KINDS)}")
        now = now or utcnow()
        ciphertext = box.encrypt(secrets)
        fields: dict[str, Any] = {
            "kind": kind,
            "ciphertext": ciphertext,
            "key_id": box.key_id,
            "account_id": account_id,
            "handle": handle,
            "scopes": scopes,
            "expires_at": expires_at,
            "created_at": now,
            "refreshed_at": None,
            "refresh_holder": None,
            "refresh_until": None,
        }
        try:
            row = self._save(link, network, fields)
        except IntegrityError:
            # Two sign-ins of a new link and network at once: the other one inserted first,
            # so this one replaces it (the later sign-in wins, as it would one second later).
            row = self._save(link, network, fields)
        return _stored(row, secrets)

    def _save(self, link: str, network: str, fields: Mapping[str, Any]) -> CredentialRow:
        with self._session() as session:
            row = _locked(session, link, network)
            if row is None:
                row = CredentialRow(link=link, network=network, generation=1, **fields)
            else:
                for name, value in fields.items():
                    setattr(row, name, value)
                row.generation += 1
            session.add(row)
            return row

    def credential(self, box: SecretBox, link: str, network: str) -> StoredCredential | None:
        """The sign-in of one side of a link with its secrets; a :class:`SecretKeyError`
        (secretbox.py) when ``box`` cannot open it."""
        with self._session() as session:
            row = session.get(CredentialRow, (link, network))
        if row is None:
            return None
        label, command = _LABELS.get(network, (network, network))
        secrets = box.decrypt(
            row.ciphertext,
            what=f"the {label} sign-in of link {link}",
            stored_key_id=row.key_id,
            again=f"birdbridge login {command} --link {link}",
        )
        return _stored(row, secrets)

    def credential_summary(self, link: str, network: str) -> CredentialSummary | None:
        """The sign-in of one side of a link, without its secrets (no key needed)."""
        with self._session() as session:
            row = session.get(CredentialRow, (link, network))
            return _summary(row) if row is not None else None

    def credential_summaries(self) -> list[CredentialSummary]:
        with self._session() as session:
            rows = session.exec(
                select(CredentialRow).order_by(col(CredentialRow.link), col(CredentialRow.network))
            )
            return [_summary(row) for row in rows]

    def forget_credential(self, link: str, network: str) -> bool:
        """Delete the sign-in; False when there was none."""
        with self._session() as session:
            result = session.execute(
                delete(CredentialRow).where(
                    col(CredentialRow.link) == link, col(CredentialRow.network) == network
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def take_refresh(
        self,
        link: str,
        network: str,
        *,
        generation: int,
        holder: str,
        lease_seconds: float,
        now: datetime | None = None,
    ) -> bool:
        """Take the refresh lease of the sign-in ``generation`` for ``holder``, unless it was
        refreshed or signed in again since (another generation) or another holder's lease is
        live. One statement: of several processes racing for it, exactly one gets True."""
        now = now or utcnow()
        with self._session() as session:
            result = session.execute(
                update(CredentialRow)
                .where(
                    col(CredentialRow.link) == link,
                    col(CredentialRow.network) == network,
                    col(CredentialRow.generation) == generation,
                    or_(
                        col(CredentialRow.refresh_until).is_(None),
                        col(CredentialRow.refresh_until) < now,
                    ),
                )
                .values(refresh_holder=holder, refresh_until=now + timedelta(seconds=lease_seconds))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def finish_refresh(
        self,
        box: SecretBox,
        *,
        link: str,
        network: str,
        generation: int,
        holder: str,
        secrets: Mapping[str, str],
        expires_at: datetime | None,
        now: datetime | None = None,
    ) -> StoredCredential | None:
        """Store a refresh's tokens in place of the old ones (the retired refresh token goes
        in the same commit), with the next generation and the lease cleared: only while the
        sign-in still has ``generation`` and ``holder`` holds its lease (an expired lease that
        nobody took since still counts: these tokens are the only good ones now). ``secrets``
        is the whole new set (client id and secret too), not the changes. None, and nothing
        changed, when the lease was lost or the sign-in replaced."""
        now = now or utcnow()
        ciphertext = box.encrypt(secrets)
        with self._session() as session:
            result = session.execute(
                update(CredentialRow)
                .where(
                    col(CredentialRow.link) == link,
                    col(CredentialRow.network) == network,
                    col(CredentialRow.generation) == generation,
                    col(CredentialRow.refresh_holder) == holder,
                )
                .values(
                    ciphertext=ciphertext,
                    key_id=box.key_id,
                    expires_at=expires_at,
                    refreshed_at=now,
                    generation=col(CredentialRow.generation) + 1,
                    refresh_holder=None,
                    refresh_until=None,
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            row = session.get(CredentialRow, (link, network), populate_existing=True)
            if row is None:  # pragma: no cover -- updated in this very transaction
                return None
            return _stored(row, secrets)

    def release_refresh(self, link: str, network: str, *, holder: str) -> None:
        """Give the lease back after a failed refresh (only ``holder``'s own lease)."""
        with self._session() as session:
            session.execute(
                update(CredentialRow)
                .where(
                    col(CredentialRow.link) == link,
                    col(CredentialRow.network) == network,
                    col(CredentialRow.refresh_holder) == holder,
                )
                .values(refresh_holder=None, refresh_until=None)
            )


def _locked(session: Session, link: str, network: str) -> CredentialRow | None:
    """The row, locked until the commit on PostgreSQL (SQLite has one writer at a time)."""
    return session.exec(
        select(CredentialRow)
        .where(col(CredentialRow.link) == link, col(CredentialRow.network) == network)
        .with_for_update()
    ).first()


def _summary(row: CredentialRow) -> CredentialSummary:
    created_at = as_utc(row.created_at)
    if created_at is None:  # pragma: no cover -- NOT NULL
        raise ValueError("a credential without created_at")
    return CredentialSummary(
        link=row.link,
        network=row.network,
        kind=row.kind,
        account_id=row.account_id,
        handle=row.handle,
        scopes=row.scopes,
        expires_at=as_utc(row.expires_at),
        created_at=created_at,
        refreshed_at=as_utc(row.refreshed_at),
        generation=row.generation,
        key_id=row.key_id,
    )


def _stored(row: CredentialRow, secrets: Mapping[str, str]) -> StoredCredential:
    summary = _summary(row)
    fields = {name: getattr(summary, name) for name in CredentialSummary.__dataclass_fields__}
    return StoredCredential(**fields, secrets=MappingProxyType(dict(secrets)))
