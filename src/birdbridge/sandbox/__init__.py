"""Local X API v2 and Mastodon servers that keep the real contracts (tests, demo, bench).

``x/`` and ``mastodon/`` are the two networks, each a package of one module per part of its
API; ``common/`` is what both are built on (the HTTP server with fault injection and a
request log, and what both read of media files).
"""
