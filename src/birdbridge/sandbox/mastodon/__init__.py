"""A local fake Mastodon server that keeps the real API's contract (tests, demo, benchmarks).

Every shape, status code and error body in this package follows mastodon/mastodon as of 4.3
(file named next to each rule) and docs.joinmastodon.org. It is a :class:`SandboxServer`: real
HTTP on 127.0.0.1, fault injection, a request log and a ``/_sandbox/`` JSON control API.

The version it reports (``version=``, :meth:`MastodonSandbox.set_version`) switches what a
newer server adds: ``quote`` on statuses from 4.4, quote posts (``quoted_status_id``,
``quote_approval_policy``, ``quote_approval``, ``quotes_count``) from 4.5.

Here: the names the tests, the demo and the benchmarks use; the rest from its module. The
parts: server.py (the server put together), state.py (options and stores), records.py,
auth.py and oauth.py (tokens, scopes), limits.py and throttles.py (rate limits), errors.py,
params.py, versions.py, text.py (entities, length, HTML), statuses.py, polls.py, edits.py,
serializers.py (the JSON), instance.py, accounts.py, status_reads.py, status_writes.py,
media_store.py and media_routes.py (attachments), media/ (types, limits and meta of files),
control.py (``/_sandbox/``); sign-in: apps.py (``POST /api/v1/apps``), authorize.py (the
authorization page), tokens.py (``/oauth/token``, ``/oauth/revoke``), oauth_metadata.py (the
well-known document), doorkeeper.py (Doorkeeper's rules), oauth_records.py,
sign_in_control.py (the parts joined, and their test controls).
"""

from birdbridge.sandbox.mastodon.media.kinds import DEFAULT_MEDIA_LIMITS
from birdbridge.sandbox.mastodon.records import MastodonUser
from birdbridge.sandbox.mastodon.server import MastodonSandbox
from birdbridge.sandbox.mastodon.text import countable_length
from birdbridge.sandbox.mastodon.versions import api_version_for

__all__ = [
    "DEFAULT_MEDIA_LIMITS",
    "MastodonSandbox",
    "MastodonUser",
    "api_version_for",
    "countable_length",
]
