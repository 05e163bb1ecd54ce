"""Signing an account in: the OAuth flows of ``birdbridge login`` (Mastodon, X OAuth 2.0 with
PKCE, X OAuth 1.0a with a PIN), the one-shot loopback listener that receives the browser's
redirect, and storing the result (encrypted) for the link."""
