"""The request bodies of X's media endpoints, checked as the newest API reference declares them.

Source: xdevplatform/docs ``openapi.json`` (info.version 2.167, 2026-08-22), components
``MediaUploadRequest`` (POST /2/media/upload), ``InitializeMediaUploadRequest`` (POST
/2/media/upload/initialize) and ``AppendMediaUploadRequest`` (POST /2/media/upload/{id}/append).
All three say ``additionalProperties: false``: a property the schema does not declare is refused,
as X's schema validator (networknt json-schema-validator, whose wording X's 400 bodies carry:
plhery/node-twitter-api-v2#539) refuses it. POST /2/media/upload/{id}/finalize declares no body;
POST /2/media/metadata (``CreateMediaMetadataRequest``) does not forbid extra properties.

A check returns ``(parameter, value, message)`` for X's invalid-request body, or the typed fields.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from birdbridge.sandbox.common import Request
from birdbridge.sandbox.x.errors import json_type

# media_category of the one-shot upload (MediaUploadRequest)
ONE_SHOT_CATEGORIES = (
    "tweet_image",
    "tweet_video",
    "tweet_gif",
    "dm_image",
    "dm_video",
    "dm_gif",
    "subtitles",
)
# media_category of initialize (InitializeMediaUploadRequest)
INIT_CATEGORIES = (
    "amplify_video",
    "tweet_gif",
    "tweet_image",
    "tweet_video",
    "dm_gif",
    "dm_image",
    "dm_video",
    "subtitles",
)
# media_type of initialize (InitializeMediaUploadRequest)
MEDIA_TYPES = (
    "video/mp4",
    "video/webm",
    "video/mp2t",
    "video/quicktime",
    "text/srt",
    "text/vtt",
    "image/jpeg",
    "image/gif",
    "image/bmp",
    "image/png",
    "image/webp",
    "image/pjpeg",
    "image/tiff",
    "model/gltf-binary",
    "model/vnd.usdz+zip",
)
ID_PATTERN = "^[0-9]{1,19}$"  # MediaId, and the {id} path parameter of append and finalize
MAX_TOTAL_BYTES = 17179869184  # InitializeMediaUploadRequest.total_bytes maximum

Problem = tuple[str, Any, str]


@dataclass(frozen=True)
class Prop:
    kind: str  # "binary" (string/binary or string/byte), "string", "integer", "boolean", "ids"
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class BodySchema:
    props: dict[str, Prop]
    required: tuple[str, ...] = ()
    multipart: bool = False  # the operation also takes multipart/form-data


ONE_SHOT = BodySchema(
    props={
        "media": Prop("binary"),
        "media_category": Prop("string", enum=ONE_SHOT_CATEGORIES),
        "additional_owners": Prop("string"),  # "Comma-separated list of user IDs"
    },
    required=("media", "media_category"),
    multipart=True,
)
INITIALIZE = BodySchema(  # no `required` list in 2.167
    props={
        "additional_owners": Prop("ids"),
        "media_category": Prop("string", enum=INIT_CATEGORIES),
        "media_type": Prop("string", enum=MEDIA_TYPES),
        "shared": Prop("boolean"),
        "total_bytes": Prop("integer", minimum=0, maximum=MAX_TOTAL_BYTES),
    },
)
APPEND = BodySchema(
    props={"media": Prop("binary"), "segment_index": Prop("integer", minimum=0, maximum=999)},
    required=("media", "segment_index"),
    multipart=True,
)


def read_body(request: Request, schema: BodySchema) -> dict[str, Any] | Problem:
    """The body's fields, typed, or the first schema violation. Multipart values are text
    (raw bytes for ``media``) and are read as the schema's types; JSON values must be them."""
    ctype = request.headers.get("content-type", "")
    if schema.multipart and ctype.startswith("multipart/form-data"):
        raw: dict[str, Any] = {k: v[0] for k, v in request.multipart().items()}
        from_json = False
    else:
        try:
            body = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            return "body", [], "Request body is not valid JSON."
        if not isinstance(body, dict):
            return "body", [], f"$: {json_type(body)} found, object expected"
        raw, from_json = body, True
    for key in raw:  # additionalProperties: false
        if key not in schema.props:
            return (
                key,
                _shown(raw[key]),
                f"$.{key}: is not defined in the schema and the schema does not allow "
                "additional properties",
            )
    for key in schema.required:
        if key not in raw:
            return key, [], f"$.{key}: is missing but it is required"
    typed: dict[str, Any] = {}
    for key, value in raw.items():
        result = _typed(key, value, schema.props[key], from_json)
        if isinstance(result, tuple):
            return result
        typed[key] = result.value
    return typed


@dataclass(frozen=True)
class _Ok:
    value: Any


def _typed(key: str, value: Any, prop: Prop, from_json: bool) -> _Ok | Problem:
    where = f"$.{key}"
    if prop.kind == "binary":
        if not from_json:  # multipart: the raw bytes
            return _Ok(value if isinstance(value, bytes) else str(value).encode())
        if not isinstance(value, str):
            return key, _shown(value), f"{where}: {json_type(value)} found, string expected"
        try:  # "base64-encoded in JSON bodies" (MediaUploadRequest.media)
            return _Ok(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            return key, _shown(value), f"{where}: does not match the byte pattern"
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if prop.kind == "integer":
        number = _integer(text, from_json)
        if number is None:
            return key, _shown(value), f"{where}: {json_type(value)} found, integer expected"
        if prop.minimum is not None and number < prop.minimum:
            return key, _shown(value), f"{where}: must have a minimum value of {prop.minimum}"
        if prop.maximum is not None and number > prop.maximum:
            return key, _shown(value), f"{where}: must have a maximum value of {prop.maximum}"
        return _Ok(number)
    if prop.kind == "boolean":
        if from_json and isinstance(text, bool):
            return _Ok(text)
        if not from_json and text in ("true", "false"):
            return _Ok(text == "true")
        return key, _shown(value), f"{where}: {json_type(value)} found, boolean expected"
    if prop.kind == "ids":
        if not isinstance(text, list):
            return key, _shown(value), f"{where}: {json_type(value)} found, array expected"
        for n, item in enumerate(text):
            if not isinstance(item, str):
                return key, _shown(value), f"{where}[{n}]: {json_type(item)} found, string expected"
            if not re.fullmatch(ID_PATTERN[1:-1], item):
                return (
                    key,
                    _shown(value),
                    f"{where}[{n}]: does not match the regex pattern {ID_PATTERN}",
                )
        return _Ok(list(text))
    if not isinstance(text, str):
        return key, _shown(value), f"{where}: {json_type(value)} found, string expected"
    if prop.enum and text not in prop.enum:
        return (
            key,
            text,
            f"{where}: does not have a value in the enumeration [{', '.join(prop.enum)}]",
        )
    return _Ok(text)


def _integer(value: Any, from_json: bool) -> int | None:
    if from_json:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return int(value) if isinstance(value, str) and re.fullmatch(r"-?\d+", value) else None


def _shown(value: Any) -> Any:
    """A value as an error body echoes it (bytes and long text cut short)."""
    if isinstance(value, bytes):
        value = value[:40].decode("latin-1")
    if isinstance(value, str) and len(value) > 80:
        return value[:80]
    return value if isinstance(value, list) else str(value)
