"""What one pass of the deliverer reports, and the outcomes that end a delivery's attempt
early (each becomes a retry, a skip or a failure in engine/deliver.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class DeliverReport:
    done: int = 0
    parts: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    waiting: int = 0
    adopted: int = 0  # parts found already published after a crash
    fallbacks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Wait(Exception):
    """The delivery must wait (its thread parent is still on its way, or a same-text post of
    ours is in flight); ``why`` is shown as its last error meanwhile."""

    def __init__(
        self, until: datetime, why: str = "waiting for its thread parent to be mirrored"
    ) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


class ClaimLost(Exception):
    """Another worker took the delivery over (our claim ran out): leave it to them."""


class Stopping(Exception):
    """Shutdown was asked for between two parts."""


class ReplyPolicy(Exception):
    """The ``reply_refused`` policy ends this delivery: skipped or failed with ``message``."""

    def __init__(self, message: str, *, skip: bool) -> None:
        super().__init__(message)
        self.skip = skip
