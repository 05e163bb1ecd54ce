"""Keeping a sign-in: stored encrypted for its link, and the side's refusal pauses lifted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from birdbridge.engine.pauses import REFUSAL_KINDS
from birdbridge.redaction import register

if TYPE_CHECKING:
    from birdbridge.login.flow import SignedIn
    from birdbridge.secretbox import SecretBox
    from birdbridge.store import Store


def save_sign_in(store: Store, box: SecretBox, link: str, signed: SignedIn) -> None:
    register(signed.secrets.values())  # never in a log line or a stored error from now on
    store.save_credential(
        box,
        link=link,
        network=signed.network,
        kind=signed.kind,
        secrets=signed.secrets,
        account_id=signed.account_id,
        handle=signed.handle,
        scopes=signed.scopes,
        expires_at=signed.expires_at,
    )
    # A side paused for refused credentials works again now: no `resume` needed.
    store.resume(link, kinds=REFUSAL_KINDS)
    if signed.charges:  # the new token's check is on the link's X bill too
        store.record_x_charges(link, signed.charges, datetime.now(UTC))
