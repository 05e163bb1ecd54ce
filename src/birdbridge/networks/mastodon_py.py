"""Mastodon.py, imported without its Web Push support.

Mastodon.py imports cryptography's elliptic curves at its own import, for Web Push
subscriptions only (mastodon/compat.py, push.py), and carries on without them when they
cannot be imported (``IMPL_HAS_CRYPTO = False``). birdbridge never subscribes to push
notifications, and those curves load OpenSSL's binding: about 6 MB of an idle daemon's
memory. A process that loaded them already keeps Mastodon.py complete."""

from __future__ import annotations

from birdbridge.lazy import imported_without

with imported_without("cryptography.hazmat.primitives.asymmetric.ec"):
    import mastodon
    from mastodon import Mastodon

__all__ = ["Mastodon", "mastodon"]
