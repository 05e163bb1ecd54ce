"""Mapping a media endpoint's HTTP reply to birdbridge's error types (both networks)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from birdbridge.errors import AuthRevoked, Permanent, RateLimited, Transient, UsageCapped


def check_reply(
    network: str, what: str, status: int, headers: Mapping[str, str], body: Any
) -> None:
    """Raise the error a non-2xx reply means; return quietly on 2xx."""
    if 200 <= status < 300:
        return
    label = "X" if network == "twitter" else "Mastodon"
    detail = _detail(body)
    if status == 429 and "usage-capped" in str(body.get("type") if isinstance(body, dict) else ""):
        raise UsageCapped(
            f"{label} {what}: monthly usage cap reached (429 usage-capped)",
            retry_at=reset_time(headers),
            network=network,
        )
    if status == 429:
        raise RateLimited(
            f"{label} {what}: rate limited (429){detail}",
            retry_at=reset_time(headers),
            network=network,
        )
    if status == 401:
        raise AuthRevoked(f"{label} {what}: credentials refused (401){detail}", network=network)
    if 400 <= status < 500:
        raise Permanent(f"{label} {what}: refused ({status}){detail}", network=network)
    raise Transient(f"{label} {what}: server error ({status}){detail}", network=network)


def reset_time(headers: Mapping[str, str]) -> datetime:
    """X sends epoch seconds, Mastodon an ISO-8601 time (api-facts sections 2 and 6)."""
    value = next((v for k, v in headers.items() if k.lower() == "x-rate-limit-reset"), None)
    if value is not None:
        try:
            return datetime.fromtimestamp(int(float(value)), UTC)
        except ValueError:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
    return datetime.now(UTC) + timedelta(minutes=15)


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("detail", "error", "title"):
            if isinstance(body.get(key), str):
                return f": {body[key]}"
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message") or errors[0].get("detail")
            if message:
                return f": {message}"
    return ""


def json_or_none(text: str) -> Any:
    import json

    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
