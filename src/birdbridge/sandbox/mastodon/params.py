"""Request parameters as Mastodon (Rails) reads them: query and body merged, booleans as
ActiveModel casts them, integers as String#to_i, an upload's fields, a focus point."""

from __future__ import annotations

import re
from typing import Any

from birdbridge.sandbox.common import Request


def ruby_to_i(value: Any) -> int:
    """String#to_i: leading digits, else 0."""
    match = re.match(r"\s*([+-]?\d+)", str(value))
    return int(match.group(1)) if match else 0


def ruby_strip(text: str) -> str:
    """String#strip: ASCII whitespace and NUL only (a U+3000 stays)."""
    return text.strip(" \t\n\v\f\r\x00")


def truthy(value: Any) -> bool:
    """ActiveModel::Type::Boolean cast, as Mastodon reads boolean params."""
    if value is None or isinstance(value, bool):
        return bool(value)
    return str(value).strip().lower() not in ("", "0", "f", "false", "off", "no", "n")


def request_params(request: Request) -> dict[str, list[Any]]:
    params: dict[str, list[Any]] = {k: list(v) for k, v in request.query.items()}
    if request.body:
        for key, values in request.form().items():
            params[key] = values
    return params


def upload_fields(request: Request) -> dict[str, Any]:
    """The upload's fields: the file as bytes, the text fields decoded as UTF-8."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        fields: dict[str, Any] = {}
        for name, values in request.multipart().items():
            value = values[0] if values else b""
            fields[name] = (
                value if name in ("file", "thumbnail") else value.decode("utf-8", errors="replace")
            )
        return fields
    params = request_params(request)
    return {k: (v[0] if v else None) for k, v in params.items()}


def int_arg(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except ValueError:
        return None


def parse_focus(value: Any) -> tuple[float, float] | None:
    try:
        x, y = (float(v) for v in str(value).split(",")[:2])
    except ValueError:
        return None
    return x, y


def first(params: dict[str, list[Any]], name: str) -> Any:
    """A parameter's value (the first given), None if it is not given."""
    values = params.get(name)
    return values[0] if values else None


def media_ids_param(params: dict[str, list[Any]]) -> list[Any]:
    """``media_ids[]`` as a form sends it, or ``media_ids`` as JSON does."""
    return params.get("media_ids[]") or params.get("media_ids") or []
