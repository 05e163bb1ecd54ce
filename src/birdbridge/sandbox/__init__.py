"""Local X API v2 and Mastodon servers that keep the real contracts (tests, demo, bench)."""
