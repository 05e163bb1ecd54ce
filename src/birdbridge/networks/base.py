"""The protocol every network adapter implements, and what the engine knows of a target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from birdbridge.models import Account, FetchResult, NetworkName, OutgoingPart, Published
from birdbridge.render.length import Counter


@dataclass(frozen=True)
class NetworkLimits:
    """What a target accepts in one post."""

    max_characters: int
    counter: Counter  # how the target counts a text's length


class Network(Protocol):
    name: NetworkName

    def account(self) -> Account:
        """The account the credentials act as (cached after the first call)."""
        ...

    def limits(self) -> NetworkLimits: ...

    def fetch_since(self, cursor: str | None, *, include_reposts: bool = False) -> FetchResult:
        """New posts of the account since ``cursor``, oldest first, and the next cursor.

        ``cursor=None`` is the first poll: return no posts and a cursor that marks "now".
        """
        ...

    def publish(self, part: OutgoingPart, *, idempotency_key: str) -> Published: ...

    def find_recent_own(
        self, text: str, since: datetime, exclude_ids: set[str]
    ) -> Published | None:
        """A post of the account created since ``since`` whose text is ``text`` (recovery)."""
        ...

    def delete(self, post_id: str) -> None: ...
