"""Quick in-process retries, with stamina (exponential backoff with jitter).

Reads (GET) are retried here: they are idempotent, and a dropped connection or a 502 on a poll
is usually gone a second later. A write is retried here only when the adapter says repeating
it cannot double it (``safe``: Mastodon's writes with an Idempotency-Key, edits and deletions).
Other writes (X has no idempotency key) are never retried in-process: a failed publish may have
taken effect, so it goes back to the outbox, where recovery looks before trying again
(engine/deliver.py), with a backoff that survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import stamina

from birdbridge.errors import Transient

T = TypeVar("T")

READ_ATTEMPTS = 3
READ_WAIT_INITIAL = 0.2  # seconds; then doubled with jitter
READ_WAIT_MAX = 2.0
READ_TIMEOUT = 20.0  # give up retrying after this long in total


def call_with_retries(what: str, call: Callable[[], T], *, safe: bool = False) -> T:
    if not (safe or what.startswith("GET ")):
        return call()
    for attempt in stamina.retry_context(
        on=Transient,
        attempts=READ_ATTEMPTS,
        wait_initial=READ_WAIT_INITIAL,
        wait_max=READ_WAIT_MAX,
        timeout=READ_TIMEOUT,
    ):
        with attempt:
            return call()
    raise AssertionError("unreachable: stamina re-raises the last error")
