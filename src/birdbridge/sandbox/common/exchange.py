"""What a route sees and answers: a parsed :class:`Request` and the :class:`Response` to send.

The sandboxes keep the real APIs' contracts over real HTTP; the wire (HTTP/1.1 on a
``ThreadingHTTPServer``) is :mod:`.handler`'s, and a route only ever sees these two values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """Fields of an urlencoded or multipart body (files as their raw bytes decoded latin-1)."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            return parse_qs(self.body.decode(), keep_blank_values=True)
        if ctype.startswith("multipart/form-data"):
            return {k: [v.decode("latin-1") for v in vs] for k, vs in self.multipart().items()}
        if ctype.startswith("application/json"):
            data = self.json() or {}
            return {k: (v if isinstance(v, list) else [v]) for k, v in data.items()}
        return {}

    def multipart(self) -> dict[str, list[bytes]]:
        ctype = self.headers.get("content-type", "")
        raw = b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.body
        message = BytesParser(policy=HTTP).parsebytes(raw)
        fields: dict[str, list[bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True)
                fields.setdefault(str(name), []).append(
                    payload if isinstance(payload, bytes) else b""
                )
        return fields


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str sent as is; a Path is streamed from disk
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain")
        if self.body is None and self.status == 204:
            return b"", "application/json"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(status=status, body=body, headers=dict(headers))


Handler = Callable[[Request], Response]
