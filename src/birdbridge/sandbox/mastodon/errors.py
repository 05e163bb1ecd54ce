"""How Mastodon refuses: ``{"error": ...}`` bodies, a failed validation (422) and the
``statuses`` rate-limit family's refusal (429), raised where Mastodon raises them."""

from __future__ import annotations

from birdbridge.sandbox.common import Response, json_response


class Invalid(Exception):
    """A 422 ``{"error": "Validation failed: ..."}`` (ActiveRecord::RecordInvalid)."""


class StatusesLimited(Exception):
    """Mastodon::RateLimitExceededError from RateLimiter#record! (the ``statuses`` family)."""


def validation_failed(errors: list[str]) -> Invalid:
    """ActiveRecord::RecordInvalid's message for the model's errors."""
    return Invalid("Validation failed: " + ", ".join(errors))


def error_json(status: int, message: str) -> Response:
    return json_response({"error": message}, status)
