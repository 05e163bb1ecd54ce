"""Which of Mastodon's throttles a call counts against, so that reaching one does not stop the
others. Besides the API-wide throttle (300 calls per 5 minutes per token,
config/initializers/rack_attack.rb ``throttle_per_token_api``):

- media uploads, ``POST /api/v{1,2}/media``: 30 per 30 minutes (``throttle_api_media``);
- posting and editing statuses: 300 per 3 hours per account (app/lib/rate_limiter.rb
  ``:statuses``; Api::V1::StatusesController ``override_rate_limit_headers`` on create and
  update, and on reblogs, whose replies report that family though reblogs do not count);
- deletions and unreblogs: 30 per 30 minutes (``throttle_api_delete``).

The server's X-RateLimit-* headers describe whichever throttle has the fewest calls left
(app/controllers/concerns/api/rate_limit_headers.rb), so a reply's headers are kept under the
family of the call that got them.
"""

from __future__ import annotations

import re

MEDIA = "media"
STATUSES = "statuses"
DELETES = "deletes"

_FAMILIES = (
    (MEDIA, re.compile(r"^POST /api/v\d+/media$")),
    (STATUSES, re.compile(r"^(POST /api/v1/statuses|PUT /api/v1/statuses/[^/]+)$")),
    (STATUSES, re.compile(r"^POST /api/v1/statuses/[^/]+/reblog$")),
    (DELETES, re.compile(r"^DELETE /api/v1/statuses/[^/]+$")),
    (DELETES, re.compile(r"^POST /api/v1/statuses/[^/]+/unreblog$")),
)


def mastodon_scope(what: str) -> str | None:
    """The throttle family of ``"METHOD /path"`` (None: only the API-wide throttle)."""
    call = what.split(" (")[0]
    for family, pattern in _FAMILIES:
        if pattern.match(call):
            return family
    return None
