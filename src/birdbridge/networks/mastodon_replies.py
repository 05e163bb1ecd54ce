"""How the Mastodon adapter reads a reply, for Mastodon.py's calls and our own uploads alike.

- Mastodon.py's exceptions carry no headers, and ``MastodonRatelimitError`` carries nothing at
  all (api-notes M4, internals.py:318-320,362). The session's response hook
  has seen the reply: :class:`LastReply` keeps it for the thread that made the call, and the
  error is read from it by :func:`birdbridge.networks.replies.error_for_reply` (one mapping
  for every client), with the family of endpoints whose limit ran out.
- ``X-RateLimit-Reset`` is the server's time (app/controllers/concerns/api/
  rate_limit_headers.rb:51-55). Like Mastodon.py (internals.py:282-286) we move it onto our
  clock by the difference between our clock and the reply's ``Date``: a server whose clock is
  off still gets waited for as long as it asked. ``Date`` has whole seconds, so the wait is
  at most a second longer than needed, never shorter.
- A 403 for a missing scope names, in ``WWW-Authenticate``, the scopes that endpoint accepts
  (doorkeeper 5.9.6 forbidden_token_response.rb, error_response.rb:97-118): the pause names
  them too (networks/mastodon_scopes.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from birdbridge.errors import MissingPermission, NetworkError
from birdbridge.networks.mastodon_scopes import fix_for, required_scopes
from birdbridge.networks.mastodon_throttles import mastodon_scope
from birdbridge.networks.replies import error_for_reply, json_or_none, rate_limit_headers

RESET = "X-RateLimit-Reset"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # rate-limit reset already on our clock
    body: Any  # the parsed JSON of an error reply (None for a success)


class LastReply(threading.local):
    """The last API reply seen in this thread (one adapter serves one link's thread)."""

    reply: Reply | None = None


def reply_of(
    status: int, headers: Mapping[str, str], text: Callable[[], str], now: datetime
) -> Reply:
    """A reply as we keep it; ``text`` is read only for an error (a timeline stays unread)."""
    body = json_or_none(text()) if status >= 400 else None
    return Reply(status, on_our_clock(headers, now), body)


def on_our_clock(headers: Mapping[str, str], now: datetime) -> dict[str, str]:
    """The headers, with ``X-RateLimit-Reset`` moved by (our clock - the server's Date)."""
    plain = {str(k): str(v) for k, v in headers.items()}
    named = {k.lower(): k for k in plain}
    if "x-ratelimit-reset" not in named or "date" not in named:
        return plain
    reset = rate_limit_headers({RESET: plain[named["x-ratelimit-reset"]]}).reset_at
    server_now = _http_date(plain[named["date"]])
    if reset is None or server_now is None:
        return plain
    plain[named["x-ratelimit-reset"]] = (reset + (now - server_now)).isoformat()
    return plain


def error_of(what: str, reply: Reply) -> NetworkError | None:
    """The error ``reply`` means for the call ``what`` (None for a 2xx)."""
    error = error_for_reply(
        "mastodon", what, reply.status, reply.headers, reply.body, mastodon_scope
    )
    if isinstance(error, MissingPermission):
        error.fix = fix_for(required_scopes(_header(reply.headers, "www-authenticate")))
    return error


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
