"""Logging: structlog rendering of the standard library's records.

Human-readable lines on a terminal; one JSON object per line when ``[bridge] log_format`` is
``"json"``, or when ``"auto"`` (the default) and standard error is not a terminal (containers,
PaaS log drains, systemd). Every known secret is replaced by ``[redacted]`` in every field,
tracebacks included, whatever the level.

Every line on standard error goes through the one handler set here, so that with JSON logs
each line is one JSON object: the standard library's records (ours, APScheduler's, alembic's,
tweepy's), structlog's own loggers (stamina logs its retries through structlog whenever
structlog is installed: stamina/instrumentation/_hooks.py, get_default_hooks), Python's
warnings (logging.captureWarnings) and uncaught exceptions in threads (threading.excepthook)
and, with JSON, in the main thread (sys.excepthook).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, MutableMapping
from types import TracebackType
from typing import Any

from birdbridge.lazy import imported_without

# structlog.dev imports rich (and its traceback, and with it pygments: some 4 MB of an idle
# daemon) for a ConsoleRenderer exception formatter birdbridge never uses: format_exc_info
# below turns every exception into text before any renderer sees it (so that it can be
# redacted). Without rich, structlog colours the console lines itself.
with imported_without("rich"):
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
    shared: list[Any] = [
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    root = logging.getLogger()
    root.handlers = [_handler(shared, as_json, Redactor(secrets))]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    _route_structlog(shared)
    # The libraries' own debug output includes request headers (tokens): keep it quiet.
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)  # warnings.warn(...) as records of the "py.warnings" logger
    threading.excepthook = _log_thread_exception
    if as_json:
        # Typer's (rich) traceback would be many lines of text; a crash is one JSON line.
        sys.excepthook = _log_uncaught


def _handler(shared: list[Any], as_json: bool, redact: Redactor) -> logging.Handler:
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
    return handler


def _route_structlog(shared: list[Any]) -> None:
    """structlog's loggers (stamina's retry lines) into the standard library's handler.

    Unconfigured, structlog prints its own console lines to standard output, past our
    handler, format and redaction. This is structlog's documented way of rendering both
    through ``ProcessorFormatter`` (structlog docs, "Standard Library Logging": rendering
    using structlog-based formatters within logging)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger made before a later configure_logging follows it too.
        cache_logger_on_first_use=False,
    )


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # as the default hook: a thread ending itself is no error
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("birdbridge.threads").error(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, traceback: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, traceback)
        return
    logging.getLogger("birdbridge").critical(
        "uncaught exception", exc_info=(exc_type, exc, traceback)
    )
