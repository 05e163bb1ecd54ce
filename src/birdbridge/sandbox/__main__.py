"""``python -m birdbridge.sandbox``: run both sandbox servers until Ctrl-C.

Prints a ready ``birdbridge.toml`` for a sample user on each side, so the real bridge can be
tried by hand: post with the ``/_sandbox/posts`` control API (see the printed curl lines),
run ``birdbridge once`` or ``birdbridge run``, and watch the other side.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x-port", type=int, default=0, help="port of the X API (0: any)")
    parser.add_argument("--mastodon-port", type=int, default=0, help="port of Mastodon (0: any)")
    parser.add_argument("--user", default="alice", help="sample user created on both sides")
    args = parser.parse_args()
    with XSandbox(port=args.x_port) as x, MastodonSandbox(port=args.mastodon_port) as masto:
        x_user = x.create_user(args.user)
        m_user = masto.create_user(args.user)
        print(
            f"""# X API v2 sandbox: {x.url}   Mastodon sandbox: {masto.url}
# Post as {args.user}:
#   curl -s -X POST {x.url}/_sandbox/posts -H 'Content-Type: application/json' \\
#        -d '{{"username": "{args.user}", "text": "hello from X"}}'
#   curl -s -X POST {masto.url}/_sandbox/posts -H 'Content-Type: application/json' \\
#        -d '{{"username": "{args.user}", "text": "hello from Mastodon"}}'
# X is pay-per-use (${x.credits_usd:.2f} of credits to start); run them out to see the pause:
#   curl -s -X POST {x.url}/_sandbox/credits -H 'Content-Type: application/json' -d '{{"usd": 0}}'
# Sign-in flows (OAuth 1.0a at {x.url}/oauth/, OAuth 2.0 PKCE at {x.url}/i/oauth2/authorize):
#   OAuth 2.0 client_id = {x.client_id}
#   OAuth 2.0 client_secret = {x.client_secret}
#   registered redirect URI(s) = {" ".join(x.redirect_uris)}
# Save the lines below as birdbridge.toml, then run `birdbridge once` (twice) or `run`.

[bridge]
database_url = "sqlite:///sandbox-state.db"
poll_interval = 5

[[links]]
name = "{args.user}"
direction = "both"

[links.twitter]
api_base_url = "{x.url}"
consumer_key = "{x_user.consumer_key}"
consumer_secret = "{x_user.consumer_secret}"
access_token = "{x_user.access_token}"
access_token_secret = "{x_user.access_token_secret}"

[links.mastodon]
api_base_url = "{masto.url}"
access_token = "{m_user.access_token}"
""",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
