"""Logging set-up for the CLI and the daemon."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # The libraries' own debug output includes request headers (tokens): keep them quiet.
    for noisy in ("urllib3", "requests_oauthlib", "oauthlib", "tweepy", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    # "skipped: maximum number of running instances reached" is expected while a slow
    # network call holds a link: not worth a warning every interval.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
