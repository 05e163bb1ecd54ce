"""A local fake of the X (Twitter) API v2 that keeps the real contract.

Used by the tests, the demo and the benchmarks; the bridge also runs against independent
real implementations, so paths, JSON shapes, status codes, error bodies, rate-limit headers
and OAuth 1.0a signatures follow the real API. Sources for each error body are noted where
it is built (see also docs/api-notes.md, X1-X6).

Scope: users/me, a user's timeline, tweet lookup (one and many), create, edit and delete
tweets, polls, retweets (create and undo), per-user per-endpoint rate limits, OAuth 1.0a user
context, OAuth 2.0 user context (scopes checked) and app-only Bearer for reads, X's sign-in
flows (OAuth 1.0a 3-legged and PIN, OAuth 2.0 with PKCE, refresh rotation, revoke), and a JSON
control API under ``/_sandbox/``.

Here: the names the tests, the demo and the benchmarks use; the rest from its module. The
parts: server.py (the server put together), state.py (options and stores), records.py, auth.py
and limits.py (who calls, rate limits, prices), errors.py, fields.py, text.py (twitter-text's
counting), posts.py, render.py, post_reads.py, post_writes.py, polls.py, media_store.py and
media_routes.py (uploads), media/ (X's media kinds and rules, the upload schema), control.py
(``/_sandbox/``), oauth_tokens.py (what the sign-in flows keep, endpoint scopes),
oauth_pages.py (the authorization pages), oauth1_flow.py, oauth2_flow.py and oauth_control.py
(``/_sandbox/oauth/``).
"""

from birdbridge.sandbox.x.errors import (
    ALREADY_RETWEETED_DETAIL,
    EDIT_DELETED_DETAIL,
    EDIT_FORBIDDEN_DETAIL,
    EDIT_LIMIT_DETAIL,
    EDIT_NOT_ELIGIBLE_DETAIL,
    EDIT_NOT_LATEST_DETAIL,
    EDIT_POLL_DETAIL,
    EDIT_PREMIUM_DETAIL,
    EDIT_WINDOW_DETAIL,
    QUOTE_NOT_ENROLLED_DETAIL,
    RETWEET_DELETED_DETAIL,
    RETWEET_OTHER_USER_DETAIL,
    EditRefused,
)
from birdbridge.sandbox.x.records import XUser
from birdbridge.sandbox.x.server import XSandbox
from birdbridge.sandbox.x.text import text_is_valid, weighted_length

__all__ = [
    "ALREADY_RETWEETED_DETAIL",
    "EDIT_DELETED_DETAIL",
    "EDIT_FORBIDDEN_DETAIL",
    "EDIT_LIMIT_DETAIL",
    "EDIT_NOT_ELIGIBLE_DETAIL",
    "EDIT_NOT_LATEST_DETAIL",
    "EDIT_POLL_DETAIL",
    "EDIT_PREMIUM_DETAIL",
    "EDIT_WINDOW_DETAIL",
    "QUOTE_NOT_ENROLLED_DETAIL",
    "RETWEET_DELETED_DETAIL",
    "RETWEET_OTHER_USER_DETAIL",
    "EditRefused",
    "XSandbox",
    "XUser",
    "text_is_valid",
    "weighted_length",
]
