"""Logging: structlog rendering of the standard library's records.

Human-readable lines on a terminal; one JSON object per line when ``[bridge] log_format`` is
``"json"``, or when ``"auto"`` (the default) and standard error is not a terminal (containers,
PaaS log drains, systemd). Every known secret is replaced by ``[redacted]`` in every field,
tracebacks included, whatever the level.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from birdbridge.redaction import REDACTED, known, redact, register

__all__ = ["REDACTED", "Redactor", "configure_logging"]

_QUIET = ("urllib3", "requests_oauthlib", "oauthlib", "tweepy", "httpx", "httpcore", "alembic")


class Redactor:
    """A structlog processor replacing secret values anywhere in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        register(secrets)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        return value

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not known():
            return event
        return {key: self.scrub(value) for key, value in event.items()}


def configure_logging(
    level: str = "info", log_format: str = "auto", secrets: Iterable[str] = ()
) -> None:
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    redact = Redactor(secrets)
    shared: list[Any] = [
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # the traceback as text, then redacted
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # The libraries' own debug output includes request headers (tokens): keep it quiet.
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # "skipped: maximum number of running instances reached" is expected while a slow
    # network call holds a link: not worth a warning every interval.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
