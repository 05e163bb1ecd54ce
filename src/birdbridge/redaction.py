"""Secrets never leave the process in clear: every known token and the database password are
replaced by ``[redacted]`` in log lines, in the errors and notes the store keeps, and in what
the CLI prints. The values are registered once, when the config is loaded."""

from __future__ import annotations

import threading
from collections.abc import Iterable

REDACTED = "[redacted]"
MIN_LENGTH = 4  # shorter values would redact ordinary words

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register(secrets: Iterable[str]) -> None:
    """Add values to redact from now on (longest first: a secret holding another goes whole)."""
    global _secrets
    with _lock:
        known = set(_secrets) | {s for s in secrets if s and len(s) >= MIN_LENGTH}
        _secrets = tuple(sorted(known, key=len, reverse=True))


def known() -> tuple[str, ...]:
    return _secrets


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)
